//! Turning what was said into a calendar instant: which Friday "next Friday" is, the next
//! "Feb 29" that exists, "at 9" in the morning or the evening, and times a DST change skips.

use jiff::ToSpan;
use jiff::Zoned;
use jiff::civil::{Date, Time, Weekday};

#[derive(Clone, Copy, Debug)]
pub(super) enum Day {
    /// Days from today: "tomorrow" is 1.
    Offset(i32),
    Weekday(Weekday, Which),
    /// A calendar date; without a year, the next time that date exists.
    Date {
        year: Option<i16>,
        month: i8,
        day: i8,
    },
    /// "on the 31st": the next month that has that day.
    Nth(i8),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Which {
    /// "Friday", "this Friday": today counts.
    Coming,
    /// "next Friday": strictly after today, so on a Friday it is a week away.
    Next,
    Last,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct ClockTime {
    pub(super) hour: i8,
    pub(super) minute: i8,
    /// "at 9": 9:00 or 21:00, whichever comes first.
    pub(super) ambiguous: bool,
    pub(super) minutes_written: bool,
}

pub(super) fn resolve_day(day: Day, today: Date) -> Option<Date> {
    match day {
        Day::Offset(n) => today.checked_add(n.days()).ok(),
        Day::Weekday(wd, which) => {
            let ahead = i64::from((wd.to_monday_zero_offset() - today.weekday().to_monday_zero_offset()).rem_euclid(7));
            let n = match which {
                Which::Coming => ahead,
                Which::Next if ahead == 0 => 7,
                Which::Next => ahead,
                Which::Last if ahead == 0 => -7,
                Which::Last => ahead - 7,
            };
            today.checked_add(n.days()).ok()
        }
        // A date that does not exist ("Feb 29, 2027") is not quietly moved to another.
        Day::Date {
            year: Some(y),
            month,
            day,
        } => Date::new(y, month, day).ok(),
        // "Feb 29" in 2026 is 2028-02-29, the next one there is.
        Day::Date { year: None, month, day } => (0..=8).find_map(|k| {
            Date::new(today.year().checked_add(k)?, month, day)
                .ok()
                .filter(|d| *d >= today)
        }),
        // "on the 31st" in November is December 31st.
        Day::Nth(day) => (0..=12).find_map(|k| {
            let month = today.first_of_month().checked_add(k.months()).ok()?;
            Date::new(month.year(), month.month(), day).ok().filter(|d| *d >= today)
        }),
    }
}

/// The instant `t` on `date`, or, without a date, its next occurrence. An ambiguous hour is
/// whichever of its two readings comes first after now. A time that a DST change skips
/// ("2:30" on the spring-forward night) moves forward by the gap; one that occurs twice is
/// the first.
pub(super) fn at_time(date: Option<Date>, t: ClockTime, now: &Zoned) -> Option<Zoned> {
    let hours: &[i8] = if t.ambiguous && t.hour < 12 {
        &[t.hour, t.hour + 12]
    } else {
        &[t.hour]
    };
    let on = |d: Date, h: i8| {
        let time = Time::new(h, t.minute, 0, 0).ok()?;
        d.to_datetime(time).to_zoned(now.time_zone().clone()).ok()
    };
    let today = now.date();
    let future = |z: &Zoned| z.timestamp() > now.timestamp();
    match date {
        Some(d) if d == today => hours
            .iter()
            .filter_map(|h| on(d, *h))
            .find(future)
            .or_else(|| on(d, hours[0])),
        Some(d) => on(d, hours[0]),
        None => hours
            .iter()
            .filter_map(|h| on(today, *h))
            .find(future)
            .or_else(|| on(today.tomorrow().ok()?, hours[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn dt(text: &str, ctx: &super::super::EntityContext) -> (String, String) {
        let v = one(text, ctx, "datetime");
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        (s("value"), s("grain"))
    }

    // The reference "now" is Friday 2026-11-20, 10:00.

    #[test]
    fn calendar_dates_leap_days_and_short_months() {
        let c = ctx_in("Europe/Berlin", "en");
        assert_eq!(dt("Dec 24", &c).0, "2026-12-24T00:00:00+01:00");
        assert_eq!(dt("24th of December", &c).0, "2026-12-24T00:00:00+01:00");
        assert_eq!(dt("March 3rd", &c).0, "2027-03-03T00:00:00+01:00");
        assert_eq!(dt("2027-01-15", &c).0, "2027-01-15T00:00:00+01:00");
        // No Feb 29 in 2027: the next one is in 2028, a leap year.
        assert_eq!(dt("Feb 29", &c).0, "2028-02-29T00:00:00+01:00");
        assert_eq!(dt("February 29, 2028", &c).0, "2028-02-29T00:00:00+01:00");
        assert!(
            found("Feb 29, 2027", &c, "datetime")
                .iter()
                .all(|(raw, _)| raw != "Feb 29, 2027")
        );
        // November has 30 days: "the 31st" is in December.
        assert_eq!(dt("on the 31st", &c).0, "2026-12-31T00:00:00+01:00");
        assert_eq!(dt("the 20th", &c).0, "2026-11-20T00:00:00+01:00");
        assert_eq!(dt("the 5th", &c).0, "2026-12-05T00:00:00+01:00");
        let leap = at("2028-02-28T12:00", "Europe/Berlin", "en");
        assert_eq!(dt("tomorrow", &leap).0, "2028-02-29T00:00:00+01:00");
        assert_eq!(dt("in 2 days", &leap).0, "2028-03-01T00:00:00+01:00");
    }

    #[test]
    fn dst_changes() {
        // Berlin springs forward on 2027-03-28: 02:30 does not exist that night.
        let before = at("2027-03-27T12:00", "Europe/Berlin", "en");
        assert_eq!(dt("tomorrow at 2:30am", &before).0, "2027-03-28T03:30:00+02:00");
        assert_eq!(dt("tomorrow at 5pm", &before).0, "2027-03-28T17:00:00+02:00");
        // 24 hours after Saturday noon is Sunday 13:00 on the clock.
        assert_eq!(dt("in 24 hours", &before).0, "2027-03-28T13:00:00+02:00");
        // New York falls back on 2026-11-01: 01:30 happens twice, the first is taken.
        let ny = at("2026-10-31T12:00", "America/New_York", "en");
        assert_eq!(dt("tomorrow at 1:30am", &ny).0, "2026-11-01T01:30:00-04:00");
        assert_eq!(dt("tomorrow at 5pm", &ny).0, "2026-11-01T17:00:00-05:00");
    }
}
