//! Work that must run on one node at a time (counting closed elections, folding change logs
//! into snapshots) takes a lease first: a row naming the node that holds it and until when.
//! A node renews its lease each round; one that dies stops renewing, and another takes the
//! work over once the lease has run out.

use super::sql::params;
use client_core::Millis;

use super::{Result, Store};

/// How long a lease on work done every `every` lasts: three rounds, so that a node that
/// misses one round keeps it, and one that died gives it up soon after.
pub fn lease_for(every: std::time::Duration) -> i64 {
    i64::try_from(every.saturating_mul(3).as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Whether `node` holds the lease on `work` from `now` for `for_ms` more: it takes the
    /// lease if nobody holds it or the holder's has run out, and renews its own.
    pub async fn hold_lease(
        &self,
        work: &'static str,
        node: String,
        now: Millis,
        for_ms: i64,
    ) -> Result<bool> {
        self.call(move |connection| {
            let tx = connection.transaction()?;
            tx.execute(
                "INSERT INTO leases (work, node, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (work) DO UPDATE SET node = excluded.node, until = excluded.until
                 WHERE leases.node = excluded.node OR leases.until <= ?4",
                params![work, node, now.0.saturating_add(for_ms), now.0],
            )?;
            let holder: String =
                tx.query_row("SELECT node FROM leases WHERE work = ?1", [work], |row| {
                    row.get(0)
                })?;
            tx.commit()?;
            Ok(holder == node)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_node_holds_a_lease_until_it_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tianjian.sqlite3")).unwrap();
        let now = Millis(1_791_770_400_000);
        let (a, b) = ("node-a".to_owned(), "node-b".to_owned());
        assert!(
            store
                .hold_lease("elections", a.clone(), now, 1_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .hold_lease("elections", b.clone(), now, 1_000)
                .await
                .unwrap()
        );
        assert!(
            store
                .hold_lease("compaction", b.clone(), now, 1_000)
                .await
                .unwrap(),
            "each work has its own lease"
        );
        // A renews; B still waits; A stops (killed), its lease runs out, and B takes over.
        let later = Millis(now.0 + 900);
        assert!(
            store
                .hold_lease("elections", a.clone(), later, 1_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .hold_lease("elections", b.clone(), later, 1_000)
                .await
                .unwrap()
        );
        let lapsed = Millis(later.0 + 1_000);
        assert!(
            store
                .hold_lease("elections", b.clone(), lapsed, 1_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .hold_lease("elections", a, lapsed, 1_000)
                .await
                .unwrap()
        );
    }
}
