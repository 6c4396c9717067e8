//! The progress bar `local run` draws on a terminal: how many of the wave's items reached a final
//! state, from the `Migration Progress` events published so far.

use std::collections::HashSet;

use cloud_local::RecordedEvent;
use fleetshift_core::contract::{MigrationProgress, TaskRef};
use fleetshift_core::events;

/// Counts the distinct items of a wave (or of several) that reached a final state (COMPLETED or FAILED), reading
/// events one by one so that a long run need not read the same events again.
#[derive(Debug, Default)]
pub struct FinishedItems {
    waves: Vec<String>,
    finished: HashSet<(String, TaskRef)>,
    read: usize,
}

impl FinishedItems {
    pub fn new(wave_id: &str) -> Self {
        Self::for_waves([wave_id])
    }

    /// Counts the items of all these waves together.
    pub fn for_waves<'a>(wave_ids: impl IntoIterator<Item = &'a str>) -> Self {
        FinishedItems {
            waves: wave_ids.into_iter().map(str::to_owned).collect(),
            ..FinishedItems::default()
        }
    }

    /// Reads the events not read yet (`published` is every event so far, in order) and returns
    /// how many items have finished.
    pub fn update(&mut self, published: &[RecordedEvent]) -> usize {
        for e in published.iter().skip(self.read) {
            if e.detail_type != events::ITEM_PROGRESS {
                continue;
            }
            let Ok(d) = serde_json::from_str::<MigrationProgress>(&e.detail) else {
                continue;
            };
            if d.status.is_final() && self.waves.contains(&d.wave_id) {
                self.finished.insert((d.wave_id, d.task));
            }
        }
        self.read = self.read.max(published.len());
        self.finished.len()
    }
}

/// A progress bar line: `[█████░░░░░]  10/20 items finished  50%`, `width` cells wide.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let done = done.min(total);
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let digits = total.to_string().len();
    format!(
        "[{}{}] {done:>digits$}/{total} items finished {percent:>3}%",
        "█".repeat(filled),
        "░".repeat(width - filled),
    )
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::{Value, json};

    use super::*;

    fn event(detail_type: &str, detail: Value) -> RecordedEvent {
        RecordedEvent {
            event_id: String::new(),
            source: events::SOURCE.into(),
            detail_type: detail_type.into(),
            detail: detail.to_string(),
            resources: Vec::new(),
            event_bus_name: "default".into(),
            time: None,
            received_at: SystemTime::UNIX_EPOCH,
        }
    }

    fn progress_in(wave: &str, task: Value, status: &str, detail: &str) -> RecordedEvent {
        event(
            events::ITEM_PROGRESS,
            json!({"waveId": wave, "taskName": "task", "task": task, "status": status,
                "statusDetail": detail, "updatedAt": "2026-01-01T00:00:00Z", "hubStatus": "disabled"}),
        )
    }

    fn progress(task: Value, status: &str, detail: &str) -> RecordedEvent {
        progress_in("w1", task, status, detail)
    }

    #[test]
    fn counts_distinct_items_that_reached_a_final_state() {
        let ws = |id: &str| json!({"kind": "workspace", "id": id});
        let bot = json!({"kind": "lexBot", "id": "BookTrip", "version": "3"});
        let mut events = vec![
            progress(
                ws("ws-a00000001"),
                "IN_PROGRESS",
                "MigrateWorkspace requested",
            ),
            // An IN_PROGRESS detail that quotes a final state is not a final state.
            progress(
                ws("ws-b00000001"),
                "IN_PROGRESS",
                r#"was "COMPLETED" before"#,
            ),
            progress(ws("ws-a00000001"), "COMPLETED", "migrated to ws-new000001"),
            // The same item reported twice (a retried report) counts once.
            progress(ws("ws-a00000001"), "COMPLETED", "migrated to ws-new000001"),
            progress(bot.clone(), "FAILED", "LexV1Unavailable"),
            // Another wave's items, and other event types, do not count.
            progress_in("w2", ws("ws-c00000001"), "COMPLETED", "migrated"),
            event(
                events::WAVE_FINISHED,
                json!({"waveId": "w1", "status": "COMPLETED"}),
            ),
        ];
        let mut finished = FinishedItems::new("w1");
        assert_eq!(finished.update(&events), 2);
        // Only the new events are read; what was counted stays counted.
        events.push(progress(ws("ws-b00000001"), "FAILED", "gone"));
        assert_eq!(finished.update(&events), 3);
        assert_eq!(finished.update(&events), 3);
        // Counted for both waves, w2's item too; the same item id in two waves is two items.
        events.push(progress_in(
            "w2",
            ws("ws-a00000001"),
            "COMPLETED",
            "migrated",
        ));
        assert_eq!(FinishedItems::for_waves(["w1", "w2"]).update(&events), 5);
    }

    #[test]
    fn draws_a_bar_of_fixed_width() {
        assert_eq!(bar(0, 20, 10), "[░░░░░░░░░░]  0/20 items finished   0%");
        assert_eq!(bar(10, 20, 10), "[█████░░░░░] 10/20 items finished  50%");
        assert_eq!(bar(20, 20, 10), "[██████████] 20/20 items finished 100%");
        // Never past full, even if more items than planned reported.
        assert_eq!(bar(25, 20, 10), bar(20, 20, 10));
        assert_eq!(bar(1, 3, 6), "[██░░░░] 1/3 items finished  33%");
    }
}
