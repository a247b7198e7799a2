//! Calendar arithmetic and RFC 3339 formatting without chrono, because the
//! monitor that links the writer must stay small.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds and nanoseconds since the epoch. Seconds are floored, so the
/// nanoseconds are always in `0..1e9`, also before 1970.
pub(crate) fn to_unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// The inverse of [`to_unix`]; `None` beyond what `SystemTime` holds.
#[cfg_attr(not(feature = "reader"), allow(dead_code))]
pub(crate) fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    t?.checked_add(Duration::from_nanos(nanos.into()))
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01,
/// in the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // 0..=11, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction.
    (year, month as u32, day as u32)
}

/// Days since 1970-01-01 of a civil date; the inverse of [`civil_from_days`].
#[cfg_attr(not(feature = "reader"), allow(dead_code))]
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar year of a Unix time, for Docker's year range check.
pub(crate) fn year_of(secs: i64) -> i64 {
    civil_from_days(secs.div_euclid(86_400)).0
}

/// Appends a UTC time in Go's `RFC3339Nano` layout (`fixed == false`:
/// fraction trimmed of trailing zeros, omitted when zero, as json-file
/// stores it) or `RFC3339NanoFixed` (`fixed == true`: always nine digits,
/// as `docker logs -t` prints it).
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, secs: i64, nanos: u32, fixed: bool) {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    if year < 0 {
        out.push(b'-');
    }
    push_padded(out, year.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, month.into(), 2);
    out.push(b'-');
    push_padded(out, day.into(), 2);
    out.push(b'T');
    push_padded(out, (sod / 3600).unsigned_abs(), 2);
    out.push(b':');
    push_padded(out, (sod / 60 % 60).unsigned_abs(), 2);
    out.push(b':');
    push_padded(out, (sod % 60).unsigned_abs(), 2);
    if fixed || nanos != 0 {
        let start = out.len();
        out.push(b'.');
        push_padded(out, nanos.into(), 9);
        if !fixed {
            while out.last() == Some(&b'0') {
                out.pop();
            }
            if out.len() == start + 1 {
                out.pop();
            }
        }
    }
    out.push(b'Z');
}

/// Decimal digits of `v`, zero-padded to at least `width`.
fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = v;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in n..width {
        out.push(b'0');
    }
    out.extend(digits[..n].iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn civil_matches_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        // Every day from 1600 to 2500 covers all leap-year rules; some
        // far-away days cover eras and negative years.
        let far = [
            -1_000_000i64,
            -719_468,
            -719_469,
            2_932_896,
            2_932_897,
            10_000_000,
        ];
        for days in (-135_140i64..193_000).chain(far) {
            let d = epoch + chrono::Duration::days(days);
            let want = (i64::from(d.year()), d.month(), d.day());
            assert_eq!(civil_from_days(days), want, "days {days}");
            assert_eq!(days_from_civil(want.0, want.1, want.2), days);
        }
    }

    #[test]
    fn unix_round_trip() {
        for (s, n) in [
            (0, 0),
            (1, 5),
            (-1, 999_999_999),
            (-1, 0),
            (1_700_000_000, 123),
        ] {
            assert_eq!(to_unix(from_unix(s, n).unwrap()), (s, n));
        }
    }

    fn fmt(secs: i64, nanos: u32, fixed: bool) -> String {
        let mut v = Vec::new();
        push_rfc3339(&mut v, secs, nanos, fixed);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn rfc3339_like_go() {
        assert_eq!(fmt(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(fmt(0, 0, true), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            fmt(1_700_000_000, 120_000_000, false),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            fmt(1_700_000_000, 120_000_000, true),
            "2023-11-14T22:13:20.120000000Z"
        );
        assert_eq!(
            fmt(1_700_000_000, 1, false),
            "2023-11-14T22:13:20.000000001Z"
        );
        assert_eq!(
            fmt(-1, 999_999_999, false),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(fmt(253_402_300_799, 0, false), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn format_matches_chrono() {
        for i in 0..20_000i64 {
            let secs = -5_000_000_000 + i * 12_345_679;
            let nanos = (i as u32).wrapping_mul(2_654_435_761) % 1_000_000_000;
            let c = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
            let want = c.format("%Y-%m-%dT%H:%M:%S.%9fZ").to_string();
            assert_eq!(fmt(secs, nanos, true), want);
        }
    }
}
