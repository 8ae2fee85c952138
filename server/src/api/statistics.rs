//! Statistics for admins: the figures of a branch or of every branch of a township over a
//! period, the records behind each figure, each branch's monthly plan, and a figure's trend
//! month by month. A branch admin sees his branch, a township admin his township's branches,
//! a system admin any. Members see none: the records behind a figure are other members'.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use client_core::access::administers;
use client_core::time::CalendarError;
use client_core::views::Figures;
use client_core::{BranchId, Date, Month, Period, Role, TownshipId};
use serde::{Deserialize, Serialize};

use super::path_id;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::store::{
    BranchFigures, BranchRecord, Count, Figure, Narrowing, PlanStanding, RecordLine, Scope,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/statistics", get(figures))
        .route("/statistics/records", get(records))
        .route("/statistics/trend", get(trend))
        .route("/statistics/plans", get(plans))
}

/// The most records one drill-down lists.
pub const MOST_LINES: usize = 2_000;

/// The longest trend, in months.
const MOST_MONTHS: usize = 36;

/// Whose figures: `branch=` or `township=`, read as text so that a bad value gets the API's
/// own error.
#[derive(Debug, Deserialize)]
struct Whose {
    branch: Option<String>,
    township: Option<String>,
}

impl Whose {
    /// The branches the caller asked for, if they are his business. Naming neither means a
    /// branch admin's own branch, or a township admin's own township.
    async fn branches(&self, state: &AppState, caller: &Caller) -> Result<Vec<BranchRecord>> {
        let who = &caller.who;
        if who.role == Role::Member {
            return Err(ApiError::Forbidden("only admins read statistics"));
        }
        let store = &state.auth()?.store;
        let (branch, township) = match (self.branch.as_deref(), self.township.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Invalid(
                    "name a branch or a township, not both".to_owned(),
                ));
            }
            (None, None) => match (who.role, who.branch, who.township) {
                (Role::BranchAdmin, Some(branch), _) => (Some(branch), None),
                (_, _, Some(township)) => (None, Some(township)),
                _ => return Err(ApiError::Invalid("name a branch or a township".to_owned())),
            },
            (branch, township) => (
                branch.map(path_id).transpose()?,
                township.map(path_id).transpose()?,
            ),
        };
        if let Some(branch) = branch {
            return match store.branch(branch).await? {
                Some(record) if administers(who, record.township, Some(record.id)) => {
                    Ok(vec![record])
                }
                _ => Err(ApiError::NotFound),
            };
        }
        let township: TownshipId = township.ok_or(ApiError::NotFound)?;
        if !administers(who, township, None) || !store.township_exists(township).await? {
            return Err(ApiError::NotFound);
        }
        Ok(store.branches_of(township).await?)
    }
}

/// A month, period or date from the query string.
fn calendar<T: std::str::FromStr<Err = CalendarError>>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|e: CalendarError| ApiError::Invalid(e.to_string()))
}

fn scope(branches: &[BranchRecord]) -> Scope {
    Scope {
        branches: branches.iter().map(|b| b.id).collect(),
    }
}

/// Today in China Standard Time, by the server's clock: what rectifications are overdue on.
fn today() -> Date {
    crate::now().cst_date()
}

fn period(text: Option<&str>) -> Result<Period> {
    text.map_or(Ok(Period::Month(today().month_of())), calendar)
}

fn month(text: Option<&str>) -> Result<Month> {
    text.map_or(Ok(today().month_of()), calendar)
}

#[derive(Debug, Deserialize)]
struct FiguresQuery {
    #[serde(flatten)]
    whose: Whose,
    /// `2026-10`, `2026-Q4`, `2026` or `2026-10-01..2026-10-31`; this month if absent.
    period: Option<String>,
}

/// A branch's figures, with its name.
#[derive(Debug, Serialize)]
struct BranchLine {
    branch: BranchId,
    name: String,
    #[serde(flatten)]
    figures: BranchFigures,
}

#[derive(Debug, Serialize)]
struct FiguresAnswer {
    period: Period,
    /// The first day of the period and the day after its last, in China Standard Time.
    from: Date,
    until: Date,
    /// What rectifications are overdue on.
    today: Date,
    branches: Vec<BranchLine>,
    total: BranchFigures,
}

