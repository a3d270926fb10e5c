#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 proxy for esm-guard's integration tests, in front of scripts/emulator.py.

Standard library only.  Run::

    .venv/bin/python scripts/fault_proxy.py --upstream http://127.0.0.1:PORT [--host 127.0.0.1] [--port 0]
                                            [--no-stdin-watch] [--verbose]

It prints exactly one line ``READY http://HOST:PORT`` on stdout (flushed) once the socket
accepts connections; point the SDKs at that URL instead of the emulator's.  Logs go to stderr
with the prefix ``fault-proxy:`` (errors; every request too with ``--verbose``).  It exits with
status 0 when its stdin reaches EOF (pass ``--no-stdin-watch`` to run it by hand in the
background) and on SIGTERM/SIGINT.

Forwarding
    Every request (any method, path and query as received, headers, body read by
    Content-Length or ``Transfer-Encoding: chunked``) goes to the upstream on a fresh
    connection, and the upstream's status, reason, headers and body come back unchanged,
    except that hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, TE, Trailer,
    Upgrade, Proxy-*, and those the Connection header names) are dropped and Content-Length
    is set to the body's length.  The Host header is passed on as the client sent it.
    Connections from the client are kept alive (HTTP/1.1), as the AWS SDKs reuse them.
    Requests under ``/_esm_guard/`` (the emulator's control endpoints) and ``/moto-api/``
    are forwarded too; unsigned requests are never logged or faulted.  If the upstream drops
    the connection without answering (e.g. an emulator ``reset`` fault), the proxy resets
    the client's connection the same way; if it cannot connect, it answers 502.

Requests (SigV4-signed: Authorization header, or X-Amz-Credential in the query)
    account  the access key id (``Credential=AKID/...``); with 12-digit keys that is the
             emulator's account id.
    service  the signing name in the credential scope (``.../REGION/SERVICE/aws4_request``).
    action   ``Action=`` of the query string or form body (EC2 and query protocols), else the
             part of ``X-Amz-Target`` after the last ``.`` (JSON protocols), else
             ``"METHOD /path"`` with the path percent-decoded and without the query (REST
             protocols, e.g. ``"GET /2015-03-31/event-source-mappings/"``).
    paged    true when the request carries a non-empty pagination token: ``NextToken`` or
             ``Marker`` in a form body; ``NextToken``, ``nextToken``, ``Marker`` or
             ``ExclusiveStartKey`` at the top of a JSON body; ``Marker``, ``NextToken`` or
             ``nextToken`` in the query string.

Control endpoints (plain HTTP, unsigned, JSON in and out; errors are ``{"error": "..."}``;
handled by the proxy, never forwarded)
    GET    /_proxy/health
        ``{"ok": true, "upstream": "http://..."}``.
    POST   /_proxy/faults
        Body: one rule or a list of rules, appended to the active rules (all or nothing: a
        list with one bad rule adds none)::

            {"action": "DescribeSubnets",   # required; exact action name, or "*" for any
             "service": "ec2",              # optional; signing name (ec2, lambda, kafka, sts, ...)
             "account": "111122223333",     # optional; the access key id
             "path_prefix": "/2015-03-31/", # optional; decoded request path starts with it (REST calls)
             "paged": true,                 # optional; only requests with (true) / without (false) a token
             "skip": 1,                     # optional; let the first N matching requests through (default 0)
             "count": 1,                    # optional; matching requests to fault (default: all)
             # the effect: exactly one of reset / truncate / status / cut / hollow / raw / stall,
             # and/or delay_ms
             "reset": true,                 # close the client connection with a TCP RST, no response;
                                            #   the request does not reach the upstream
             "truncate": true,              # forward it, then send the status line and headers with the
                                            #   full Content-Length, half of the body, and a TCP RST
             "status": 503,                 # answer this error (400-599) without forwarding ...
             "code": "ServiceUnavailable",  #   ... optional code (default from the status) ...
             "message": "Injected",         #   ... and message (need "status")
             "cut": {"at": 0.5,             # forward it, keep the first floor(len(body) * at) bytes of the
                     "framing": "length"},  #   answer (0 < at < 1) and send them as the whole answer; both
                                            #   fields required, framing "length" | "chunked" | "close"
             "hollow": true,                # forward it; a 2xx answer gets a well-formed empty body
             "raw": {"status": 502,         # answer exactly this without forwarding: status 100-599 ...
                     "body": "<html>..</html>",     # ... optional body (default "") ...
                     "content_type": "text/html"},  # ... optional Content-Type (none by default)
             "stall": true,                 # read the request, never answer; it does not reach the upstream
             "delay_ms": 250}               # wait first (0-600000); alone, then forward normally

        Unknown fields and bad values are rejected with 400 and a message naming the field.
        A request goes through the active rules in order.  A matching rule that still has
        ``skip`` left lets the request past it (its skip goes down by one) and the next rules
        are tried; the first matching rule with no skip left applies and uses up one of its
        count (it is removed at 0); the rules after it are not looked at.
        The error body of ``status`` is in the request's protocol, as the emulator's faults:
        EC2 ``<Response><Errors><Error><Code>...``, other query services ``<ErrorResponse>``,
        JSON ``{"__type": CODE, "message": ...}`` with ``x-amzn-query-error``, REST-JSON
        ``{"message": ...}`` with ``x-amzn-ErrorType: CODE``; always ``x-amzn-RequestId``.
        ``truncate`` on an empty upstream body announces Content-Length 1 and sends nothing.
        ``cut`` keeps the upstream's status and headers (a checksum header such as DynamoDB's
        ``x-amz-crc32`` still describes the whole body) and frames the cut body so that it
        looks complete: ``length`` with Content-Length set to the cut length, connection kept
        alive; ``chunked`` with ``Transfer-Encoding: chunked``, the body in one or two chunks
        and the last chunk ``0\\r\\n\\r\\n``, connection kept alive; ``close`` with neither header,
        ``Connection: close``, the body and a clean close (FIN, not RST).  It applies whatever
        the upstream's status.  The fault it stands for: a response body cut mid-element whose
        HTTP framing looks complete, which EC2's XML parser may accept.
        ``hollow`` leaves non-2xx answers alone; a 2xx answer keeps its status and headers
        (Content-Length set, ``x-amz-crc32`` recomputed) with the body: EC2
        ``<?xml version="1.0" encoding="UTF-8"?>\\n<{Action}Response
        xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>hollow</requestId></{Action}Response>``,
        other query services ``<{Action}Response xmlns="https://{service}.amazonaws.com/doc/">
        <{Action}Result></{Action}Result><ResponseMetadata><RequestId>hollow</RequestId>
        </ResponseMetadata></{Action}Response>`` (same XML declaration, no line breaks; the
        SDKs need the empty result wrapper), JSON and REST-JSON ``{}``, REST-XML empty.
        ``raw`` answers the status (reason phrase from the status, empty if unknown), the body
        (UTF-8) and the Content-Type, plus ``x-amzn-RequestId`` and Content-Length; a 1xx,
        204 or 304 must have an empty body, and after a 1xx the connection is closed.  Unknown
        fields inside ``cut`` and ``raw`` are rejected like the others (``cut.bogus``).  For
        well-formed AWS errors (unknown codes included), use ``status``.
        ``stall`` holds the connection without sending a byte until the client closes it
        (what it sends meanwhile is dropped) or the proxy stops; other connections are served
        meanwhile (a thread per connection) and stalled ones do not delay the proxy's exit.
        Returns ``{"faults": [active rules]}``.
    GET    /_proxy/faults
        ``{"faults": [...]}``: the active rules, each with its remaining ``count`` (null:
        unlimited) and ``skip``, and its effect in canonical form (``"cut": {"at": 0.5,
        "framing": "length"}``, ``"raw": {"status": 503, "body": ""}``, ``"stall": true``).
    DELETE /_proxy/faults[?account=ACCOUNT]
        Clears every rule (only the rules scoped to that account with the parameter).
    GET    /_proxy/requests[?account=ACCOUNT][&service=SVC][&action=ACTION]
        Every proxied AWS request in arrival order (faulted ones included) as
        ``{"service": "ec2", "action": "DescribeSubnets", "account": "111122223333",
        "paged": false, "fault": null}``; ``fault`` is the effect applied: ``"reset"``,
        ``"truncate"``, ``"status"``, ``"cut"``, ``"hollow"`` (even when the answer was not 2xx
        and passed unchanged), ``"raw"``, ``"stall"``, ``"delay"`` (delay only) or null.
    DELETE /_proxy/requests[?account=ACCOUNT]
        Clears the log (of that account only with the parameter).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import math
