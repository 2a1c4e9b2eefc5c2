//! Which records of a batch are finished (delivered, written to the on-failure destination, or
//! discarded), and so which offsets may be committed: per partition, only past the longest run
//! of finished records from the start of the batch. A record that is still failing therefore
//! holds back its own partition, never the others, and nothing at or after it is committed.

use std::collections::BTreeMap;

use crate::event::EventRecord;

#[derive(Debug, Default)]
struct Partition {
    /// The batch's offsets of this partition, ascending, each with whether it is finished.
    records: Vec<(i64, bool)>,
    /// The next offset last committed, if any commit happened in this batch.
    committed: Option<i64>,
}

impl Partition {
    /// The offset after the finished prefix, `None` while the first record is unfinished.
    fn frontier(&self) -> Option<i64> {
        let finished = self.records.iter().take_while(|(_, done)| *done).count();
        finished.checked_sub(1).map(|last| self.records[last].0 + 1)
    }
}

#[derive(Debug, Default)]
pub struct Progress {
    partitions: BTreeMap<(String, i32), Partition>,
}

impl Progress {
    pub fn new<'a>(records: impl IntoIterator<Item = &'a EventRecord>) -> Progress {
        let mut progress = Progress::default();
        for record in records {
            progress
                .partitions
                .entry((record.topic.clone(), record.partition))
                .or_default()
                .records
                .push((record.offset, false));
        }
        for partition in progress.partitions.values_mut() {
            partition.records.sort_unstable();
        }
        progress
    }

    pub fn finish(&mut self, record: &EventRecord) {
        if let Some(partition) = self
            .partitions
            .get_mut(&(record.topic.clone(), record.partition))
        {
            if let Ok(at) = partition
                .records
                .binary_search_by_key(&record.offset, |(offset, _)| *offset)
            {
                partition.records[at].1 = true;
            }
        }
    }

    /// The (topic, partition, next offset) that moved since the last call, to be committed now;
    /// they count as committed from here on.
    pub fn to_commit(&mut self) -> Vec<(String, i32, i64)> {
        let mut moved = Vec::new();
        for ((topic, partition), state) in &mut self.partitions {
            if let Some(next) = state.frontier().filter(|n| Some(*n) > state.committed) {
                state.committed = Some(next);
                moved.push((topic.clone(), *partition, next));
            }
        }
        moved
    }

    /// Every partition's committed next offset so far, sorted.
    pub fn committed(&self) -> Vec<(String, i32, i64)> {
        self.partitions
            .iter()
            .filter_map(|((topic, partition), state)| {
                state
                    .committed
                    .map(|next| (topic.clone(), *partition, next))
            })
            .collect()
    }

    pub fn all_finished(&self) -> bool {
        self.partitions
            .values()
            .all(|p| p.records.iter().all(|(_, done)| *done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, partition: i32, offset: i64) -> EventRecord {
        EventRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp: 0,
            timestamp_type: "CREATE_TIME",
            key: None,
            value: None,
            headers: vec![],
        }
    }

    #[test]
    fn commits_move_only_past_the_finished_prefix_of_each_partition() {
        let records: Vec<EventRecord> = [("a", 0, 5), ("a", 0, 6), ("a", 0, 7), ("b", 3, 0)]
            .iter()
            .map(|(t, p, o)| record(t, *p, *o))
            .collect();
        let mut progress = Progress::new(&records);
        assert!(progress.to_commit().is_empty());

        // A later record finished first holds nothing: its partition waits for offset 5.
        progress.finish(&records[1]);
        progress.finish(&records[3]);
        assert_eq!(progress.to_commit(), vec![("b".to_string(), 3, 1)]);
        assert!(progress.to_commit().is_empty(), "nothing moved since");

        progress.finish(&records[0]);
        assert_eq!(progress.to_commit(), vec![("a".to_string(), 0, 7)]);
        assert!(!progress.all_finished());

        progress.finish(&records[2]);
        assert_eq!(progress.to_commit(), vec![("a".to_string(), 0, 8)]);
        assert!(progress.all_finished());
        assert_eq!(
            progress.committed(),
            vec![("a".to_string(), 0, 8), ("b".to_string(), 3, 1)]
        );
    }

    #[test]
    fn records_outside_the_batch_are_ignored() {
        let records = vec![record("a", 0, 1)];
        let mut progress = Progress::new(&records);
        progress.finish(&record("a", 0, 2));
        progress.finish(&record("z", 0, 1));
        assert!(progress.to_commit().is_empty());
    }
}
