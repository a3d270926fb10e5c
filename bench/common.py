"""Shared helpers of the benchmark scripts under bench/ (issue 7).

Not run on its own.  Every script here runs with the project venv (``scripts/setup`` makes it)::

    .venv/bin/python bench/calls.py      # API calls at the emulator's request log
    .venv/bin/python bench/e2e.py        # wall time: esm-guard against a boto3 baseline
    .venv/bin/python bench/memory.py     # peak RSS of a 100-mapping sweep

What is here:

* ``Emulator``: starts ``scripts/emulator.py`` on a free loopback port (as ``scripts/demo``
  does), reads and clears its per-account request log.
* ``seed``: builds an account in the emulator with boto3, as a user would (VPCs, subnets,
  route tables, NAT gateways, interface endpoints, security groups, MSK clusters, functions,
  Kafka event source mappings).
* ``esm_guard_binary`` / ``run_esm_guard``: the real CLI, pointed at the emulator through the
  standard AWS environment (``AWS_ENDPOINT_URL``; a 12-digit ``AWS_ACCESS_KEY_ID`` is the
  account).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
REGION = "us-east-1"
AZS = ("us-east-1a", "us-east-1b")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# The smallest valid zip: an end-of-central-directory record.
EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


class Emulator:
    """``scripts/emulator.py`` on 127.0.0.1, started and stopped by this process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> "Emulator":
        self.proc = subprocess.Popen(
            [str(PYTHON), str(ROOT / "scripts" / "emulator.py"), "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.PIPE,  # the emulator exits when this pipe closes (we die: it dies)
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.proc.kill()
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.url = line.removeprefix("READY ")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def _control(self, method: str, path: str) -> object:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def requests(self, account: str) -> list[dict]:
        """Every AWS request the account made since the last ``clear``, in arrival order."""
        result = self._control("GET", f"/_esm_guard/requests?account={account}")
        assert isinstance(result, list)
        return result

    def calls(self, account: str) -> Counter:
        """The request log as ``service:Action`` -> count (esm-guard's own naming)."""
        return Counter(f"{r['service']}:{r['action']}" for r in self.requests(account))

    def clear(self, account: str) -> None:
        self._control("DELETE", f"/_esm_guard/requests?account={account}")


def aws_env(url: str, account: str) -> dict[str, str]:
    """The environment that points the AWS SDKs (Rust and boto3) at the emulator's account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=account,
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        NO_COLOR="1",
    )
    return env


def clients(url: str, account: str) -> dict:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=account, aws_secret_access_key="bench", region_name=REGION
    )
    return {name: session.client(name, endpoint_url=url) for name in ("ec2", "kafka", "lambda", "iam")}


@dataclass
class Seeded:
    account: str
    mappings: list[str] = field(default_factory=list)
    vpcs: list[str] = field(default_factory=list)
    functions: int = 0


def _private_subnet(ec2, vpc: str, cidr: str, az: str) -> str:
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return subnet


def _route_table_of(ec2, subnet: str) -> str:
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    return tables["RouteTables"][0]["RouteTableId"]


def _group(ec2, vpc: str, name: str, self_ports: tuple[int, ...]) -> str:
    group = ec2.create_security_group(VpcId=vpc, GroupName=name, Description=f"{name} (esm-guard bench)")["GroupId"]
    if self_ports:
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "UserIdGroupPairs": [{"GroupId": group}]}
                for p in self_ports
            ],
        )
    return group


def _cluster(kafka, name: str, subnets: list[str], groups: list[str], auth: str) -> str:
    sasl = {"Iam": {"Enabled": auth == "iam"}, "Scram": {"Enabled": auth == "scram"}}
    out = kafka.create_cluster_v2(
        ClusterName=name,
        Provisioned={
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": len(subnets),
            "BrokerNodeGroupInfo": {
                "InstanceType": "kafka.m5.large",
                "ClientSubnets": subnets,
                "SecurityGroups": groups,
            },
            "ClientAuthentication": {"Sasl": sasl, "Unauthenticated": {"Enabled": False}},
            "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS"}},
        },
    )
    return out["ClusterArn"]


SM_POLICY = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ]
    }
)


def role_policy(role: str) -> str:
    """A Secrets Manager endpoint policy bound to one execution role: whether it allows a
    mapping depends on the mapping's role, so esm-guard must read it."""
    return json.dumps(
        {
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
            ]
        }
    )


def seed(url: str, account: str, mappings: int, vpcs: int, *, layout: str = "typical") -> Seeded:
    """Builds ``mappings`` Kafka mappings spread over ``vpcs`` VPCs in ``account``.

    Every VPC ``10.v.0.0/16`` gets DNS on, an internet gateway, two private subnets (one per
    AZ) whose default route goes to a public NAT gateway, a cluster security group per
    broker port (self-referencing, and 443 from itself), an IAM and a SASL/SCRAM MSK
    cluster in the private subnets, and, in every other VPC (the first included), Lambda
    and STS interface endpoints with private DNS.  With ``layout="policy"`` every VPC also
    gets a Secrets Manager endpoint with a custom policy that allows any principal (the role
    cannot matter, so esm-guard does not read it); with ``layout="role-policy"`` the policy
    names the execution role: the worst case, where esm-guard must read the execution role
    of every on-demand SCRAM mapping's function.

    Mapping ``i`` goes to VPC ``i % vpcs`` and cycles through: MSK/IAM on-demand, MSK/IAM
    provisioned mode, MSK/SCRAM on-demand (with a secret), self-managed Kafka in the private
    subnets.  Each mapping has its own function (Lambda refuses two mappings of one function
    on the same cluster and topic); all functions share one execution role.
    """
    c = clients(url, account)
    ec2, kafka, lam, iam = c["ec2"], c["kafka"], c["lambda"], c["iam"]
    role = iam.create_role(RoleName="bench-consumer", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    seeded = Seeded(account=account)
    nets = []
    for v in range(vpcs):
        vpc = ec2.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        private = [_private_subnet(ec2, vpc, f"10.{v}.{k + 1}.0/24", az) for k, az in enumerate(AZS)]
        for k, (subnet, az) in enumerate(zip(private, AZS)):
            public = _private_subnet(ec2, vpc, f"10.{v}.{k + 101}.0/24", az)
            ec2.create_route(RouteTableId=_route_table_of(ec2, public), DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
            ec2.create_route(RouteTableId=_route_table_of(ec2, subnet), DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        iam_group = _group(ec2, vpc, f"msk-iam-{v}", (9098, 443))
        scram_group = _group(ec2, vpc, f"msk-scram-{v}", (9096, 443))
        client_group = _group(ec2, vpc, f"kafka-clients-{v}", ())
        services = []
        if v % 2 == 0:
            services += [("lambda", None), ("sts", None)]
        if layout == "policy":
            services.append(("secretsmanager", SM_POLICY))
        elif layout == "role-policy":
            services.append(("secretsmanager", role_policy(role)))
        elif layout != "typical":
            raise ValueError(f"unknown layout {layout!r}")
        for service, policy in services:
            extra = {"PolicyDocument": policy} if policy else {}
            ec2.create_vpc_endpoint(
                VpcId=vpc,
                VpcEndpointType="Interface",
                ServiceName=f"com.amazonaws.{REGION}.{service}",
                SubnetIds=private,
                SecurityGroupIds=[iam_group, scram_group],
                PrivateDnsEnabled=True,
                **extra,
            )
        nets.append(
            {
                "vpc": vpc,
                "private": private,
                "client_group": client_group,
                "iam": _cluster(kafka, f"iam-{v}", private, [iam_group], "iam"),
                "scram": _cluster(kafka, f"scram-{v}", private, [scram_group], "scram"),
                "octet": v,
            }
        )
        seeded.vpcs.append(vpc)
    for i in range(mappings):
        net = nets[i % vpcs]
        kind = (i // vpcs) % 4
        function = lam.create_function(
            FunctionName=f"consumer-{i}",
            Runtime="provided.al2023",
            Handler="bootstrap",
            Role=role,
            Code={"ZipFile": EMPTY_ZIP},
        )["FunctionArn"]
        seeded.functions += 1
        request: dict = {"FunctionName": function, "Topics": [f"orders-{i}"], "StartingPosition": "LATEST"}
        if kind in (0, 1):
            request["EventSourceArn"] = net["iam"]
            if kind == 1:
                request["ProvisionedPollerConfig"] = {"MinimumPollers": 1, "MaximumPollers": 2}
        elif kind == 2:
            request["EventSourceArn"] = net["scram"]
            request["SourceAccessConfigurations"] = [
                {
                    "Type": "SASL_SCRAM_512_AUTH",
                    "URI": f"arn:aws:secretsmanager:{REGION}:{account}:secret:AmazonMSK_bench-{i}",
                }
            ]
        else:
            request["SelfManagedEventSource"] = {
                "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [f"10.{net['octet']}.1.{10 + i % 200}:9092"]}
            }
            request["SourceAccessConfigurations"] = [
                *({"Type": "VPC_SUBNET", "URI": f"subnet:{s}"} for s in net["private"]),
                {"Type": "VPC_SECURITY_GROUP", "URI": f"security_group:{net['client_group']}"},
            ]
        seeded.mappings.append(lam.create_event_source_mapping(**request)["UUID"])
    return seeded


def seed_worst_single(url: str, account: str) -> Seeded:
    """One on-demand SASL/SCRAM mapping whose VPC has Lambda, STS and Secrets Manager
    endpoints with private DNS, the last with a policy naming the role: the one-mapping worst case
    (VPC DNS attributes and the execution role must be read), as in the integration test
    ``one_mapping_costs_at_most_twelve_calls``."""
    c = clients(url, account)
    ec2, kafka, lam, iam = c["ec2"], c["kafka"], c["lambda"], c["iam"]
    role = iam.create_role(RoleName="bench-consumer", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    private = [_private_subnet(ec2, vpc, f"10.0.{k + 1}.0/24", az) for k, az in enumerate(AZS)]
    group = _group(ec2, vpc, "msk-scram", (9096, 443))
    for service, policy in (("lambda", None), ("sts", None), ("secretsmanager", role_policy(role))):
        extra = {"PolicyDocument": policy} if policy else {}
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            VpcEndpointType="Interface",
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            SubnetIds=private,
            SecurityGroupIds=[group],
            PrivateDnsEnabled=True,
            **extra,
        )
    cluster = _cluster(kafka, "scram", private, [group], "scram")
    function = lam.create_function(
        FunctionName="consumer", Runtime="provided.al2023", Handler="bootstrap", Role=role, Code={"ZipFile": EMPTY_ZIP}
    )["FunctionArn"]
    uuid = lam.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=cluster,
        Topics=["orders"],
        StartingPosition="LATEST",
        SourceAccessConfigurations=[
            {"Type": "SASL_SCRAM_512_AUTH", "URI": f"arn:aws:secretsmanager:{REGION}:{account}:secret:AmazonMSK_s-1"}
        ],
    )["UUID"]
    return Seeded(account=account, mappings=[uuid], vpcs=[vpc], functions=1)


def esm_guard_binary(choice: str | None = None) -> Path:
    """``--binary`` if given, else target/release/esm-guard, else target/debug/esm-guard."""
    if choice:
        path = Path(choice)
    else:
        release = ROOT / "target" / "release" / "esm-guard"
        path = release if release.exists() else ROOT / "target" / "debug" / "esm-guard"
    if not path.exists():
        raise SystemExit(f"{path} is missing: cargo build --release --bin esm-guard")
    return path.resolve()


CALLS_RE = re.compile(r"calls=(\d+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    seconds: float
    own_calls: int | None


def run_esm_guard(binary: Path, url: str, account: str, args: list[str]) -> Run:
    """Runs ``esm-guard ARGS`` against the account; ``own_calls`` is esm-guard's own count
    (its ``collected calls=N`` log line at ESM_GUARD_LOG=info)."""
    env = aws_env(url, account)
    env["ESM_GUARD_LOG"] = "info"
    start = time.perf_counter()
    proc = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    match = CALLS_RE.search(ANSI_RE.sub("", proc.stderr))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"esm-guard {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return Run(proc.returncode, proc.stdout, proc.stderr, seconds, int(match.group(1)) if match else None)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
