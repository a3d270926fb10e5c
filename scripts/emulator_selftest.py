#!/usr/bin/env python3
"""Self-test of scripts/emulator.py: starts it the way the Rust tests do and checks it with boto3.

Run: .venv/bin/python scripts/emulator_selftest.py
The last line is "N passed, M failed"; the exit status is non-zero when anything failed.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from typing import Any, Callable

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from selftest_support import run_checks, start, stop

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator.py")
REGION = "us-east-1"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    return start([EMULATOR, "--host", "127.0.0.1", "--port", "0"], "emulator")


class Ctx:
    def __init__(self, url: str):
        self.url = url

    def client(self, service: str, account: str, retries: int = 1) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=account,
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": retries, "mode": "standard"}, connect_timeout=5, read_timeout=10),
        )

    def control(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def signed_get(self, service: str, account: str, path: str) -> Any:
        req = AWSRequest(method="GET", url=self.url + path)
        SigV4Auth(Credentials(account, "secret"), service, REGION).add_auth(req)
        with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=dict(req.headers)), timeout=10) as resp:
            return json.loads(resp.read())

    def signed(self, method: str, service: str, account: str, path: str, payload: Any = None) -> tuple[int, dict[str, str], Any]:
        """A SigV4-signed request with a JSON body: (status, headers with lower-case names, JSON body)."""
        data = None if payload is None else json.dumps(payload).encode()
        req = AWSRequest(method=method, url=self.url + path, data=data, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(account, "secret"), service, REGION).add_auth(req)
        raw = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(req.headers))
        try:
            with urllib.request.urlopen(raw, timeout=10) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, json.loads(err.read() or b"null")

    def requests(self, account: str) -> list[dict[str, str]]:
        status, body = self.control("GET", f"/_esm_guard/requests?account={account}")
        assert status == 200, body
        return body


def error_code(call: Callable[[], Any]) -> str:
    try:
        call()
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Code"]
    raise AssertionError("call did not fail")


def client_error(call: Callable[[], Any]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a call that must fail."""
    try:
        call()
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Message"]
    raise AssertionError("call did not fail")


def network(ctx: Ctx, account: str) -> tuple[str, list[str], str]:
    ec2 = ctx.client("ec2", account)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
    sg = ec2.create_security_group(GroupName="msk", Description="msk", VpcId=vpc)["GroupId"]
    return vpc, subnets, sg


def function(ctx: Ctx, account: str, name: str, subnets: list[str] | None = None, sg: str | None = None) -> str:
    # moto's CreateFunction wants the role to exist in IAM
    role = ctx.client("iam", account).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    kwargs: dict[str, Any] = {}
    if subnets:
        kwargs["VpcConfig"] = {"SubnetIds": subnets, "SecurityGroupIds": [sg]}
    return ctx.client("lambda", account).create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": buf.getvalue()},
        **kwargs,
    )["FunctionArn"]


def msk_cluster(ctx: Ctx, account: str, subnets: list[str], sg: str, name: str = "orders") -> str:
    return ctx.client("kafka", account).create_cluster_v2(
        ClusterName=name,
        Provisioned={
            "BrokerNodeGroupInfo": {"ClientSubnets": subnets, "SecurityGroups": [sg], "InstanceType": "kafka.m5.large"},
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 2,
            "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}, "Scram": {"Enabled": True}}},
            "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
        },
    )["ClusterArn"]


# --------------------------------------------------------------------------- checks

CHECKS: list[Callable[[Ctx], None]] = []


def check(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    CHECKS.append(fn)
    return fn


def strip(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "ResponseMetadata"}


@check
def msk_esm_round_trip(ctx: Ctx) -> None:
    account = "100000000001"
    _, subnets, sg = network(ctx, account)
    cluster = msk_cluster(ctx, account, subnets, sg)
    assert re.match(rf"^arn:aws:kafka:{REGION}:{account}:cluster/orders/[0-9a-f-]+-1$", cluster), cluster
    fn_arn = function(ctx, account, "orders-consumer", subnets, sg)
    lam = ctx.client("lambda", account)
    secret = f"arn:aws:secretsmanager:{REGION}:{account}:secret:AmazonMSK_orders-AbCdEf"
    sac = [
        {"Type": "SASL_SCRAM_512_AUTH", "URI": secret},
        {"Type": "VPC_SUBNET", "URI": f"subnet:{subnets[0]}"},
        {"Type": "VPC_SECURITY_GROUP", "URI": f"security_group:{sg}"},
    ]
    created = lam.create_event_source_mapping(
        FunctionName="orders-consumer",
        EventSourceArn=cluster,
        Topics=["orders"],
        StartingPosition="LATEST",
        BatchSize=50,
        SourceAccessConfigurations=sac,
        ProvisionedPollerConfig={"MinimumPollers": 1, "MaximumPollers": 3},
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:{REGION}:{account}:dlq"}},
        AmazonManagedKafkaEventSourceConfig={"ConsumerGroupId": "orders-group"},
    )
    uuid = created["UUID"]
    got = strip(lam.get_event_source_mapping(UUID=uuid))
    expected = {
        "UUID": uuid,
        "EventSourceArn": cluster,
        "FunctionArn": fn_arn,
        "Topics": ["orders"],
        "StartingPosition": "LATEST",
        "BatchSize": 50,
        "SourceAccessConfigurations": sac,
        "ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": 3},
        "DestinationConfig": {"OnFailure": {"Destination": f"arn:aws:sqs:{REGION}:{account}:dlq"}},
        "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "orders-group"},
        "State": "Enabled",
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{account}:event-source-mapping:{uuid}",
    }
    for key, value in expected.items():
        assert got.get(key) == value, (key, got.get(key), value)
    assert "LastProcessingResult" in got
    assert strip(created)["UUID"] == uuid
    listed = lam.list_event_source_mappings(FunctionName="orders-consumer")["EventSourceMappings"]
    assert [e["UUID"] for e in listed] == [uuid], listed
    assert listed[0]["SourceAccessConfigurations"] == sac
    new_sac = sac[:2]
    updated = lam.update_event_source_mapping(
        UUID=uuid,
        BatchSize=200,
        SourceAccessConfigurations=new_sac,
        ProvisionedPollerConfig={"MinimumPollers": 2, "MaximumPollers": 5},
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sns:{REGION}:{account}:failures"}},
    )
    assert updated["BatchSize"] == 200
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["SourceAccessConfigurations"] == new_sac
    assert got["ProvisionedPollerConfig"] == {"MinimumPollers": 2, "MaximumPollers": 5}
    assert got["DestinationConfig"]["OnFailure"]["Destination"].endswith(":failures")
    assert got["Topics"] == ["orders"] and got["EventSourceArn"] == cluster
    # the function's VpcConfig names the subnets' VPC
    cfg = lam.get_function_configuration(FunctionName="orders-consumer")
    assert cfg["Role"].endswith(":role/orders-consumer-role")
    assert cfg["VpcConfig"]["VpcId"].startswith("vpc-") and cfg["VpcConfig"]["VpcId"] != "vpc-123abc"
    assert error_code(lambda: lam.create_event_source_mapping(
        FunctionName="orders-consumer", EventSourceArn=cluster, Topics=["orders"], StartingPosition="LATEST"
    )) == "ResourceConflictException"
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    assert error_code(lambda: lam.get_event_source_mapping(UUID=uuid)) == "ResourceNotFoundException"
    assert error_code(lambda: lam.delete_event_source_mapping(UUID=uuid)) == "ResourceNotFoundException"
    assert error_code(lambda: lam.update_event_source_mapping(UUID=uuid, BatchSize=1)) == "ResourceNotFoundException"


@check
def unknown_msk_cluster_is_rejected(ctx: Ctx) -> None:
    account = "100000000002"
    function(ctx, account, "fn")
    lam = ctx.client("lambda", account)
    missing = f"arn:aws:kafka:{REGION}:{account}:cluster/nope/00000000-0000-0000-0000-000000000000-1"
    try:
        lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=missing, Topics=["t"], StartingPosition="LATEST")
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "InvalidParameterValueException", err.response
        assert "does not exist" in err.response["Error"]["Message"], err.response
    else:
        raise AssertionError("an unknown MSK cluster was accepted")
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


@check
def self_managed_esm_round_trip(ctx: Ctx) -> None:
    account = "100000000003"
    _, subnets, sg = network(ctx, account)
    function(ctx, account, "payments")
    lam = ctx.client("lambda", account)
    source = {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b-1.kafka.internal:9092", "b-2.kafka.internal:9092"]}}
    sac = [
        {"Type": "SASL_SCRAM_512_AUTH", "URI": f"arn:aws:secretsmanager:{REGION}:{account}:secret:kafka-AbCdEf"},
        {"Type": "VPC_SUBNET", "URI": f"subnet:{subnets[0]}"},
        {"Type": "VPC_SUBNET", "URI": f"subnet:{subnets[1]}"},
        {"Type": "VPC_SECURITY_GROUP", "URI": f"security_group:{sg}"},
    ]
    uuid = lam.create_event_source_mapping(
        FunctionName="payments",
        SelfManagedEventSource=source,
        Topics=["payments"],
        StartingPosition="TRIM_HORIZON",
        SourceAccessConfigurations=sac,
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "payments-cg"},
    )["UUID"]
    got = lam.get_event_source_mapping(UUID=uuid)
    assert "EventSourceArn" not in got, got
    assert got["SelfManagedEventSource"] == source
    assert got["SourceAccessConfigurations"] == sac
    assert got["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "payments-cg"}
    assert got["StartingPosition"] == "TRIM_HORIZON" and got["BatchSize"] == 100 and got["State"] == "Enabled"
    listed = lam.list_event_source_mappings(FunctionName=f"arn:aws:lambda:{REGION}:{account}:function:payments")
    assert [e["UUID"] for e in listed["EventSourceMappings"]] == [uuid]
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert error_code(lambda: lam.create_event_source_mapping(
        FunctionName="payments", SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["no-port"]}},
        Topics=["x"], StartingPosition="LATEST",
    )) == "InvalidParameterValueException"
    lam.delete_event_source_mapping(UUID=uuid)
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


@check
def esm_pagination_and_function_filter(ctx: Ctx) -> None:
    account = "100000000004"
    _, subnets, sg = network(ctx, account)
    cluster = msk_cluster(ctx, account, subnets, sg)
    function(ctx, account, "a")
    function(ctx, account, "b")
    lam = ctx.client("lambda", account)
    created = {"a": [], "b": []}  # type: dict[str, list[str]]
    for i in range(9):
        fn = "a" if i % 4 else "b"
        created[fn].append(
            lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=cluster, Topics=[f"t{i}"], StartingPosition="LATEST")["UUID"]
        )
    assert len(created["a"]) == 6 and len(created["b"]) == 3

    def pages(**kwargs: Any) -> list[list[str]]:
        out, marker = [], None
        while True:
            args = dict(kwargs, MaxItems=2)
            if marker:
                args["Marker"] = marker
            resp = lam.list_event_source_mappings(**args)
            out.append([e["UUID"] for e in resp["EventSourceMappings"]])
            marker = resp.get("NextMarker")
            if not marker:
                return out

    all_pages = pages()
    assert [len(p) for p in all_pages] == [2, 2, 2, 2, 1], all_pages
    assert sorted(sum(all_pages, [])) == sorted(created["a"] + created["b"])
    a_pages = pages(FunctionName="a")
    assert [len(p) for p in a_pages] == [2, 2, 2], a_pages
    assert sum(a_pages, []) == created["a"]
    assert sum(pages(FunctionName="b"), []) == created["b"]
    assert len(sum(pages(EventSourceArn=cluster), [])) == 9
    paginator = lam.get_paginator("list_event_source_mappings")
    assert len([e for page in paginator.paginate(PaginationConfig={"PageSize": 4}) for e in page["EventSourceMappings"]]) == 9
    no_marker = lam.list_event_source_mappings(FunctionName="a")
    assert len(no_marker["EventSourceMappings"]) == 6 and "NextMarker" not in no_marker


@check
def esm_control_endpoint(ctx: Ctx) -> None:
    account = "100000000005"
    function(ctx, account, "fn")
    lam = ctx.client("lambda", account)
    uuid = lam.create_event_source_mapping(
        FunctionName="fn",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["10.0.0.1:9096"]}},
        Topics=["t"],
        StartingPosition="LATEST",
    )["UUID"]
    problem = "PROBLEM: Connection error. Please check your event source connection configuration."
    status, body = ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"State": "Enabled", "LastProcessingResult": problem})
    assert status == 200 and body["LastProcessingResult"] == problem, (status, body)
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == problem, got
    listed = lam.list_event_source_mappings()["EventSourceMappings"]
    assert listed[0]["LastProcessingResult"] == problem
    ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"State": "Disabled"})
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    status, _ = ctx.control("POST", "/_esm_guard/esm/00000000-0000-0000-0000-000000000000", {"State": "Enabled"})
    assert status == 404


