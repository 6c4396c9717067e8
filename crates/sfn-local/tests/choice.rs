//! Choice operators the conformance data does not exercise: the Timestamp comparisons and their
//! `...Path` forms, `StringMatches` with escapes, `IsTimestamp`, `Or`.

use std::sync::Arc;

use serde_json::{Value, json};
use sfn_local::{Definition, Engine, ExecutionStatus};

/// Runs a Choice with one rule (`Next: Yes`, Default `No`) on `input`: true when the rule matched.
async fn matches(rule: Value, input: Value) -> bool {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": true},
        "No": {"Type": "Pass", "Result": "no", "End": true}
    }});
    let def = Arc::new(Definition::from_value(def).unwrap());
    let engine = Engine::builder().build();
    let sm = engine.state_machine_arn("choice");
    let d = engine.run(def, &sm, None, input).await.unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    d.output == Some(json!("yes"))
}

const T: &str = "2024-03-01T12:00:00Z";

#[tokio::test]
async fn timestamp_comparisons_against_a_literal() {
    // (operator, input timestamp, expected)
    let cases = [
        ("TimestampEquals", "2024-03-01T12:00:00Z", true),
        // the same instant written with fractions and another offset
        ("TimestampEquals", "2024-03-01T13:00:00.000+01:00", true),
        ("TimestampEquals", "2024-03-01T12:00:01Z", false),
        ("TimestampLessThan", "2024-03-01T11:59:59Z", true),
        ("TimestampLessThan", T, false),
        ("TimestampLessThanEquals", T, true),
        ("TimestampLessThanEquals", "2024-03-01T12:00:00.001Z", false),
        ("TimestampGreaterThan", "2024-03-01T12:00:00.5Z", true),
        ("TimestampGreaterThan", T, false),
        ("TimestampGreaterThanEquals", T, true),
        ("TimestampGreaterThanEquals", "2023-03-01T12:00:00Z", false),
    ];
    for (op, at, want) in cases {
        let rule = json!({"Variable": "$.at", op: T});
        assert_eq!(matches(rule, json!({"at": at})).await, want, "{op} {at}");
    }
}

#[tokio::test]
async fn timestamp_comparisons_against_a_path() {
    let cases = [
        ("TimestampEqualsPath", "2024-03-01T12:00:00Z", true),
        ("TimestampLessThanPath", "2024-02-29T12:00:00Z", true),
        ("TimestampLessThanEqualsPath", "2024-03-01T12:00:00Z", true),
        ("TimestampGreaterThanPath", "2024-02-29T12:00:00Z", false),
        (
            "TimestampGreaterThanEqualsPath",
            "2025-01-01T00:00:00Z",
            true,
        ),
    ];
    for (op, at, want) in cases {
        let rule = json!({"Variable": "$.at", op: "$.limit"});
        let input = json!({"at": at, "limit": T});
        assert_eq!(matches(rule, input).await, want, "{op} {at}");
    }
}

#[tokio::test]
async fn a_value_that_is_no_timestamp_never_compares() {
    for (at, limit) in [
        (json!("yesterday"), json!(T)),
        (json!(T), json!("2024-03-01 12:00:00Z")),
        (json!(1709294400), json!(T)),
    ] {
        for op in [
            "TimestampEqualsPath",
            "TimestampLessThanEqualsPath",
            "TimestampGreaterThanEqualsPath",
        ] {
            let rule = json!({"Variable": "$.at", op: "$.limit"});
            let input = json!({"at": at, "limit": limit});
            assert!(!matches(rule, input).await, "{op} {at} {limit}");
        }
    }
}

#[tokio::test]
async fn is_timestamp() {
    for (v, want) in [
        (json!("2016-03-14T01:59:00Z"), true),
        (json!("2016-03-14T01:59:00.123-08:00"), true),
        (json!("2016-03-14T01:59:00"), false),
        (json!("2016-03-14"), false),
        (json!(1457920740), false),
        (json!(null), false),
    ] {
        let rule = json!({"Variable": "$.v", "IsTimestamp": true});
        assert_eq!(matches(rule, json!({"v": v})).await, want, "{v}");
        let rule = json!({"Variable": "$.v", "IsTimestamp": false});
        assert_eq!(matches(rule, json!({"v": v})).await, !want, "not {v}");
    }
}

#[tokio::test]
async fn string_matches_with_wildcards_and_escapes() {
    // The patterns as they appear in the ASL (JSON text): `\\*` is a literal star, `\\\\` a
    // literal backslash.
    let cases = [
        (r#""foo*.log""#, "foo23.log", true),
        (r#""*.log""#, "zebra.log", true),
        (r#""foo*.*""#, "foobar.zebra", true),
        (r#""foo*.log""#, "foo23.txt", false),
        (r#""*""#, "", true),
        (r#""a\\*b""#, "a*b", true),
        (r#""a\\*b""#, "axxb", false),
        (r#""a\\*b*""#, "a*bcd", true),
        (r#""C:\\\\*""#, r"C:\temp", true),
        (r#""C:\\\\*""#, "C:/temp", false),
        // no character but * is special
        (r#""a?c""#, "abc", false),
        (r#""a?c""#, "a?c", true),
    ];
    for (pattern, s, want) in cases {
        let pattern: Value = serde_json::from_str(pattern).unwrap();
        let rule = json!({"Variable": "$.s", "StringMatches": pattern});
        assert_eq!(matches(rule, json!({"s": s})).await, want, "{pattern} {s}");
    }
    // a value that is no string never matches
    let rule = json!({"Variable": "$.s", "StringMatches": "*"});
    assert!(!matches(rule, json!({"s": 1})).await);
}

#[tokio::test]
async fn or_matches_when_any_rule_does() {
    let rule = json!({"Or": [
        {"Variable": "$.n", "NumericGreaterThan": 10},
        {"Variable": "$.s", "StringEquals": "go"},
        {"Not": {"Variable": "$.t", "IsPresent": true}}
    ]});
    for (input, want) in [
        (json!({"n": 11, "s": "stop", "t": 1}), true),
        (json!({"n": 1, "s": "go", "t": 1}), true),
        (json!({"n": 1, "s": "stop"}), true),
        (json!({"n": 1, "s": "stop", "t": 1}), false),
    ] {
        assert_eq!(matches(rule.clone(), input.clone()).await, want, "{input}");
    }
}
