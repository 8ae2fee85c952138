//! The tus 1.0.0 protocol at `/files/`: core (`HEAD`, `PATCH`), `OPTIONS`, and the
//! creation, creation-with-upload, checksum (`sha1`, `sha256`), termination and expiration
//! extensions, so a stock tus client works unchanged.
//!
//! `Upload-Metadata` must carry `sha256` (of the whole file, hex), `filetype` (or `type`, the
//! declared media type) and `document` (the document of the record the file belongs to); it
//! may carry `record`. The uploader must be allowed to write that document.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{options, post};
use base64::Engine;
use client_core::{DocumentId, Millis, access};

use super::{Checksum, Media, sha256_hex, sniff};
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::store::UploadRecord;
use crate::{AppState, now};

pub const VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,checksum,termination,expiration";
const OFFSET_STREAM: &str = "application/offset+octet-stream";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files/", options(discover).post(create))
        .route(
            "/files/{id}",
            post(not_allowed).head(head).patch(patch).delete(terminate),
        )
        .layer(map_response(resumable))
}

/// Every tus answer says which protocol it speaks.
async fn resumable(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    response
}

async fn not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

impl AppState {
    pub(super) fn media(&self) -> Result<&std::sync::Arc<Media>> {
        self.media.as_ref().ok_or(ApiError::NotFound)
    }
}

/// Where an upload stands: its offset, and until when an unfinished one is kept.
fn progress(out: &mut HeaderMap, upload: &UploadRecord) {
    set(out, "upload-offset", upload.offset);
    if upload.completed_at.is_none() {
        set(out, "upload-expires", expires(upload));
    }
}

/// A header value from anything printable (what we print is always a valid value).
pub(super) fn header_value(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    headers.insert(HeaderName::from_static(name), header_value(value));
}

/// A request must speak our version of tus (`412` if it does not).
fn check_version(headers: &HeaderMap) -> Result<()> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(VERSION) => Ok(()),
        _ => Err(ApiError::PreconditionFailed(format!(
            "this server speaks tus {VERSION}"
        ))),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| ApiError::Malformed(format!("{name} is not a number")))
        })
        .transpose()
}

fn expires(upload: &UploadRecord) -> String {
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(upload.expires_at.0).unwrap_or(0));
    httpdate::fmt_http_date(at)
}

async fn discover(State(state): State<AppState>) -> Result<Response> {
    let media = state.media()?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    set(headers, "tus-version", VERSION);
    set(headers, "tus-extension", EXTENSIONS);
    set(headers, "tus-max-size", media.settings.max_blob);
    set(headers, "tus-checksum-algorithm", "sha1,sha256");
    Ok(response)
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>> {
    let Some(value) = headers.get("upload-metadata") else {
        return Ok(Vec::new());
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Malformed("Upload-Metadata is not text".into()))?;
    let mut pairs = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::Malformed(format!("metadata {key:.40} is not base64 text")))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    check_version(&headers)?;
    let media = state.media()?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::Malformed(
            "the length must be known at creation".into(),
        ));
    }
    let length = number(&headers, "upload-length")?
        .ok_or_else(|| ApiError::Malformed("Upload-Length is missing".into()))?;
    let meta = metadata(&headers)?;
    let get = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let sha256 = get("sha256")
        .and_then(sha256_hex)
        .ok_or_else(|| ApiError::Invalid("metadata sha256 (hex) is missing".into()))?;
    let declared = get("filetype")
        .or_else(|| get("type"))
        .map(sniff::essence)
        .ok_or_else(|| ApiError::Invalid("metadata filetype is missing".into()))?;
    if !sniff::accepted(&declared) {
        return Err(ApiError::UnsupportedMedia(format!(
            "{declared:.60} is not a photo, audio or video type we take"
        )));
    }
    let document = get("document")
        .and_then(|d| DocumentId::from_url(d).or_else(|_| d.parse()).ok())
        .ok_or_else(|| ApiError::Invalid("metadata document is missing".into()))?;
    let record = get("record").map(|r| r.chars().take(64).collect::<String>());
    // Someone who may not write the document may not know whether it exists. A branch
    // admin adding evidence to the township's problem may only advance its document; that
    // is enough to attach files, which validation then holds to the evidence.
    let writable = media
        .directory()
        .scope(document)
        .is_some_and(|scope| access::can_change(&caller.who, &scope));
    if !writable {
        return Err(ApiError::Forbidden(
            "you may not add media to this document",
        ));
    }
    let at = now();
    let id = crate::auth::secrets::random_token()
        .map_err(|error| ApiError::Internal(error.to_string()))?[..32]
        .to_owned();
    let upload = UploadRecord {
        id,
        user: caller.who.user,
        document,
        record,
        sha256,
        declared_type: declared,
        media_type: None,
        length,
        offset: 0,
        created_at: at,
        expires_at: Millis(
            at.0 + i64::try_from(media.settings.upload_ttl.as_millis()).unwrap_or(0),
        ),
        completed_at: None,
    };
    let mut upload = media.create(upload, at).await?;
    let with_data = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes() == OFFSET_STREAM.as_bytes());
    if with_data && upload.completed_at.is_none() {
        let checksum = checksum(&headers)?;
        upload = media
            .append(upload, 0, checksum, body.into_data_stream(), at)
            .await?;
    }
    let mut response = StatusCode::CREATED.into_response();
    let out = response.headers_mut();
    out.insert(
        header::LOCATION,
        header_value(format!("/files/{}", upload.id)),
    );
    progress(out, &upload);
    Ok(response)
}

fn checksum(headers: &HeaderMap) -> Result<Option<Checksum>> {
    headers
        .get("upload-checksum")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::Malformed("Upload-Checksum is not text".into()))
                .and_then(Checksum::parse)
        })
        .transpose()
}

async fn head(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let media = state.media()?;
    let upload = media.upload_of(&id, caller.who.user, now()).await?;
    let upload = media.settled(upload, now()).await?;
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    progress(out, &upload);
    set(out, "upload-length", upload.length);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    check_version(&headers)?;
    let media = state.media()?;
    let upload = media.upload_of(&id, caller.who.user, now()).await?;
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| t.as_bytes() != OFFSET_STREAM.as_bytes())
    {
        return Err(ApiError::UnsupportedMedia(format!(
            "a PATCH body is {OFFSET_STREAM}"
        )));
    }
    let offset = number(&headers, "upload-offset")?
        .ok_or_else(|| ApiError::Malformed("Upload-Offset is missing".into()))?;
    let checksum = checksum(&headers)?;
    let upload = media
        .append(upload, offset, checksum, body.into_data_stream(), now())
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    progress(response.headers_mut(), &upload);
    Ok(response)
}

async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    check_version(&headers)?;
    let media = state.media()?;
    let upload = media.upload_of(&id, caller.who.user, now()).await?;
    // A finished upload's blob stays: someone else may have sent the same file.
    media.discard(&upload.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
