//! The Tianjian sync server.
//!
//! It owns the network edge (HTTP, and later the sync WebSocket and media uploads) and durable
//! storage. Every rule about what a document may contain or who may write it lives in
//! `client-core`; the server must never grow a second copy of those rules.

use std::future::Future;

use axum::{Router, routing::get};
use tokio::net::TcpListener;

pub mod admin;
pub mod auth;
pub mod cli;
pub mod directory;
pub mod store;
pub mod sync;

/// Everything a request handler may need.
#[derive(Clone, Debug, Default)]
pub struct AppState {
    /// The sync service; absent in a server started without storage.
    pub hub: Option<sync::Hub>,
    pub keys: Option<auth::Keys>,
}

impl AppState {
    /// A server over the database at `store`, signing tokens with `secret`.
    pub async fn open(store: store::Store, secret: &[u8]) -> Result<AppState, store::StoreError> {
        let (directory, watermark) = directory::Directory::load(&store).await?;
        let storage = store.storage_id().await?;
        tokio::spawn(directory.clone().follow(store.clone(), watermark));
        tokio::spawn(
            store
                .clone()
                .keep_compacting(std::time::Duration::from_secs(60)),
        );
        Ok(AppState {
            hub: Some(sync::Hub::start(store, directory, storage)),
            keys: Some(auth::Keys::from_secret(secret)),
        })
    }
}

/// The HTTP routes of the server, without binding a socket, so tests can drive it directly.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/sync", get(sync::endpoint))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes.
///
/// Tests call this with a listener bound to `127.0.0.1:0`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
