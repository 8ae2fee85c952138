//! The frames of the automerge-repo protocol, version 1: CBOR maps with a `type` field.
//!
//! Decoding is strict where it matters and lenient where the protocol grows: a frame must be
//! a map with a known shape for its `type`; unknown fields are ignored, and an unknown `type`
//! decodes to [`Message::Unknown`] so that a newer peer's extra messages do not end a session.
//! The caller bounds the frame's size before decoding; the decoder bounds nesting.

use std::collections::BTreeMap;

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use crate::ids::DocumentId;

/// The only protocol version this implementation speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// How deep a frame may nest: the deepest real frame (`remote-heads-changed`) needs four.
const MAX_NESTING: usize = 16;

/// A peer's id in the protocol: any string the peer chooses for the session.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(pub String);

/// A storage id: stable across sessions of a peer that keeps storage, which is what lets the
/// other side keep that peer's sync states between connections.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageId(pub String);

impl StorageId {
    /// A new random storage id, as automerge-repo makes them: a UUID.
    pub fn generate() -> Result<StorageId, crate::ids::IdError> {
        crate::ids::random_uuid().map(|uuid| StorageId(uuid.to_string()))
    }
}

/// What a peer says about itself in `join` and `peer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_id: Option<StorageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_ephemeral: Option<bool>,
    /// The version of client-core's rules the peer writes by (`validate::RULES`); our
    /// extension, absent from stock peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<u32>,
    /// Our extension (see [`super::quiet`]): in `join`, the documents a device believes it
    /// shares with the server, with digests of their heads; in `peer`, present (empty) when
    /// the server took that list.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub quiet: Option<Vec<u8>>,
}

/// Heads a peer reports for a document in one storage, with when it saw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteHeads {
    /// Change hashes, base58check-encoded.
    #[serde(default, deserialize_with = "lenient::list")]
    pub heads: Vec<String>,
    /// Milliseconds since the epoch. Written as a float, as JavaScript peers expect: a CBOR
    /// 64-bit integer would reach them as a `BigInt`.
    #[serde(deserialize_with = "lenient::float")]
    pub timestamp: f64,
}

/// Readers for what different implementations write differently: JavaScript writes absent
/// values as `undefined` and large numbers as floats; others write integers.
mod lenient {
    use serde::{Deserialize, Deserializer};

    pub fn float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let value = ciborium::Value::deserialize(deserializer)?;
        match value {
            ciborium::Value::Float(f) => Ok(f),
            ciborium::Value::Integer(i) => Ok(i128::from(i) as f64),
            _ => Err(serde::de::Error::custom("expected a number")),
        }
    }

    pub fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let number = float(deserializer)?;
        if number >= 0.0 && number.fract() == 0.0 && number < 9.0e15 {
            Ok(number as u64)
        } else {
            Err(serde::de::Error::custom("expected a count"))
        }
    }

    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
    }
}

/// One frame of the protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A client opens a session.
    Join {
        sender_id: PeerId,
        peer_metadata: PeerMetadata,
        supported_protocol_versions: Vec<String>,
    },
    /// The server accepts a session.
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        peer_metadata: PeerMetadata,
        selected_protocol_version: String,
    },
    /// Ask for a document one does not have, with a first sync message.
    Request(DocumentMessage),
    /// An automerge sync message for a document.
    Sync(DocumentMessage),
    /// The sender has no such document (or may not show it: the two are indistinguishable).
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
    },
    /// Data that is relayed but never stored, such as presence.
    Ephemeral {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        count: u64,
        session_id: String,
        data: Vec<u8>,
    },
    RemoteHeadsChanged {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        new_heads: BTreeMap<StorageId, RemoteHeads>,
    },
    RemoteSubscriptionChange {
        sender_id: PeerId,
        target_id: PeerId,
        add: Vec<StorageId>,
        remove: Vec<StorageId>,
    },
    Leave {
        sender_id: PeerId,
    },
    /// The sender ends the session because of `message`; or, with `refused`, refuses
    /// changes to one document and goes on with the others.
    Error {
        sender_id: PeerId,
        target_id: Option<PeerId>,
        message: String,
        refused: Option<RefusedChanges>,
    },
    /// A frame of a type this version does not know; ignored.
    Unknown {
        type_name: String,
    },
}

