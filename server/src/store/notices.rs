//! What one node tells the others sharing its PostgreSQL database: after every write to a
//! document, the document and the version it is at now (`NOTIFY`, sent at commit). A node
//! holding that document reads what it has not seen (`Store::written_since`). The notice is
//! only a hint: a listener that lost its connection says so (`Heard::Reconnected`), and the
//! node then catches up from the versions it holds, as it also does now and then in case a
//! notice never came.

use std::time::Duration;

use client_core::DocumentId;
use tokio::sync::mpsc;

/// The channel writes are announced on.
pub const CHANGES_CHANNEL: &str = "tianjian_changes";

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// A write to a document, as announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The node that wrote it: a node never needs its own notices.
    pub node: String,
    pub document: DocumentId,
    /// The document's version once the write committed.
    pub version: i64,
}

impl Written {
    pub(super) fn notice(node: &str, document: DocumentId, version: i64) -> String {
        format!("{node} {document} {version}")
    }

    fn parse(payload: &str) -> Option<Written> {
        let mut parts = payload.split(' ');
        let written = Written {
            node: parts.next()?.to_owned(),
            document: parts.next()?.parse().ok()?,
            version: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(written)
    }
}

/// What the listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Written(Written),
    /// The listener connected (again): notices sent while it was away are lost.
    Reconnected,
}

/// Listens for writes on the PostgreSQL database at `url`, on a thread of its own (the
/// blocking client), until the receiver is dropped.
pub(super) fn listen(url: String) -> mpsc::Receiver<Heard> {
    let (heard, receiver) = mpsc::channel(4096);
    let spawned = std::thread::Builder::new()
        .name("storage-notices".into())
        .spawn(move || {
            while !heard.is_closed() {
                if let Err(error) = listen_once(&url, &heard) {
                    tracing::warn!(%error, "lost the connection that hears other nodes' writes");
                }
                std::thread::sleep(RECONNECT_AFTER);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the thread that hears other nodes' writes");
    }
    receiver
}

fn listen_once(url: &str, heard: &mpsc::Sender<Heard>) -> Result<(), postgres::Error> {
    use postgres::fallible_iterator::FallibleIterator;

    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
    if heard.blocking_send(Heard::Reconnected).is_err() {
        return Ok(());
    }
    loop {
        {
            let mut notifications = client.notifications();
            let mut arrived = notifications.timeout_iter(Duration::from_secs(1));
            while let Some(notification) = arrived.next()? {
                match Written::parse(notification.payload()) {
                    Some(written) => {
                        if heard.blocking_send(Heard::Written(written)).is_err() {
                            return Ok(());
                        }
                    }
                    None => {
                        tracing::warn!(payload = notification.payload(), "an unreadable notice")
                    }
                }
            }
        }
        if heard.is_closed() {
            return Ok(());
        }
        if client.is_closed() {
            // The next statement says why.
            client.batch_execute("SELECT 1")?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back_and_nothing_else_does() {
        let document = DocumentId::generate().unwrap();
        let payload = Written::notice("node-a", document, 42);
        assert_eq!(
            Written::parse(&payload),
            Some(Written {
                node: "node-a".into(),
                document,
                version: 42
            })
        );
        for bad in [
            "",
            "node-a",
            "node-a x 1",
            &format!("node-a {document} x"),
            &format!("{payload} more"),
        ] {
            assert_eq!(Written::parse(bad), None, "{bad}");
        }
    }
}
