//! The security suite: what a forger, a thief, a curious member or an admin reaching past his
//! branch or township could send, over real HTTP (and real WebSocket handshakes) to a real
//! server on a loopback port and a real SQLite file.
//!
//! Every group is a table of refused requests run by one helper, which asserts the status, the
//! JSON `error` code, and that no table of the database (the audit log and sync states aside)
//! changed. A successful set-up request happens before the helper takes its first snapshot.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use client_core::{DocumentId, Principal, Role, UserId};
use serde_json::{Value, json};
use tianjian_server::AppState;
use tianjian_server::auth::{Claims, KeyRing, Settings};
use tianjian_tests::device::Device;
use tianjian_tests::fixture::{SECRET, config, database, phone_of, served, table_rows, token};
use tianjian_tests::{Response, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(20);

/// Every table a refused request must leave as it was: all but the audit log, which records
/// refusals, and the sync states, which a connection may save whatever it is refused.
const TABLES: &[&str] = &[
    "documents",
    "changes",
    "snapshots",
    "townships",
    "branches",
    "users",
    "devices",
    "refresh_tokens",
    "invites",
    "actors",
    "records",
    "record_people",
    "record_media",
    "record_values",
    "standings",
    "elections",
];

/// The method of a case that is a WebSocket handshake on `GET`, not a plain request: `/sync`
/// must refuse a real handshake before it upgrades.
const WEBSOCKET: &str = "WEBSOCKET";

/// One refused request: what it tries, the method, path, bearer token and body, and the
/// status and error code it must be answered with.
type Case<'a> = (
    &'a str,
    &'a str,
    String,
    Option<&'a str>,
    Option<String>,
    u16,
    &'a str,
);

/// Sends every case and checks its answer, and that the database is exactly as it was before
/// it. Returns the responses, for what a group checks beyond that.
async fn assert_refused(
    server: &TestServer,
    database: &tianjian_server::store::Store,
    cases: Vec<Case<'_>>,
) -> Vec<Response> {
    let mut responses = Vec::new();
    for (description, method, path, token, body, status, code) in cases {
        let before = table_rows(database, TABLES).await;
        let response = if method == WEBSOCKET {
            handshake(server.addr, &path, token).await
        } else {
            server
                .request(method, &path, token, body.as_deref())
                .await
                .unwrap()
        };
        assert_eq!(
            (response.status, response.error().as_deref()),
            (status, Some(code)),
            "{description}: {method} {path} answered {} {}",
            response.status,
            response.body
        );
        assert!(
            response.json()["message"].is_string(),
            "{description}: the error has no message: {}",
            response.body
        );
        let (gone, added) = difference(&before, &table_rows(database, TABLES).await);
        assert!(
            gone.is_empty() && added.is_empty(),
            "{description}: {method} {path} changed the database:\ngone: {gone:#?}\nadded: {added:#?}"
        );
        responses.push(response);
    }
    responses
}

/// The rows only in `before`, and those only in `after`, each cut short to be read.
fn difference(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let only = |these: &[String], those: &[String]| -> Vec<String> {
        these
            .iter()
            .filter(|row| !those.contains(row))
            .map(|row| row.chars().take(160).collect())
            .collect()
    };
    (only(before, after), only(after, before))
}

/// Sends one request that must succeed with `status`, and returns its JSON body.
async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    status: u16,
) -> Value {
    let body = body.map(|b| b.to_string());
    let response = server
        .request(method, path, token, body.as_deref())
        .await
        .unwrap();
    assert_eq!(
        response.status, status,
        "{method} {path} answered {}",
        response.body
    );
    response.json()
}

/// A JSON body for a case.
fn body(value: Value) -> Option<String> {
    Some(value.to_string())
}

/// An opening WebSocket handshake on `path`, as a browser or phone sends it, read up to the
/// end of the server's answer (a `101` answer is returned as soon as its head is in).
async fn handshake(addr: SocketAddr, path: &str, token: Option<&str>) -> Response {
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|code| code.parse().ok())
                .unwrap();
            let headers: Vec<(String, String)> = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or(0);
            let body = &bytes[end + 4..];
            if status == 101 || body.len() >= length {
                return Response {
                    status,
                    headers,
                    body: String::from_utf8_lossy(body).into_owned(),
                    bytes: body.to_vec(),
                };
            }
        }
        let read = tokio::time::timeout(LIMIT, stream.read(&mut buffer))
            .await
            .expect("the server never finished answering the handshake")
            .unwrap();
        assert!(read > 0, "the connection closed mid-answer: {bytes:?}");
        bytes.extend_from_slice(&buffer[..read]);
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the server would put in a token for `who`'s phone, expiring at `exp`.
fn claims_of(who: &Principal, exp: u64) -> Claims {
    Claims {
        sub: who.user,
        dev: phone_of(who.user),
        role: who.role,
        branch: who.branch,
        township: who.township,
        iat: now_seconds(),
        exp,
    }
}

/// Tokens made by hand, as a forger makes them: any header and claims, signed with any HMAC
/// (jsonwebtoken's own signer, with whatever algorithm the forger likes) or not at all. A
/// forged token is only worth testing if everything but the one thing under test is right.
mod forge {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::Value;

    #[derive(Debug, Clone, Copy)]
    pub enum Mac {
        Sha256,
        Sha384,
        Sha512,
    }

    /// A JWT of `header` and `claims`, signed with `key` (no signature at all if `mac` is
    /// `None`).
    pub fn jwt(header: &Value, claims: &Value, mac: Option<Mac>, key: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match mac {
            None => String::new(),
            Some(mac) => {
                let algorithm = match mac {
                    Mac::Sha256 => Algorithm::HS256,
                    Mac::Sha384 => Algorithm::HS384,
                    Mac::Sha512 => Algorithm::HS512,
                };
                let key = EncodingKey::from_secret(key);
                jsonwebtoken::crypto::sign(input.as_bytes(), &key, algorithm).unwrap()
            }
        };
        format!("{input}.{signature}")
    }
}

use forge::{Mac, jwt};

/// The header of a token as the server writes it, with `alg` and `kid` as given.
fn header(alg: &str, kid: Option<&str>) -> Value {
    match kid {
        Some(kid) => json!({"alg": alg, "typ": "JWT", "kid": kid}),
        None => json!({"alg": alg, "typ": "JWT"}),
    }
}

