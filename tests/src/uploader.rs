//! A native device's uploads: client-core's upload queue driven over real HTTP (tus), as the
//! app drives it in the browser.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use client_core::uploads::{Action, Failure, Network, UploadQueue};

use crate::http;

/// Makes the queue's requests until nothing more may be sent on `network`, or `limit` passes;
/// returns how many requests failed along the way.
pub async fn upload(
    queue: &mut UploadQueue,
    blobs: &BTreeMap<String, Vec<u8>>,
    addr: SocketAddr,
    token: &str,
    network: Network,
    limit: Duration,
) -> u32 {
    let deadline = tokio::time::Instant::now() + limit;
    let mut failures = 0;
    while tokio::time::Instant::now() < deadline {
        let now = tianjian_server::now();
        let Some(action) = queue.next(now, network) else {
            // Anything still to send may be waiting out a backoff.
            if queue.progress().waiting > 0
                && queue
                    .next(client_core::Millis(now.0 + 600_000), network)
                    .is_some()
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            break;
        };
        let auth = ("Authorization".to_owned(), format!("Bearer {token}"));
        let tus = ("Tus-Resumable".to_owned(), "1.0.0".to_owned());
        let (sha256, outcome) = match action {
            Action::Create {
                sha256,
                size,
                media_type,
                document,
                record,
            } => {
                let metadata = format!(
                    "sha256 {},filetype {},document {},record {}",
                    STANDARD.encode(&sha256),
                    STANDARD.encode(&media_type),
                    STANDARD.encode(&document),
                    STANDARD.encode(&record),
                );
                let headers = [
                    auth,
                    tus,
                    ("Upload-Length".to_owned(), size.to_string()),
                    ("Upload-Metadata".to_owned(), metadata),
                ];
                let answer = http(addr, "POST", "/files/", &headers, &[]).await;
                let outcome = match answer {
                    Ok(answer) if answer.status == 201 => {
                        let url = answer.header("location").unwrap_or_default().to_owned();
                        let offset = answer
                            .header("upload-offset")
                            .and_then(|o| o.parse().ok())
                            .unwrap_or(0);
                        queue.created(&sha256, url, offset);
                        Ok(())
                    }
                    other => Err(failure(other)),
                };
                (sha256, outcome)
            }
            Action::Ask { sha256, url } => {
                let answer = http(addr, "HEAD", &url, &[auth, tus], &[]).await;
                let outcome = match answer {
                    Ok(answer) if answer.status == 200 => {
                        let offset = answer
                            .header("upload-offset")
                            .and_then(|o| o.parse().ok())
                            .unwrap_or(0);
                        queue.reached(&sha256, offset);
                        Ok(())
                    }
                    other => Err(failure(other)),
                };
                (sha256, outcome)
            }
            Action::Send {
                sha256,
                url,
                offset,
                length,
            } => {
                let bytes = &blobs[&sha256];
                let (start, end) = (offset as usize, (offset + length) as usize);
                let headers = [
                    auth,
                    tus,
                    ("Upload-Offset".to_owned(), offset.to_string()),
                    (
                        "Content-Type".to_owned(),
                        "application/offset+octet-stream".to_owned(),
                    ),
                ];
                let answer = http(addr, "PATCH", &url, &headers, &bytes[start..end]).await;
                let outcome = match answer {
                    Ok(answer) if answer.status == 204 => {
                        let offset = answer
                            .header("upload-offset")
                            .and_then(|o| o.parse().ok())
                            .unwrap_or(offset);
                        queue.reached(&sha256, offset);
                        Ok(())
                    }
                    other => Err(failure(other)),
                };
                (sha256, outcome)
            }
        };
        if let Err(failure) = outcome {
            failures += 1;
            queue.failed(&sha256, failure, tianjian_server::now());
        }
    }
    failures
}

/// What a failed request means for the queue.
fn failure(answer: std::io::Result<crate::Response>) -> Failure {
    match answer {
        Ok(answer) => match answer.status {
            404 => Failure::Gone,
            403 | 413 | 415 | 422 => Failure::Refused {
                reason: answer.error().unwrap_or_else(|| answer.status.to_string()),
            },
            _ => Failure::Retry,
        },
        Err(_) => Failure::Retry,
    }
}
