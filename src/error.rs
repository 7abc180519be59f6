//! The one error type that crosses the network.
//!
//! Every server function returns `Result<T, AppError>`. Each variant maps to
//! one HTTP status (see [`AppError::status`]); the body is JSON with the
//! status and a human-readable message, e.g.
//! `{"status":409,"error":"That email is already registered."}`.
//!
//! Internal failures (Redis down, a task panicked) become [`AppError::Internal`],
//! whose message is fixed. It carries its [`Cause`] (what failed and the
//! source error) on the server only: the cause is never serialized, and it is
//! logged once, at the edge, when the error becomes an answer (see
//! [`WireError`]'s `From`), inside the request's trace span.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use thiserror::Error;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(into = "WireError", from = "WireError")]
pub enum AppError {
    /// 400: the input is malformed; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 401: not signed in, or the credentials are wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing, or a thing the caller may not know exists.
    #[error("{0}")]
    NotFound(String),
    /// 409: it already exists.
    #[error("{0}")]
    Conflict(String),
    /// 413: the request is too large.
    #[error("{0}")]
    TooLarge(String),
    /// 429: too many requests; try again after `retry_after_secs`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: the server could not be reached (seen only in the browser).
    #[error("{0}")]
    Unavailable(String),
    /// 500: a fault on our side. The cause is in the server log only.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(#[source] Cause),
}

/// Why an internal failure happened: a context ("send script") and the
/// source error, kept for the server's log. It is not part of the wire form,
/// so a client never sees it, and it does not take part in equality (two
/// internal errors are the same answer).
#[derive(Clone, Default)]
pub struct Cause(Option<Arc<CauseInner>>);

struct CauseInner {
    context: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl Cause {
    /// What failed, with the error that says why.
    pub fn new(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self(Some(Arc::new(CauseInner {
            context,
            source: source.into(),
        })))
    }
}

impl std::fmt::Display for Cause {
    /// `context: source: source's source…`, the whole chain on one line
    /// (a link whose text the line already holds is not repeated: many
    /// errors print their source themselves).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(inner) = &self.0 else {
            return f.write_str("unknown cause");
        };
        let mut line = format!("{}: {}", inner.context, inner.source);
        let mut next = inner.source.source();
        while let Some(err) = next {
            let text = err.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = err.source();
        }
        f.write_str(&line)
    }
}

impl std::fmt::Debug for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cause({self})")
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let inner = self.0.as_ref()?;
        Some(inner.source.as_ref())
    }
}

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cause {}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::TooManyRequests { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// What a form shows for an error that came back in the page's URL (a
    /// plain form post, without JavaScript, is answered with a redirect
    /// carrying the error in `__err`). Anyone can write such a URL, so its
    /// message is never shown: only a fixed text for its kind.
    pub fn from_url_message(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "Please check the form: a field is not valid.",
            Self::Unauthorized(_) => "Wrong email or password.",
            Self::Forbidden(_) => "That is not allowed.",
            Self::NotFound(_) => "Not found.",
            Self::Conflict(_) => "That email or handle is already taken.",
            Self::TooLarge(_) => "That is too large.",
            Self::TooManyRequests { .. } => "Slow down: try again in a minute.",
            Self::Unavailable(_) | Self::Internal(_) => {
                "Something went wrong on our side. Please try again."
            }
        }
    }

    /// Seconds the client should wait before retrying, for 429 answers.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The answer for any request that needs a signed-in user and has none.
    pub fn not_signed_in() -> Self {
        Self::Unauthorized("You are not signed in.".into())
    }

    /// The answer to an action over its rate limit, allowed again in
    /// `wait_ms` milliseconds (rounded up to whole seconds).
    pub fn too_many_requests(wait_ms: u64) -> Self {
        let seconds = wait_ms.div_ceil(1000).max(1);
        Self::TooManyRequests {
            message: format!("Slow down: try again in {seconds} s."),
            retry_after_secs: seconds,
        }
    }

    /// An internal failure: `context` says what failed, `source` why. Not
    /// logged here: the edge logs it once, when it becomes a 500 (code that
    /// swallows an error logs it itself, with `{err:?}`, which shows the
    /// cause).
    pub fn internal(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal(Cause::new(context, source))
    }
}

