//! The one line a wave's end is summarised in (the `cause` of `Wave Finished`, of the execution's
//! output and of its `WaveFailed` failure), e.g.
//! `3 of 50 WorkSpaces and 1 of 2 bots failed: ws-..: cause; ...`.

use fleetshift_core::contract::{BotResult, CaughtError, Cause, Status, WorkspaceResult};

use crate::finish::Reconciled;
use crate::truncate_chars;

/// Failures listed by name in the summary; the rest are counted.
const SUMMARY_LISTED_FAILURES: usize = 10;
/// Longest cause quoted per failure in the summary, in characters.
const SUMMARY_CAUSE_CHARS: usize = 200;

/// A COMPLETED WorkSpace whose standby was not created, and why.
pub(crate) type StandbyFailure<'a> = (&'a WorkspaceResult, Vec<Cause>);

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_owned()
    } else {
        many.to_owned()
    }
}

/// One line for an operator, e.g. `3 of 50 WorkSpaces and 1 of 2 bots failed: ws-..: cause; ...`,
/// followed by the standby failures, results for items not in the plan and unreadable results.
pub(crate) fn summary(
    ws: &Reconciled<WorkspaceResult>,
    bots: &Reconciled<BotResult>,
    standby_failures: &[StandbyFailure<'_>],
) -> String {
    let (wt, bt) = (ws.planned, bots.planned);
    let ws_word = plural(wt, "WorkSpace", "WorkSpaces");
    let bot_word = plural(bt, "bot", "bots");
    let reason = |c: Option<&str>| {
        truncate_chars(c.unwrap_or("no cause reported"), SUMMARY_CAUSE_CHARS)
            .replace(['\n', '\r'], " ")
    };
    let ws_name = |w: &WorkspaceResult| {
        format!(
            "{}: {}",
            w.source_workspace_id,
            reason(w.shown_cause().as_deref())
        )
    };
    let bot_name = |b: &BotResult| {
        format!(
            "{}:{}: {}",
            b.v1_bot_name,
            b.v1_bot_version,
            reason(b.shown_cause().as_deref())
        )
    };
    let failed = |planned: bool, s: Status| planned && s != Status::Completed;
    let named: Vec<String> = ws
        .rows
        .iter()
        .filter(|(w, p)| failed(*p, w.status))
        .map(|(w, _)| ws_name(w))
        .chain(
            bots.rows
                .iter()
                .filter(|(b, p)| failed(*p, b.status))
                .map(|(b, _)| bot_name(b)),
        )
        .collect();

    let mut sections = Vec::new();
    if ws.planned_failed == 0 && bots.planned_failed == 0 {
        sections.push(match (wt, bt) {
            (0, 0) => "the wave had no items".to_owned(),
            (w, 0) => format!("all {w} {ws_word} completed"),
            (0, b) => format!("all {b} {bot_word} completed"),
            (w, b) => format!("all {w} {ws_word} and {b} {bot_word} completed"),
        });
    } else {
        let mut head = Vec::new();
        if wt > 0 {
            head.push(format!("{} of {wt} {ws_word}", ws.planned_failed));
        }
        if bt > 0 {
            head.push(format!("{} of {bt} {bot_word}", bots.planned_failed));
        }
        sections.push(format!("{} failed: {}", head.join(" and "), listed(&named)));
    }
    if !standby_failures.is_empty() {
        let n = standby_failures.len();
        let named: Vec<String> = standby_failures
            .iter()
            .map(|(w, causes)| {
                let why: Vec<String> = causes.iter().map(ToString::to_string).collect();
                format!(
                    "{}: {}",
                    w.source_workspace_id,
                    reason(Some(&why.join(", ")))
                )
            })
            .collect();
        sections.push(format!(
            "{n} {} failed: {}",
            plural(n, "standby", "standbys"),
            listed(&named)
        ));
    }
    let unplanned: Vec<String> = ws
        .unplanned()
        .map(|w| format!("{} {}", w.source_workspace_id, w.status))
        .chain(
            bots.unplanned()
                .map(|b| format!("{}:{} {}", b.v1_bot_name, b.v1_bot_version, b.status)),
        )
        .collect();
    if !unplanned.is_empty() {
        let n = unplanned.len();
        sections.push(format!(
            "{n} {} for items not in the plan: {}",
            plural(n, "result", "results"),
            listed(&unplanned)
        ));
    }
    let unreadable: Vec<String> = ws
        .unreadable
        .iter()
        .chain(&bots.unreadable)
        .map(|v| match serde_json::from_value::<CaughtError>(v.clone()) {
            Ok(caught) => reason(Some(&caught.to_cause().to_string())),
            Err(_) => truncate_chars(&v.to_string(), SUMMARY_CAUSE_CHARS),
        })
        .collect();
    if !unreadable.is_empty() {
        let n = unreadable.len();
        sections.push(format!(
            "{n} {} not an item result: {}",
            plural(n, "result was", "results were"),
            listed(&unreadable)
        ));
    }
    // Sections end with a period; the lists inside them use semicolons.
    sections
        .iter()
        .map(|s| s.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(". ")
}

/// The first few of `named`, then how many more.
fn listed(named: &[String]) -> String {
    let mut line = named
        .iter()
        .take(SUMMARY_LISTED_FAILURES)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if named.len() > SUMMARY_LISTED_FAILURES {
        line.push_str(&format!(
            "; and {} more",
            named.len() - SUMMARY_LISTED_FAILURES
        ));
    }
    line
}
