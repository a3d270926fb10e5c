//! Sorting AWS errors into what they mean for an audit.

use aws_smithy_runtime_api::client::result::SdkError;
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
            ErrorClass::Other(text) => text.clone(),
        }
    }
}

pub fn classify<E, R>(error: &SdkError<E, R>) -> ErrorClass
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let context = || {
        format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        )
    };
    let unavailable = |code: &str| ErrorClass::Unavailable {
        code: code.to_string(),
        message: context(),
    };
    let service = match error {
        SdkError::ServiceError(service) => service,
        SdkError::TimeoutError(_) => return unavailable("Timeout"),
        SdkError::DispatchFailure(_) => return unavailable("ConnectionFailed"),
        // A response cut off or unreadable (a connection reset mid-body).
        SdkError::ResponseError(_) => return unavailable("ResponseUnreadable"),
        // The request could not even be built: a defect, not the network.
        _ => return ErrorClass::Other(context()),
    };
    let err = service.err();
    let code = err.code().unwrap_or_default().to_string();
    let message = err.message().unwrap_or_default().to_string();
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
        | "SlowDown" => ErrorClass::Throttled { code, message },
        "ResourceNotFoundException" | "NotFoundException" => ErrorClass::NotFound { code, message },
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServerErrorException"
        | "InternalServiceError"
        | "ServiceException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceUnavailableError"
        | "Unavailable"
        | "BadGateway"
        | "GatewayTimeout" => ErrorClass::Unavailable { code, message },
        "" => ErrorClass::Other(context()),
        _ => ErrorClass::Other(if message.is_empty() {
            code
        } else {
            format!("{code}: {message}")
        }),
    }
}
