//! The domain model: typed records of the four document kinds, read from and written to
//! Automerge with autosurgeon.
//!
//! These types say what a record *is*; [`crate::schema`] says what a document may *contain*
//! (limits, required fields, allowed keys). Tests check that every value these types can hold
//! within the limits passes the schema.

pub mod branch;
pub mod common;
pub mod ledger;
pub mod notebook;
pub mod supervision;

/// Runs `$body` with `$T` naming the record type the collection called `$name` holds, or
/// `$other` for a name no collection has: the one place that pairs collections with types.
macro_rules! with_record_type {
    ($name:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $name {
            "lectures" => {
                type $T = $crate::model::notebook::Lecture;
                $body
            }
            "services" => {
                type $T = $crate::model::notebook::Service;
                $body
            }
            "visits" => {
                type $T = $crate::model::notebook::Visit;
                $body
            }
            "ballots" => {
                type $T = $crate::model::notebook::Ballot;
                $body
            }
            "pledges" => {
                type $T = $crate::model::notebook::Pledge;
                $body
            }
            "roster" => {
                type $T = $crate::model::branch::RosterEntry;
                $body
            }
            "plans" => {
                type $T = $crate::model::branch::Plan;
                $body
            }
            "schedule" => {
                type $T = $crate::model::branch::ScheduleEntry;
                $body
            }
            "meetings" => {
                type $T = $crate::model::branch::Meeting;
                $body
            }
            "screenings" => {
                type $T = $crate::model::branch::Screening;
                $body
            }
            "reviews" => {
                type $T = $crate::model::branch::Review;
                $body
            }
            "elections" => {
                type $T = $crate::model::branch::Election;
                $body
            }
            "rectifications" => {
                type $T = $crate::model::branch::Rectification;
                $body
            }
            "feed" => {
                type $T = $crate::model::branch::FeedItem;
                $body
            }
            "entries" => {
                type $T = $crate::model::ledger::LedgerEntry;
                $body
            }
            "notes" => {
                type $T = $crate::model::supervision::SupervisionNote;
                $body
            }
            "problems" => {
                type $T = $crate::model::supervision::Problem;
                $body
            }
            "assessments" => {
                type $T = $crate::model::supervision::Assessment;
                $body
            }
            _ => $other,
        }
    };
}
pub(crate) use with_record_type;

/// A closed set of values stored as strings, such as a lecture's venue.
///
/// Generates the enum, its wire names, `ALL_NAMES` for the schema, and the Automerge and serde
/// conversions, so that the list of allowed strings exists exactly once.
macro_rules! domain_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire names the schema accepts.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&s, $name::NAMES)
                })
            }
        }

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.as_str().reconcile(reconciler)
            }
        }

        impl autosurgeon::Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> Result<Self, autosurgeon::HydrateError> {
                $name::parse(s).ok_or_else(|| {
                    autosurgeon::HydrateError::unexpected(
                        stringify!($name),
                        $crate::quote(s),
                    )
                })
            }
        }
    };
}
pub(crate) use domain_enum;
