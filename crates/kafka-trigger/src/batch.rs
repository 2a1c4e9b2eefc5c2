//! Gathers records into one event while tracking its exact JSON size, so that an event never
//! exceeds the payload cap and no record is lost when the cap is reached.

use crate::event::{EventRecord, KafkaEvent};

/// Why a record was not added. The caller keeps the record for the next batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The batch already holds `batch_size` records.
    Full,
    /// Adding the record would take the event past the payload cap.
    TooBig { event_size_with_record: usize },
}

/// A record handed back by [`BatchBuilder::try_add`], with the reason.
#[derive(Debug)]
pub struct Refused {
    pub record: EventRecord,
    pub reason: Rejected,
}

pub struct BatchBuilder {
    event: KafkaEvent,
    batch_size: usize,
    cap: usize,
    size: usize,
}

impl BatchBuilder {
    pub fn new(empty: KafkaEvent, batch_size: usize, cap: usize) -> BatchBuilder {
        let size = json_len(&empty);
        BatchBuilder {
            event: empty,
            batch_size,
            cap,
            size,
        }
    }

    pub fn len(&self) -> usize {
        self.event.record_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The serialized size of the event as it stands.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Adds `record` if the batch has room for it, or hands it back with the reason.
    pub fn try_add(&mut self, record: EventRecord) -> Result<(), Box<Refused>> {
        if self.len() >= self.batch_size {
            return Err(Box::new(Refused {
                record,
                reason: Rejected::Full,
            }));
        }
        let key = record.group_key();
        let record_len = json_len(&record);
        // Bytes the record adds: itself, a comma inside an existing group; or, for a new group,
        // `"key":[...]` plus a comma if other groups exist.
        let added = match self.event.records.get(&key) {
            Some(_) => record_len + 1,
            None => {
                let separator = usize::from(!self.event.records.is_empty());
                json_len(&key) + 1 + 2 + record_len + separator
            }
        };
        let event_size_with_record = self.size + added;
        if event_size_with_record > self.cap {
            return Err(Box::new(Refused {
                record,
                reason: Rejected::TooBig {
                    event_size_with_record,
                },
            }));
        }
        self.event.records.entry(key).or_default().push(record);
        self.size = event_size_with_record;
        Ok(())
    }

    pub fn finish(self) -> KafkaEvent {
        self.event
    }
}

fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no floats.
    serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EventSource;
    use crate::event::Header;

    fn record(topic: &str, partition: i32, offset: i64, value_len: usize) -> EventRecord {
        EventRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp: 1_764_000_000_000 + offset,
            timestamp_type: "CREATE_TIME",
            key: (offset % 2 == 0).then(|| format!("k{offset}")),
            value: Some("v".repeat(value_len)),
            headers: vec![Header::new("h", &[0xff, 1, 2])],
        }
    }

    fn empty() -> KafkaEvent {
        KafkaEvent::empty(&EventSource::SelfManaged, "127.0.0.1:1")
    }

    #[test]
    fn tracked_size_is_the_serialized_size() {
        let mut builder = BatchBuilder::new(empty(), 100, usize::MAX);
        for (i, (topic, partition)) in [("a", 0), ("a", 1), ("a", 0), ("a-0", 0), ("b", 7)]
            .iter()
            .enumerate()
        {
            builder
                .try_add(record(topic, *partition, i as i64, i * 13))
                .unwrap();
            let size = builder.size();
            let event = builder.finish();
            assert_eq!(size, serde_json::to_vec(&event).unwrap().len());
            builder = BatchBuilder::new(empty(), 100, usize::MAX);
            for group in event.records.into_values() {
                for r in group {
                    builder.try_add(r).unwrap();
                }
            }
        }
        assert_eq!(builder.len(), 5);
    }

    #[test]
    fn batch_size_caps_records() {
        let mut builder = BatchBuilder::new(empty(), 2, usize::MAX);
        builder.try_add(record("t", 0, 0, 1)).unwrap();
        builder.try_add(record("t", 1, 0, 1)).unwrap();
        let refused = builder.try_add(record("t", 0, 1, 1)).unwrap_err();
        assert_eq!(refused.reason, Rejected::Full);
        assert_eq!(refused.record.offset, 1);
        assert_eq!(builder.finish().record_count(), 2);
    }

    #[test]
    fn payload_cap_is_never_exceeded_at_lambda_scale() {
        // 1 MiB values become about 1.33 MiB of base64 text each: four fit under 6 MiB, five do not.
        let cap = crate::config::LAMBDA_MAX_PAYLOAD_BYTES;
        let mut builder = BatchBuilder::new(empty(), 10_000, cap);
        let value_len = (1024 * 1024 * 4) / 3;
        let mut offset = 0;
        let rejected = loop {
            match builder.try_add(record("big", 0, offset, value_len)) {
                Ok(()) => offset += 1,
                Err(refused) => break refused,
            }
        };
        assert_eq!(builder.len(), 4);
        assert_eq!(
            rejected.record.offset, 4,
            "the rejected record is handed back intact"
        );
        assert!(
            matches!(rejected.reason, Rejected::TooBig { event_size_with_record } if event_size_with_record > cap)
        );
        let event = builder.finish();
        assert!(serde_json::to_vec(&event).unwrap().len() <= cap);
    }
}
