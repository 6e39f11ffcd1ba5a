//! Business-hours calendars: which instants count as working time for a department.
//!
//! SLA targets are promises in *business* time ("2 working hours"), so a deadline is found by walking
//! forward through the department's open spans, day by day, in the department's own time zone. A
//! calendar is weekly hours per weekday, minus dated holidays, plus dated make-up working days
//! (Chinese public holidays move weekend days around, e.g. Sunday 2026-09-20 is a working day so that
//! 1–7 October can be a week off), or simply open 24×7.
//!
//! Everything stored or exchanged is UTC (docs/domain.md, invariant 5); local wall-clock time exists only inside
//! this module. Daylight-saving edges are resolved deterministically:
//! - a local time that occurs twice (autumn) maps to its *first* occurrence, for span starts and ends
//!   alike, so adjacent spans never overlap and a whole day still sums to its real length (25 h);
//! - a local time that never occurs (spring gap) maps to the end of the gap, so a span inside the gap
//!   is empty and a span across it is shortened by the skipped hour.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// Seconds in a (wall-clock) day; a span may end at 24:00.
const DAY_SECS: u32 = 86_400;

/// Dates before and after the calendar's creation whose opening spans are kept as UTC instants.
/// Tickets are timed around the present, so nearly every deadline falls in this window; a date
/// outside it is converted when asked, as every date was before the table.
const TABLE_DAYS_BEFORE: i64 = 366;
const TABLE_DAYS_AFTER: i64 = 5 * 366;

/// One opening span as instants: `[open, close)`.
type UtcSpan = (DateTime<Utc>, DateTime<Utc>);

/// Why a calendar definition was rejected. Raised at config load, never while timing a ticket.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalendarError {
    #[error("calendar `{calendar}`: bad opening hours `{value}`: {reason}")]
    BadSpan {
        calendar: String,
        value: String,
        reason: &'static str,
    },
    #[error(
        "calendar `{calendar}`: bad date `{value}` (want YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)"
    )]
    BadDate { calendar: String, value: String },
    #[error(
        "calendar `{calendar}`: {date} is listed both as a holiday and as a make-up working day"
    )]
    HolidayAndWorkday { calendar: String, date: NaiveDate },
    #[error(
        "calendar `{calendar}`: no opening hours on any weekday; use always_open = true for 24x7"
    )]
    NeverOpen { calendar: String },
    #[error("calendar `{calendar}`: unknown holiday set `{set}`")]
    UnknownHolidaySet { calendar: String, set: String },
    #[error("calendar `{calendar}`: unknown time zone `{value}`")]
    BadTimeZone { calendar: String, value: String },
}

/// One opening span inside a local day, in seconds after local midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Parses `HH:MM-HH:MM` (end may be `24:00`), e.g. `09:00-18:00`.
    fn parse(calendar: &str, value: &str) -> Result<Self, CalendarError> {
        let bad = |reason| CalendarError::BadSpan {
            calendar: calendar.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let (a, b) = value
            .split_once('-')
            .ok_or_else(|| bad("want HH:MM-HH:MM"))?;
        let start = parse_hhmm(a.trim()).ok_or_else(|| bad("start is not HH:MM"))?;
        let end = parse_hhmm(b.trim()).ok_or_else(|| bad("end is not HH:MM"))?;
        if start >= end {
            return Err(bad(
                "start must be before end (split a span that crosses midnight)",
            ));
        }
        Ok(Span { start, end })
    }
}

/// `HH:MM` to seconds after midnight; `24:00` is allowed as an end of day.
fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 3600 + m * 60)
}

/// Parses and checks a day's spans: sorted, non-overlapping.
fn parse_day(calendar: &str, values: &[String]) -> Result<Vec<Span>, CalendarError> {
    let mut spans = values
        .iter()
        .map(|v| Span::parse(calendar, v))
        .collect::<Result<Vec<_>, _>>()?;
    spans.sort_by_key(|s| s.start);
    for pair in spans.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(CalendarError::BadSpan {
                calendar: calendar.to_owned(),
                value: values.join(", "),
                reason: "spans overlap",
            });
        }
    }
    Ok(spans)
}

