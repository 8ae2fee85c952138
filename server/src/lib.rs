//! The Tianjian sync server.
//!
//! It owns the network edge (HTTP, and later the sync WebSocket and media uploads) and durable
//! storage. Every rule about what a document may contain or who may write it lives in
//! `client-core`; the server must never grow a second copy of those rules.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::{Router, routing::get};
use tokio::net::TcpListener;

pub mod admin;
pub mod api;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod configuration;
pub mod demo;
pub mod directory;
pub mod elections;
pub mod error;
pub mod export;
pub mod media;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod web;
pub mod writer;

/// Everything a request handler may need.
#[derive(Clone, Debug, Default)]
pub struct AppState {
    /// The sync service; absent in a server started without storage.
    pub hub: Option<sync::Hub>,
    /// Identity: tokens, devices, enrolment; absent likewise.
    pub auth: Option<Arc<auth::Auth>>,
    /// Uploads and blobs; absent likewise.
    pub media: Option<Arc<media::Media>>,
    /// The web app's files, served for every path the API does not take.
    pub web: Option<std::path::PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// What `/metrics` reports.
    pub metrics: telemetry::metrics::Metrics,
    /// How long a shutdown waits for writes to commit and peers to be told; `None` for
    /// [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Option<std::time::Duration>,
}

/// How long a shutdown waits, unless configured otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// What a server is started with.
#[derive(Debug, Clone)]
pub struct Config {
    pub keys: auth::KeyRing,
    pub auth: auth::Settings,
    /// Media limits, and where complete blobs are kept (`media.blobs`).
    pub media: media::Settings,
    /// Where partial uploads live, and blobs when they are files.
    pub media_dir: std::path::PathBuf,
    /// The web app's build (`pwa/dist`), if this server serves it.
    pub web_dir: Option<std::path::PathBuf>,
    pub shutdown_grace: std::time::Duration,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Config {
    /// Default settings, signing with `keys`, media under `data`.
    pub fn new(keys: auth::KeyRing, data: &std::path::Path) -> Config {
        Config {
            keys,
            auth: auth::Settings::default(),
            media: media::Settings::default(),
            media_dir: data.join(media::MEDIA_DIR),
            web_dir: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot prepare the media store: {0}")]
    Media(#[from] media::blobs::BlobsError),
}

impl AppState {
    /// A server over the database at `store`.
    pub async fn open(store: store::Store, config: Config) -> Result<AppState, StartError> {
        let directory = directory::Directory::load(&store).await?;
        let storage = store.storage_id().await?;
        tokio::spawn(directory.clone().follow(store.clone()));
        // This process among the nodes sharing the database, for the work one node does.
        let node = store.node().to_owned();
        tokio::spawn(
            store
                .clone()
                .keep_compacting(std::time::Duration::from_secs(60), node.clone()),
        );
        let metrics = telemetry::metrics::Metrics::new();
        let hub = sync::Hub::start(store.clone(), directory.clone(), storage, metrics.clone());
        tokio::spawn(elections::keep_counting(
            store.clone(),
            hub.clone(),
            std::time::Duration::from_secs(60),
            node,
        ));
        let media = media::Media::open(
            store.clone(),
            directory.clone(),
            &config.media_dir,
            config.media,
            metrics.clone(),
        )?;
        tokio::spawn(
            media
                .clone()
                .keep_expiring(std::time::Duration::from_secs(60)),
        );
        let auth = auth::Auth::new(store, directory, hub.clone(), config.keys, config.auth);
        Ok(AppState {
            hub: Some(hub),
            auth: Some(Arc::new(auth)),
            media: Some(media),
            web: config.web_dir,
            metrics,
            shutdown_grace: Some(config.shutdown_grace),
            trusted_proxies: Arc::new(config.trusted_proxies),
        })
    }
}

/// The HTTP routes of the server, without binding a socket, so tests can drive it directly.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(telemetry::readiness::readyz))
        .route("/metrics", get(telemetry::readiness::metrics))
        .route("/sync", get(sync::endpoint))
        .nest("/api/v1", api::routes())
        .merge(media::tus::routes())
        .merge(media::download::routes());
    if let Some(dir) = &state.web {
        router = router.merge(web::routes(dir));
    }
    router
        .layer(axum::middleware::from_fn(telemetry::trace_request))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then shuts down within
/// the state's grace: stops accepting, tells every sync peer it is going away, and waits for
/// requests in progress and for accepted changes still being written. A change is
/// acknowledged only once stored, so whatever a peer was told is kept; what it was not told
/// of, it sends again to the next server.
///
/// Tests call this with a listener bound to `127.0.0.1:0`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.hub.clone();
    let grace = state.shutdown_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE);
    let (stop_accepting, stopped) = tokio::sync::oneshot::channel::<()>();
    // The peer's address reaches handlers, to slow down guessing per address.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    tokio::select! {
        served = &mut server => return served.map_err(std::io::Error::other)?,
        () = shutdown => {}
    }
    tracing::info!(grace_secs = grace.as_secs(), "shutting down");
    let deadline = tokio::time::Instant::now() + grace;
    let _ = stop_accepting.send(());
    if let Some(hub) = &hub {
        hub.close_all_sessions().await;
    }
    let served = tokio::time::timeout_at(deadline, &mut server).await;
    let settled = match &hub {
        Some(hub) => hub.settled(deadline).await,
        None => true,
    };
    match served {
        Ok(served) if settled => {
            tracing::info!("shut down");
            served.map_err(std::io::Error::other)?
        }
        _ => {
            server.abort();
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "stopped waiting for requests, sessions or writes to finish"
            );
            Ok(())
        }
    }
}

/// The server's clock, as an Automerge timestamp.
pub fn now() -> client_core::Millis {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    client_core::Millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

/// Process liveness: answers as long as the process can serve HTTP at all.
async fn healthz() -> &'static str {
    "ok"
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn healthz_answers_ok() {
        let response = router(AppState::default())
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
    }
}
