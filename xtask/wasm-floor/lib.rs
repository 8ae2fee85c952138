//! The least a phone's core must do with Automerge, and nothing of ours: load and save a
//! document, change it (a map, a string, text), merge, and sync with a peer. Its size is
//! what any core built on Automerge costs before it knows what a lecture is.

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use wasm_bindgen::prelude::*;

fn failed(error: impl std::fmt::Display) -> JsError {
    JsError::new(&error.to_string())
}

#[wasm_bindgen]
pub struct Floor {
    doc: AutoCommit,
    state: sync::State,
}

#[wasm_bindgen]
impl Floor {
    pub fn load(bytes: &[u8]) -> Result<Floor, JsError> {
        Ok(Floor {
            doc: AutoCommit::load(bytes).map_err(failed)?,
            state: sync::State::new(),
        })
    }

    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn put(&mut self, key: &str, value: &str) -> Result<(), JsError> {
        let record = self
            .doc
            .put_object(ROOT, key, ObjType::Map)
            .map_err(failed)?;
        self.doc.put(&record, "title", value).map_err(failed)?;
        let text = self
            .doc
            .put_object(&record, "notes", ObjType::Text)
            .map_err(failed)?;
        self.doc.splice_text(&text, 0, 0, value).map_err(failed)
    }

    pub fn title(&self, key: &str) -> Option<String> {
        let (_, record) = self.doc.get(ROOT, key).ok()??;
        match self.doc.get(&record, "title").ok()?? {
            (Value::Scalar(value), _) => match value.as_ref() {
                ScalarValue::Str(title) => Some(title.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn merge(&mut self, other: &mut Floor) -> Result<(), JsError> {
        self.doc.merge(&mut other.doc).map(|_| ()).map_err(failed)
    }

    pub fn heads(&mut self) -> Vec<u8> {
        self.doc
            .get_heads()
            .iter()
            .flat_map(|head| head.0)
            .collect()
    }

    pub fn sync_message(&mut self) -> Option<Vec<u8>> {
        self.doc
            .sync()
            .generate_sync_message(&mut self.state)
            .map(sync::Message::encode)
    }

    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let message = sync::Message::decode(bytes).map_err(failed)?;
        self.doc
            .sync()
            .receive_sync_message(&mut self.state, message)
            .map_err(failed)
    }

    pub fn sync_state(&self) -> Vec<u8> {
        self.state.encode()
    }
}