/// Parses `YYYY-MM-DD` or an inclusive range `YYYY-MM-DD..YYYY-MM-DD` into dates.
fn parse_dates(
    calendar: &str,
    value: &str,
    into: &mut BTreeSet<NaiveDate>,
) -> Result<(), CalendarError> {
    let bad = || CalendarError::BadDate {
        calendar: calendar.to_owned(),
        value: value.to_owned(),
    };
    let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad());
    match value.split_once("..") {
        None => {
            into.insert(day(value)?);
        }
        Some((a, b)) => {
            let (first, last) = (day(a)?, day(b.trim_start_matches('='))?);
            if last < first || (last - first).num_days() > 366 {
                return Err(bad());
            }
            into.extend(first.iter_days().take_while(|d| *d <= last));
        }
    }
    Ok(())
}

/// Weekly opening hours as written in config: each weekday a list of `HH:MM-HH:MM` spans.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHoursConfig {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

/// A named list of public holidays and make-up working days (e.g. one per country and year), so many
/// department calendars can share the State Council's yearly notice instead of copying it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySetConfig {
    /// Dates off although they fall on a weekday with hours (`YYYY-MM-DD` or `A..B` inclusive).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Dates worked although they fall on a weekend (调休上班).
    #[serde(default)]
    pub makeup_workdays: Vec<String>,
}

/// A department calendar as written in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA zone name; docs/domain.md's default is Asia/Shanghai.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// 24×7: business time equals elapsed time; weekly hours and holidays are ignored.
    #[serde(default)]
    pub always_open: bool,
    #[serde(default)]
    pub weekly: WeeklyHoursConfig,
    /// Hours on make-up working days; defaults to Monday's hours.
    #[serde(default)]
    pub workday_hours: Option<Vec<String>>,
    /// Names of shared holiday sets to apply.
    #[serde(default)]
    pub holiday_sets: Vec<String>,
    /// Calendar-specific holidays, on top of the sets.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Calendar-specific make-up working days, on top of the sets.
    #[serde(default)]
    pub makeup_workdays: Vec<String>,
}

fn default_time_zone() -> String {
    "Asia/Shanghai".to_owned()
}

/// A validated business-hours calendar. Cheap to query; built once at config load.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Zone the weekly hours and dates are written in.
    tz: Tz,
    /// 24×7 calendars skip all span arithmetic.
    always_open: bool,
    /// Opening spans per weekday, Monday first.
    weekly: [Vec<Span>; 7],
    /// Opening spans on make-up working days.
    workday_hours: Vec<Span>,
    holidays: BTreeSet<NaiveDate>,
    makeup_workdays: BTreeSet<NaiveDate>,
    /// The opening spans of the dates around the calendar's creation, already converted to UTC.
    /// Converting a local time is a search through the zone's transitions, and walking a deadline
    /// forward converts two per span per day: for the SLA worker that was most of its own CPU.
    table: Arc<SpanTable>,
}

/// Opening spans as UTC instants for a run of consecutive dates (a [`Calendar`]'s `table`).
#[derive(Default)]
struct SpanTable {
    first: Option<NaiveDate>,
    /// The spans of date `first + i` are `spans[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    spans: Vec<UtcSpan>,
}

/// A calendar's debug output names the table's dates, not its thousands of spans.
impl std::fmt::Debug for SpanTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanTable")
            .field("first", &self.first)
            .field("days", &self.starts.len().saturating_sub(1))
            .finish()
    }
}

impl SpanTable {
    /// The table of `days` dates from `first`, each converted by `convert`.
    fn build(
        first: NaiveDate,
        days: i64,
        mut convert: impl FnMut(NaiveDate) -> Vec<UtcSpan>,
    ) -> Self {
        let mut table = SpanTable {
            first: Some(first),
            starts: vec![0],
            spans: Vec::new(),
        };
        let mut date = first;
        for _ in 0..days {
            table.spans.extend(convert(date));
            table.starts.push(table.spans.len());
            date = match date.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        table
    }

    /// The spans of `date`, if the table holds it.
    fn get(&self, date: NaiveDate) -> Option<&[UtcSpan]> {
        let i = usize::try_from((date - self.first?).num_days()).ok()?;
        let (start, end) = (*self.starts.get(i)?, *self.starts.get(i + 1)?);
        Some(&self.spans[start..end])
    }
}

impl Calendar {
    /// A 24×7 calendar: business time is elapsed time. Also the measure for wall-clock targets.
    pub fn always_open(tz: Tz) -> Self {
        Calendar {
            tz,
            always_open: true,
            weekly: Default::default(),
            workday_hours: Vec::new(),
            holidays: BTreeSet::new(),
            makeup_workdays: BTreeSet::new(),
            table: Arc::default(),
        }
    }