async fn figures(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<FiguresQuery>,
) -> Result<Json<FiguresAnswer>> {
    let period = period(query.period.as_deref())?;
    let branches = query.whose.branches(&state, &caller).await?;
    let store = &state.auth()?.store;
    let today = today();
    let mut tally = store
        .figures(Count {
            scope: scope(&branches),
            period: period.range(),
            today,
        })
        .await?;
    Ok(Json(FiguresAnswer {
        period,
        from: period.first_day(),
        until: period.end_day(),
        today,
        branches: branches
            .into_iter()
            .map(|b| BranchLine {
                figures: tally.branches.remove(&b.id).unwrap_or_default(),
                branch: b.id,
                name: b.name,
            })
            .collect(),
        total: tally.total,
    }))
}

#[derive(Debug, Deserialize)]
struct RecordsQuery {
    #[serde(flatten)]
    whose: Whose,
    period: Option<String>,
    /// The figure, by its name in the figures (`lectures`, `volunteer_hours`, …).
    figure: String,
    /// Lectures of one category or venue only.
    category: Option<String>,
    venue: Option<String>,
}

async fn records(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<RecordsQuery>,
) -> Result<Json<Vec<RecordLine>>> {
    let figure = Figure::named(&query.figure)
        .ok_or_else(|| ApiError::Invalid(format!("no figure is called {:?}", query.figure)))?;
    let narrowing = match (query.category, query.venue) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(
                "narrow by category or by venue, not both".to_owned(),
            ));
        }
        (Some(value), None) => Some(Narrowing {
            field: "category",
            value,
        }),
        (None, Some(value)) => Some(Narrowing {
            field: "venue",
            value,
        }),
        (None, None) => None,
    };
    if narrowing.is_some() && figure != Figure::Lectures {
        return Err(ApiError::Invalid(
            "only lectures are narrowed by category or venue".to_owned(),
        ));
    }
    let period = period(query.period.as_deref())?;
    let branches = query.whose.branches(&state, &caller).await?;
    let store = &state.auth()?.store;
    let count = Count {
        scope: scope(&branches),
        period: period.range(),
        today: today(),
    };
    Ok(Json(
        store
            .records_behind(count, figure, narrowing, MOST_LINES)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct TrendQuery {
    #[serde(flatten)]
    whose: Whose,
    /// The last month of the trend; this month if absent.
    until: Option<String>,
    /// How many months, 12 if absent.
    months: Option<String>,
}

#[derive(Debug, Serialize)]
struct MonthFigures {
    month: Month,
    #[serde(flatten)]
    figures: Figures,
}

/// The scope's total figures month by month, oldest first.
async fn trend(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TrendQuery>,
) -> Result<Json<Vec<MonthFigures>>> {
    let last = month(query.until.as_deref())?;
    let months: usize = match query.months.as_deref() {
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MOST_MONTHS).contains(n))
            .ok_or_else(|| {
                ApiError::Invalid(format!("months is a number from 1 to {MOST_MONTHS}"))
            })?,
        None => 12,
    };
    let branches = query.whose.branches(&state, &caller).await?;
    let store = &state.auth()?.store;
    let today = today();
    let mut trend = Vec::with_capacity(months);
    for month in last.and_before(months) {
        let tally = store
            .figures(Count {
                scope: scope(&branches),
                period: Period::Month(month).range(),
                today,
            })
            .await?;
        trend.push(MonthFigures {
            month,
            figures: tally.total.figures,
        });
    }
    Ok(Json(trend))
}

#[derive(Debug, Deserialize)]
struct PlansQuery {
    #[serde(flatten)]
    whose: Whose,
    /// This month if absent.
    month: Option<String>,
}

#[derive(Debug, Serialize)]
struct BranchPlan {
    branch: BranchId,
    name: String,
    #[serde(flatten)]
    standing: PlanStanding,
}

/// Each branch's standing on a month's plan (一月一课一片一实践).
async fn plans(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PlansQuery>,
) -> Result<Json<Vec<BranchPlan>>> {
    let month = month(query.month.as_deref())?;
    let branches = query.whose.branches(&state, &caller).await?;
    let store = &state.auth()?.store;
    let mut standing = store.plan_standing(scope(&branches), month).await?;
    Ok(Json(
        branches
            .into_iter()
            .map(|b| BranchPlan {
                standing: standing.remove(&b.id).unwrap_or_default(),
                branch: b.id,
                name: b.name,
            })
            .collect(),
    ))
}
