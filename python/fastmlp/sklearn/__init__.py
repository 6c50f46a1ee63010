"""scikit-learn estimators backed by fastmlp's C++ core (optional extra: ``fastmlp[sklearn]``).

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's parameter names and defaults, expose
its fitted attributes, and work with Pipeline, clone, GridSearchCV and cross-validation.
"""

try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("fastmlp.sklearn needs scikit-learn: pip install fastmlp[sklearn]") from exc

from fastmlp.sklearn._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
