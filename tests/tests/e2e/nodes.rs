//! Two `tianjian` processes on one PostgreSQL database, as a county runs a second node: a
//! phone on each, connected in either order, sees what the other writes, live; one node is
//! killed (SIGKILL) in the middle of a storm of writes, and everything it acknowledged is
//! there through the other, which the phones then finish the storm on; an upload begun
//! through one node is finished through the other, the photo kept once in their bucket.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use client_core::model::notebook::Lecture;
use client_core::{DocumentId, Limits, Notebook, Principal, schema};
use tianjian_server::store::Store;
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{NOW, Village, keys, lecture, lectures_in, operate, token, village};
use tianjian_tests::postgres::fresh_database;
use tianjian_tests::process::ServerProcess;

const LIMIT: Duration = Duration::from_secs(30);

/// A node: the `tianjian` command on a free loopback port, its data in PostgreSQL at `url`
/// and its media in `data`.
fn node(data: &Path, url: &str) -> ServerProcess {
    ServerProcess::tianjian_with(
        Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")),
        data,
        &[
            ("TIANJIAN__STORAGE__DATABASE", url),
            ("TIANJIAN__LOG__LEVEL", "warn"),
        ],
        None,
    )
}

/// A phone of `who` holding `document` as the server has it, connected to `addr`.
async fn phone(name: &str, store: &Store, document: DocumentId) -> Device {
    let mut phone = Device::new(name);
    phone.hold(
        document,
        store.load_document(document).await.unwrap().unwrap(),
    );
    phone.open(document).await.unwrap();
    phone
}

async fn connect(phone: &mut Device, addr: SocketAddr, who: &Principal) {
    phone.connect(addr, &token(&keys(), who)).await.unwrap();
}

/// 李章桂 records his `round`th lecture on `phone`.
async fn record(phone: &mut Device, v: &Village, round: usize) {
    phone
        .edit(v.notebook, |doc| {
            operate(doc, Notebook::load, |notebook| {
                let lecture = Lecture {
                    title: format!("第{round}讲"),
                    ..lecture(&v.li)
                };
                notebook.record_lecture(&v.li, NOW, lecture).unwrap();
            });
        })
        .await
        .unwrap();
}

fn lectures_held(phone: &Device, document: DocumentId) -> usize {
    phone
        .document(document)
        .map_or(0, |doc| lectures_in(&doc.save()))
}

/// Syncs `phone` until it holds at least `lectures` of 李章桂's, or the limit passes.
async fn until_it_holds(phone: &mut Device, v: &Village, lectures: usize) -> bool {
    phone
        .sync_until(LIMIT, |phone| {
            let held = lectures_held(phone, v.notebook);
            async move { held >= lectures }
        })
        .await
        .unwrap()
}

/// Syncs `phone` until the server has acknowledged all it holds of 李章桂's notebook.
async fn acknowledged(phone: &mut Device, v: &Village) -> bool {
    phone
        .sync_until_acknowledged(LIMIT, &[v.notebook])
        .await
        .unwrap()
}

async fn lectures_stored(store: &Store, v: &Village) -> usize {
    let bytes = store.load_document(v.notebook).await.unwrap().unwrap();
    Notebook::load(&bytes, Limits::default())
        .unwrap()
        .records::<Lecture>(&schema::LECTURES)
        .len()
}