import re
import select
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aws_errors import DEFAULT_CODES, REASONS, error_parts
from server_lifecycle import serve_until_stopped

CREDENTIAL_RE = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
FORM_TOKENS = ("NextToken", "Marker")
JSON_TOKENS = ("NextToken", "nextToken", "Marker", "ExclusiveStartKey")
QUERY_TOKENS = ("Marker", "NextToken", "nextToken")
UPSTREAM_TIMEOUT = 120.0
TRUNCATE_GRACE = 0.1  # seconds between the partial body and the RST, so the client reads the headers first
STALL_POLL = 0.2  # seconds between two looks at a stalled connection (client gone? proxy stopping?)

log = logging.getLogger("fault_proxy")


# --------------------------------------------------------------------------- requests


def describe_request(method: str, target: str, headers: Any, body: bytes) -> dict[str, Any] | None:
    """service, action, account, region, paged, path and protocol of a SigV4-signed request, else None."""
    raw_path, _, query_string = target.partition("?")
    if raw_path.startswith(("http://", "https://")):  # absolute-form request target
        raw_path = urlsplit(raw_path).path or "/"
    query = parse_qs(query_string, keep_blank_values=True)
    m = CREDENTIAL_RE.search(headers.get("Authorization", "") or "")
    if m is None and "X-Amz-Credential" in query:
        m = CREDENTIAL_RE.search("Credential=" + query["X-Amz-Credential"][0])
    if m is None:
        return None
    service = m.group("service").lower()
    content_type = (headers.get("Content-Type", "") or "").lower()
    text = body.decode("utf-8", "replace")
    form: dict[str, list[str]] = {}
    if content_type.startswith("application/x-www-form-urlencoded") or (
        not content_type and text.startswith("Action=")
    ):
        form = parse_qs(text, keep_blank_values=True)
    json_body: Any = None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            json_body = json.loads(text) if text.strip() else None
        except ValueError:
            json_body = None
    target_header = headers.get("X-Amz-Target")
    path = unquote(raw_path) or "/"
    if form.get("Action") or query.get("Action"):
        action = (form.get("Action") or query.get("Action"))[0]
        protocol = "ec2" if service == "ec2" else "query"
    elif target_header:
        action = target_header.rsplit(".", 1)[-1]
        protocol = "json"
    else:
        action = f"{method} {path}"
        protocol = "rest-xml" if service in ("s3", "route53", "cloudfront") else "rest-json"
    paged = (
        any(form.get(k, [""])[0] for k in FORM_TOKENS)
        or any(query.get(k, [""])[0] for k in QUERY_TOKENS)
        or (isinstance(json_body, dict) and any(json_body.get(k) not in (None, "", {}) for k in JSON_TOKENS))
    )
    return {
        "service": service,
        "action": action,
        "account": m.group("key"),
        "region": m.group("region"),
        "paged": bool(paged),
        "path": path,
        "protocol": protocol,
    }