/// What the server refused of one document, carried in an `error` frame beside its
/// `message`. This is our extension of the protocol: a stock client reads the message and
/// ignores the rest, and the session stays open for its other documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedChanges {
    pub document_id: DocumentId,
    /// The rule that refused, as the audit log names it.
    pub rule: String,
    /// The refused changes; those that depend on them are refused with them.
    pub refused: Vec<ChangeHash>,
    /// The server's heads of the document when it refused: what it holds and keeps.
    pub heads: Vec<ChangeHash>,
}

/// The most change hashes one refusal names: a phone offline for a season makes a few
/// thousand changes to its notebook.
pub const MAX_REFUSED_HASHES: usize = 100_000;

/// The body of `request` and `sync`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMessage {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: DocumentId,
    /// An encoded automerge sync message.
    pub data: Vec<u8>,
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("not a CBOR map: {0}")]
    NotCbor(String),
    #[error("the frame has no `type`")]
    NoType,
    #[error("a `{kind}` frame is malformed: {reason}")]
    Malformed { kind: String, reason: String },
    #[error("the frame could not be encoded: {0}")]
    Encode(String),
}

/// The wire shape of each frame, field names as automerge-repo writes them.
mod wire {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::{PeerId, PeerMetadata, RemoteHeads, StorageId};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Join {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        #[serde(default)]
        pub peer_metadata: PeerMetadata,
        #[serde(default, deserialize_with = "super::lenient::list")]
        pub supported_protocol_versions: Vec<String>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Peer {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        #[serde(default)]
        pub peer_metadata: PeerMetadata,
        pub selected_protocol_version: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Document {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        pub document_id: String,
        #[serde(with = "serde_bytes")]
        pub data: Vec<u8>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct DocUnavailable {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        pub document_id: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Ephemeral {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        pub document_id: String,
        #[serde(deserialize_with = "super::lenient::count")]
        pub count: u64,
        pub session_id: String,
        #[serde(with = "serde_bytes")]
        pub data: Vec<u8>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RemoteHeadsChanged {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        pub document_id: String,
        pub new_heads: BTreeMap<StorageId, RemoteHeads>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RemoteSubscriptionChange {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        pub target_id: PeerId,
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "super::lenient::list"
        )]
        pub add: Vec<StorageId>,
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "super::lenient::list"
        )]
        pub remove: Vec<StorageId>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Leave {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Error {
        #[serde(rename = "type")]
        pub kind: String,
        pub sender_id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_id: Option<PeerId>,
        pub message: String,
        /// With `rule`, `refused` and `heads`: the document whose changes were refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub document_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rule: Option<String>,
        /// Change hashes, in hex.
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "super::lenient::list"
        )]
        pub refused: Vec<String>,
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "super::lenient::list"
        )]
        pub heads: Vec<String>,
    }
}