@check
def msk_timestamps_are_rfc3339_utc(ctx: Ctx) -> None:
    account = "100000000006"
    _, subnets, sg = network(ctx, account)
    provisioned = msk_cluster(ctx, account, subnets, sg)
    serverless = ctx.client("kafka", account).create_cluster_v2(
        ClusterName="serverless",
        Serverless={"VpcConfigs": [{"SubnetIds": subnets, "SecurityGroupIds": [sg]}], "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}},
    )["ClusterArn"]
    from urllib.parse import quote

    listed = ctx.signed_get("kafka", account, "/api/v2/clusters")["clusterInfoList"]
    assert len(listed) == 2
    for info in listed:
        assert RFC3339_UTC.match(info["creationTime"]), info["creationTime"]
        assert info["state"] == "ACTIVE"
    listed_v1 = ctx.signed_get("kafka", account, "/v1/clusters")["clusterInfoList"]
    assert [i["clusterArn"] for i in listed_v1] == [provisioned]
    assert RFC3339_UTC.match(listed_v1[0]["creationTime"])
    for path in (f"/api/v2/clusters/{quote(provisioned, safe='')}", f"/v1/clusters/{quote(provisioned, safe='')}", f"/api/v2/clusters/{quote(serverless, safe='')}"):
        info = ctx.signed_get("kafka", account, path)["clusterInfo"]
        assert RFC3339_UTC.match(info["creationTime"]), (path, info["creationTime"])
    kafka = ctx.client("kafka", account)
    described = kafka.describe_cluster_v2(ClusterArn=provisioned)["ClusterInfo"]["Provisioned"]
    assert described["ClientAuthentication"]["Sasl"]["Scram"]["Enabled"] is True
    assert described["EncryptionInfo"]["EncryptionInTransit"]["ClientBroker"] == "TLS"
    assert described["BrokerNodeGroupInfo"]["ClientSubnets"] == subnets
    sl = kafka.describe_cluster_v2(ClusterArn=serverless)["ClusterInfo"]["Serverless"]
    assert sl["VpcConfigs"][0]["SecurityGroupIds"] == [sg]
    assert error_code(lambda: kafka.describe_cluster_v2(ClusterArn=provisioned[:-5] + "dead-1")) == "NotFoundException"
    brokers = kafka.get_bootstrap_brokers(ClusterArn=provisioned)
    assert brokers["BootstrapBrokerStringSaslScram"].endswith(":9096") and brokers["BootstrapBrokerStringSaslIam"].endswith(":9098")
    assert "BootstrapBrokerString" not in brokers, brokers
    assert kafka.get_bootstrap_brokers(ClusterArn=serverless)["BootstrapBrokerStringSaslIam"].endswith(":9098")
    page = kafka.list_clusters_v2(MaxResults=1)
    assert len(page["ClusterInfoList"]) == 1 and page.get("NextToken")
    assert len(kafka.list_clusters_v2(MaxResults=1, NextToken=page["NextToken"])["ClusterInfoList"]) == 1


@check
def request_log_counts_per_account(ctx: Ctx) -> None:
    a, b = "100000000007", "100000000008"
    ec2a, ec2b = ctx.client("ec2", a), ctx.client("ec2", b)
    vpc = ec2a.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2b.describe_vpcs()
    assert ctx.control("DELETE", f"/_esm_guard/requests?account={a}")[0] == 200
    assert ctx.requests(a) == []
    assert len(ctx.requests(b)) == 1
    ec2a.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    ec2a.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    lam = ctx.client("lambda", a)
    lam.list_event_source_mappings()
    kafka = ctx.client("kafka", a)
    kafka.list_clusters_v2()
    error_code(lambda: kafka.describe_cluster_v2(ClusterArn=f"arn:aws:kafka:{REGION}:{a}:cluster/x/abc-1"))
    ctx.client("sts", a).get_caller_identity()
    ctx.client("dynamodb", a).list_tables()
    ctx.client("sns", a).list_topics()
    row = lambda svc, action, **params: {"service": svc, "action": action, "account": a, "region": REGION, "params": params}  # noqa: E731
    assert ctx.requests(a) == [
        row("ec2", "DescribeSubnets"),
        row("ec2", "DescribeSubnets"),
        row("lambda", "ListEventSourceMappings"),
        row("kafka", "ListClustersV2"),
        row("kafka", "DescribeClusterV2", ClusterArn=f"arn:aws:kafka:{REGION}:{a}:cluster/x/abc-1"),
        row("sts", "GetCallerIdentity"),
        row("dynamodb", "ListTables"),
        row("sns", "ListTopics"),
    ], ctx.requests(a)
    assert ctx.requests(b) == [{"service": "ec2", "action": "DescribeVpcs", "account": b, "region": REGION, "params": {}}]
    # the account is the 12-digit access key id, for the resources too
    assert ctx.client("sts", a).get_caller_identity()["Account"] == a
    assert ec2a.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["OwnerId"] == a
    assert ec2b.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []


@check
def request_log_params(ctx: Ctx) -> None:
    account = "100000000011"
    vpc, subnets, sg = network(ctx, account)
    ec2 = ctx.client("ec2", account)
    peer = ec2.create_security_group(GroupName="lambda", Description="lambda", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    managed = [{"Key": "esm-guard:managed", "Value": "true"}, {"Key": "esm-guard:reason", "Value": "msk-9098"}]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 9098, "ToPort": 9098, "UserIdGroupPairs": [{"GroupId": peer}, {"GroupId": other}]},
            {"IpProtocol": "tcp", "FromPort": 9096, "ToPort": 9096, "UserIdGroupPairs": [{"GroupId": peer}]},
        ],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": managed}],
    )
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.lambda",
        VpcEndpointType="Interface",
        SubnetIds=subnets,
        SecurityGroupIds=[sg],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": managed + [{"Key": "esm-guard:esm-uuid", "Value": "u-1"}]}],
    )
    ddb = ctx.client("dynamodb", account)
    ddb.create_table(TableName="esm-guard-state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.get_item(TableName="esm-guard-state", Key={"pk": {"S": "a"}})
    sns = ctx.client("sns", account)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="x")
    lam = ctx.client("lambda", account)
    fn_arn = f"arn:aws:lambda:{REGION}:{account}:function:nope"
    uuid = "6c1f0f3e-0d4a-4c55-9a55-3c0d7f3f6a11"
    error_code(lambda: lam.get_function_configuration(FunctionName=fn_arn))
    error_code(lambda: lam.get_event_source_mapping(UUID=uuid))
    error_code(lambda: lam.list_tags(Resource=fn_arn))
    cluster = f"arn:aws:kafka:{REGION}:{account}:cluster/x/abc-1"
    error_code(lambda: ctx.client("kafka", account).describe_cluster_v2(ClusterArn=cluster))
    params = {(r["service"], r["action"]): r["params"] for r in ctx.requests(account)}
    assert params[("ec2", "AuthorizeSecurityGroupIngress")] == {
        "GroupId": sg,
        "ReferencedGroupIds": [peer, other],
        "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": {"esm-guard:managed": "true", "esm-guard:reason": "msk-9098"}}],
    }, params[("ec2", "AuthorizeSecurityGroupIngress")]
    assert params[("ec2", "CreateVpcEndpoint")] == {
        "VpcId": vpc,
        "ServiceName": f"com.amazonaws.{REGION}.lambda",
        "VpcEndpointType": "Interface",
        "SubnetIds": subnets,
        "SecurityGroupIds": [sg],
        "TagSpecifications": [{"ResourceType": "vpc-endpoint", "Tags": {
            "esm-guard:managed": "true", "esm-guard:reason": "msk-9098", "esm-guard:esm-uuid": "u-1"}}],
    }, params[("ec2", "CreateVpcEndpoint")]
    assert params[("dynamodb", "GetItem")] == {"TableName": "esm-guard-state"}, params[("dynamodb", "GetItem")]
    assert params[("sns", "Publish")] == {"TopicArn": topic}
    assert params[("sns", "CreateTopic")] == {}
    assert params[("lambda", "GetFunctionConfiguration")] == {"FunctionName": fn_arn}  # percent-decoded
    assert params[("lambda", "GetEventSourceMapping")] == {"UUID": uuid}
    assert params[("lambda", "ListTags")] == {"Resource": fn_arn}
    assert params[("kafka", "DescribeClusterV2")] == {"ClusterArn": cluster}


@check
def msk_vpc_connection_round_trip(ctx: Ctx) -> None:
    from urllib.parse import quote

    owner, account = "100000000012", "100000000013"
    _, owner_subnets, owner_sg = network(ctx, owner)
    cluster = msk_cluster(ctx, owner, owner_subnets, owner_sg, name="shared")
    vpc, subnets, sg = network(ctx, account)
    kafka = ctx.client("kafka", account)
    created = kafka.create_vpc_connection(
        TargetClusterArn=cluster, Authentication="SASL_IAM", VpcId=vpc, ClientSubnets=subnets,
        SecurityGroups=[sg], Tags={"team": "orders"},
    )
    arn = created["VpcConnectionArn"]
    name_uuid = cluster.split("/")[1]
    assert re.match(rf"^arn:aws:kafka:{REGION}:{account}:vpc-connection/{owner}/{name_uuid}/[0-9a-f-]{{36}}$", arn), arn
    assert created["State"] == "CREATING" and created["Authentication"] == "SASL_IAM" and created["VpcId"] == vpc
    assert created["ClientSubnets"] == subnets and created["SecurityGroups"] == [sg] and created["Tags"] == {"team": "orders"}
    # the wire names are the model's (lowerCamel locationNames), the timestamps RFC 3339 UTC
    raw = ctx.signed_get("kafka", account, f"/v1/vpc-connection/{quote(arn, safe='')}")
    assert set(raw) == {"vpcConnectionArn", "targetClusterArn", "state", "authentication", "vpcId", "subnets",
                        "securityGroups", "creationTime", "tags"}, raw
    assert RFC3339_UTC.match(raw["creationTime"]), raw["creationTime"]
    described = kafka.describe_vpc_connection(Arn=arn)
    assert described["TargetClusterArn"] == cluster and described["State"] == "AVAILABLE"
    assert described["Subnets"] == subnets and described["SecurityGroups"] == [sg] and described["Tags"] == {"team": "orders"}
    second = kafka.create_vpc_connection(
        TargetClusterArn=cluster, Authentication="TLS", VpcId=vpc, ClientSubnets=subnets[:1], SecurityGroups=[sg],
    )["VpcConnectionArn"]
    listed = kafka.list_vpc_connections()["VpcConnections"]
    assert [c["VpcConnectionArn"] for c in listed] == [arn, second], listed
    assert listed[0] == {k: described[k] for k in ("VpcConnectionArn", "TargetClusterArn", "CreationTime", "Authentication", "VpcId", "State")}
    page = kafka.list_vpc_connections(MaxResults=1)
    assert [c["VpcConnectionArn"] for c in page["VpcConnections"]] == [arn] and page.get("NextToken")
    page = kafka.list_vpc_connections(MaxResults=1, NextToken=page["NextToken"])
    assert [c["VpcConnectionArn"] for c in page["VpcConnections"]] == [second] and "NextToken" not in page
    assert ctx.client("kafka", owner).list_vpc_connections()["VpcConnections"] == []
    assert kafka.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "orders"}
    # the state control
    assert ctx.control("POST", "/_esm_guard/kafka/vpc-connection", {"Arn": second, "State": "FAILED"}) == (200, {"Arn": second, "State": "FAILED"})
    assert kafka.describe_vpc_connection(Arn=second)["State"] == "FAILED"
    assert ctx.control("POST", "/_esm_guard/kafka/vpc-connection", {"Arn": second, "State": "Broken"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/kafka/vpc-connection", {"Arn": arn + "x", "State": "FAILED"})[0] == 404
    # what CreateVpcConnection refuses
    assert error_code(lambda: kafka.create_vpc_connection(
        TargetClusterArn=cluster[:-5] + "dead-1", Authentication="SASL_IAM", VpcId=vpc, ClientSubnets=subnets, SecurityGroups=[sg],
    )) == "BadRequestException"
    assert error_code(lambda: kafka.create_vpc_connection(
        TargetClusterArn=cluster, Authentication="SASL_IAM", VpcId=vpc, ClientSubnets=owner_subnets, SecurityGroups=[sg],
    )) == "BadRequestException"
    assert error_code(lambda: kafka.create_vpc_connection(
        TargetClusterArn=cluster, Authentication="PLAINTEXT", VpcId=vpc, ClientSubnets=subnets, SecurityGroups=[sg],
    )) == "BadRequestException"
    # a Lambda mapping on the VPC connection
    fn_arn = function(ctx, account, "shared-consumer", subnets, sg)
    lam = ctx.client("lambda", account)
    sac = [{"Type": "VPC_SUBNET", "URI": f"subnet:{subnets[0]}"}, {"Type": "VPC_SECURITY_GROUP", "URI": f"security_group:{sg}"}]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="shared-consumer", Topics=["orders"], StartingPosition="LATEST",
        BatchSize=20, SourceAccessConfigurations=sac,
        AmazonManagedKafkaEventSourceConfig={"ConsumerGroupId": "shared-group"},
    )["UUID"]
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["EventSourceArn"] == arn and got["FunctionArn"] == fn_arn and got["Topics"] == ["orders"], got
    assert got["StartingPosition"] == "LATEST" and got["BatchSize"] == 20 and got["State"] == "Enabled", got
    assert got["SourceAccessConfigurations"] == sac, got
    assert got["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "shared-group"}, got
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=30)["BatchSize"] == 30
    assert [e["UUID"] for e in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]
    assert error_code(lambda: lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="shared-consumer", Topics=["orders"], StartingPosition="LATEST",
    )) == "ResourceConflictException"
    # a VPC connection of another account is unknown there
    function(ctx, owner, "owner-consumer")
    assert error_code(lambda: ctx.client("lambda", owner).create_event_source_mapping(
        EventSourceArn=arn, FunctionName="owner-consumer", Topics=["orders"], StartingPosition="LATEST",
    )) == "InvalidParameterValueException"
    assert error_code(lambda: ctx.client("kafka", owner).describe_vpc_connection(Arn=arn)) == "NotFoundException"
    # delete: DELETING, then gone
    deleted = kafka.delete_vpc_connection(Arn=arn)
    assert deleted["VpcConnectionArn"] == arn and deleted["State"] == "DELETING", deleted
    try:
        kafka.describe_vpc_connection(Arn=arn)
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "NotFoundException", err.response
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404, err.response
    else:
        raise AssertionError("a deleted VPC connection was described")
    assert error_code(lambda: kafka.delete_vpc_connection(Arn=arn)) == "NotFoundException"
    assert [c["VpcConnectionArn"] for c in kafka.list_vpc_connections()["VpcConnections"]] == [second]
    assert error_code(lambda: lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="shared-consumer", Topics=["other"], StartingPosition="LATEST",
    )) == "InvalidParameterValueException"


@check
def faults_in_each_protocol(ctx: Ctx) -> None:
    account = "100000000009"
    ec2 = ctx.client("ec2", account)
    status, body = ctx.control("POST", "/_esm_guard/faults", [
        {"action": "DescribeRouteTables", "service": "ec2", "account": account, "status": 403,
         "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation.", "count": 1},
        {"action": "ListEventSourceMappings", "account": account, "status": 429, "code": "ThrottlingException", "count": 1},
        {"action": "Publish", "account": account, "status": 403, "code": "AuthorizationError", "count": 1},
        {"action": "PutItem", "account": account, "code": "ConditionalCheckFailedException", "count": 1},
        {"action": "ListClustersV2", "account": account, "status": 403, "code": "ForbiddenException", "count": 1},
    ])
    assert status == 200 and len(body["faults"]) == 5, body
    try:
        ec2.describe_route_tables()
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "UnauthorizedOperation"
        assert err.response["Error"]["Message"] == "You are not authorized to perform this operation."
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    else:
        raise AssertionError("no fault")
    ec2.describe_route_tables()  # count 1: used up
    lam = ctx.client("lambda", account)
    assert error_code(lam.list_event_source_mappings) == "ThrottlingException"
    lam.list_event_source_mappings()
    sns = ctx.client("sns", account)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    assert error_code(lambda: sns.publish(TopicArn=topic, Message="x")) == "AuthorizationError"
    ddb = ctx.client("dynamodb", account)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    assert error_code(lambda: ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})) == "ConditionalCheckFailedException"
    assert error_code(ctx.client("kafka", account).list_clusters_v2) == "ForbiddenException"
    assert ctx.control("GET", "/_esm_guard/faults")[1]["faults"] == []
    # retries see the fault again: the SDK's 3 attempts against a count=2 throttle succeed on the third
    ctx.control("POST", "/_esm_guard/faults", {"action": "ListEventSourceMappings", "account": account,
                                               "status": 429, "code": "ThrottlingException", "count": 2})
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    ctx.client("lambda", account, retries=3).list_event_source_mappings()
    assert [r["action"] for r in ctx.requests(account)] == ["ListEventSourceMappings"] * 3


