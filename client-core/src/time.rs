//! Time: instants as milliseconds since the Unix epoch, calendar dates and months in China
//! Standard Time (UTC+8, no daylight saving), which is what every figure is counted in.
//!
//! The core never reads a clock: every operation takes `now` from its caller.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use serde::{Deserialize, Serialize};

/// China Standard Time is UTC+8 all year round.
const CST_OFFSET_MS: i64 = 8 * 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An instant, as milliseconds since 1970-01-01T00:00:00Z. Stored as an Automerge timestamp.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// The earliest instant a record may carry: 2000-01-01T00:00:00Z.
    pub const EARLIEST: Millis = Millis(946_684_800_000);
    /// The latest instant a record may carry: 2100-01-01T00:00:00Z.
    pub const LATEST: Millis = Millis(4_102_444_800_000);

    /// The calendar date of this instant in China Standard Time.
    pub fn cst_date(self) -> Date {
        let days = (self.0 + CST_OFFSET_MS).div_euclid(DAY_MS);
        Date::from_days_since_epoch(days)
    }

    pub fn is_plausible(self) -> bool {
        (Self::EARLIEST..Self::LATEST).contains(&self)
    }
}

impl fmt::Debug for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Millis({})", self.0)
    }
}

impl Reconcile for Millis {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.timestamp(self.0)
    }
}

impl Hydrate for Millis {
    fn hydrate_timestamp(t: i64) -> Result<Self, HydrateError> {
        Ok(Self(t))
    }
}

/// Why a string is not a date or month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {expected}: {found:?}")]
pub struct CalendarError {
    expected: &'static str,
    found: String,
}

