#!/usr/bin/env python3
"""Checks template.yaml and template-spoke.yaml against the samples in events/ and the AWS calls in src/.

Run from the repository root with the project's interpreter (after scripts/setup):

    .venv/bin/python scripts/check_template.py

Prints one line per check (PASS/FAIL; INFO lines report facts and are not counted) and ends
with `N passed, M failed`. Exit status 0 when nothing failed, 1 otherwise.

What it checks:
  * cfn-lint (the venv's) has nothing to say about template.yaml nor template-spoke.yaml;
  * the EventBridge rule patterns, read from template.yaml, accept every CloudTrail sample in
    events/handled/ and none in events/ignored/; the scheduled samples (aws.scheduler and
    aws.events "Scheduled Event") match no rule: the ScheduleV2 event serves them. Matching is
    done by moto in-process (TestEventPattern when moto implements it, else a rule per pattern
    with an SQS target and PutEvents), after negative controls prove that the engine really
    implements `prefix`, `exists: false` and `$or`;
  * the spoke's ForwardRule pattern is the `$or` of those rule patterns, matches every handled
    CloudTrail sample a hub rule matches and no scheduled or ignored sample;
  * the AWS calls made in src/ (convention: `ec2.describe_subnets()`, `kafka.list_clusters_v2()`:
    a fluent call on a client variable named after its IAM service; SQS's batch calls as their
    single action; plus sts:AssumeRole where aws-config's AssumeRoleProvider is used), split by
    where they are made: the audit calls
    (src/aws/collect/, src/aws/apply.rs, src/aws/locate.rs, src/aws/from_*.rs; made with the
    member's credentials in hub mode) and the function's own calls (every other file):
      - Mode account: GuardFunction's Policies (every RemediationMode) grant exactly the calls,
        apart from GRANTED_NOT_CALLED and the hub-only services (sts, sqs, organizations), of
        which they grant nothing;
      - Mode hub: they grant the function's own calls plus sts:AssumeRole (on the spoke role,
        within the organization), sqs:SendMessage (on SweepQueue) and organizations:ListAccounts;
        a hub-only grant the code does not make yet is an INFO line, not a failure;
      - template-spoke.yaml's AuditRole grants exactly the audit calls (its statements are
        template.yaml's with every region), the writes only with RemediationMode apply;
  * no action has a wildcard, Resource "*" only where the action has no resource-level
    permissions, and EC2 write actions exist only when RemediationMode is apply, with the
    opt-out, service and tag conditions (both templates);
  * the hub's pieces: parameters, Rules, HubBus and its organization-only policy, SweepQueue
    (visibility timeout at least six times the function's timeout, redrive), the SQS mapping,
    the rules' event bus, the environment, the outputs; the spoke's ForwardRole and trust.

Rendering a role's policy (no check runs then):

    .venv/bin/python scripts/check_template.py --render-policy MODE [--account ID] [--region R] [--partition P]
    .venv/bin/python scripts/check_template.py --render-policy MODE --hub [--organization-id O] [...]
    .venv/bin/python scripts/check_template.py --render-policy MODE --spoke [...]   (or --template spoke)

MODE is off, plan or apply; ID defaults to 123456789012 (12 digits), R to us-east-1, P to aws.
Prints one JSON document on stdout and nothing else: `{"Statement": [...]}`, the statements
of GuardFunction's Policies in template order (every inline policy document's, concatenated;
their Version is not repeated), for RemediationMode=MODE and every other parameter at its
Default (Mode account). With --hub: the same for Mode=hub, OrganizationId O (default
o-a1b2c3d4e5). With --spoke (--template spoke): template-spoke.yaml's AuditRole Policies
(every PolicyDocument's statements) for its RemediationMode=MODE, ID being the member account.
Fn::If is resolved with the template's Conditions and AWS::NoValue dropped, as in
the gating check; statements' Condition blocks are kept as they are, rendered like the rest.
Rendered everywhere:
  * Ref/${} of AWS::Partition, AWS::Region, AWS::AccountId: P, R, ID; AWS::URLSuffix:
    amazonaws.com (amazonaws.com.cn in aws-cn); AWS::StackName: esm-guard;
  * Ref/${} of a parameter: its value (MODE or the Default), as a string (a CommaDelimitedList
    as its list, for Fn::Join);
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
    Fn::Join (of a list or of a list parameter).
Anything else (another intrinsic function, another attribute, an unknown name, a Policies
entry that is not an inline policy document) exits 1 with the reason on stderr; a bad MODE,
account, region, partition or organization id, or --hub with --spoke, exits 2.
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
SPOKE_TEMPLATE = Path("template-spoke.yaml")
EVENTS = Path("events")
SRC = Path("src")
FUNCTION = "GuardFunction"
AUDIT_ROLE = "AuditRole"  # template-spoke.yaml
FORWARD_RULE = "ForwardRule"  # template-spoke.yaml

# Services whose SDK calls src/ makes, by client variable name (= IAM service prefix).
SERVICES = ("ec2", "lambda", "kafka", "sns", "dynamodb", "scheduler", "mq", "rds", "sqs", "organizations", "sts")

# Where the audit calls are made (paths under src/): with the member's credentials in hub mode,
# granted by the spoke's AuditRole. Every other file's calls are the function's own.
AUDIT_DIRS = ("aws/collect/",)
AUDIT_FILES = ("aws/apply.rs", "aws/locate.rs")
AUDIT_FILE_PATTERN = re.compile(r"aws/from_[^/]+\.rs")

# The function's own calls of these services happen in hub mode only (reaching the members, the
# sweep's fan-out): granted under IsHub, never in account mode.
HUB_SERVICES = ("sts", "sqs", "organizations")
# What Mode hub must grant the function, whether or not src/ calls it yet.
HUB_REQUIRED = ("sts:AssumeRole", "sqs:SendMessage", "organizations:ListAccounts")
# Calls made through a library type rather than a `<service>.<operation>()` call: the type's
# name in src/ (outside comments and strings) counts as a call of the action, where it appears.
CALLED_THROUGH = {
    "sts:AssumeRole": ("AssumeRoleProvider", "aws-config's AssumeRoleProvider (no sts client)"),
}
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
    # Mode hub: Lambda's event source mapping on SweepQueue polls with the function's role
    # (SweepQueueMapping); the function itself reports batch item failures, it deletes nothing.
    "sqs:ReceiveMessage": "Lambda's poller of SweepQueueMapping uses the function's role",
    "sqs:DeleteMessage": "Lambda's poller of SweepQueueMapping uses the function's role",
    "sqs:GetQueueAttributes": "Lambda's poller of SweepQueueMapping uses the function's role",
}

# Actions without resource-level permissions: the only ones allowed with Resource "*".
NO_RESOURCE_LEVEL = {"lambda:ListEventSourceMappings", "kafka:ListClustersV2", "organizations:ListAccounts"}
NO_RESOURCE_LEVEL_PREFIXES = ("ec2:Describe",)

# Exactly what RemediationMode=apply may add.
REMEDIATION_WRITES = {
    "ec2:CreateVpcEndpoint",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:CreateTags",
}

# API operations authorized by another operation's IAM action (SQS's batch calls: the Service
# Authorization Reference has no sqs:SendMessageBatch; SendMessage authorizes it).
ACTION_OF_OPERATION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
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
    """Evaluates a condition expression (Fn::Equals/Not/And/Or, Condition, Ref of parameters,
    Fn::Join of a list or of a CommaDelimitedList parameter).

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
        if key == "Fn::Join":
            delimiter, items = arg
            values = eval_condition(items, params, conditions) if isinstance(items, dict) else [
                eval_condition(x, params, conditions) for x in items
            ]
            if values is UNKNOWN or UNKNOWN in as_list(values):
                return UNKNOWN
            return str(delimiter).join(str(v) for v in as_list(values))
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


