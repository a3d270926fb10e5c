//! Sorting AWS errors into what they mean for an audit.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// The caller lacks a permission: the fact is unknown, the audit goes on.
    Denied { code: String, message: String },
    /// Throttled even after the SDK's bounded retries: the fact is unknown.
    Throttled { code: String, message: String },
    /// The resource does not exist.
    NotFound { code: String, message: String },
    /// The run's deadline (the Lambda's remaining time) came first: the fact is unknown.
    Deadline,
    /// Anything else: the run cannot be trusted and stops.
    Other(String),
}

impl ErrorClass {
    /// Whether the fact behind this error is merely unknown (a gap), not a failure of the run.
    pub fn is_gap(&self) -> bool {
        matches!(
            self,
            ErrorClass::Denied { .. } | ErrorClass::Throttled { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            ErrorClass::Denied { code, message }
            | ErrorClass::Throttled { code, message }
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
    let SdkError::ServiceError(service) = error else {
        // Timeouts, connection failures, unparseable responses.
        return ErrorClass::Other(format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        ));
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
        "" => ErrorClass::Other(format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        )),
        _ => ErrorClass::Other(if message.is_empty() {
            code
        } else {
            format!("{code}: {message}")
        }),
    }
}
