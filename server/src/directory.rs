//! What the server knows about documents, people and the actors they write with, held in
//! memory for the sync hub's decisions and kept in step with the database.
//!
//! Every entry is the server's own record, never a document's claim about itself: a
//! document's scope comes from the catalogue the server wrote when it created it, a person's
//! role from the users table, and an actor's author from the binding made the first time a
//! signed-in person's device wrote with it, and an election from the branch document that
//! holds it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use automerge::ActorId;
use client_core::model::branch::Election;
use client_core::validate::Elections;
use client_core::{BranchId, DeviceId, DocumentId, Principal, RecordId, Scope, UserId};

use crate::store::{Store, StoreError};

#[derive(Debug, Default)]
struct Entries {
    documents: HashMap<DocumentId, Scope>,
    people: HashMap<UserId, Principal>,
    actors: HashMap<ActorId, UserId>,
    elections: HashMap<RecordId, (BranchId, Election)>,
    devices: HashMap<DeviceId, DeviceEntry>,
}

/// An enrolled device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceEntry {
    pub user: UserId,
    pub revoked: bool,
}

/// The server's directory; cheap to clone, shared by the hub, the API and the refresher.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    entries: Arc<RwLock<Entries>>,
    /// Where it has read the database up to, so a refresh reads only what is new.
    watermark: Arc<tokio::sync::Mutex<Watermark>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Watermark {
    documents: i64,
    people: i64,
    /// The devices' fingerprint when they were last read ([`Store::devices_fingerprint`]):
    /// they are read again only once it moves, not every device every two seconds.
    devices: Option<(i64, i64)>,
}

/// Who wrote a batch of new changes, as the actor bindings say.
#[derive(Debug, Default)]
pub struct Authorship {
    /// Every distinct author, as the server knows them.
    pub authors: Vec<Principal>,
    /// Actors seen for the first time, to be bound to the person who sent them once the
    /// changes are accepted.
    pub new_actors: Vec<ActorId>,
}

/// Why the authors of changes could not be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorshipError {
    #[error("actor {actor} writes for someone who has no account")]
    UnknownAuthor { actor: String },
}

impl Directory {
    /// Reads everything the database knows.
    pub async fn load(store: &Store) -> Result<Directory, StoreError> {
        let directory = Directory::default();
        let actors = store.actor_bindings().await?;
        let elections = store.elections().await?;
        if let Ok(mut entries) = directory.entries.write() {
            entries.actors.extend(actors);
            entries.elections.extend(
                elections
                    .into_iter()
                    .map(|(id, branch, election)| (id, (branch, election))),
            );
        }
        directory.refresh(store).await?;
        Ok(directory)
    }

