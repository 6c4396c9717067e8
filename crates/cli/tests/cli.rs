//! The `fleetshift` binary as an operator runs it: the README's commands, from the workspace root,
//! with the committed examples. Exit statuses: 0 every item completed, 1 the wave ran and
//! something did not, 2 bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The workspace root: the README's commands name paths from there.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn fleetshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetshift"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("fleetshift runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The WorkSpace ids examples/wave.json plans.
fn planned_workspaces() -> Vec<String> {
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/wave.json")).expect("examples/wave.json"),
    )
    .expect("the example plan is JSON");
    plan["workspaces"]
        .as_array()
        .expect("workspaces")
        .iter()
        .map(|w| w["workspaceId"].as_str().expect("an id").to_owned())
        .collect()
}

#[test]
fn the_readme_first_command_runs_the_example_wave_green() {
    let out = fleetshift(&["local", "run", "examples/wave.json"]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    assert!(
        text.starts_with("Wave wave-2026-11-finance: SUCCEEDED after "),
        "{text}"
    );
    assert!(text.contains("WorkSpaces: 20 of 20 completed"), "{text}");
    assert!(text.contains("Lex bots: 2 of 2 completed"), "{text}");
    assert!(text.contains("Migration Hub tasks: 22"), "{text}");
    // One table row per WorkSpace: old id -> new id, COMPLETED, a standby unless the plan says no.
    for id in planned_workspaces() {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&id))
            .unwrap_or_else(|| panic!("no row for {id} in\n{text}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "->", "{row}");
        assert!(cells[2].starts_with("ws-"), "{row}");
        assert_eq!(cells[3], "COMPLETED", "{row}");
    }
    // Not a terminal: no progress bar, nothing at all on stderr.
    assert_eq!(err, "");
}

#[test]
fn json_to_stdout_parses_and_lists_every_workspace() {
    let out = fleetshift(&["local", "run", "examples/wave.json", "--json", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is only the JSON report");
    assert_eq!(report["status"], "SUCCEEDED");
    let rows = report["workspaces"].as_array().expect("workspaces");
    let mut listed: Vec<&str> = rows
        .iter()
        .map(|r| r["sourceWorkspaceId"].as_str().expect("an id"))
        .collect();
    listed.sort_unstable();
    let mut planned = planned_workspaces();
    planned.sort_unstable();
    assert_eq!(listed, planned);
    for r in rows {
        assert_eq!(r["status"], "COMPLETED", "{r}");
        assert!(
            r["targetWorkspaceId"]
                .as_str()
                .is_some_and(|t| t.starts_with("ws-"))
        );
        assert_eq!(r["readFrom"], "summary", "{r}");
    }
    assert_eq!(report["bots"].as_array().map(Vec::len), Some(2));
}

#[test]
fn the_flaky_scenario_exits_1_with_the_failures_in_the_table() {
    let out = fleetshift(&[
        "local",
        "run",
        "examples/wave.json",
        "--scenario",
        "examples/scenarios/flaky-migrations.json",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.starts_with("Wave wave-2026-11-finance: FAILED"),
        "{text}"
    );
    let row = |id: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id} in\n{text}"))
            .to_owned()
    };
    // ResourceUnavailable past the retries; never finished (the silent failure).
    assert!(row("ws-1a2b1eef").contains(" FAILED "), "{text}");
    assert!(row("ws-1a2b3dde").contains(" FAILED "), "{text}");
    // Refused twice, then migrated; its answer lost once, then followed: both COMPLETED.
    assert!(row("ws-1a2b0000").contains(" COMPLETED "), "{text}");
    assert!(row("ws-1a2b7bbc").contains(" COMPLETED "), "{text}");
    assert!(
        row("ws-1a2b5ccd").contains("FAILED StandbyFailed"),
        "{text}"
    );
}

#[test]
fn an_invalid_plan_exits_2_naming_the_field_and_runs_nothing() {
    let dir = std::env::temp_dir().join(format!("fleetshift-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("bad-plan.json");
    std::fs::write(
        &plan,
        r#"{"waveId": "bad", "bundleId": "wsb-target0001",
            "workspaces": [{"workspaceId": "ws-good00001"}, {"workspaceId": "WS-NOT-AN-ID"}]}"#,
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    for args in [
        vec!["local", "run", plan],
        vec!["local", "run", plan, "--json", "-"],
        vec!["plan", "check", plan],
    ] {
        let out = fleetshift(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid plan"), "{err}");
        assert!(err.contains("workspaces[1].workspaceId"), "{err}");
        assert!(!err.contains("workspaces[0]"), "{err}");
        // Nothing ran: no report.
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_plan_or_scenario_file_exits_2() {
    let out = fleetshift(&["local", "run", "examples/no-such-plan.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("examples/no-such-plan.json"),
        "{}",
        stderr(&out)
    );
    let out = fleetshift(&[
        "local",
        "run",
        "examples/wave.json",
        "--scenario",
        "examples/scenarios/no-such-scenario.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-such-scenario.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plan_check_prints_the_normalised_plan() {
    let out = fleetshift(&["plan", "check", "examples/wave.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("stdout is the plan as JSON");
    assert_eq!(plan["waveId"], "wave-2026-11-finance");
    assert_eq!(plan["maxConcurrency"], 10);
    assert_eq!(
        plan["workspaces"].as_array().map(Vec::len),
        Some(planned_workspaces().len())
    );
    // Normalised: the defaults are filled in.
    assert_eq!(plan["polling"]["migrationDeadlineMinutes"], 90);
    assert_eq!(plan["workspaces"][0]["bundleId"], "wsb-perf00001");
    assert_eq!(plan["workspaces"][3]["bundleId"], "wsb-perf00002");
    let err = stderr(&out);
    assert!(
        err.contains("plan wave-2026-11-finance is valid: execution name wave-2026-11-finance-"),
        "{err}"
    );
}

/// Each example scenario, run against examples/wave.json: the exit status it must give and lines
/// its report must hold.
const SCENARIOS: &[(&str, i32, &[&str])] = &[
    // ResourceUnavailable past the retries, a silent failure and a failed standby.
    (
        "flaky-migrations.json",
        1,
        &[
            "error: WaveFailed: 2 of 20 WorkSpaces",
            "WorkSpaces: 18 of 20 completed",
        ],
    ),
    // The bots fail (Lex V1 gone); the WorkSpaces complete without Migration Hub.
    (
        "hub-and-lex-gone.json",
        1,
        &[
            // Each bot's cause once: the service's code and the function's explanation.
            "BookTrip:3               -> -            FAILED       EndpointGone: Amazon Lex V1 stopped answering on 2025-09-15",
            "WorkSpaces: 20 of 20 completed",
            "Lex bots: 0 of 2",
            "Migration Hub: no tasks",
        ],
    ),
    // The image gate closes: nothing is migrated.
    (
        "image-import-error.json",
        1,
        &[
            "error: ImageImportNotReady",
            "WorkSpaces: 0 of 20 completed",
        ],
    ),
    // 30% of all calls throttled: the retries carry every item through.
    ("throttling.json", 0, &["WorkSpaces: 20 of 20 completed"]),
    // Slow answers (wall clock): the same green wave.
    ("latency.json", 0, &["WorkSpaces: 20 of 20 completed"]),
    // Migration Hub refuses every call: the wave degrades to events and completes.
    (
        "hub-access-denied.json",
        0,
        &["WorkSpaces: 20 of 20 completed", "Migration Hub: no tasks"],
    ),
    // BookTrip's Lex migration ends FAILED.
    (
        "lex-migration-failed.json",
        1,
        &[
            "Lex bots: 1 of 2 completed",
            "WorkSpaces: 20 of 20 completed",
        ],
    ),
    // EventBridge refuses the summary: the wave fails with SummaryNotPublished, and the report
    // still shows every item migrated (read from the execution history).
    (
        "summary-not-published.json",
        1,
        &[
            "error: SummaryNotPublished",
            "WorkSpaces: 20 of 20 completed",
            "Lex bots: 2 of 2 completed",
        ],
    ),
];

#[test]
fn every_example_scenario_gives_its_exit_status() {
    let dir = root().join("examples/scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/scenarios")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut known: Vec<String> = SCENARIOS.iter().map(|(f, ..)| (*f).to_owned()).collect();
    known.sort();
    assert_eq!(
        files, known,
        "every example scenario has an expected exit status here"
    );
    for (file, code, lines) in SCENARIOS {
        let path = format!("examples/scenarios/{file}");
        let out = fleetshift(&["local", "run", "examples/wave.json", "--scenario", &path]);
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{file}:\n{text}\n{}",
            stderr(&out)
        );
        assert!(
            text.starts_with("Wave wave-2026-11-finance: "),
            "{file}: {text}"
        );
        for line in *lines {
            assert!(text.contains(line), "{file}: no {line:?} in\n{text}");
        }
        assert!(
            !text.contains("NOT_STARTED") || *file == "image-import-error.json",
            "{file}: {text}"
        );
    }
}

#[test]
fn the_example_fleet_runs_the_example_wave_green() {
    let out = fleetshift(&[
        "local",
        "run",
        "examples/wave.json",
        "--fleet",
        "examples/fleet.json",
        "--json",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("the JSON report");
    let rows = report["workspaces"].as_array().expect("workspaces");
    assert_eq!(rows.len(), planned_workspaces().len());
    assert!(
        rows.iter().all(|r| r["status"] == "COMPLETED"),
        "{report:#}"
    );
    assert_eq!(report["hubTasks"].as_array().map(Vec::len), Some(22));
}

#[test]
fn a_fleet_file_is_the_whole_account() {
    // Without --fleet everything the plan names exists; with it, only what the file seeds: a
    // WorkSpace it does not have fails as WorkSpaces would fail it.
    let dir = std::env::temp_dir().join(format!("fleetshift-cli-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        r#"{"waveId": "fleet-check", "bundleId": "wsb-perf00001",
            "workspaces": [{"workspaceId": "ws-1a2b0000"}, {"workspaceId": "ws-notinfleet1"}]}"#,
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let out = fleetshift(&["local", "run", plan]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = fleetshift(&["local", "run", plan, "--fleet", "examples/fleet.json"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let row = |id: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id} in\n{text}"))
            .to_owned()
    };
    assert!(row("ws-1a2b0000").contains(" COMPLETED "), "{text}");
    let missing = row("ws-notinfleet1");
    assert!(missing.contains(" FAILED "), "{missing}");
    assert!(missing.contains("ResourceNotFound"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_wave_requested_example_carries_the_example_wave() {
    // The event the README delivers to start-wave: an EventBridge event whose detail is exactly
    // examples/wave.json, so the two cannot drift apart.
    let read = |p: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(p)).expect(p)).expect(p)
    };
    let event = read("examples/wave-requested.json");
    assert_eq!(
        event["detail-type"],
        fleetshift_core::events::WAVE_REQUESTED
    );
    assert_eq!(event["source"], fleetshift_core::events::SOURCE);
    assert_eq!(event["detail"], read("examples/wave.json"));
}

#[test]
fn a_generated_fleet_without_a_plan_runs_as_several_waves() {
    // 450 WorkSpaces are more than one plan may hold (400): two waves, started together.
    let out = fleetshift(&["local", "run", "--generate", "450", "--json", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON");
    assert_eq!(report["workspaces"], 450);
    assert_eq!(report["completed"], 450);
    let waves = report["waves"].as_array().expect("waves");
    assert_eq!(waves.len(), 2, "{report:#}");
    let mut seen = std::collections::HashSet::new();
    for w in waves {
        assert_eq!(w["status"], "SUCCEEDED", "{}", w["waveId"]);
        let rows = w["workspaces"].as_array().expect("workspaces");
        assert!(rows.len() <= 400, "{}", w["waveId"]);
        for r in rows {
            assert_eq!(r["status"], "COMPLETED", "{r}");
            assert!(seen.insert(r["sourceWorkspaceId"].as_str().expect("an id").to_owned()));
        }
    }
    assert_eq!(seen.len(), 450, "every WorkSpace in exactly one wave");
    assert_eq!(stderr(&out), "");
}

#[test]
fn local_run_needs_a_plan_or_a_generated_fleet() {
    let out = fleetshift(&["local", "run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--generate N"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}
