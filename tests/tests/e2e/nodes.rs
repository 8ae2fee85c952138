//! Two `tianjian` processes on one PostgreSQL database, as a county runs a second node: a
//! phone on each, connected in either order, sees what the other writes, live; one node is
//! killed (SIGKILL) in the middle of a storm of writes, and everything it acknowledged is
//! there through the other, which the phones then finish the storm on.

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
            assert!(
                phone
                    .sync_until_acknowledged(LIMIT, &[v.notebook])
                    .await
                    .unwrap()
            );
        }
        written += 1;
        record(&mut li, &v, written).await;
        assert!(
            li.sync_until_acknowledged(LIMIT, &[v.notebook])
                .await
                .unwrap()
        );
        let acknowledged = Instant::now();
        let arrived = secretary
            .sync_until(LIMIT, |phone| {
                let held = lectures_held(phone, v.notebook);
                async move { held == written }
            })
            .await
            .unwrap();
        assert!(
            arrived,
            "the lecture written through A never reached the phone on B"
        );
        eprintln!(
            "secretary first: {secretary_first}; the lecture reached the phone on B {} ms after A acknowledged it",
            acknowledged.elapsed().as_millis()
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
        assert!(
            li.sync_until_acknowledged(LIMIT, &[v.notebook])
                .await
                .unwrap()
        );
    }
    let acknowledged = written;
    written += 1;
    record(&mut li, &v, written).await;
    a.kill().unwrap();

    // Everything A acknowledged is in the database B serves.
    assert!(lectures_stored(&store, &v).await >= acknowledged);
    let mut secretary = phone("secretary-phone", &store, v.notebook).await;
    connect(&mut secretary, b.addr, &v.secretary).await;
    assert!(
        secretary
            .sync_until(LIMIT, |phone| {
                let held = lectures_held(phone, v.notebook);
                async move { held >= acknowledged }
            })
            .await
            .unwrap(),
        "B does not serve what A acknowledged"
    );

    // The phone goes on through B with what A never acknowledged, and writes on.
    li.disconnect().await.unwrap();
    connect(&mut li, b.addr, &v.li).await;
    written += 1;
    record(&mut li, &v, written).await;
    assert!(
        li.sync_until_acknowledged(LIMIT, &[v.notebook])
            .await
            .unwrap()
    );
    assert_eq!(lectures_stored(&store, &v).await, written);
    assert!(
        secretary
            .sync_until(LIMIT, |phone| {
                let held = lectures_held(phone, v.notebook);
                async move { held == written }
            })
            .await
            .unwrap()
    );
    b.kill().unwrap();
}
