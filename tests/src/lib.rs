//! Helpers shared by the end-to-end tests: a real server on a loopback port, and native
//! devices that sync with it.

pub mod browser;
pub mod device;
pub mod fixture;
pub mod node;
pub mod phone;
pub mod postgres;
pub mod process;
pub mod proxy;
pub mod s3;
pub mod uploader;

use std::net::SocketAddr;

use tianjian_server::{AppState, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on `127.0.0.1` with an ephemeral port; stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves until [`TestServer::stop`] or drop.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(AppState::default()).await
    }

    /// The same, with a given state (storage, keys).
    pub async fn start_with(state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(state, listener, async move {
            // Either an explicit stop or the sender being dropped ends the server.
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the server and waits until it has closed its listener.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Sends a bare HTTP/1.1 GET and returns the status code and body.
    pub async fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let response = self.request("GET", path, None, None).await?;
        Ok((response.status, response.body))
    }

    /// Sends one HTTP/1.1 request, with a bearer token and a JSON body if given, exactly as
    /// written (a security test sends what no well-behaved client would).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> std::io::Result<Response> {
        request(self.addr, method, path, token, body).await
    }
}

/// Sends one HTTP/1.1 request to the server at `addr` (in this process or another), with a
/// bearer token and a JSON body if given, exactly as written.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Response> {
    let mut headers = Vec::new();
    if let Some(token) = token {
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    http(addr, method, path, &headers, body.as_bytes()).await
}

/// Sends one HTTP/1.1 request to `addr` and reads the whole answer: a server in this process
/// or in another.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    parse_response(&bytes).ok_or_else(|| {
        std::io::Error::other(format!(
            "malformed response: {:?}",
            String::from_utf8_lossy(&bytes)
        ))
    })
}

/// An HTTP response, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as bytes.
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `error` code of an API error body.
    pub fn error(&self) -> Option<String> {
        self.json()["error"].as_str().map(str::to_owned)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn parse_response(response: &[u8]) -> Option<Response> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    let body = &response[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    // Binary bodies (blobs, archives) are kept as they came; `body` is them as text.
    let bytes = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}

/// The body of a chunked response.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        let after = &rest[line + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}
