"""`python -m fastmlp` runs the command-line interface."""

from fastmlp.cli import main

raise SystemExit(main())
