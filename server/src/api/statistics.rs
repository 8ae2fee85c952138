//! Statistics for admins: the figures of a branch or of every branch of a township over a
//! period, the records behind each figure, each branch's monthly plan, and a figure's trend
//! month by month. A branch admin sees his branch, a township admin his township's branches,
//! a system admin any. Members see none: the records behind a figure are other members'.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use client_core::projection::Cell;
use client_core::views::Figures;
use client_core::{BranchId, Date, Millis, Month, Period};
use serde::{Deserialize, Serialize};

use super::scope::{Whose, calendar, month, period, scope, today};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::export::{self, Ledger, Sheet};
use crate::store::{BranchFigures, Count, Figure, Narrowing, PlanStanding, RecordLine};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/statistics", get(figures))
        .route("/statistics/records", get(records))
        .route("/statistics/trend", get(trend))
        .route("/statistics/plans", get(plans))
        .route("/statistics/year-end", get(year_end))
}

/// The most records one drill-down lists.
pub const MOST_LINES: usize = 2_000;

/// The longest trend, in months.
const MOST_MONTHS: usize = 36;

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

#[derive(Debug, Deserialize)]
struct YearEndQuery {
    #[serde(flatten)]
    whose: Whose,
    /// `2026`; this year if absent.
    year: Option<String>,
}

#[derive(Debug, Serialize)]
struct MonthPlan {
    month: Month,
    #[serde(flatten)]
    standing: PlanStanding,
}

/// A branch's year-end assessment material (年终考核材料): its figures for the year, each
/// month's plan, its rectifications, and the township's supervision of it.
#[derive(Debug, Serialize)]
struct YearEnd {
    branch: BranchId,
    name: String,
    year: i32,
    figures: BranchFigures,
    plans: Vec<MonthPlan>,
    /// Rectifications and supervision problems raised in the year, the supervision notes of
    /// the year, and the assessment of the year, each as a table with Chinese headers.
    tables: Vec<Sheet>,
}

async fn year_end(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<YearEndQuery>,
) -> Result<Json<YearEnd>> {
    let year = match query.year.as_deref().map(calendar::<Period>).transpose()? {
        Some(Period::Year(year)) => year,
        Some(_) => return Err(ApiError::Invalid("year is a year, such as 2026".to_owned())),
        None => today().year,
    };
    let period = Period::Year(year);
    let branches = query.whose.branches(&state, &caller).await?;
    let [branch] = branches.as_slice() else {
        return Err(ApiError::Invalid(
            "the year-end material is for one branch: name it".to_owned(),
        ));
    };
    let store = &state.auth()?.store;
    let today = today();
    let mut tally = store
        .figures(Count {
            scope: scope(&branches),
            period: period.range(),
            today,
        })
        .await?;
    let mut plans = Vec::with_capacity(12);
    for month in period.months() {
        let mut standing = store.plan_standing(scope(&branches), month).await?;
        plans.push(MonthPlan {
            month,
            standing: standing.remove(&branch.id).unwrap_or_default(),
        });
    }
    let mut tables = Vec::new();
    for ledger in [
        Ledger::Rectifications,
        Ledger::Problems,
        Ledger::SupervisionNotes,
    ] {
        let records = store
            .ledger_records(ledger.listing(), scope(&branches), period.range())
            .await?;
        tables.push(export::sheet(ledger, &records, today));
    }
    // An assessment is of the year it names, whenever it was written (often in January).
    let assessments: Vec<_> = store
        .ledger_records(
            Ledger::Assessments.listing(),
            scope(&branches),
            Millis::EARLIEST..Millis::LATEST,
        )
        .await?
        .into_iter()
        .filter(|r| r.values.get("year") == Some(&Cell::Number(f64::from(year))))
        .collect();
    tables.push(export::sheet(Ledger::Assessments, &assessments, today));
    Ok(Json(YearEnd {
        branch: branch.id,
        name: branch.name.clone(),
        year,
        figures: tally.branches.remove(&branch.id).unwrap_or_default(),
        plans,
        tables,
    }))
}
