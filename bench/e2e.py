#!/usr/bin/env python3
"""End-to-end wall time of `esm-guard audit` against a boto3 script making the same calls.

Run (after ``scripts/setup`` and ``cargo build --release --bin esm-guard``)::

    .venv/bin/python bench/e2e.py [--mappings 100] [--vpcs 10] [--runs 7] [--binary PATH]

Starts the emulator, seeds one account (``common.seed``: by default 100 mappings in 10 VPCs),
then, in one run, alternates ``runs`` times (after one untimed warm-up of each):

* ``esm-guard audit --output json`` (collect + evaluate + plan + JSON report);
* ``bench/boto3_baseline.py``: the same describe/list calls, the six network calls
  concurrently as esm-guard makes them, and no evaluation;
* ``bench/boto3_baseline.py --sequential``: the same, one call after the other.

Each is a fresh process (interpreter/runtime start-up included: that is what a run costs),
timed with ``time.perf_counter`` from spawn to reaping; its CPU time (user + system) comes
from the kernel's rusage of the child (``os.wait4``).  Before timing, the script checks
at the emulator's request log that the baseline made exactly the calls esm-guard made.
Prints median, min and max per command and the ratio of the medians (esm-guard / baseline);
and, from the baseline's own report, how much of its run was importing boto3 and making the
clients, and how much the calls alone took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import PYTHON, Emulator, aws_env, esm_guard_binary, log, median, run_esm_guard, seed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mappings", type=int, default=100)
    parser.add_argument("--vpcs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--binary", help="esm-guard to run (default: target/release, else target/debug)")
    args = parser.parse_args()
    binary = esm_guard_binary(args.binary)

    with Emulator() as emu:
        account = "300000000001"
        log(f"e2e: seeding {args.mappings} mapping(s) in {args.vpcs} VPC(s)")
        seed(emu.url, account, args.mappings, args.vpcs)
        env = aws_env(emu.url, account)
        commands = {
            "esm-guard audit": [str(binary), "audit", "--output", "json"],
            "boto3 (concurrent)": [str(PYTHON), str(HERE / "boto3_baseline.py")],
            "boto3 (sequential)": [str(PYTHON), str(HERE / "boto3_baseline.py"), "--sequential"],
        }

        # The same calls, checked at the emulator (this is also the warm-up run of each).
        emu.clear(account)
        own = run_esm_guard(binary, emu.url, account, ["audit", "--output", "json"])
        reference = emu.calls(account)
        checked = json.loads(own.stdout)
        log(f"e2e: esm-guard judged {len(checked['mappings'])} mapping(s) with {sum(reference.values())} calls")
        for name, argv in list(commands.items())[1:]:
            emu.clear(account)
            out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
            made = emu.calls(account)
            if made != reference:
                raise SystemExit(f"{name} made other calls than esm-guard:\n  {dict(made)}\n  {dict(reference)}")
            log(f"e2e: {name} made the same {sum(made.values())} calls ({out.stdout.strip()[:80]}...)")

        times: dict[str, list[float]] = {name: [] for name in commands}
        inside: dict[str, dict[str, list[float]]] = {name: {"setup_s": [], "calls_s": []} for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for k in range(args.runs):
            for name, argv in commands.items():
                start = time.perf_counter()
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                stdout = proc.stdout.read()  # type: ignore[union-attr]
                _, status, usage = os.wait4(proc.pid, 0)
                elapsed = time.perf_counter() - start
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"{name} exited {proc.returncode}")
                times[name].append(elapsed)
                cpu[name].append(usage.ru_utime + usage.ru_stime)
                if name != "esm-guard audit":
                    parts = json.loads(stdout)
                    for key in ("setup_s", "calls_s"):
                        inside[name][key].append(parts[key])
            log(f"e2e: round {k + 1}/{args.runs}: " + ", ".join(f"{n} {t[-1] * 1000:.0f} ms" for n, t in times.items()))

    calls = sum(reference.values())
    print(f"account: {args.mappings} mappings in {args.vpcs} VPCs, {calls} calls per run; {args.runs} runs each, interleaved")
    print(f"esm-guard binary: {binary}")
    print(f"{'command':<22} | {'median ms':>9} | {'min ms':>7} | {'max ms':>7} | {'CPU ms (median)':>15}")
    print("-" * 23 + "+" + "-" * 11 + "+" + "-" * 9 + "+" + "-" * 9 + "+" + "-" * 16)
    medians = {}
    for name, values in times.items():
        medians[name] = median(values)
        print(
            f"{name:<22} | {medians[name] * 1000:9.0f} | {min(values) * 1000:7.0f} | {max(values) * 1000:7.0f}"
            f" | {median(cpu[name]) * 1000:15.0f}"
        )
    for name in list(commands)[1:]:
        print(f"ratio esm-guard / {name}: {medians['esm-guard audit'] / medians[name]:.2f}")
    for name in list(commands)[1:]:
        setup, calls_only = median(inside[name]["setup_s"]), median(inside[name]["calls_s"])
        print(
            f"{name}, inside the process (medians): import boto3 + clients {setup * 1000:.0f} ms, "
            f"the calls {calls_only * 1000:.0f} ms; ratio esm-guard (whole run) / calls only: "
            f"{medians['esm-guard audit'] / calls_only:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
