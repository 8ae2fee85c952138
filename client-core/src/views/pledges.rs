//! Pledges (承诺): what members commit to for a year, collected from their notebooks by the
//! branch's admins and published on the branch's pledge wall for every member to read.
//!
//! The wall is the part of the branch feed whose items are of kind pledge (see
//! `Branch::publish_pledge`): one copy per pledge, the latest publication standing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{keyed, live, on_roster};
use crate::ids::{RecordId, UserId};
use crate::model::branch::{FeedItem, RosterEntry};
use crate::model::common::{RecordRef, ReviewableKind};
use crate::model::notebook::Pledge;
use crate::ops::{Branch, Notebook, Record};
use crate::schema;
use crate::time::{Millis, Period};

/// A pledge as the wall shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WallPledge {
    /// The feed item that carries it.
    pub id: RecordId,
    pub source: RecordRef,
    /// The member's name as the roster had it when the pledge was published.
    pub name: String,
    pub commitments: Vec<String>,
    pub published_at: Millis,
}

/// Where a member's pledge stands with the wall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WallState {
    /// Written, not on the wall.
    Unpublished,
    /// On the wall as the member wrote it.
    Published,
    /// On the wall, but the member has changed it since.
    Changed,
    /// On the wall, but the member has withdrawn it: the branch should take it down.
    Withdrawn,
}

/// A member's pledge for the year, as the admin collecting pledges sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectedPledge {
    pub record: RecordRef,
    pub member: UserId,
    pub name: String,
    pub commitments: Vec<String>,
    pub created_at: Millis,
    pub wall: WallState,
    /// The wall's copy, when there is one.
    pub on_wall: Option<RecordId>,
}

/// Someone on the roster, by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub member: UserId,
    pub name: String,
}

/// The year's pledge collection: every pledge written, and who on the roster has yet to
/// pledge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pledges {
    pub year: i32,
    pub pledges: Vec<CollectedPledge>,
    pub not_yet: Vec<Member>,
}

/// The wall of `year`: each published pledge once, in the order they were published (the
/// wall lists people; it does not rank them).
pub fn pledge_wall(branch: &Branch, year: i32) -> Vec<WallPledge> {
    let mut wall: Vec<WallPledge> = on_wall(branch, year).into_values().collect();
    wall.sort_by_key(|pledge| (pledge.published_at, pledge.id));
    wall
}

/// The pledges for `year` in the notebooks of the branch's members, each with where it
/// stands with the wall, and the members still on the roster who have not pledged. A
/// withdrawn pledge is listed only while the wall still shows it.
pub fn pledges(branch: &Branch, notebooks: &[&Notebook], year: i32) -> Pledges {
    let roster: BTreeMap<UserId, RosterEntry> = branch
        .records::<RosterEntry>(&schema::ROSTER)
        .into_iter()
        .filter_map(|(key, entry)| Some((key.parse().ok()?, entry)))
        .collect();
    let wall = on_wall(branch, year);
    let mut pledged = BTreeSet::new();
    let mut collected = Vec::new();
    for (owner, entry, notebook) in on_roster(branch, notebooks) {
        for (id, pledge) in keyed::<Pledge>(notebook, &schema::PLEDGES) {
            if i64::from(year) != pledge.year {
                continue;
            }
            let record = RecordRef {
                notebook: entry.notebook,
                kind: ReviewableKind::Pledge,
                id,
            };
            let copy = wall.get(&record);
            let state = match (copy, pledge.is_withdrawn()) {
                (None, true) => continue,
                (None, false) => WallState::Unpublished,
                (Some(_), true) => WallState::Withdrawn,
                (Some(copy), false) if copy.commitments == as_shown(&pledge.commitments) => {
                    WallState::Published
                }
                (Some(_), false) => WallState::Changed,
            };
            if state != WallState::Withdrawn {
                pledged.insert(owner);
            }
            collected.push(CollectedPledge {
                record,
                member: owner,
                name: entry.name.clone(),
                commitments: pledge.commitments,
                created_at: pledge.created_at,
                wall: state,
                on_wall: copy.map(|copy| copy.id),
            });
        }
    }
    collected.sort_by_key(|p| (p.created_at, p.record.id));
    let not_yet = roster
        .into_iter()
        .filter(|(member, entry)| entry.left_at.is_none() && !pledged.contains(member))
        .map(|(member, entry)| Member {
            member,
            name: entry.name,
        })
        .collect();
    Pledges {
        year,
        pledges: collected,
        not_yet,
    }
}

/// Commitments as the wall shows them: the copy keeps them one to a line, so a commitment
/// written over two lines shows as two.
fn as_shown(commitments: &[String]) -> Vec<String> {
    commitments
        .join("\n")
        .split('\n')
        .map(str::to_owned)
        .collect()
}

/// The feed items that are not pledges: what the feed (展播) shows.
pub(super) fn is_broadcast(item: &FeedItem) -> bool {
    item.kind != ReviewableKind::Pledge
}

/// The live wall copies of `year`'s pledges, one per pledge: should two admins have
/// published the same pledge offline, the later publication stands.
fn on_wall(branch: &Branch, year: i32) -> HashMap<RecordRef, WallPledge> {
    let period = Period::Year(year).range();
    let mut wall: HashMap<RecordRef, WallPledge> = HashMap::new();
    for (id, item) in live::<FeedItem>(branch, &schema::FEED) {
        if item.kind != ReviewableKind::Pledge || !period.contains(&item.held_at) {
            continue;
        }
        let pledge = WallPledge {
            id,
            source: item.source,
            name: item.title,
            commitments: item.body.split('\n').map(str::to_owned).collect(),
            published_at: item.published_at,
        };
        let later = wall
            .get(&item.source)
            .is_none_or(|other| (pledge.published_at, pledge.id) > (other.published_at, other.id));
        if later {
            wall.insert(item.source, pledge);
        }
    }
    wall
}
