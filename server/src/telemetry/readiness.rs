//! `GET /readyz`, for a load balancer or service manager: whether this server can take
//! writes now (its database commits, its disk has more free space than the reserve); and
//! `GET /metrics`, for Prometheus.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::{AppState, now};

/// How long the database may take to commit a probe before the server counts as not ready:
/// a write queue that far behind is one phones would time out on.
const WRITE_PROBE: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize)]
struct Readiness {
    ready: bool,
    /// What is wrong, for whoever reads the probe's answer.
    problems: Vec<String>,
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    match &state.auth {
        None => problems.push("no storage".to_owned()),
        Some(auth) => {
            match tokio::time::timeout(WRITE_PROBE, auth.store.check_writable(now())).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => problems.push(format!("the database takes no writes: {error}")),
                Err(_) => problems.push(format!(
                    "the database did not commit within {} s",
                    WRITE_PROBE.as_secs()
                )),
            }
        }
    }
    if let Some(media) = &state.media {
        match media.room() {
            Ok((available, reserve)) if available <= reserve => problems.push(format!(
                "{available} bytes free on the data disk, no more than the reserve of {reserve}"
            )),
            Ok(_) => {}
            Err(error) => problems.push(format!("cannot read the data disk's free space: {error}")),
        }
    }
    let ready = problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(Readiness { ready, problems })).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    // What storage knows is read when asked for, not kept up to date on every change.
    if let Some(auth) = &state.auth
        && let Ok((uploads, bytes)) = auth.store.media_totals().await
    {
        let metrics = &state.metrics;
        metrics
            .uploads_in_progress
            .set(i64::try_from(uploads).unwrap_or(i64::MAX));
        metrics.blob_store_bytes.set(bytes);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
