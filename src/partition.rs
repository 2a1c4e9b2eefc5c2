//! The partition column's value (`pt`): the window (day, hour or minute) that contains the
//! chosen instant, written in `time_zone` in the connector's legacy `MM-dd-yyyy HH:mm` style or,
//! with `use_new_partition_format`, the sortable `yyyy-MM-dd HH:mm` style.
//!
//! The window is the wall-clock prefix of the local time, so DST days need no fixed-length
//! arithmetic: the calendar decides.

use chrono::{DateTime, TimeZone, Utc};
use maxcompute_tunnel::PartitionSpec;
use maxcompute_tunnel::PartitionSpecError;

use crate::config::{PartitionConfig, TimeSource, WindowType};
use crate::event::KafkaRecord;
use crate::zone::Zone;

#[derive(Debug, Clone)]
pub struct Partitioner {
    column: String,
    window: WindowType,
    zone: Zone,
    new_format: bool,
    time_source: TimeSource,
}

/// The partition column cannot name a partition in a tunnel partition spec.
#[derive(Debug, thiserror::Error)]
#[error("partition_column {column:?} cannot be used in a partition spec: {source}")]
pub struct PartitionColumnError {
    pub column: String,
    #[source]
    pub source: PartitionSpecError,
}

impl Partitioner {
    /// Checks once that the column and the format make valid partition specs, so that
    /// [`spec`](Self::spec) cannot fail on any record.
    pub fn new(config: &PartitionConfig) -> Result<Self, PartitionColumnError> {
        let partitioner = Partitioner {
            column: config.column.clone(),
            window: config.window,
            zone: config.zone,
            new_format: config.new_format,
            time_source: config.time_source,
        };
        let probe = partitioner.value_at(DateTime::UNIX_EPOCH);
        PartitionSpec::new([(config.column.as_str(), probe)]).map_err(|source| {
            PartitionColumnError {
                column: config.column.clone(),
                source,
            }
        })?;
        Ok(partitioner)
    }

    /// The partition spec of `value`, a value this partitioner produced.
    pub fn spec(&self, value: &str) -> PartitionSpec {
        // Every value is a date and time written with digits, `-`, `+`, ` ` and `:` only, never
        // the `,` or `=` a spec cannot carry, and `new` checked the column with such a value.
        PartitionSpec::new([(self.column.as_str(), value)])
            .expect("partition values never contain `,` or `=`, and the column was checked")
    }

    /// The value for `record` in an invocation that started at `invocation_start`. With the
    /// record time source, a record without a usable timestamp (the trigger sends -1 or none
    /// for old message formats) falls back to the invocation start.
    pub fn value_for(&self, record: &KafkaRecord, invocation_start: DateTime<Utc>) -> String {
        let instant = match self.time_source {
            TimeSource::Processing => invocation_start,
            TimeSource::Record => record
                .timestamp
                .filter(|ms| *ms >= 0)
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .unwrap_or(invocation_start),
        };
        self.value_at(instant)
    }