    /// Builds and validates a calendar; `sets` resolves the names in `holiday_sets`.
    pub fn from_config(
        name: &str,
        cfg: &CalendarConfig,
        sets: &std::collections::BTreeMap<String, HolidaySetConfig>,
    ) -> Result<Self, CalendarError> {
        let tz: Tz = cfg
            .time_zone
            .parse()
            .map_err(|_| CalendarError::BadTimeZone {
                calendar: name.to_owned(),
                value: cfg.time_zone.clone(),
            })?;
        if cfg.always_open {
            return Ok(Calendar::always_open(tz));
        }
        let w = &cfg.weekly;
        let weekly = [
            parse_day(name, &w.mon)?,
            parse_day(name, &w.tue)?,
            parse_day(name, &w.wed)?,
            parse_day(name, &w.thu)?,
            parse_day(name, &w.fri)?,
            parse_day(name, &w.sat)?,
            parse_day(name, &w.sun)?,
        ];
        if weekly.iter().all(Vec::is_empty) {
            return Err(CalendarError::NeverOpen {
                calendar: name.to_owned(),
            });
        }
        let workday_hours = match &cfg.workday_hours {
            Some(v) => parse_day(name, v)?,
            None => weekly[0].clone(),
        };
        let mut holidays = BTreeSet::new();
        let mut makeup_workdays = BTreeSet::new();
        for set_name in &cfg.holiday_sets {
            let set = sets
                .get(set_name)
                .ok_or_else(|| CalendarError::UnknownHolidaySet {
                    calendar: name.to_owned(),
                    set: set_name.clone(),
                })?;
            for d in &set.holidays {
                parse_dates(name, d, &mut holidays)?;
            }
            for d in &set.makeup_workdays {
                parse_dates(name, d, &mut makeup_workdays)?;
            }
        }
        for d in &cfg.holidays {
            parse_dates(name, d, &mut holidays)?;
        }
        for d in &cfg.makeup_workdays {
            parse_dates(name, d, &mut makeup_workdays)?;
        }
        if let Some(date) = holidays.intersection(&makeup_workdays).next() {
            return Err(CalendarError::HolidayAndWorkday {
                calendar: name.to_owned(),
                date: *date,
            });
        }
        let mut calendar = Calendar {
            tz,
            always_open: false,
            weekly,
            workday_hours,
            holidays,
            makeup_workdays,
            table: Arc::default(),
        };
        let today = Utc::now().date_naive();
        let first = today - Duration::days(TABLE_DAYS_BEFORE);
        calendar.table = Arc::new(SpanTable::build(
            first,
            TABLE_DAYS_BEFORE + TABLE_DAYS_AFTER,
            |date| calendar.convert_spans(date).collect(),
        ));
        Ok(calendar)
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Whether this calendar is open around the clock.
    pub fn is_always_open(&self) -> bool {
        self.always_open
    }

    /// Local opening spans of a date, after holidays and make-up days.
    fn local_spans(&self, date: NaiveDate) -> &[Span] {
        if self.holidays.contains(&date) {
            &[]
        } else if self.makeup_workdays.contains(&date) {
            &self.workday_hours
        } else {
            &self.weekly[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// A local wall-clock time as an instant, resolving DST edges as the module doc describes.
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // Inside a spring-forward gap: the first existing minute is the gap's end (every
                // real zone transition is minute-aligned, and no gap lasts longer than a day).
                let mut probe = local.with_second(0).unwrap_or(local);
                for _ in 0..(24 * 60) {
                    probe += Duration::minutes(1);
                    if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                        return t.with_timezone(&Utc);
                    }
                }
                // Unreachable for real zone data; fall back to reading the time as UTC.
                Utc.from_utc_datetime(&local)
            }
        }
    }

