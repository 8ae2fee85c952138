//! The web app (the PWA's build), served from the server's own origin so that the app's API
//! calls, WebSocket and uploads are same-origin: no CORS to get wrong, and one address for a
//! village office to type.
//!
//! Files whose names carry a content hash (`/assets/…`) are cached for good; everything else
//! (the page, the service worker, the manifest) is revalidated on every load, which is how a
//! new version reaches phones. The app's own service worker then serves it all offline.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::services::ServeDir;

/// What the app may load and talk to: itself only, plus the media it holds as blobs. WASM
/// needs `wasm-unsafe-eval`; nothing else is evaluated.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
     connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Serves the files of `dir` for any path no other route takes.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    Router::new()
        // The build writes a Brotli and a gzip twin of each text and WASM file, and a phone
        // on mobile data downloads the smaller: Brotli where the browser takes it (every
        // current one, over HTTPS or on localhost), gzip where not. Of encodings accepted
        // alike, ServeDir prefers Brotli.
        .fallback_service(
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(middleware::from_fn(headers))
}

async fn headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    // The same path is sent in Brotli, gzip or whole by what the request accepts: a shared
    // cache (a county's proxy) must not hand one browser's encoding to another.
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}
