//! `GET /blobs/{sha256}`: a blob, whole or by HTTP range, so that video streams and seeks.
//!
//! The hash is the `ETag`, and the bytes under a hash never change, so a blob may be cached
//! for a year; privately, since who may fetch it depends on who asks. A blob that exists but
//! is not the caller's answers exactly like one that does not exist.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::sha256_hex;
use super::tus::header_value;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/blobs/{sha256}", get(download))
        .route("/api/v1/blobs/{sha256}/ticket", post(ticket))
}

#[derive(Debug, serde::Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// Who asks: a bearer token, or a blob ticket in the URL (browsers' media elements).
fn caller(
    state: &AppState,
    headers: &HeaderMap,
    query: &TicketQuery,
    sha256: &str,
) -> Result<Caller> {
    let auth = state.auth()?;
    let caller = match &query.ticket {
        Some(ticket) => auth.authenticate_blob(ticket, sha256)?,
        None => auth.authenticate(crate::api::bearer(headers)?)?,
    };
    crate::telemetry::identify(&caller);
    Ok(caller)
}

#[derive(Debug, serde::Serialize)]
struct BlobUrl {
    url: String,
    expires_in_seconds: u64,
}

/// `POST /api/v1/blobs/{sha256}/ticket`: a URL for the blob that works without headers.
async fn ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<BlobUrl>> {
    let media = state.media()?;
    let sha256 = sha256_hex(&sha256).ok_or(ApiError::NotFound)?;
    if !media.may_fetch(&caller.who, &sha256).await?
        || media.store().blob(sha256.clone()).await?.is_none()
    {
        return Err(ApiError::NotFound);
    }
    let ticket = state.auth()?.blob_ticket(&caller, &sha256, crate::now())?;
    Ok(Json(BlobUrl {
        url: format!("/blobs/{sha256}?ticket={ticket}"),
        expires_in_seconds: crate::auth::BLOB_TICKET_TTL.as_secs(),
    }))
}

/// The byte range a `Range` header asks for, as `start..end` (end exclusive); `None` for the
/// whole blob. Only single ranges are served; a list of ranges gets the whole blob, which
/// HTTP allows.
pub fn requested_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (first, last) = spec
        .split_once('-')
        .ok_or(ApiError::RangeNotSatisfiable(size))?;
    let parse = |text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::RangeNotSatisfiable(size))
    };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-500`: the last 500 bytes.
        (true, false) => {
            let suffix = parse(last)?;
            if suffix == 0 {
                return Err(ApiError::RangeNotSatisfiable(size));
            }
            (size.saturating_sub(suffix), size)
        }
        // `bytes=500-`: from byte 500 on.
        (false, true) => (parse(first)?, size),
        (false, false) => {
            let (start, end) = (parse(first)?, parse(last)?);
            if end < start {
                return Err(ApiError::RangeNotSatisfiable(size));
            }
            (start, end.saturating_add(1).min(size))
        }
        (true, true) => return Err(ApiError::RangeNotSatisfiable(size)),
    };
    if range.0 >= size {
        return Err(ApiError::RangeNotSatisfiable(size));
    }
    Ok(Some(range))
}

async fn download(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Query(query): Query<TicketQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let media = state.media()?;
    let sha256 = sha256_hex(&sha256).ok_or(ApiError::NotFound)?;
    let caller = caller(&state, &headers, &query, &sha256)?;
    if !media.may_fetch(&caller.who, &sha256).await? {
        return Err(ApiError::NotFound);
    }
    let blob = media
        .store()
        .blob(sha256.clone())
        .await?
        .ok_or(ApiError::NotFound)?;
    let etag = format!("\"{sha256}\"");
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let range = requested_range(
            headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
            blob.size,
        )?;
        let (start, end) = range.unwrap_or((0, blob.size));
        let bytes = media
            .blobs()
            .read(&sha256, start..end)
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let body = Body::from_stream(bytes);
        let mut response = body.into_response();
        if range.is_some() {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let content_range = format!("bytes {start}-{}/{}", end - 1, blob.size);
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, header_value(content_range));
        }
        let out = response.headers_mut();
        out.insert(header::CONTENT_TYPE, header_value(&blob.media_type));
        out.insert(header::CONTENT_LENGTH, header_value(end - start));
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, header_value(&etag));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says() {
        let size = 1000;
        assert_eq!(requested_range(None, size).unwrap(), None);
        assert_eq!(
            requested_range(Some("bytes=0-99"), size).unwrap(),
            Some((0, 100))
        );
        assert_eq!(
            requested_range(Some("bytes=500-"), size).unwrap(),
            Some((500, 1000))
        );
        assert_eq!(
            requested_range(Some("bytes=-100"), size).unwrap(),
            Some((900, 1000))
        );
        assert_eq!(
            requested_range(Some("bytes=-5000"), size).unwrap(),
            Some((0, 1000))
        );
        assert_eq!(
            requested_range(Some("bytes=900-5000"), size).unwrap(),
            Some((900, 1000))
        );
        assert_eq!(requested_range(Some("bytes=0-1,5-6"), size).unwrap(), None);
        for bad in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=-0",
            "bytes=x-1",
            "bytes=-",
        ] {
            assert!(
                matches!(
                    requested_range(Some(bad), size),
                    Err(ApiError::RangeNotSatisfiable(1000))
                ),
                "{bad}"
            );
        }
    }
}
