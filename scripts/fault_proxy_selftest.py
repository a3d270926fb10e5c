#!/usr/bin/env python3
"""Self-test of scripts/fault_proxy.py: starts the emulator and the proxy in front of it the way
the Rust tests would, and checks them with boto3 through the proxy.

Run: .venv/bin/python scripts/fault_proxy_selftest.py
The last line is "N passed, M failed"; the exit status is non-zero when anything failed.

Where a fault must surface, clients make exactly one attempt: botocore's
``retries={"total_max_attempts": 1}`` (its ``max_attempts`` counts *retries*, so
``{"max_attempts": 1}`` would make two attempts and hide a one-shot fault).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
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
PROXY = os.path.join(HERE, "fault_proxy.py")
REGION = "us-east-1"
# what botocore raises when the connection is reset before or during the response
CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    return start([EMULATOR, "--host", "127.0.0.1", "--port", "0"], "emulator")


def start_proxy(upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    return start([PROXY, "--upstream", upstream, "--host", "127.0.0.1", "--port", "0"], "fault proxy")


class Ctx:
    def __init__(self, proxy: str, emulator: str):
        self.url = proxy
        self.emulator = emulator

    def client(self, service: str, account: str, attempts: int = 1, read_timeout: float = 10) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=account,
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=5,
                          read_timeout=read_timeout),
        )

    def control(self, method: str, path: str, payload: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def fault(self, rule: Any) -> Any:
        status, body = self.control("POST", "/_proxy/faults", rule)
        assert status == 200, (status, body)
        return body["faults"]

    def faults(self) -> list[dict[str, Any]]:
        status, body = self.control("GET", "/_proxy/faults")
        assert status == 200, body
        return body["faults"]

    def log(self, account: str) -> list[dict[str, Any]]:
        status, body = self.control("GET", f"/_proxy/requests?account={account}")
        assert status == 200, body
        return body

    def upstream_log(self, account: str) -> list[str]:
        """The emulator's own request log (read through the proxy), as actions."""
        status, body = self.control("GET", f"/_esm_guard/requests?account={account}")
        assert status == 200, body
        return [e["action"] for e in body]

    def signed(self, service: str, account: str, body: str, method: str = "POST", path: str = "/",
               headers: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        """A SigV4-signed request to the proxy, a form POST (query/EC2 protocol) unless told
        otherwise: (host, headers)."""
        host = self.url.split("//", 1)[1]
        if headers is None:
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} if body else {}
        req = AWSRequest(method=method, url=self.url + path, data=body, headers=headers)
        SigV4Auth(Credentials(account, "secret"), service, REGION).add_auth(req)
        return host, dict(req.headers)

    def wire_request(self, service: str, account: str, body: str) -> tuple[tuple[str, int], bytes]:
        """A signed form POST as raw bytes: ((host, port), request)."""
        host, headers = self.signed(service, account, body)
        request = (
            "POST / HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in ("host", "content-length"))
            + f"Host: {host}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        h, p = host.rsplit(":", 1)
        return (h, int(p)), request

    def wait_for_log(self, account: str, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The proxy's log of `account` once it has at least `n` entries."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log(account)
            if len(log) >= n or time.monotonic() > deadline:
                return log
            time.sleep(0.02)


def entry(action: str, account: str, service: str = "ec2", paged: bool = False, fault: str | None = None) -> dict[str, Any]:
    return {"service": service, "action": action, "account": account, "paged": paged, "fault": fault}


def error_code(call: Callable[[], Any]) -> tuple[str, int, dict[str, Any]]:
    try:
        call()
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"], err.response
    raise AssertionError("call did not fail")


def connection_error(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except CONNECTION_ERRORS as err:
        return err
    raise AssertionError("call did not fail with a connection error")


def vpc_with_subnets(ec2: Any, n: int, second_octet: int) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.{i}.0/24")["Subnet"]["SubnetId"] for i in range(n)]
    return vpc, subnets


def raw_exchange(host: str, request: bytes) -> tuple[bytes, str]:
    """Sends raw bytes, reads until the peer closes: (bytes received, "eof" | "reset")."""
    h, p = host.rsplit(":", 1)
    with socket.create_connection((h, int(p)), timeout=10) as s:
        s.sendall(request)
        got = b""
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                return got, "reset"
            if not data:
                return got, "eof"
            got += data


FRAMING_HEADERS = ("content-length", "transfer-encoding", "connection")


def read_response(sock: socket.socket) -> dict[str, Any]:
    """Reads one response off `sock` by its own framing: {"status", "reason", "headers" (names
    lower-cased, repeated ones joined by ", "), "body", and "chunks" (sizes; chunked only) or "end" ("eof" | "reset";
    close-delimited only)}.  Fails on a malformed chunked body."""
    f = sock.makefile("rb")
    try:
        _, status, reason = f.readline().decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.lower()
            assert name not in headers or name not in FRAMING_HEADERS, f"header {name} twice"
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        result: dict[str, Any] = {"status": int(status), "reason": reason, "headers": headers}
        if "chunked" in headers.get("transfer-encoding", ""):
            body, chunks = b"", []
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    assert f.readline() == b"\r\n", "no CRLF after the last chunk"
                    break
                chunk = f.read(size)
                assert len(chunk) == size and f.read(2) == b"\r\n", "short chunk"
                body += chunk
                chunks.append(size)
            result.update(body=body, chunks=chunks)
        elif "content-length" in headers:
            result["body"] = f.read(int(headers["content-length"]))
        else:
            body, end = b"", "eof"
            try:
                while True:
                    data = f.read1(65536)
                    if not data:
                        break
                    body += data
            except ConnectionResetError:
                end = "reset"
            result.update(body=body, end=end)
        return result
    finally:
        f.close()  # the socket stays open


# --------------------------------------------------------------------------- checks

CHECKS: list[Callable[[Ctx], None]] = []


def check(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    CHECKS.append(fn)
    return fn


@check
def forwards_ec2_rest_and_json(ctx: Ctx) -> None:
    account = "300000000001"
    ec2 = ctx.client("ec2", account)
    vpc, subnets = vpc_with_subnets(ec2, 3, 31)
    described = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert sorted(s["SubnetId"] for s in described["Subnets"]) == sorted(subnets), described
    assert all(s["OwnerId"] == account for s in described["Subnets"])
    headers = described["ResponseMetadata"]["HTTPHeaders"]
    assert "transfer-encoding" not in headers and headers.get("content-length"), headers
    assert ctx.client("lambda", account).list_event_source_mappings()["EventSourceMappings"] == []
    assert ctx.client("sts", account).get_caller_identity()["Account"] == account
    assert ctx.client("dynamodb", account).list_tables()["TableNames"] == []
    expected = [entry("CreateVpc", account)] + [entry("CreateSubnet", account)] * 3 + [
        entry("DescribeSubnets", account),
        entry("GET /2015-03-31/event-source-mappings", account, "lambda"),
        entry("GetCallerIdentity", account, "sts"),
        entry("ListTables", account, "dynamodb"),
    ]
    assert ctx.log(account) == expected, ctx.log(account)
    # everything reached the emulator (whose log is read through the proxy: control endpoints are forwarded)
    assert ctx.upstream_log(account) == ["CreateVpc"] + ["CreateSubnet"] * 3 + [
        "DescribeSubnets", "ListEventSourceMappings", "GetCallerIdentity", "ListTables"
    ], ctx.upstream_log(account)
    # the log filters and clears per account
    assert ctx.control("GET", f"/_proxy/requests?account={account}&service=sts")[1] == [entry("GetCallerIdentity", account, "sts")]
    assert ctx.control("DELETE", f"/_proxy/requests?account={account}")[0] == 200
    assert ctx.log(account) == []


@check
def keep_alive_chunked_bodies_and_errors_relayed(ctx: Ctx) -> None:
    account = "300000000002"
    host, headers = ctx.signed("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("GET", "/_proxy/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True
        sock = conn.sock
        conn.request("GET", "/_esm_guard/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"ok": True}
        # a chunked request body, on the same connection
        body = b"Action=DescribeVpcs&Version=2016-11-15"
        chunked = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        conn.request("POST", "/", body=iter([body[:10], body[10:]]), headers=chunked, encode_chunked=True)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200 and b"<DescribeVpcsResponse" in data, (resp.status, data[:300])
        assert int(resp.getheader("Content-Length")) == len(data)
        # an upstream error is relayed as it is (status, headers, body)
        conn.request("POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-00000000", headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 400 and b"InvalidVpcID.NotFound" in data, (resp.status, data[:300])
        assert conn.sock is sock, "the proxy did not keep the connection alive"
    finally:
        conn.close()
    assert ctx.log(account) == [entry("DescribeVpcs", account)] * 2, ctx.log(account)


@check
def reset_on_page_two_of_describe_subnets(ctx: Ctx) -> None:
    account = "300000000003"
    ec2 = ctx.client("ec2", account)
    vpc, subnets = vpc_with_subnets(ec2, 7, 33)
    ctx.control("DELETE", f"/_proxy/requests?account={account}")
    ctx.control("DELETE", f"/_esm_guard/requests?account={account}")
    rule = {"action": "DescribeSubnets", "paged": True, "reset": True, "count": 1, "account": account}
    assert ctx.fault(rule) == [{"action": "DescribeSubnets", "account": account, "paged": True, "skip": 0, "count": 1, "reset": True}]
    filters = [{"Name": "vpc-id", "Values": [vpc]}]
    pages: list[int] = []

    def paginate(client: Any) -> list[str]:
        ids = []
        for page in client.get_paginator("describe_subnets").paginate(MaxResults=5, Filters=filters):
            pages.append(len(page["Subnets"]))
            ids.extend(s["SubnetId"] for s in page["Subnets"])
        return ids

    err = connection_error(lambda: paginate(ec2))
    assert isinstance(err, botocore.exceptions.ConnectionClosedError), repr(err)
    assert pages == [5], pages  # page 1 passed, page 2 failed
    assert ctx.log(account) == [
        entry("DescribeSubnets", account),
        entry("DescribeSubnets", account, paged=True, fault="reset"),
    ], ctx.log(account)
    assert ctx.upstream_log(account) == ["DescribeSubnets"]  # the reset request never reached the emulator
    assert ctx.faults() == []
    # with retries, the paginator gets over the reset and returns every subnet
    ctx.fault(rule)
    ctx.control("DELETE", f"/_proxy/requests?account={account}")
    pages.clear()
    assert sorted(paginate(ctx.client("ec2", account, attempts=3))) == sorted(subnets)
    assert pages == [5, 2], pages
    assert ctx.log(account) == [
        entry("DescribeSubnets", account),
        entry("DescribeSubnets", account, paged=True, fault="reset"),
        entry("DescribeSubnets", account, paged=True),
    ], ctx.log(account)


@check
def reset_and_truncate_on_the_wire(ctx: Ctx) -> None:
    account = "300000000004"
    body = "Action=DescribeVpcs&Version=2016-11-15"
    host, headers = ctx.signed("ec2", account, body)
    request = (
        "POST / HTTP/1.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in ("host", "content-length"))
        + f"Host: {host}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    ctx.fault({"action": "DescribeVpcs", "account": account, "reset": True, "count": 1})
    got, end = raw_exchange(host, request)
    assert (got, end) == (b"", "reset"), (got[:200], end)
    ctx.fault({"action": "DescribeVpcs", "account": account, "truncate": True, "count": 1})
    got, end = raw_exchange(host, request)
    assert end == "reset", end
    head, _, partial = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    length = int([line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")][0])
    assert length > 100 and len(partial) == length // 2, (length, len(partial))
    assert ctx.log(account) == [entry("DescribeVpcs", account, fault="reset"), entry("DescribeVpcs", account, fault="truncate")]
    assert ctx.upstream_log(account) == ["DescribeVpcs"]  # truncate forwards, reset does not


@check
def truncate_surfaces_in_boto3(ctx: Ctx) -> None:
    account = "300000000005"
    ec2 = ctx.client("ec2", account)
    ec2.describe_vpcs()
    ctx.fault({"action": "DescribeVpcs", "account": account, "truncate": True, "count": 1})
    err = connection_error(ec2.describe_vpcs)
    assert "closed" in str(err).lower() or "connection" in str(err).lower(), repr(err)
    assert ec2.describe_vpcs()["Vpcs"] is not None
    lam = ctx.client("lambda", account)
    ctx.fault({"action": "*", "service": "lambda", "account": account, "path_prefix": "/2015-03-31/event-source-mappings",
               "truncate": True, "count": 1})
    connection_error(lam.list_event_source_mappings)
    assert [e["fault"] for e in ctx.log(account)] == [None, "truncate", None, "truncate"], ctx.log(account)


@check
def status_errors_in_each_protocol(ctx: Ctx) -> None:
    account = "300000000006"
    ctx.fault([
        {"action": "DescribeVpcs", "account": account, "status": 503, "code": "ServiceUnavailable", "count": 1},
        {"action": "*", "service": "lambda", "account": account, "path_prefix": "/2015-03-31/event-source-mappings",
         "status": 503, "code": "ServiceUnavailable", "message": "try later", "count": 1},
        {"action": "GetCallerIdentity", "account": account, "status": 403, "code": "AccessDenied", "count": 1},
        {"action": "ListTables", "service": "dynamodb", "account": account, "status": 400,
         "code": "ResourceInUseException", "count": 1},
    ])
    code, status, resp = error_code(ctx.client("ec2", account).describe_vpcs)
    assert (code, status) == ("ServiceUnavailable", 503), resp
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid"), resp
    code, status, resp = error_code(ctx.client("lambda", account).list_event_source_mappings)
    assert (code, status, resp["Error"]["Message"]) == ("ServiceUnavailable", 503, "try later"), resp
    assert error_code(ctx.client("sts", account).get_caller_identity)[:2] == ("AccessDenied", 403)
    assert error_code(ctx.client("dynamodb", account).list_tables)[:2] == ("ResourceInUseException", 400)
    assert ctx.faults() == [] or all(f.get("account") != account for f in ctx.faults())
    assert [e["fault"] for e in ctx.log(account)] == ["status"] * 4
    assert ctx.upstream_log(account) == []  # answered by the proxy
    # used up: the same calls now go through
    ctx.client("ec2", account).describe_vpcs()
    ctx.client("lambda", account).list_event_source_mappings()


@check
def skip_count_and_delay(ctx: Ctx) -> None:
    account = "300000000007"
    ec2 = ctx.client("ec2", account)
    ctx.fault({"action": "DescribeVpcs", "account": account, "skip": 1, "count": 1, "status": 400, "code": "Boom"})
    ec2.describe_vpcs()
    assert [(f["skip"], f["count"]) for f in ctx.faults() if f.get("account") == account] == [(0, 1)]
    assert error_code(ec2.describe_vpcs)[0] == "Boom"
    ec2.describe_vpcs()
    assert [f for f in ctx.faults() if f.get("account") == account] == []
    # unlimited count, skip 2
    ctx.fault({"action": "DescribeVpcs", "account": account, "skip": 2, "status": 500})
    ec2.describe_vpcs()
    ec2.describe_vpcs()
    assert error_code(ec2.describe_vpcs)[:2] == ("InternalFailure", 500)
    assert error_code(ec2.describe_vpcs)[:2] == ("InternalFailure", 500)
    assert [(f["skip"], f["count"]) for f in ctx.faults() if f.get("account") == account] == [(0, None)]
    ctx.control("DELETE", f"/_proxy/faults?account={account}")
    # paged: false only hits requests without a token
    ctx.fault({"action": "DescribeVpcs", "account": account, "paged": False, "status": 400, "code": "First", "count": 1})
    assert error_code(ec2.describe_vpcs)[0] == "First"
    # delay alone forwards after the wait
    ctx.fault({"action": "DescribeVpcs", "account": account, "delay_ms": 300, "count": 1})
    started = time.monotonic()
    ec2.describe_vpcs()
    assert time.monotonic() - started >= 0.3
    assert [e["fault"] for e in ctx.log(account)] == [None, "status", None, None, None, "status", "status", "status", "delay"]


@check
def rules_of_other_accounts_do_not_fire(ctx: Ctx) -> None:
    mine, other = "300000000008", "300000000009"
    ctx.fault([
        {"action": "*", "account": other, "reset": True},
        {"action": "DescribeVpcs", "account": mine, "status": 503, "count": 5},
    ])
    ec2 = ctx.client("ec2", mine)
    ec2.describe_subnets()
    ctx.client("sts", mine).get_caller_identity()
    assert error_code(ec2.describe_vpcs)[0] == "ServiceUnavailable"
    assert [(f["account"], f["count"]) for f in ctx.faults() if f.get("account") in (mine, other)] == [(other, None), (mine, 4)]
    connection_error(ctx.client("ec2", other).describe_vpcs)
    assert ctx.control("DELETE", f"/_proxy/faults?account={mine}")[0] == 200
    assert [f["account"] for f in ctx.faults() if f.get("account") in (mine, other)] == [other]
    ec2.describe_vpcs()
    assert ctx.control("DELETE", f"/_proxy/faults?account={other}")[0] == 200
    ctx.client("ec2", other).describe_vpcs()
    assert [e["fault"] for e in ctx.log(mine)] == [None, None, "status", None]
    assert [e["fault"] for e in ctx.log(other)] == ["reset", None]


@check
def bad_rules_are_rejected(ctx: Ctx) -> None:
    before = ctx.faults()
    cases = [
        ({"action": "X", "reset": True, "bogus": 1}, "bogus"),
        ({"reset": True}, "action"),
        ({"action": "", "reset": True}, "action"),
        ({"action": "X", "status": 200}, "status"),
        ({"action": "X", "status": "503"}, "status"),
        ({"action": "X", "reset": True, "count": 0}, "count"),
        ({"action": "X", "reset": True, "skip": -1}, "skip"),
        ({"action": "X", "reset": True, "skip": True}, "skip"),
        ({"action": "X", "reset": True, "paged": "yes"}, "paged"),
        ({"action": "X", "reset": "yes"}, "reset"),
        ({"action": "X", "truncate": 1}, "truncate"),
        ({"action": "X", "reset": True, "status": 500}, "reset and status"),
        ({"action": "X", "reset": True, "truncate": True}, "reset and truncate"),
        ({"action": "X", "delay_ms": -5}, "delay_ms"),
        ({"action": "X", "delay_ms": "fast"}, "delay_ms"),
        ({"action": "X", "code": "Boom"}, "code"),
        ({"action": "X", "status": 400, "code": 7}, "code"),
        ({"action": "X", "status": 400, "message": 7}, "message"),
        ({"action": "X", "path_prefix": "no-slash", "reset": True}, "path_prefix"),
        ({"action": "X", "service": 3, "reset": True}, "service"),
        ({"action": "X"}, "effect"),
        ({"action": "X", "reset": False}, "effect"),
        ([{"action": "X", "reset": True}, {"action": "Y", "status": 99}], "rule 1: status"),
        ("reset", "JSON object"),
    ]
    for rule, field in cases:
        status, body = ctx.control("POST", "/_proxy/faults", rule)
        assert status == 400 and field in body.get("error", ""), (rule, status, body)
    status, body = ctx.control("POST", "/_proxy/faults", raw=b"{not json")
    assert status == 400 and "JSON" in body["error"], body
    assert ctx.control("GET", "/_proxy/nope")[0] == 404
    assert ctx.faults() == before  # nothing was added, not even the good rule of the bad list


@check
def upstream_reset_is_mirrored(ctx: Ctx) -> None:
    account = "300000000010"
    # the emulator's own fault, set through the proxy
    status, _ = ctx.control("POST", "/_esm_guard/faults", {"action": "DescribeVpcs", "account": account, "reset": True, "count": 1})
    assert status == 200
    connection_error(ctx.client("ec2", account).describe_vpcs)
    ctx.client("ec2", account).describe_vpcs()
    assert [e["fault"] for e in ctx.log(account)] == [None, None]


@check
def concurrent_faults_leave_the_proxy_up(ctx: Ctx) -> None:
    account = "300000000011"
    ctx.fault([
        {"action": "DescribeVpcs", "account": account, "reset": True, "count": 6},
        {"action": "DescribeSubnets", "account": account, "truncate": True, "count": 4},
    ])
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            ec2 = ctx.client("ec2", account, attempts=12)
            for _ in range(5):
                (ec2.describe_vpcs if i % 2 else ec2.describe_subnets)()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    log = ctx.log(account)
    faults = sorted(e["fault"] or "-" for e in log)
    assert faults == ["-"] * 40 + ["reset"] * 6 + ["truncate"] * 4, faults
    assert ctx.control("GET", "/_proxy/health")[1]["ok"] is True


@check
def cut_on_the_wire_in_each_framing(ctx: Ctx) -> None:
    account = "300000000012"
    ec2 = ctx.client("ec2", account)
    for i in range(3):
        ec2.create_vpc(CidrBlock=f"10.{40 + i}.0.0/16")
    address, request = ctx.wire_request("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")
    with socket.create_connection(address, timeout=10) as s:
        s.sendall(request)
        whole = read_response(s)
    assert whole["status"] == 200 and len(whole["body"]) > 1000, whole
    cut_length = math.floor(len(whole["body"]) * 0.37)
    for framing in ("length", "chunked", "close"):
        shown = ctx.fault({"action": "DescribeVpcs", "account": account, "cut": {"at": 0.37, "framing": framing}, "count": 1})
        assert [f for f in shown if f.get("account") == account] == [
            {"action": "DescribeVpcs", "account": account, "skip": 0, "count": 1, "cut": {"at": 0.37, "framing": framing}}
        ], shown
        with socket.create_connection(address, timeout=10) as s:
            s.sendall(request)
            got = read_response(s)
            headers = got["headers"]
            assert (got["status"], got["reason"]) == (200, "OK"), (framing, got)
            assert got["body"] == whole["body"][:cut_length], (framing, len(got["body"]), cut_length)
            assert headers.get("content-type") == whole["headers"]["content-type"], (framing, headers)
            assert headers.get("x-amzn-requestid"), (framing, headers)
            if framing == "length":
                assert headers.get("content-length") == str(cut_length) and "transfer-encoding" not in headers, headers
            elif framing == "chunked":
                assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers, headers
                assert len(got["chunks"]) >= 1 and sum(got["chunks"]) == cut_length, got["chunks"]
            else:
                assert "content-length" not in headers and "transfer-encoding" not in headers, headers
                assert headers.get("connection") == "close", headers
                assert got["end"] == "eof", got["end"]  # FIN, not RST
                continue
            assert headers.get("connection") != "close", headers
            # the connection is still usable: the next answer on it is whole
            s.sendall(request)
            again = read_response(s)
            assert again["status"] == 200 and again["body"] == whole["body"], (framing, again["headers"])
    # http.client takes each framing as a complete answer, too
    for framing in ("length", "chunked", "close"):
        ctx.fault({"action": "DescribeVpcs", "account": account, "cut": {"at": 0.37, "framing": framing}, "count": 1})
        conn = http.client.HTTPConnection(*address, timeout=10)
        try:
            conn.request("POST", "/", body=request.split(b"\r\n\r\n", 1)[1],
                         headers=ctx.signed("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")[1])
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == whole["body"][:cut_length], framing
        finally:
            conn.close()
    faults = [e["fault"] for e in ctx.log(account)]
    assert faults == [None] * 4 + ["cut", None, "cut", None, "cut"] + ["cut"] * 3, faults
    assert ctx.upstream_log(account) == ["CreateVpc"] * 3 + ["DescribeVpcs"] * 9  # cut forwards


@check
def cut_answer_in_boto3(ctx: Ctx) -> None:
    """Records (does not assert) what boto3 makes of a DescribeVpcs answer cut with length framing."""
    account = "300000000013"
    ec2 = ctx.client("ec2", account)
    created = {ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)}
    whole = ec2.describe_vpcs()["Vpcs"]
    assert created <= {v["VpcId"] for v in whole}
    for at in (0.25, 0.5, 0.75, 0.99):
        ctx.fault({"action": "DescribeVpcs", "account": account, "cut": {"at": at, "framing": "length"}, "count": 1})
        try:
            vpcs = ec2.describe_vpcs()["Vpcs"]
        except Exception as err:  # noqa: BLE001
            outcome = f"raised {type(err).__module__}.{type(err).__name__}: {' '.join(str(err).split())[:110]}"
        else:
            complete = sum(1 for v in vpcs if v.get("State") and v.get("CidrBlock"))
            outcome = f"returned {len(vpcs)} of {len(whole)} VPCs ({complete} with State and CidrBlock)"
        print(f"     boto3 DescribeVpcs cut at {at} (length framing): {outcome}", flush=True)
    assert len(ec2.describe_vpcs()["Vpcs"]) == len(whole)  # the client and the proxy are fine afterwards
    assert [e["fault"] for e in ctx.log(account)][-5:] == ["cut"] * 4 + [None]
    # with retries allowed
    ctx.control("DELETE", f"/_proxy/requests?account={account}")
    ctx.fault({"action": "DescribeVpcs", "account": account, "cut": {"at": 0.5, "framing": "length"}, "count": 1})
    try:
        outcome = f"returned {len(ctx.client('ec2', account, attempts=3).describe_vpcs()['Vpcs'])} of {len(whole)} VPCs"
    except Exception as err:  # noqa: BLE001
        outcome = f"raised {type(err).__name__}"
    print(f"     boto3 (3 attempts) DescribeVpcs cut once at 0.5: {outcome} after "
          f"{len(ctx.log(account))} request(s)", flush=True)


@check
def hollow_answers_in_each_protocol(ctx: Ctx) -> None:
    account = "300000000014"
    ec2 = ctx.client("ec2", account)
    ec2.create_vpc(CidrBlock="10.60.0.0/16")
    shown = ctx.fault([
        {"action": "DescribeVpcs", "account": account, "hollow": True, "count": 3},
        {"action": "*", "service": "lambda", "account": account, "path_prefix": "/2015-03-31/event-source-mappings",
         "hollow": True, "count": 2},
        {"action": "GetCallerIdentity", "account": account, "hollow": True, "count": 1},
        {"action": "ListTables", "account": account, "hollow": True, "count": 2},
    ])
    assert [f for f in shown if f.get("account") == account][0] == {
        "action": "DescribeVpcs", "account": account, "skip": 0, "count": 3, "hollow": True}, shown
    host, headers = ctx.signed("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15", headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(data), (resp.status, resp.getheaders())
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'), data
        root = ET.fromstring(data)
        assert root.tag == "{http://ec2.amazonaws.com/doc/2016-11-15/}DescribeVpcsResponse", root.tag
        assert [(c.tag.split("}")[1], c.text) for c in root] == [("requestId", "hollow")], data
        # a non-2xx answer passes through unchanged
        conn.request("POST", "/", body=b"Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-00000000", headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 400 and b"InvalidVpcID.NotFound" in data, (resp.status, data[:300])
        # a Lambda REST call gets {}
        host, headers = ctx.signed("lambda", account, "", method="GET", path="/2015-03-31/event-source-mappings")
        conn.request("GET", "/2015-03-31/event-source-mappings", headers=headers)
        resp = conn.getresponse()
        assert (resp.status, resp.read(), resp.getheader("Content-Length")) == (200, b"{}", "2"), resp.getheaders()
        # a JSON call gets {} too, with DynamoDB's checksum header made to match it
        json_headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"}
        host, headers = ctx.signed("dynamodb", account, "{}", headers=json_headers)
        conn.request("POST", "/", body=b"{}", headers=headers)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"{}"), resp.getheaders()
        assert resp.getheader("x-amz-crc32") == str(zlib.crc32(b"{}")), resp.getheaders()
    finally:
        conn.close()
    # what boto3 sees: answers with nothing in them (and DynamoDB's x-amz-crc32 still matches)
    assert "Vpcs" not in ec2.describe_vpcs()
    assert "EventSourceMappings" not in ctx.client("lambda", account).list_event_source_mappings()
    assert "Account" not in ctx.client("sts", account).get_caller_identity()
    assert "TableNames" not in ctx.client("dynamodb", account).list_tables()
    assert [e["fault"] for e in ctx.log(account)] == [None] + ["hollow"] * 8, ctx.log(account)
    assert ctx.upstream_log(account) == ["CreateVpc"] + ["DescribeVpcs"] * 2 + ["ListEventSourceMappings", "ListTables",
        "DescribeVpcs", "ListEventSourceMappings", "GetCallerIdentity", "ListTables"]


@check
def raw_answers(ctx: Ctx) -> None:
    account = "300000000015"
    html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"
    bad_gateway = {"status": 502, "body": html, "content_type": "text/html"}
    shown = ctx.fault([
        {"action": "DescribeVpcs", "account": account, "raw": bad_gateway, "count": 2},
        {"action": "DescribeSubnets", "account": account, "raw": {"status": 503}, "count": 2},
    ])
    assert [f for f in shown if f.get("account") == account] == [
        {"action": "DescribeVpcs", "account": account, "skip": 0, "count": 2, "raw": bad_gateway},
        {"action": "DescribeSubnets", "account": account, "skip": 0, "count": 2, "raw": {"status": 503, "body": ""}},
    ], shown
    conn = http.client.HTTPConnection(ctx.url.split("//", 1)[1], timeout=10)
    try:
        for action in ("DescribeVpcs", "DescribeSubnets"):
            body = f"Action={action}&Version=2016-11-15"
            conn.request("POST", "/", body=body.encode(), headers=ctx.signed("ec2", account, body)[1])
            if action == "DescribeVpcs":
                sock = conn.sock
            resp = conn.getresponse()
            data = resp.read()
            assert resp.getheader("x-amzn-RequestId"), resp.getheaders()
            assert int(resp.getheader("Content-Length")) == len(data)
            if action == "DescribeVpcs":
                assert (resp.status, resp.reason, resp.getheader("Content-Type"), data) == (
                    502, "Bad Gateway", "text/html", html.encode()), (resp.status, resp.getheaders(), data)
            else:
                assert (resp.status, resp.reason, resp.getheader("Content-Type"), data) == (
                    503, "Service Unavailable", None, b""), (resp.status, resp.getheaders(), data)
        assert conn.sock is sock, "the proxy did not keep the connection alive"
    finally:
        conn.close()
    # what boto3 makes of them (recorded): an error named after the status
    ec2 = ctx.client("ec2", account)
    for call in (ec2.describe_vpcs, ec2.describe_subnets):
        code, status, resp = error_code(call)
        print(f"     boto3 on a raw {status} ({'HTML' if status == 502 else 'empty'}): code {code!r}, "
              f"message {resp['Error'].get('Message', '')[:60]!r}", flush=True)
        assert status in (502, 503), resp
    assert [e["fault"] for e in ctx.log(account)] == ["raw"] * 4
    assert ctx.upstream_log(account) == []  # answered by the proxy


@check
def stall_holds_only_its_own_connection(ctx: Ctx) -> None:
    account = "300000000016"
    ec2 = ctx.client("ec2", account)
    impatient = ctx.client("ec2", account, read_timeout=1)
    shown = ctx.fault({"action": "DescribeVpcs", "account": account, "stall": True, "count": 2})
    assert [f for f in shown if f.get("account") == account] == [
        {"action": "DescribeVpcs", "account": account, "skip": 0, "count": 2, "stall": True}], shown
    outcome: dict[str, Any] = {}

    def stalled() -> None:
        started = time.monotonic()
        try:
            impatient.describe_vpcs()
            outcome["result"] = "answered"
        except Exception as err:  # noqa: BLE001
            outcome["result"] = err
        outcome["elapsed"] = time.monotonic() - started

    # two stalled requests at once: boto3 with a 1 s read timeout, and a raw socket
    address, request = ctx.wire_request("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")
    thread = threading.Thread(target=stalled)
    with socket.create_connection(address, timeout=1) as s:
        s.sendall(request)
        thread.start()
        try:
            assert ctx.wait_for_log(account, 2) == [entry("DescribeVpcs", account, fault="stall")] * 2, ctx.log(account)
            # meanwhile, another request is answered at once
            started = time.monotonic()
            ec2.describe_subnets()
            prompt = time.monotonic() - started
            assert thread.is_alive(), outcome
            assert prompt < 0.5, prompt
            # the socket with a 1 s timeout gets nothing, not even the end of the connection
            started = time.monotonic()
            try:
                got = s.recv(65536)
            except socket.timeout:
                got = None
            assert got is None and time.monotonic() - started >= 0.9, got
            s.setblocking(False)
            try:
                s.recv(65536)
            except BlockingIOError:
                pass  # still open, nothing to read
            else:
                raise AssertionError("the stalled connection was closed")
        finally:
            thread.join(10)
    assert isinstance(outcome["result"], botocore.exceptions.ReadTimeoutError), outcome
    assert 0.9 <= outcome["elapsed"] < 3, outcome
    assert [e["fault"] for e in ctx.log(account)] == ["stall", "stall", None], ctx.log(account)
    assert ctx.upstream_log(account) == ["DescribeSubnets"]  # the stalled requests never reached the emulator
    ec2.describe_vpcs()  # used up


@check
def bad_new_rules_are_rejected(ctx: Ctx) -> None:
    before = ctx.faults()
    cases = [
        ({"action": "X", "cut": 0.5}, "cut: must be a JSON object"),
        ({"action": "X", "cut": {"framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": 0, "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": 1, "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": 1.5, "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": -0.5, "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": "0.5", "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": True, "framing": "length"}}, "cut.at"),
        ({"action": "X", "cut": {"at": 0.5}}, "cut.framing"),
        ({"action": "X", "cut": {"at": 0.5, "framing": "gzip"}}, "cut.framing"),
        ({"action": "X", "cut": {"at": 0.5, "framing": "length", "bogus": 1}}, "cut.bogus"),
        ({"action": "X", "hollow": "yes"}, "hollow"),
        ({"action": "X", "stall": 1}, "stall"),
        ({"action": "X", "hollow": False}, "effect"),
        ({"action": "X", "raw": "502"}, "raw: must be a JSON object"),
        ({"action": "X", "raw": {}}, "raw.status"),
        ({"action": "X", "raw": {"status": 99}}, "raw.status"),
        ({"action": "X", "raw": {"status": 600}}, "raw.status"),
        ({"action": "X", "raw": {"status": "502"}}, "raw.status"),
        ({"action": "X", "raw": {"status": 502, "body": 7}}, "raw.body"),
        ({"action": "X", "raw": {"status": 204, "body": "x"}}, "raw.body"),
        ({"action": "X", "raw": {"status": 502, "content_type": ""}}, "raw.content_type"),
        ({"action": "X", "raw": {"status": 502, "content_type": "text/html\r\nX-Evil: 1"}}, "raw.content_type"),
        ({"action": "X", "raw": {"status": 502, "headers": {}}}, "raw.headers"),
        ({"action": "X", "raw": {"status": 502}, "code": "Boom"}, "code"),
        ({"action": "X", "cut": {"at": 0.5, "framing": "close"}, "hollow": True}, "hollow and cut"),
        ({"action": "X", "status": 503, "raw": {"status": 503}}, "status and raw"),
        ({"action": "X", "stall": True, "truncate": True}, "truncate and stall"),
        ({"action": "X", "reset": True, "stall": True}, "reset and stall"),
        ([{"action": "X", "stall": True}, {"action": "Y", "cut": {"at": 2, "framing": "length"}}], "rule 1: cut.at"),
    ]
    for rule, field in cases:
        status, body = ctx.control("POST", "/_proxy/faults", rule)
        assert status == 400 and field in body.get("error", ""), (rule, status, body)
    assert ctx.faults() == before
    # delay_ms goes with any of them
    account = "300000000017"
    shown = ctx.fault({"action": "X", "account": account, "delay_ms": 5, "raw": {"status": 200, "body": "ok"}})
    assert [f for f in shown if f.get("account") == account] == [
        {"action": "X", "account": account, "skip": 0, "count": None, "delay_ms": 5, "raw": {"status": 200, "body": "ok"}}]
    assert ctx.control("DELETE", f"/_proxy/faults?account={account}")[0] == 200


@check
def stalled_connections_do_not_delay_exit(ctx: Ctx) -> None:
    account = "300000000018"
    for how in ("stdin EOF", "SIGTERM"):
        proc, url = start_proxy(ctx.emulator)
        proxy = Ctx(url, ctx.emulator)
        socks: list[socket.socket] = []
        try:
            proxy.fault({"action": "*", "stall": True})
            address, request = proxy.wire_request("ec2", account, "Action=DescribeVpcs&Version=2016-11-15")
            for _ in range(3):
                socks.append(socket.create_connection(address, timeout=5))
                socks[-1].sendall(request)
            assert len(proxy.wait_for_log(account, 3)) == 3
            started = time.monotonic()
            if how == "SIGTERM":
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=5)
            else:
                code = stop(proc)
            elapsed = time.monotonic() - started
            assert code == 0 and elapsed < 1.5, (how, code, elapsed)
            for s in socks:  # the stalled clients see their connection end
                try:
                    assert s.recv(65536) == b"", how
                except ConnectionResetError:
                    pass
        finally:
            for s in socks:
                s.close()
            if proc.poll() is None:
                proc.kill()


@check
def exits_on_stdin_eof_and_sigterm(ctx: Ctx) -> None:
    proc, url = start_proxy(ctx.emulator)
    try:
        assert Ctx(url, ctx.emulator).control("GET", "/_proxy/health")[1]["upstream"] == ctx.emulator
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    proc, url = start_proxy(ctx.emulator)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    bad = subprocess.run([sys.executable, PROXY, "--upstream", "https://x"], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=30)
    assert bad.returncode == 2 and b"--upstream" in bad.stderr, bad


# --------------------------------------------------------------------------- main


def main() -> int:
    started = time.monotonic()
    emulator, emulator_url = start_emulator()
    proxy, url = start_proxy(emulator_url)
    print(f"emulator at {emulator_url}, proxy at {url} (READY after {time.monotonic() - started:.2f}s)", flush=True)
    passed = failed = 0
    try:
        passed, failed = run_checks(CHECKS, Ctx(url, emulator_url))
    finally:
        for name, proc in (("proxy", proxy), ("emulator", emulator)):
            code = stop(proc)
            if code != 0:
                failed += 1
                print(f"FAIL {name} exit status {code} on stdin EOF", flush=True)
    print(f"total {time.monotonic() - started:.2f}s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
