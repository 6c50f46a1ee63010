"""Runs a child Python script that prints READY, sends it SIGINT after a delay and returns the
JSON object the child printed last, with the signal's CLOCK_MONOTONIC time (shared by both
processes, so the child can report how late it caught the interrupt)."""

import json
import signal
import subprocess
import sys
import time


def interrupt_child(script, args, delay, timeout):
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", line + proc.stderr.read()
        time.sleep(delay)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert "error" not in result, result
    return result, result["caught"] - sent
