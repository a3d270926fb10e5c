#!/usr/bin/env python3
"""The boto3 baseline of bench/e2e.py: the describe/list calls `esm-guard audit` makes, and
nothing else (no model, no rules, no report).

Run against the same account as esm-guard, with the same standard AWS environment
(``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ...)::

    .venv/bin/python bench/boto3_baseline.py [--sequential]

It mirrors ``src/aws/collect.rs`` call for call: ``ListEventSourceMappings`` (pages of 100);
``DescribeClusterV2`` for one cluster, else ``ListClustersV2`` (pages of 100);
``DescribeSubnets`` filtered by the mappings' subnet ids (chunks of 200); then, per chunk of
200 VPCs, ``DescribeSubnets``, ``DescribeRouteTables``, ``DescribeNatGateways``,
``DescribeVpcEndpoints``, ``DescribeSecurityGroups`` and ``DescribeNetworkAcls`` filtered by
``vpc-id`` -- concurrently, as esm-guard does (``--sequential``: one after the other, as a
plain script would); ``DescribeVpcAttribute`` (DNS support and hostnames) for VPCs with a
private-DNS interface endpoint; ``GetFunctionConfiguration`` for the functions of on-demand
mappings that need an endpoint policy judged against their execution role.

Prints one JSON line ``{"calls": N, "by_api": {...}, "setup_s": S, "calls_s": C}`` on stdout:
the calls, and the seconds spent importing boto3 and making the clients, then making the
calls (interpreter start-up is in neither).  bench/e2e.py checks that
the emulator saw exactly the same calls from this script as from esm-guard.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import boto3  # noqa: E402

CHUNK = 200
calls: Counter = Counter()


def pages(client, operation: str, name: str, key: str, **params) -> list:
    out = []
    for page in client.get_paginator(operation).paginate(**params):
        calls[name] += 1
        out.extend(page.get(key, []))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequential", action="store_true", help="the six network calls one after the other")
    args = parser.parse_args()

    session = boto3.session.Session()
    lam, kafka, ec2 = session.client("lambda"), session.client("kafka"), session.client("ec2")
    t_ready = time.perf_counter()

    mappings = pages(
        lam, "list_event_source_mappings", "lambda:ListEventSourceMappings", "EventSourceMappings",
        PaginationConfig={"PageSize": 100},
    )
    mappings = [m for m in mappings if m.get("SelfManagedEventSource") or ":kafka:" in m.get("EventSourceArn", "")]

    arns = sorted({m["EventSourceArn"] for m in mappings if ":kafka:" in m.get("EventSourceArn", "")})
    clusters = []
    if len(arns) == 1:
        calls["kafka:DescribeClusterV2"] += 1
        clusters.append(kafka.describe_cluster_v2(ClusterArn=arns[0])["ClusterInfo"])
    elif arns:
        listed = pages(kafka, "list_clusters_v2", "kafka:ListClustersV2", "ClusterInfoList",
                       PaginationConfig={"PageSize": 100})
        clusters = [c for c in listed if c["ClusterArn"] in arns]

    subnet_ids: set[str] = set()
    for c in clusters:
        if "Provisioned" in c:
            subnet_ids.update(c["Provisioned"]["BrokerNodeGroupInfo"].get("ClientSubnets", []))
        for config in (c.get("Serverless") or {}).get("VpcConfigs", []):
            subnet_ids.update(config.get("SubnetIds", []))
    for m in mappings:
        for access in m.get("SourceAccessConfigurations", []):
            if access["Type"] == "VPC_SUBNET":
                subnet_ids.add(access["URI"].removeprefix("subnet:"))

    def describe_subnets(name: str, values: list[str]) -> list:
        out = []
        for k in range(0, len(values), CHUNK):
            out += pages(ec2, "describe_subnets", "ec2:DescribeSubnets", "Subnets",
                         Filters=[{"Name": name, "Values": values[k:k + CHUNK]}],
                         PaginationConfig={"PageSize": 1000})
        return out

    subnets = describe_subnets("subnet-id", sorted(subnet_ids)) if subnet_ids else []
    vpc_ids = sorted({s["VpcId"] for s in subnets})
    endpoints: list = []
    for k in range(0, len(vpc_ids), CHUNK):
        chunk = vpc_ids[k:k + CHUNK]
        flt = [{"Name": "vpc-id", "Values": chunk}]
        jobs = [
            lambda: describe_subnets("vpc-id", chunk),
            lambda: pages(ec2, "describe_route_tables", "ec2:DescribeRouteTables", "RouteTables",
                          Filters=flt, PaginationConfig={"PageSize": 100}),
            lambda: pages(ec2, "describe_nat_gateways", "ec2:DescribeNatGateways", "NatGateways",
                          Filter=flt, PaginationConfig={"PageSize": 1000}),
            lambda: pages(ec2, "describe_vpc_endpoints", "ec2:DescribeVpcEndpoints", "VpcEndpoints",
                          Filters=flt, PaginationConfig={"PageSize": 1000}),
            lambda: pages(ec2, "describe_security_groups", "ec2:DescribeSecurityGroups", "SecurityGroups",
                          Filters=flt, PaginationConfig={"PageSize": 1000}),
            lambda: pages(ec2, "describe_network_acls", "ec2:DescribeNetworkAcls", "NetworkAcls",
                          Filters=flt, PaginationConfig={"PageSize": 1000}),
        ]
        if args.sequential:
            results = [job() for job in jobs]
        else:
            with ThreadPoolExecutor(len(jobs)) as pool:
                results = list(pool.map(lambda job: job(), jobs))
        endpoints += results[3]

    def interface(e: dict) -> bool:
        return e.get("VpcEndpointType", "").lower() == "interface"

    for vpc in sorted({e["VpcId"] for e in endpoints if interface(e) and e.get("PrivateDnsEnabled")}):
        for attribute in ("enableDnsSupport", "enableDnsHostnames"):
            calls["ec2:DescribeVpcAttribute"] += 1
            ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attribute)

    # Which VPC each mapping's ENIs use: its cluster's (or its own) first subnet.
    vpc_of_subnet = {s["SubnetId"]: s["VpcId"] for s in subnets}
    first_subnet = {}
    for c in clusters:
        if "Provisioned" in c:
            first_subnet[c["ClusterArn"]] = (c["Provisioned"]["BrokerNodeGroupInfo"].get("ClientSubnets") or [None])[0]
    functions = set()
    for m in mappings:
        if m.get("ProvisionedPollerConfig"):
            continue
        services = []
        if any(":secretsmanager:" in a["URI"] for a in m.get("SourceAccessConfigurations", []) if a["URI"].startswith("arn:")):
            services.append("secretsmanager")
        destination = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination", "")
        if destination.split(":")[2:3] and destination.split(":")[2] in ("sqs", "sns", "s3"):
            services.append(destination.split(":")[2])
        if not services:
            continue
        if "EventSourceArn" in m and ":kafka:" in m["EventSourceArn"]:
            subnet = first_subnet.get(m["EventSourceArn"])
        else:
            subnet = next((a["URI"].removeprefix("subnet:") for a in m.get("SourceAccessConfigurations", [])
                           if a["Type"] == "VPC_SUBNET"), None)
        vpc = vpc_of_subnet.get(subnet)
        if any(e["VpcId"] == vpc and interface(e) and e["ServiceName"].rsplit(".", 1)[-1] in services
               and e.get("PolicyDocument") for e in endpoints):
            functions.add(m["FunctionArn"])
    for function in sorted(functions):
        calls["lambda:GetFunctionConfiguration"] += 1
        lam.get_function_configuration(FunctionName=function)

    t_end = time.perf_counter()
    print(json.dumps({
        "calls": sum(calls.values()),
        "by_api": dict(sorted(calls.items())),
        # Inside this process: importing boto3 and making the clients, then the calls.
        "setup_s": round(t_ready - T0, 4),
        "calls_s": round(t_end - t_ready, 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
