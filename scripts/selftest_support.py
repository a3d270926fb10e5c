"""What the self-tests of scripts/emulator.py and scripts/fault_proxy.py share: starting a
server that prints a READY line, stopping it through its stdin, and running the checks with
one summary line ("N passed, M failed"). Standard library only."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable


def start(argv: list[str], what: str, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    """Starts a server (a Python script and its arguments) with a stdin pipe and waits for
    its READY line; returns the process and its URL."""
    proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not line or not line[0].startswith(b"READY http://"):
        proc.kill()
        raise RuntimeError(f"{what} did not print READY within {timeout}s: {line!r}")
    return proc, line[0].decode().split()[1]


def stop(proc: subprocess.Popen[bytes]) -> int | None:
    """Closes the server's stdin (it exits on EOF) and returns its exit status; None when it
    had to be killed."""
    if proc.stdin:
        proc.stdin.close()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def run_checks(checks: list[Callable[[Any], None]], ctx: Any) -> tuple[int, int]:
    """Runs each check with `ctx`, printing ok/FAIL (and the traceback); (passed, failed)."""
    passed = failed = 0
    for fn in checks:
        t0 = time.monotonic()
        try:
            fn(ctx)
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
    return passed, failed
