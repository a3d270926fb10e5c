"""AWS error responses in each wire protocol, shared by scripts/emulator.py (its fault rules)
and scripts/fault_proxy.py (its ``status`` faults). Standard library only."""

from __future__ import annotations

import json
import uuid
from typing import Any
from xml.sax.saxutils import escape as xml_escape

DEFAULT_CODES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    429: "ThrottlingException",
    500: "InternalFailure",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

JSON_TYPE_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#"}

REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error_parts(request: dict[str, Any], status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(reason phrase, headers, body) of an AWS error in the protocol of ``request`` (a dict
    with ``protocol`` and ``service``); the headers carry the request id, not the length."""
    request_id = str(uuid.uuid4())
    protocol = request["protocol"]
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if protocol == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif protocol == "query":
        fault_type = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "rest-xml":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
    elif protocol == "json":
        body = json.dumps({"__type": JSON_TYPE_PREFIX.get(request["service"], "") + code, "message": message})
        headers.append(("Content-Type", "application/x-amz-json-1.0"))
        # awsJson services migrated from query (SQS) read the code from this header.
        headers.append(("x-amzn-query-error", f"{code};{'Receiver' if status >= 500 else 'Sender'}"))
    else:
        body = json.dumps({"message": message})
        headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-ErrorType", code))
    return REASONS.get(status, "Error"), headers, body.encode()