    /// Learns documents and people created or changed since the last refresh, and every
    /// device's state if any device was enrolled or revoked since (by the command line or
    /// another process, say).
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let mut watermark = self.watermark.lock().await;
        let (documents, last_document) = store.catalogue_since(watermark.documents).await?;
        let (people, last_person) = store.people_since(watermark.people).await?;
        // Counted before the devices are read: a change in between is read again next time.
        let fingerprint = store.devices_fingerprint().await?;
        let devices = if watermark.devices == Some(fingerprint) {
            None
        } else {
            Some(store.all_devices().await?)
        };
        if let Ok(mut entries) = self.entries.write() {
            entries.documents.extend(documents);
            entries
                .people
                .extend(people.into_iter().map(|p| (p.user, p)));
            if let Some(devices) = devices {
                entries.devices = devices
                    .into_iter()
                    .map(|d| {
                        let entry = DeviceEntry {
                            user: d.user,
                            revoked: d.revoked_at.is_some(),
                        };
                        (d.id, entry)
                    })
                    .collect();
            }
        }
        *watermark = Watermark {
            documents: last_document,
            people: last_person,
            devices: Some(fingerprint),
        };
        Ok(())
    }

    /// Refreshes every two seconds until the store stops.
    pub async fn follow(self, store: Store) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            match self.refresh(&store).await {
                Ok(()) => {}
                Err(StoreError::Stopped) => return,
                Err(error) => tracing::warn!(%error, "cannot refresh the directory"),
            }
        }
    }

    /// Who a person is now: role, branch, township.
    pub fn person(&self, user: UserId) -> Option<Principal> {
        self.entries.read().ok()?.people.get(&user).cloned()
    }

    pub fn device(&self, device: DeviceId) -> Option<DeviceEntry> {
        self.entries.read().ok()?.devices.get(&device).copied()
    }

    /// Learns a device just enrolled.
    pub fn add_device(&self, device: DeviceId, user: UserId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.devices.insert(
                device,
                DeviceEntry {
                    user,
                    revoked: false,
                },
            );
        }
    }

    /// Learns that a device was revoked (the database already says so).
    pub fn revoke_device(&self, device: DeviceId) {
        if let Ok(mut entries) = self.entries.write()
            && let Some(entry) = entries.devices.get_mut(&device)
        {
            entry.revoked = true;
        }
    }

    /// The documents `who` may read, with their scopes.
    pub fn readable_by(&self, who: &Principal) -> Vec<(DocumentId, Scope)> {
        let Ok(entries) = self.entries.read() else {
            return Vec::new();
        };
        let mut documents: Vec<(DocumentId, Scope)> = entries
            .documents
            .iter()
            .filter(|(_, scope)| client_core::access::can_read(who, scope))
            .map(|(id, scope)| (*id, *scope))
            .collect();
        documents.sort_by_key(|(id, scope)| (scope.kind.as_str(), id.to_string()));
        documents
    }

    pub fn scope(&self, document: DocumentId) -> Option<Scope> {
        self.entries.read().ok()?.documents.get(&document).copied()
    }

    pub fn author_of(&self, actor: &ActorId) -> Option<UserId> {
        self.entries.read().ok()?.actors.get(actor).copied()
    }

    /// The authors of changes by `actors`, sent by `sender`. An actor nobody has written
    /// with before becomes the sender's; an actor bound to someone else stays theirs, so a
    /// device may pass on another person's changes only if that person may write them.
    pub fn authorship(
        &self,
        sender: &Principal,
        actors: impl IntoIterator<Item = ActorId>,
    ) -> Result<Authorship, AuthorshipError> {
        let Ok(entries) = self.entries.read() else {
            return Ok(Authorship::default());
        };
        let mut authorship = Authorship::default();
        for actor in actors {
            let principal = match entries.actors.get(&actor) {
                None => {
                    authorship.new_actors.push(actor);
                    sender.clone()
                }
                Some(user) if *user == sender.user => sender.clone(),
                Some(user) => entries.people.get(user).cloned().ok_or_else(|| {
                    AuthorshipError::UnknownAuthor {
                        actor: actor.to_hex_string(),
                    }
                })?,
            };
            if !authorship.authors.contains(&principal) {
                authorship.authors.push(principal);
            }
        }
        Ok(authorship)
    }

    /// Learns elections a branch document now holds (once they are stored).
    pub fn add_elections(&self, branch: BranchId, elections: Vec<(String, Election)>) {
        if let Ok(mut entries) = self.entries.write() {
            for (key, election) in elections {
                if let Ok(id) = key.parse() {
                    entries.elections.insert(id, (branch, election));
                }
            }
        }
    }

    /// The elections of one branch, as ballot validation asks for them.
    pub fn elections_of(&self, branch: BranchId) -> BranchElections<'_> {
        BranchElections {
            directory: self,
            branch,
        }
    }

    /// Binds actors to the person who first wrote with them. The caller persists the
    /// binding with the changes.
    pub fn bind(&self, actors: &[ActorId], user: UserId) {
        if let Ok(mut entries) = self.entries.write() {
            for actor in actors {
                entries.actors.entry(actor.clone()).or_insert(user);
            }
        }
    }
}

/// One branch's elections: a ballot in a member's notebook may only be for an election of
/// the member's own branch.
#[derive(Debug)]
pub struct BranchElections<'a> {
    directory: &'a Directory,
    branch: BranchId,
}

impl Elections for BranchElections<'_> {
    fn election(&self, id: RecordId) -> Option<Election> {
        let entries = self.directory.entries.read().ok()?;
        let (branch, election) = entries.elections.get(&id)?;
        (*branch == self.branch).then(|| election.clone())
    }
}

#[cfg(test)]
mod tests {
    use client_core::{Millis, Role};

    use super::*;
    use crate::admin::{NewUser, Organisation};
    use crate::store::NewDevice;

    fn phone(id: DeviceId, user: UserId) -> NewDevice {
        // A refresh token nobody holds: its "hash" is the device id, padded.
        let mut refresh = [0u8; 32];
        refresh[..16].copy_from_slice(id.as_uuid().as_bytes());
        NewDevice {
            id,
            user,
            name: "phone".into(),
            refresh,
            refresh_expires_at: Millis(1_791_770_400_000),
        }
    }

    #[tokio::test]
    async fn a_refresh_learns_devices_enrolled_and_revoked_by_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let now = Millis(1_791_770_400_000);
        let org = Organisation {
            store: &store,
            hub: None,
        };
        let township = org.township("周官桥乡").await.unwrap();
        let admin = NewUser {
            name: "王敏".into(),
            role: Role::TownshipAdmin,
            township,
            branch: None,
            phone: None,
            password: None,
        };
        let user = org.create_user(admin, now).await.unwrap().id;
        let (first, second) = (DeviceId::generate().unwrap(), DeviceId::generate().unwrap());
        store.enrol_device(phone(first, user), now).await.unwrap();
        let directory = Directory::load(&store).await.unwrap();
        assert_eq!(directory.device(first).map(|d| d.revoked), Some(false));

        // Nothing changed: the devices stay as they were.
        directory.refresh(&store).await.unwrap();
        assert_eq!(directory.device(first).map(|d| d.revoked), Some(false));

        store.enrol_device(phone(second, user), now).await.unwrap();
        assert_eq!(directory.device(second), None);
        directory.refresh(&store).await.unwrap();
        assert_eq!(directory.device(second).map(|d| d.revoked), Some(false));

        assert!(
            store
                .revoke_device(first, now, "lost".into())
                .await
                .unwrap()
        );
        directory.refresh(&store).await.unwrap();
        assert_eq!(directory.device(first).map(|d| d.revoked), Some(true));
        assert_eq!(directory.device(second).map(|d| d.revoked), Some(false));
    }
}