# --------------------------------------------------------------------------- faults

def error_response(request: dict[str, Any], status: int, code: str, message: str) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """(status, reason, headers, body) of an AWS error in the request's protocol."""
    reason, headers, body = error_parts(request, status, code, message)
    return status, reason, headers, body


RULE_FIELDS = (
    "action", "service", "account", "path_prefix", "paged", "skip", "count",
    "reset", "truncate", "delay_ms", "status", "code", "message",
    "cut", "hollow", "raw", "stall",
)
FLAG_EFFECTS = ("reset", "truncate", "hollow", "stall")  # the effects written as "NAME": true
CUT_FIELDS = ("at", "framing")
CUT_FRAMINGS = ("length", "chunked", "close")
RAW_FIELDS = ("status", "body", "content_type")
CODE_RE = re.compile(r"^[A-Za-z][\w.:#-]*$")


def _int_field(raw: dict[str, Any], name: str, low: int, high: int | None = None, label: str | None = None) -> int:
    value = raw[name]
    label = label or name
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label}: must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f"at least {low}"
        raise ValueError(f"{label}: must be {bounds}, got {value}")
    return value


def _str_field(raw: dict[str, Any], name: str, label: str | None = None) -> str:
    value = raw[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{label or name}: must be a non-empty string, got {value!r}")
    return value


def _sub_object(raw: dict[str, Any], name: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of effect `name` (its null members dropped); ValueError naming the field."""
    value = raw[name]
    if not isinstance(value, dict):
        raise ValueError(f"{name}: must be a JSON object with {', '.join(fields)}, got {json.dumps(value)}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(
            f"{', '.join(f'{name}.{k}' for k in unknown)}: unknown field(s) (known: {', '.join(f'{name}.{k}' for k in fields)})"
        )
    return {k: v for k, v in value.items() if v is not None}


def parse_cut(raw: dict[str, Any]) -> dict[str, Any]:
    cut = _sub_object(raw, "cut", CUT_FIELDS)
    if "at" not in cut:
        raise ValueError("cut.at: required (the fraction of the body kept, 0 < at < 1)")
    at = cut["at"]
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 < at < 1:
        raise ValueError(f"cut.at: must be a number between 0 and 1 (both excluded), got {at!r}")
    if "framing" not in cut:
        raise ValueError(f"cut.framing: required (one of {', '.join(CUT_FRAMINGS)})")
    if cut["framing"] not in CUT_FRAMINGS:
        raise ValueError(f"cut.framing: must be one of {', '.join(CUT_FRAMINGS)}, got {cut['framing']!r}")
    return {"at": float(at), "framing": cut["framing"]}


def parse_raw(raw: dict[str, Any]) -> dict[str, Any]:
    answer = _sub_object(raw, "raw", RAW_FIELDS)
    if "status" not in answer:
        raise ValueError("raw.status: required (the HTTP status to answer, 100-599)")
    parsed: dict[str, Any] = {"status": _int_field(answer, "status", 100, 599, label="raw.status")}
    body = answer.get("body", "")
    if not isinstance(body, str):
        raise ValueError(f"raw.body: must be a string, got {body!r}")
    if body and (parsed["status"] < 200 or parsed["status"] in (204, 304)):
        raise ValueError(f"raw.body: a {parsed['status']} answer has no body, got {len(body)} characters")
    parsed["body"] = body
    if "content_type" in answer:
        parsed["content_type"] = _str_field(answer, "content_type", label="raw.content_type")
        if any(c in parsed["content_type"] for c in "\r\n"):
            raise ValueError(f"raw.content_type: must be one line, got {parsed['content_type']!r}")
    return parsed


def parse_fault(raw: Any) -> dict[str, Any]:
    """A validated rule, in canonical form; ValueError naming the field otherwise."""
    if not isinstance(raw, dict):
        raise ValueError(f"a fault rule must be a JSON object, got {json.dumps(raw)}")
    unknown = sorted(set(raw) - set(RULE_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)} (known: {', '.join(RULE_FIELDS)})")
    raw = {k: v for k, v in raw.items() if v is not None}
    if "action" not in raw:
        raise ValueError("action: required (an action name, or \"*\" for any)")
    rule: dict[str, Any] = {"action": _str_field(raw, "action")}
    if "service" in raw:
        rule["service"] = _str_field(raw, "service").lower()
    if "account" in raw:
        rule["account"] = _str_field(raw, "account")
    if "path_prefix" in raw:
        rule["path_prefix"] = _str_field(raw, "path_prefix")
        if not rule["path_prefix"].startswith("/"):
            raise ValueError(f"path_prefix: must start with '/', got {rule['path_prefix']!r}")
    if "paged" in raw:
        if not isinstance(raw["paged"], bool):
            raise ValueError(f"paged: must be true or false, got {raw['paged']!r}")
        rule["paged"] = raw["paged"]
    rule["skip"] = _int_field(raw, "skip", 0) if "skip" in raw else 0
    rule["count"] = _int_field(raw, "count", 1) if "count" in raw else None
    effects = []
    for name in FLAG_EFFECTS:
        if name in raw:
            if not isinstance(raw[name], bool):
                raise ValueError(f"{name}: must be true or false, got {raw[name]!r}")
            if raw[name]:
                effects.append(name)
    if "status" in raw:
        rule["status"] = _int_field(raw, "status", 400, 599)
        effects.append("status")
        code = raw.get("code", DEFAULT_CODES.get(rule["status"], "InternalFailure"))
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise ValueError(f"code: must be an error code such as \"ServiceUnavailable\", got {code!r}")
        rule["code"] = code
        if "message" in raw:
            if not isinstance(raw["message"], str):
                raise ValueError(f"message: must be a string, got {raw['message']!r}")
            rule["message"] = raw["message"]
    else:
        for name in ("code", "message"):
            if name in raw:
                raise ValueError(f"{name}: only goes with \"status\" (the HTTP status of the error to answer)")
    if "cut" in raw:
        rule["cut"] = parse_cut(raw)
        effects.append("cut")
    if "raw" in raw:
        rule["raw"] = parse_raw(raw)
        effects.append("raw")
    if len(effects) > 1:
        raise ValueError(
            f"{' and '.join(effects)}: a rule has one effect "
            "(reset, truncate, status, cut, hollow, raw or stall; delay_ms may go with any)"
        )
    if "delay_ms" in raw:
        rule["delay_ms"] = _int_field(raw, "delay_ms", 0, 600_000)
    if not effects and not rule.get("delay_ms"):
        raise ValueError("effect: a rule needs one of reset, truncate, status, cut, hollow, raw, stall or delay_ms")
    rule["effect"] = effects[0] if effects else "delay"
    return rule


def public_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as GET /_proxy/faults shows it (remaining count and skip included)."""
    shown = {k: (dict(rule[k]) if isinstance(rule[k], dict) else rule[k]) for k in RULE_FIELDS if k in rule}
    if rule["effect"] in FLAG_EFFECTS:
        shown[rule["effect"]] = True
    return shown


XML_NAME_RE = re.compile(r"^[A-Za-z_][\w.-]*$")
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def hollow_body(request: dict[str, Any]) -> bytes:
    """A well-formed answer with nothing in it, in the request's protocol (see ``hollow``)."""
    protocol = request["protocol"]
    if protocol in ("ec2", "query"):
        action = request["action"] if XML_NAME_RE.match(request["action"]) else "Hollow"
        if protocol == "ec2":
            inner = "<requestId>hollow</requestId>"
            namespace = EC2_NAMESPACE
        else:
            # the SDKs look for the result wrapper (botocore fails with a KeyError without it)
            inner = f"<{action}Result></{action}Result><ResponseMetadata><RequestId>hollow</RequestId></ResponseMetadata>"
            namespace = f"https://{request['service']}.amazonaws.com/doc/"
        return (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<{action}Response xmlns=\"{namespace}\">{inner}</{action}Response>"
        ).encode()
    if protocol in ("json", "rest-json"):
        return b"{}"
    return b""  # rest-xml: its root element is per operation, there is no generic empty answer


class State:
    """The request log and fault rules, shared by every request thread under one lock."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []

    def arrive(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Logs the request and picks the rule (a copy) that applies to it, if any."""
        with self.lock:
            chosen = None
            for rule in self.faults:
                if rule["action"] not in ("*", request["action"]):
                    continue
                if "service" in rule and rule["service"] != request["service"]:
                    continue
                if "account" in rule and rule["account"] != request["account"]:
                    continue
                if "path_prefix" in rule and not request["path"].startswith(rule["path_prefix"]):
                    continue
                if "paged" in rule and rule["paged"] != request["paged"]:
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.faults.remove(rule)
                chosen = dict(rule)
                break
            self.requests.append(
                {
                    "service": request["service"],
                    "action": request["action"],
                    "account": request["account"],
                    "paged": request["paged"],
                    "fault": chosen["effect"] if chosen else None,
                }
            )
            return chosen

    def control(self, method: str, path: str, query: dict[str, str], payload: Any) -> tuple[int, Any]:
        account = query.get("account")
        if path == "/_proxy/health" and method == "GET":
            return 200, {"ok": True, "upstream": self.upstream}
        if path == "/_proxy/requests":
            if method == "GET":
                with self.lock:
                    return 200, [
                        dict(e)
                        for e in self.requests
                        if (not account or e["account"] == account)
                        and (not query.get("service") or e["service"] == query["service"])
                        and (not query.get("action") or e["action"] == query["action"])
                    ]
            if method == "DELETE":
                with self.lock:
                    self.requests = [e for e in self.requests if account and e["account"] != account]
                return 200, {"ok": True}
        if path == "/_proxy/faults":
            if method == "GET":
                with self.lock:
                    return 200, {"faults": [public_rule(f) for f in self.faults]}
            if method == "POST":
                if payload is None:
                    raise ValueError("body: one fault rule (a JSON object) or a list of them")
                rules = payload if isinstance(payload, list) else [payload]
                parsed = []
                for i, raw in enumerate(rules):
                    try:
                        parsed.append(parse_fault(raw))
                    except ValueError as err:
                        raise ValueError(f"rule {i}: {err}" if len(rules) > 1 else str(err)) from None
                with self.lock:
                    self.faults.extend(parsed)
                    return 200, {"faults": [public_rule(f) for f in self.faults]}
            if method == "DELETE":
                with self.lock:
                    self.faults = [f for f in self.faults if account and f.get("account") != account]
                return 200, {"ok": True}
        return 404, {"error": f"no control endpoint {method} {path}"}


# --------------------------------------------------------------------------- HTTP


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esm-guard-fault-proxy"
    server: "ProxyServer"

    # -- plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        log.warning("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError, ValueError) as err:
            # the client went away, or a fault closed the socket under us
            if self.server.verbose:
                log.info("connection from %s ended: %r", self.address_string(), err)
            self.close_connection = True

    def setup(self) -> None:
        super().setup()
        try:  # small responses go out at once (no Nagle/delayed-ACK stalls)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        # every method (GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS, ...) goes to dispatch
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise BadRequest("connection closed in a chunked body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest(f"bad chunk size line {line[:40]!r}") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                data = self.rfile.read(size)
                if len(data) < size:
                    raise BadRequest("connection closed in a chunked body")
                chunks.append(data)
                self.rfile.readline(3)  # CRLF after the chunk
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise BadRequest(f"bad Content-Length {length!r}") from None
        data = self.rfile.read(n) if n else b""
        if len(data) < n:
            raise BadRequest("connection closed in the body")
        return data

    def send(self, status: int, reason: str | None, headers: list[tuple[str, str]], body: bytes,
             head_only: bool = False, declared_length: int | None = None) -> None:
        self.send_response_only(status, reason or None)
        for name, value in headers:
            self.send_header(name, value)
        if status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        # the head and the body in one write
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        if body and not head_only:
            self._headers_buffer.append(body)  # type: ignore[attr-defined]
        self.flush_headers()

    def send_json(self, status: int, payload: Any) -> None:
        self.send(status, REASONS.get(status, "OK" if status == 200 else None),
                  [("Content-Type", "application/json")], json.dumps(payload).encode(),
                  head_only=self.command == "HEAD")

    def reset(self) -> None:
        """Closes the client connection with a TCP RST (SO_LINGER 0, then close)."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            # rfile/wfile keep references to the socket, so close() alone would not close
            # the descriptor: detach it and close that for real now.
            fd = sock.detach()
            if fd >= 0:
                socket.socket(fileno=fd).close()
        except OSError:
            pass

    # -- requests

    def dispatch(self) -> None:
        sent = False
        try:
            try:
                body = self.read_body()
            except BadRequest as err:
                self.close_connection = True
                self.send_json(400, {"error": str(err)})
                return
            path = self.path.split("?", 1)[0]
            if path == "/_proxy" or path.startswith("/_proxy/"):
                self.control(body)
                return
            try:
                request = describe_request(self.command, self.path, self.headers, body)
            except Exception:
                log.exception("describing request %s %s", self.command, self.path)
                request = None
            rule = self.server.state.arrive(request) if request is not None else None
            if self.server.verbose and request is not None:
                log.info("%s %s %s paged=%s fault=%s", request["account"], request["service"],
                         request["action"], request["paged"], rule and rule["effect"])
            if rule is not None:
                if rule.get("delay_ms"):
                    time.sleep(rule["delay_ms"] / 1000.0)
                if rule["effect"] == "reset":
                    sent = True
                    self.reset()
                    return
                if rule["effect"] == "status":
                    status, reason, headers, data = error_response(
                        request, rule["status"], rule["code"], rule.get("message") or f"Injected fault: {rule['code']}"
                    )
                    sent = True
                    self.send(status, reason, headers, data, head_only=self.command == "HEAD")
                    return
                if rule["effect"] == "raw":
                    sent = True
                    self.send_raw(rule["raw"])
                    return
                if rule["effect"] == "stall":
                    sent = True
                    self.stall()
                    return
            self.forward(body, request, rule)
            sent = True
        except Exception as err:
            if isinstance(err, (ConnectionError, TimeoutError)) or (isinstance(err, OSError) and sent):
                if self.server.verbose:
                    log.info("client connection lost during %s %s: %r", self.command, self.path, err)
            else:
                log.exception("handling %s %s", self.command, self.path)
            if not sent:
                try:
                    self.close_connection = True
                    self.send_json(500, {"error": f"fault-proxy: {type(err).__name__}: {err}"})
                    return
                except Exception:
                    pass
            self.reset()

    def forward(self, body: bytes, request: dict[str, Any] | None, rule: dict[str, Any] | None) -> None:
        """Forwards the request and relays the answer, altered by the rule's effect (truncate,
        cut, hollow; the others never get here)."""
        server = self.server
        conn = http.client.HTTPConnection(server.upstream_host, server.upstream_port, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                drop = HOP_BY_HOP | {"content-length", "expect"}
                drop |= {t.strip().lower() for t in (self.headers.get("Connection") or "").split(",") if t.strip()}
                for name, value in self.headers.items():
                    if name.lower() not in drop:
                        conn.putheader(name, value)
                if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
                    conn.putheader("Content-Length", str(len(body)))
                conn.putheader("Connection", "close")
                conn.endheaders(body or None)
            except OSError as err:
                log.warning("cannot reach the upstream %s: %r", server.upstream, err)
                self.send_json(502, {"error": f"fault-proxy: cannot reach the upstream {server.upstream}: {err}"})
                return
            try:
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError) as err:
                # the upstream dropped the connection (e.g. an emulator "reset" fault): do the same
                log.info("upstream dropped %s %s (%r): resetting the client connection", self.command, self.path, err)
                self.reset()
                return
        finally:
            conn.close()
        drop = HOP_BY_HOP | {"content-length"}
        drop |= {t.strip().lower() for t in (resp.getheader("Connection") or "").split(",") if t.strip()}
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in drop]
        head_only = self.command == "HEAD"
        if head_only and resp.getheader("Content-Length"):
            headers.append(("Content-Length", resp.getheader("Content-Length")))
            self.send_response_only(resp.status, resp.reason or None)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            return
        effect = rule["effect"] if rule is not None else None
        if effect == "truncate":
            # a connection reset mid-response: full headers, half of the body, RST
            declared = len(data) or 1
            self.send(resp.status, resp.reason, headers, data[: len(data) // 2], declared_length=declared)
            time.sleep(TRUNCATE_GRACE)
            self.reset()
            return
        if effect == "cut":
            cut = rule["cut"]  # type: ignore[index]
            self.send_cut(resp.status, resp.reason, headers, data[: math.floor(len(data) * cut["at"])], cut["framing"],
                          head_only=head_only)
            return
        if effect == "hollow" and request is not None and 200 <= resp.status < 300:
            data = hollow_body(request)
            # a checksum of the body (DynamoDB's x-amz-crc32) must describe the new one
            headers = [
                (k, str(zlib.crc32(data) & 0xFFFFFFFF) if k.lower() == "x-amz-crc32" else v) for k, v in headers
            ]
        self.send(resp.status, resp.reason, headers, data, head_only=head_only)

    def send_cut(self, status: int, reason: str | None, headers: list[tuple[str, str]], body: bytes, framing: str,
                 head_only: bool = False) -> None:
        """Sends `body` (already cut) as if it were the whole answer, with the framing asked for."""
        if framing == "length":
            self.send(status, reason, headers, body, head_only=head_only)
            return
        self.send_response_only(status, reason or None)
        for name, value in headers:
            self.send_header(name, value)
        bodyless = status < 200 or status in (204, 304)
        if framing == "chunked":
            if not bodyless:
                self.send_header("Transfer-Encoding", "chunked")
            if self.close_connection:
                self.send_header("Connection", "close")
            # two chunks when there is enough to split, then the last chunk and no trailers
            chunks = [body[: len(body) // 2], body[len(body) // 2 :]] if len(body) >= 2 else [body]
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
        else:  # "close": the end of the body is the end of the connection (FIN, as socketserver closes it)
            self.close_connection = True
            self.send_header("Connection", "close")
            payload = body
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        if not bodyless and not head_only:
            self._headers_buffer.append(payload)  # type: ignore[attr-defined]
        self.flush_headers()

    def send_raw(self, answer: dict[str, Any]) -> None:
        """Answers exactly the status, body and Content-Type of a ``raw`` rule."""
        status = answer["status"]
        headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
        if "content_type" in answer:
            headers.append(("Content-Type", answer["content_type"]))
        if status < 200:
            self.close_connection = True  # an informational answer, then nothing: close the connection
        self.send(status, None, headers, answer["body"].encode(), head_only=self.command == "HEAD")

    def stall(self) -> None:
        """Sends nothing and keeps the connection open until the client closes it (anything it
        sends meanwhile is read and dropped) or the proxy stops; then closes it."""
        self.close_connection = True
        sock = self.connection
        while not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], STALL_POLL)
                if readable and not sock.recv(65536):
                    return  # the client closed its side
            except (OSError, ValueError):
                return

    # -- control endpoints

    def control(self, body: bytes) -> None:
        path, _, query_string = self.path.partition("?")
        path = path.rstrip("/")
        query = {k: v[0] for k, v in parse_qs(query_string).items()}
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError as err:
            self.send_json(400, {"error": f"invalid JSON body: {err}"})
            return
        try:
            status, result = self.server.state.control(self.command, path, query, payload)
        except (ValueError, TypeError) as err:
            status, result = 400, {"error": str(err)}
        except Exception as err:  # keep the proxy alive, tell the test what broke
            log.exception("control endpoint %s %s", self.command, path)
            status, result = 500, {"error": f"{type(err).__name__}: {err}"}
        self.send_json(status, result)


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], upstream: str, verbose: bool) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"--upstream must be http://HOST:PORT, got {upstream!r}")
        self.upstream = f"http://{parts.netloc}"
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.verbose = verbose
        self.state = State(self.upstream)
        self.stopping = threading.Event()  # set on shutdown: stalled connections let go
        super().__init__(address, Handler)

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError)):
            return
        log.exception("unhandled error on the connection from %s", client_address)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator's URL, http://127.0.0.1:PORT")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument(
        "--no-stdin-watch", action="store_true", help="do not exit when stdin reaches EOF (for manual runs)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="fault-proxy: %(levelname)s %(message)s")

    try:
        server = ProxyServer((args.host, args.port), args.upstream, args.verbose)
    except ValueError as err:
        parser.error(str(err))
    port = server.server_address[1]

    serve_until_stopped(server, args.host, port, watch_stdin=not args.no_stdin_watch, log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