/// 1. A token signed with a key that is not the server's is no token at all, on the API and
/// on `/sync`, whatever it claims.
#[tokio::test]
async fn a_token_signed_with_another_key_is_refused_on_the_api_and_on_sync() {
    let (db, server) = served().await;
    let v = &db.v;
    let stranger = KeyRing::new(b"someone else's signing key, 32 bytes or more", &[]).unwrap();
    let forged: &str = &token(&stranger, &v.li);
    let forged_admin: &str = &token(&stranger, &v.system_admin);
    let real: &str = &token(&db.keys, &v.li);
    // The same claims signed by the server's key are let in, over HTTP and over the handshake:
    // what is refused below is refused for its signature.
    call(&server, "GET", "/api/v1/me", Some(real), None, 200).await;
    assert_eq!(
        handshake(server.addr, "/sync", Some(real)).await.status,
        101
    );

    // A real token with someone else's claims spliced in keeps a signature that no longer fits.
    let parts: Vec<&str> = real.split('.').collect();
    let admin_real: &str = &token(&db.keys, &v.system_admin);
    let admin_claims = admin_real.split('.').nth(1).unwrap();
    let spliced = format!("{}.{admin_claims}.{}", parts[0], parts[2]);
    let unsigned = format!("{}.{}.", parts[0], parts[1]);

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("another key, li's claims", "GET", "/api/v1/me".into(), Some(forged), None, 401, "token_invalid"),
        ("another key, on sync", WEBSOCKET, "/sync".into(), Some(forged), None, 401, "token_invalid"),
        ("another key, for a sync ticket", "POST", "/api/v1/sync-ticket".into(), Some(forged), None, 401, "token_invalid"),
        ("another key, claiming the system admin", "GET", "/api/v1/townships".into(), Some(forged_admin), None, 401, "token_invalid"),
        ("another key, creating a township", "POST", "/api/v1/townships".into(), Some(forged_admin), body(json!({"name": "伪造乡"})), 401, "token_invalid"),
        ("another key, on sync as the system admin", WEBSOCKET, "/sync".into(), Some(forged_admin), None, 401, "token_invalid"),
        ("the system admin's claims under li's signature", "GET", "/api/v1/townships".into(), Some(spliced.as_str()), None, 401, "token_invalid"),
        ("li's token with its signature cut off", "GET", "/api/v1/me".into(), Some(unsigned.as_str()), None, 401, "token_invalid"),
        ("li's token with its signature cut off, on sync", WEBSOCKET, "/sync".into(), Some(unsigned.as_str()), None, 401, "token_invalid"),
        ("not a JWT", "GET", "/api/v1/me".into(), Some("not-a-token"), None, 401, "token_invalid"),
        ("three parts of nothing", "GET", "/api/v1/me".into(), Some("a.b.c"), None, 401, "token_invalid"),
        ("no token", "GET", "/api/v1/me".into(), None, None, 401, "token_missing"),
        ("no token, on sync", WEBSOCKET, "/sync".into(), None, None, 401, "token_missing"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 2. `alg: none` with the server's own key id is refused, however it is spelt and whatever
/// follows the last dot.
#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let (db, server) = served().await;
    let v = &db.v;
    let kid = db.keys.current_id();
    let claims = serde_json::to_value(claims_of(&v.li, now_seconds() + 3600)).unwrap();
    let none = jwt(&header("none", Some(kid)), &claims, None, SECRET);
    let none_admin = jwt(
        &header("none", Some(kid)),
        &serde_json::to_value(claims_of(&v.system_admin, now_seconds() + 3600)).unwrap(),
        None,
        SECRET,
    );
    let spellings: Vec<String> = ["None", "NONE", "nOnE", ""]
        .iter()
        .map(|alg| jwt(&header(alg, Some(kid)), &claims, None, SECRET))
        .collect();
    let no_dot = none.trim_end_matches('.').to_owned();
    // A signature that would be right for HS256, attached to a header that says `none`.
    let signed_none = jwt(
        &header("none", Some(kid)),
        &claims,
        Some(Mac::Sha256),
        SECRET,
    );

    #[rustfmt::skip]
    let mut cases: Vec<Case> = vec![
        ("alg none", "GET", "/api/v1/me".into(), Some(none.as_str()), None, 401, "token_invalid"),
        ("alg none, on sync", WEBSOCKET, "/sync".into(), Some(none.as_str()), None, 401, "token_invalid"),
        ("alg none, for a sync ticket", "POST", "/api/v1/sync-ticket".into(), Some(none.as_str()), None, 401, "token_invalid"),
        ("alg none, as the system admin", "POST", "/api/v1/townships".into(), Some(none_admin.as_str()), body(json!({"name": "伪造乡"})), 401, "token_invalid"),
        ("alg none, with no dot for the signature", "GET", "/api/v1/me".into(), Some(no_dot.as_str()), None, 401, "token_invalid"),
        ("alg none, with an HS256 signature", "GET", "/api/v1/me".into(), Some(signed_none.as_str()), None, 401, "token_invalid"),
    ];
    for spelt in &spellings {
        cases.push((
            "alg none, spelt otherwise",
            "GET",
            "/api/v1/me".into(),
            Some(spelt),
            None,
            401,
            "token_invalid",
        ));
    }
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 3. The algorithm is the server's: a token signed with the server's own secret and key id,
/// but with HS384 or HS512, is refused, as are asymmetric algorithms, and tokens without a key
/// id or with one the server does not have.
#[tokio::test]
async fn only_hs256_with_a_known_key_id_is_accepted() {
    let (db, server) = served().await;
    let v = &db.v;
    let kid = db.keys.current_id();
    let claims = serde_json::to_value(claims_of(&v.li, now_seconds() + 3600)).unwrap();
    let sign = |alg: &str, kid: Option<&str>, mac: Mac, key: &[u8]| {
        jwt(&header(alg, kid), &claims, Some(mac), key)
    };
    // The forger's own HS256 token, with the server's secret and key id, is let in: every
    // token below differs from it only in what its description says.
    let control = sign("HS256", Some(kid), Mac::Sha256, SECRET);
    let me = call(
        &server,
        "GET",
        "/api/v1/me",
        Some(control.as_str()),
        None,
        200,
    )
    .await;
    assert_eq!(me["principal"]["user"], json!(v.li.user.to_string()));

    let hs384 = sign("HS384", Some(kid), Mac::Sha384, SECRET);
    let hs512 = sign("HS512", Some(kid), Mac::Sha512, SECRET);
    // The old confusion: an asymmetric algorithm "verified" with the shared secret.
    let rs256 = sign("RS256", Some(kid), Mac::Sha256, SECRET);
    let es256 = sign("ES256", Some(kid), Mac::Sha256, SECRET);
    let hs256_as_512 = sign("HS256", Some(kid), Mac::Sha512, SECRET);
    let no_kid = sign("HS256", None, Mac::Sha256, SECRET);
    let unknown_kid = sign("HS256", Some("0123456789abcdef"), Mac::Sha256, SECRET);
    let stranger = KeyRing::new(b"someone else's signing key, 32 bytes or more", &[]).unwrap();
    let strangers_kid = sign("HS256", Some(stranger.current_id()), Mac::Sha256, SECRET);
    let sql_kid = sign("HS256", Some("' OR '1'='1"), Mac::Sha256, SECRET);
    let path_kid = sign("HS256", Some("../../../../etc/passwd"), Mac::Sha256, SECRET);
    let other_secret = sign(
        "HS256",
        Some(kid),
        Mac::Sha256,
        b"someone else's signing key, 32 bytes or more",
    );
    let empty_secret = sign("HS256", Some(kid), Mac::Sha256, b"");

    let me_path = || "/api/v1/me".to_owned();
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("HS384 with the right secret and key id", "GET", me_path(), Some(hs384.as_str()), None, 401, "token_invalid"),
        ("HS512 with the right secret and key id", "GET", me_path(), Some(hs512.as_str()), None, 401, "token_invalid"),
        ("HS512 with the right secret and key id, on sync", WEBSOCKET, "/sync".into(), Some(hs512.as_str()), None, 401, "token_invalid"),
        ("RS256 header, HMAC with the secret", "GET", me_path(), Some(rs256.as_str()), None, 401, "token_invalid"),
        ("ES256 header, HMAC with the secret", "GET", me_path(), Some(es256.as_str()), None, 401, "token_invalid"),
        ("HS256 header over an HS512 signature", "GET", me_path(), Some(hs256_as_512.as_str()), None, 401, "token_invalid"),
        ("no key id", "GET", me_path(), Some(no_kid.as_str()), None, 401, "token_invalid"),
        ("no key id, on sync", WEBSOCKET, "/sync".into(), Some(no_kid.as_str()), None, 401, "token_invalid"),
        ("an unknown key id", "GET", me_path(), Some(unknown_kid.as_str()), None, 401, "token_invalid"),
        ("another key's id over the server's secret", "GET", me_path(), Some(strangers_kid.as_str()), None, 401, "token_invalid"),
        ("a key id of SQL", "GET", me_path(), Some(sql_kid.as_str()), None, 401, "token_invalid"),
        ("a key id that is a path", "GET", me_path(), Some(path_kid.as_str()), None, 401, "token_invalid"),
        ("the server's key id over another secret", "GET", me_path(), Some(other_secret.as_str()), None, 401, "token_invalid"),
        ("the server's key id over an empty secret", "GET", me_path(), Some(empty_secret.as_str()), None, 401, "token_invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 4. An expired token says so (so that a phone refreshes it), but only once its signature has
/// checked out; and what a token claims beyond who and which device is not trusted.
#[tokio::test]
async fn an_expired_token_is_refused_as_expired_and_its_claims_are_not_trusted() {
    let (db, server) = served().await;
    let v = &db.v;
    let kid = db.keys.current_id();
    let expired = db
        .keys
        .issue(&claims_of(&v.li, now_seconds() - 60))
        .unwrap();
    let long_expired = db.keys.issue(&claims_of(&v.li, 1)).unwrap();
    let stranger = KeyRing::new(b"someone else's signing key, 32 bytes or more", &[]).unwrap();
    let forged_expired = stranger
        .issue(&claims_of(&v.li, now_seconds() - 60))
        .unwrap();
    let mut without_exp = serde_json::to_value(claims_of(&v.li, 0)).unwrap();
    without_exp.as_object_mut().unwrap().remove("exp");
    let without_exp = jwt(
        &header("HS256", Some(kid)),
        &without_exp,
        Some(Mac::Sha256),
        SECRET,
    );

    // Properly signed tokens whose claims the directory contradicts.
    let far = now_seconds() + 3600;
    let promoted = db
        .keys
        .issue(&Claims {
            role: Role::SystemAdmin,
            branch: None,
            ..claims_of(&v.li, far)
        })
        .unwrap();
    let elsewhere = db
        .keys
        .issue(&Claims {
            branch: Some(v.shuangqiao),
            ..claims_of(&v.li, far)
        })
        .unwrap();
    let borrowed_phone = db
        .keys
        .issue(&Claims {
            dev: phone_of(v.secretary.user),
            ..claims_of(&v.li, far)
        })
        .unwrap();
    let nobody = db
        .keys
        .issue(&Claims {
            sub: UserId::generate().unwrap(),
            dev: client_core::DeviceId::generate().unwrap(),
            ..claims_of(&v.system_admin, far)
        })
        .unwrap();
    let someone_elses_phone = db
        .keys
        .issue(&Claims {
            sub: v.secretary.user,
            role: v.secretary.role,
            ..claims_of(&v.li, far)
        })
        .unwrap();

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("expired a minute ago", "GET", "/api/v1/me".into(), Some(expired.as_str()), None, 401, "token_expired"),
        ("expired a minute ago, on sync", WEBSOCKET, "/sync".into(), Some(expired.as_str()), None, 401, "token_expired"),
        ("expired a minute ago, for a sync ticket", "POST", "/api/v1/sync-ticket".into(), Some(expired.as_str()), None, 401, "token_expired"),
        ("expired in 1970", "GET", "/api/v1/me".into(), Some(long_expired.as_str()), None, 401, "token_expired"),
        ("expired and signed with another key", "GET", "/api/v1/me".into(), Some(forged_expired.as_str()), None, 401, "token_invalid"),
        ("no expiry at all", "GET", "/api/v1/me".into(), Some(without_exp.as_str()), None, 401, "token_invalid"),
        ("li's token claiming the system admin's role", "GET", "/api/v1/townships".into(), Some(promoted.as_str()), None, 403, "forbidden"),
        ("li's token claiming the system admin's role, creating a township", "POST", "/api/v1/townships".into(), Some(promoted.as_str()), body(json!({"name": "伪造乡"})), 403, "forbidden"),
        ("li's token claiming 双桥村", "GET", format!("/api/v1/branches/{}", v.shuangqiao), Some(elsewhere.as_str()), None, 404, "not_found"),
        ("li's token naming the secretary's phone", "GET", "/api/v1/me".into(), Some(borrowed_phone.as_str()), None, 401, "token_invalid"),
        ("the secretary's token naming li's phone", "GET", "/api/v1/me".into(), Some(someone_elses_phone.as_str()), None, 401, "token_invalid"),
        ("the secretary's token naming li's phone, on sync", WEBSOCKET, "/sync".into(), Some(someone_elses_phone.as_str()), None, 401, "token_invalid"),
        ("a person and device that do not exist", "GET", "/api/v1/me".into(), Some(nobody.as_str()), None, 401, "token_invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 5. Once the secretary has revoked li's phone, its token, a ticket it got before, and its
/// open sync connection are all of no use.
#[tokio::test]
async fn a_revoked_devices_token_ticket_and_connection_stop_working() {
    let (db, server) = served().await;
    let v = &db.v;
    let li: &str = &token(&db.keys, &v.li);
    let secretary: &str = &token(&db.keys, &v.secretary);
    let phone = phone_of(v.li.user);
    let ticket = call(&server, "POST", "/api/v1/sync-ticket", Some(li), None, 200).await;
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let mut connected = Device::new("li-phone");
    connected.connect(server.addr, li).await.unwrap();

    let revoked = call(
        &server,
        "POST",
        &format!("/api/v1/devices/{phone}/revoke"),
        Some(secretary),
        None,
        200,
    )
    .await;
    assert_eq!(revoked["revoked"], json!(true));
    assert!(
        connected.sync_until_closed(LIMIT).await.unwrap(),
        "the revoked phone's sync connection stayed open"
    );

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("who am I", "GET", "/api/v1/me".into(), Some(li), None, 401, "device_revoked"),
        ("a sync ticket", "POST", "/api/v1/sync-ticket".into(), Some(li), None, 401, "device_revoked"),
        ("sync with the token", WEBSOCKET, "/sync".into(), Some(li), None, 401, "device_revoked"),
        ("sync with a ticket got before", WEBSOCKET, format!("/sync?ticket={ticket}"), None, None, 401, "device_revoked"),
        ("his own account", "GET", format!("/api/v1/users/{}", v.li.user), Some(li), None, 401, "device_revoked"),
        ("signing out", "POST", "/api/v1/me/sign-out".into(), Some(li), None, 401, "device_revoked"),
        ("revoking itself", "POST", format!("/api/v1/devices/{phone}/revoke"), Some(li), None, 401, "device_revoked"),
        ("a new password", "PUT", "/api/v1/me/password".into(), Some(li), body(json!({"new": "a new password"})), 401, "device_revoked"),
    ];
    assert_refused(&server, &db.store, cases).await;

    // The revocation is the phone's alone: the secretary still works, and sees it revoked.
    let devices = call(
        &server,
        "GET",
        &format!("/api/v1/users/{}/devices", v.li.user),
        Some(secretary),
        None,
        200,
    )
    .await;
    let entry = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == json!(phone.to_string()))
        .unwrap();
    assert!(entry["revoked_at"].is_number(), "{entry}");
    server.stop().await.unwrap();
}

/// 6. A refresh token presented after its successor was used means two holders, one a thief:
/// the device is revoked, and every token of it, the newest too, is refused from then on.
#[tokio::test]
async fn a_reused_refresh_token_revokes_its_device() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let invite = call(
        &server,
        "POST",
        &format!("/api/v1/users/{}/invites", v.li.user),
        Some(secretary),
        Some(json!({})),
        201,
    )
    .await;
    let enrolled = call(
        &server,
        "POST",
        "/api/v1/enrol",
        None,
        Some(json!({"code": invite["code"], "device_name": "李章桂的新手机"})),
        200,
    )
    .await;
    let device = enrolled["device"].as_str().unwrap().to_owned();
    let first = enrolled["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: &str| json!({"refresh_token": token});
    let second = call(
        &server,
        "POST",
        "/api/v1/token",
        None,
        Some(refresh(&first)),
        200,
    )
    .await;
    let second_token = second["refresh_token"].as_str().unwrap().to_owned();
    let third = call(
        &server,
        "POST",
        "/api/v1/token",
        None,
        Some(refresh(&second_token)),
        200,
    )
    .await;
    let newest = third["refresh_token"].as_str().unwrap().to_owned();
    let access = third["access_token"].as_str().unwrap().to_owned();
    let first_access = enrolled["access_token"].as_str().unwrap().to_owned();
    call(
        &server,
        "GET",
        "/api/v1/me",
        Some(access.as_str()),
        None,
        200,
    )
    .await;

    // The reuse itself changes the database, by revoking the device and nothing else.
    let untouched: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| !matches!(*t, "devices" | "refresh_tokens"))
        .collect();
    let before = table_rows(&db.store, &untouched).await;
    let reused = server
        .request(
            "POST",
            "/api/v1/token",
            None,
            Some(&refresh(&first).to_string()),
        )
        .await
        .unwrap();
    assert_eq!(
        (reused.status, reused.error().as_deref()),
        (401, Some("device_revoked")),
        "{}",
        reused.body
    );
    assert_eq!(table_rows(&db.store, &untouched).await, before);

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("the newest refresh token", "POST", "/api/v1/token".into(), None, body(refresh(&newest)), 401, "device_revoked"),
        ("the second refresh token", "POST", "/api/v1/token".into(), None, body(refresh(&second_token)), 401, "device_revoked"),
        ("the first refresh token again", "POST", "/api/v1/token".into(), None, body(refresh(&first)), 401, "device_revoked"),
        ("the newest access token", "GET", "/api/v1/me".into(), Some(access.as_str()), None, 401, "device_revoked"),
        ("the newest access token, on sync", WEBSOCKET, "/sync".into(), Some(access.as_str()), None, 401, "device_revoked"),
        ("the first access token", "GET", "/api/v1/me".into(), Some(first_access.as_str()), None, 401, "device_revoked"),
        ("a refresh token never issued", "POST", "/api/v1/token".into(), None, body(refresh(&"0".repeat(64))), 401, "refresh_invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;

    let devices = call(
        &server,
        "GET",
        &format!("/api/v1/users/{}/devices", v.li.user),
        Some(secretary),
        None,
        200,
    )
    .await;
    let devices = devices.as_array().unwrap();
    let entry = devices.iter().find(|d| d["id"] == json!(device)).unwrap();
    assert!(entry["revoked_at"].is_number(), "{entry}");
    // His other phone is not the thief's business.
    let phone = devices
        .iter()
        .find(|d| d["id"] == json!(phone_of(v.li.user).to_string()))
        .unwrap();
    assert!(phone["revoked_at"].is_null(), "{phone}");
    call(
        &server,
        "GET",
        "/api/v1/me",
        Some(&token(&db.keys, &v.li)),
        None,
        200,
    )
    .await;
    server.stop().await.unwrap();
}

/// 7. An invite code enrols one device, once, while it is good; nothing else enrols anything.
#[tokio::test]
async fn used_expired_and_unknown_invites_are_refused() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let invites = format!("/api/v1/users/{}/invites", v.li.user);
    let used = call(
        &server,
        "POST",
        &invites,
        Some(secretary),
        Some(json!({})),
        201,
    )
    .await;
    let used = used["code"].as_str().unwrap().to_owned();
    call(
        &server,
        "POST",
        "/api/v1/enrol",
        None,
        Some(json!({"code": used, "device_name": "李章桂的手机"})),
        200,
    )
    .await;
    let short = json!({"valid_for_seconds": 1});
    let expired = call(&server, "POST", &invites, Some(secretary), Some(short), 201).await;
    let expired = expired["code"].as_str().unwrap().to_owned();
    let unused = call(
        &server,
        "POST",
        &invites,
        Some(secretary),
        Some(json!({})),
        201,
    )
    .await;
    let unused = unused["code"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let enrol =
        |code: &str, device_name: &str| body(json!({"code": code, "device_name": device_name}));
    // Case, spaces and dashes do not matter to a code: written otherwise, it is still used.
    let used_otherwise = used.to_lowercase().replace('-', " ");
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("a used code", "POST", "/api/v1/enrol".into(), None, enrol(&used, "另一部手机"), 401, "invite_used"),
        ("a used code, written otherwise", "POST", "/api/v1/enrol".into(), None, enrol(&used_otherwise, "另一部手机"), 401, "invite_used"),
        ("an expired code", "POST", "/api/v1/enrol".into(), None, enrol(&expired, "另一部手机"), 401, "invite_expired"),
        ("a well-formed code never issued", "POST", "/api/v1/enrol".into(), None, enrol("ABCD-EFGH-JKMN", "手机"), 401, "invite_unknown"),
        ("letters no code has", "POST", "/api/v1/enrol".into(), None, enrol("0O1I-L0O1-IL0O", "手机"), 401, "invite_unknown"),
        ("an empty code", "POST", "/api/v1/enrol".into(), None, enrol("", "手机"), 401, "invite_unknown"),
        ("a code too short", "POST", "/api/v1/enrol".into(), None, enrol("ABCD", "手机"), 401, "invite_unknown"),
        ("a code of 10,000 characters", "POST", "/api/v1/enrol".into(), None, enrol(&"A".repeat(10_000), "手机"), 401, "invite_unknown"),
        ("a code of emoji", "POST", "/api/v1/enrol".into(), None, enrol("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", "手机"), 401, "invite_unknown"),
        ("a good code with an empty device name", "POST", "/api/v1/enrol".into(), None, enrol(&unused, "  "), 422, "invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    // The code refused for its device name was not used up by the refusal.
    call(
        &server,
        "POST",
        "/api/v1/enrol",
        None,
        Some(json!({"code": unused, "device_name": "李章桂的平板"})),
        200,
    )
    .await;
    server.stop().await.unwrap();
}

/// 8. A sync ticket opens one WebSocket, once, and only while fresh.
#[tokio::test]
async fn a_sync_ticket_opens_one_connection_and_only_while_fresh() {
    let (db, server) = served().await;
    let v = &db.v;
    let li: &str = &token(&db.keys, &v.li);
    let ticket = call(&server, "POST", "/api/v1/sync-ticket", Some(li), None, 200).await;
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let url = format!("ws://{}/sync?ticket={ticket}", server.addr);
    let (mut socket, answer) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    assert_eq!(answer.status(), 101);
    socket.close(None).await.unwrap();

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("the ticket a second time", WEBSOCKET, format!("/sync?ticket={ticket}"), None, None, 401, "ticket_invalid"),
        ("a ticket never issued", WEBSOCKET, format!("/sync?ticket={}", "0".repeat(64)), None, None, 401, "ticket_invalid"),
        ("an empty ticket", WEBSOCKET, "/sync?ticket=".into(), None, None, 401, "ticket_invalid"),
        ("an access token as a ticket", WEBSOCKET, format!("/sync?ticket={li}"), None, None, 401, "ticket_invalid"),
        // The ticket is what counts when there is one: a good bearer does not rescue a bad one.
        ("a used ticket with a good bearer", WEBSOCKET, format!("/sync?ticket={ticket}"), Some(li), None, 401, "ticket_invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    // A real client is turned away as well.
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("a used ticket opened a connection: {other:?}"),
    }
    server.stop().await.unwrap();

    // A server whose tickets last a second: one used after it is refused.
    let late = database().await;
    let settings = Settings {
        ticket_ttl: Duration::from_secs(1),
        ..Settings::default()
    };
    let state = AppState::open(late.store.clone(), config(settings))
        .await
        .unwrap();
    let server = TestServer::start_with(state).await.unwrap();
    let li: &str = &token(&late.keys, &late.v.li);
    let fresh = call(&server, "POST", "/api/v1/sync-ticket", Some(li), None, 200).await;
    assert_eq!(fresh["expires_in_seconds"], json!(1));
    let stale = call(&server, "POST", "/api/v1/sync-ticket", Some(li), None, 200).await;
    let stale = stale["ticket"].as_str().unwrap().to_owned();
    // Used at once, a ticket of this server does open a connection.
    let url = format!(
        "ws://{}/sync?ticket={}",
        server.addr,
        fresh["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    socket.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let cases: Vec<Case> = vec![(
        "a ticket 1.2 s old, good for 1 s",
        WEBSOCKET,
        format!("/sync?ticket={stale}"),
        None,
        None,
        401,
        "ticket_invalid",
    )];
    assert_refused(&server, &late.store, cases).await;
    server.stop().await.unwrap();
}

/// 9. A member reaches no admin endpoint, even with a well-formed request, and nobody else's
/// devices.
#[tokio::test]
async fn a_member_reaches_no_admin_endpoint() {
    let (db, server) = served().await;
    let v = &db.v;
    let li: &str = &token(&db.keys, &v.li);
    // What is his, he reaches.
    call(
        &server,
        "GET",
        &format!("/api/v1/users/{}", v.li.user),
        Some(li),
        None,
        200,
    )
    .await;
    call(
        &server,
        "GET",
        &format!("/api/v1/branches/{}", v.heyi),
        Some(li),
        None,
        200,
    )
    .await;
    let path = format!("/api/v1/users/{}/devices", v.li.user);
    call(&server, "GET", &path, Some(li), None, 200).await;

    let (township, heyi, shuangqiao) = (
        v.township.to_string(),
        v.heyi.to_string(),
        v.shuangqiao.to_string(),
    );
    let user = |who: &Principal, rest: &str| format!("/api/v1/users/{}{rest}", who.user);
    let new_member = json!({"name": "新党员", "role": "member", "branch": heyi});
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("create a township", "POST", "/api/v1/townships".into(), Some(li), body(json!({"name": "新乡"})), 403, "forbidden"),
        ("list townships", "GET", "/api/v1/townships".into(), Some(li), None, 403, "forbidden"),
        ("list his township's branches", "GET", format!("/api/v1/townships/{township}/branches"), Some(li), None, 403, "forbidden"),
        ("create a branch", "POST", "/api/v1/branches".into(), Some(li), body(json!({"township": township, "name": "新村"})), 403, "forbidden"),
        ("list his branch's people", "GET", format!("/api/v1/branches/{heyi}/users"), Some(li), None, 403, "forbidden"),
        ("create a member", "POST", "/api/v1/users".into(), Some(li), body(new_member), 403, "forbidden"),
        ("rename the secretary", "PATCH", user(&v.secretary, ""), Some(li), body(json!({"name": "李章桂"})), 403, "forbidden"),
        ("make himself an admin", "PATCH", user(&v.li, ""), Some(li), body(json!({"role": "branch_admin"})), 403, "forbidden"),
        ("move the deputy away", "POST", user(&v.deputy, "/move"), Some(li), body(json!({"branch": shuangqiao})), 403, "forbidden"),
        ("move himself", "POST", user(&v.li, "/move"), Some(li), body(json!({"branch": shuangqiao})), 403, "forbidden"),
        ("invite for the secretary", "POST", user(&v.secretary, "/invites"), Some(li), body(json!({})), 403, "forbidden"),
        ("invite for himself", "POST", user(&v.li, "/invites"), Some(li), body(json!({})), 403, "forbidden"),
        ("read the audit log", "GET", "/api/v1/audit".into(), Some(li), None, 403, "forbidden"),
        ("read his branch's audit log", "GET", format!("/api/v1/audit?branch={heyi}"), Some(li), None, 403, "forbidden"),
        ("the secretary's devices", "GET", user(&v.secretary, "/devices"), Some(li), None, 404, "not_found"),
        ("刘岳云's devices", "GET", user(&v.outsider, "/devices"), Some(li), None, 404, "not_found"),
        ("revoke the secretary's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.secretary.user)), Some(li), None, 404, "not_found"),
        ("revoke 刘岳云's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.outsider.user)), Some(li), None, 404, "not_found"),
        ("the secretary's account", "GET", user(&v.secretary, ""), Some(li), None, 404, "not_found"),
        ("another branch", "GET", format!("/api/v1/branches/{shuangqiao}"), Some(li), None, 404, "not_found"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 10. The secretary of 合益村 reaches nothing of 双桥村, over the API or over sync, and not
/// his fellow admin either (the township appoints admins).
#[tokio::test]
async fn a_branch_admin_reaches_nothing_of_another_branch() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let township_admin: &str = &token(&db.keys, &v.township_admin);
    // Something of 双桥村's in the audit log, for the secretary not to see.
    let path = format!("/api/v1/users/{}/invites", v.outsider.user);
    call(
        &server,
        "POST",
        &path,
        Some(township_admin),
        Some(json!({})),
        201,
    )
    .await;
    // His own branch he does reach.
    let people = call(
        &server,
        "GET",
        &format!("/api/v1/branches/{}/users", v.heyi),
        Some(secretary),
        None,
        200,
    )
    .await;
    let ids: Vec<&str> = people
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&v.li.user.to_string().as_str()));
    assert!(!ids.contains(&v.outsider.user.to_string().as_str()));
    let shuangqiao = v.shuangqiao.to_string();
    let path = format!("/api/v1/audit?branch={shuangqiao}");
    let theirs = call(&server, "GET", &path, Some(township_admin), None, 200).await;
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == json!("invite_issued")),
        "{theirs}"
    );
    let audit = call(&server, "GET", "/api/v1/audit", Some(secretary), None, 200).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["branch"] != json!(shuangqiao)),
        "the secretary reads 双桥村's audit log: {audit}"
    );

    let (heyi, township) = (v.heyi.to_string(), v.township.to_string());
    let outsider = |rest: &str| format!("/api/v1/users/{}{rest}", v.outsider.user);
    let deputy = |rest: &str| format!("/api/v1/users/{}{rest}", v.deputy.user);
    let s = Some(secretary);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("双桥村", "GET", format!("/api/v1/branches/{shuangqiao}"), s, None, 404, "not_found"),
        ("双桥村's people", "GET", format!("/api/v1/branches/{shuangqiao}/users"), s, None, 404, "not_found"),
        ("a member of 双桥村", "POST", "/api/v1/users".into(), s, body(json!({"name": "新党员", "role": "member", "branch": shuangqiao})), 404, "not_found"),
        ("刘岳云", "GET", outsider(""), s, None, 404, "not_found"),
        ("rename 刘岳云", "PATCH", outsider(""), s, body(json!({"name": "刘某"})), 404, "not_found"),
        ("move 刘岳云 to 合益村", "POST", outsider("/move"), s, body(json!({"branch": heyi})), 404, "not_found"),
        ("move li to 双桥村", "POST", format!("/api/v1/users/{}/move", v.li.user), s, body(json!({"branch": shuangqiao})), 404, "not_found"),
        ("invite for 刘岳云", "POST", outsider("/invites"), s, body(json!({})), 404, "not_found"),
        ("刘岳云's devices", "GET", outsider("/devices"), s, None, 404, "not_found"),
        ("revoke 刘岳云's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.outsider.user)), s, None, 404, "not_found"),
        ("双桥村's audit log", "GET", format!("/api/v1/audit?branch={shuangqiao}"), s, None, 404, "not_found"),
        ("白沙镇's audit log", "GET", format!("/api/v1/audit?township={}", v.far_admin.township.unwrap()), s, None, 404, "not_found"),
        ("the township's branches", "GET", format!("/api/v1/townships/{township}/branches"), s, None, 404, "not_found"),
        ("rename his fellow admin", "PATCH", deputy(""), s, body(json!({"name": "贺某"})), 404, "not_found"),
        ("demote his fellow admin", "PATCH", deputy(""), s, body(json!({"role": "member"})), 404, "not_found"),
        ("invite for his fellow admin", "POST", deputy("/invites"), s, body(json!({})), 404, "not_found"),
        ("revoke his fellow admin's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.deputy.user)), s, None, 404, "not_found"),
        ("make li an admin", "PATCH", format!("/api/v1/users/{}", v.li.user), s, body(json!({"role": "branch_admin"})), 403, "forbidden"),
        ("create a fellow admin", "POST", "/api/v1/users".into(), s, body(json!({"name": "新书记", "role": "branch_admin", "branch": heyi})), 403, "forbidden"),
        ("create a branch", "POST", "/api/v1/branches".into(), s, body(json!({"township": township, "name": "新村"})), 403, "forbidden"),
    ];
    assert_refused(&server, &db.store, cases).await;

    // Over sync, 双桥村's documents are unavailable to him, and asking changes nothing.
    let record = db.store.branch(v.shuangqiao).await.unwrap().unwrap();
    let mut phone = Device::new("secretary-phone");
    phone.connect(server.addr, secretary).await.unwrap();
    let before = table_rows(&db.store, TABLES).await;
    let theirs: [DocumentId; 3] = [
        v.branch_of_outsider,
        record.ledger_document,
        record.supervision_document,
    ];
    for document in theirs {
        phone.open(document).await.unwrap();
        assert!(
            phone.sync_until_unavailable(LIMIT, document).await.unwrap(),
            "the secretary was not told 双桥村's {document} is unavailable"
        );
        assert!(
            phone
                .document(document)
                .is_none_or(|d| d.get_heads().is_empty())
        );
    }
    assert_eq!(table_rows(&db.store, TABLES).await, before);
    // His own branch's document does reach him on the same connection.
    phone.open(v.branch).await.unwrap();
    let branch = v.branch;
    let received = phone
        .sync_until(LIMIT, |d| {
            let held = d
                .document(branch)
                .is_some_and(|doc| !doc.get_heads().is_empty());
            async move { held }
        })
        .await
        .unwrap();
    assert!(
        received,
        "the secretary's own branch document never arrived"
    );
    server.stop().await.unwrap();
}

/// 11. A township admin reaches nothing of another township: 白沙镇's admin nothing of
/// 周官桥乡, and 周官桥乡's nothing of 白沙村.
#[tokio::test]
async fn a_township_admin_reaches_nothing_of_another_township() {
    let (db, server) = served().await;
    let v = &db.v;
    let far_admin: &str = &token(&db.keys, &v.far_admin);
    let near_admin: &str = &token(&db.keys, &v.township_admin);
    let (township, far) = (
        v.township.to_string(),
        v.far_admin.township.unwrap().to_string(),
    );
    let (heyi, baisha) = (v.heyi.to_string(), v.baisha.to_string());
    let baisha_member = db.store.users_of_branch(v.baisha).await.unwrap()[0].id;
    // Each sees his own township, and only it.
    let seen = call(
        &server,
        "GET",
        "/api/v1/townships",
        Some(far_admin),
        None,
        200,
    )
    .await;
    assert_eq!(seen, json!([{"id": far, "name": "白沙镇"}]));
    let path = format!("/api/v1/townships/{township}/branches");
    call(&server, "GET", &path, Some(near_admin), None, 200).await;

    let f = Some(far_admin);
    let n = Some(near_admin);
    let li = |rest: &str| format!("/api/v1/users/{}{rest}", v.li.user);
    let member = |rest: &str| format!("/api/v1/users/{baisha_member}{rest}");
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("白沙镇's admin: 周官桥乡's branches", "GET", format!("/api/v1/townships/{township}/branches"), f, None, 404, "not_found"),
        ("白沙镇's admin: a branch in 周官桥乡", "POST", "/api/v1/branches".into(), f, body(json!({"township": township, "name": "新村"})), 404, "not_found"),
        ("白沙镇's admin: 合益村", "GET", format!("/api/v1/branches/{heyi}"), f, None, 404, "not_found"),
        ("白沙镇's admin: 合益村's people", "GET", format!("/api/v1/branches/{heyi}/users"), f, None, 404, "not_found"),
        ("白沙镇's admin: a member of 合益村", "POST", "/api/v1/users".into(), f, body(json!({"name": "新党员", "role": "member", "branch": heyi})), 404, "not_found"),
        ("白沙镇's admin: an admin of 合益村", "POST", "/api/v1/users".into(), f, body(json!({"name": "新书记", "role": "branch_admin", "branch": heyi})), 404, "not_found"),
        ("白沙镇's admin: li", "GET", li(""), f, None, 404, "not_found"),
        ("白沙镇's admin: 周官桥乡's admin", "GET", format!("/api/v1/users/{}", v.township_admin.user), f, None, 404, "not_found"),
        ("白沙镇's admin: rename li", "PATCH", li(""), f, body(json!({"name": "李某"})), 404, "not_found"),
        ("白沙镇's admin: move li to 白沙村", "POST", li("/move"), f, body(json!({"branch": baisha})), 404, "not_found"),
        ("白沙镇's admin: invite for li", "POST", li("/invites"), f, body(json!({})), 404, "not_found"),
        ("白沙镇's admin: li's devices", "GET", li("/devices"), f, None, 404, "not_found"),
        ("白沙镇's admin: revoke li's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.li.user)), f, None, 404, "not_found"),
        ("白沙镇's admin: 周官桥乡's audit log", "GET", format!("/api/v1/audit?township={township}"), f, None, 404, "not_found"),
        ("白沙镇's admin: 合益村's audit log", "GET", format!("/api/v1/audit?branch={heyi}"), f, None, 404, "not_found"),
        ("周官桥乡's admin: 白沙镇's branches", "GET", format!("/api/v1/townships/{far}/branches"), n, None, 404, "not_found"),
        ("周官桥乡's admin: a branch in 白沙镇", "POST", "/api/v1/branches".into(), n, body(json!({"township": far, "name": "新村"})), 404, "not_found"),
        ("周官桥乡's admin: 白沙村", "GET", format!("/api/v1/branches/{baisha}"), n, None, 404, "not_found"),
        ("周官桥乡's admin: 白沙村's people", "GET", format!("/api/v1/branches/{baisha}/users"), n, None, 404, "not_found"),
        ("周官桥乡's admin: a member of 白沙村", "POST", "/api/v1/users".into(), n, body(json!({"name": "新党员", "role": "member", "branch": baisha})), 404, "not_found"),
        ("周官桥乡's admin: 白沙村's member", "GET", member(""), n, None, 404, "not_found"),
        ("周官桥乡's admin: rename 白沙村's member", "PATCH", member(""), n, body(json!({"name": "白某"})), 404, "not_found"),
        ("周官桥乡's admin: move 白沙村's member to 合益村", "POST", member("/move"), n, body(json!({"branch": heyi})), 404, "not_found"),
        ("周官桥乡's admin: move li to 白沙村", "POST", li("/move"), n, body(json!({"branch": baisha})), 404, "not_found"),
        ("周官桥乡's admin: invite for 白沙村's member", "POST", member("/invites"), n, body(json!({})), 404, "not_found"),
        ("周官桥乡's admin: 白沙村's member's devices", "GET", member("/devices"), n, None, 404, "not_found"),
        ("周官桥乡's admin: revoke 白沙村's member's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(baisha_member)), n, None, 404, "not_found"),
        ("周官桥乡's admin: 白沙镇's admin", "GET", format!("/api/v1/users/{}", v.far_admin.user), n, None, 404, "not_found"),
        ("周官桥乡's admin: revoke 白沙镇's admin's phone", "POST", format!("/api/v1/devices/{}/revoke", phone_of(v.far_admin.user)), n, None, 404, "not_found"),
        ("周官桥乡's admin: 白沙村's audit log", "GET", format!("/api/v1/audit?branch={baisha}"), n, None, 404, "not_found"),
        ("周官桥乡's admin: 白沙镇's audit log", "GET", format!("/api/v1/audit?township={far}"), n, None, 404, "not_found"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 12. An identifier that does not exist, one that is not the caller's, and one that is not an
/// identifier at all get the very same answer, so probing tells nothing.
#[tokio::test]
async fn unknown_and_unreadable_identifiers_answer_alike() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let township_admin: &str = &token(&db.keys, &v.township_admin);
    let random = UserId::generate().unwrap().to_string();
    let move_to_heyi = json!({"branch": v.heyi.to_string()}).to_string();
    // Each: who asks, the method, the path around the id, the body, and an id that exists but
    // is not the caller's business.
    #[rustfmt::skip]
    let probes: Vec<(&str, &str, &str, Option<&str>, String)> = vec![
        (secretary, "GET", "/api/v1/users/{}", None, v.outsider.user.to_string()),
        (secretary, "PATCH", "/api/v1/users/{}", Some(r#"{"name":"刘某"}"#), v.outsider.user.to_string()),
        (secretary, "POST", "/api/v1/users/{}/move", Some(move_to_heyi.as_str()), v.outsider.user.to_string()),
        (secretary, "GET", "/api/v1/users/{}/devices", None, v.outsider.user.to_string()),
        (secretary, "GET", "/api/v1/branches/{}", None, v.shuangqiao.to_string()),
        (secretary, "GET", "/api/v1/branches/{}/users", None, v.shuangqiao.to_string()),
        (secretary, "POST", "/api/v1/users/{}/invites", Some("{}"), v.outsider.user.to_string()),
        (secretary, "POST", "/api/v1/devices/{}/revoke", None, phone_of(v.outsider.user).to_string()),
        (township_admin, "GET", "/api/v1/townships/{}/branches", None, v.far_admin.township.unwrap().to_string()),
        (township_admin, "GET", "/api/v1/branches/{}", None, v.baisha.to_string()),
    ];
    for (token, method, pattern, body, unreadable) in probes {
        let mut answers = Vec::new();
        for id in [
            random.as_str(),
            unreadable.as_str(),
            "not-a-uuid",
            "%27%20OR%20%271%27%3D%271",
        ] {
            let path = pattern.replace("{}", id);
            let description = format!("{method} {pattern} with {id}");
            #[rustfmt::skip]
            let cases: Vec<Case> = vec![(&description, method, path, Some(token), body.map(str::to_owned), 404, "not_found")];
            let response = assert_refused(&server, &db.store, cases).await.remove(0);
            answers.push((id.to_owned(), response.status, response.body));
        }
        let (_, status, first) = &answers[0];
        for (id, other_status, other) in &answers[1..] {
            assert_eq!(
                (other_status, other),
                (status, first),
                "{method} {pattern}: {id} is answered otherwise than an id that does not exist"
            );
        }
    }
    server.stop().await.unwrap();
}

/// 13. Bodies that are too large, not JSON, or not the JSON an endpoint takes are refused
/// before anything is done with them.
#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let heyi = v.heyi.to_string();
    let big = "大".repeat(25_000);
    // Each endpoint, a body it takes, and the text field of it that the oversized body fills.
    let endpoints: Vec<(&str, Option<&str>, Value, &str)> = vec![
        (
            "/api/v1/users",
            Some(secretary),
            json!({"name": "新党员", "role": "member", "branch": heyi}),
            "name",
        ),
        (
            "/api/v1/enrol",
            None,
            json!({"code": "ABCD-EFGH-JKMN", "device_name": "手机"}),
            "code",
        ),
        (
            "/api/v1/login",
            None,
            json!({"phone": "13800000000", "password": "password", "device_name": "手机"}),
            "password",
        ),
        (
            "/api/v1/token",
            None,
            json!({"refresh_token": "0".repeat(64)}),
            "refresh_token",
        ),
    ];
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (path, token, valid, field) in endpoints {
        let oversized = with_field(&valid, field, json!(big));
        assert!(oversized.to_string().len() > 64 * 1024);
        let wrong_type = with_field(&valid, field, json!(5));
        let null = with_field(&valid, field, Value::Null);
        let unknown_field = with_field(&valid, "admin", json!(true));
        let cut_off = format!(r#"{{"{field}":"#);
        let surrogate = format!(r#"{{"{field}":"\ud800"}}"#);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("over 64 KiB", "POST", path.into(), token, Some(oversized.to_string()), 413, "too_large"),
            ("cut off", "POST", path.into(), token, Some(cut_off.clone()), 400, "malformed"),
            ("empty", "POST", path.into(), token, Some(String::new()), 400, "malformed"),
            ("not JSON", "POST", path.into(), token, Some("name=李章桂".into()), 400, "malformed"),
            ("JSON and then more", "POST", path.into(), token, Some(format!("{valid} {{}}")), 400, "malformed"),
            // Refused at the first bracket, for its type: nothing walks into the depth.
            ("nested 10,000 deep", "POST", path.into(), token, Some(deep.clone()), 422, "invalid"),
            ("a lone surrogate", "POST", path.into(), token, Some(surrogate.clone()), 400, "malformed"),
            ("a wrong type", "POST", path.into(), token, Some(wrong_type.to_string()), 422, "invalid"),
            ("a field too many", "POST", path.into(), token, Some(unknown_field.to_string()), 422, "invalid"),
            ("a null for a text", "POST", path.into(), token, Some(null.to_string()), 422, "invalid"),
            ("no fields", "POST", path.into(), token, Some("{}".into()), 422, "invalid"),
            ("an array", "POST", path.into(), token, Some("[]".into()), 422, "invalid"),
            ("an array of the right object", "POST", path.into(), token, Some(format!("[{valid}]")), 422, "invalid"),
            ("null", "POST", path.into(), token, Some("null".into()), 422, "invalid"),
            ("a string", "POST", path.into(), token, Some(r#""李章桂""#.into()), 422, "invalid"),
        ];
        assert_refused(&server, &db.store, cases).await;
    }
    // Values of the right JSON type that are not what the field holds.
    let s = Some(secretary);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("a role that does not exist", "POST", "/api/v1/users".into(), s, body(json!({"name": "新党员", "role": "emperor", "branch": heyi})), 422, "invalid"),
        ("a branch that is not an id", "POST", "/api/v1/users".into(), s, body(json!({"name": "新党员", "role": "member", "branch": "合益村"})), 422, "invalid"),
        ("a field given twice", "POST", "/api/v1/users".into(), s, Some(format!(r#"{{"name":"新党员","name":"x","role":"member","branch":"{heyi}"}}"#)), 422, "invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// `body` with a field set to `value`.
fn with_field(body: &Value, name: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[name] = value;
    body
}

/// 14. SQL metacharacters are text like any other: a name made of them is stored and read back
/// exactly. Control characters and lengths no name has are refused, as are credentials no
/// account has, and nothing changes.
#[tokio::test]
async fn sql_and_long_strings_are_stored_verbatim_or_refused() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let township_admin: &str = &token(&db.keys, &v.township_admin);
    let system_admin: &str = &token(&db.keys, &v.system_admin);
    let heyi = v.heyi.to_string();
    let s = Some(secretary);

    let names = [
        "'); DROP TABLE users; --".to_owned(),
        "\" OR 1=1 --".to_owned(),
        "Robert'); DELETE FROM devices WHERE ('1'='1".to_owned(),
        "李' || (SELECT password_hash FROM users LIMIT 1) || '".to_owned(),
        "100%_李\\章桂; --".to_owned(),
        "'".repeat(100),
    ];
    for name in &names {
        let created = call(
            &server,
            "POST",
            "/api/v1/users",
            s,
            Some(json!({"name": name, "role": "member", "branch": heyi})),
            201,
        )
        .await;
        assert_eq!(created["name"], json!(name));
        let path = format!("/api/v1/users/{}", created["id"].as_str().unwrap());
        let read = call(&server, "GET", &path, s, None, 200).await;
        assert_eq!(
            read["name"],
            json!(name),
            "{name} did not come back as it went in"
        );
    }
    let people = call(
        &server,
        "GET",
        &format!("/api/v1/branches/{heyi}/users"),
        s,
        None,
        200,
    )
    .await;
    assert_eq!(people.as_array().unwrap().len(), 3 + names.len());

    let renamed = "李'); UPDATE users SET role='system_admin' WHERE ('1'='1";
    let li_path = format!("/api/v1/users/{}", v.li.user);
    call(
        &server,
        "PATCH",
        &li_path,
        s,
        Some(json!({"name": renamed})),
        200,
    )
    .await;
    let li = call(&server, "GET", &li_path, s, None, 200).await;
    assert_eq!(
        (li["name"].as_str(), li["role"].as_str()),
        (Some(renamed), Some("member"))
    );

    let township = "'; DROP TABLE townships; --";
    let made = call(
        &server,
        "POST",
        "/api/v1/townships",
        Some(system_admin),
        Some(json!({"name": township})),
        201,
    )
    .await;
    assert_eq!(made["name"], json!(township));
    let all = call(
        &server,
        "GET",
        "/api/v1/townships",
        Some(system_admin),
        None,
        200,
    )
    .await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == json!(township))
    );

    let branch = "\" OR \"\"=\"";
    let made = call(
        &server,
        "POST",
        "/api/v1/branches",
        Some(township_admin),
        Some(json!({"township": v.township.to_string(), "name": branch})),
        201,
    )
    .await;
    let path = format!("/api/v1/branches/{}", made["id"].as_str().unwrap());
    let read = call(&server, "GET", &path, Some(township_admin), None, 200).await;
    assert_eq!(read["name"], json!(branch));

    let invite = format!("/api/v1/users/{}/invites", v.li.user);
    let code = call(&server, "POST", &invite, s, Some(json!({})), 201).await;
    let device_name = "'); DROP TABLE devices; --";
    call(
        &server,
        "POST",
        "/api/v1/enrol",
        None,
        Some(json!({"code": code["code"], "device_name": device_name})),
        200,
    )
    .await;
    let phone = "13800138000";
    let password = "' OR '1'='1' --";
    let account = json!({"name": "张三", "role": "member", "branch": heyi, "phone": phone, "password": password});
    let account = call(&server, "POST", "/api/v1/users", s, Some(account), 201).await;
    let login_device = "x' OR '1'='1";
    let login = json!({"phone": phone, "password": password, "device_name": login_device});
    call(&server, "POST", "/api/v1/login", None, Some(login), 200).await;
    let devices_of = |user: &str| format!("/api/v1/users/{user}/devices");
    let devices = call(
        &server,
        "GET",
        &devices_of(&v.li.user.to_string()),
        s,
        None,
        200,
    )
    .await;
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == json!(device_name))
    );
    let devices = call(
        &server,
        "GET",
        &devices_of(account["id"].as_str().unwrap()),
        s,
        None,
        200,
    )
    .await;
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == json!(login_device))
    );

    let member = |name: &str| body(json!({"name": name, "role": "member", "branch": heyi}));
    let long = "李".repeat(10_000);
    let digits = "1".repeat(10_000);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("a name that is a NUL", "POST", "/api/v1/users".into(), s, member("\u{0}"), 422, "invalid"),
        ("a name with a NUL inside", "POST", "/api/v1/users".into(), s, member("李\u{0}章桂"), 422, "invalid"),
        ("a name with a bell", "POST", "/api/v1/users".into(), s, member("李章桂\u{7}"), 422, "invalid"),
        ("a name with a terminal escape", "POST", "/api/v1/users".into(), s, member("\u{1b}[31m李章桂"), 422, "invalid"),
        ("a name over two lines", "POST", "/api/v1/users".into(), s, member("李章桂\n赵杰辉"), 422, "invalid"),
        ("a name of white space", "POST", "/api/v1/users".into(), s, member(" \t "), 422, "invalid"),
        ("a name of 101 characters", "POST", "/api/v1/users".into(), s, member(&"'".repeat(101)), 422, "invalid"),
        ("a name of 10,000 characters", "POST", "/api/v1/users".into(), s, member(&long), 422, "invalid"),
        ("a phone of 10,000 digits", "POST", "/api/v1/users".into(), s, body(json!({"name": "王五", "role": "member", "branch": heyi, "phone": digits})), 422, "invalid"),
        ("a phone of SQL", "POST", "/api/v1/users".into(), s, body(json!({"name": "王五", "role": "member", "branch": heyi, "phone": "13800000000' OR '1'='1"})), 422, "invalid"),
        ("a password of 200 characters", "POST", "/api/v1/users".into(), s, body(json!({"name": "王五", "role": "member", "branch": heyi, "password": "p".repeat(200)})), 422, "invalid"),
        ("renamed to 10,000 characters", "PATCH", li_path.clone(), s, body(json!({"name": long})), 422, "invalid"),
        ("renamed to a NUL", "PATCH", li_path.clone(), s, body(json!({"name": "\u{0}"})), 422, "invalid"),
        ("a new phone of 10,000 digits", "PATCH", li_path.clone(), s, body(json!({"phone": digits})), 422, "invalid"),
        ("a township of 10,000 characters", "POST", "/api/v1/townships".into(), Some(system_admin), body(json!({"name": long})), 422, "invalid"),
        ("a branch named NUL", "POST", "/api/v1/branches".into(), Some(township_admin), body(json!({"township": v.township.to_string(), "name": "\u{0}"})), 422, "invalid"),
        ("a device name of SQL with a code never issued", "POST", "/api/v1/enrol".into(), None, body(json!({"code": "ABCD-EFGH-JKMN", "device_name": device_name})), 401, "invite_unknown"),
        ("an invite code of SQL", "POST", "/api/v1/enrol".into(), None, body(json!({"code": "' OR '1'='1", "device_name": "手机"})), 401, "invite_unknown"),
        ("a device name of 10,000 characters", "POST", "/api/v1/enrol".into(), None, body(json!({"code": "ABCD-EFGH-JKMN", "device_name": long})), 422, "invalid"),
        ("a device name with a NUL", "POST", "/api/v1/enrol".into(), None, body(json!({"code": "ABCD-EFGH-JKMN", "device_name": "手\u{0}机"})), 422, "invalid"),
        ("a phone of SQL to log in", "POST", "/api/v1/login".into(), None, body(json!({"phone": "' OR '1'='1", "password": password, "device_name": "手机"})), 401, "bad_credentials"),
        ("a phone of 10,000 digits to log in", "POST", "/api/v1/login".into(), None, body(json!({"phone": digits, "password": password, "device_name": "手机"})), 401, "bad_credentials"),
        ("a password of SQL to log in", "POST", "/api/v1/login".into(), None, body(json!({"phone": phone, "password": "' OR 1=1 --", "device_name": "手机"})), 401, "bad_credentials"),
        ("a password of 60,000 characters", "POST", "/api/v1/login".into(), None, body(json!({"phone": phone, "password": "p".repeat(60_000), "device_name": "手机"})), 401, "bad_credentials"),
        // 100,000 characters do not fit in a request body at all.
        ("a password of 100,000 characters", "POST", "/api/v1/login".into(), None, body(json!({"phone": phone, "password": "p".repeat(100_000), "device_name": "手机"})), 413, "too_large"),
        ("a device name of SQL with a wrong password", "POST", "/api/v1/login".into(), None, body(json!({"phone": phone, "password": "wrong password", "device_name": device_name})), 401, "bad_credentials"),
        ("a refresh token of SQL", "POST", "/api/v1/token".into(), None, body(json!({"refresh_token": "' OR '1'='1"})), 401, "refresh_invalid"),
        ("a refresh token of 10,000 characters", "POST", "/api/v1/token".into(), None, body(json!({"refresh_token": "f".repeat(10_000)})), 401, "refresh_invalid"),
        ("an audit branch of SQL", "GET", "/api/v1/audit?branch=%27%20OR%201%3D1%20--".into(), s, None, 404, "not_found"),
        ("an audit limit of SQL", "GET", "/api/v1/audit?limit=1%3B%20DROP%20TABLE%20audit".into(), s, None, 422, "invalid"),
        ("a ticket of SQL", WEBSOCKET, "/sync?ticket=%27%20OR%20%271%27%3D%271".into(), None, None, 401, "ticket_invalid"),
    ];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// 15. Ten wrong passwords lock an account for a while: the eleventh attempt is refused with
/// `Retry-After`, even with the right password, and however the number is written.
#[tokio::test]
async fn guessing_a_password_is_stopped_after_ten_attempts() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let (phone, password) = ("13800138000", "the right password");
    let account = json!({"name": "张三", "role": "member", "branch": v.heyi.to_string(), "phone": phone, "password": password});
    call(
        &server,
        "POST",
        "/api/v1/users",
        Some(secretary),
        Some(account),
        201,
    )
    .await;
    let other = json!({"name": "李四", "role": "member", "branch": v.heyi.to_string(), "phone": "13900139000", "password": password});
    call(
        &server,
        "POST",
        "/api/v1/users",
        Some(secretary),
        Some(other),
        201,
    )
    .await;
    let login = |phone: &str, password: &str| json!({"phone": phone, "password": password, "device_name": "张三的手机"});
    // The right password works, before anyone guesses.
    call(
        &server,
        "POST",
        "/api/v1/login",
        None,
        Some(login(phone, password)),
        200,
    )
    .await;

    let wrong = login(phone, "a wrong guess").to_string();
    // A number no account has is answered exactly like a wrong password, so that guessing
    // tells nobody which numbers have accounts.
    #[rustfmt::skip]
    let unknown: Vec<Case> = vec![
        ("a number no account has", "POST", "/api/v1/login".into(), None, body(login("13700137000", password)), 401, "bad_credentials"),
    ];
    let unknown = assert_refused(&server, &db.store, unknown).await.remove(0);
    #[rustfmt::skip]
    let mut cases: Vec<Case> = (0..10)
        .map(|_| ("a wrong password", "POST", "/api/v1/login".into(), None, Some(wrong.clone()), 401, "bad_credentials"))
        .collect();
    cases.push((
        "the eleventh wrong password",
        "POST",
        "/api/v1/login".into(),
        None,
        Some(wrong.clone()),
        429,
        "too_many_attempts",
    ));
    cases.push((
        "the right password, after ten wrong",
        "POST",
        "/api/v1/login".into(),
        None,
        body(login(phone, password)),
        429,
        "too_many_attempts",
    ));
    cases.push((
        "the right password, the number written with spaces",
        "POST",
        "/api/v1/login".into(),
        None,
        body(login("138 0013 8000", password)),
        429,
        "too_many_attempts",
    ));
    let responses = assert_refused(&server, &db.store, cases).await;
    assert_eq!(responses[0].body, unknown.body);
    for response in &responses[10..] {
        let wait: u64 = response
            .header("retry-after")
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no Retry-After in seconds: {:?}", response.headers));
        assert!((1..=15 * 60).contains(&wait), "Retry-After {wait}");
    }
    // The lock is the account's: another person signs in from the same address.
    let other = login("13900139000", password);
    call(&server, "POST", "/api/v1/login", None, Some(other), 200).await;
    server.stop().await.unwrap();
}

/// A person created with a phone number someone else has is refused with `409`, and the
/// refusal must change nothing: no notebook, no roster entry in the branch document.
#[tokio::test]
async fn a_person_with_a_taken_phone_is_refused_and_changes_nothing() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let heyi = v.heyi.to_string();
    let first = json!({"name": "张三", "role": "member", "branch": heyi, "phone": "13800138000"});
    call(
        &server,
        "POST",
        "/api/v1/users",
        Some(secretary),
        Some(first),
        201,
    )
    .await;
    let second =
        json!({"name": "张三的哥哥", "role": "member", "branch": heyi, "phone": "13800138000"});
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![("a phone already taken", "POST", "/api/v1/users".into(), Some(secretary), body(second), 409, "conflict")];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}

/// A rename refused because the new phone number is someone else's must not rename him
/// either: not in the users table, not on the branch's roster.
#[tokio::test]
async fn a_change_with_a_taken_phone_is_refused_and_changes_nothing() {
    let (db, server) = served().await;
    let v = &db.v;
    let secretary: &str = &token(&db.keys, &v.secretary);
    let first = json!({"name": "张三", "role": "member", "branch": v.heyi.to_string(), "phone": "13800138000"});
    call(
        &server,
        "POST",
        "/api/v1/users",
        Some(secretary),
        Some(first),
        201,
    )
    .await;
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![(
        "li renamed, with 张三's phone",
        "PATCH",
        format!("/api/v1/users/{}", v.li.user),
        Some(secretary),
        body(json!({"name": "李章桂（新）", "phone": "13800138000"})),
        409,
        "conflict",
    )];
    assert_refused(&server, &db.store, cases).await;
    server.stop().await.unwrap();
}
