//! Report periods: local dates in a time zone turned into UTC instants (docs/domain.md, invariant 5).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{ApiError, ApiResult};

/// An IANA time zone name (every one chrono-tz knows), for the OpenAPI document.
pub struct TimeZoneName;

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("IANA time zone, e.g. Asia/Shanghai"))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .into()
    }
}

impl utoipa::ToSchema for TimeZoneName {}

pub fn parse_tz(tz: Option<&str>, default: Tz) -> ApiResult<Tz> {
    match tz {
        None | Some("") => Ok(default),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            ApiError::bad(
                "invalid_value",
                format!("tz `{name}` is not an IANA time zone"),
            )
        }),
    }
}

pub fn parse_date(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::bad(
            "invalid_value",
            format!("{field} must be a date YYYY-MM-DD"),
        )
    })
}

/// The first instant of local day `d` (the earliest one if midnight repeats, the first after a gap).
pub fn day_start(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// `[from 00:00, to + 1 day 00:00)` in `tz`, as UTC; `to` is inclusive.
pub fn range(from: NaiveDate, to: NaiveDate, tz: Tz) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    if to < from {
        return Err(ApiError::bad("invalid_value", "to is before from"));
    }
    let next = to
        .succ_opt()
        .ok_or_else(|| ApiError::bad("invalid_value", "to is out of range"))?;
    Ok((day_start(from, tz), day_start(next, tz)))
}

/// Does `tz` keep whole-hour UTC offsets throughout `[start, end)`? Hourly rollup buckets map exactly onto
/// local days only then.
pub fn whole_hour_offsets(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    use chrono::Offset;
    let mut t = start;
    loop {
        let off = tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc();
        if off % 3600 != 0 {
            return false;
        }
        if t >= end {
            return true;
        }
        t = (t + Duration::hours(12)).min(end);
    }
}