@check
def delay_and_reset_faults(ctx: Ctx) -> None:
    account = "100000000010"
    ec2 = ctx.client("ec2", account)
    ec2.describe_vpcs()
    ctx.control("POST", "/_esm_guard/faults", {"action": "DescribeVpcs", "account": account, "delay_ms": 400, "count": 1})
    started = time.monotonic()
    ec2.describe_vpcs()
    assert time.monotonic() - started >= 0.4
    ctx.control("POST", "/_esm_guard/faults", {"action": "DescribeSubnets", "account": account, "reset": True, "count": 1})
    try:
        ec2.describe_subnets()
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as err:
        assert "Connection" in type(err).__name__ or "connection" in str(err).lower(), repr(err)
    else:
        raise AssertionError("the connection was not dropped")
    ec2.describe_subnets()
    assert ctx.control("DELETE", "/_esm_guard/faults")[0] == 200
    bad, _ = ctx.control("POST", "/_esm_guard/faults", {"status": 500})
    assert bad == 400


def scheduler(ctx: Ctx, account: str) -> Any:
    # botocore would refuse some of the invalid shapes before sending them; the server must
    return boto3.client(
        "scheduler",
        endpoint_url=ctx.url,
        region_name=REGION,
        aws_access_key_id=account,
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


def one_time_schedule(account: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A valid CreateSchedule request of a one-time sweep; ``overrides`` replace (None: drop) members."""
    request: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": "at(2030-01-31T23:59:59)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": f"arn:aws:lambda:{REGION}:{account}:function:esm-guard",
            "RoleArn": f"arn:aws:iam::{account}:role/esm-guard-scheduler",
            "Input": json.dumps({"source": "aws.scheduler", "detail": {"sweep": "esm-1"}}),
        },
    }
    for key, value in overrides.items():
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return request


@check
def scheduler_one_time_schedule_round_trip(ctx: Ctx) -> None:
    account = "100000000014"
    sch = scheduler(ctx, account)
    request = one_time_schedule(account, "sweep-esm-1", GroupName="default")
    arn = sch.create_schedule(**request)["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{account}:schedule/default/sweep-esm-1", arn
    got = sch.get_schedule(Name="sweep-esm-1")
    assert got["Arn"] == arn and got["Name"] == "sweep-esm-1" and got["GroupName"] == "default", got
    assert got["ScheduleExpression"] == "at(2030-01-31T23:59:59)" and got["ScheduleExpressionTimezone"] == "UTC", got
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}, got
    assert got["ActionAfterCompletion"] == "DELETE" and got["State"] == "ENABLED", got
    target = got["Target"]
    assert {k: target[k] for k in ("Arn", "RoleArn", "Input")} == request["Target"], target
    assert json.loads(target["Input"]) == {"source": "aws.scheduler", "detail": {"sweep": "esm-1"}}
    # the same name again: ConflictException, 409
    code, status, message = client_error(lambda: sch.create_schedule(**request))
    assert (code, status) == ("ConflictException", 409), (code, status, message)
    assert message == "Schedule sweep-esm-1 already exists.", message
    # other valid shapes: a named group, FLEXIBLE windows, rate and cron, DISABLED, a client token
    sch.create_schedule_group(Name="esm-guard")
    for name, expression, window in [
        ("rate-1", "rate(1 minute)", {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1}),
        ("rate-15", "rate(15 minutes)", {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1440}),
        ("cron", "cron(0 12 * * ? *)", {"Mode": "OFF"}),
        ("at-leap", "at(2028-02-29T00:00:00)", {"Mode": "OFF"}),
    ]:
        sch.create_schedule(**one_time_schedule(account, name, GroupName="esm-guard", ScheduleExpression=expression,
                                                FlexibleTimeWindow=window, State="DISABLED", ClientToken="tok-1_A",
                                                ActionAfterCompletion="NONE"))
        got = sch.get_schedule(Name=name, GroupName="esm-guard")
        assert got["ScheduleExpression"] == expression and got["FlexibleTimeWindow"] == window, got
        assert got["State"] == "DISABLED" and got["ActionAfterCompletion"] == "NONE", got
    # a name is per group
    sch.create_schedule(**one_time_schedule(account, "sweep-esm-1", GroupName="esm-guard"))
    # delete, then it is gone
    sch.delete_schedule(Name="sweep-esm-1")
    assert client_error(lambda: sch.get_schedule(Name="sweep-esm-1"))[:2] == ("ResourceNotFoundException", 404)
    assert client_error(lambda: sch.delete_schedule(Name="sweep-esm-1"))[:2] == ("ResourceNotFoundException", 404)
    assert sch.get_schedule(Name="sweep-esm-1", GroupName="esm-guard")["GroupName"] == "esm-guard"
    sch.create_schedule(**request)  # the name is free again
    # another account has its own schedules
    assert client_error(lambda: scheduler(ctx, "100000000015").get_schedule(Name="sweep-esm-1"))[0] == "ResourceNotFoundException"


FUNCTION = f"arn:aws:lambda:{REGION}:100000000016:function:f"
ROLE = "arn:aws:iam::100000000016:role/r"
USER = "arn:aws:iam::100000000016:user/u"
SCHEDULER_INVALID: list[tuple[str, str, dict[str, Any]]] = [
    # (what, a part of the message, CreateSchedule members replaced; None drops one): each answers
    # 400 ValidationException
    ("name of 65 characters", "at 'name'", {"Name": "n" * 65}),
    ("name with a space", "at 'name'", {"Name": "bad name"}),
    ("name with a colon", "at 'name'", {"Name": "sweep:1"}),
    ("empty group name", "at 'groupName'", {"GroupName": ""}),
    ("group name of 65 characters", "at 'groupName'", {"GroupName": "g" * 65}),
    ("group name with a slash", "at 'groupName'", {"GroupName": "esm/guard"}),
    ("no FlexibleTimeWindow", "Value null at 'flexibleTimeWindow'", {"FlexibleTimeWindow": None}),
    ("FlexibleTimeWindow without Mode", "Value null at 'flexibleTimeWindow.mode'", {"FlexibleTimeWindow": {}}),
    ("FlexibleTimeWindow Mode ON", "at 'flexibleTimeWindow.mode'", {"FlexibleTimeWindow": {"Mode": "ON"}}),
    ("MaximumWindowInMinutes with Mode OFF", "Mode is OFF",
     {"FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}}),
    ("FLEXIBLE without MaximumWindowInMinutes", "Mode is FLEXIBLE", {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}),
    ("MaximumWindowInMinutes 0", "at 'flexibleTimeWindow.maximumWindowInMinutes'",
     {"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 0}}),
    ("MaximumWindowInMinutes 1441", "at 'flexibleTimeWindow.maximumWindowInMinutes'",
     {"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441}}),
    ("no ScheduleExpression", "Value null at 'scheduleExpression'", {"ScheduleExpression": None}),
    ("empty ScheduleExpression", "at 'scheduleExpression'", {"ScheduleExpression": ""}),
    ("ScheduleExpression of 257 characters", "at 'scheduleExpression'",
     {"ScheduleExpression": "cron(0 12 * * ? *)" + " " * 239}),
    ("at() of February 30", "Invalid Schedule Expression", {"ScheduleExpression": "at(2030-02-30T00:00:00)"}),
    ("at() of hour 24", "Invalid Schedule Expression", {"ScheduleExpression": "at(2030-01-01T24:00:00)"}),
    ("at() without seconds", "Invalid Schedule Expression", {"ScheduleExpression": "at(2030-01-01T00:00)"}),
    ("at() with a zone", "Invalid Schedule Expression", {"ScheduleExpression": "at(2030-01-01T00:00:00Z)"}),
    ("at() of a date only", "Invalid Schedule Expression", {"ScheduleExpression": "at(2030-01-01)"}),
    ("rate(0 minutes)", "Invalid Schedule Expression", {"ScheduleExpression": "rate(0 minutes)"}),
    ("rate in weeks", "Invalid Schedule Expression", {"ScheduleExpression": "rate(1 week)"}),
    ("rate in seconds", "Invalid Schedule Expression", {"ScheduleExpression": "rate(30 seconds)"}),
    ("rate without a unit", "Invalid Schedule Expression", {"ScheduleExpression": "rate(5)"}),
    ("cron of 5 fields", "Invalid Schedule Expression", {"ScheduleExpression": "cron(0 12 * * ?)"}),
    ("cron of 7 fields", "Invalid Schedule Expression", {"ScheduleExpression": "cron(0 0 12 * * ? *)"}),
    ("an ISO timestamp", "Invalid Schedule Expression", {"ScheduleExpression": "2030-01-01T00:00:00"}),
    ("empty timezone", "at 'scheduleExpressionTimezone'", {"ScheduleExpressionTimezone": ""}),
    ("timezone of 51 characters", "at 'scheduleExpressionTimezone'", {"ScheduleExpressionTimezone": "T" * 51}),
    ("no Target", "Value null at 'target'", {"Target": None}),
    ("Target without Arn", "Value null at 'target.arn'", {"Target": {"RoleArn": ROLE}}),
    ("Target without RoleArn", "Value null at 'target.roleArn'", {"Target": {"Arn": FUNCTION}}),
    ("Target.Arn not an ARN", "Invalid target ARN", {"Target": {"Arn": "esm-guard", "RoleArn": ROLE}}),
    ("Target.RoleArn not an ARN", "at 'target.roleArn'", {"Target": {"Arn": FUNCTION, "RoleArn": "esm-guard-role"}}),
    ("Target.RoleArn not a role", "at 'target.roleArn'", {"Target": {"Arn": FUNCTION, "RoleArn": USER}}),
    ("empty Target.Input", "at 'target.input'", {"Target": {"Arn": FUNCTION, "RoleArn": ROLE, "Input": ""}}),
    ("Target.Input over 256 KB", "Target Input exceeds",
     {"Target": {"Arn": FUNCTION, "RoleArn": ROLE, "Input": "x" * (256 * 1024 + 1)}}),
    ("MaximumRetryAttempts 186", "at 'target.retryPolicy.maximumRetryAttempts'",
     {"Target": {"Arn": FUNCTION, "RoleArn": ROLE, "RetryPolicy": {"MaximumRetryAttempts": 186}}}),
    ("MaximumEventAgeInSeconds 59", "at 'target.retryPolicy.maximumEventAgeInSeconds'",
     {"Target": {"Arn": FUNCTION, "RoleArn": ROLE, "RetryPolicy": {"MaximumEventAgeInSeconds": 59}}}),
    ("dead-letter queue not an SQS ARN", "at 'target.deadLetterConfig.arn'",
     {"Target": {"Arn": FUNCTION, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": FUNCTION}}}),
    ("KmsKeyArn not a KMS ARN", "at 'kmsKeyArn'", {"KmsKeyArn": "alias/esm-guard"}),
    ("Description of 513 characters", "at 'description'", {"Description": "d" * 513}),
    ("ActionAfterCompletion KEEP", "at 'actionAfterCompletion'", {"ActionAfterCompletion": "KEEP"}),
    ("ActionAfterCompletion in lower case", "at 'actionAfterCompletion'", {"ActionAfterCompletion": "delete"}),
    ("ClientToken with a space", "at 'clientToken'", {"ClientToken": "bad token"}),
    ("ClientToken of 65 characters", "at 'clientToken'", {"ClientToken": "t" * 65}),
    ("State PAUSED", "at 'state'", {"State": "PAUSED"}),
]


@check
def scheduler_refuses_what_aws_refuses(ctx: Ctx) -> None:
    account = "100000000016"
    sch = scheduler(ctx, account)
    failures = []
    for what, fragment, overrides in SCHEDULER_INVALID:
        request = one_time_schedule(account, "invalid", **overrides)
        try:
            sch.create_schedule(**request)
        except botocore.exceptions.ClientError as err:
            got = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
            if got != ("ValidationException", 400) or fragment not in err.response["Error"]["Message"]:
                failures.append((what, got, err.response["Error"]["Message"]))
        else:
            failures.append((what, "created"))
            sch.delete_schedule(Name=request["Name"], **({"GroupName": request["GroupName"]} if request.get("GroupName") else {}))
    assert not failures, failures
    # none of them was created; the largest valid Input is
    assert client_error(lambda: sch.get_schedule(Name="invalid"))[0] == "ResourceNotFoundException"
    big = one_time_schedule(account, "big-input")
    big["Target"]["Input"] = "x" * (256 * 1024)
    sch.create_schedule(**big)
    assert len(sch.get_schedule(Name="big-input")["Target"]["Input"]) == 256 * 1024
    # Get/Delete check the name, the group name and the client token too
    for call in (lambda: sch.get_schedule(Name="bad name"), lambda: sch.get_schedule(Name="n" * 65),
                 lambda: sch.get_schedule(Name="ok", GroupName="bad group"),
                 lambda: sch.delete_schedule(Name="bad name"),
                 lambda: sch.delete_schedule(Name="ok", GroupName="g" * 65),
                 lambda: sch.delete_schedule(Name="big-input", ClientToken="bad token")):
        assert client_error(call)[:2] == ("ValidationException", 400)
    # the wire: status, x-amzn-ErrorType and {"Message": ...}, AWS's validation message
    status, headers, body = ctx.signed("POST", "scheduler", account, "/schedules/wire", {
        "ScheduleExpression": "rate(5 minutes)", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": f"arn:aws:lambda:{REGION}:{account}:function:f", "RoleArn": "role"}})
    assert status == 400 and headers.get("x-amzn-errortype") == "ValidationException", (status, headers)
    assert body == {"Message": "1 validation error detected: Value 'role' at 'target.roleArn' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: "
                               r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"}, body
    status, headers, body = ctx.signed("POST", "scheduler", account, "/schedules/wire", {})
    assert status == 400 and body["Message"].startswith("3 validation errors detected: Value null at 'scheduleExpression'"), body


@check
def scheduler_missing_group(ctx: Ctx) -> None:
    account = "100000000017"
    sch = scheduler(ctx, account)
    request = one_time_schedule(account, "sweep", GroupName="nope")
    for call in (lambda: sch.create_schedule(**request), lambda: sch.get_schedule(Name="sweep", GroupName="nope"),
                 lambda: sch.delete_schedule(Name="sweep", GroupName="nope")):
        assert client_error(call) == ("ResourceNotFoundException", 404, "Schedule group nope does not exist."), client_error(call)
    status, headers, body = ctx.signed("POST", "scheduler", account, "/schedules/sweep", request)
    assert (status, headers.get("x-amzn-errortype"), body) == (
        404, "ResourceNotFoundException", {"Message": "Schedule group nope does not exist."}), (status, headers, body)
    # a group of another account does not count
    scheduler(ctx, "100000000018").create_schedule_group(Name="nope")
    assert client_error(lambda: sch.create_schedule(**request))[0] == "ResourceNotFoundException"
    sch.create_schedule_group(Name="nope")
    sch.create_schedule(**request)
    assert sch.get_schedule(Name="sweep", GroupName="nope")["Arn"].endswith(":schedule/nope/sweep")


@check
def scheduler_request_log_params(ctx: Ctx) -> None:
    account = "100000000019"
    sch = scheduler(ctx, account)
    sch.create_schedule_group(Name="esm-guard")
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    sch.create_schedule(**one_time_schedule(account, "in-group", GroupName="esm-guard"))
    sch.create_schedule(**one_time_schedule(account, "in-default"))
    sch.get_schedule(Name="in-group", GroupName="esm-guard")
    sch.delete_schedule(Name="in-default")
    client_error(lambda: sch.create_schedule(**one_time_schedule(account, "refused", State="PAUSED")))
    update = one_time_schedule(account, "in-group", GroupName="esm-guard", ActionAfterCompletion=None)
    update["Target"]["RoleArn"] = f"arn:aws:iam::{account}:role/other"
    sch.update_schedule(**update)
    target, role = f"arn:aws:lambda:{REGION}:{account}:function:esm-guard", f"arn:aws:iam::{account}:role/esm-guard-scheduler"
    logged = [(r["service"], r["action"], r["params"]) for r in ctx.requests(account)]
    assert logged == [
        ("scheduler", "CreateSchedule", {"Name": "in-group", "GroupName": "esm-guard", "RoleArn": role, "TargetArn": target}),
        ("scheduler", "CreateSchedule", {"Name": "in-default", "RoleArn": role, "TargetArn": target}),
        ("scheduler", "GetSchedule", {"Name": "in-group", "GroupName": "esm-guard"}),
        ("scheduler", "DeleteSchedule", {"Name": "in-default"}),
        ("scheduler", "CreateSchedule", {"Name": "refused", "RoleArn": role, "TargetArn": target}),
        ("scheduler", "UpdateSchedule", {"Name": "in-group", "GroupName": "esm-guard",
                                         "RoleArn": f"arn:aws:iam::{account}:role/other", "TargetArn": target}),
    ], logged


def sns_queue(ctx: Ctx, account: str, topic: str, name: str, **attributes: str) -> str:
    """A queue subscribed to the topic (with these subscription attributes); its URL."""
    sqs = ctx.client("sqs", account)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ctx.client("sns", account).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


def drain(ctx: Ctx, account: str, url: str) -> list[dict[str, Any]]:
    """Every message in the queue (moto delivers SNS to SQS before Publish answers), deleted."""
    sqs = ctx.client("sqs", account)
    got: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return got
        got += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


SEVERITY_FAIL = {"severity": {"DataType": "String", "StringValue": "fail"}}


@check
def sns_json_structure_sends_no_attributes(ctx: Ctx) -> None:
    account = "100000000020"
    sns = ctx.client("sns", account)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    envelope = sns_queue(ctx, account, topic, "envelope")
    raw = sns_queue(ctx, account, topic, "raw", RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="plain", MessageAttributes=SEVERITY_FAIL)
    [m] = drain(ctx, account, envelope)
    body = json.loads(m["Body"])
    assert body["Message"] == "plain" and body["MessageAttributes"] == {"severity": {"Type": "String", "Value": "fail"}}, body
    [m] = drain(ctx, account, raw)
    assert m["Body"] == "plain" and m["MessageAttributes"] == {"severity": {"DataType": "String", "StringValue": "fail"}}, m
    structured = json.dumps({"default": "for everyone", "sqs": "for queues"})
    sns.publish(TopicArn=topic, Message=structured, MessageStructure="json", MessageAttributes=SEVERITY_FAIL)
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": structured, "MessageStructure": "json", "MessageAttributes": SEVERITY_FAIL}])
    got = drain(ctx, account, envelope)
    assert len(got) == 2, got
    for m in got:
        body = json.loads(m["Body"])
        assert body["Message"] == "for queues" and not body.get("MessageAttributes"), body
    got = drain(ctx, account, raw)
    assert len(got) == 2, got
    for m in got:
        assert m["Body"] == "for queues" and "MessageAttributes" not in m, m


@check
def sns_json_structure_filter_policy_sees_no_attributes(ctx: Ctx) -> None:
    account = "100000000021"
    sns = ctx.client("sns", account)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    filtered = sns_queue(ctx, account, topic, "failures", FilterPolicy=json.dumps({"severity": ["fail"]}))
    everything = sns_queue(ctx, account, topic, "everything")
    sns.publish(TopicArn=topic, Message="string", MessageAttributes=SEVERITY_FAIL)
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "json"}), MessageStructure="json", MessageAttributes=SEVERITY_FAIL)
    sns.publish(TopicArn=topic, Message="string, info", MessageAttributes={"severity": {"DataType": "String", "StringValue": "info"}})
    assert [json.loads(m["Body"])["Message"] for m in drain(ctx, account, filtered)] == ["string"]
    assert sorted(json.loads(m["Body"])["Message"] for m in drain(ctx, account, everything)) == ["json", "string", "string, info"]


@check
def sns_json_structure_requires_default(ctx: Ctx) -> None:
    account = "100000000022"
    sns = ctx.client("sns", account)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    no_default = "Invalid parameter: Message Structure - No default entry in JSON message body"
    not_json = "Invalid parameter: Message Structure - JSON message body failed to parse"
    bad = [(json.dumps({"sqs": "x"}), no_default), (json.dumps({"default": 1}), no_default),
           (json.dumps(["default"]), no_default), ("default", not_json)]
    queue = None
    for subscribed in (False, True):  # moto checks nothing without a subscriber
        if subscribed:
            queue = sns_queue(ctx, account, topic, "q")
        for message, text in bad:
            got = client_error(lambda: sns.publish(TopicArn=topic, Message=message, MessageStructure="json"))
            assert got == ("InvalidParameter", 400, text), (subscribed, message, got)
    assert queue and drain(ctx, account, queue) == []
    result = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "bad", "Message": json.dumps({"sqs": "x"}), "MessageStructure": "json"},
        {"Id": "good", "Message": json.dumps({"default": "d"}), "MessageStructure": "json"}])
    assert [e["Id"] for e in result["Successful"]] == ["good"], result
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in result["Failed"]] == [("bad", "InvalidParameter", True)], result
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "d", "email": "e"}), MessageStructure="json")
    assert [json.loads(m["Body"])["Message"] for m in drain(ctx, account, queue)] == ["d", "d"]


# --------------------------------------------------------------------------- Amazon MQ and DocumentDB

SECRET = "arn:aws:secretsmanager:us-east-1:{account}:secret:mq-credentials-AbCdEf"
BROKER_ARN_RE = r"^arn:aws:mq:us-east-1:{account}:broker:{name}:(b-[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})$"


def zoned_network(ctx: Ctx, account: str, prefix: str = "10.30") -> tuple[str, list[str], str]:
    """A VPC with three subnets in three Availability Zones and a security group."""
    ec2 = ctx.client("ec2", account)
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        for i, zone in enumerate("abc")
    ]
    sg = ec2.create_security_group(GroupName="brokers", Description="brokers", VpcId=vpc)["GroupId"]
    return vpc, subnets, sg


def mq_broker(ctx: Ctx, account: str, subnets: list[str] | None, sgs: list[str] | None, name: str = "orders-mq",
              engine: str = "RABBITMQ", mode: str = "SINGLE_INSTANCE", public: bool = False) -> dict[str, Any]:
    """CreateBroker with what AWS requires (BrokerName, EngineType, DeploymentMode, HostInstanceType,
    PubliclyAccessible; Users for the simple authentication strategy); SubnetIds and
    SecurityGroups left out when None."""
    kwargs: dict[str, Any] = {}
    if subnets is not None:
        kwargs["SubnetIds"] = subnets
    if sgs is not None:
        kwargs["SecurityGroups"] = sgs
    return ctx.client("mq", account).create_broker(
        BrokerName=name, EngineType=engine, EngineVersion="3.13" if engine == "RABBITMQ" else "5.18",
        HostInstanceType="mq.m5.large", DeploymentMode=mode, PubliclyAccessible=public,
        AutoMinorVersionUpgrade=True, Users=[{"Username": "lambda", "Password": "a-long-password-1"}], **kwargs,
    )


def docdb_cluster(ctx: Ctx, account: str, subnets: list[str], sgs: list[str], name: str = "events",
                  group: str = "docdb-subnets", **kwargs: Any) -> dict[str, Any]:
    """CreateDBSubnetGroup (subnets in at least 2 AZs) and CreateDBCluster with Engine docdb."""
    docdb = ctx.client("docdb", account)
    docdb.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="docdb", SubnetIds=subnets)
    return docdb.create_db_cluster(
        DBClusterIdentifier=name, Engine="docdb", MasterUsername="guard", MasterUserPassword="a-long-password-1",
        DBSubnetGroupName=group, VpcSecurityGroupIds=sgs, **kwargs,
    )["DBCluster"]


def unvalidated(ctx: Ctx, service: str, account: str) -> Any:
    """A client that sends what botocore would refuse (the emulator must refuse it)."""
    return boto3.client(
        service, endpoint_url=ctx.url, region_name=REGION, aws_access_key_id=account, aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


@check
def mq_broker_describe_shape(ctx: Ctx) -> None:
    from urllib.parse import quote

    account = "100000000030"
    vpc, subnets, sg = zoned_network(ctx, account)
    mq = ctx.client("mq", account)
    created = mq_broker(ctx, account, subnets[:1], [sg])
    m = re.match(BROKER_ARN_RE.format(account=account, name="orders-mq"), created["BrokerArn"])
    assert m and created["BrokerId"] == m.group(1), created
    broker_id = created["BrokerId"]
    got = mq.describe_broker(BrokerId=broker_id)
    expected = {"BrokerArn": created["BrokerArn"], "BrokerId": broker_id, "BrokerName": "orders-mq", "EngineType": "RABBITMQ",
                "DeploymentMode": "SINGLE_INSTANCE", "SubnetIds": subnets[:1], "SecurityGroups": [sg],
                "PubliclyAccessible": False, "BrokerState": "RUNNING", "HostInstanceType": "mq.m5.large"}
    assert {k: got.get(k) for k in expected} == expected, got
    host = f"{broker_id}.mq.{REGION}.amazonaws.com"
    assert got["BrokerInstances"][0]["Endpoints"] == [f"amqps://{host}:5671"], got["BrokerInstances"]
    # the wire: GET /v1/brokers/{broker-id}, lowerCamel names
    raw = ctx.signed_get("mq", account, f"/v1/brokers/{quote(broker_id)}")
    assert raw["subnetIds"] == subnets[:1] and raw["securityGroups"] == [sg] and raw["publiclyAccessible"] is False, raw
    assert raw["brokerState"] == "RUNNING" and raw["deploymentMode"] == "SINGLE_INSTANCE", raw
    # ActiveMQ active/standby: two subnets in two zones, one instance per node, OpenWire on 61617
    standby = mq_broker(ctx, account, subnets[:2], [sg], name="payments-mq", engine="ACTIVEMQ", mode="ACTIVE_STANDBY_MULTI_AZ", public=True)
    got = mq.describe_broker(BrokerId=standby["BrokerId"])
    assert got["SubnetIds"] == subnets[:2] and got["PubliclyAccessible"] is True and got["EngineType"] == "ACTIVEMQ", got
    assert [i["Endpoints"][0] for i in got["BrokerInstances"]] == [
        f"ssl://{standby['BrokerId']}-{n}.mq.{REGION}.amazonaws.com:61617" for n in (1, 2)], got["BrokerInstances"]
    # RabbitMQ cluster: up to three subnets
    cluster = mq_broker(ctx, account, subnets, [sg], name="cluster-mq", mode="CLUSTER_MULTI_AZ")
    assert mq.describe_broker(BrokerId=cluster["BrokerId"])["DeploymentMode"] == "CLUSTER_MULTI_AZ"
    # defaults: the default VPC's default subnet and that VPC's default security group
    ec2 = ctx.client("ec2", account)
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    bare = mq.describe_broker(BrokerId=mq_broker(ctx, account, None, None, name="bare-mq")["BrokerId"])
    [subnet] = ec2.describe_subnets(SubnetIds=bare["SubnetIds"])["Subnets"]
    [group] = ec2.describe_security_groups(GroupIds=bare["SecurityGroups"])["SecurityGroups"]
    assert subnet["VpcId"] == default_vpc and group["GroupName"] == "default" and group["VpcId"] == default_vpc, (subnet, group)
    # listed
    assert {b["BrokerId"] for b in mq.list_brokers()["BrokerSummaries"]} == {
        broker_id, standby["BrokerId"], cluster["BrokerId"], bare["BrokerId"]}
    # UpdateBroker changes the security groups (of the broker's VPC only)
    other = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]
    mq.update_broker(BrokerId=broker_id, SecurityGroups=[sg, other])
    assert mq.describe_broker(BrokerId=broker_id)["SecurityGroups"] == [sg, other]
    foreign = ec2.create_security_group(GroupName="foreign", Description="foreign", VpcId=default_vpc)["GroupId"]
    assert client_error(lambda: mq.update_broker(BrokerId=broker_id, SecurityGroups=[foreign]))[:2] == ("BadRequestException", 400)
    # the state control
    assert ctx.control("POST", "/_esm_guard/mq/broker", {"BrokerId": broker_id, "BrokerState": "REBOOT_IN_PROGRESS"}) == (
        200, {"BrokerId": broker_id, "BrokerState": "REBOOT_IN_PROGRESS"})
    assert mq.describe_broker(BrokerId=broker_id)["BrokerState"] == "REBOOT_IN_PROGRESS"
    assert ctx.control("POST", "/_esm_guard/mq/broker", {"BrokerId": broker_id, "BrokerState": "BROKEN"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/mq/broker", {"BrokerId": "b-nope", "BrokerState": "RUNNING"})[0] == 404
    # unknown IDs: NotFoundException, 404 (moto: a 500 for Delete/Reboot)
    missing = "b-00000000-0000-0000-0000-000000000000"
    for call in (lambda: mq.describe_broker(BrokerId=missing), lambda: mq.delete_broker(BrokerId=missing),
                 lambda: mq.reboot_broker(BrokerId=missing), lambda: mq.update_broker(BrokerId=missing, SecurityGroups=[sg])):
        assert client_error(call)[:2] == ("NotFoundException", 404), client_error(call)
    mq.reboot_broker(BrokerId=broker_id)
    assert mq.delete_broker(BrokerId=broker_id)["BrokerId"] == broker_id
    assert client_error(lambda: mq.describe_broker(BrokerId=broker_id))[:2] == ("NotFoundException", 404)
    # another account does not see the brokers
    assert client_error(lambda: ctx.client("mq", "100000000031").describe_broker(BrokerId=standby["BrokerId"]))[0] == "NotFoundException"


@check
def mq_create_broker_refusals(ctx: Ctx) -> None:
    account = "100000000032"
    _, subnets, sg = zoned_network(ctx, account)
    ec2 = ctx.client("ec2", account)
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    foreign_sg = ec2.create_security_group(GroupName="foreign", Description="foreign", VpcId=default_vpc)["GroupId"]
    same_zone = ec2.create_subnet(VpcId=ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"],
                                  CidrBlock="10.30.9.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    mq = unvalidated(ctx, "mq", account)
    base = {"BrokerName": "refused", "EngineType": "ACTIVEMQ", "EngineVersion": "5.18", "HostInstanceType": "mq.m5.large",
            "DeploymentMode": "SINGLE_INSTANCE", "PubliclyAccessible": False, "SubnetIds": subnets[:1], "SecurityGroups": [sg],
            "Users": [{"Username": "lambda", "Password": "a-long-password-1"}]}
    cases = [
        ("a subnet that does not exist", {"SubnetIds": ["subnet-00000000000000000"]}),
        ("two subnets for a single instance", {"SubnetIds": subnets[:2]}),
        ("one subnet for active/standby", {"DeploymentMode": "ACTIVE_STANDBY_MULTI_AZ"}),
        ("active/standby subnets in one zone", {"DeploymentMode": "ACTIVE_STANDBY_MULTI_AZ", "SubnetIds": [subnets[0], same_zone]}),
        ("a security group of another VPC", {"SecurityGroups": [foreign_sg]}),
        ("a security group that does not exist", {"SecurityGroups": ["sg-00000000000000000"]}),
        ("an ActiveMQ cluster", {"DeploymentMode": "CLUSTER_MULTI_AZ"}),
        ("a RabbitMQ active/standby pair", {"EngineType": "RABBITMQ", "DeploymentMode": "ACTIVE_STANDBY_MULTI_AZ", "SubnetIds": subnets[:2]}),
        ("an unknown engine", {"EngineType": "KAFKA"}),
        ("an unknown deployment mode", {"DeploymentMode": "MULTI_REGION"}),
        ("no PubliclyAccessible", {"PubliclyAccessible": None}),
        ("no HostInstanceType", {"HostInstanceType": None}),
        ("a name with a space", {"BrokerName": "bad name"}),
    ]
    failures = []
    for what, overrides in cases:
        request = {k: v for k, v in {**base, **overrides}.items() if v is not None}
        try:
            mq.create_broker(**request)
        except botocore.exceptions.ClientError as err:
            got = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
            if got != ("BadRequestException", 400):
                failures.append((what, got))
        else:
            failures.append((what, "created"))
    assert not failures, failures
    assert mq.list_brokers()["BrokerSummaries"] == []
    mq.create_broker(**{**base, "BrokerName": "taken"})
    assert client_error(lambda: mq.create_broker(**{**base, "BrokerName": "taken"}))[:2] == ("ConflictException", 409)


@check
def docdb_cluster_describe_shape(ctx: Ctx) -> None:
    account = "100000000033"
    vpc, subnets, sg = zoned_network(ctx, account)
    docdb = ctx.client("docdb", account)
    created = docdb_cluster(ctx, account, subnets[:2], [sg])
    arn = f"arn:aws:rds:{REGION}:{account}:cluster:events"
    assert created["DBClusterArn"] == arn and created["Engine"] == "docdb" and created["Port"] == 27017, created
    expected = {"DBClusterArn": arn, "DBClusterIdentifier": "events", "Engine": "docdb", "Port": 27017, "DBSubnetGroup": "docdb-subnets",
                "VpcSecurityGroups": [{"VpcSecurityGroupId": sg, "Status": "active"}], "Status": "available"}
    for kwargs in ({"DBClusterIdentifier": "events"}, {"DBClusterIdentifier": arn},
                   {"Filters": [{"Name": "db-cluster-id", "Values": ["events"]}]},
                   {"Filters": [{"Name": "db-cluster-id", "Values": [arn]}]}):
        [got] = docdb.describe_db_clusters(**kwargs)["DBClusters"]
        assert {k: got.get(k) for k in expected} == expected, (kwargs, got)
        assert got["Endpoint"].endswith(f".{REGION}.docdb.amazonaws.com") and got["EngineVersion"] == "5.0.0", got
        assert got["AvailabilityZones"] == [f"{REGION}a", f"{REGION}b"], got
    # RDS's own client sees the same cluster
    assert ctx.client("rds", account).describe_db_clusters(DBClusterIdentifier="events")["DBClusters"][0]["DBClusterArn"] == arn
    [group] = docdb.describe_db_subnet_groups(DBSubnetGroupName="docdb-subnets")["DBSubnetGroups"]
    assert group["DBSubnetGroupName"] == "docdb-subnets" and group["VpcId"] == vpc, group
    assert [(s["SubnetIdentifier"], s["SubnetAvailabilityZone"]["Name"], s["SubnetStatus"]) for s in group["Subnets"]] == [
        (subnets[0], f"{REGION}a", "Active"), (subnets[1], f"{REGION}b", "Active")], group["Subnets"]
    # another port; a second cluster in the same group
    other = docdb.create_db_cluster(DBClusterIdentifier="audit", Engine="docdb", MasterUsername="guard",
                                    MasterUserPassword="a-long-password-1", DBSubnetGroupName="docdb-subnets",
                                    VpcSecurityGroupIds=[sg], Port=27018)["DBCluster"]
    assert other["Port"] == 27018
    assert {c["DBClusterIdentifier"] for c in docdb.describe_db_clusters(
        Filters=[{"Name": "db-cluster-id", "Values": ["events", other["DBClusterArn"]]}])["DBClusters"]} == {"events", "audit"}
    # defaults: the "default" subnet group (the default VPC's subnets) and that VPC's default group
    ec2 = ctx.client("ec2", account)
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    bare = docdb.create_db_cluster(DBClusterIdentifier="bare", Engine="docdb", MasterUsername="guard",
                                   MasterUserPassword="a-long-password-1")["DBCluster"]
    assert bare["DBSubnetGroup"] == "default", bare
    assert docdb.describe_db_subnet_groups(DBSubnetGroupName="default")["DBSubnetGroups"][0]["VpcId"] == default_vpc
    [default_sg] = ec2.describe_security_groups(GroupIds=[bare["VpcSecurityGroups"][0]["VpcSecurityGroupId"]])["SecurityGroups"]
    assert default_sg["GroupName"] == "default" and default_sg["VpcId"] == default_vpc, default_sg
    # what AWS refuses
    assert client_error(lambda: docdb.describe_db_clusters(DBClusterIdentifier="nope"))[:2] == ("DBClusterNotFoundFault", 404)
    assert client_error(lambda: docdb.describe_db_subnet_groups(DBSubnetGroupName="nope"))[0] == "DBSubnetGroupNotFoundFault"
    refused = [
        (lambda: docdb.create_db_subnet_group(DBSubnetGroupName="one-zone", DBSubnetGroupDescription="x", SubnetIds=subnets[:1]),
         "DBSubnetGroupDoesNotCoverEnoughAZs"),
        (lambda: docdb.create_db_subnet_group(DBSubnetGroupName="ghost", DBSubnetGroupDescription="x",
                                              SubnetIds=[subnets[0], "subnet-00000000000000000"]), "InvalidSubnet"),
        (lambda: docdb.create_db_cluster(DBClusterIdentifier="x", Engine="docdb", MasterUsername="guard",
                                         MasterUserPassword="a-long-password-1", DBSubnetGroupName="nope"), "DBSubnetGroupNotFoundFault"),
        (lambda: docdb.create_db_cluster(DBClusterIdentifier="x", Engine="docdb", MasterUsername="guard",
                                         MasterUserPassword="a-long-password-1", DBSubnetGroupName="docdb-subnets",
                                         VpcSecurityGroupIds=[default_sg["GroupId"]]), "InvalidParameterCombination"),
    ]
    for call, code in refused:
        assert client_error(call)[0] == code, (code, client_error(call))
    # the status control
    assert ctx.control("POST", "/_esm_guard/docdb/cluster", {"DBClusterArn": arn, "Status": "stopped"}) == (
        200, {"DBClusterArn": arn, "Status": "stopped"})
    assert docdb.describe_db_clusters(DBClusterIdentifier="events")["DBClusters"][0]["Status"] == "stopped"
    assert docdb.describe_db_clusters(DBClusterIdentifier="events")["DBClusters"][0]["Status"] == "stopped"
    assert ctx.control("POST", "/_esm_guard/docdb/cluster", {"DBClusterArn": arn + "x", "Status": "stopped"})[0] == 404
    # delete, then gone
    assert docdb.delete_db_cluster(DBClusterIdentifier="audit", SkipFinalSnapshot=True)["DBCluster"]["DBClusterIdentifier"] == "audit"
    assert client_error(lambda: docdb.describe_db_clusters(DBClusterIdentifier="audit"))[0] == "DBClusterNotFoundFault"


def _expect_refusals(lam: Any, base: dict[str, Any], cases: list[tuple[str, dict[str, Any], str]]) -> list[Any]:
    """Each case (what, members replaced (None drops one), expected code) must be refused."""
    failures = []
    for what, overrides, code in cases:
        request = {k: v for k, v in {**base, **overrides}.items() if v is not None}
        try:
            created = lam.create_event_source_mapping(**request)
        except botocore.exceptions.ClientError as err:
            got = err.response["Error"]["Code"]
            if got != code:
                failures.append((what, got, err.response["Error"]["Message"]))
        else:
            failures.append((what, "created"))
            lam.delete_event_source_mapping(UUID=created["UUID"])
    return failures


@check
def mq_esm_round_trip(ctx: Ctx) -> None:
    account = "100000000034"
    _, subnets, sg = zoned_network(ctx, account)
    rabbit = mq_broker(ctx, account, subnets[:1], [sg])
    active = mq_broker(ctx, account, subnets[:2], [sg], name="payments-mq", engine="ACTIVEMQ", mode="ACTIVE_STANDBY_MULTI_AZ")
    fn_arn = function(ctx, account, "mq-consumer")
    lam = ctx.client("lambda", account)
    secret = SECRET.format(account=account)
    sac = [{"Type": "BASIC_AUTH", "URI": secret}, {"Type": "VIRTUAL_HOST", "URI": "/orders"}]
    created = lam.create_event_source_mapping(
        FunctionName="mq-consumer", EventSourceArn=rabbit["BrokerArn"], Queues=["orders"], SourceAccessConfigurations=sac,
    )
    uuid = created["UUID"]
    expected = {"UUID": uuid, "EventSourceArn": rabbit["BrokerArn"], "FunctionArn": fn_arn, "Queues": ["orders"],
                "SourceAccessConfigurations": sac, "BatchSize": 100, "State": "Enabled",
                "LastProcessingResult": "No records processed", "StateTransitionReason": "USER_INITIATED",
                "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{account}:event-source-mapping:{uuid}"}
    for got in (created, lam.get_event_source_mapping(UUID=uuid),
                lam.list_event_source_mappings(EventSourceArn=rabbit["BrokerArn"])["EventSourceMappings"][0]):
        assert {k: got.get(k) for k in expected} == expected, got
        for absent in ("StartingPosition", "Topics", "DocumentDBEventSourceConfig", "ProvisionedPollerConfig"):
            assert absent not in got, (absent, got)
    # ActiveMQ: BASIC_AUTH alone
    other = lam.create_event_source_mapping(
        FunctionName=fn_arn, EventSourceArn=active["BrokerArn"], Queues=["payments"], BatchSize=10,
        MaximumBatchingWindowInSeconds=5, SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret}],
    )["UUID"]
    assert lam.get_event_source_mapping(UUID=other)["BatchSize"] == 10
    assert [e["UUID"] for e in lam.list_event_source_mappings(FunctionName="mq-consumer")["EventSourceMappings"]] == [uuid, other]
    # the control endpoint sets what Get/List report
    problem = "PROBLEM: Connection error. Your VPC must be able to connect to Lambda and STS, along with Secrets Manager if authentication is required."
    status, body = ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"LastProcessingResult": problem, "StateTransitionReason": "USER_INITIATED"})
    assert status == 200 and body["LastProcessingResult"] == problem, body
    ctx.control("POST", f"/_esm_guard/esm/{other}", {"State": "Disabled", "StateTransitionReason": "EVENT_SOURCE_AUTHN_ERROR"})
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["LastProcessingResult"] == problem and got["StateTransitionReason"] == "USER_INITIATED", got
    got = lam.get_event_source_mapping(UUID=other)
    assert got["State"] == "Disabled" and got["StateTransitionReason"] == "EVENT_SOURCE_AUTHN_ERROR", got
    listed = {e["UUID"]: e for e in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert listed[uuid]["LastProcessingResult"] == problem and listed[other]["StateTransitionReason"] == "EVENT_SOURCE_AUTHN_ERROR"
    # updates: batching and credentials yes, provisioned mode no
    lam.update_event_source_mapping(UUID=uuid, BatchSize=500, SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret + "2"}])
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["BatchSize"] == 500 and got["SourceAccessConfigurations"] == [{"Type": "BASIC_AUTH", "URI": secret + "2"}], got
    assert client_error(lambda: lam.update_event_source_mapping(
        UUID=uuid, ProvisionedPollerConfig={"MinimumPollers": 1, "MaximumPollers": 2}))[:2] == ("InvalidParameterValueException", 400)
    assert client_error(lambda: lam.update_event_source_mapping(
        UUID=other, SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret}, {"Type": "VIRTUAL_HOST", "URI": "/"}]))[0] == "InvalidParameterValueException"
    assert "ProvisionedPollerConfig" not in lam.get_event_source_mapping(UUID=uuid)
    # the same queue again: a conflict; another queue: fine
    assert client_error(lambda: lam.create_event_source_mapping(
        FunctionName="mq-consumer", EventSourceArn=rabbit["BrokerArn"], Queues=["orders"],
        SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret}]))[:2] == ("ResourceConflictException", 409)
    third = lam.create_event_source_mapping(FunctionName="mq-consumer", EventSourceArn=rabbit["BrokerArn"], Queues=["refunds"],
                                            SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret}])["UUID"]
    for u in (uuid, other, third):
        assert lam.delete_event_source_mapping(UUID=u)["State"] == "Deleting"
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


@check
def mq_esm_refusals(ctx: Ctx) -> None:
    account, stranger = "100000000035", "100000000036"
    _, subnets, sg = zoned_network(ctx, account)
    rabbit = mq_broker(ctx, account, subnets[:1], [sg])
    active = mq_broker(ctx, account, subnets[:1], [sg], name="payments-mq", engine="ACTIVEMQ")
    _, foreign_subnets, foreign_sg = zoned_network(ctx, stranger)
    foreign = mq_broker(ctx, stranger, foreign_subnets[:1], [foreign_sg])
    function(ctx, account, "mq-consumer")
    lam = unvalidated(ctx, "lambda", account)
    secret = SECRET.format(account=account)
    basic = [{"Type": "BASIC_AUTH", "URI": secret}]
    base = {"FunctionName": "mq-consumer", "EventSourceArn": rabbit["BrokerArn"], "Queues": ["orders"], "SourceAccessConfigurations": basic}
    name, broker_id = rabbit["BrokerArn"].split(":")[-2:]
    ipve = "InvalidParameterValueException"
    cases = [
        ("no Queues", {"Queues": None}, ipve),
        ("two queues", {"Queues": ["a", "b"]}, ipve),
        ("an empty queue name", {"Queues": [""]}, ipve),
        ("no SourceAccessConfigurations", {"SourceAccessConfigurations": None}, ipve),
        ("a VIRTUAL_HOST alone", {"SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": "/"}]}, ipve),
        ("two BASIC_AUTH", {"SourceAccessConfigurations": basic * 2}, ipve),
        ("BASIC_AUTH not a secret ARN", {"SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "user:password"}]}, ipve),
        ("a VPC_SUBNET entry", {"SourceAccessConfigurations": basic + [{"Type": "VPC_SUBNET", "URI": f"subnet:{subnets[0]}"}]}, ipve),
        ("SASL/SCRAM credentials", {"SourceAccessConfigurations": [{"Type": "SASL_SCRAM_512_AUTH", "URI": secret}]}, ipve),
        ("a VIRTUAL_HOST on ActiveMQ", {"EventSourceArn": active["BrokerArn"],
                                        "SourceAccessConfigurations": basic + [{"Type": "VIRTUAL_HOST", "URI": "/"}]}, ipve),
        ("ProvisionedPollerConfig", {"ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": 3}}, ipve),
        ("a StartingPosition", {"StartingPosition": "LATEST"}, ipve),
        ("Topics", {"Topics": ["orders"]}, ipve),
        ("a DocumentDBEventSourceConfig", {"DocumentDBEventSourceConfig": {"DatabaseName": "db"}}, ipve),
        ("BatchSize 10001", {"BatchSize": 10001}, ipve),
        ("MaximumBatchingWindowInSeconds 301", {"MaximumBatchingWindowInSeconds": 301}, ipve),
        ("a broker of another account", {"EventSourceArn": foreign["BrokerArn"]}, ipve),
        ("a broker that does not exist", {"EventSourceArn": rabbit["BrokerArn"][:-12] + "000000000000"}, ipve),
        ("the broker ID under another name", {"EventSourceArn": rabbit["BrokerArn"].replace(f":{name}:", ":renamed:")}, ipve),
        ("a broker ARN without the ID", {"EventSourceArn": f"arn:aws:mq:{REGION}:{account}:broker:{name}"}, ipve),
        ("a broker ARN of another region", {"EventSourceArn": rabbit["BrokerArn"].replace(REGION, "eu-west-1")}, ipve),
        ("a function that does not exist", {"FunctionName": "nope"}, "ResourceNotFoundException"),
    ]
    failures = _expect_refusals(lam, base, cases)
    assert not failures, failures
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert broker_id.startswith("b-")


@check
def docdb_esm_round_trip(ctx: Ctx) -> None:
    account = "100000000037"
    _, subnets, sg = zoned_network(ctx, account)
    cluster = docdb_cluster(ctx, account, subnets[:2], [sg])
    arn = cluster["DBClusterArn"]
    fn_arn = function(ctx, account, "docdb-consumer")
    lam = ctx.client("lambda", account)
    secret = SECRET.format(account=account)
    sac = [{"Type": "BASIC_AUTH", "URI": secret}]
    config = {"DatabaseName": "orders", "CollectionName": "events", "FullDocument": "UpdateLookup"}
    created = lam.create_event_source_mapping(
        FunctionName="docdb-consumer", EventSourceArn=arn, StartingPosition="LATEST", BatchSize=50,
        DocumentDBEventSourceConfig=config, SourceAccessConfigurations=sac,
    )
    uuid = created["UUID"]
    expected = {"UUID": uuid, "EventSourceArn": arn, "FunctionArn": fn_arn, "StartingPosition": "LATEST", "BatchSize": 50,
                "DocumentDBEventSourceConfig": config, "SourceAccessConfigurations": sac, "State": "Enabled",
                "LastProcessingResult": "No records processed", "StateTransitionReason": "USER_INITIATED"}
    for got in (created, lam.get_event_source_mapping(UUID=uuid),
                lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]):
        assert {k: got.get(k) for k in expected} == expected, got
        for absent in ("Queues", "Topics", "ProvisionedPollerConfig"):
            assert absent not in got, (absent, got)
    # TRIM_HORIZON with the database alone; AT_TIMESTAMP with a past timestamp
    whole = lam.create_event_source_mapping(FunctionName="docdb-consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                            DocumentDBEventSourceConfig={"DatabaseName": "audit"}, SourceAccessConfigurations=sac)["UUID"]
    assert lam.get_event_source_mapping(UUID=whole)["DocumentDBEventSourceConfig"] == {"DatabaseName": "audit"}
    stamp = int(time.time()) - 3600
    timed = lam.create_event_source_mapping(FunctionName="docdb-consumer", EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
                                            StartingPositionTimestamp=stamp, DocumentDBEventSourceConfig={"DatabaseName": "billing"},
                                            SourceAccessConfigurations=sac)["UUID"]
    got = lam.get_event_source_mapping(UUID=timed)
    assert got["StartingPosition"] == "AT_TIMESTAMP" and int(got["StartingPositionTimestamp"].timestamp()) == stamp, got
    # the control endpoint
    problem = "PROBLEM: Connection error. Please check your event source connection configuration."
    ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"LastProcessingResult": problem, "StateTransitionReason": "EVENT_SOURCE_AUTHN_ERROR"})
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["LastProcessingResult"] == problem and got["StateTransitionReason"] == "EVENT_SOURCE_AUTHN_ERROR", got
    ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"LastProcessingResult": None})  # null: the override goes
    assert "LastProcessingResult" not in lam.get_event_source_mapping(UUID=uuid)
    ctx.control("POST", f"/_esm_guard/esm/{uuid}", {"LastProcessingResult": "OK"})
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
    # updates
    lam.update_event_source_mapping(UUID=uuid, DocumentDBEventSourceConfig={"DatabaseName": "orders", "CollectionName": "archive"})
    assert lam.get_event_source_mapping(UUID=uuid)["DocumentDBEventSourceConfig"] == {"DatabaseName": "orders", "CollectionName": "archive"}
    bad = unvalidated(ctx, "lambda", account)
    for spec in ({"ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": 2}},
                 {"DocumentDBEventSourceConfig": {"CollectionName": "x"}},
                 {"SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": "/"}]}):
        assert client_error(lambda: bad.update_event_source_mapping(UUID=uuid, **spec))[:2] == ("InvalidParameterValueException", 400), spec
    # the same database and collection again: a conflict
    assert client_error(lambda: lam.create_event_source_mapping(
        FunctionName="docdb-consumer", EventSourceArn=arn, StartingPosition="LATEST",
        DocumentDBEventSourceConfig={"DatabaseName": "audit"}, SourceAccessConfigurations=sac))[:2] == ("ResourceConflictException", 409)
    for u in (uuid, whole, timed):
        lam.delete_event_source_mapping(UUID=u)
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


@check
def docdb_esm_refusals(ctx: Ctx) -> None:
    account, stranger = "100000000038", "100000000039"
    _, subnets, sg = zoned_network(ctx, account)
    cluster = docdb_cluster(ctx, account, subnets[:2], [sg])
    aurora = ctx.client("rds", account).create_db_cluster(
        DBClusterIdentifier="aurora", Engine="aurora-postgresql", MasterUsername="guard", MasterUserPassword="a-long-password-1",
    )["DBCluster"]["DBClusterArn"]
    _, foreign_subnets, foreign_sg = zoned_network(ctx, stranger)
    foreign = docdb_cluster(ctx, stranger, foreign_subnets[:2], [foreign_sg])["DBClusterArn"]
    function(ctx, account, "docdb-consumer")
    lam = unvalidated(ctx, "lambda", account)
    basic = [{"Type": "BASIC_AUTH", "URI": SECRET.format(account=account)}]
    base = {"FunctionName": "docdb-consumer", "EventSourceArn": cluster["DBClusterArn"], "StartingPosition": "LATEST",
            "DocumentDBEventSourceConfig": {"DatabaseName": "orders"}, "SourceAccessConfigurations": basic}
    ipve = "InvalidParameterValueException"
    cases = [
        ("no DocumentDBEventSourceConfig", {"DocumentDBEventSourceConfig": None}, ipve),
        ("no DatabaseName", {"DocumentDBEventSourceConfig": {"CollectionName": "events"}}, ipve),
        ("a DatabaseName with a dot", {"DocumentDBEventSourceConfig": {"DatabaseName": "orders.v2"}}, ipve),
        ("a DatabaseName of 64 characters", {"DocumentDBEventSourceConfig": {"DatabaseName": "d" * 64}}, ipve),
        ("a system collection", {"DocumentDBEventSourceConfig": {"DatabaseName": "orders", "CollectionName": "system.views"}}, ipve),
        ("FullDocument Whole", {"DocumentDBEventSourceConfig": {"DatabaseName": "orders", "FullDocument": "Whole"}}, ipve),
        ("no SourceAccessConfigurations", {"SourceAccessConfigurations": None}, ipve),
        ("BASIC_AUTH not a secret ARN", {"SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "guard:password"}]}, ipve),
        ("a VIRTUAL_HOST", {"SourceAccessConfigurations": basic + [{"Type": "VIRTUAL_HOST", "URI": "/"}]}, ipve),
        ("no StartingPosition", {"StartingPosition": None}, ipve),
        ("StartingPosition OLDEST", {"StartingPosition": "OLDEST"}, ipve),
        ("AT_TIMESTAMP without a timestamp", {"StartingPosition": "AT_TIMESTAMP"}, ipve),
        ("AT_TIMESTAMP in the future", {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": time.time() + 86400}, ipve),
        ("a timestamp with LATEST", {"StartingPositionTimestamp": time.time() - 60}, ipve),
        ("ProvisionedPollerConfig", {"ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": 3}}, ipve),
        ("Queues", {"Queues": ["orders"]}, ipve),
        ("Topics", {"Topics": ["orders"]}, ipve),
        ("BatchSize 0", {"BatchSize": 0}, ipve),
        ("an Aurora cluster", {"EventSourceArn": aurora}, ipve),
        ("a cluster of another account", {"EventSourceArn": foreign}, ipve),
        ("a cluster that does not exist", {"EventSourceArn": f"arn:aws:rds:{REGION}:{account}:cluster:nope"}, ipve),
        ("a cluster ARN of another region", {"EventSourceArn": cluster["DBClusterArn"].replace(REGION, "eu-west-1")}, ipve),
        ("a DB instance ARN", {"EventSourceArn": f"arn:aws:rds:{REGION}:{account}:db:events-1"}, ipve),
    ]
    failures = _expect_refusals(lam, base, cases)
    assert not failures, failures
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    lam.create_event_source_mapping(**base)  # the base itself is valid


@check
def mq_docdb_request_log_params(ctx: Ctx) -> None:
    account = "100000000040"
    _, subnets, sg = zoned_network(ctx, account)
    broker = mq_broker(ctx, account, subnets[:1], [sg])
    cluster = docdb_cluster(ctx, account, subnets[:2], [sg])
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    mq = ctx.client("mq", account)
    broker_id = broker["BrokerId"]
    mq.describe_broker(BrokerId=broker_id)
    mq.update_broker(BrokerId=broker_id, SecurityGroups=[sg])
    mq.reboot_broker(BrokerId=broker_id)
    mq.list_brokers()
    client_error(lambda: mq.describe_broker(BrokerId="b-00000000-0000-0000-0000-000000000000"))
    docdb = ctx.client("docdb", account)
    docdb.describe_db_clusters(DBClusterIdentifier="events")
    docdb.describe_db_clusters(Filters=[{"Name": "engine", "Values": ["docdb"]},
                                        {"Name": "db-cluster-id", "Values": ["events", cluster["DBClusterArn"]]}])
    docdb.describe_db_clusters()
    docdb.describe_db_subnet_groups(DBSubnetGroupName="docdb-subnets")
    client_error(lambda: docdb.describe_db_clusters(DBClusterIdentifier="nope"))
    mq.delete_broker(BrokerId=broker_id)
    logged = [(r["service"], r["action"], r["params"]) for r in ctx.requests(account)]
    assert logged == [
        ("mq", "DescribeBroker", {"BrokerId": broker_id}),
        ("mq", "UpdateBroker", {"BrokerId": broker_id}),
        ("mq", "RebootBroker", {"BrokerId": broker_id}),
        ("mq", "ListBrokers", {}),
        ("mq", "DescribeBroker", {"BrokerId": "b-00000000-0000-0000-0000-000000000000"}),
        ("rds", "DescribeDBClusters", {"DBClusterIdentifier": "events"}),
        ("rds", "DescribeDBClusters", {"DBClusterIds": ["events", cluster["DBClusterArn"]]}),
        ("rds", "DescribeDBClusters", {}),
        ("rds", "DescribeDBSubnetGroups", {"DBSubnetGroupName": "docdb-subnets"}),
        ("rds", "DescribeDBClusters", {"DBClusterIdentifier": "nope"}),
        ("mq", "DeleteBroker", {"BrokerId": broker_id}),
    ], logged
    # faults answer in each service's protocol (REST-JSON for MQ, query XML for RDS)
    ctx.control("POST", "/_esm_guard/faults", [
        {"action": "DescribeBroker", "service": "mq", "account": account, "status": 403, "code": "ForbiddenException", "count": 1},
        {"action": "DescribeDBClusters", "service": "rds", "account": account, "status": 403, "code": "AccessDenied", "count": 1},
    ])
    assert client_error(lambda: mq.describe_broker(BrokerId=broker_id))[:2] == ("ForbiddenException", 403)
    assert client_error(lambda: docdb.describe_db_clusters(DBClusterIdentifier="events"))[:2] == ("AccessDenied", 403)
    assert docdb.describe_db_clusters(DBClusterIdentifier="events")["DBClusters"][0]["DBClusterArn"] == cluster["DBClusterArn"]


# --------------------------------------------------------------------------- multi-account: STS, Organizations, SQS

AUDIT_ROLE = "esm-guard-audit"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


def audit_role(ctx: Ctx, account: str, document: dict[str, Any], name: str = AUDIT_ROLE, **extra: Any) -> str:
    status, body = ctx.control("POST", "/_esm_guard/iam/role",
                               {"Account": account, "RoleName": name, "AssumeRolePolicyDocument": document, **extra})
    assert status == 200, body
    return body["Arn"]


def assumed_client(ctx: Ctx, service: str, credentials: dict[str, Any], token: Any = "same", validate: bool = True) -> Any:
    """A client signing with AssumeRole's credentials (token: "same", None or another string)."""
    return boto3.client(
        service,
        endpoint_url=ctx.url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"] if token == "same" else token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=validate,
                      connect_timeout=5, read_timeout=10),
    )


def unvalidated_client(ctx: Ctx, service: str, account: str) -> Any:
    return boto3.client(service, endpoint_url=ctx.url, region_name=REGION, aws_access_key_id=account,
                        aws_secret_access_key="secret",
                        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False))