    /// The value of the window containing `instant`.
    pub fn value_at(&self, instant: DateTime<Utc>) -> String {
        let local = self.zone.local(instant);
        let pattern = match (self.new_format, self.window) {
            (false, WindowType::Day) => "%m-%d-%Y",
            (false, WindowType::Hour) => "%m-%d-%Y %H",
            (false, WindowType::Minute) => "%m-%d-%Y %H:%M",
            (true, WindowType::Day) => "%Y-%m-%d",
            (true, WindowType::Hour) => "%Y-%m-%d %H",
            (true, WindowType::Minute) => "%Y-%m-%d %H:%M",
        };
        local.format(pattern).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitioner(
        window: WindowType,
        zone: &str,
        new_format: bool,
        source: TimeSource,
    ) -> Partitioner {
        Partitioner::new(&PartitionConfig {
            column: "pt".into(),
            window,
            zone: Zone::parse(zone).unwrap(),
            new_format,
            time_source: source,
        })
        .unwrap()
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn legacy_and_new_formats_for_each_window() {
        // 2023-07-13 21:13:45 in Shanghai, the seed document's example minute.
        let t = at("2023-07-13T13:13:45Z");
        let cases = [
            (WindowType::Day, false, "07-13-2023"),
            (WindowType::Hour, false, "07-13-2023 21"),
            (WindowType::Minute, false, "07-13-2023 21:13"),
            (WindowType::Day, true, "2023-07-13"),
            (WindowType::Hour, true, "2023-07-13 21"),
            (WindowType::Minute, true, "2023-07-13 21:13"),
        ];
        for (window, new_format, expected) in cases {
            let p = partitioner(window, "Asia/Shanghai", new_format, TimeSource::Processing);
            assert_eq!(p.value_at(t), expected, "{window:?} new={new_format}");
        }
    }

    #[test]
    fn zone_moves_the_day_and_uses_a_24_hour_clock() {
        let t = at("2023-07-13T16:10:00Z");
        assert_eq!(
            partitioner(
                WindowType::Minute,
                "Asia/Shanghai",
                false,
                TimeSource::Processing
            )
            .value_at(t),
            "07-14-2023 00:10"
        );
        assert_eq!(
            partitioner(WindowType::Minute, "UTC", false, TimeSource::Processing).value_at(t),
            "07-13-2023 16:10"
        );
        assert_eq!(
            partitioner(WindowType::Hour, "GMT-5", true, TimeSource::Processing).value_at(t),
            "2023-07-13 11"
        );
    }

    #[test]
    fn dst_fall_back_hour_repeats_by_wall_clock() {
        let p = partitioner(
            WindowType::Hour,
            "America/New_York",
            true,
            TimeSource::Processing,
        );
        // 2024-11-03: 01:xx happens twice (EDT then EST); both are the local window 01.
        assert_eq!(p.value_at(at("2024-11-03T05:30:00Z")), "2024-11-03 01");
        assert_eq!(p.value_at(at("2024-11-03T06:30:00Z")), "2024-11-03 01");
        assert_eq!(p.value_at(at("2024-11-03T07:30:00Z")), "2024-11-03 02");
        // Spring forward: 01:59 EST is followed by 03:00 EDT.
        assert_eq!(p.value_at(at("2024-03-10T06:59:00Z")), "2024-03-10 01");
        assert_eq!(p.value_at(at("2024-03-10T07:00:00Z")), "2024-03-10 03");
    }

    #[test]
    fn processing_versus_record_time() {
        let record: KafkaRecord = serde_json::from_value(serde_json::json!({
            "topic": "t", "partition": 0, "offset": 1, "timestamp": 1_689_254_000_000_i64
        }))
        .unwrap();
        let now = at("2024-01-01T00:00:00Z");
        let processing = partitioner(WindowType::Minute, "UTC", true, TimeSource::Processing);
        assert_eq!(processing.value_for(&record, now), "2024-01-01 00:00");
        let by_record = partitioner(WindowType::Minute, "UTC", true, TimeSource::Record);
        assert_eq!(by_record.value_for(&record, now), "2023-07-13 13:13");
        let mut no_ts = record.clone();
        no_ts.timestamp = Some(-1);
        assert_eq!(by_record.value_for(&no_ts, now), "2024-01-01 00:00");
    }

    #[test]
    fn a_column_that_cannot_name_a_partition_is_refused_once() {
        let config = |column: &str| PartitionConfig {
            column: column.into(),
            window: WindowType::Hour,
            zone: Zone::parse("UTC").unwrap(),
            new_format: true,
            time_source: TimeSource::Processing,
        };
        for bad in ["", "p=t", "a,b"] {
            let err = Partitioner::new(&config(bad)).unwrap_err();
            assert!(err.to_string().starts_with("partition_column"), "{err}");
        }
        let p = Partitioner::new(&config("ds")).unwrap();
        assert_eq!(p.spec("2024-01-01 05").to_string(), "ds=2024-01-01 05");
    }

    proptest::proptest! {
        /// `spec` cannot fail: every instant chrono can hold, in every window, zone and format,
        /// gives a value a spec can carry.
        #[test]
        fn every_value_makes_a_spec(
            ms in proptest::num::i64::ANY,
            window in proptest::sample::select(vec![WindowType::Day, WindowType::Hour, WindowType::Minute]),
            zone in proptest::sample::select(vec!["UTC", "Asia/Shanghai", "America/New_York", "GMT-12", "+1400"]),
            new_format in proptest::bool::ANY,
        ) {
            let p = partitioner(window, zone, new_format, TimeSource::Record);
            let record: KafkaRecord = serde_json::from_value(serde_json::json!({
                "topic": "t", "partition": 0, "offset": 1, "timestamp": ms
            }))
            .unwrap();
            let value = p.value_for(&record, at("2024-01-01T00:00:00Z"));
            proptest::prop_assert!(PartitionSpec::new([("pt", value.as_str())]).is_ok(), "{}", value);
        }
    }
}
