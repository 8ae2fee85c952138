//! What the server tells whoever runs it: log lines, each request and sync session in a span
//! that names the user, device and branch behind it.
//!
//! No secret is ever a field of a log line: request lines carry the path without its query
//! (a browser's sync ticket travels in the query), and no token, password or invite code is
//! logged anywhere. The operations tests read every line a server wrote to check it.

pub mod metrics;
pub mod readiness;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::EnvFilter;

use client_core::{BranchId, DeviceId, UserId};

use crate::auth::Caller;
use crate::configuration::{LogFormat, LogSection};

/// Logs to stderr, for people to read or as one JSON object a line.
pub fn init_logging(log: &LogSection) {
    // The level was checked with the rest of the configuration.
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Runs a request in a span named by its method and path, to which authentication adds who
/// is asking (`identify`), and logs its outcome once the response is ready.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        user = Empty,
        device = Empty,
        branch = Empty,
    );
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request"));
    response
}

/// Names the person and device behind the request or session being served, in its span.
pub fn identify(caller: &Caller) {
    name(caller.who.user, caller.device, caller.who.branch);
}

/// Names who a sign-in (enrolment, password, refresh) was for, once it succeeded.
pub fn signed_in(session: &crate::auth::Session) {
    name(session.user, session.device, session.principal.branch);
}

fn name(user: UserId, device: DeviceId, branch: Option<BranchId>) {
    let span = tracing::Span::current();
    span.record("user", tracing::field::display(user));
    span.record("device", tracing::field::display(device));
    if let Some(branch) = branch {
        span.record("branch", tracing::field::display(branch));
    }
}
