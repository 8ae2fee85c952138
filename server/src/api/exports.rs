//! Ledgers (台账) to download: `GET /api/v1/exports/{ledger}?format=xlsx|csv&period=` for
//! a branch or a township, with Chinese column headers, for the same admins who read the
//! statistics. Members' private data (the members ledger) is for admins and the township
//! only, as the ledger document is.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::scope::{Whose, period, scope, today};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::export::{self, Ledger};

pub fn routes() -> Router<AppState> {
    Router::new().route("/exports/{ledger}", get(ledger))
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
    let whose = match branches.as_slice() {
        [one] => one.name.clone(),
        _ => "全乡镇".to_owned(),
    };
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
    let disposition = format!(
        "attachment; filename=\"{}.{extension}\"; filename*=UTF-8''{}.{extension}",
        ascii_name(ledger, &period.to_string()),
        percent_encode(&stem)
    );
    let mut response = bytes.into_response();
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

/// A plain ASCII file name for clients that do not read `filename*`.
fn ascii_name(ledger: Ledger, period: &str) -> String {
    format!("{}-{period}", ledger.name())
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