def spoke_policies(spoke: dict[str, Any]) -> Any:
    """The policy documents of template-spoke.yaml's AuditRole (its Policies' PolicyDocuments)."""
    entries = spoke["Resources"][AUDIT_ROLE]["Properties"].get("Policies", [])
    return [e.get("PolicyDocument", {}) if isinstance(e, dict) else e for e in as_list(entries)]


def parameter_values(template: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Every parameter at its Default ("" without one; a CommaDelimitedList as its list), then the
    overrides, then the pseudo parameters of the default account and region."""
    params: dict[str, Any] = {}
    for name, p in template.get("Parameters", {}).items():
        value = p.get("Default", "")
        if p.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = value.split(",")
        params[name] = value
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
    action = f"{service}:" + "".join(part[:1].upper() + part[1:] for part in operation.split("_"))
    return ACTION_OF_OPERATION.get(action, action)


def code_calls(src: Path) -> dict[str, list[str]]:
    """IAM action -> places (file:line) where src/ calls it (CALLED_THROUGH types included)."""
    calls: dict[str, list[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        text = strip_rust_comments(path.read_text(encoding="utf-8"))  # and strings
        for m in CALL.finditer(text):
            service, operation = m.groups()
            if operation in NOT_OPERATIONS:
                continue
            line = text.count("\n", 0, m.start(1)) + 1
            calls.setdefault(iam_action(service, operation), []).append(f"{path}:{line}")
        for action, (type_name, _why) in CALLED_THROUGH.items():
            for m in re.finditer(rf"\b{re.escape(type_name)}\b", text):
                line = text.count("\n", 0, m.start()) + 1
                calls.setdefault(action, []).append(f"{path}:{line}")
    return calls


def is_audit_file(path: Path, src: Path = SRC) -> bool:
    """Whether src/'s file makes audit calls (collect/, apply.rs, locate.rs, from_*.rs)."""
    try:
        rel = path.relative_to(src).as_posix()
    except ValueError:
        return False
    return rel.startswith(AUDIT_DIRS) or rel in AUDIT_FILES or bool(AUDIT_FILE_PATTERN.fullmatch(rel))


def split_calls(calls: dict[str, list[str]], src: Path = SRC) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(audit calls, the function's own calls), each action -> the places of that kind. An
    action called in both kinds of file is in both."""
    audit: dict[str, list[str]] = {}
    own: dict[str, list[str]] = {}
    for action, places in calls.items():
        for place in places:
            kind = audit if is_audit_file(Path(place.rsplit(":", 1)[0]), src) else own
            kind.setdefault(action, []).append(place)
    return audit, own


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

    @classmethod
    def _top_keys(cls, pattern: dict[str, Any]) -> set[str]:
        """The envelope fields a pattern reads, through top-level $or alternatives."""
        keys = set(pattern) - {"$or"}
        for alternative in as_list(pattern.get("$or", [])):
            keys |= cls._top_keys(alternative) if isinstance(alternative, dict) else {"$or"}
        return keys

    def _queue_for(self, pattern: dict[str, Any]) -> str:
        key = json.dumps(pattern, sort_keys=True)
        if key not in self._queues:
            extra = self._top_keys(pattern) - self.ROUTED_KEYS
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


def check_cfn_lint(r: Report, paths: Iterable[Path] = (TEMPLATE,)) -> None:
    """cfn-lint on each file, the files linted side by side (one process each)."""
    exe = Path(sys.executable).parent / "cfn-lint"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    procs = [
        (path, subprocess.Popen(cmd + ["--", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for path in paths
    ]
    for path, proc in procs:
        stdout, stderr = proc.communicate()
        output = (stdout + stderr).strip()
        r.check(proc.returncode == 0 and not output, f"cfn-lint {path} reports nothing", output.replace("\n", " | ")[:2000])


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
        # The spoke's ForwardRule is a top-level $or of whole patterns.
        ("$or matches when one alternative does", {"$or": [{"source": ["aws.ec2"]}, {"source": ["aws.lambda"]}]}, ok_event, True),
        ("$or rejects when no alternative does", {"$or": [{"source": ["aws.ec2"]}, {"source": ["aws.kafka"]}]}, ok_event, False),
        (
            "$or alternatives are whole patterns (no mixing of fields across them)",
            {"$or": [{"source": ["aws.ec2"], "detail": {"eventName": [{"prefix": "Create"}]}},
                     {"source": ["aws.lambda"], "detail": {"eventName": ["DeleteVpcEndpoints"]}}]},
            ok_event,
            False,
        ),
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


def forward_pattern(spoke: dict[str, Any] | None) -> dict[str, Any] | None:
    if spoke is None:
        return None
    pattern = spoke.get("Resources", {}).get(FORWARD_RULE, {}).get("Properties", {}).get("EventPattern")
    return pattern if isinstance(pattern, dict) else None


def check_events(r: Report, template: dict[str, Any], spoke: dict[str, Any] | None = None) -> None:
    rules, schedules = rule_patterns(template)
    forward = forward_pattern(spoke)
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
    if spoke is not None:
        r.check(forward is not None, f"template-spoke.yaml has {FORWARD_RULE} with an EventPattern object")
        if forward is not None:
            problems = pattern_problems(forward)
            r.check(not problems, f"spoke {FORWARD_RULE}: pattern uses only EventBridge's operators, well-formed", "; ".join(problems))
            alternatives = forward.get("$or") if set(forward) == {"$or"} else None
            wanted = sorted(json.dumps(p, sort_keys=True) for p in rules.values())
            got = sorted(json.dumps(p, sort_keys=True) for p in as_list(alternatives)) if alternatives is not None else None
            r.check(
                got == wanted,
                f"spoke {FORWARD_RULE}: its pattern is exactly the $or of the hub rules' patterns ({', '.join(rules)})",
                "" if got == wanted else (
                    "not a pattern of one top-level $or" if got is None else
                    f"missing {[w for w in wanted if w not in got]}; extra {[g for g in got if g not in wanted]}"
                ),
            )

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

        forward_key = f"spoke {FORWARD_RULE}"
        patterns = dict(rules)
        if forward is not None:
            patterns[forward_key] = forward
        forwarded_ok: list[str] = []
        forwarded_bad: list[str] = []
        for path, event in handled:
            all_hits = engine.matching(patterns, event)
            hits = [h for h in all_hits if h != forward_key]
            forwarded = forward_key in all_hits
            if is_scheduled(event):
                r.check(not hits, f"{path} (scheduled) matches no rule; the ScheduleV2 event serves it", f"matched {hits}")
            else:
                r.check(bool(hits), f"{path} matches a rule", f"matched {hits}" if hits else "matched none")
            if forward is not None:
                # The spoke forwards what a hub rule takes, and nothing else.
                (forwarded_ok if forwarded == bool(hits) else forwarded_bad).append(path)
        for path, event in ignored:
            all_hits = engine.matching(patterns, event)
            hits = [h for h in all_hits if h != forward_key]
            r.check(not hits, f"{path} matches no rule", f"matched {hits}")
            if forward is not None:
                (forwarded_bad if forward_key in all_hits else forwarded_ok).append(path)
        if forward is not None:
            r.check(
                bool(forwarded_ok) and not forwarded_bad,
                f"spoke {FORWARD_RULE} forwards every handled CloudTrail sample a hub rule matches, and no scheduled or ignored sample",
                f"{len(forwarded_ok)} samples agree" if not forwarded_bad else f"disagree: {', '.join(forwarded_bad)}",
            )
    except Exception as e:  # noqa: BLE001
        r.check(False, f"matching samples with {engine.name}", f"{type(e).__name__}: {e}")
    finally:
        engine.close()


def statement_shape_problems(every: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(wildcard actions and NotAction/NotResource statements, actions on Resource "*" that have
    resource-level permissions)."""
    wild = sorted(a for s in every for a in as_list(s.get("Action", [])) if "*" in str(a))
    not_action = [s.get("Sid", "?") for s in every if "NotAction" in s or "NotResource" in s]
    star = set()
    for s in every:
        if "*" in as_list(s.get("Resource", [])):
            star.update(
                a for a in as_list(s.get("Action", [])) if a not in NO_RESOURCE_LEVEL and not str(a).startswith(NO_RESOURCE_LEVEL_PREFIXES)
            )
    return wild + not_action, sorted(star)


def check_statement_shapes(r: Report, label: str, every: list[dict[str, Any]]) -> None:
    wild, star = statement_shape_problems(every)
    r.check(not wild, f"{label}: no wildcard action, no NotAction/NotResource", ", ".join(wild))
    r.check(not star, f'{label}: Resource "*" only for actions without resource-level permissions', ", ".join(star))


def mode_statements(template: dict[str, Any], policies: Any, **params: Any) -> list[dict[str, Any]]:
    """The statements of `policies` for the given parameters: Fn::If decided where the
    parameters decide the condition, both branches kept where they leave it unknown."""
    conditions = template.get("Conditions", {})
    truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
    return list(statements(resolve_ifs(copy.deepcopy(policies), lambda c: truth[c])))


def _lower(actions: Iterable[str]) -> set[str]:
    # IAM action names are case-insensitive (the code's DescribeDbClusters is the IAM action
    # rds:DescribeDBClusters).
    return {a.lower() for a in actions}


def _where(places: dict[str, list[str]]) -> str:
    return "; ".join(f"{a} (at {', '.join(w[:3])})" for a, w in sorted(places.items()))


def check_iam(r: Report, template: dict[str, Any], calls: dict[str, list[str]]) -> None:
    policies = function_policies(template)
    every = list(statements(resolve_ifs(policies, None)))
    grants = granted(every)
    r.check(bool(grants), f"{FUNCTION} Policies grant actions", f"{len(grants)} actions")
    wild, star = statement_shape_problems(every)
    r.check(not wild, "no wildcard action, no NotAction/NotResource", ", ".join(wild))
    r.check(not star, 'Resource "*" only for actions without resource-level permissions', ", ".join(star))

    # Code against template.
    audit, own = split_calls(calls)
    r.info(f"src/ calls {len(calls)} AWS API actions: {', '.join(sorted(calls)) or 'none'}")
    r.info(
        f"audit calls (src/aws/collect/, apply.rs, locate.rs, from_*.rs; the member's credentials in hub mode): "
        f"{', '.join(sorted(audit)) or 'none'}"
    )
    r.info(f"the function's own calls (every other file): {', '.join(sorted(own)) or 'none'}")
    unknown_crates = sorted(
        {CRATE_SERVICES.get(c, c) for c in re.findall(r"^aws-sdk-([a-z0-9]+)\s*=", Path("Cargo.toml").read_text(), re.M)} - set(SERVICES)
    ) if Path("Cargo.toml").exists() else []
    if unknown_crates:
        r.info(f"Cargo.toml has SDK crates whose calls this script does not look for: {', '.join(unknown_crates)}")

    # Mode account: the role grants what the code calls, nothing of the hub.
    account_grants = granted(mode_statements(template, policies, Mode="account"))
    hub_service_calls = {a for a in calls if a.split(":", 1)[0] in HUB_SERVICES}
    missing = {a: w for a, w in calls.items() if a not in hub_service_calls and a.lower() not in _lower(account_grants)}
    r.check(
        not missing,
        "Mode account: every AWS call in src/ is granted by the template (the hub-only sts, sqs, organizations calls apart)",
        _where(missing),
    )
    unused = sorted(a for a in account_grants if a.lower() not in _lower(calls) and a not in GRANTED_NOT_CALLED)
    r.check(not unused, "Mode account: every granted action is called in src/ (or listed in GRANTED_NOT_CALLED)", ", ".join(unused))
    leaked = sorted(a for a in account_grants if a.split(":", 1)[0] in HUB_SERVICES)
    r.check(not leaked, "Mode account grants no sts, sqs or organizations action (those statements are gated on IsHub)", ", ".join(leaked))

    # Mode hub: the function's own calls, and what reaching the members takes.
    hub_grants = granted(mode_statements(template, policies, Mode="hub"))
    own_missing = {a: w for a, w in own.items() if a.lower() not in _lower(hub_grants)}
    r.check(not own_missing, "Mode hub: every call the function makes itself (outside the audit files) is granted", _where(own_missing))
    required = [a for a in HUB_REQUIRED if a.lower() not in _lower(hub_grants)]
    r.check(not required, f"Mode hub grants {', '.join(HUB_REQUIRED)}", f"missing {required}" if required else "")
    hub_only = sorted(hub_grants - account_grants)
    called = [a for a in hub_only if a.lower() in _lower(own)]
    explained = [a for a in hub_only if a not in called and a in GRANTED_NOT_CALLED]
    pending = [a for a in hub_only if a not in called and a not in explained]
    r.check(
        bool(hub_only) and all(a.split(":", 1)[0] in HUB_SERVICES for a in hub_only),
        "Mode hub adds only sts, sqs and organizations actions to the role",
        ", ".join(hub_only),
    )
    for action in called:
        places = [p for a, w in own.items() if a.lower() == action.lower() for p in w]
        through = CALLED_THROUGH.get(action)
        r.check(
            True,
            f"Mode hub: {action} is called in src/" + (f" through {through[1]}" if through else ""),
            ", ".join(places[:3]),
        )
    for action in explained:
        r.info(f"Mode hub grants {action} without a call in src/: {GRANTED_NOT_CALLED[action]}")
    if pending:
        r.info(
            f"Mode hub grants {', '.join(pending)}, which src/ does not call yet (the hub's code is being written): "
            "reported, not failed; each counts as a call once src/ makes it"
        )
    kept = sorted(a for a in audit if a.lower() not in _lower(own) and a.lower() in _lower(hub_grants))
    r.info(
        f"Mode hub keeps account mode's {len(kept)} audit actions on the function's role (unused in hub mode: the "
        f"hub account is audited through its own spoke): {', '.join(kept)}"
    )
    r.info(
        "SAM adds to the role outside Policies: AWSLambdaBasicExecutionRole (logs) and sqs:SendMessage on "
        "FailedEventsQueue (EventInvokeConfig OnFailure); not compared with the code"
    )


def _eq(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


SPOKE_ROLE_ARN = "arn:${AWS::Partition}:iam::*:role/${SpokeRoleName}"
HUB_BUS_ARN = "arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/${HubBusName}"
HUB_RESOURCES = ("HubBus", "HubBusPolicy", "SweepQueue", "SweepDeadLetterQueue", "SweepQueueMapping")
HUB_OUTPUTS = ("HubBusArn", "SweepQueueUrl")
HUB_ENVIRONMENT = {
    "MODE": {"Ref": "Mode"},
    "SPOKE_ROLE_NAME": {"Ref": "SpokeRoleName"},
    "SPOKE_EXTERNAL_ID": {"Ref": "SpokeExternalId"},
    "MEMBER_ACCOUNTS": {"Fn::Join": [",", {"Ref": "MemberAccounts"}]},
    "MEMBER_REGIONS": {"Fn::Join": [",", {"Ref": "MemberRegions"}]},
    "SWEEP_QUEUE_URL": {"Fn::If": ["IsHub", {"Ref": "SweepQueue"}, ""]},
}
# Lambda's advice for an SQS event source: a visibility timeout of six times the function's.
VISIBILITY_FACTOR = 6


def parameter_problems(template: dict[str, Any], wanted: dict[str, dict[str, Any]]) -> list[str]:
    params = template.get("Parameters", {})
    problems = []
    for name, fields in wanted.items():
        if name not in params:
            problems.append(f"no parameter {name}")
            continue
        for key, value in fields.items():
            got = params[name].get(key)
            if not _eq(got, value):
                problems.append(f"{name}.{key} is {got!r}, not {value!r}")
    return problems


def check_hub(r: Report, template: dict[str, Any]) -> None:
    """Mode hub's pieces of template.yaml, as they must be."""
    res = template.get("Resources", {})
    problems = parameter_problems(template, {
        "Mode": {"Type": "String", "AllowedValues": ["account", "hub"], "Default": "account"},
        "OrganizationId": {"Type": "String", "Default": "", "AllowedPattern": "^$|^o-[a-z0-9]{10,32}$"},
        "MemberAccounts": {"Type": "CommaDelimitedList", "Default": ""},
        "MemberRegions": {"Type": "CommaDelimitedList", "Default": ""},
        "SpokeRoleName": {"Type": "String", "Default": "esm-guard-audit"},
        "SpokeExternalId": {"Type": "String", "Default": "", "NoEcho": True},
    })
    r.check(not problems, "Mode hub parameters: Mode (account/hub, default account), OrganizationId, MemberAccounts, MemberRegions, SpokeRoleName, SpokeExternalId (NoEcho)", "; ".join(problems))
    conditions = template.get("Conditions", {})
    r.check(_eq(conditions.get("IsHub"), {"Fn::Equals": [{"Ref": "Mode"}, "hub"]}), "condition IsHub is Mode = hub")
    rules = template.get("Rules", {})
    refuses = any(
        _eq(rule.get("RuleCondition"), {"Fn::Equals": [{"Ref": "Mode"}, "hub"]})
        and any(_eq(a.get("Assert"), {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}) for a in rule.get("Assertions", []))
        for rule in rules.values() if isinstance(rule, dict)
    )
    r.check(refuses, "a Rules assertion refuses Mode hub without OrganizationId")

    not_gated = [n for n in HUB_RESOURCES if res.get(n, {}).get("Condition") != "IsHub"]
    r.check(not not_gated, f"the hub's resources exist in Mode hub only (Condition IsHub): {', '.join(HUB_RESOURCES)}", ", ".join(not_gated))
    outputs = template.get("Outputs", {})
    bad_outputs = [n for n in HUB_OUTPUTS if outputs.get(n, {}).get("Condition") != "IsHub"]
    r.check(not bad_outputs, f"outputs {', '.join(HUB_OUTPUTS)} exist in Mode hub only", ", ".join(bad_outputs))

    bus = res.get("HubBus", {})
    r.check(bus.get("Type") == "AWS::Events::EventBus" and bus.get("Properties", {}).get("Name") == "esm-guard-hub", "HubBus is the event bus esm-guard-hub")
    policy = res.get("HubBusPolicy", {}).get("Properties", {})
    statement = policy.get("Statement", {})
    r.check(
        res.get("HubBusPolicy", {}).get("Type") == "AWS::Events::EventBusPolicy"
        and _eq(policy.get("EventBusName"), {"Ref": "HubBus"})
        and statement.get("Effect") == "Allow" and statement.get("Principal") == "*"
        and as_list(statement.get("Action")) == ["events:PutEvents"]
        and _eq(statement.get("Resource"), {"Fn::GetAtt": ["HubBus", "Arn"]})
        and _eq(statement.get("Condition"), {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}),
        "HubBusPolicy lets principals of OrganizationId (aws:PrincipalOrgID), and no one else, put events on HubBus",
    )

    queue = res.get("SweepQueue", {}).get("Properties", {})
    dlq = res.get("SweepDeadLetterQueue", {}).get("Properties", {})
    timeout = res.get(FUNCTION, {}).get("Properties", {}).get("Timeout")
    visibility = queue.get("VisibilityTimeout")
    r.check(
        isinstance(timeout, int) and isinstance(visibility, int) and visibility >= VISIBILITY_FACTOR * timeout,
        f"SweepQueue's VisibilityTimeout is at least {VISIBILITY_FACTOR} times {FUNCTION}'s Timeout",
        f"VisibilityTimeout {visibility}, Timeout {timeout}",
    )
    redrive = queue.get("RedrivePolicy", {})
    r.check(
        _eq(redrive, {"deadLetterTargetArn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}, "maxReceiveCount": 3}),
        "SweepQueue redrives to SweepDeadLetterQueue after 3 receives",
        json.dumps(redrive),
    )
    r.check(
        queue.get("SqsManagedSseEnabled") is True and dlq.get("SqsManagedSseEnabled") is True,
        "SweepQueue and SweepDeadLetterQueue are encrypted (SqsManagedSseEnabled)",
    )
    mapping = res.get("SweepQueueMapping", {})
    mp = mapping.get("Properties", {})
    r.check(
        mapping.get("Type") == "AWS::Lambda::EventSourceMapping"
        and _eq(mp.get("FunctionName"), {"Ref": FUNCTION})
        and _eq(mp.get("EventSourceArn"), {"Fn::GetAtt": ["SweepQueue", "Arn"]})
        and mp.get("BatchSize") == 1
        and mp.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
        and _eq(mp.get("ScalingConfig"), {"MaximumConcurrency": 5}),
        f"SweepQueueMapping feeds SweepQueue to {FUNCTION}: BatchSize 1, ReportBatchItemFailures, MaximumConcurrency 5",
    )
    fn = res.get(FUNCTION, {}).get("Properties", {})
    env = fn.get("Environment", {}).get("Variables", {})
    wrong = [k for k, v in HUB_ENVIRONMENT.items() if not _eq(env.get(k), v)]
    r.check(not wrong, f"{FUNCTION}'s environment carries {', '.join(HUB_ENVIRONMENT)}", ", ".join(f"{k}={env.get(k)!r}" for k in wrong))
    buses = {
        n: e.get("Properties", {}).get("EventBusName")
        for n, e in fn.get("Events", {}).items() if e.get("Type") in ("EventBridgeRule", "CloudWatchEvent")
    }
    wanted_bus = {"Fn::If": ["IsHub", {"Ref": "HubBus"}, "default"]}
    off_bus = [n for n, b in buses.items() if not _eq(b, wanted_bus)]
    r.check(bool(buses) and not off_bus, "every EventBridge rule listens on HubBus in Mode hub, on the default bus in Mode account", ", ".join(off_bus))

    # The hub-only statements' shapes.
    every = list(statements(resolve_ifs(function_policies(template), None)))
    assume = [s for s in every if "sts:AssumeRole" in as_list(s.get("Action", []))]
    r.check(
        bool(assume) and all(
            as_list(s.get("Action")) == ["sts:AssumeRole"]
            and _eq(as_list(s.get("Resource")), [_sub(SPOKE_ROLE_ARN)])
            and _eq(s.get("Condition"), {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}})
            for s in assume
        ),
        f"sts:AssumeRole only on {SPOKE_ROLE_ARN}, only within OrganizationId (aws:ResourceOrgID)",
    )
    sqs_statements = [s for s in every if any(str(a).startswith("sqs:") for a in as_list(s.get("Action", [])))]
    r.check(
        bool(sqs_statements) and all(_eq(as_list(s.get("Resource")), [{"Fn::GetAtt": ["SweepQueue", "Arn"]}]) for s in sqs_statements),
        "the role's sqs actions are on SweepQueue only",
    )
    listing = [s for s in every if "organizations:ListAccounts" in as_list(s.get("Action", []))]
    r.info(
        "organizations:ListAccounts is granted only when MemberAccounts is empty (condition HubUsesOrganization); "
        "it answers only in the management account or a delegated administrator"
        if listing else "organizations:ListAccounts is not granted"
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
    check_policy_gating(r, template, function_policies(template), "")


def check_policy_gating(r: Report, template: dict[str, Any], policies: Any, label: str) -> None:
    conditions = template.get("Conditions", {})
    for mode in MODES:
        # off/plan: every other parameter unknown, so a write reachable through any value of
        # them shows. apply: the defaults, and the writes must all be there.
        params = parameter_values(template, RemediationMode=mode) if mode == "apply" else {"RemediationMode": mode}
        try:
            truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
            grants = granted(statements(resolve_ifs(copy.deepcopy(policies), lambda c: truth[c])))
        except (ValueError, KeyError) as e:
            r.check(False, f"{label}RemediationMode={mode}: policies evaluate", str(e))
            continue
        writes = {a for a in grants if a.startswith("ec2:") and not a.startswith(("ec2:Describe", "ec2:Get"))}
        if mode == "apply":
            r.check(writes == REMEDIATION_WRITES, f"{label}RemediationMode=apply grants exactly the remediation writes", f"granted {sorted(writes)}")
        else:
            r.check(not writes, f"{label}RemediationMode={mode} grants no EC2 write action, whatever the other parameters", ", ".join(sorted(writes)))


OPT_OUT_KEY = "aws:ResourceTag/esm-guard:remediate"
TAG_KEYS = {"esm-guard:managed", "esm-guard:reason", "esm-guard:esm-uuid"}
ENDPOINT_SERVICES = {"lambda", "sts", "secretsmanager", "sqs", "sns"}
# An endpoint service name in a write condition: this region's (template.yaml) or any region's
# (the spoke's global role, with StringLike).
SERVICE_NAME = re.compile(r"(?:cn\.)?com\.amazonaws\.(?:\$\{AWS::Region\}|\*)\.([a-z]+)")


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
        exact, like = value("StringEquals", "ec2:VpceServiceName"), value("StringLike", "ec2:VpceServiceName")
        names = exact + like
        matched = [SERVICE_NAME.fullmatch(n) for n in names]
        services = {m.group(1) for m in matched if m}
        # A * is a wildcard under StringLike only (and only for the region there).
        malformed = [n for n, m in zip(names, matched) if not m or ("*" in n and n not in like)]
        if not names or malformed or not services <= ENDPOINT_SERVICES:
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


def check_write_conditions(r: Report, template: dict[str, Any], policies: Any = None, label: str = "") -> None:
    conditions = template.get("Conditions", {})
    params = parameter_values(template, RemediationMode="apply")
    truth = {name: eval_condition(expr, params, conditions) for name, expr in conditions.items()}
    policies = function_policies(template) if policies is None else policies
    every = list(statements(resolve_ifs(copy.deepcopy(policies), lambda c: truth[c])))
    writes = [
        s for s in every
        if any(str(a).startswith("ec2:") and not str(a).startswith(("ec2:Describe", "ec2:Get")) for a in as_list(s.get("Action", [])))
    ]
    problems = [p for s in writes for p in write_condition_problems(s)]
    r.check(bool(writes) and not problems, f"{label}every write statement carries the opt-out, service and tag conditions", "; ".join(problems))
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
            f"{label}tag-on-create: ec2:CreateTags on {kind} is granted for {sorted(calls)}",
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
        r.check(not missing, f"{label}tag-on-create: {sorted(calls)} granted on the new {kind}", f"not granted on {kind}: {missing}" if missing else "")


# Granted by the spoke's AuditRole without an audit call: tag-on-create (see GRANTED_NOT_CALLED).
SPOKE_GRANTED_NOT_CALLED = {"ec2:CreateTags"}


def _like_service_names(statement: dict[str, Any]) -> dict[str, Any]:
    """A rendered statement with ec2:VpceServiceName values holding * under StringLike (the
    spoke's form of template.yaml's StringEquals, once the region is *)."""
    s = copy.deepcopy(statement)
    cond = s.get("Condition") or {}
    names = (cond.get("StringEquals") or {}).get("ec2:VpceServiceName")
    if names is not None and any("*" in str(n) for n in as_list(names)):
        del cond["StringEquals"]["ec2:VpceServiceName"]
        if not cond["StringEquals"]:
            del cond["StringEquals"]
        cond.setdefault("StringLike", {})["ec2:VpceServiceName"] = names
    return s


def check_spoke(r: Report, spoke: dict[str, Any], template: dict[str, Any], calls: dict[str, list[str]]) -> None:
    res = spoke.get("Resources", {})
    r.check("Transform" not in spoke, "template-spoke.yaml is plain CloudFormation (no Transform)")
    fn = template.get("Resources", {}).get(FUNCTION, {}).get("Properties", {})
    hub_params = template.get("Parameters", {})
    problems = parameter_problems(spoke, {
        "HubAccountId": {"Type": "String", "AllowedPattern": "^[0-9]{12}$"},
        "HubRegion": {"Type": "String", "Default": "us-east-1"},
        "HubBusName": {"Type": "String", "Default": template.get("Resources", {}).get("HubBus", {}).get("Properties", {}).get("Name")},
        "RemediationMode": {"Type": "String", "AllowedValues": ["off", "plan", "apply"], "Default": "off"},
        "SpokeRoleName": {"Type": "String", "Default": hub_params.get("SpokeRoleName", {}).get("Default")},
        "ExternalId": {"Type": "String", "Default": "", "NoEcho": True},
        "HubFunctionRolePath": {"Type": "String", "Default": fn.get("RolePath")},
    })
    if "Default" in spoke.get("Parameters", {}).get("HubAccountId", {}):
        problems.append("HubAccountId has a Default")
    r.check(
        not problems,
        "spoke parameters: HubAccountId (12 digits), HubRegion, HubBusName, RemediationMode, SpokeRoleName, ExternalId (NoEcho), "
        "HubFunctionRolePath; their defaults are template.yaml's bus name, spoke role name and function RolePath",
        "; ".join(problems),
    )

    rule = res.get(FORWARD_RULE, {})
    rp = rule.get("Properties", {})
    targets = as_list(rp.get("Targets", []))
    r.check(
        rule.get("Type") == "AWS::Events::Rule" and rp.get("EventBusName", "default") == "default" and rp.get("State", "ENABLED") == "ENABLED"
        and len(targets) == 1
        and _eq(targets[0].get("Arn"), _sub(HUB_BUS_ARN))
        and _eq(targets[0].get("RoleArn"), {"Fn::GetAtt": ["ForwardRole", "Arn"]}),
        f"spoke {FORWARD_RULE}: on the default bus, one target: the hub bus {HUB_BUS_ARN}, with ForwardRole",
    )
    role = res.get("ForwardRole", {}).get("Properties", {})
    trust = as_list(role.get("AssumeRolePolicyDocument", {}).get("Statement", []))
    r.check(
        len(trust) == 1 and _eq(trust[0].get("Principal"), {"Service": "events.amazonaws.com"})
        and as_list(trust[0].get("Action")) == ["sts:AssumeRole"]
        and _eq(trust[0].get("Condition"), {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}),
        "spoke ForwardRole: EventBridge of this account (aws:SourceAccount) assumes it",
    )
    forward_statements = list(statements([e.get("PolicyDocument", {}) for e in as_list(role.get("Policies", []))]))
    r.check(
        granted(forward_statements) == {"events:PutEvents"}
        and all(_eq(as_list(s.get("Resource")), [_sub(HUB_BUS_ARN)]) for s in forward_statements),
        "spoke ForwardRole may events:PutEvents on the hub bus and nothing else",
    )

    audit_role = res.get(AUDIT_ROLE, {})
    ap = audit_role.get("Properties", {})
    trust = as_list(ap.get("AssumeRolePolicyDocument", {}).get("Statement", []))
    t0 = trust[0] if len(trust) == 1 else {}
    cond = t0.get("Condition", {}) or {}
    r.check(
        audit_role.get("Type") == "AWS::IAM::Role" and _eq(ap.get("RoleName"), {"Ref": "SpokeRoleName"}),
        f"spoke {AUDIT_ROLE} is named SpokeRoleName",
    )
    r.check(
        len(trust) == 1 and t0.get("Effect") == "Allow"
        and _eq(t0.get("Principal"), {"AWS": _sub("arn:${AWS::Partition}:iam::${HubAccountId}:root")})
        and as_list(t0.get("Action")) == ["sts:AssumeRole"]
        and _eq(cond.get("ArnLike"), {"aws:PrincipalArn": _sub("arn:${AWS::Partition}:iam::${HubAccountId}:role${HubFunctionRolePath}*")})
        and _eq(cond.get("StringEquals"), {"Fn::If": ["HasExternalId", {"sts:ExternalId": {"Ref": "ExternalId"}}, {"Ref": "AWS::NoValue"}]})
        and set(cond) == {"ArnLike", "StringEquals"}
        and _eq(spoke.get("Conditions", {}).get("HasExternalId"), {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]}),
        f"spoke {AUDIT_ROLE}: only roles under HubFunctionRolePath of HubAccountId assume it, with sts:ExternalId when ExternalId is set",
    )

    policies = spoke_policies(spoke)
    every = list(statements(resolve_ifs(policies, None)))
    check_statement_shapes(r, f"spoke {AUDIT_ROLE}", every)
    grants = granted(every)
    audit, _own = split_calls(calls)
    missing = {a: w for a, w in audit.items() if a.lower() not in _lower(grants)}
    r.check(not missing, f"spoke {AUDIT_ROLE} grants every audit call in src/", _where(missing))
    extra = sorted(a for a in grants if a.lower() not in _lower(audit) and a not in SPOKE_GRANTED_NOT_CALLED)
    r.check(not extra, f"spoke {AUDIT_ROLE} grants nothing but the audit calls (and ec2:CreateTags for tag-on-create)", ", ".join(extra))
    check_policy_gating(r, spoke, policies, f"spoke {AUDIT_ROLE}: ")
    check_write_conditions(r, spoke, policies, f"spoke {AUDIT_ROLE}: ")

    # The same statements as template.yaml's audit statements, in every region of the member.
    account = RENDER_DEFAULTS["account"]
    hub_params_apply = parameter_values(template, RemediationMode="apply")
    spoke_params_apply = parameter_values(spoke, RemediationMode="apply")
    try:
        hub_renderer = Renderer(template, {k: v for k, v in hub_params_apply.items() if not k.startswith("AWS::")}, account, "*", "aws")
        spoke_renderer = Renderer(spoke, {k: v for k, v in spoke_params_apply.items() if not k.startswith("AWS::")}, account, "us-east-1", "aws")
        audit_actions = _lower(audit) | _lower(SPOKE_GRANTED_NOT_CALLED)
        hub_audit = {
            s.get("Sid"): _like_service_names(hub_renderer.render(s))
            for s in mode_statements(template, function_policies(template), **hub_params_apply)
            if all(str(a).lower() in audit_actions for a in as_list(s.get("Action", [])))
        }
        spoke_all = {s.get("Sid"): spoke_renderer.render(s) for s in mode_statements(spoke, policies, **spoke_params_apply)}
    except RenderError as e:
        r.check(False, f"spoke {AUDIT_ROLE}'s statements render for the comparison with template.yaml", str(e))
        return
    r.check(
        set(spoke_all) == set(hub_audit),
        f"spoke {AUDIT_ROLE} has exactly template.yaml's audit statements (by Sid)",
        ", ".join(str(s) for s in sorted(spoke_all, key=str)) if set(spoke_all) == set(hub_audit) else
        f"only in the spoke: {sorted(set(spoke_all) - set(hub_audit), key=str)}; only in template.yaml: {sorted(set(hub_audit) - set(spoke_all), key=str)}",
    )
    differ = sorted((sid for sid in set(spoke_all) & set(hub_audit) if not _eq(spoke_all[sid], hub_audit[sid])), key=str)
    r.check(
        not differ,
        f"spoke {AUDIT_ROLE}'s statements are template.yaml's with every region (*) of the member account",
        "; ".join(f"{sid}: spoke {json.dumps(spoke_all[sid], sort_keys=True)} vs {json.dumps(hub_audit[sid], sort_keys=True)}" for sid in differ)[:2000],
    )
    r.check(
        _eq(spoke.get("Outputs", {}).get("AuditRoleArn", {}).get("Value"), {"Fn::GetAtt": [AUDIT_ROLE, "Arn"]}),
        "spoke output AuditRoleArn",
    )
    if audit_role.get("Condition"):
        r.info(
            f"spoke {AUDIT_ROLE} is created by the stack instance of one region only (Condition {audit_role['Condition']}): "
            "IAM is global and the role's name is fixed; the StackSet's regions must include that region"
        )


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
            if isinstance(self.params[name], list):
                raise RenderError(f"Ref {name}: a list parameter, renderable only inside Fn::Join")
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
                    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
                        raise RenderError(f"Fn::Join of {arg!r}")
                    items = arg[1]
                    if isinstance(items, dict) and set(items) == {"Ref"} and isinstance(self.params.get(items["Ref"]), list):
                        return arg[0].join(str(x) for x in self.params[items["Ref"]])
                    if not isinstance(items, list):
                        raise RenderError(f"Fn::Join of {arg!r}")
                    return arg[0].join(str(self.render(x)) for x in items)
                if key.startswith("Fn::"):
                    raise RenderError(f"{key} is not supported")
            return {k: self.render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.render(v) for v in node]
        return node


DEFAULT_ORGANIZATION_ID = "o-a1b2c3d4e5"


def render_policy(
    template: dict[str, Any],
    mode: str,
    account: str,
    region: str,
    partition: str,
    *,
    spoke: bool = False,
    hub: bool = False,
    organization_id: str = DEFAULT_ORGANIZATION_ID,
) -> dict[str, Any]:
    """GuardFunction's Policies statements for RemediationMode=mode (the other parameters at their
    defaults; with hub, Mode=hub and OrganizationId=organization_id), or with spoke the spoke's
    AuditRole Policies for its RemediationMode=mode; Fn::If resolved, every Ref/GetAtt/Sub
    rendered: {"Statement": [...]}."""
    overrides: dict[str, Any] = {"RemediationMode": mode}
    if hub:
        overrides.update(Mode="hub", OrganizationId=organization_id)
    params = parameter_values(template, **overrides)
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

    owner = AUDIT_ROLE if spoke else FUNCTION
    try:
        policies = spoke_policies(template) if spoke else function_policies(template)
    except KeyError as e:
        raise RenderError(f"no {owner} in the template ({e})")
    resolved = resolve_ifs(copy.deepcopy(policies), decide)
    renderer = Renderer(template, {k: v for k, v in params.items() if not k.startswith("AWS::")}, account, region, partition)
    out = []
    for policy in as_list(resolved):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise RenderError(f"{owner} Policies holds {policy!r}: only inline policy documents can be rendered")
        out.extend(renderer.render(s) for s in as_list(policy["Statement"]))
    return {"Statement": out}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Checks template.yaml and template-spoke.yaml against events/ and src/; with --render-policy, "
        "prints a role's policy.",
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
        "--template",
        choices=("main", "spoke"),
        default=None,
        help="with --render-policy: main (template.yaml's GuardFunction, the default) or spoke (template-spoke.yaml's "
        "AuditRole, for its RemediationMode=MODE; --account is the member account)",
    )
    parser.add_argument("--spoke", action="store_true", help="with --render-policy: the same as --template spoke")
    parser.add_argument(
        "--hub",
        action="store_true",
        help="with --render-policy: GuardFunction's policy in Mode hub (template.yaml only)",
    )
    parser.add_argument(
        "--organization-id",
        help=f"with --render-policy --hub: the OrganizationId (default {DEFAULT_ORGANIZATION_ID})",
    )
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
        given = [f"--{k}" for k in ("account", "region", "partition", "template") if getattr(args, k) is not None]
        given += [f"--{k}" for k in ("spoke", "hub") if getattr(args, k)]
        if args.organization_id is not None:
            given.append("--organization-id")
        if args.without_statement is not None:
            given.append("--without-statement")
        if given:
            parser.error(f"{', '.join(given)}: only with --render-policy")
        return args
    if args.render_policy not in MODES:
        parser.error(f"--render-policy: MODE must be one of {', '.join(MODES)}, not {args.render_policy!r}")
    if args.spoke and args.template == "main":
        parser.error("--spoke and --template main contradict each other")
    args.spoke = args.spoke or args.template == "spoke"
    if args.hub and args.spoke:
        parser.error("--hub renders template.yaml's function role; the spoke has no Mode")
    if args.organization_id is not None and not args.hub:
        parser.error("--organization-id: only with --hub")
    if args.hub:
        if args.organization_id is None:
            args.organization_id = DEFAULT_ORGANIZATION_ID
        elif not re.fullmatch(r"o-[a-z0-9]{10,32}", args.organization_id):
            parser.error(f"--organization-id: {args.organization_id!r} is not an organization id like o-a1b2c3d4e5")
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
        path = SPOKE_TEMPLATE if args.spoke else TEMPLATE
        try:
            if not path.exists():
                raise RenderError(f"no {path} here")
            document = render_policy(
                load_template(path),
                args.render_policy,
                args.account,
                args.region,
                args.partition,
                spoke=args.spoke,
                hub=args.hub,
                organization_id=args.organization_id or DEFAULT_ORGANIZATION_ID,
            )
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
    check_cfn_lint(r, (TEMPLATE, SPOKE_TEMPLATE))
    try:
        template = load_template(TEMPLATE)
    except Exception as e:  # noqa: BLE001
        r.check(False, "template.yaml parses", f"{type(e).__name__}: {e}")
        template = None
    try:
        spoke = load_template(SPOKE_TEMPLATE)
    except Exception as e:  # noqa: BLE001
        r.check(False, f"{SPOKE_TEMPLATE} parses", f"{type(e).__name__}: {e}")
        spoke = None
    if template is not None:
        calls = code_calls(SRC)
        check_events(r, template, spoke)
        check_iam(r, template, calls)
        check_hub(r, template)
        check_gating(r, template)
        check_write_conditions(r, template)
        if spoke is not None:
            check_spoke(r, spoke, template, calls)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
