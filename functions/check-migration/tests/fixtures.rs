//! The fixture payloads (also `cargo lambda invoke --data-file` events) parse, validate and
//! round-trip unchanged.

use check_migration::{Input, Output, parse_input};

fn read(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn input_fixtures_parse_validate_and_round_trip() {
    for (name, is_workspace) in [("workspace.json", true), ("lex-bot.json", false)] {
        let raw = read(name);
        let input = parse_input(raw.clone()).unwrap();
        assert_eq!(matches!(input, Input::Workspace(_)), is_workspace, "{name}");
        input.validate().unwrap();
        assert_eq!(serde_json::to_value(&input).unwrap(), raw, "{name}");
    }
}

#[test]
fn output_fixtures_round_trip() {
    for name in ["workspace-failed-output.json", "lex-bot-output.json"] {
        let raw = read(name);
        let out: Output = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&out).unwrap(), raw, "{name}");
    }
}

#[test]
fn start_migration_output_is_a_valid_check_input() {
    // start-migration's answer with the plan's deadline added (as the state machine's
    // CheckBotMigration passes it) is a valid input: extra fields are ignored.
    let started = serde_json::json!({
        "kind": "lexBot", "migrationId": "ABCDE12345", "v1BotName": "OrderFlowers",
        "v1BotVersion": "$LATEST", "v2BotId": null, "v2BotRole": "arn:aws:iam::123456789012:role/R",
        "v1BotLocale": "en-US", "migrationStrategy": "CREATE_NEW",
        "migrationTimestamp": null, "startedAt": "2026-01-01T00:00:00Z",
        "deadlineMinutes": 60
    });
    parse_input(started).unwrap().validate().unwrap();
}
