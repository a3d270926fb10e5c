#!/usr/bin/env python3
"""API calls of one `esm-guard audit`, counted at the emulator's request log (issue 7).

Run (after ``scripts/setup`` and ``cargo build --release --bin esm-guard``)::

    .venv/bin/python bench/calls.py [--binary PATH] [--json]

Starts ``scripts/emulator.py`` on loopback (as ``scripts/demo`` does), seeds one account per
case through boto3 (see ``common.seed``), clears the account's request log, runs the real
``esm-guard audit --output json`` against it and reads back, from
``GET /_esm_guard/requests?account=ID``, every AWS request the run made.  Each row shows
that count, esm-guard's own count (its ``collected calls=N`` log line) and the calls by API.

Cases:

* sweeps of 1, 10 and 100 mappings in 1 and 10 VPCs (VPCs <= mappings), layout ``typical``:
  NAT gateways everywhere, Lambda/STS endpoints (private DNS) in every other VPC;
* the same sweeps with layout ``policy``: a Secrets Manager endpoint in every VPC whose
  custom policy allows any principal (the role cannot change the verdict: not read);
* and with layout ``role-policy``: the policy names the execution role, so esm-guard must
  read the role of each on-demand SCRAM mapping's function
  (``lambda:GetFunctionConfiguration``, one per function);
* ``--esm``: one mapping's event, on the one-mapping worst case (Lambda, STS and Secrets
  Manager endpoints, the last with a policy naming the role), and on one mapping of the 100-mapping,
  10-VPC account.

Targets (issue 7): flat in the number of mappings at a fixed number of VPCs; <= 12 calls for
one mapping.  The script exits 1 if the emulator's count and esm-guard's own count differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Emulator, esm_guard_binary, log, run_esm_guard, seed, seed_worst_single  # noqa: E402

SWEEP = [(1, 1), (10, 1), (10, 10), (100, 1), (100, 10)]

SHORT = {
    "lambda:ListEventSourceMappings": "ListESM",
    "lambda:GetEventSourceMapping": "GetESM",
    "kafka:ListClustersV2": "ListClusters",
    "kafka:DescribeClusterV2": "DescribeCluster",
    "ec2:DescribeSubnets": "Subnets",
    "ec2:DescribeRouteTables": "RouteTables",
    "ec2:DescribeNatGateways": "Nat",
    "ec2:DescribeVpcEndpoints": "Endpoints",
    "ec2:DescribeSecurityGroups": "SGs",
    "ec2:DescribeNetworkAcls": "ACLs",
    "ec2:DescribeVpcAttribute": "VpcAttribute",
    "ec2:DescribeVpcs": "Vpcs",
    "lambda:GetFunctionConfiguration": "GetFunctionConfig",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", help="esm-guard to run (default: target/release, else target/debug)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    binary = esm_guard_binary(args.binary)
    log(f"calls: esm-guard binary {binary}")

    rows = []
    mismatch = False
    with Emulator() as emu:
        account_no = 200000000000

        def measure(case: str, seeded, audit_args: list[str]) -> None:
            nonlocal mismatch
            emu.clear(seeded.account)
            run = run_esm_guard(binary, emu.url, seeded.account, ["audit", "--output", "json", *audit_args])
            calls = emu.calls(seeded.account)
            report = json.loads(run.stdout)
            total = sum(calls.values())
            if run.own_calls != total:
                mismatch = True
            rows.append(
                {
                    "case": case,
                    "mappings": len(report["mappings"]),
                    # VPCs of the audited mappings (not of the whole account).
                    "vpcs": len({(m.get("network") or {}).get("vpc_id") for m in report["mappings"]} - {None}),
                    "emulator_calls": total,
                    "esm_guard_count": run.own_calls,
                    "by_api": dict(sorted(calls.items())),
                }
            )
            log(f"calls: {case}: {total} at the emulator, {run.own_calls} by esm-guard")

        big = None
        for layout in ("typical", "policy", "role-policy"):
            for mappings, vpcs in SWEEP:
                account_no += 1
                log(f"calls: seeding {mappings} mapping(s) in {vpcs} VPC(s), layout {layout}")
                seeded = seed(emu.url, str(account_no), mappings, vpcs, layout=layout)
                measure(f"sweep {layout} {mappings}m/{vpcs}vpc", seeded, [])
                if layout == "typical" and (mappings, vpcs) == (100, 10):
                    big = seeded
        account_no += 1
        worst = seed_worst_single(emu.url, str(account_no))
        measure("--esm worst case", worst, ["--esm", worst.mappings[0]])
        assert big is not None
        # A SCRAM on-demand mapping (kind 2 of common.seed) of the big account.
        measure("--esm 1 of 100m/10vpc", big, ["--esm", big.mappings[20]])

    apis = [a for a in SHORT if any(a in r["by_api"] for r in rows)]
    header = ["case", "ESMs", "VPCs", "emulator", "own", *(SHORT[a] for a in apis), "other"]
    table = [header] + [
        [
            r["case"],
            str(r["mappings"]),
            str(r["vpcs"]),
            str(r["emulator_calls"]),
            str(r["esm_guard_count"]),
            *(str(r["by_api"].get(a, "")) for a in apis),
            str(sum(n for a, n in r["by_api"].items() if a not in SHORT) or ""),
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"esm-guard binary: {binary}")
    for k, row in enumerate(table):
        print(" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("-+-".join("-" * w for w in widths))
    if args.json:
        print(json.dumps(rows, indent=2))
    if mismatch:
        print("MISMATCH: esm-guard's own count differs from the emulator's log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
