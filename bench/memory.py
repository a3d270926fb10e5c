#!/usr/bin/env python3
"""Peak memory (max RSS) of `esm-guard audit` on a 100-mapping sweep (issue 7; target < 64 MB).

Run (after ``scripts/setup`` and ``cargo build --release --bin esm-guard``)::

    .venv/bin/python bench/memory.py [--runs 5] [--binary PATH] [--snapshot FILE ...]

Starts the emulator, seeds 100 mappings in 10 VPCs and 100 mappings in 1 VPC
(``common.seed``), and runs ``esm-guard audit --output json`` ``runs`` times on each.  The
peak resident set size of the esm-guard process is what ``/usr/bin/time -v`` reports as
"Maximum resident set size" (see ``peak_rss_kib`` for why not ``os.wait4``, and for the
fallback without ``/usr/bin/time``).

``--snapshot FILE`` also measures ``esm-guard audit --snapshot FILE`` (no AWS access: the
engine and report alone), e.g. on the 10,000-mapping snapshot written by
``cargo run --profile bench --example bench_snapshot -- 10000 1000 FILE``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Emulator, aws_env, esm_guard_binary, log, median, seed  # noqa: E402


CPU_SECONDS: list[float] = []


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> tuple[int, int, str]:
    """(exit status, peak RSS in KiB, method) of one run of ``argv``; also records its CPU
    time (user + system seconds, from ``/usr/bin/time``) in ``CPU_SECONDS``.

    ``/usr/bin/time -v`` when installed ("Maximum resident set size").  Not ``os.wait4`` on a
    child of this process: Linux folds the RSS of the pre-exec copy of the parent (this
    Python, with boto3 loaded: 70+ MB) into the child's ``ru_maxrss``; ``time`` is a small C
    program, so its child starts from a few hundred KB.  Without ``time``, the child's
    ``VmHWM`` (the high-water mark of its own, post-exec address space) is read from
    /proc every millisecond until it exits: the last reading is the peak, give or take the
    final millisecond.
    """
    if Path("/usr/bin/time").exists():
        proc = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if not match:
            raise SystemExit(f"no peak RSS in /usr/bin/time's output:\n{proc.stderr[-2000:]}")
        cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)]
        CPU_SECONDS.append(sum(cpu))
        return proc.returncode, int(match.group(1)), "/usr/bin/time -v"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status_file = Path(f"/proc/{proc.pid}/status")
    peak = 0
    while proc.poll() is None:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.001)
    return proc.returncode, peak, "VmHWM polled from /proc"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", help="esm-guard to run (default: target/release, else target/debug)")
    parser.add_argument("--snapshot", action="append", default=[], help="also audit this saved snapshot")
    args = parser.parse_args()
    binary = esm_guard_binary(args.binary)
    argv = [str(binary), "audit", "--output", "json"]

    rows = []
    with Emulator() as emu:
        for account, (mappings, vpcs) in (("400000000001", (100, 10)), ("400000000002", (100, 1))):
            log(f"memory: seeding {mappings} mappings in {vpcs} VPC(s)")
            seed(emu.url, account, mappings, vpcs)
            env = aws_env(emu.url, account)
            rows.append((f"audit, {mappings} mappings / {vpcs} VPC(s), emulator", runs(argv, env, args.runs)))
    for path in args.snapshot:
        rows.append((f"audit --snapshot {Path(path).name}", runs([*argv, "--snapshot", path], dict(os.environ), args.runs)))

    method = peak_rss_kib(["true"], dict(os.environ))[2]
    print(f"esm-guard binary: {binary}; {args.runs} runs each; peak RSS by {method}")
    print(f"{'case':<52} | {'median MiB':>10} | {'min MiB':>7} | {'max MiB':>7} | {'CPU ms (user+sys, median)':>25}")
    print("-" * 53 + "+" + "-" * 12 + "+" + "-" * 9 + "+" + "-" * 9 + "+" + "-" * 26)
    for name, (peaks, cpu) in rows:
        cpu_text = f"{median(cpu) * 1000:.0f}" if cpu else "-"
        print(f"{name:<52} | {median(peaks) / 1024:10.1f} | {min(peaks) / 1024:7.1f} | {max(peaks) / 1024:7.1f} | {cpu_text:>25}")
    return 0


def runs(argv: list[str], env: dict[str, str], n: int) -> tuple[list[int], list[float]]:
    """Peak RSS (KiB) and CPU seconds of ``n`` runs."""
    peaks = []
    CPU_SECONDS.clear()
    for _ in range(n):
        status, kib, _ = peak_rss_kib(argv, env)
        if status not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} exited {status}")
        peaks.append(kib)
    return peaks, list(CPU_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
