//! Elections (评选, such as 发展之星 or 十佳党课) are counted by the server once they close:
//! members cast their ballots in their own notebooks, which no admin's phone may hold all
//! of, so the server counts them from the projection and writes the result into the branch
//! document, where every member sees it. The rule of the count is client-core's
//! (`Branch::count_election`): one ballot per member, cast inside the election's window by
//! the device's clock. A ballot that reaches the server after the count is not counted: the
//! result, once written, never changes.

use client_core::model::branch::Election;
use client_core::{Millis, RecordId};

use crate::admin::system;
use crate::store::{BranchRecord, Store, lease_for};
use crate::sync::Hub;
use crate::writer::{WriteError, Writer};

/// Counts every election that has closed and has no result yet; returns how many it counted.
/// One that cannot be counted is logged and left for the next round; the others are counted.
pub async fn count_closed(
    store: &Store,
    hub: Option<&Hub>,
    now: Millis,
) -> Result<usize, WriteError> {
    let mut counted = 0;
    for (id, branch, election) in store.elections().await? {
        if !due(&election, now) {
            continue;
        }
        let Some(branch) = store.branch(branch).await? else {
            continue;
        };
        match count(store, hub, now, &branch, id).await {
            Ok(()) => counted += 1,
            Err(WriteError::Store(error)) => return Err(error.into()),
            Err(error) => tracing::warn!(%error, election = %id, "cannot count an election"),
        }
    }
    Ok(counted)
}

/// Whether `election` is closed, stands and has not been counted.
fn due(election: &Election, now: Millis) -> bool {
    election.closes_at <= now && election.result.is_none() && election.withdrawn.is_none()
}

async fn count(
    store: &Store,
    hub: Option<&Hub>,
    now: Millis,
    branch: &BranchRecord,
    id: RecordId,
) -> Result<(), WriteError> {
    let ballots = store.ballots(branch.id, id).await?;
    let teller = system(branch);
    Writer::new(store, now)
        .through(hub)
        .branch(branch.branch_document, &teller, |doc| {
            doc.count_election(&teller, now, id, &ballots)?;
            Ok::<_, WriteError>(())
        })
        .await
}

/// Counts closed elections every `every`, for as long as the store runs, on one node of
/// those sharing the database at a time (`node` is this one).
pub async fn keep_counting(store: Store, hub: Hub, every: std::time::Duration, node: String) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match store
            .hold_lease("elections", node.clone(), crate::now(), lease_for(every))
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(crate::store::StoreError::Stopped) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot take the elections lease");
                continue;
            }
        }
        match count_closed(&store, Some(&hub), crate::now()).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "counted closed elections"),
            Err(WriteError::Store(crate::store::StoreError::Stopped)) => return,
            Err(error) => tracing::warn!(%error, "cannot count closed elections"),
        }
    }
}