    /// Opening spans of a local date as UTC instants, in order, empty spans dropped: from the table
    /// when it holds the date, converted otherwise.
    fn utc_spans(&self, date: NaiveDate) -> Cow<'_, [UtcSpan]> {
        match self.table.get(date) {
            Some(spans) => Cow::Borrowed(spans),
            None => Cow::Owned(self.convert_spans(date).collect()),
        }
    }

    /// Converts the opening spans of a local date to UTC instants, in order, empty spans dropped.
    fn convert_spans(&self, date: NaiveDate) -> impl Iterator<Item = UtcSpan> + '_ {
        self.local_spans(date).iter().filter_map(move |s| {
            let at = |secs: u32| {
                if secs >= DAY_SECS {
                    self.instant(date.succ_opt().unwrap_or(date).and_time(NaiveTime::MIN))
                } else {
                    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)
                        .unwrap_or(NaiveTime::MIN);
                    self.instant(date.and_time(t))
                }
            };
            let (a, b) = (at(s.start), at(s.end));
            (a < b).then_some((a, b))
        })
    }

    /// The local date to start a forward walk from. One day early, because in zones that move the
    /// clock back across midnight an instant's local date can lag the day whose spans contain it.
    fn walk_start(&self, t: DateTime<Utc>) -> NaiveDate {
        let d = t.with_timezone(&self.tz).date_naive();
        d.pred_opt().unwrap_or(d)
    }

    /// The instant at which `dur` of business time has elapsed after `start`.
    ///
    /// `dur <= 0` returns `start` (nothing has to elapse). Terminates because a calendar is open on
    /// at least one weekday and holidays are a finite list.
    pub fn add_business_duration(&self, start: DateTime<Utc>, dur: Duration) -> DateTime<Utc> {
        if dur <= Duration::zero() {
            return start;
        }
        if self.always_open {
            return start + dur;
        }
        let mut remaining = dur;
        let mut date = self.walk_start(start);
        loop {
            for &(a, b) in self.utc_spans(date).iter() {
                if b <= start {
                    continue;
                }
                let from = a.max(start);
                let avail = b - from;
                if remaining <= avail {
                    return from + remaining;
                }
                remaining -= avail;
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => return DateTime::<Utc>::MAX_UTC,
            };
        }
    }

    /// Business time inside `[a, b)`; zero when `b <= a`.
    pub fn business_duration_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        if self.always_open {
            return b - a;
        }
        let last = b.with_timezone(&self.tz).date_naive();
        let mut total = Duration::zero();
        let mut date = self.walk_start(a);
        while date <= last {
            for &(s, e) in self.utc_spans(date).iter() {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    total += e - s;
                }
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        total
    }

    /// The first instant at or after `t` that lies in business hours; `t` itself when open.
    /// Used to hold a people-facing reminder until the department is at work.
    pub fn next_business_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.always_open {
            return t;
        }
        let mut date = self.walk_start(t);
        loop {
            for &(a, b) in self.utc_spans(date).iter() {
                if b > t {
                    return a.max(t);
                }
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => return DateTime::<Utc>::MAX_UTC,
            };
        }
    }

    /// Whether `t` lies in business hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.next_business_instant(t) == t
    }

    /// Whether the given local date is a working day (has opening hours), for reports and tests.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.always_open || !self.local_spans(date).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn weekdays(hours: &[&str]) -> WeeklyHoursConfig {
        let v: Vec<String> = hours.iter().map(|s| s.to_string()).collect();
        WeeklyHoursConfig {
            mon: v.clone(),
            tue: v.clone(),
            wed: v.clone(),
            thu: v.clone(),
            fri: v,
            sat: vec![],
            sun: vec![],
        }
    }

    fn cfg(tz: &str, hours: &[&str]) -> CalendarConfig {
        CalendarConfig {
            time_zone: tz.to_owned(),
            always_open: false,
            weekly: weekdays(hours),
            workday_hours: None,
            holiday_sets: vec![],
            holidays: vec![],
            makeup_workdays: vec![],
        }
    }

    fn build(c: &CalendarConfig) -> Calendar {
        Calendar::from_config("t", c, &BTreeMap::new()).expect("valid calendar")
    }

    /// Local time in the calendar's zone to UTC, for readable assertions.
    fn local(cal: &Calendar, s: &str) -> DateTime<Utc> {
        let ndt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test literal");
        cal.tz
            .from_local_datetime(&ndt)
            .earliest()
            .expect("exists")
            .with_timezone(&Utc)
    }

    fn show(cal: &Calendar, t: DateTime<Utc>) -> String {
        t.with_timezone(&cal.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// Shanghai office hours with lunch break, plus the 2026 National Day / Mid-Autumn notice.
    fn shanghai_2026() -> Calendar {
        let mut sets = BTreeMap::new();
        sets.insert(
            "cn-2026".to_owned(),
            HolidaySetConfig {
                holidays: vec![
                    "2026-09-25..2026-09-27".into(),
                    "2026-10-01..2026-10-07".into(),
                ],
                makeup_workdays: vec!["2026-09-20".into(), "2026-10-10".into()],
            },
        );
        let mut c = cfg("Asia/Shanghai", &["09:00-12:00", "13:00-18:00"]);
        c.holiday_sets = vec!["cn-2026".into()];
        Calendar::from_config("cn", &c, &sets).expect("valid")
    }

    #[test]
    fn within_one_day() {
        let cal = build(&cfg("Asia/Shanghai", &["09:00-18:00"]));
        let t = local(&cal, "2026-11-23 10:00"); // Monday
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(2))),
            "2026-11-23 12:00"
        );
    }

    #[test]
    fn lunch_break_is_skipped() {
        let cal = shanghai_2026();
        let t = local(&cal, "2026-11-23 11:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(2))),
            "2026-11-23 14:00"
        );
        assert_eq!(
            cal.business_duration_between(t, local(&cal, "2026-11-23 14:00")),
            Duration::hours(2)
        );
    }

    #[test]
    fn friday_evening_rolls_over_the_weekend() {
        let cal = build(&cfg("Asia/Shanghai", &["09:00-18:00"]));
        let fri = local(&cal, "2026-11-27 17:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(fri, Duration::hours(2))),
            "2026-11-30 10:00"
        );
        // Started on Saturday: the clock only begins on Monday morning.
        let sat = local(&cal, "2026-11-28 15:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(sat, Duration::hours(2))),
            "2026-11-30 11:00"
        );
        assert_eq!(
            cal.business_duration_between(fri, local(&cal, "2026-11-30 10:00")),
            Duration::hours(2)
        );
    }

    #[test]
    fn exact_span_end_is_the_deadline_not_the_next_opening() {
        let cal = build(&cfg("Asia/Shanghai", &["09:00-18:00"]));
        let t = local(&cal, "2026-11-23 09:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(9))),
            "2026-11-23 18:00"
        );
    }

    #[test]
    fn multi_day_targets() {
        let cal = build(&cfg("Asia/Shanghai", &["09:00-18:00"]));
        // 24 business hours from Monday 09:00 = Mon 9h + Tue 9h + Wed 6h.
        let t = local(&cal, "2026-11-23 09:00");
        let due = cal.add_business_duration(t, Duration::hours(24));
        assert_eq!(show(&cal, due), "2026-11-25 15:00");
        assert_eq!(cal.business_duration_between(t, due), Duration::hours(24));
    }

    #[test]
    fn national_day_2026_with_makeup_days() {
        let cal = shanghai_2026();
        // Wednesday 30 Sept, 17:00, 2 h target: 1 h left that day, then 1–7 Oct off (and Thu/Fri
        // 8–9 Oct are normal workdays).
        let t = local(&cal, "2026-09-30 17:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(2))),
            "2026-10-08 10:00"
        );
        // Friday 9 Oct 17:00 + 2 h: Saturday 10 Oct is a make-up working day.
        let t = local(&cal, "2026-10-09 17:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(2))),
            "2026-10-10 10:00"
        );
        // Saturday 19 Sept 10:00: Sunday 20 Sept is worked, so the clock starts then.
        let t = local(&cal, "2026-09-19 10:00");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(1))),
            "2026-09-20 10:00"
        );
        // Mid-Autumn: Thursday 24 Sept 17:30 + 1 h → Monday 28 Sept 09:30 (25–27 off).
        let t = local(&cal, "2026-09-24 17:30");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(1))),
            "2026-09-28 09:30"
        );
        assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")));
        assert!(cal.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 10).expect("date")));
        // The whole holiday week holds zero business time.
        assert_eq!(
            cal.business_duration_between(
                local(&cal, "2026-10-01 00:00"),
                local(&cal, "2026-10-08 00:00")
            ),
            Duration::zero()
        );
    }

    #[test]
    fn berlin_spring_forward_day_is_23_hours() {
        let mut c = cfg("Europe/Berlin", &["00:00-24:00"]);
        c.weekly.sun = vec!["00:00-24:00".into()];
        let cal = build(&c);
        let start = local(&cal, "2026-03-29 00:00"); // Sunday, 02:00 → 03:00
        let end = local(&cal, "2026-03-30 00:00");
        assert_eq!(
            cal.business_duration_between(start, end),
            Duration::hours(23)
        );
        // 3 business hours from midnight end at 04:00 local: the 02:00 hour does not exist.
        assert_eq!(
            show(&cal, cal.add_business_duration(start, Duration::hours(3))),
            "2026-03-29 04:00"
        );
    }

    #[test]
    fn berlin_fall_back_day_is_25_hours() {
        let mut c = cfg("Europe/Berlin", &["00:00-24:00"]);
        c.weekly.sun = vec!["00:00-24:00".into()];
        let cal = build(&c);
        let start = local(&cal, "2026-10-25 00:00"); // Sunday, 03:00 → 02:00
        let end = local(&cal, "2026-10-26 00:00");
        assert_eq!(
            cal.business_duration_between(start, end),
            Duration::hours(25)
        );
        // 4 business hours from midnight: the 02:00 hour happens twice, so 03:00 local.
        assert_eq!(
            show(&cal, cal.add_business_duration(start, Duration::hours(4))),
            "2026-10-25 03:00"
        );
    }

    #[test]
    fn new_york_office_hours_keep_local_time_across_dst() {
        let cal = build(&cfg("America/New_York", &["09:00-17:00"]));
        // Friday 6 March 16:00 EST + 2 h → Monday 9 March 10:00 EDT (DST began Sunday 8 March).
        let t = local(&cal, "2026-03-06 16:00");
        let due = cal.add_business_duration(t, Duration::hours(2));
        assert_eq!(show(&cal, due), "2026-03-09 10:00");
        assert_eq!(due.to_rfc3339(), "2026-03-09T14:00:00+00:00");
        // Elapsed wall time is 65 h, not 66, but business time is still 2 h.
        assert_eq!(due - t, Duration::hours(65));
        assert_eq!(cal.business_duration_between(t, due), Duration::hours(2));
        // And back in November.
        let t = local(&cal, "2026-10-30 16:30");
        assert_eq!(
            show(&cal, cal.add_business_duration(t, Duration::hours(1))),
            "2026-11-02 09:30"
        );
    }

    #[test]
    fn span_inside_spring_gap_is_empty() {
        let mut c = cfg("Europe/Berlin", &["09:00-17:00"]);
        c.weekly.sun = vec!["02:00-03:00".into(), "10:00-11:00".into()];
        let cal = build(&c);
        let sun = local(&cal, "2026-03-29 00:00");
        assert_eq!(
            cal.business_duration_between(sun, local(&cal, "2026-03-30 00:00")),
            Duration::hours(1)
        );
    }

    #[test]
    fn next_business_instant_and_is_open() {
        let cal = shanghai_2026();
        let night = local(&cal, "2026-11-23 23:30");
        assert_eq!(
            show(&cal, cal.next_business_instant(night)),
            "2026-11-24 09:00"
        );
        let lunch = local(&cal, "2026-11-24 12:15");
        assert_eq!(
            show(&cal, cal.next_business_instant(lunch)),
            "2026-11-24 13:00"
        );
        let open = local(&cal, "2026-11-24 10:00");
        assert!(cal.is_open(open));
        assert!(!cal.is_open(lunch));
        // 18:00 is the end of the day, not inside it.
        assert!(!cal.is_open(local(&cal, "2026-11-24 18:00")));
        assert_eq!(
            show(
                &cal,
                cal.next_business_instant(local(&cal, "2026-09-30 18:00"))
            ),
            "2026-10-08 09:00"
        );
    }

    #[test]
    fn always_open_is_wall_time() {
        let cal = Calendar::always_open(chrono_tz::Asia::Shanghai);
        let t = Utc
            .with_ymd_and_hms(2026, 10, 1, 3, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            cal.add_business_duration(t, Duration::hours(24)),
            t + Duration::hours(24)
        );
        assert_eq!(
            cal.business_duration_between(t, t + Duration::minutes(5)),
            Duration::minutes(5)
        );
        assert!(cal.is_open(t));
    }

    #[test]
    fn the_span_table_gives_what_converting_each_date_gives() {
        // Both Berlin DST edges, a make-up Sunday and a holiday Monday, walked across the table's
        // first and last dates.
        let mut c = cfg("Europe/Berlin", &["08:00-12:00", "13:00-24:00"]);
        c.makeup_workdays = vec!["2026-10-25".into()];
        c.holidays = vec!["2026-10-26".into()];
        let mut tabled = build(&c);
        let mut converted = tabled.clone();
        converted.table = Arc::default();
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        tabled.table = Arc::new(SpanTable::build(first, 300, |d| {
            converted.convert_spans(d).collect()
        }));
        for day in -5..310 {
            let date = first + Duration::days(day);
            assert_eq!(
                tabled.utc_spans(date),
                converted.utc_spans(date),
                "spans of {date}"
            );
        }
        let mut t = local(&tabled, "2026-02-20 07:00");
        while t < local(&tabled, "2027-01-05 00:00") {
            for h in [1, 9, 30] {
                let dur = Duration::hours(h);
                assert_eq!(
                    tabled.add_business_duration(t, dur),
                    converted.add_business_duration(t, dur)
                );
                assert_eq!(
                    tabled.business_duration_between(t, t + dur * 3),
                    converted.business_duration_between(t, t + dur * 3)
                );
            }
            t += Duration::minutes(437);
        }
    }

    #[test]
    fn add_and_between_agree_on_many_points() {
        let cal = shanghai_2026();
        let base = local(&cal, "2026-09-18 07:13");
        for i in 0..200 {
            let start = base + Duration::minutes(97 * i);
            let dur = Duration::minutes(13 * (i % 50) + 1);
            let due = cal.add_business_duration(start, dur);
            assert_eq!(
                cal.business_duration_between(start, due),
                dur,
                "start {start} dur {dur}"
            );
            assert!(
                cal.is_open(due - Duration::seconds(1)) || cal.is_open(due),
                "due {due}"
            );
        }
    }

    #[test]
    fn zero_and_negative_durations() {
        let cal = shanghai_2026();
        let t = local(&cal, "2026-11-23 23:00");
        assert_eq!(cal.add_business_duration(t, Duration::zero()), t);
        assert_eq!(
            cal.business_duration_between(t, t - Duration::hours(1)),
            Duration::zero()
        );
    }

    #[test]
    fn rejects_bad_definitions() {
        let none = BTreeMap::new();
        let mut c = cfg("Asia/Shanghai", &["18:00-09:00"]);
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::BadSpan { .. })
        ));
        c = cfg("Asia/Shanghai", &["09:00-13:00", "12:00-18:00"]);
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::BadSpan { .. })
        ));
        c = cfg("Asia/Shanghai", &["25:00-26:00"]);
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::BadSpan { .. })
        ));
        c = cfg("Mars/Olympus", &["09:00-18:00"]);
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::BadTimeZone { .. })
        ));
        c = cfg("Asia/Shanghai", &[]);
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::NeverOpen { .. })
        ));
        c = cfg("Asia/Shanghai", &["09:00-18:00"]);
        c.holidays = vec!["2026-13-01".into()];
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::BadDate { .. })
        ));
        c.holidays = vec!["2026-10-01".into()];
        c.makeup_workdays = vec!["2026-10-01".into()];
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::HolidayAndWorkday { .. })
        ));
        c.makeup_workdays = vec![];
        c.holiday_sets = vec!["nope".into()];
        assert!(matches!(
            Calendar::from_config("x", &c, &none),
            Err(CalendarError::UnknownHolidaySet { .. })
        ));
    }
}
