"""How scripts/emulator.py and scripts/fault_proxy.py run: serve in a thread, print one
``READY http://HOST:PORT`` line, and exit on SIGTERM/SIGINT or when stdin reaches EOF (so a
test that spawns one with a stdin pipe takes it down when it exits). Standard library only."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable


def serve_until_stopped(
    server: Any,
    host: str,
    port: int,
    *,
    watch_stdin: bool,
    log: logging.Logger,
    after_ready: Callable[[], None] | None = None,
) -> None:
    """Serves `server` (anything with ``serve_forever`` and ``shutdown``) until told to stop,
    then exits the process with status 0. `after_ready` runs once the READY line is out."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("got signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="serve", daemon=True).start()
    display_host = host if host not in ("0.0.0.0", "", "::") else "127.0.0.1"
    if ":" in display_host:
        display_host = f"[{display_host}]"
    sys.stdout.write(f"READY http://{display_host}:{port}\n")
    sys.stdout.flush()
    if after_ready is not None:
        after_ready()

    if watch_stdin:

        def watch() -> None:
            try:
                while sys.stdin.buffer.read1(65536) if hasattr(sys.stdin.buffer, "read1") else sys.stdin.buffer.read(1):
                    pass
            except (OSError, ValueError):
                pass
            log.info("stdin reached EOF")
            stop.set()

        threading.Thread(target=watch, name="stdin-watch", daemon=True).start()

    while not stop.wait(0.5):
        pass
    log.info("shutting down")
    threading.Thread(target=server.shutdown, daemon=True).start()
    time.sleep(0.05)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
