#!/usr/bin/env python3
"""Checks template.yaml against the event samples in events/ and the AWS calls in src/.

Run from the repository root with the project's interpreter (after scripts/setup):

    .venv/bin/python scripts/check_template.py

Prints one line per check (PASS/FAIL; INFO lines report facts and are not counted) and ends
with `N passed, M failed`. Exit status 0 when nothing failed, 1 otherwise.

What it checks:
  * cfn-lint (the venv's) has nothing to say about template.yaml;
  * the EventBridge rule patterns, read from template.yaml, accept every CloudTrail sample in
    events/handled/ and none in events/ignored/; the scheduled samples (aws.scheduler and
    aws.events "Scheduled Event") match no rule: the ScheduleV2 event serves them. Matching is
    done by moto in-process (TestEventPattern when moto implements it, else a rule per pattern
    with an SQS target and PutEvents), after negative controls prove that the engine really
    implements `prefix` and `exists: false`;
  * the IAM actions granted by GuardFunction's Policies (every Fn::If branch) equal the AWS
    calls made in src/ (convention: `ec2.describe_subnets()`, `kafka.list_clusters_v2()`: a
    fluent call on a client variable named after its service), apart from GRANTED_NOT_CALLED;
  * no action has a wildcard, Resource "*" only where the action has no resource-level
    permissions, and EC2 write actions exist only when RemediationMode is apply.

Rendering the function role's policy (no check runs then):

    .venv/bin/python scripts/check_template.py --render-policy MODE [--account ID] [--region R] [--partition P]

MODE is off, plan or apply; ID defaults to 123456789012 (12 digits), R to us-east-1, P to aws.
Prints one JSON document on stdout and nothing else: `{"Statement": [...]}`, the statements
of GuardFunction's Policies in template order (every inline policy document's, concatenated;
their Version is not repeated), for RemediationMode=MODE and every other parameter at its
Default. Fn::If is resolved with the template's Conditions and AWS::NoValue dropped, as in
the gating check; statements' Condition blocks are kept as they are, rendered like the rest.
Rendered everywhere:
  * Ref/${} of AWS::Partition, AWS::Region, AWS::AccountId: P, R, ID; AWS::URLSuffix:
    amazonaws.com (amazonaws.com.cn in aws-cn); AWS::StackName: esm-guard;
  * Ref/${} of a parameter: its value (MODE or the Default), as a string;
  * Ref and Fn::GetAtt of the template's resources (NAME is the fake name: StateTable
    esm-guard-state, AlertTopic esm-guard-alerts, AlertKey alert-key, any other resource
    "esm-guard-" + its logical id in kebab case, e.g. esm-guard-failed-events-queue):
      AWS::DynamoDB::Table     Ref NAME; Arn arn:P:dynamodb:R:ID:table/NAME;
                               StreamArn .../table/NAME/stream/2000-01-01T00:00:00.000
                               (so !GetAtt StateTable.Arn is arn:P:dynamodb:R:ID:table/esm-guard-state)
      AWS::SNS::Topic          Ref and TopicArn arn:P:sns:R:ID:NAME; TopicName NAME
                               (so !Ref AlertTopic is arn:P:sns:R:ID:esm-guard-alerts)
      AWS::KMS::Key            Ref and KeyId NAME; Arn arn:P:kms:R:ID:key/NAME
                               (so !GetAtt AlertKey.Arn is arn:P:kms:R:ID:key/alert-key)
      AWS::KMS::Alias          Ref alias/NAME
      AWS::SQS::Queue          Ref and QueueUrl https://sqs.R.URLSUFFIX/ID/NAME; Arn arn:P:sqs:R:ID:NAME; QueueName NAME
      AWS::Logs::LogGroup      Ref NAME; Arn arn:P:logs:R:ID:log-group:NAME:*
      AWS::IAM::Role           Ref NAME; Arn arn:P:iam::ID:role/NAME; RoleId AROAESMGUARDFAKEROLEID
      AWS::Serverless::Function, AWS::Lambda::Function
                               Ref NAME; Arn arn:P:lambda:R:ID:function:NAME
      AWS::S3::Bucket          Ref NAME; Arn arn:P:s3:::NAME
      any other AWS::Svc::Kind Ref NAME; an attribute ending in "Arn": arn:P:svc:R:ID:kind/NAME
                               (svc lower case, Kind in kebab case)
  * Fn::Sub (string or [string, variables]; ${Res.Attr} is Fn::GetAtt, ${!x} stays ${x}),
    Fn::Join.
Anything else (another intrinsic function, another attribute, an unknown name, a Policies
entry that is not an inline policy document) exits 1 with the reason on stderr; a bad MODE,
account, region or partition exits 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

TEMPLATE = Path("template.yaml")
EVENTS = Path("events")
SRC = Path("src")
FUNCTION = "GuardFunction"

# Services whose SDK calls src/ makes, by client variable name (= IAM service prefix).
SERVICES = ("ec2", "lambda", "kafka", "sns", "dynamodb", "scheduler", "mq", "rds")
# Crates whose client variable is named for the IAM service it calls: aws-sdk-docdb speaks
# the rds API (its IAM actions are rds:...).
CRATE_SERVICES = {"docdb": "rds"}

# Granted without being called by the code: explain every entry.
GRANTED_NOT_CALLED = {
    # AlertTopic is SSE-KMS encrypted: on sns:Publish, SNS calls KMS with the publisher's
    # credentials, so the publisher needs these on the topic key (kms:ViaService sns).
    "kms:GenerateDataKey": "SNS uses it on Publish to the SSE-KMS topic",
    "kms:Decrypt": "SNS uses it on Publish to the SSE-KMS topic",
    # Tag-on-create: CreateVpcEndpoint with TagSpecifications (esm-guard:managed=true) is also
    # authorized as ec2:CreateTags (condition ec2:CreateAction = CreateVpcEndpoint); the code
    # never calls CreateTags itself.
    "ec2:CreateTags": "authorizes the TagSpecifications of CreateVpcEndpoint",
    # CreateSchedule passes FollowUpRole to Scheduler (Target.RoleArn): IAM authorizes that
    # as iam:PassRole (condition iam:PassedToService = scheduler.amazonaws.com).
    "iam:PassRole": "authorizes the Target.RoleArn of scheduler:CreateSchedule",
}

# Actions without resource-level permissions: the only ones allowed with Resource "*".
NO_RESOURCE_LEVEL = {"lambda:ListEventSourceMappings", "kafka:ListClustersV2"}
NO_RESOURCE_LEVEL_PREFIXES = ("ec2:Describe",)

# Exactly what RemediationMode=apply may add.
REMEDIATION_WRITES = {
    "ec2:CreateVpcEndpoint",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:CreateTags",
}

# Methods on a client value that are not API operations.
NOT_OPERATIONS = {"clone", "config", "as_ref", "to_owned", "into", "borrow"}

ENVELOPE_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
CLOUDTRAIL_FIELDS = (
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "requestID",
    "eventID",
    "readOnly",
    "eventType",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
)
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
SCHEDULED_SOURCES = ("aws.scheduler", "aws.events")


# ---- reporting ----------------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, name: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = f"{'PASS' if ok else 'FAIL'} {name}"
        if detail:
            line += f": {detail}"
        print(line, flush=True)
        return ok

    def info(self, text: str) -> None:
        print(f"INFO {text}", flush=True)


# ---- the template -------------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !If, !GetAtt, ...) as long form.

    Plain YAML 1.1 scalars keep their YAML types (an unquoted `off` is the boolean false), as
    they would for any YAML tool reading the file: that is a bug in a template, and shows here.
    """
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def construct(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", construct)
    with path.open() as f:
        return yaml.load(f, Loader=CfnLoader)


UNKNOWN = None


def eval_condition(node: Any, params: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """Evaluates a condition expression (Fn::Equals/Not/And/Or, Condition, Ref of parameters).

    Three-valued: a parameter missing from `params` is unknown (None), and so is every
    expression that depends on it (Kleene logic: False and unknown is False).
    """
    if isinstance(node, dict) and len(node) == 1:
        (key, arg), = node.items()
        if key == "Ref":
            return params.get(arg, UNKNOWN)
        if key == "Condition":
            return eval_condition(conditions[arg], params, conditions)
        if key == "Fn::Equals":
            a, b = (eval_condition(x, params, conditions) for x in arg)
            return UNKNOWN if a is UNKNOWN or b is UNKNOWN else str(a) == str(b)
        if key == "Fn::Not":
            v = eval_condition(arg[0], params, conditions)
            return UNKNOWN if v is UNKNOWN else not v
        if key in ("Fn::And", "Fn::Or"):
            values = [eval_condition(x, params, conditions) for x in arg]
            decisive = key == "Fn::Or"  # True decides an Or, False decides an And
            if decisive in values:
                return decisive
            return UNKNOWN if UNKNOWN in values else not decisive
        raise ValueError(f"unsupported in a condition: {key}")
    return node


NO_VALUE = object()


def resolve_ifs(node: Any, truth: Callable[[str], bool | None] | None) -> Any:
    """Resolves Fn::If with `truth` (condition name -> True, False or None) and drops AWS::NoValue.

    Where the truth is None (unknown), or with truth=None altogether, both branches are kept
    (spliced into the enclosing list) so that every possible grant is seen.
    """
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] == "AWS::NoValue":
            return NO_VALUE
        if set(node) == {"Fn::If"}:
            cond, yes, no = node["Fn::If"]
            value = None if truth is None else truth(cond)
            if value is None:
                return BothBranches([resolve_ifs(yes, truth), resolve_ifs(no, truth)])
            return resolve_ifs(yes if value else no, truth)
        out = {}
        for k, v in node.items():
            r = resolve_ifs(v, truth)
            if r is not NO_VALUE:
                out[k] = r
        return out
    if isinstance(node, list):
        out_list = []
        for v in node:
            r = resolve_ifs(v, truth)
            if r is NO_VALUE:
                continue
            if isinstance(r, BothBranches):
                out_list.extend(x for x in r if x is not NO_VALUE)
            else:
                out_list.append(r)
        return out_list
    return node


class BothBranches(list):
    """Both branches of an Fn::If inside a list, spliced into it."""


def statements(policies: Any) -> Iterable[dict[str, Any]]:
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, BothBranches):
            for p in policy:
                yield from statements(p)
            continue
        if not isinstance(policy, dict):
            continue  # a SAM policy template name or managed policy: not used here
        stmts = policy.get("Statement", [])
        for s in stmts if isinstance(stmts, list) else [stmts]:
            if isinstance(s, BothBranches):
                yield from (x for x in s if isinstance(x, dict))
            elif isinstance(s, dict):
                yield s


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(stmts: Iterable[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for s in stmts:
        if s.get("Effect") == "Allow":
            actions.update(str(a) for a in as_list(s.get("Action", [])))
    return actions


def function_policies(template: dict[str, Any]) -> Any:
    return template["Resources"][FUNCTION]["Properties"].get("Policies", [])


def parameter_values(template: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    params = {name: p.get("Default", "") for name, p in template.get("Parameters", {}).items()}
    params.update(overrides)
    params.update({"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"})
    return params


# ---- the code -----------------------------------------------------------------------------------


def blank(text: str) -> str:
    return "".join(ch if ch == "\n" else " " for ch in text)


def strip_rust_comments(text: str) -> str:
    """Blanks out comments and string literals (keeping line breaks, so line numbers hold)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
            continue
        m = re.match(r'b?r(#*)"', text[i:i + 300]) if c in "rb" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if m:
            end = text.find('"' + m.group(1), i + m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(blank(text[i:j]))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i:j + 1]))
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|[^\\'])'", text[i:i + 12])
            if m:  # a char literal; otherwise a lifetime
                out.append(m.group(0))
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


CALL = re.compile(r"\b(" + "|".join(SERVICES) + r")\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")


def iam_action(service: str, operation: str) -> str:
    return f"{service}:" + "".join(part[:1].upper() + part[1:] for part in operation.split("_"))


def code_calls(src: Path) -> dict[str, list[str]]:
    """IAM action -> places (file:line) where src/ calls it."""
    calls: dict[str, list[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        text = strip_rust_comments(path.read_text(encoding="utf-8"))  # and strings
        for m in CALL.finditer(text):
            service, operation = m.groups()
            if operation in NOT_OPERATIONS:
                continue
            line = text.count("\n", 0, m.start(1)) + 1
            calls.setdefault(iam_action(service, operation), []).append(f"{path}:{line}")
    return calls


# ---- events -------------------------------------------------------------------------------------


def load_events(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(str(p), json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


def is_scheduled(event: dict[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event" and event.get("source") in SCHEDULED_SOURCES


def envelope_problems(event: dict[str, Any]) -> list[str]:
    problems = [f"no {k}" for k in ENVELOPE_FIELDS if k not in event]
    if event.get("account") != "123456789012":
        problems.append("account is not 123456789012")
    if event.get("region") != "us-east-1":
        problems.append("region is not us-east-1")
    if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        d = event.get("detail", {})
        problems += [f"no detail.{k}" for k in CLOUDTRAIL_FIELDS if k not in d]
        if d.get("eventTime") != event.get("time"):
            problems.append("detail.eventTime differs from time")
        if d.get("awsRegion") != event.get("region"):
            problems.append("detail.awsRegion differs from region")
        if d.get("recipientAccountId") != event.get("account"):
            problems.append("detail.recipientAccountId differs from account")
        if event.get("source") != "aws." + str(d.get("eventSource", "")).split(".")[0]:
            problems.append("source does not match detail.eventSource")
    return problems


class PatternEngine:
    """moto's EventBridge pattern matching, in-process.

    moto 5.2.5 declares TestEventPattern but answers it with an empty body (no `Result`), so
    by default the engine goes through moto's real routing instead: one rule per pattern on a
    private bus, an SQS queue as its target, PutEvents, and a look at which queues got it.
    That path matches only on what PutEvents carries (source, detail-type, detail, resources);
    patterns on other envelope fields are refused rather than judged wrongly.
    """

    BUS = "esm-guard-check"
    ROUTED_KEYS = {"source", "detail-type", "detail", "resources"}

    def __init__(self) -> None:
        for var in list(os.environ):
            if var.startswith("AWS_ENDPOINT_URL") or var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                del os.environ[var]
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        import boto3
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        self.events = boto3.client("events", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.events.create_event_bus(Name=self.BUS)
        self._queues: dict[str, str] = {}  # pattern json -> queue url
        self.native = self._test_event_pattern_works()
        self.name = "moto TestEventPattern" if self.native else "moto PutRule + SQS target + PutEvents"

    def close(self) -> None:
        self._mock.stop()

    def _test_event_pattern_works(self) -> bool:
        event = {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "probe",
            "source": "esm-guard.probe",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
        answers = []
        for source in ("esm-guard.probe", "esm-guard.other"):
            resp = self.events.test_event_pattern(EventPattern=json.dumps({"source": [source]}), Event=json.dumps(event))
            answers.append(resp.get("Result"))
        self.test_event_pattern_answers = answers
        return answers == [True, False]

    def _queue_for(self, pattern: dict[str, Any]) -> str:
        key = json.dumps(pattern, sort_keys=True)
        if key not in self._queues:
            extra = set(pattern) - self.ROUTED_KEYS
            if extra:
                raise ValueError(f"pattern keys {sorted(extra)} cannot be judged through PutEvents")
            name = f"pattern-{len(self._queues)}"
            url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.events.put_rule(Name=name, EventBusName=self.BUS, EventPattern=key, State="ENABLED")
            self.events.put_targets(Rule=name, EventBusName=self.BUS, Targets=[{"Id": "queue", "Arn": arn}])
            self._queues[key] = url
        return self._queues[key]

    def _drain(self, url: str) -> int:
        got = 0
        while True:
            msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return got
            for m in msgs:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got += len(msgs)

    def matching(self, patterns: dict[str, dict[str, Any]], event: dict[str, Any]) -> list[str]:
        """Names of the patterns that match the event."""
        if self.native:
            return [
                name
                for name, p in patterns.items()
                if self.events.test_event_pattern(EventPattern=json.dumps(p), Event=json.dumps(event))["Result"]
            ]
        urls = {name: self._queue_for(p) for name, p in patterns.items()}
        for url in set(urls.values()):
            self._drain(url)
        time = datetime.fromisoformat(event["time"].replace("Z", "+00:00")) if "time" in event else None
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
            "EventBusName": self.BUS,
        }
        if time:
            entry["Time"] = time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto warns about a non-object detail (Scheduler's "{}")
            resp = self.events.put_events(Entries=[entry])
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused the event: {resp['Entries']}")
        hits = {url: self._drain(url) for url in set(urls.values())}
        return [name for name, url in urls.items() if hits[url]]


# ---- the checks ---------------------------------------------------------------------------------


def check_cfn_lint(r: Report) -> None:
    exe = Path(sys.executable).parent / "cfn-lint"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    proc = subprocess.run(cmd + ["--", str(TEMPLATE)], capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    r.check(proc.returncode == 0 and not output, "cfn-lint template.yaml reports nothing", output.replace("\n", " | ")[:2000])


def rule_patterns(template: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    events = template["Resources"][FUNCTION]["Properties"].get("Events", {})
    rules = {n: e["Properties"]["Pattern"] for n, e in events.items() if e.get("Type") in ("EventBridgeRule", "CloudWatchEvent")}
    schedules = {n: e["Properties"] for n, e in events.items() if e.get("Type") in ("ScheduleV2", "Schedule")}
    return rules, schedules


def ct_event(source: str, event_source: str, event_name: str, **detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0d9a8bce-2f6e-4b3a-8c1d-5e7f9a0b1c2d",
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-20T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"eventSource": event_source, "eventName": event_name, **detail},
    }


def check_engine_controls(r: Report, engine: PatternEngine) -> bool:
    ok_event = ct_event("aws.lambda", "lambda.amazonaws.com", "CreateEventSourceMapping20150331")
    failed_event = ct_event(
        "aws.lambda", "lambda.amazonaws.com", "CreateEventSourceMapping20150331", errorCode="ResourceConflictException"
    )
    controls = [
        ("prefix matches a longer name", {"detail": {"eventName": [{"prefix": "CreateEventSourceMapping"}]}}, ok_event, True),
        ("prefix rejects another prefix", {"detail": {"eventName": [{"prefix": "UpdateEventSourceMapping"}]}}, ok_event, False),
        ("prefix longer than the value does not match", {"detail": {"eventName": [{"prefix": "CreateEventSourceMapping20150331X"}]}}, ok_event, False),
        ("an exact value is not a prefix", {"detail": {"eventName": ["CreateEventSourceMapping"]}}, ok_event, False),
        ("exists:false rejects a present errorCode", {"detail": {"errorCode": [{"exists": False}]}}, failed_event, False),
        ("exists:false accepts an absent errorCode", {"detail": {"errorCode": [{"exists": False}]}}, ok_event, True),
        ("exists:true rejects an absent errorCode", {"detail": {"errorCode": [{"exists": True}]}}, ok_event, False),
    ]
    all_ok = True
    for name, pattern, event, expected in controls:
        got = bool(engine.matching({"control": pattern}, event))
        all_ok &= r.check(got == expected, f"pattern engine control: {name}", "" if got == expected else f"expected {expected}, got {got}")
    return all_ok


def report_engine_divergences(r: Report, engine: PatternEngine) -> None:
    """Facts about moto's matcher worth knowing before narrowing a pattern; not counted."""
    event = ct_event(
        "aws.ec2",
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        requestParameters={"ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 9098}]}},
    )
    array_pattern = {"detail": {"requestParameters": {"ipPermissions": {"items": {"fromPort": [9098]}}}}}
    hit = bool(engine.matching({"array": array_pattern}, event))
    if not hit:
        r.info(
            "moto does not match fields inside arrays of objects (detail.requestParameters.ipPermissions.items[].fromPort); "
            "real EventBridge does. The rule patterns here do not rely on it."
        )
    unknown = {"detail": {"eventName": [{"no-such-operator": "x"}]}}
    try:
        hit = bool(engine.matching({"unknown": unknown}, event))
        r.info(
            f"moto accepts a pattern with an unknown operator (and it {'matches' if hit else 'does not match'}); "
            "real EventBridge rejects it with InvalidEventPatternException (cfn-lint does not look inside SAM patterns "
            "either): this script checks the operators itself."
        )
    except Exception as e:  # noqa: BLE001 - any refusal is the right behaviour
        r.info(f"the engine refuses a pattern with an unknown operator ({type(e).__name__})")


OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "cidr", "equals-ignore-case", "wildcard"}


def pattern_problems(node: Any, path: str = "") -> list[str]:
    """What real EventBridge would refuse in a pattern and moto lets through."""
    if not isinstance(node, dict) or not node:
        return [f"{path or 'pattern'}: must be a non-empty object"]
    problems = []
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            problems += [p for i, alt in enumerate(as_list(value)) for p in pattern_problems(alt, f"{where}[{i}]")]
        elif isinstance(value, dict):
            problems += pattern_problems(value, where)
        elif not isinstance(value, list) or not value:
            problems.append(f"{where}: must be an object or a non-empty array")
        else:
            for item in value:
                if isinstance(item, dict):
                    if len(item) != 1 or next(iter(item)) not in OPERATORS:
                        problems.append(f"{where}: unknown operator {sorted(item)}")
                        continue
                    (op, arg), = item.items()
                    if op == "exists" and not isinstance(arg, bool):
                        problems.append(f"{where}: exists takes true or false, not {arg!r}")
                    if op in ("prefix", "suffix", "wildcard", "equals-ignore-case") and not (
                        isinstance(arg, str) or (op != "equals-ignore-case" and isinstance(arg, dict) and set(arg) == {"equals-ignore-case"})
                    ):
                        problems.append(f"{where}: {op} takes a string, not {arg!r}")
                elif isinstance(item, list):
                    problems.append(f"{where}: nested array")
    return problems


def check_events(r: Report, template: dict[str, Any]) -> None:
    rules, schedules = rule_patterns(template)
    handled = load_events(EVENTS / "handled")
    ignored = load_events(EVENTS / "ignored")
    r.check(bool(rules), "template has EventBridge rule patterns", ", ".join(rules))
    for rule, pattern in rules.items():
        problems = pattern_problems(pattern)
        r.check(not problems, f"rule {rule}: pattern uses only EventBridge's operators, well-formed", "; ".join(problems))
    r.check(bool(handled) and bool(ignored), "events/handled and events/ignored hold samples", f"{len(handled)} handled, {len(ignored)} ignored")

    bad = {path: probs for path, e in handled + ignored if (probs := envelope_problems(e))}
    r.check(not bad, "every sample is a full EventBridge envelope (CloudTrail detail complete, account/region consistent)", "; ".join(f"{p}: {', '.join(v)}" for p, v in bad.items()))

    # The samples cover the patterns: every EC2 name and every Lambda prefix has a handled sample.
    names = {e["detail"].get("eventName") for _, e in handled if e.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE}
    for rule, pattern in rules.items():
        wanted = pattern.get("detail", {}).get("eventName", [])
        missing = []
        for w in wanted:
            if isinstance(w, str) and w not in names:
                missing.append(w)
            elif isinstance(w, dict) and "prefix" in w and not any(n and n.startswith(w["prefix"]) for n in names):
                missing.append(f"prefix {w['prefix']}")
        r.check(not missing, f"rule {rule}: every eventName in its pattern has a sample in events/handled", ", ".join(missing))
        r.check(
            pattern.get("detail", {}).get("errorCode") == [{"exists": False}],
            f"rule {rule}: failed calls are filtered out (detail.errorCode exists:false)",
        )

    scheduled_samples = {e["source"] for _, e in handled if is_scheduled(e)}
    r.check(set(SCHEDULED_SOURCES) <= scheduled_samples, "events/handled has both scheduled shapes (aws.scheduler, aws.events)", f"found {sorted(scheduled_samples)}")
    sweep_ok = any(
        s.get("ScheduleExpression") == {"Ref": "SweepSchedule"} for s in schedules.values()
    ) and any(e.get("Type") == "ScheduleV2" for e in template["Resources"][FUNCTION]["Properties"]["Events"].values())
    r.check(sweep_ok, "a ScheduleV2 event runs on the SweepSchedule parameter")

    try:
        engine = PatternEngine()
    except Exception as e:  # noqa: BLE001
        r.check(False, "moto EventBridge starts in-process", f"{type(e).__name__}: {e}")
        return
    try:
        if engine.native:
            r.info("moto implements TestEventPattern: patterns are judged by it")
        else:
            r.info(
                f"moto's TestEventPattern is a stub (answers {engine.test_event_pattern_answers} instead of [True, False]: "
                "no Result in the response); judging patterns through moto's rule routing instead (PutRule + SQS target + PutEvents)"
            )
        if not check_engine_controls(r, engine):
            r.info("the pattern engine failed its controls: the sample checks below cannot be trusted")
        report_engine_divergences(r, engine)

        for path, event in handled:
            hits = engine.matching(rules, event)
            if is_scheduled(event):
                r.check(not hits, f"{path} (scheduled) matches no rule; the ScheduleV2 event serves it", f"matched {hits}")
            else:
                r.check(bool(hits), f"{path} matches a rule", f"matched {hits}" if hits else "matched none")
        for path, event in ignored:
            hits = engine.matching(rules, event)
            r.check(not hits, f"{path} matches no rule", f"matched {hits}")
    except Exception as e:  # noqa: BLE001
        r.check(False, f"matching samples with {engine.name}", f"{type(e).__name__}: {e}")
    finally:
        engine.close()


def check_iam(r: Report, template: dict[str, Any]) -> None:
    policies = function_policies(template)
    every = list(statements(resolve_ifs(policies, None)))
    grants = granted(every)
    r.check(bool(grants), f"{FUNCTION} Policies grant actions", f"{len(grants)} actions")

    wild = sorted(a for s in every for a in as_list(s.get("Action", [])) if "*" in str(a))
    not_action = [s.get("Sid", "?") for s in every if "NotAction" in s or "NotResource" in s]
    r.check(not wild and not not_action, "no wildcard action, no NotAction/NotResource", ", ".join(wild + not_action))

    star = set()
    for s in every:
        if "*" in as_list(s.get("Resource", [])):
            star.update(
                a for a in as_list(s.get("Action", [])) if a not in NO_RESOURCE_LEVEL and not str(a).startswith(NO_RESOURCE_LEVEL_PREFIXES)
            )
    r.check(not star, 'Resource "*" only for actions without resource-level permissions', ", ".join(sorted(star)))

    # Code against template.
    calls = code_calls(SRC)
    r.info(f"src/ calls {len(calls)} AWS API actions: {', '.join(sorted(calls)) or 'none'}")
    unknown_crates = sorted(
        {CRATE_SERVICES.get(c, c) for c in re.findall(r"^aws-sdk-([a-z0-9]+)\s*=", Path("Cargo.toml").read_text(), re.M)} - set(SERVICES)
    ) if Path("Cargo.toml").exists() else []
    if unknown_crates:
        r.info(f"Cargo.toml has SDK crates whose calls this script does not look for: {', '.join(unknown_crates)}")
    # IAM action names are case-insensitive (the code's DescribeDbClusters is the IAM
    # action rds:DescribeDBClusters).
    granted_lower = {a.lower() for a in grants}
    called_lower = {a.lower() for a in calls}
    missing = {a: where for a, where in calls.items() if a.lower() not in granted_lower}
    r.check(
        not missing,
        "every AWS call in src/ is granted by the template",
        "; ".join(f"{a} (at {', '.join(w[:3])})" for a, w in sorted(missing.items())),
    )
    unused = sorted(a for a in grants if a.lower() not in called_lower and a not in GRANTED_NOT_CALLED)
    r.check(not unused, "every granted action is called in src/ (or listed in GRANTED_NOT_CALLED)", ", ".join(unused))
    r.info(
        "SAM adds to the role outside Policies: AWSLambdaBasicExecutionRole (logs) and sqs:SendMessage on "
        "FailedEventsQueue (EventInvokeConfig OnFailure); not compared with the code"
    )


def check_gating(r: Report, template: dict[str, Any]) -> None:
    param = template.get("Parameters", {}).get("RemediationMode", {})
    allowed = param.get("AllowedValues")
    r.check(
        allowed == ["off", "plan", "apply"] and param.get("Default") == "off",
        "RemediationMode allows exactly off/plan/apply (strings) and defaults to off",
        f"AllowedValues={allowed!r} Default={param.get('Default')!r}",
    )
    env = template["Resources"][FUNCTION]["Properties"].get("Environment", {}).get("Variables", {})
    r.check(env.get("REMEDIATION") == {"Ref": "RemediationMode"}, "REMEDIATION is the RemediationMode parameter")

    conditions = template.get("Conditions", {})
    policies = function_policies(template)
    for mode in ("off", "plan", "apply"):
        # off/plan: every other parameter unknown, so a write reachable through any value of
        # them shows. apply: the defaults, and the writes must all be there.
        params = parameter_values(template, RemediationMode=mode) if mode == "apply" else {"RemediationMode": mode}
        try:
            truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
            grants = granted(statements(resolve_ifs(copy.deepcopy(policies), lambda c: truth[c])))
        except (ValueError, KeyError) as e:
            r.check(False, f"RemediationMode={mode}: policies evaluate", str(e))
            continue
        writes = {a for a in grants if a.startswith("ec2:") and not a.startswith(("ec2:Describe", "ec2:Get"))}
        if mode == "apply":
            r.check(writes == REMEDIATION_WRITES, "RemediationMode=apply grants exactly the remediation writes", f"granted {sorted(writes)}")
        else:
            r.check(not writes, f"RemediationMode={mode} grants no EC2 write action, whatever the other parameters", ", ".join(sorted(writes)))


OPT_OUT_KEY = "aws:ResourceTag/esm-guard:remediate"
TAG_KEYS = {"esm-guard:managed", "esm-guard:reason", "esm-guard:esm-uuid"}
ENDPOINT_SERVICES = {"lambda", "sts", "secretsmanager", "sqs", "sns"}


def _sub_text(value: Any) -> str:
    """The text of a literal or a !Sub string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return str(value)


def _resources(s: dict[str, Any]) -> list[str]:
    return [_sub_text(r) for r in as_list(s.get("Resource", []))]


def write_condition_problems(s: dict[str, Any]) -> list[str]:
    """What an apply-mode write statement lacks of the conditions that make IAM a backstop:
    the opt-out tag on VPCs and groups, the services and tags of what esm-guard creates."""
    problems = []
    sid = s.get("Sid", "?")
    cond = s.get("Condition", {}) or {}
    actions = set(as_list(s.get("Action", [])))
    kinds = {r.rsplit(":", 1)[-1].split("/")[0] for r in _resources(s)}

    def value(op: str, key: str) -> list[str]:
        return [_sub_text(v) for v in as_list((cond.get(op) or {}).get(key, []))]

    opt_out = [v.lower() for v in value("StringNotEqualsIgnoreCase", OPT_OUT_KEY)]
    if kinds & {"vpc", "subnet", "security-group"} and opt_out != ["off"]:
        problems.append(f"{sid}: writes on {sorted(kinds)} without StringNotEqualsIgnoreCase {OPT_OUT_KEY} = off")
    if "vpc-endpoint" in kinds and "ec2:CreateVpcEndpoint" in actions:
        if value("StringEquals", "aws:RequestTag/esm-guard:managed") != ["true"]:
            problems.append(f"{sid}: endpoints created without the tag esm-guard:managed=true required")
        names = value("StringEquals", "ec2:VpceServiceName")
        services = {n.rsplit(".", 1)[-1] for n in names}
        if not names or not services <= ENDPOINT_SERVICES:
            problems.append(f"{sid}: ec2:VpceServiceName must list only {sorted(ENDPOINT_SERVICES)}, lists {names}")
        keys = set(value("ForAllValues:StringEquals", "aws:TagKeys"))
        if keys != TAG_KEYS:
            problems.append(f"{sid}: ForAllValues:StringEquals aws:TagKeys must be {sorted(TAG_KEYS)}, is {sorted(keys)}")
    if "security-group-rule" in kinds and actions & {"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"}:
        if value("StringEquals", "aws:RequestTag/esm-guard:managed") != ["true"]:
            problems.append(f"{sid}: security-group rules created without the tag esm-guard:managed=true required")
    if "ec2:CreateTags" in actions:
        create = set(value("StringEquals", "ec2:CreateAction"))
        expected = {"vpc-endpoint": {"CreateVpcEndpoint"}, "security-group-rule": {"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"}}
        for kind in kinds:
            if create != expected.get(kind, {"?"}):
                problems.append(f"{sid}: ec2:CreateTags on {kind} must be limited to ec2:CreateAction {sorted(expected.get(kind, set()))}, is {sorted(create)}")
        if value("StringEquals", "aws:RequestTag/esm-guard:managed") != ["true"]:
            problems.append(f"{sid}: ec2:CreateTags without the tag esm-guard:managed=true required")
    return problems


def check_write_conditions(r: Report, template: dict[str, Any]) -> None:
    conditions = template.get("Conditions", {})
    params = parameter_values(template, RemediationMode="apply")
    truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
    every = list(statements(resolve_ifs(copy.deepcopy(function_policies(template)), lambda c: truth[c])))
    writes = [
        s for s in every
        if any(str(a).startswith("ec2:") and not str(a).startswith(("ec2:Describe", "ec2:Get")) for a in as_list(s.get("Action", [])))
    ]
    problems = [p for s in writes for p in write_condition_problems(s)]
    r.check(bool(writes) and not problems, "every write statement carries the opt-out, service and tag conditions", "; ".join(problems))
    # Tag-on-create: every resource kind the code tags in a create call (TagSpecifications),
    # granted ec2:CreateTags with ec2:CreateAction naming each call that creates that kind, and
    # the call itself granted on the new resource (AWS checks both once tags are given).
    for kind, calls in sorted(tagged_creates(Path("src")).items()):
        tagging = [
            s for s in writes
            if "ec2:CreateTags" in as_list(s.get("Action", []))
            and any(res.rsplit(":", 1)[-1].split("/")[0] in (kind, "*") for res in _resources(s))
        ]
        create_actions = {
            str(v)
            for s in tagging
            for v in as_list(((s.get("Condition") or {}).get("StringEquals") or {}).get("ec2:CreateAction", []))
        }
        untagged = sorted(c for c in calls if c.split(":", 1)[1] not in create_actions)
        r.check(
            bool(calls) and not untagged,
            f"tag-on-create: ec2:CreateTags on {kind} is granted for {sorted(calls)}",
            f"no ec2:CreateTags statement on {kind} with ec2:CreateAction {untagged}" if untagged
            else f"ec2:CreateAction {sorted(create_actions)}" if calls else "no call in src/ creates it",
        )
        on_kind = {
            str(a)
            for s in writes
            if any(res.rsplit(":", 1)[-1].split("/")[0] == kind for res in _resources(s))
            for a in as_list(s.get("Action", []))
        }
        missing = sorted(set(calls) - on_kind)
        r.check(not missing, f"tag-on-create: {sorted(calls)} granted on the new {kind}", f"not granted on {kind}: {missing}" if missing else "")


# The EC2 calls that create a resource of each kind (the kinds of TagSpecifications). A kind
# the code tags that is not here fails the check: add its creating calls.
CREATORS = {
    "vpc-endpoint": {"ec2:CreateVpcEndpoint"},
    "security-group-rule": {"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"},
    "security-group": {"ec2:CreateSecurityGroup"},
    "network-acl": {"ec2:CreateNetworkAcl"},
    "route-table": {"ec2:CreateRouteTable"},
    "natgateway": {"ec2:CreateNatGateway"},
}
RESOURCE_TYPE = re.compile(r"tag_specifications\s*\([^;]*?ResourceType::([A-Za-z]+)", re.S)


def tagged_creates(src: Path) -> dict[str, set[str]]:
    """Resource kind the code tags on create -> the EC2 calls in src/ that create that kind."""
    calls = set(code_calls(src))
    kinds: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        text = strip_rust_comments(path.read_text(encoding="utf-8"))
        for m in RESOURCE_TYPE.finditer(text):
            kind = re.sub(r"(?<!^)(?=[A-Z])", "-", m.group(1)).lower()
            # A kind not in CREATORS keeps a placeholder call, which no statement grants.
            creators = CREATORS[kind] & calls if kind in CREATORS else {f"ec2:<the call that creates {kind}: add it to CREATORS>"}
            kinds.setdefault(kind, set()).update(creators)
    return kinds


# ---- --render-policy -----------------------------------------------------------------------------

MODES = ("off", "plan", "apply")
RENDER_DEFAULTS = {"account": "123456789012", "region": "us-east-1", "partition": "aws"}
RENDER_PATTERNS = {"account": r"\d{12}", "region": r"[a-z]{2}(-[a-z]+)+-\d+", "partition": r"aws(-[a-z]+)*"}
RENDER_DESCRIPTIONS = {
    "account": "a 12-digit account id",
    "region": "a region name like us-east-1",
    "partition": "a partition like aws, aws-cn or aws-us-gov",
}
URL_SUFFIXES = {"aws-cn": "amazonaws.com.cn"}
FAKE_STACK_NAME = "esm-guard"

# Names of the template's resources in the rendered policy. The resources named here get the
# name given; any other gets "esm-guard-" + its logical id in kebab case (FailedEventsQueue:
# esm-guard-failed-events-queue).
FAKE_NAMES = {"StateTable": "esm-guard-state", "AlertTopic": "esm-guard-alerts", "AlertKey": "alert-key"}

# Per resource type: what Ref and each attribute of Fn::GetAtt render as. Placeholders: {p}
# partition, {r} region, {a} account, {u} URL suffix, {n} the resource's fake name.
# Any other type: Ref is {n}, and an attribute whose name ends in "Arn" is
# arn:{p}:{service}:{r}:{a}:{type}/{n} (AWS::Service::SomeType: service "service", type
# "some-type"); other attributes of other types cannot be rendered (exit 1).
RESOURCE_RENDERING: dict[str, tuple[str, dict[str, str]]] = {
    "AWS::DynamoDB::Table": ("{n}", {"Arn": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
                                     "StreamArn": "arn:{p}:dynamodb:{r}:{a}:table/{n}/stream/2000-01-01T00:00:00.000"}),
    "AWS::SNS::Topic": ("arn:{p}:sns:{r}:{a}:{n}", {"TopicArn": "arn:{p}:sns:{r}:{a}:{n}", "TopicName": "{n}"}),
    "AWS::KMS::Key": ("{n}", {"Arn": "arn:{p}:kms:{r}:{a}:key/{n}", "KeyId": "{n}"}),
    "AWS::KMS::Alias": ("alias/{n}", {}),
    "AWS::SQS::Queue": ("https://sqs.{r}.{u}/{a}/{n}", {"Arn": "arn:{p}:sqs:{r}:{a}:{n}", "QueueName": "{n}",
                                                       "QueueUrl": "https://sqs.{r}.{u}/{a}/{n}"}),
    "AWS::Logs::LogGroup": ("{n}", {"Arn": "arn:{p}:logs:{r}:{a}:log-group:{n}:*"}),
    "AWS::IAM::Role": ("{n}", {"Arn": "arn:{p}:iam::{a}:role/{n}", "RoleId": "AROAESMGUARDFAKEROLEID"}),
    "AWS::Serverless::Function": ("{n}", {"Arn": "arn:{p}:lambda:{r}:{a}:function:{n}"}),
    "AWS::Lambda::Function": ("{n}", {"Arn": "arn:{p}:lambda:{r}:{a}:function:{n}"}),
    "AWS::S3::Bucket": ("{n}", {"Arn": "arn:{p}:s3:::{n}"}),
}


class RenderError(Exception):
    """Something in the policy that --render-policy cannot render."""


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


class Renderer:
    """Renders Ref, Fn::GetAtt, Fn::Sub and Fn::Join of the template for one account/region/partition."""

    def __init__(self, template: dict[str, Any], params: dict[str, Any], account: str, region: str, partition: str):
        self.resources = template.get("Resources", {})
        self.params = params
        self.fields = {"p": partition, "r": region, "a": account, "u": URL_SUFFIXES.get(partition, "amazonaws.com")}
        self.pseudo = {
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": self.fields["u"],
            "AWS::StackName": FAKE_STACK_NAME,
        }

    def _fill(self, pattern: str, logical_id: str) -> str:
        return pattern.format(n=FAKE_NAMES.get(logical_id, f"esm-guard-{kebab(logical_id)}"), **self.fields)

    def ref(self, name: Any) -> str:
        if not isinstance(name, str):
            raise RenderError(f"Ref of {name!r}")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return str(self.params[name])
        if name in self.resources:
            rtype = self.resources[name].get("Type", "")
            return self._fill(RESOURCE_RENDERING.get(rtype, ("{n}", {}))[0], name)
        raise RenderError(f"Ref {name}: no such parameter, resource or supported pseudo parameter")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise RenderError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource")
        rtype = self.resources[logical_id].get("Type", "")
        if rtype in RESOURCE_RENDERING:
            attributes = RESOURCE_RENDERING[rtype][1]
            if attribute not in attributes:
                raise RenderError(f"Fn::GetAtt {logical_id}.{attribute}: attribute not known for {rtype}")
            return self._fill(attributes[attribute], logical_id)
        if attribute.endswith("Arn"):
            parts = rtype.split("::")
            if len(parts) != 3:
                raise RenderError(f"Fn::GetAtt {logical_id}.{attribute}: resource type {rtype!r}")
            service, kind = parts[1].lower(), kebab(parts[2])
            return self._fill(f"arn:{{p}}:{service}:{{r}}:{{a}}:{kind}/{{n}}", logical_id)
        raise RenderError(f"Fn::GetAtt {logical_id}.{attribute}: cannot render attribute {attribute} of {rtype}")

    def sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            text, variables = arg[0], {k: self.render(v) for k, v in arg[1].items()}
        else:
            raise RenderError(f"Fn::Sub of {arg!r}")

        def replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def render(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                (key, arg), = node.items()
                if key == "Ref":
                    return self.ref(arg)
                if key == "Fn::Sub":
                    return self.sub(arg)
                if key == "Fn::GetAtt":
                    parts = arg.split(".", 1) if isinstance(arg, str) else arg
                    if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(x, str) for x in parts)):
                        raise RenderError(f"Fn::GetAtt of {arg!r}")
                    return self.get_att(parts[0], parts[1])
                if key == "Fn::Join":
                    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], list)):
                        raise RenderError(f"Fn::Join of {arg!r}")
                    return arg[0].join(str(self.render(x)) for x in arg[1])
                if key.startswith("Fn::"):
                    raise RenderError(f"{key} is not supported")
            return {k: self.render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.render(v) for v in node]
        return node


def render_policy(template: dict[str, Any], mode: str, account: str, region: str, partition: str) -> dict[str, Any]:
    """GuardFunction's Policies statements for RemediationMode=mode (the other parameters at their
    defaults), Fn::If resolved, every Ref/GetAtt/Sub rendered: {"Statement": [...]}."""
    params = parameter_values(template, RemediationMode=mode)
    params.update({"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition})
    conditions = template.get("Conditions", {})
    try:
        truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
    except (ValueError, KeyError) as e:
        raise RenderError(f"the template's conditions do not evaluate: {e}")

    def decide(name: str) -> bool:
        if name not in truth:
            raise RenderError(f"Fn::If on an unknown condition {name}")
        if truth[name] is UNKNOWN:
            raise RenderError(f"condition {name} is not decided by the parameters")
        return bool(truth[name])

    resolved = resolve_ifs(copy.deepcopy(function_policies(template)), decide)
    renderer = Renderer(template, {k: v for k, v in params.items() if not k.startswith("AWS::")}, account, region, partition)
    out = []
    for policy in as_list(resolved):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise RenderError(f"{FUNCTION} Policies holds {policy!r}: only inline policy documents can be rendered")
        out.extend(renderer.render(s) for s in as_list(policy["Statement"]))
    return {"Statement": out}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Checks template.yaml against events/ and src/; with --render-policy, prints the function role's policy.",
    )
    parser.add_argument(
        "--render-policy",
        metavar="MODE",
        help="print GuardFunction's Policies statements for RemediationMode=MODE (off, plan, apply) as one JSON "
        "document and nothing else; no check runs",
    )
    parser.add_argument("--account", help=f"with --render-policy: the account id (default {RENDER_DEFAULTS['account']})")
    parser.add_argument("--region", help=f"with --render-policy: the region (default {RENDER_DEFAULTS['region']})")
    parser.add_argument("--partition", help=f"with --render-policy: the partition (default {RENDER_DEFAULTS['partition']})")
    parser.add_argument(
        "--without-statement",
        metavar="SID",
        action="append",
        default=None,
        help="with --render-policy: leave out the statement SID, as if the template lacked it (tests use it to show "
        "that the IAM check catches a missing grant); repeatable; a SID the policy does not have is an error",
    )
    args = parser.parse_args(argv)
    if args.render_policy is None:
        given = [f"--{k}" for k in ("account", "region", "partition") if getattr(args, k) is not None]
        if args.without_statement is not None:
            given.append("--without-statement")
        if given:
            parser.error(f"{', '.join(given)}: only with --render-policy")
        return args
    if args.render_policy not in MODES:
        parser.error(f"--render-policy: MODE must be one of {', '.join(MODES)}, not {args.render_policy!r}")
    for key, pattern in RENDER_PATTERNS.items():
        value = getattr(args, key)
        if value is None:
            setattr(args, key, RENDER_DEFAULTS[key])
        elif not re.fullmatch(pattern, value):
            parser.error(f"--{key}: {value!r} is not {RENDER_DESCRIPTIONS[key]}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not TEMPLATE.exists():
        print(f"run from the repository root: no {TEMPLATE} here", file=sys.stderr)
        return 2
    if args.render_policy is not None:
        try:
            document = render_policy(load_template(TEMPLATE), args.render_policy, args.account, args.region, args.partition)
        except RenderError as e:
            print(f"check_template.py: cannot render the policy: {e}", file=sys.stderr)
            return 1
        dropped = set(args.without_statement or ())
        missing = sorted(dropped - {s.get("Sid") for s in document["Statement"]})
        if missing:
            print(f"check_template.py: --without-statement: the {args.render_policy} policy has no statement {', '.join(missing)}", file=sys.stderr)
            return 1
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") not in dropped]
        print(json.dumps(document, indent=2))
        return 0
    r = Report()
    check_cfn_lint(r)
    try:
        template = load_template(TEMPLATE)
    except Exception as e:  # noqa: BLE001
        r.check(False, "template.yaml parses", f"{type(e).__name__}: {e}")
        template = None
    if template is not None:
        check_events(r, template)
        check_iam(r, template)
        check_gating(r, template)
        check_write_conditions(r, template)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