impl Message {
    /// The frame's `type`, as on the wire.
    pub fn type_name(&self) -> &str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Request(_) => "request",
            Message::Sync(_) => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::RemoteHeadsChanged { .. } => "remote-heads-changed",
            Message::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Message::Leave { .. } => "leave",
            Message::Error { .. } => "error",
            Message::Unknown { type_name } => type_name,
        }
    }

    /// Encodes the frame as CBOR.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let kind = self.type_name().to_owned();
        let mut out = Vec::new();
        let written = match self.clone() {
            Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } => write(
                &mut out,
                &wire::Join {
                    kind,
                    sender_id,
                    peer_metadata,
                    supported_protocol_versions,
                },
            ),
            Message::Peer {
                sender_id,
                target_id,
                peer_metadata,
                selected_protocol_version,
            } => write(
                &mut out,
                &wire::Peer {
                    kind,
                    sender_id,
                    target_id,
                    peer_metadata,
                    selected_protocol_version,
                },
            ),
            Message::Request(body) | Message::Sync(body) => write(
                &mut out,
                &wire::Document {
                    kind,
                    sender_id: body.sender_id,
                    target_id: body.target_id,
                    document_id: body.document_id.to_string(),
                    data: body.data,
                },
            ),
            Message::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => write(
                &mut out,
                &wire::DocUnavailable {
                    kind,
                    sender_id,
                    target_id,
                    document_id: document_id.to_string(),
                },
            ),
            Message::Ephemeral {
                sender_id,
                target_id,
                document_id,
                count,
                session_id,
                data,
            } => write(
                &mut out,
                &wire::Ephemeral {
                    kind,
                    sender_id,
                    target_id,
                    document_id: document_id.to_string(),
                    count,
                    session_id,
                    data,
                },
            ),
            Message::RemoteHeadsChanged {
                sender_id,
                target_id,
                document_id,
                new_heads,
            } => write(
                &mut out,
                &wire::RemoteHeadsChanged {
                    kind,
                    sender_id,
                    target_id,
                    document_id: document_id.to_string(),
                    new_heads,
                },
            ),
            Message::RemoteSubscriptionChange {
                sender_id,
                target_id,
                add,
                remove,
            } => write(
                &mut out,
                &wire::RemoteSubscriptionChange {
                    kind,
                    sender_id,
                    target_id,
                    add,
                    remove,
                },
            ),
            Message::Leave { sender_id } => write(&mut out, &wire::Leave { kind, sender_id }),
            Message::Error {
                sender_id,
                target_id,
                message,
                refused,
            } => {
                let hex =
                    |hashes: &[ChangeHash]| hashes.iter().map(ChangeHash::to_string).collect();
                write(
                    &mut out,
                    &wire::Error {
                        kind,
                        sender_id,
                        target_id,
                        message,
                        document_id: refused.as_ref().map(|r| r.document_id.to_string()),
                        rule: refused.as_ref().map(|r| r.rule.clone()),
                        refused: refused.as_ref().map_or_else(Vec::new, |r| hex(&r.refused)),
                        heads: refused.as_ref().map_or_else(Vec::new, |r| hex(&r.heads)),
                    },
                )
            }
            Message::Unknown { type_name } => {
                return Err(FrameError::Encode(format!(
                    "cannot send an unknown {type_name:?}"
                )));
            }
        };
        written.map(|()| out)
    }

    /// Decodes one frame. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Message, FrameError> {
        let value: ciborium::Value =
            ciborium::de::from_reader_with_recursion_limit(bytes, MAX_NESTING)
                .map_err(|e| FrameError::NotCbor(e.to_string()))?;
        let map = value
            .as_map()
            .ok_or_else(|| FrameError::NotCbor("the frame is not a map".into()))?;
        let kind = map
            .iter()
            .find(|(key, _)| key.as_text() == Some("type"))
            .and_then(|(_, value)| value.as_text())
            .ok_or(FrameError::NoType)?
            .to_owned();
        let malformed = |reason: String| FrameError::Malformed {
            kind: crate::quote(&kind),
            reason,
        };
        let document =
            |text: &str| DocumentId::from_url(text).map_err(|e| malformed(e.to_string()));
        macro_rules! shape {
            ($type:ty) => {
                value
                    .deserialized::<$type>()
                    .map_err(|e| malformed(e.to_string()))?
            };
        }
        Ok(match kind.as_str() {
            "join" => {
                let frame = shape!(wire::Join);
                Message::Join {
                    sender_id: frame.sender_id,
                    peer_metadata: frame.peer_metadata,
                    supported_protocol_versions: frame.supported_protocol_versions,
                }
            }
            "peer" => {
                let frame = shape!(wire::Peer);
                Message::Peer {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    peer_metadata: frame.peer_metadata,
                    selected_protocol_version: frame.selected_protocol_version,
                }
            }
            "request" | "sync" => {
                let frame = shape!(wire::Document);
                let body = DocumentMessage {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    document_id: document(&frame.document_id)?,
                    data: frame.data,
                };
                if kind == "request" {
                    Message::Request(body)
                } else {
                    Message::Sync(body)
                }
            }
            "doc-unavailable" => {
                let frame = shape!(wire::DocUnavailable);
                Message::DocUnavailable {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    document_id: document(&frame.document_id)?,
                }
            }
            "ephemeral" => {
                let frame = shape!(wire::Ephemeral);
                Message::Ephemeral {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    document_id: document(&frame.document_id)?,
                    count: frame.count,
                    session_id: frame.session_id,
                    data: frame.data,
                }
            }
            "remote-heads-changed" => {
                let frame = shape!(wire::RemoteHeadsChanged);
                Message::RemoteHeadsChanged {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    document_id: document(&frame.document_id)?,
                    new_heads: frame.new_heads,
                }
            }
            "remote-subscription-change" => {
                let frame = shape!(wire::RemoteSubscriptionChange);
                Message::RemoteSubscriptionChange {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    add: frame.add,
                    remove: frame.remove,
                }
            }
            "leave" => Message::Leave {
                sender_id: shape!(wire::Leave).sender_id,
            },
            "error" => {
                let frame = shape!(wire::Error);
                let refused = match (frame.document_id, frame.rule) {
                    (Some(document_id), Some(rule)) => {
                        if frame.refused.len() + frame.heads.len() > MAX_REFUSED_HASHES {
                            return Err(malformed("too many change hashes".into()));
                        }
                        let hashes = |hex: &[String]| {
                            hex.iter()
                                .map(|h| {
                                    h.parse::<ChangeHash>()
                                        .map_err(|e| malformed(e.to_string()))
                                })
                                .collect::<Result<Vec<_>, _>>()
                        };
                        Some(RefusedChanges {
                            document_id: document(&document_id)?,
                            rule,
                            refused: hashes(&frame.refused)?,
                            heads: hashes(&frame.heads)?,
                        })
                    }
                    _ => None,
                };
                Message::Error {
                    sender_id: frame.sender_id,
                    target_id: frame.target_id,
                    message: frame.message,
                    refused,
                }
            }
            _ => Message::Unknown { type_name: kind },
        })
    }
}

