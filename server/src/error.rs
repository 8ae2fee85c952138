//! The one error type of the HTTP API: every failure a request can meet maps here, and from
//! here to a status and a JSON body `{"error": code, "message": text}`. Server faults are
//! logged in full and answered without detail.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::admin::AdminError;
use crate::auth::AuthError;
use crate::store::StoreError;
use crate::writer::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The caller's role may not do this at all.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Unknown, or not the caller's to see: the two answer alike.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("{0}")]
    QuotaExceeded(String),
    /// Not a photo, audio or video we take.
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("the server's disk is too full to take this")]
    InsufficientStorage,
    /// A chunk whose checksum does not match (tus, `460`).
    #[error("the chunk does not match its checksum")]
    ChecksumMismatch,
    #[error("this upload is being written by another request")]
    Locked,
    #[error("{0}")]
    PreconditionFailed(String),
    /// A range outside the blob (`416`); the size goes in `Content-Range`.
    #[error("the range is outside the file")]
    RangeNotSatisfiable(u64),
    /// Well-formed, but a value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Not JSON, or not the JSON this endpoint takes.
    #[error("{0}")]
    Malformed(String),
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// tus's status for a chunk that does not match its `Upload-Checksum`.
const CHECKSUM_MISMATCH: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    /// The status and the machine-readable code.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Auth(error) => match error {
                AuthError::TokenMissing => (StatusCode::UNAUTHORIZED, "token_missing"),
                AuthError::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
                AuthError::TokenInvalid => (StatusCode::UNAUTHORIZED, "token_invalid"),
                AuthError::DeviceRevoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
                AuthError::RefreshExpired => (StatusCode::UNAUTHORIZED, "refresh_expired"),
                AuthError::RefreshInvalid => (StatusCode::UNAUTHORIZED, "refresh_invalid"),
                AuthError::TicketInvalid => (StatusCode::UNAUTHORIZED, "ticket_invalid"),
                AuthError::InviteUnknown => (StatusCode::UNAUTHORIZED, "invite_unknown"),
                AuthError::InviteUsed => (StatusCode::UNAUTHORIZED, "invite_used"),
                AuthError::InviteExpired => (StatusCode::UNAUTHORIZED, "invite_expired"),
                AuthError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
                AuthError::TooManyAttempts(_) => {
                    (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
                }
                AuthError::Store(_) | AuthError::Secret(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                }
            },
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::QuotaExceeded(_) => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
            ApiError::UnsupportedMedia(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::InsufficientStorage => {
                (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage")
            }
            ApiError::ChecksumMismatch => (CHECKSUM_MISMATCH, "checksum_mismatch"),
            ApiError::Locked => (StatusCode::LOCKED, "locked"),
            ApiError::PreconditionFailed(_) => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed")
            }
            ApiError::RangeNotSatisfiable(_) => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, detail = ?self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message,
            }),
        )
            .into_response();
        if let ApiError::Auth(AuthError::TooManyAttempts(wait)) = &self
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let ApiError::RangeNotSatisfiable(size) = &self
            && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::PhoneTaken => ApiError::Conflict(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Store(store) => store.into(),
            AdminError::NoBranch(_) => ApiError::NotFound,
            AdminError::NeedsBranch(_) | AdminError::Invalid(_) => {
                ApiError::Invalid(error.to_string())
            }
            AdminError::Write(WriteError::Store(store)) => store.into(),
            AdminError::Document(_)
            | AdminError::Auth(_)
            | AdminError::Write(
                WriteError::Missing(_) | WriteError::Document(..) | WriteError::Refused(_),
            ) => ApiError::Internal(error.to_string()),
        }
    }
}