/// For plain axum handlers (not server functions): the same status and JSON
/// body a server function would answer with.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_secs();
        let mut response = (status, axum::Json(WireError::from(self))).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// The JSON shape of an error on the wire.
#[derive(Serialize, Deserialize)]
struct WireError {
    status: u16,
    error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl From<AppError> for WireError {
    /// The edge: every error that reaches a client passes here once (a server
    /// function's answer, a plain handler's, or a resource serialized into a
    /// server-rendered page), so a genuine 500 is logged here, as one, with
    /// its cause and inside the request's span (method and path).
    fn from(err: AppError) -> Self {
        #[cfg(feature = "ssr")]
        if let AppError::Internal(cause) = &err {
            tracing::error!(status = 500, %cause, "internal error");
        }
        Self {
            status: err.status(),
            error: err.to_string(),
            retry_after: err.retry_after_secs(),
        }
    }
}

impl From<WireError> for AppError {
    fn from(wire: WireError) -> Self {
        let message = wire.error;
        match wire.status {
            400 => Self::BadRequest(message),
            401 => Self::Unauthorized(message),
            403 => Self::Forbidden(message),
            404 => Self::NotFound(message),
            409 => Self::Conflict(message),
            413 => Self::TooLarge(message),
            429 => Self::TooManyRequests {
                message,
                retry_after_secs: wire.retry_after.unwrap_or(1),
            },
            503 => Self::Unavailable(message),
            other => Self::internal("an answer with an unexpected status", other.to_string()),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself. On the server the
    /// decoding ones mean a malformed request (a client error: a missing or
    /// mistyped field, a body that is not UTF-8 or is too large); in the
    /// browser the rest are network failures.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Deserialization(detail) if detail.contains("length limit") => {
                Self::TooLarge("The request is too large.".into())
            }
            ServerFnErrorErr::Args(detail)
            | ServerFnErrorErr::MissingArg(detail)
            | ServerFnErrorErr::Deserialization(detail) => {
                Self::BadRequest(format!("Invalid input: {detail}"))
            }
            ServerFnErrorErr::Request(_) => {
                Self::Unavailable("Cannot reach the server. Check your connection.".into())
            }
            other => {
                // In the browser nothing serializes this error, so say it here.
                #[cfg(not(feature = "ssr"))]
                leptos::logging::error!("server function machinery failed: {other}");
                Self::internal("server function machinery", other)
            }
        }
    }
}

/// The result type of every server function and store call.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_survives_the_round_trip_through_json() {
        let err = AppError::TooManyRequests {
            message: "Slow down".into(),
            retry_after_secs: 3,
        };
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(
            json,
            r#"{"status":429,"error":"Slow down","retry_after":3}"#
        );
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), err);
    }

    #[test]
    fn internal_errors_never_carry_detail() {
        let err = AppError::internal("send script", "secret detail");
        assert_eq!(
            err.to_string(),
            "Something went wrong on our side. Please try again."
        );
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(
            json,
            r#"{"status":500,"error":"Something went wrong on our side. Please try again."}"#
        );
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log() {
        let source = std::io::Error::other("connection reset");
        let err = AppError::internal("redis command failed", source);
        assert_eq!(
            format!("{err:?}"),
            "Internal(Cause(redis command failed: connection reset))"
        );
        let cause = std::error::Error::source(&err).expect("a source");
        assert_eq!(cause.to_string(), "redis command failed: connection reset");
        assert_eq!(
            std::error::Error::source(cause).unwrap().to_string(),
            "connection reset"
        );
    }
}
