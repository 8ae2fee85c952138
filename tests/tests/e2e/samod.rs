//! `samod`, the Rust implementation of automerge-repo, as an independent peer: it finds a
//! notebook on our server, adds a lecture the server keeps, receives a lecture another phone
//! wrote, and is told a document it may not see is unavailable.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, ready};
use futures_util::{SinkExt, StreamExt};
use samod::{BackoffConfig, DialError, Dialer, PeerId, Repo, Transport, Url};
use tianjian_tests::device::Device;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use tianjian_tests::fixture::{Database, NOW, lecture, lectures_in, operate, served, token};

const LIMIT: Duration = Duration::from_secs(20);

/// Connects samod to `/sync` with an access token in the header, over our own WebSocket.
struct BearerDialer {
    url: String,
    token: String,
}

impl Dialer for BearerDialer {
    type Error = WsError;

    fn url(&self) -> Url {
        self.url.parse().unwrap()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<WsError>>> {
        let (url, token) = (self.url.clone(), self.token.clone());
        Box::pin(async move {
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(DialError::transient)?;
            request
                .headers_mut()
                .insert("Authorization", format!("Bearer {token}").parse().unwrap());
            let (socket, _) = tokio_tungstenite::connect_async(request)
                .await
                .map_err(DialError::transient)?;
            let (sink, stream) = socket.split();
            let stream = stream
                .filter_map(|message| {
                    ready(match message {
                        Ok(Message::Binary(bytes)) => Some(Ok(bytes.to_vec())),
                        Ok(_) => None,
                        Err(error) => Some(Err(error)),
                    })
                })
                .boxed();
            let sink = sink.with(|bytes: Vec<u8>| ready(Ok::<_, WsError>(Message::binary(bytes))));
            Ok(Transport::new(stream, sink))
        })
    }
}

#[tokio::test]
async fn a_samod_peer_syncs_a_notebook_both_ways() {
    let (db, server) = served().await;
    let Database { store, v, keys, .. } = &db;

    let repo = Repo::build_tokio()
        .with_peer_id(PeerId::from("samod-li"))
        .load()
        .await;
    let dialer = repo
        .dial(
            BackoffConfig {
                max_retries: Some(0),
                ..Default::default()
            },
            Arc::new(BearerDialer {
                url: format!("ws://{}/sync", server.addr),
                token: token(keys, &v.li),
            }),
        )
        .unwrap();
    timeout(LIMIT, dialer.established()).await.unwrap().unwrap();
    let connection = dialer.connection_id().unwrap();

    // samod finds li's notebook and records a lecture in it.
    let notebook_id: samod::DocumentId = v.notebook.to_string().parse().unwrap();
    let handle = timeout(LIMIT, repo.find(notebook_id))
        .await
        .unwrap()
        .unwrap()
        .expect("the server has li's notebook");
    let li = v.li.clone();
    handle.with_document(|doc| {
        operate(doc, client_core::Notebook::load, |notebook| {
            notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
        });
    });
    timeout(LIMIT, handle.they_have_our_changes(connection))
        .await
        .unwrap();
    let stored = store.load_document(v.notebook).await.unwrap().unwrap();
    assert_eq!(lectures_in(&stored), 1, "the server kept samod's lecture");

    // li's other phone records a second lecture; samod receives it.
    let mut phone = Device::new("li-other-phone");
    phone
        .connect(server.addr, &token(keys, &v.li))
        .await
        .unwrap();
    phone.open(v.notebook).await.unwrap();
    let notebook = v.notebook;
    assert!(
        phone
            .sync_until(LIMIT, |d| {
                let one = d
                    .document(notebook)
                    .is_some_and(|doc| lectures_in(&doc.save()) == 1);
                async move { one }
            })
            .await
            .unwrap()
    );
    let li = v.li.clone();
    phone
        .edit(v.notebook, |doc| {
            operate(doc, client_core::Notebook::load, |notebook| {
                notebook.record_lecture(&li, NOW, lecture(&li)).unwrap();
            });
        })
        .await
        .unwrap();
    let mut changes = handle.changes();
    assert!(
        phone
            .sync_until_acknowledged(LIMIT, &[notebook])
            .await
            .unwrap()
    );
    let received = timeout(LIMIT, async {
        loop {
            if handle.with_document(|doc| lectures_in(&doc.save())) == 2 {
                return;
            }
            changes.next().await;
        }
    })
    .await;
    assert!(received.is_ok(), "samod never received the second lecture");

    // Another branch's document does not exist, as far as li can tell.
    let foreign: samod::DocumentId = v.branch_of_outsider.to_string().parse().unwrap();
    let found = timeout(LIMIT, repo.find(foreign)).await.unwrap().unwrap();
    assert!(found.is_none());

    dialer.close();
    repo.stop().await;
    server.stop().await.unwrap();
}
