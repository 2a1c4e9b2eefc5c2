//! The `time_zone` setting: an IANA zone name (`Asia/Shanghai`) or a fixed offset in the forms
//! Java's `TimeZone.getTimeZone` accepts (`GMT+8`, `GMT+08:00`, `UTC-05:30`), so connector files
//! keep working. Unknown names are rejected, never mapped silently to GMT as Java does.

use std::fmt;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub fn parse(text: &str) -> Option<Zone> {
        let text = text.trim();
        // Lambda and POSIX write `TZ=:UTC`; the colon means "a zone file name" and is not part of it.
        let text = text.strip_prefix(':').unwrap_or(text);
        if let Ok(tz) = text.parse::<chrono_tz::Tz>() {
            return Some(Zone::Named(tz));
        }
        parse_fixed(text).map(Zone::Fixed)
    }

    /// The wall-clock time of `instant` in this zone.
    pub fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Named(tz) => instant.with_timezone(tz).naive_local(),
            Zone::Fixed(off) => instant.with_timezone(off).naive_local(),
        }
    }

    /// The instant of a wall-clock time in this zone. In a DST overlap the earlier instant is
    /// taken and a time inside a DST gap moves forward by the gap, as java.time does.
    pub fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        fn pick<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> Option<DateTime<Utc>> {
            match zone.from_local_datetime(&local) {
                LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(early, _) => Some(early.with_timezone(&Utc)),
                LocalResult::None => {
                    // java.time reads a wall-clock time inside a gap with the offset in force
                    // just before the gap, which moves it forward by the gap's length.
                    (1..=24 * 4).find_map(|quarter| {
                        let before = local - chrono::Duration::minutes(15 * quarter);
                        zone.from_local_datetime(&before).latest().map(|t| {
                            let offset = t.offset().fix().local_minus_utc();
                            (local - chrono::Duration::seconds(i64::from(offset))).and_utc()
                        })
                    })
                }
            }
        }
        match self {
            Zone::Named(tz) => pick(tz, local),
            Zone::Fixed(off) => pick(off, local),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Fixed(off) => write!(f, "{off}"),
        }
    }
}

/// `GMT+8`, `GMT+08`, `GMT+08:00`, `GMT+0800`, `UTC-5`, and the same without the prefix.
fn parse_fixed(text: &str) -> Option<FixedOffset> {
    let rest = ["GMT", "UTC", "UT"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2 => (h, m),
        Some(_) => return None,
        None => match digits.len() {
            1 | 2 => (digits, "0"),
            4 => (&digits[..2], &digits[2..]),
            _ => return None,
        },
    };
    if !hours
        .bytes()
        .chain(minutes.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if h > 18 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn parses_names_and_offsets() {
        assert_eq!(
            Zone::parse("Asia/Shanghai").unwrap().to_string(),
            "Asia/Shanghai"
        );
        assert_eq!(Zone::parse(":UTC").unwrap().to_string(), "UTC");
        assert_eq!(Zone::parse("GMT+8").unwrap().to_string(), "+08:00");
        assert_eq!(Zone::parse("GMT-05:30").unwrap().to_string(), "-05:30");
        assert_eq!(Zone::parse("+0800").unwrap().to_string(), "+08:00");
        for bad in ["Mars/Olympus", "GMT+25", "GMT+8:0", "", "8"] {
            assert!(Zone::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_earlier() {
        let ny = Zone::parse("America/New_York").unwrap();
        let d = NaiveDate::from_ymd_opt(2024, 3, 10).unwrap();
        // 02:30 does not exist on 2024-03-10 in New York; java.time gives 03:30 EDT = 07:30Z.
        let gap = ny.instant(d.and_hms_opt(2, 30, 0).unwrap()).unwrap();
        assert_eq!(gap.to_rfc3339(), "2024-03-10T07:30:00+00:00");
        let d = NaiveDate::from_ymd_opt(2024, 11, 3).unwrap();
        let overlap = ny.instant(d.and_hms_opt(1, 30, 0).unwrap()).unwrap();
        assert_eq!(overlap.to_rfc3339(), "2024-11-03T05:30:00+00:00");
    }
}
