//! Ledgers (台账) to download: `GET /api/v1/exports/{ledger}?format=xlsx|csv&period=` for
//! a branch or a township, with Chinese column headers, and `GET /api/v1/exports/media` for
//! the period's approved media as one ZIP, for the same admins who read the statistics. Members' private data (the members ledger) is for admins and the township
//! only, as the ledger document is.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::scope::{Whose, period, scope, today};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::export::{self, Ledger, archive};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/exports/media", get(media))
        .route("/exports/{ledger}", get(ledger))
}

#[derive(Debug, Deserialize)]
struct MediaQuery {
    #[serde(flatten)]
    whose: Whose,
    period: Option<String>,
}

/// How much of the archive is gathered before it is sent on.
const CHUNK: usize = 256 * 1024;

/// The approved media of a period as one ZIP, streamed as it is written.
async fn media(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<MediaQuery>,
) -> Result<Response> {
    let period = period(query.period.as_deref())?;
    let branches = query.whose.branches(&state, &caller).await?;
    let media = state.media.clone().ok_or(ApiError::NotFound)?;
    let files = state
        .auth()?
        .store
        .approved_files(scope(&branches), period.range())
        .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks {
            sender: sender.clone(),
            chunk: Vec::with_capacity(CHUNK),
        };
        // Blobs are read on this thread, the store's requests run on the server's runtime.
        let blob = |sha256: &str| {
            media
                .blobs()
                .blocking_reader(&runtime, sha256)
                .map_err(std::io::Error::other)
        };
        let written = archive::write(&files, blob, &mut out)
            .map_err(std::io::Error::other)
            .and_then(|()| out.send());
        if let Err(error) = written {
            // The reader is told, so the download ends as failed rather than short.
            let _ = sender.blocking_send(Err(error));
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    }));
    let stem = format!("{}-照片音视频-{period}", whose_name(&branches));
    attachment(
        body.into_response(),
        "application/zip",
        &format!("media-{period}.zip"),
        &format!("{stem}.zip"),
    )
}

/// What the archive writes, gathered into chunks for the response body.
struct Chunks {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    chunk: Vec<u8>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was dropped")
            })
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Who a download is of: the branch, or the whole township.
fn whose_name(branches: &[crate::store::BranchRecord]) -> String {
    match branches {
        [one] => one.name.clone(),
        _ => "全乡镇".to_owned(),
    }
}

/// `response` as a download called `name` (`ascii` for clients that cannot read `filename*`).
fn attachment(
    mut response: Response,
    media_type: &'static str,
    ascii: &str,
    name: &str,
) -> Result<Response> {
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    );
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition)
            .map_err(|e| ApiError::Internal(format!("file name: {e}")))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    #[serde(flatten)]
    whose: Whose,
    /// This month if absent; ignored by the members ledger, which is as it stands.
    period: Option<String>,
    /// `xlsx` (the default) or `csv`.
    format: Option<String>,
}

async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response> {
    let ledger = Ledger::named(&name).ok_or(ApiError::NotFound)?;
    let xlsx = match query.format.as_deref() {
        None | Some("xlsx") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "format is xlsx or csv, not {other:?}"
            )));
        }
    };
    let period = period(query.period.as_deref())?;
    let branches = query.whose.branches(&state, &caller).await?;
    let store = &state.auth()?.store;
    let records = store
        .ledger_records(ledger.listing(), scope(&branches), period.range())
        .await?;
    let sheet = export::sheet(ledger, &records, today());
    // A file named for the branch (or the whole township), the ledger and the period:
    // 合益村-微党课台账-2026-10.xlsx.
    let whose = whose_name(&branches);
    let stem = if ledger == Ledger::Members {
        format!("{whose}-{}", ledger.title())
    } else {
        format!("{whose}-{}-{period}", ledger.title())
    };
    let (bytes, extension, media_type) = if xlsx {
        let bytes = tokio::task::spawn_blocking(move || export::xlsx::write(&sheet))
            .await
            .map_err(|e| ApiError::Internal(format!("the XLSX writer stopped: {e}")))?
            .map_err(|e| ApiError::Internal(format!("XLSX: {e}")))?;
        (
            bytes,
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    } else {
        (export::csv::write(&sheet), "csv", "text/csv; charset=utf-8")
    };
    attachment(
        bytes.into_response(),
        media_type,
        &format!("{}-{period}.{extension}", ledger.name()),
        &format!("{stem}.{extension}"),
    )
}

/// RFC 5987 percent-encoding of a UTF-8 file name.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
