//! An election (评选) from creation to its published result: members cast ballots in their
//! own notebooks, the server counts them once the election closes and writes the result into
//! the branch document; a ballot that arrives after the count changes nothing, and nothing is
//! counted before the close.

use client_core::model::branch::{Candidate, Election};
use client_core::{Branch, Limits, Millis, Notebook, Principal, RecordId, schema};
use tianjian_server::elections::count_closed;
use tianjian_server::store::Store;
use tianjian_server::writer::{WriteError, Writer};
use tianjian_tests::fixture::{NOW, database};

const HOUR: i64 = 3_600_000;

fn at(hours: i64) -> Millis {
    Millis(NOW.0 + hours * HOUR)
}

async fn branch(store: &Store, document: client_core::DocumentId) -> Branch {
    Branch::load(
        &store.load_document(document).await.unwrap().unwrap(),
        Limits::default(),
    )
    .unwrap()
}

/// `voter` casts a ballot for `choice` at `when`, in his own notebook.
async fn vote(
    store: &Store,
    voter: &Principal,
    election: RecordId,
    choice: RecordId,
    when: Millis,
) {
    let branch_document = {
        let b = store.branch(voter.branch.unwrap()).await.unwrap().unwrap();
        b.branch_document
    };
    let held = branch(store, branch_document).await;
    let notebook = store
        .notebook_in(voter.user, voter.branch.unwrap())
        .await
        .unwrap()
        .unwrap();
    Writer::new(store, when)
        .notebook(notebook, voter, |n: &mut Notebook| {
            n.cast_ballot(voter, when, &held, election, vec![choice])?;
            Ok::<_, WriteError>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_server_counts_an_election_once_it_closes_and_publishes_the_result() {
    let db = database().await;
    let (store, v) = (&db.store, &db.v);
    let secretary = &v.secretary;
    let (for_li, for_deputy) = (
        RecordId::generate(NOW).unwrap(),
        RecordId::generate(NOW).unwrap(),
    );
    let election = Writer::new(store, NOW)
        .branch(v.branch, secretary, |b| {
            let id = b.create_election(
                secretary,
                NOW,
                Election {
                    title: "发展之星".into(),
                    candidates: vec![
                        Candidate {
                            id: for_li,
                            label: "李章桂".into(),
                            member: Some(v.li.user),
                        },
                        Candidate {
                            id: for_deputy,
                            label: "贺俊爱".into(),
                            member: Some(v.deputy.user),
                        },
                    ],
                    max_choices: 1,
                    opens_at: NOW,
                    closes_at: at(24),
                    created_by: secretary.user,
                    created_at: NOW,
                    result: None,
                    withdrawn: None,
                },
            )?;
            Ok::<_, WriteError>(id)
        })
        .await
        .unwrap();

    vote(store, &v.li, election, for_deputy, at(1)).await;
    vote(store, &v.deputy, election, for_li, at(2)).await;
    vote(store, &v.secretary, election, for_deputy, at(3)).await;

    // Open still: nothing is counted.
    assert_eq!(count_closed(store, None, at(23)).await.unwrap(), 0);
    let open = branch(store, v.branch).await;
    let stands: Election = open
        .get(&schema::ELECTIONS, &election.to_string())
        .unwrap()
        .unwrap();
    assert!(stands.result.is_none());

    // Closed: the server counts the three ballots and writes the result to the branch.
    assert_eq!(count_closed(store, None, at(25)).await.unwrap(), 1);
    let counted: Election = branch(store, v.branch)
        .await
        .get(&schema::ELECTIONS, &election.to_string())
        .unwrap()
        .unwrap();
    let result = counted.result.expect("the election was counted");
    assert_eq!(result.ballots, 3);
    assert_eq!(result.counted_at, at(25));
    let votes = |candidate: RecordId| {
        result
            .tallies
            .iter()
            .find(|t| t.candidate == candidate)
            .unwrap()
            .votes
    };
    assert_eq!((votes(for_li), votes(for_deputy)), (1, 2));

    // li changed his ballot offline before the close; it reaches the server after the count.
    // His notebook keeps it, but the result stands; nothing is counted twice.
    vote(store, &v.li, election, for_li, at(20)).await;
    assert_eq!(count_closed(store, None, at(48)).await.unwrap(), 0);
    let again: Election = branch(store, v.branch)
        .await
        .get(&schema::ELECTIONS, &election.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(again.result.unwrap().ballots, 3);

    // The stored branch document, with the server's result in it, still validates whole.
    let bytes = store.load_document(v.branch).await.unwrap().unwrap();
    client_core::Document::load(&bytes, Limits::default()).unwrap();
}