#[tokio::test]
async fn a_lecture_written_through_one_node_reaches_a_phone_on_the_other_and_a_killed_node_loses_nothing()
 {
    let url = fresh_database();
    let store = Store::open_postgres(&url).unwrap();
    let v = village(&store).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(dir_a.path(), &url);
    let b = node(dir_b.path(), &url);

    // 李章桂 writes through A; his secretary, who reviews his notebook, reads it through B.
    // The phones connect in one order, then the other.
    let mut written = 0;
    for secretary_first in [true, false] {
        let mut li = phone("li-phone", &store, v.notebook).await;
        let mut secretary = phone("secretary-phone", &store, v.notebook).await;
        if secretary_first {
            connect(&mut secretary, b.addr, &v.secretary).await;
            connect(&mut li, a.addr, &v.li).await;
        } else {
            connect(&mut li, a.addr, &v.li).await;
            connect(&mut secretary, b.addr, &v.secretary).await;
        }
        for phone in [&mut li, &mut secretary] {
            assert!(acknowledged(phone, &v).await);
        }
        written += 1;
        record(&mut li, &v, written).await;
        assert!(acknowledged(&mut li, &v).await);
        let acknowledged_at = Instant::now();
        let arrived = until_it_holds(&mut secretary, &v, written).await;
        assert!(
            arrived && lectures_held(&secretary, v.notebook) == written,
            "the lecture written through A never reached the phone on B"
        );
        eprintln!(
            "secretary first: {secretary_first}; the lecture reached the phone on B {} ms after A acknowledged it",
            acknowledged_at.elapsed().as_millis()
        );
        li.disconnect().await.unwrap();
        secretary.disconnect().await.unwrap();
    }

    // A storm through A: 李章桂 records lecture after lecture, each acknowledged, and A is
    // killed with the last one in flight.
    let mut li = phone("li-phone", &store, v.notebook).await;
    connect(&mut li, a.addr, &v.li).await;
    for _ in 0..8 {
        written += 1;
        record(&mut li, &v, written).await;
        assert!(acknowledged(&mut li, &v).await);
    }
    let kept = written;
    written += 1;
    record(&mut li, &v, written).await;
    a.kill().unwrap();

    // Everything A acknowledged is in the database B serves.
    assert!(lectures_stored(&store, &v).await >= kept);
    let mut secretary = phone("secretary-phone", &store, v.notebook).await;
    connect(&mut secretary, b.addr, &v.secretary).await;
    assert!(
        until_it_holds(&mut secretary, &v, kept).await,
        "B does not serve what A acknowledged"
    );

    // The phone goes on through B with what A never acknowledged, and writes on.
    li.disconnect().await.unwrap();
    connect(&mut li, b.addr, &v.li).await;
    written += 1;
    record(&mut li, &v, written).await;
    assert!(acknowledged(&mut li, &v).await);
    assert_eq!(lectures_stored(&store, &v).await, written);
    assert!(until_it_holds(&mut secretary, &v, written).await);
    assert_eq!(lectures_held(&secretary, v.notebook), written);
    b.kill().unwrap();
}

/// A photo's upload begun through node A and resumed through node B, which cannot see A's
/// bytes: B says so (offset 0), the phone sends it again, and the photo, kept once in the
/// shared bucket, is served whole by both nodes.
#[tokio::test]
async fn an_upload_begun_through_one_node_is_finished_through_the_other() {
    use crate::media::{create, fetch, offset, patch};
    use tianjian_tests::fixture::{photo, sha256};

    let url = fresh_database();
    let store = Store::open_postgres(&url).unwrap();
    let v = village(&store).await;
    let bucket = tianjian_tests::s3::fresh_prefix().to_string();
    let node = |data: &Path| {
        ServerProcess::tianjian_with(
            Path::new(env!("CARGO_BIN_EXE_tianjian-under-test")),
            data,
            &[
                ("TIANJIAN__STORAGE__DATABASE", &url),
                ("TIANJIAN__MEDIA__BLOBS", &bucket),
                ("TIANJIAN__LOG__LEVEL", "warn"),
            ],
            None,
        )
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (node(dir_a.path()), node(dir_b.path()));
    let li = token(&keys(), &v.li);
    let bytes = photo(3 << 20);
    let hash = sha256(&bytes);

    let created = create(a.addr, &li, &hash, bytes.len(), "image/jpeg", v.notebook).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let upload = created.header("location").unwrap().to_owned();
    let sent = patch(a.addr, &li, &upload, 0, &bytes[..1 << 20], None).await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    assert_eq!(offset(a.addr, &li, &upload).await, Some(1 << 20));

    // The phone's next request reaches B, which holds none of the bytes: it says 0, and
    // refuses to go on from where A was.
    assert_eq!(offset(b.addr, &li, &upload).await, Some(0));
    // A small chunk: B answers before reading a body, and a large one would still be
    // being written when it closes the connection.
    let onward = patch(
        b.addr,
        &li,
        &upload,
        1 << 20,
        &bytes[1 << 20..(1 << 20) + 1024],
        None,
    )
    .await;
    assert_eq!(onward.status, 409, "{}", onward.body);
    let whole = patch(b.addr, &li, &upload, 0, &bytes, None).await;
    assert_eq!(whole.status, 204, "{}", whole.body);

    for server in [&a, &b] {
        let fetched = fetch(server.addr, &li, &hash, None).await;
        assert_eq!(fetched.status, 200, "{}", fetched.body);
        assert!(
            fetched.bytes == bytes,
            "the photo served is not the photo sent"
        );
    }
    a.kill().unwrap();
    b.kill().unwrap();
}
