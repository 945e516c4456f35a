//! AWS errors as action errors: throttling, 5xx and timeouts are transient, the rest permanent,
//! always with the AWS error code in the message.

use crate::mitigation::ActionError;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

/// Error codes AWS uses for throttling and for trouble on its side.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
    "InsufficientInstanceCapacity",
];

/// The code EC2 answers a dry-run with when the real request would have succeeded.
pub const DRY_RUN_OK: &str = "DryRunOperation";

/// Classifies an error response by its code and HTTP status.
pub fn classify(what: &str, code: Option<&str>, message: Option<&str>, http_status: Option<u16>) -> ActionError {
    let code_text = code.unwrap_or("UnknownError");
    let text = format!("{what}: {code_text}: {}", message.unwrap_or("no message"));
    let transient_status = http_status.is_some_and(|s| s == 429 || s >= 500);
    if code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) || transient_status {
        ActionError::Transient(text)
    } else {
        ActionError::Permanent(text)
    }
}

/// Classifies an SDK error: no answer (timeouts, connection failures, unreadable responses)
/// is transient; an answer is classified by its code.
pub fn from_sdk<E>(what: &str, err: &SdkError<E, HttpResponse>) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ActionError::Transient(format!("{what}: {}", describe(err)))
        }
        SdkError::ConstructionFailure(_) => ActionError::Permanent(format!("{what}: {}", describe(err))),
        _ => classify(
            what,
            err.code(),
            err.message(),
            err.raw_response().map(|r| r.status().as_u16()),
        ),
    }
}

/// Whether an EC2 error is the dry-run answer "would have succeeded".
pub fn is_dry_run_ok<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.code() == Some(DRY_RUN_OK)
}

/// The whole error chain in one line.
fn describe(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for code in [
            "Throttling",
            "RequestLimitExceeded",
            "ThrottlingException",
            "InternalError",
        ] {
            let e = classify("describing", Some(code), Some("slow down"), Some(400));
            assert!(e.retryable(), "{code}");
            assert_eq!(e.message(), format!("describing: {code}: slow down"));
        }
        assert!(classify("x", Some("Whatever"), None, Some(503)).retryable());
        assert!(classify("x", None, None, Some(429)).retryable());
        assert!(classify("x", None, None, Some(500)).retryable());
    }

    #[test]
    fn not_found_unauthorized_and_invalid_are_permanent_with_the_code() {
        let e = classify(
            "describing instance i-0abc",
            Some("InvalidInstanceID.NotFound"),
            Some("The instance ID 'i-0abc' does not exist"),
            Some(400),
        );
        assert_eq!(
            e,
            ActionError::Permanent(
                "describing instance i-0abc: InvalidInstanceID.NotFound: The instance ID 'i-0abc' does not exist"
                    .into()
            )
        );
        for code in [
            "UnauthorizedOperation",
            "InvalidParameterValue",
            "DBSnapshotNotFound",
            "AccessDenied",
        ] {
            assert!(!classify("x", Some(code), None, Some(400)).retryable(), "{code}");
        }
        assert!(!classify("x", Some("AuthFailure"), None, Some(401)).retryable());
        assert!(classify("x", None, None, Some(403)).message().contains("UnknownError"));
    }
}
