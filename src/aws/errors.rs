//! Sorting AWS errors into what they mean for an audit.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// The caller lacks a permission: the fact is unknown, the audit goes on.
    Denied { code: String, message: String },
    /// Throttled even after the SDK's bounded retries: the fact is unknown.
    Throttled { code: String, message: String },
    /// The service failed (5xx) or the connection did (reset, timeout, a cut-off response),
    /// still after the SDK's bounded retries: the fact is unknown.
    Unavailable { code: String, message: String },
    /// The resource does not exist.
    NotFound { code: String, message: String },
    /// The run's deadline (the Lambda's remaining time) came first: the fact is unknown.
    Deadline,
    /// The answer lacked something AWS always sends (a list, a field): the fact is unknown.
    Incomplete(String),
    /// Anything else (a request AWS calls invalid): a defect, the run stops.
    Other(String),
}

impl ErrorClass {
    /// Whether the fact behind this error is merely unknown (a gap), not a failure of the run.
    pub fn is_gap(&self) -> bool {
        matches!(
            self,
            ErrorClass::Denied { .. }
                | ErrorClass::Throttled { .. }
                | ErrorClass::Unavailable { .. }
                | ErrorClass::Deadline
                | ErrorClass::Incomplete(_)
        )
    }

    pub fn describe(&self) -> String {
        match self {
            ErrorClass::Denied { code, message }
            | ErrorClass::Throttled { code, message }
            | ErrorClass::Unavailable { code, message }
            | ErrorClass::NotFound { code, message } => {
                if message.is_empty() {
                    code.clone()
                } else {
                    format!("{code}: {message}")
                }
            }
            ErrorClass::Deadline => {
                "not finished before the run's deadline (the function's remaining time)".to_string()
            }
            ErrorClass::Incomplete(what) => format!("an incomplete answer: {}", one_line(what)),
            ErrorClass::Other(text) => text.clone(),
        }
    }
}

/// At most this many characters of an error's text: a proxy's HTML page or a dumped
/// response must never flood a report, a log line or an alert.
const TEXT_MAX: usize = 200;

/// One line, at most `TEXT_MAX` characters: control characters (line breaks included)
/// become spaces.
pub fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(TEXT_MAX)
        .collect();
    if text.chars().count() > TEXT_MAX {
        out.push('…');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> ErrorClass
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let unavailable = |code: &str, detail: &dyn std::fmt::Display| ErrorClass::Unavailable {
        code: code.to_string(),
        message: one_line(&detail.to_string()),
    };
    let service = match error {
        SdkError::ServiceError(service) => service,
        SdkError::TimeoutError(_) => return unavailable("Timeout", &"no answer in time"),
        SdkError::DispatchFailure(_) => {
            return unavailable("ConnectionFailed", &DisplayErrorContext(error))
        }
        // A response cut off or unreadable (a connection reset mid-body, a document that
        // does not end).
        SdkError::ResponseError(_) => {
            return unavailable("ResponseUnreadable", &DisplayErrorContext(error))
        }
        // The request could not even be built: a defect, not the network.
        other => return ErrorClass::Other(one_line(&DisplayErrorContext(other).to_string())),
    };
    let status = service.raw().status().as_u16();
    let err = service.err();
    let code = err.code().unwrap_or_default().to_string();
    let message = one_line(err.message().unwrap_or_default());
    match code.as_str() {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedException"
        | "AuthorizationError"
        | "ForbiddenException" => ErrorClass::Denied { code, message },
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "SlowDown" => ErrorClass::Throttled { code, message },
        "ResourceNotFoundException"
        | "NotFoundException"
        | "DBClusterNotFoundFault"
        | "DBSubnetGroupNotFoundFault" => ErrorClass::NotFound { code, message },
        c if c.ends_with(".NotFound") || c.ends_with(".NotFoundException") => {
            ErrorClass::NotFound { code, message }
        }
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServerErrorException"
        | "InternalServiceError"
        | "InternalServiceException"
        | "ServiceException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceUnavailableError"
        | "Unavailable"
        | "BadGateway"
        | "GatewayTimeout" => ErrorClass::Unavailable { code, message },
        // A server error of any shape (an HTML 502 from a proxy, an empty 503, a code no
        // one documented) is the service or the way to it failing: the fact is unknown.
        _ if status >= 500 => ErrorClass::Unavailable {
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code
            },
            message,
        },
        // No AWS error code at all: the answer did not come from AWS's API (a proxy's page).
        "" => ErrorClass::Unavailable {
            code: format!("HTTP {status}"),
            message: if message.is_empty() {
                "an answer without an AWS error code".to_string()
            } else {
                message
            },
        },
        // A request AWS calls invalid: a defect of esm-guard, which stops the run.
        _ => ErrorClass::Other(if message.is_empty() {
            format!("HTTP {status} {code}")
        } else {
            format!("HTTP {status} {code}: {message}")
        }),
    }
}