/// A calendar day, written `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub fn month_of(self) -> Month {
        Month {
            year: self.year,
            month: self.month,
        }
    }

    /// The instant this day starts in China Standard Time.
    pub fn cst_start(self) -> Millis {
        Millis(self.days_since_epoch() * DAY_MS - CST_OFFSET_MS)
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    fn days_since_epoch(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    fn from_days_since_epoch(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_number<T: FromStr>(digits: &str, width: usize) -> Option<T> {
    (digits.len() == width && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl FromStr for Date {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let error = || CalendarError {
            expected: "date (YYYY-MM-DD)",
            found: crate::quote(s),
        };
        let mut parts = s.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(error());
        };
        let month_value: Month = format!("{year}-{month}").parse().map_err(|_| error())?;
        let day: u8 = parse_number(day, 2).ok_or_else(error)?;
        if day == 0 || day > days_in_month(month_value.year, month_value.month) {
            return Err(error());
        }
        Ok(Self {
            year: month_value.year,
            month: month_value.month,
            day,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

/// A calendar month, written `YYYY-MM`: the unit of the monthly plan.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    pub fn first_day(self) -> Date {
        Date {
            year: self.year,
            month: self.month,
            day: 1,
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The `count` months that end with this one, oldest first.
    pub fn and_before(self, count: usize) -> Vec<Month> {
        let mut months = vec![self];
        while months.len() < count {
            months.push(months[months.len() - 1].previous());
        }
        months.reverse();
        months
    }

    /// Whether `at` falls in this month in China Standard Time.
    pub fn contains(self, at: Millis) -> bool {
        at.cst_date().month_of() == self
    }
}

impl FromStr for Month {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let error = || CalendarError {
            expected: "month (YYYY-MM)",
            found: crate::quote(s),
        };
        let (year, month) = s.split_once('-').ok_or_else(error)?;
        let year: i32 = parse_number(year, 4).ok_or_else(error)?;
        let month: u8 = parse_number(month, 2).ok_or_else(error)?;
        if !(2000..2100).contains(&year) || !(1..=12).contains(&month) {
            return Err(error());
        }
        Ok(Self { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Month({self})")
    }
}

macro_rules! calendar_string {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = CalendarError;
            fn try_from(s: String) -> Result<Self, CalendarError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.to_string()
            }
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.to_string().reconcile(reconciler)
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
                s.parse()
                    .map_err(|e: CalendarError| HydrateError::unexpected(e.expected, e.found))
            }
        }
    };
}

calendar_string!(Date);
calendar_string!(Month);

/// A period figures are counted over, in China Standard Time: a month (`2026-10`), a quarter
/// (`2026-Q4`), a year (`2026`), or any run of days (`2026-10-01..2026-10-31`, both ends
/// included).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Period {
    Month(Month),
    Quarter { year: i32, quarter: u8 },
    Year(i32),
    Days { first: Date, last: Date },
}

impl Period {
    /// The first day of the period.
    pub fn first_day(self) -> Date {
        match self {
            Period::Month(month) => month.first_day(),
            Period::Quarter { year, quarter } => Date {
                year,
                month: quarter * 3 - 2,
                day: 1,
            },
            Period::Year(year) => Date {
                year,
                month: 1,
                day: 1,
            },
            Period::Days { first, .. } => first,
        }
    }

    /// The day after the period's last.
    pub fn end_day(self) -> Date {
        match self {
            Period::Month(month) => month.next().first_day(),
            Period::Quarter { year, quarter: 4 } => Date {
                year: year + 1,
                month: 1,
                day: 1,
            },
            Period::Quarter { year, quarter } => Date {
                year,
                month: quarter * 3 + 1,
                day: 1,
            },
            Period::Year(year) => Date {
                year: year + 1,
                month: 1,
                day: 1,
            },
            Period::Days { last, .. } => Date::from_days_since_epoch(last.days_since_epoch() + 1),
        }
    }

    /// The instants of the period: from the first moment of its first day in Beijing to the
    /// first moment after its last.
    pub fn range(self) -> std::ops::Range<Millis> {
        self.first_day().cst_start()..self.end_day().cst_start()
    }

    /// The months the period touches, in order.
    pub fn months(self) -> Vec<Month> {
        let last = Date::from_days_since_epoch(self.end_day().days_since_epoch() - 1).month_of();
        let mut months = vec![self.first_day().month_of()];
        while months[months.len() - 1] < last {
            months.push(months[months.len() - 1].next());
        }
        months
    }
}

impl FromStr for Period {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let error = || CalendarError {
            expected: "period (YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)",
            found: crate::quote(s),
        };
        if let Some((first, last)) = s.split_once("..") {
            let (first, last): (Date, Date) = (
                first.parse().map_err(|_| error())?,
                last.parse().map_err(|_| error())?,
            );
            // A run of days ends on or after it starts, and spans at most a few years.
            let days = last.days_since_epoch() - first.days_since_epoch();
            if !(0..=MAX_PERIOD_DAYS).contains(&days) {
                return Err(error());
            }
            return Ok(Period::Days { first, last });
        }
        if let Some((year, quarter)) = s.split_once("-Q") {
            let year: i32 = parse_number(year, 4).ok_or_else(error)?;
            let quarter: u8 = parse_number(quarter, 1).ok_or_else(error)?;
            if !(2000..2100).contains(&year) || !(1..=4).contains(&quarter) {
                return Err(error());
            }
            return Ok(Period::Quarter { year, quarter });
        }
        if s.len() == 4 {
            let year: i32 = parse_number(s, 4).ok_or_else(error)?;
            if !(2000..2100).contains(&year) {
                return Err(error());
            }
            return Ok(Period::Year(year));
        }
        s.parse().map(Period::Month).map_err(|_| error())
    }
}

/// The longest run of days a period may span: ten years.
const MAX_PERIOD_DAYS: i64 = 3_660;

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(month) => write!(f, "{month}"),
            Period::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
            Period::Year(year) => write!(f, "{year:04}"),
            Period::Days { first, last } => write!(f, "{first}..{last}"),
        }
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl TryFrom<String> for Period {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, CalendarError> {
        s.parse()
    }
}

impl From<Period> for String {
    fn from(value: Period) -> String {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cst_dates_turn_over_at_sixteen_hundred_utc() {
        // 2026-10-31T15:59:59.999Z is the last millisecond of October 31st in Beijing.
        let last_of_october = Millis(1_793_462_399_999);
        assert_eq!(last_of_october.cst_date().to_string(), "2026-10-31");
        assert_eq!(
            Millis(last_of_october.0 + 1).cst_date().to_string(),
            "2026-11-01"
        );
        let first: Date = "2026-11-01".parse().unwrap();
        assert_eq!(first.cst_start(), Millis(last_of_october.0 + 1));
    }

    #[test]
    fn calendar_strings_are_strict() {
        assert!("2026-02-29".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        assert!("2026-1-01".parse::<Date>().is_err());
        assert!("2026-13".parse::<Month>().is_err());
        assert!("+026-10".parse::<Month>().is_err());
        assert_eq!(
            "2026-12".parse::<Month>().unwrap().next().to_string(),
            "2027-01"
        );
        let january: Month = "2027-01".parse().unwrap();
        assert_eq!(january.previous().to_string(), "2026-12");
        let year: Vec<String> = january
            .and_before(12)
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            (year[0].as_str(), year[11].as_str()),
            ("2026-02", "2027-01")
        );
    }

    #[test]
    fn periods_cover_whole_days_in_beijing() {
        let october: Period = "2026-10".parse().unwrap();
        let range = october.range();
        assert_eq!(
            range.start,
            "2026-10-01".parse::<Date>().unwrap().cst_start()
        );
        // The last millisecond of October 31st in Beijing is in; the next is not.
        assert!(range.contains(&Millis(1_793_462_399_999)));
        assert!(!range.contains(&Millis(1_793_462_400_000)));

        let q4: Period = "2026-Q4".parse().unwrap();
        assert_eq!(q4.end_day().to_string(), "2027-01-01");
        assert_eq!(q4.months().len(), 3);
        let year: Period = "2026".parse().unwrap();
        assert_eq!(year.months().len(), 12);
        assert_eq!(year.first_day().to_string(), "2026-01-01");
        let days: Period = "2026-10-31..2026-11-01".parse().unwrap();
        assert_eq!(days.range().end.0 - days.range().start.0, 2 * DAY_MS);
        assert_eq!(
            days.months()
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>(),
            ["2026-10", "2026-11"]
        );
        for text in ["2026-10", "2026-Q4", "2026", "2026-10-31..2026-11-01"] {
            assert_eq!(text.parse::<Period>().unwrap().to_string(), text);
        }
        for bad in [
            "2026-Q5",
            "2026-Q0",
            "26",
            "1999",
            "2026-11-01..2026-10-31",
            "2000-01-01..2030-01-01",
            "2026-10..2026-11",
            "",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn day_numbers_round_trip() {
        for days in [-1000, -1, 0, 1, 10_000, 20_000, 47_000] {
            let date = Date::from_days_since_epoch(days);
            assert_eq!(date.days_since_epoch(), days, "{date}");
        }
    }
}
