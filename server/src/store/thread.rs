//! The storage thread: jobs run one at a time, in the order they came, and writes queued
//! together are committed together (group commit).

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};

use super::sql::Db;
use super::{Result, StoreError};

/// Work for the storage thread.
pub(super) enum Job {
    /// Runs alone, with the connection to itself.
    Alone(Box<dyn FnOnce(&mut Db) + Send>),
    /// A write that may share one transaction, and so one flush to disk, with the writes
    /// queued beside it (group commit). It is answered only once that transaction is
    /// committed: an answer still means "on disk".
    Grouped(GroupedWork, oneshot::Sender<Result<()>>),
}

/// A write that runs inside a shared transaction.
/// It may run more than once: a write that lost a deadlock with another node's runs again.
type GroupedWork = Box<dyn Fn(&Db) -> Result<()> + Send>;

/// How many times a write that lost a deadlock with another node's is tried.
const TRIES: usize = 3;

/// The most writes committed together.
const MOST_GROUPED: usize = 256;

/// The storage thread: runs jobs in the order they came, committing each run of grouped
/// writes in one transaction.
pub(super) fn run_jobs(mut connection: Db, mut queue: mpsc::Receiver<Job>) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match queue.blocking_recv() {
                Some(job) => pending.push_back(job),
                None => return,
            }
        }
        while pending.len() < MOST_GROUPED
            && let Ok(job) = queue.try_recv()
        {
            pending.push_back(job);
        }
        match pending.pop_front() {
            Some(Job::Alone(work)) => work(&mut connection),
            Some(Job::Grouped(work, reply)) => {
                let mut group = vec![(work, reply)];
                while group.len() < MOST_GROUPED
                    && matches!(pending.front(), Some(Job::Grouped(..)))
                {
                    if let Some(Job::Grouped(work, reply)) = pending.pop_front() {
                        group.push((work, reply));
                    }
                }
                commit_group(&mut connection, group);
            }
            None => {}
        }
    }
}

type Grouped = (GroupedWork, oneshot::Sender<Result<()>>);

/// Runs writes in one transaction, each in a savepoint of its own so that one that fails is
/// undone alone, and answers each once the transaction is committed.
fn commit_group(connection: &mut Db, group: Vec<Grouped>) {
    let tx = match connection.transaction() {
        Ok(tx) => tx,
        Err(error) => {
            let message = error.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(StoreError::Group(message.clone())));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for (work, reply) in group {
        let mut outcome = Ok(());
        for _ in 0..TRIES {
            outcome = tx.savepoint().and_then(|savepoint| {
                work(&savepoint)?;
                savepoint.commit()
            });
            if !outcome.as_ref().is_err_and(StoreError::is_transient) {
                break;
            }
        }
        outcomes.push((reply, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, outcome) in outcomes {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of the group is on disk: every write hears so, even those that ran.
            let message = error.to_string();
            for (reply, _) in outcomes {
                let _ = reply.send(Err(StoreError::Group(message.clone())));
            }
        }
    }
}