def denied_message(caller: str, role_arn: str) -> str:
    return f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


@check
def sts_assume_role_cross_account(ctx: Ctx) -> None:
    hub, member, outsider = "100000000501", "100000000502", "100000000503"
    with_id = audit_role(ctx, member, trust(allow({"AWS": f"arn:aws:iam::{hub}:root"},
                                                  {"StringEquals": {"sts:ExternalId": "esm-guard-7"}})))
    open_arn = audit_role(ctx, member, trust(allow({"AWS": hub})), name="esm-guard-open")
    assert with_id == f"arn:aws:iam::{member}:role/{AUDIT_ROLE}", with_id
    sts = ctx.client("sts", hub)
    before = time.time()
    out = sts.assume_role(RoleArn=with_id, RoleSessionName="esm-guard", ExternalId="esm-guard-7")
    creds = out["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds["AccessKeyId"]), creds
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100, creds
    assert 3590 <= creds["Expiration"].timestamp() - before <= 3610, creds["Expiration"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{member}:assumed-role/{AUDIT_ROLE}/esm-guard", out
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA") and out["AssumedRoleUser"]["AssumedRoleId"].endswith(":esm-guard")
    # without an external id, a role that asks for none; an external id a role does not check is fine
    assert sts.assume_role(RoleArn=open_arn, RoleSessionName="esm-guard")["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert sts.assume_role(RoleArn=open_arn, RoleSessionName="esm-guard", ExternalId="whatever")["Credentials"]
    assert ctx.client("sts", hub).assume_role(RoleArn=with_id, RoleSessionName="s2", ExternalId="esm-guard-7", DurationSeconds=900)["Credentials"]
    root = f"arn:aws:iam::{hub}:root"
    missing = f"arn:aws:iam::{member}:role/no-such-role"
    for kwargs, caller, arn in [
        ({"RoleArn": missing}, root, missing),  # no such role
        ({"RoleArn": f"arn:aws:iam::100000000599:role/{AUDIT_ROLE}"}, root, f"arn:aws:iam::100000000599:role/{AUDIT_ROLE}"),
        ({"RoleArn": f"arn:aws:iam::{member}:role/esm/{AUDIT_ROLE}"}, root, f"arn:aws:iam::{member}:role/esm/{AUDIT_ROLE}"),
        ({"RoleArn": with_id, "ExternalId": "esm-guard-8"}, root, with_id),  # wrong external id
        ({"RoleArn": with_id}, root, with_id),  # no external id
    ]:
        assert client_error(lambda: sts.assume_role(RoleSessionName="esm-guard", **kwargs)) == (
            "AccessDenied", 403, denied_message(caller, arn)), kwargs
    # a caller the trust policy does not name
    other = ctx.client("sts", outsider)
    assert client_error(lambda: other.assume_role(RoleArn=open_arn, RoleSessionName="esm-guard")) == (
        "AccessDenied", 403, denied_message(f"arn:aws:iam::{outsider}:root", open_arn))
    assert client_error(lambda: other.assume_role(RoleArn=with_id, RoleSessionName="esm-guard", ExternalId="esm-guard-7"))[:2] == (
        "AccessDenied", 403)
    # the log: the hub's AssumeRole calls, the role and whether an external id went along
    logged = [r["params"] for r in ctx.requests(hub) if r["action"] == "AssumeRole"]
    assert logged[0] == {"RoleArn": with_id, "HasExternalId": True}, logged
    assert logged[1] == {"RoleArn": open_arn, "HasExternalId": False}, logged
    assert all("esm-guard-7" not in json.dumps(p) for p in logged), logged
    assert {r["account"] for r in ctx.requests(hub)} == {hub}


@check
def sts_assumed_credentials_read_the_members_account(ctx: Ctx) -> None:
    hub, member = "100000000511", "100000000512"
    role_arn = audit_role(ctx, member, trust(allow({"AWS": f"arn:aws:iam::{hub}:root"})))
    hub_vpc = ctx.client("ec2", hub).create_vpc(CidrBlock="10.51.0.0/16")["Vpc"]["VpcId"]
    member_vpc = ctx.client("ec2", member).create_vpc(CidrBlock="10.52.0.0/16")["Vpc"]["VpcId"]
    creds = ctx.client("sts", hub).assume_role(RoleArn=role_arn, RoleSessionName="esm-guard")["Credentials"]
    ctx.control("DELETE", f"/_esm_guard/requests?account={member}")
    ec2 = assumed_client(ctx, "ec2", creds)
    vpcs = ec2.describe_vpcs()["Vpcs"]
    ids = {v["VpcId"] for v in vpcs}
    assert member_vpc in ids and hub_vpc not in ids, ids
    assert {v["OwnerId"] for v in vpcs} == {member}, vpcs
    identity = assumed_client(ctx, "sts", creds).get_caller_identity()
    assert identity["Account"] == member, identity
    assert identity["Arn"] == f"arn:aws:sts::{member}:assumed-role/{AUDIT_ROLE}/esm-guard", identity
    assert assumed_client(ctx, "lambda", creds).list_functions()["Functions"] == []
    logged = ctx.requests(member)
    assert [(r["service"], r["action"], r["account"]) for r in logged] == [
        ("ec2", "DescribeVpcs", member), ("sts", "GetCallerIdentity", member), ("lambda", "ListFunctions", member)], logged
    status, only_ec2 = ctx.control("GET", f"/_esm_guard/requests?account={member}&service=ec2")
    assert status == 200 and [r["action"] for r in only_ec2] == ["DescribeVpcs"], only_ec2
    assert not any(r["action"] in ("DescribeVpcs", "ListFunctions") for r in ctx.requests(hub))
    # faults aimed at the member's account hit requests signed with the assumed credentials
    ctx.control("POST", "/_esm_guard/faults", {"action": "DescribeVpcs", "account": member, "status": 503, "count": 1})
    assert client_error(lambda: ec2.describe_vpcs())[:2] == ("ServiceUnavailable", 503)
    # the session token must go along, and be the one issued with the key
    assert client_error(lambda: assumed_client(ctx, "ec2", creds, token=None).describe_vpcs()) == (
        "AuthFailure", 401, "AWS was not able to validate the provided access credentials")
    assert client_error(lambda: assumed_client(ctx, "sts", creds, token="FQoGZXIvYXdzEBYaDforged").get_caller_identity()) == (
        "InvalidClientTokenId", 403, "The security token included in the request is invalid.")
    forged = dict(creds, AccessKeyId="ASIAAAAAAAAAAAAAAAAA")
    assert client_error(lambda: assumed_client(ctx, "lambda", forged).list_functions())[:2] == ("UnrecognizedClientException", 403)
    # expired: refused in each protocol
    status, body = ctx.control("POST", "/_esm_guard/sts/expire", {"AccessKeyId": creds["AccessKeyId"]})
    assert status == 200 and body["AccessKeyId"] == creds["AccessKeyId"], body
    assert ctx.control("POST", "/_esm_guard/sts/expire", {"AccessKeyId": "ASIAAAAAAAAAAAAAAAAA"})[0] == 404
    assert client_error(lambda: ec2.describe_vpcs()) == ("RequestExpired", 400, "Request has expired.")
    assert client_error(lambda: assumed_client(ctx, "sts", creds).get_caller_identity()) == (
        "ExpiredToken", 403, "The security token included in the request is expired")
    assert client_error(lambda: assumed_client(ctx, "lambda", creds).list_functions())[:2] == ("ExpiredTokenException", 403)
    assert client_error(lambda: assumed_client(ctx, "dynamodb", creds).list_tables())[:2] == ("ExpiredTokenException", 400)
    # a new session works again
    fresh = ctx.client("sts", hub).assume_role(RoleArn=role_arn, RoleSessionName="esm-guard")["Credentials"]
    assert assumed_client(ctx, "ec2", fresh).describe_vpcs()["Vpcs"][0]["OwnerId"] == member


@check
def sts_trust_policy_principals_and_conditions(ctx: Ctx) -> None:
    hub, member, other = "100000000521", "100000000522", "100000000523"
    # the hub function's execution role, under a path; the hub assumes it the way Lambda would
    fn_role = audit_role(ctx, hub, trust(allow({"AWS": hub})), name="hub-fn", Path="/esm/")
    assert fn_role == f"arn:aws:iam::{hub}:role/esm/hub-fn", fn_role
    session = ctx.client("sts", hub).assume_role(RoleArn=fn_role, RoleSessionName="hub-fn-session")["Credentials"]
    hub_sts = assumed_client(ctx, "sts", session)
    session_arn = f"arn:aws:sts::{hub}:assumed-role/hub-fn/hub-fn-session"
    by_role_arn = audit_role(ctx, member, trust(allow({"AWS": [f"arn:aws:iam::{other}:root", fn_role]})), name="by-role")
    arn_like = audit_role(ctx, member, trust(allow({"AWS": f"arn:aws:iam::{hub}:root"},
                                                   {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{hub}:role/esm/*"}})), name="arn-like")
    string_like = audit_role(ctx, member, trust(allow({"AWS": f"arn:aws:iam::{hub}:root"},
                                                      {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/esm/hub-*"},
                                                       "StringEquals": {"sts:ExternalId": ["a-1", "b-2"]}})), name="string-like")
    denied = audit_role(ctx, member, trust(allow("*"), allow({"AWS": f"arn:aws:iam::{hub}:root"},
                                                             {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{hub}:role/esm/*"}}, "Deny")),
                        name="deny-wins")
    # the role's session is let in by the role ARN and by aws:PrincipalArn (the role ARN, path included)
    for arn in (by_role_arn, arn_like):
        assert hub_sts.assume_role(RoleArn=arn, RoleSessionName="esm-guard")["AssumedRoleUser"]["Arn"].startswith(
            f"arn:aws:sts::{member}:assumed-role/")
    assert hub_sts.assume_role(RoleArn=string_like, RoleSessionName="esm-guard", ExternalId="b-2")["Credentials"]
    assert client_error(lambda: hub_sts.assume_role(RoleArn=string_like, RoleSessionName="esm-guard", ExternalId="c-3")) == (
        "AccessDenied", 403, denied_message(session_arn, string_like))
    assert client_error(lambda: hub_sts.assume_role(RoleArn=denied, RoleSessionName="esm-guard"))[:2] == ("AccessDenied", 403)
    # the hub's root is not that role: refused where the role is required
    root_sts = ctx.client("sts", hub)
    for arn in (by_role_arn, arn_like):
        assert client_error(lambda: root_sts.assume_role(RoleArn=arn, RoleSessionName="esm-guard")) == (
            "AccessDenied", 403, denied_message(f"arn:aws:iam::{hub}:root", arn))
    assert root_sts.assume_role(RoleArn=denied, RoleSessionName="esm-guard")["Credentials"]  # "*" and no Deny for root
    # role chaining: at most one hour
    code, status, message = client_error(lambda: hub_sts.assume_role(RoleArn=by_role_arn, RoleSessionName="esm-guard",
                                                                     DurationSeconds=3601))
    assert (code, status) == ("ValidationError", 400) and "role chaining" in message, message
    # calls signed with the hub-fn session are the hub's (the role's account), not the member's
    assert [r["account"] for r in ctx.requests(member) if r["action"] == "AssumeRole"] == []
    assert sum(r["action"] == "AssumeRole" for r in ctx.requests(hub)) >= 9
    # aws:PrincipalOrgID: the caller's organization
    status, body = ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": hub, "Id": other, "Name": "other"})
    assert status == 200, body
    org_only = audit_role(ctx, member, trust(allow("*", {"StringEquals": {"aws:PrincipalOrgID": body["OrganizationId"]}})), name="org-only")
    assert ctx.client("sts", other).assume_role(RoleArn=org_only, RoleSessionName="esm-guard")["Credentials"]
    assert hub_sts.assume_role(RoleArn=org_only, RoleSessionName="esm-guard")["Credentials"]
    assert client_error(lambda: ctx.client("sts", member).assume_role(RoleArn=org_only, RoleSessionName="esm-guard"))[:2] == (
        "AccessDenied", 403)
    # replacing the trust policy through the control takes effect at once
    audit_role(ctx, member, trust(allow({"AWS": other})), name="by-role")
    assert client_error(lambda: hub_sts.assume_role(RoleArn=by_role_arn, RoleSessionName="esm-guard"))[:2] == ("AccessDenied", 403)
    # IAM's own API makes roles AssumeRole honours too
    iam = ctx.client("iam", member)
    api_role = iam.create_role(RoleName="api-made", AssumeRolePolicyDocument=json.dumps(trust(allow({"AWS": hub}))))["Role"]["Arn"]
    assert root_sts.assume_role(RoleArn=api_role, RoleSessionName="esm-guard")["Credentials"]
    iam.update_assume_role_policy(RoleName="api-made", PolicyDocument=json.dumps(trust(allow({"AWS": other}))))
    assert client_error(lambda: root_sts.assume_role(RoleArn=api_role, RoleSessionName="esm-guard"))[:2] == ("AccessDenied", 403)


@check
def sts_assume_role_validation(ctx: Ctx) -> None:
    hub, member = "100000000531", "100000000532"
    role_arn = audit_role(ctx, member, trust(allow({"AWS": hub})))
    long_role = audit_role(ctx, member, trust(allow({"AWS": hub})), name="long", MaxSessionDuration=14400)
    sts = unvalidated_client(ctx, "sts", hub)

    def refused(**kwargs: Any) -> tuple[str, int, str]:
        return client_error(lambda: sts.assume_role(**{"RoleArn": role_arn, "RoleSessionName": "esm-guard", **kwargs}))

    assert refused(RoleSessionName="a") == ("ValidationError", 400, "1 validation error detected: Value 'a' at 'roleSessionName' "
                                            "failed to satisfy constraint: Member must have length greater than or equal to 2 "
                                            "and less than or equal to 64")
    code, status, message = refused(RoleSessionName="esm guard!")
    assert (code, status) == ("ValidationError", 400) and "regular expression pattern" in message, message
    assert refused(RoleSessionName="x" * 65)[:2] == ("ValidationError", 400)
    assert refused(DurationSeconds=899)[2].endswith("Member must have value greater than or equal to 900")
    assert refused(DurationSeconds=43201)[2].endswith("Member must have value less than or equal to 43200")
    assert refused(ExternalId="x")[:2] == ("ValidationError", 400)
    assert refused(ExternalId="has space")[:2] == ("ValidationError", 400)
    assert refused(RoleArn="not-an-arn-at-all-really") == ("ValidationError", 400, "not-an-arn-at-all-really is invalid")
    two = refused(RoleSessionName="a", DurationSeconds=1)[2]
    assert two.startswith("2 validation errors detected: "), two
    assert refused(DurationSeconds=7200) == ("ValidationError", 400,
                                             "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    # the edges are accepted; a session name of every allowed character
    for seconds in (900, 3600):
        assert sts.assume_role(RoleArn=role_arn, RoleSessionName="Ab0_+=,.@-", DurationSeconds=seconds)["Credentials"]
    before = time.time()
    creds = sts.assume_role(RoleArn=long_role, RoleSessionName="esm-guard", DurationSeconds=14400)["Credentials"]
    assert 14390 <= creds["Expiration"].timestamp() - before <= 14410, creds
    assert refused(RoleArn=long_role, DurationSeconds=14401)[2].endswith("exceeds the MaxSessionDuration set for this role.")
    # the role control's own checks
    assert ctx.control("POST", "/_esm_guard/iam/role", {"Account": member, "RoleName": "x", "Trust": {}})[0] == 400
    assert ctx.control("POST", "/_esm_guard/iam/role", {"Account": member, "RoleName": "x", "AssumeRolePolicyDocument": "{"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/iam/role", {"Account": member, "RoleName": "x", "MaxSessionDuration": 60})[0] == 400
    assert ctx.control("POST", "/_esm_guard/iam/role", {"Account": member, "RoleName": AUDIT_ROLE, "Path": "/other/"})[0] == 400
    status, body = ctx.control("POST", "/_esm_guard/iam/role", {"Account": member, "RoleName": "plain-fn-role"})
    assert status == 200 and body["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}, body
    assert body["MaxSessionDuration"] == 3600 and body["Path"] == "/", body


@check
def organizations_list_accounts(ctx: Ctx) -> None:
    hub, members, outsider = "100000000541", [f"1000000005{n}" for n in range(50, 75)], "100000000549"
    for n, member in enumerate(members[:2]):
        status, body = ctx.control("POST", "/_esm_guard/organizations/account",
                                   {"ManagementAccount": hub, "Id": member, "Name": f"member-{n}"})
        assert status == 200, body
        assert body["Id"] == member and body["State"] == "ACTIVE" and body["JoinedMethod"] == "INVITED", body
        assert "Status" not in body, body  # retired by AWS on 2026-09-09
    org = ctx.client("organizations", hub)
    accounts = org.list_accounts()["Accounts"]
    assert not any("Status" in a for a in accounts), accounts
    assert [(a["Id"], a["Name"], a["State"]) for a in accounts] == [
        (hub, "master", "ACTIVE"), (members[0], "member-0", "ACTIVE"), (members[1], "member-1", "ACTIVE")], accounts
    assert accounts[1]["Arn"].startswith(f"arn:aws:organizations::{hub}:account/o-") and accounts[1]["Arn"].endswith(f"/{members[0]}")
    assert accounts[1]["Email"] == f"aws+{members[0]}@example.com"
    described = org.describe_organization()["Organization"]
    assert described["MasterAccountId"] == hub, described
    assert ctx.client("organizations", members[0]).describe_organization()["Organization"]["Id"] == described["Id"]
    # renaming, suspending; the management account's own name
    ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": hub, "Id": hub, "Name": "hub"})
    ctx.control("POST", "/_esm_guard/organizations/account",
                {"ManagementAccount": hub, "Id": members[1], "Name": "member-1", "Status": "SUSPENDED"})
    accounts = org.list_accounts()["Accounts"]
    assert [(a["Name"], a["State"]) for a in accounts] == [("hub", "ACTIVE"), ("member-0", "ACTIVE"), ("member-1", "SUSPENDED")]
    # DescribeAccount: the same callers, one account of the organization
    one = org.describe_account(AccountId=members[1])["Account"]
    assert (one["Id"], one["Name"], one["State"]) == (members[1], "member-1", "SUSPENDED") and "Status" not in one, one
    assert client_error(lambda: org.describe_account(AccountId=outsider))[:2] == ("AccountNotFoundException", 400)
    assert client_error(lambda: ctx.client("organizations", members[0]).describe_account(AccountId=hub)) == (
        "AccessDeniedException", 400, "You don't have permissions to access this resource.")
    assert client_error(lambda: ctx.client("organizations", outsider).describe_account(AccountId=hub))[:2] == (
        "AWSOrganizationsNotInUseException", 400)
    # pages of 20 by default, MaxResults 1-20
    for n, member in enumerate(members[2:], start=2):
        ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": hub, "Id": member, "Name": f"member-{n}"})
    first = org.list_accounts()
    assert len(first["Accounts"]) == 20 and first.get("NextToken"), len(first["Accounts"])
    second = org.list_accounts(NextToken=first["NextToken"])
    assert len(second["Accounts"]) == 6 and "NextToken" not in second, second.keys()
    assert [a["Id"] for a in first["Accounts"] + second["Accounts"]] == [hub, *members]
    paged = [a["Id"] for page in org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 7}) for a in page["Accounts"]]
    assert paged == [hub, *members], paged
    raw = unvalidated_client(ctx, "organizations", hub)
    assert client_error(lambda: raw.list_accounts(MaxResults=21))[:2] == ("InvalidInputException", 400)
    assert client_error(lambda: raw.list_accounts(MaxResults=0))[:2] == ("InvalidInputException", 400)
    assert client_error(lambda: org.list_accounts(NextToken="garbage"))[:2] == ("InvalidInputException", 400)
    # only the management account (or a delegated administrator) lists them
    assert client_error(lambda: ctx.client("organizations", members[0]).list_accounts()) == (
        "AccessDeniedException", 400, "You don't have permissions to access this resource.")
    assert client_error(lambda: ctx.client("organizations", outsider).list_accounts()) == (
        "AWSOrganizationsNotInUseException", 400, "Your account is not a member of an organization.")
    org.register_delegated_administrator(AccountId=members[0], ServicePrincipal="guardduty.amazonaws.com")
    assert len(ctx.client("organizations", members[0]).list_accounts(MaxResults=20)["Accounts"]) == 20
    # the control's refusals
    assert ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": outsider, "Id": members[2], "Name": "x"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": members[3], "Id": outsider, "Name": "x"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": hub, "Id": "12345", "Name": "x"})[0] == 400
    assert ctx.control("POST", "/_esm_guard/organizations/account", {"ManagementAccount": hub, "Id": outsider, "Name": "x", "Status": "GONE"})[0] == 400
    # the listed ids are emulator accounts: their keys and roles select them
    role_arn = audit_role(ctx, members[4], trust(allow({"AWS": f"arn:aws:iam::{hub}:root"})))
    vpc = ctx.client("ec2", members[4]).create_vpc(CidrBlock="10.54.0.0/16")["Vpc"]["VpcId"]
    creds = ctx.client("sts", hub).assume_role(RoleArn=role_arn, RoleSessionName="esm-guard")["Credentials"]
    assert vpc in {v["VpcId"] for v in assumed_client(ctx, "ec2", creds).describe_vpcs()["Vpcs"]}
    assert [r["params"] for r in ctx.requests(hub) if r["action"] == "ListAccounts"][0] == {}


@check
def organizations_through_the_api(ctx: Ctx) -> None:
    management = "100000000581"
    org = ctx.client("organizations", management)
    org.create_organization(FeatureSet="ALL")
    status = org.create_account(AccountName="made", Email="made@example.com")["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status  # moto: at once (AWS: IN_PROGRESS, then SUCCEEDED)
    made = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    assert re.fullmatch(r"\d{12}", made), made
    listed = {a["Id"]: (a["Name"], a["State"]) for a in org.list_accounts()["Accounts"]}
    assert listed[made] == ("made", "ACTIVE"), listed
    # the random id is an emulator account like any other; OrganizationAccountAccessRole trusts the management account
    creds = ctx.client("sts", management).assume_role(
        RoleArn=f"arn:aws:iam::{made}:role/OrganizationAccountAccessRole", RoleSessionName="esm-guard")["Credentials"]
    assert assumed_client(ctx, "sts", creds).get_caller_identity()["Account"] == made
    assert ctx.client("sts", made).get_caller_identity()["Account"] == made


def batch_error(call: Callable[[], Any]) -> tuple[str, int, str]:
    """(the awsJson __type code, HTTP status, x-amzn-query-error code) of a refused SQS call."""
    try:
        call()
    except botocore.exceptions.ClientError as err:
        response = err.response
        return (response["Error"].get("QueryErrorCode", ""), response["ResponseMetadata"]["HTTPStatusCode"],
                response["Error"]["Code"])
    raise AssertionError("call did not fail")


@check
def sqs_send_message_batch_limits(ctx: Ctx) -> None:
    account = "100000000591"
    sqs = ctx.client("sqs", account)
    url = sqs.create_queue(QueueName="esm-guard-sweep")["QueueUrl"]
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    entry = lambda i, body="{}": {"Id": f"e-{i}", "MessageBody": body}  # noqa: E731
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=[entry(i) for i in range(10)])["Successful"]) == 10
    assert batch_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[entry(i) for i in range(11)])) == (
        "TooManyEntriesInBatchRequest", 400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
    assert batch_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[entry(1), entry(2), entry(1)])) == (
        "BatchEntryIdsNotDistinct", 400, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
    assert batch_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "bad id", "MessageBody": "x"}]))[:2] == (
        "InvalidBatchEntryId", 400)
    # 1 MiB in UTF-8 bytes: 8 bodies of 70000 two-byte characters (560000 characters, 1120000 bytes)
    wide = [entry(i, "é" * 70000) for i in range(8)]
    assert batch_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=wide)) == (
        "BatchRequestTooLong", 400, "AWS.SimpleQueueService.BatchRequestTooLong")
    # message attributes count too
    near = [entry(i, "x" * 104857) for i in range(10)]  # 1048570 bytes
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=near)["Successful"]) == 10
    tagged = [dict(e, MessageAttributes={"kind": {"DataType": "String", "StringValue": "sweep"}}) for e in near]
    assert batch_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=tagged))[:2] == ("BatchRequestTooLong", 400)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "21", attributes  # nothing of a refused batch was sent
    logged = [(r["action"], r["params"]) for r in ctx.requests(account)]
    assert logged[0] == ("SendMessageBatch", {"QueueUrl": url}), logged
    assert logged[-3:] == [("SendMessageBatch", {"QueueUrl": url}), ("SendMessage", {"QueueUrl": url}),
                           ("GetQueueAttributes", {})], logged


@check
def exits_when_stdin_closes(ctx: Ctx) -> None:
    proc, url = start_emulator()
    try:
        assert ctx.control("GET", "/_esm_guard/health")[1] == {"ok": True}
        assert Ctx(url).control("GET", "/_esm_guard/health")[1] == {"ok": True}
        proc.stdin.close()  # type: ignore[union-attr]
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- main


def main() -> int:
    started = time.monotonic()
    proc, url = start_emulator()
    print(f"emulator at {url} (READY after {time.monotonic() - started:.2f}s)", flush=True)
    passed = failed = 0
    try:
        passed, failed = run_checks(CHECKS, Ctx(url))
    finally:
        code = stop(proc)
        if code != 0:
            failed += 1
            print(f"FAIL emulator exit status {code} on stdin EOF", flush=True)
    print(f"total {time.monotonic() - started:.2f}s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