fn write<T: Serialize>(out: &mut Vec<u8>, frame: &T) -> Result<(), FrameError> {
    ciborium::ser::into_writer(frame, out).map_err(|e| FrameError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn frames_written_by_the_javascript_implementation_decode() {
        // `join` from an automerge-repo 2.x client without storage: its `storageId` is CBOR
        // `undefined`, which must read as absent.
        let join = hex(
            "b900046474797065646a6f696e6873656e64657249646b636c69656e742d706565726c706565724d65746164617461b900026973746f726167654964f76b6973457068656d6572616cf57819737570706f7274656450726f746f636f6c56657273696f6e73816131",
        );
        assert_eq!(
            Message::decode(&join).unwrap(),
            Message::Join {
                sender_id: peer("client-peer"),
                peer_metadata: PeerMetadata {
                    storage_id: None,
                    is_ephemeral: Some(true),
                    rules: None,
                    quiet: None,
                },
                supported_protocol_versions: vec!["1".into()],
            }
        );
        // `request` for a document the client does not have yet.
        let request = hex(
            "b9000564747970656772657175657374687461726765744964687365727665722d316a646f63756d656e744964781c344e4d4e6e6b4d684c386a5872644a396a616d53353850415664587564646174614a420000010000000202846873656e64657249646b706565722d616263313233",
        );
        match Message::decode(&request).unwrap() {
            Message::Request(body) => {
                assert_eq!(body.document_id.to_string(), "4NMNnkMhL8jXrdJ9jamS58PAVdXu");
                assert_eq!(body.sender_id, peer("peer-abc123"));
                assert_eq!(body.target_id, peer("server-1"));
                assert!(automerge::sync::Message::decode(&body.data).is_ok());
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn numbers_may_be_integers_or_floats_and_lists_may_be_undefined() {
        let text = |s: &str| ciborium::Value::Text(s.to_owned());
        let encode = |value: ciborium::Value| {
            let mut bytes = Vec::new();
            ciborium::ser::into_writer(&value, &mut bytes).unwrap();
            bytes
        };
        let document_id = DocumentId::from_bytes([5; 16]).to_string();
        let heads = ciborium::Value::Map(vec![(
            text("storage-1"),
            ciborium::Value::Map(vec![
                (text("heads"), ciborium::Value::Array(vec![])),
                (
                    text("timestamp"),
                    ciborium::Value::Integer(1_791_770_400_000_u64.into()),
                ),
            ]),
        )]);
        let frame = encode(ciborium::Value::Map(vec![
            (text("type"), text("remote-heads-changed")),
            (text("senderId"), text("a")),
            (text("targetId"), text("b")),
            (text("documentId"), text(&document_id)),
            (text("newHeads"), heads),
        ]));
        assert!(matches!(
            Message::decode(&frame),
            Ok(Message::RemoteHeadsChanged { .. })
        ));
        let frame = encode(ciborium::Value::Map(vec![
            (text("type"), text("ephemeral")),
            (text("senderId"), text("a")),
            (text("targetId"), text("b")),
            (text("documentId"), text(&document_id)),
            (text("count"), ciborium::Value::Float(3.0)),
            (text("sessionId"), text("s")),
            (text("data"), ciborium::Value::Bytes(vec![])),
        ]));
        assert!(matches!(
            Message::decode(&frame),
            Ok(Message::Ephemeral { count: 3, .. })
        ));
        let frame = hex(
            "a4 6474797065 781a72656d6f74652d737562736372697074696f6e2d6368616e6765 6873656e6465724964 6161 687461726765744964 6162 6672656d6f7665 f7",
        );
        assert!(matches!(
            Message::decode(&frame),
            Ok(Message::RemoteSubscriptionChange { ref remove, .. }) if remove.is_empty()
        ));
    }

    fn peer(name: &str) -> PeerId {
        PeerId(name.to_owned())
    }

    fn samples() -> Vec<Message> {
        let document_id = DocumentId::from_bytes([3; 16]);
        let body = DocumentMessage {
            sender_id: peer("server"),
            target_id: peer("phone-1"),
            document_id,
            data: vec![0x42, 0, 1, 2, 255],
        };
        vec![
            Message::Join {
                sender_id: peer("phone-1"),
                peer_metadata: PeerMetadata {
                    storage_id: Some(StorageId("storage-1".into())),
                    is_ephemeral: Some(false),
                    rules: None,
                    quiet: None,
                },
                supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
            },
            Message::Peer {
                sender_id: peer("server"),
                target_id: peer("phone-1"),
                peer_metadata: PeerMetadata::default(),
                selected_protocol_version: PROTOCOL_VERSION.into(),
            },
            Message::Request(body.clone()),
            Message::Sync(body),
            Message::DocUnavailable {
                sender_id: peer("server"),
                target_id: peer("phone-1"),
                document_id,
            },
            Message::Ephemeral {
                sender_id: peer("phone-1"),
                target_id: peer("server"),
                document_id,
                count: 7,
                session_id: "session".into(),
                data: vec![1, 2, 3],
            },
            Message::RemoteHeadsChanged {
                sender_id: peer("server"),
                target_id: peer("phone-1"),
                document_id,
                new_heads: [(
                    StorageId("storage-1".into()),
                    RemoteHeads {
                        heads: vec!["ab".repeat(32)],
                        timestamp: 1_791_770_400_000.0,
                    },
                )]
                .into_iter()
                .collect(),
            },
            Message::RemoteSubscriptionChange {
                sender_id: peer("phone-1"),
                target_id: peer("server"),
                add: vec![StorageId("storage-2".into())],
                remove: vec![],
            },
            Message::Leave {
                sender_id: peer("phone-1"),
            },
            Message::Error {
                sender_id: peer("server"),
                target_id: Some(peer("phone-1")),
                message: "unsupported protocol version".into(),
                refused: None,
            },
            Message::Error {
                sender_id: peer("server"),
                target_id: Some(peer("phone-1")),
                message: "not_a_member: 李章桂 is not a member of this branch".into(),
                refused: Some(RefusedChanges {
                    document_id: DocumentId::from_bytes([5; 16]),
                    rule: "not_a_member".into(),
                    refused: vec![ChangeHash([7; 32]), ChangeHash([8; 32])],
                    heads: vec![ChangeHash([9; 32])],
                }),
            },
        ]
    }

    #[test]
    fn every_frame_round_trips() {
        for message in samples() {
            let bytes = message.encode().unwrap();
            assert_eq!(
                Message::decode(&bytes).unwrap(),
                message,
                "{}",
                message.type_name()
            );
        }
    }

    #[test]
    fn binary_data_is_a_cbor_byte_string_and_ids_are_bare() {
        let document_id = DocumentId::from_bytes([3; 16]);
        let bytes = samples()[3].encode().unwrap();
        let value: ciborium::Value = ciborium::de::from_reader(&bytes[..]).unwrap();
        let map = value.as_map().unwrap();
        let field = |name: &str| {
            &map.iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .unwrap()
                .1
        };
        assert!(field("data").is_bytes());
        assert_eq!(
            field("documentId").as_text(),
            Some(document_id.to_string().as_str())
        );
        assert_eq!(field("type").as_text(), Some("sync"));
    }

    #[test]
    fn tagged_byte_strings_and_automerge_urls_are_accepted() {
        // Some encoders tag typed arrays (tag 64 is a Uint8Array); the bytes are what count.
        let document_id = DocumentId::from_bytes([9; 16]);
        let text = |s: &str| ciborium::Value::Text(s.to_owned());
        let frame = ciborium::Value::Map(vec![
            (text("type"), text("sync")),
            (text("senderId"), text("js-peer")),
            (text("targetId"), text("server")),
            (text("documentId"), text(&document_id.url())),
            (
                text("data"),
                ciborium::Value::Tag(64, Box::new(ciborium::Value::Bytes(vec![1, 2]))),
            ),
            (text("somethingNew"), ciborium::Value::Bool(true)),
        ]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&frame, &mut bytes).unwrap();
        match Message::decode(&bytes).unwrap() {
            Message::Sync(body) => {
                assert_eq!(body.document_id, document_id);
                assert_eq!(body.data, vec![1, 2]);
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn unknown_types_are_ignored_and_malformed_frames_refused() {
        let text = |s: &str| ciborium::Value::Text(s.to_owned());
        let encode = |value: ciborium::Value| {
            let mut bytes = Vec::new();
            ciborium::ser::into_writer(&value, &mut bytes).unwrap();
            bytes
        };
        let future = encode(ciborium::Value::Map(vec![(
            text("type"),
            text("presence-v2"),
        )]));
        assert_eq!(
            Message::decode(&future).unwrap(),
            Message::Unknown {
                type_name: "presence-v2".into()
            }
        );
        let no_type = encode(ciborium::Value::Map(vec![(text("senderId"), text("x"))]));
        assert!(matches!(Message::decode(&no_type), Err(FrameError::NoType)));
        let bad_id = encode(ciborium::Value::Map(vec![
            (text("type"), text("doc-unavailable")),
            (text("senderId"), text("a")),
            (text("targetId"), text("b")),
            (text("documentId"), text("not-a-document")),
        ]));
        assert!(matches!(
            Message::decode(&bad_id),
            Err(FrameError::Malformed { .. })
        ));
        let array = encode(ciborium::Value::Array(vec![]));
        assert!(matches!(
            Message::decode(&array),
            Err(FrameError::NotCbor(_))
        ));
        assert!(Message::decode(&[]).is_err());
    }

    #[test]
    fn deeply_nested_frames_are_refused_without_overflowing_the_stack() {
        // 100,000 nested one-element arrays.
        let mut bytes = vec![0x81; 100_000];
        bytes.push(0x00);
        assert!(matches!(
            Message::decode(&bytes),
            Err(FrameError::NotCbor(_))
        ));
    }

    #[test]
    fn declared_lengths_larger_than_the_frame_do_not_allocate() {
        for header in [0x5b_u8, 0x7b, 0x9b, 0xbb] {
            // A byte string, text, array or map claiming 2^64 - 1 entries, then nothing.
            let mut bytes = vec![0xa1, 0x64, b't', b'y', b'p', b'e', header];
            bytes.extend([0xff; 8]);
            assert!(Message::decode(&bytes).is_err());
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn damaged_frames_never_panic(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
            for message in samples() {
                let mut bytes = message.encode().unwrap();
                let at = index.index(bytes.len());
                bytes[at] ^= byte | 1;
                let _ = Message::decode(&bytes);
            }
        }
    }
}
