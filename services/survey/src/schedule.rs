//! When to ask: after the configured delay, never inside the customer's quiet hours; and the clock the
//! worker reads, injectable so tests can move time by days without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::settings::QuietHours;

/// The worker's notion of now. Production reads the system clock; tests hold a manual one.
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn manual(at: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Clock::Manual(t) = self {
            *t.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
    }

    pub fn advance(&self, by: Duration) {
        let now = self.now();
        self.set(now + by);
    }
}

impl QuietHours {
    /// Whether `at` falls inside quiet hours (`[start, end)` in local time, wrapping past midnight).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).time();
        if self.start == self.end {
            return false;
        }
        if self.start < self.end {
            local >= self.start && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// The first instant at or after `at` outside quiet hours: `at` itself, or the end of the quiet
    /// period it falls in.
    pub fn next_allowed(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if !self.contains(at) {
            return at;
        }
        let local = at.with_timezone(&self.tz);
        let today = local.date_naive();
        // Inside a wrapping window the end is today if we are past midnight, else tomorrow.
        let end_day = if self.start > self.end && local.time() >= self.start {
            today.succ_opt().unwrap_or(today)
        } else {
            today
        };
        self.local_instant(end_day, self.end).max(at)
    }

    /// `day` at `time` in the quiet-hours zone; a time skipped by a DST jump maps to the first valid
    /// instant after it.
    fn local_instant(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let naive = day.and_time(time);
        let mut probe = naive;
        for _ in 0..=24 * 4 {
            match self.tz.from_local_datetime(&probe) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(early, _) => return early.with_timezone(&Utc),
                LocalResult::None => probe += Duration::minutes(15),
            }
        }
        Utc.from_utc_datetime(&naive)
    }
}

/// When the first request goes out for a ticket resolved at `resolved_at`, processed at `now`: the delay
/// after resolution (or now, if that has passed), moved out of quiet hours.
pub fn send_time(
    quiet: &QuietHours,
    delay: Duration,
    resolved_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    quiet.next_allowed((resolved_at + delay).max(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: (u32, u32), end: (u32, u32), tz: chrono_tz::Tz) -> QuietHours {
        QuietHours {
            start: NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap(),
            end: NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap(),
            tz,
        }
    }

    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn daytime_is_allowed_as_is() {
        let q = quiet((21, 0), (9, 0), chrono_tz::Asia::Shanghai);
        assert_eq!(q.next_allowed(sh(2026, 3, 2, 14, 0)), sh(2026, 3, 2, 14, 0));
        assert_eq!(q.next_allowed(sh(2026, 3, 2, 9, 0)), sh(2026, 3, 2, 9, 0));
        assert_eq!(
            q.next_allowed(sh(2026, 3, 2, 20, 59)),
            sh(2026, 3, 2, 20, 59)
        );
    }

    #[test]
    fn evening_moves_to_next_morning_and_night_to_this_morning() {
        let q = quiet((21, 0), (9, 0), chrono_tz::Asia::Shanghai);
        assert_eq!(q.next_allowed(sh(2026, 3, 2, 21, 0)), sh(2026, 3, 3, 9, 0));
        assert_eq!(q.next_allowed(sh(2026, 3, 2, 23, 30)), sh(2026, 3, 3, 9, 0));
        assert_eq!(q.next_allowed(sh(2026, 3, 3, 2, 15)), sh(2026, 3, 3, 9, 0));
        // Month end.
        assert_eq!(q.next_allowed(sh(2026, 3, 31, 22, 0)), sh(2026, 4, 1, 9, 0));
    }

    #[test]
    fn non_wrapping_window() {
        let q = quiet((12, 0), (14, 0), chrono_tz::UTC);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 12, 30, 0).unwrap();
        assert_eq!(
            q.next_allowed(t),
            Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()
        );
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 11, 0, 0).unwrap();
        assert_eq!(q.next_allowed(t), t);
    }

    #[test]
    fn empty_window_never_defers() {
        let q = quiet((9, 0), (9, 0), chrono_tz::UTC);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        assert_eq!(q.next_allowed(t), t);
    }

    #[test]
    fn dst_gap_moves_to_the_first_valid_instant() {
        // New York skips 02:00–03:00 on 2026-03-08; quiet hours ending 02:30 end at 03:00 local.
        let q = quiet((23, 0), (2, 30), chrono_tz::America::New_York);
        let t = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 3, 8, 1, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let expected = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 3, 8, 3, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(q.next_allowed(t), expected);
    }

    #[test]
    fn send_time_respects_delay_lateness_and_quiet_hours() {
        let q = quiet((21, 0), (9, 0), chrono_tz::Asia::Shanghai);
        let delay = Duration::hours(2);
        // Resolved 10:00 → 12:00.
        assert_eq!(
            send_time(&q, delay, sh(2026, 3, 2, 10, 0), sh(2026, 3, 2, 10, 0)),
            sh(2026, 3, 2, 12, 0)
        );
        // Resolved 20:00 → 22:00 is quiet → 09:00 next day, within 24 h.
        let resolved = sh(2026, 3, 2, 20, 0);
        let at = send_time(&q, delay, resolved, resolved);
        assert_eq!(at, sh(2026, 3, 3, 9, 0));
        assert!(at - resolved <= Duration::hours(24));
        // Processed late (worker was down): as soon as allowed, never in the past.
        assert_eq!(
            send_time(&q, delay, sh(2026, 3, 2, 10, 0), sh(2026, 3, 2, 15, 0)),
            sh(2026, 3, 2, 15, 0)
        );
    }

    #[test]
    fn manual_clock_moves() {
        let c = Clock::manual(sh(2026, 3, 2, 10, 0));
        c.advance(Duration::hours(3));
        assert_eq!(c.now(), sh(2026, 3, 2, 13, 0));
    }
}
