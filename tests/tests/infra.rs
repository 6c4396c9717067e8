//! Checks that read the deployable files: the state machine definition and the SAM template must
//! agree with each other, with the error names the functions report (fleetshift_core::error_type)
//! and with the AWS operations the function crates actually call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fleetshift_core::error_type;
use fleetshift_core::plan::{Plan, Polling};
use serde_json::{Value, json};

const ASL: &str = "state-machines/fleet-migration.asl.json";
const STATE_MACHINE: &str = "FleetMigrationStateMachine";

/// The errors Step Functions itself defines.
const STATES_ERRORS: &[&str] = &[
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
];

/// How Step Functions reports a Lambda function's unhandled error, a function timeout or an
/// out-of-memory included ("Handle Lambda service exceptions", Step Functions Developer Guide:
/// https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
const LAMBDA_UNKNOWN: &str = "Lambda.Unknown";
/// Lambda's throttling error as Step Functions reports it (same page).
const LAMBDA_THROTTLED: &str = "Lambda.TooManyRequestsException";

/// IAM service prefix of each AWS SDK crate the functions may use.
const SDK_PREFIXES: &[(&str, &str)] = &[
    ("aws-sdk-workspaces", "workspaces"),
    ("aws-sdk-lexmodelbuilding", "lex"),
    ("aws-sdk-migrationhub", "mgh"),
    ("aws-sdk-eventbridge", "events"),
    ("aws-sdk-sfn", "states"),
];

/// Actions an operation needs besides its own, as the AWS documentation lists them.
const DEPENDENT_ACTIONS: &[(&str, &str)] = &[
    // StartMigration creates or updates a Lex V2 bot that runs with the plan's v2BotRole, and its
    // caller needs the Lex V1 reads and Lex V2 writes the migration makes on its behalf (Lex V1
    // guide: "Allow a user to migrate a bot to Amazon Lex V2 APIs").
    ("lex:StartMigration", "iam:PassRole"),
    ("lex:StartMigration", "lex:GetBot"),
    ("lex:StartMigration", "lex:GetIntent"),
    ("lex:StartMigration", "lex:GetSlotType"),
    ("lex:StartMigration", "lex:BuildBotLocale"),
    ("lex:StartMigration", "lex:CreateBot"),
    ("lex:StartMigration", "lex:CreateBotLocale"),
    ("lex:StartMigration", "lex:CreateIntent"),
    ("lex:StartMigration", "lex:CreateSlot"),
    ("lex:StartMigration", "lex:CreateSlotType"),
    ("lex:StartMigration", "lex:DeleteIntent"),
    ("lex:StartMigration", "lex:DeleteSlot"),
    ("lex:StartMigration", "lex:DeleteSlotType"),
    ("lex:StartMigration", "lex:DescribeBot"),
    ("lex:StartMigration", "lex:DescribeBotLocale"),
    ("lex:StartMigration", "lex:UpdateBot"),
    ("lex:StartMigration", "lex:UpdateBotLocale"),
    ("lex:StartMigration", "lex:UpdateIntent"),
    ("lex:StartMigration", "lex:UpdateSlot"),
    ("lex:StartMigration", "lex:UpdateSlotType"),
    // The migration imports into the V2 bot (Lex V1 guide, "Migrating a bot"), whose locale it
    // may replace: StartImport and its bot-scoped dependent actions (Service Authorization
    // Reference).
    ("lex:StartMigration", "lex:StartImport"),
    ("lex:StartMigration", "lex:DeleteBotLocale"),
    // CreateStandbyWorkspaces tags the standby WorkSpaces with the plan's standby tags.
    (
        "workspaces:CreateStandbyWorkspaces",
        "workspaces:CreateTags",
    ),
    // An encrypted standby: WorkSpaces describes the key and creates a grant on it for the new
    // volumes, on the caller's behalf (WorkSpaces Administration Guide, "Encrypted WorkSpaces").
    ("workspaces:CreateStandbyWorkspaces", "kms:CreateGrant"),
    ("workspaces:CreateStandbyWorkspaces", "kms:DescribeKey"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn asl_text() -> String {
    read(ASL)
}

fn asl() -> Value {
    serde_json::from_str(&asl_text()).expect("the ASL is JSON")
}

/// template.yaml as JSON; a CloudFormation short-form tag becomes a one-key object such as
/// `{"!GetAtt": "StartMigrationFunction.Arn"}`.
fn template() -> Value {
    let yaml: serde_norway::Value =
        serde_norway::from_str(&read("template.yaml")).expect("template.yaml is YAML");
    yaml_to_json(yaml)
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(&n).expect("a YAML number is a JSON number"),
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .expect("a YAML key prints")
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = if tag.starts_with('!') {
                tag
            } else {
                format!("!{tag}")
            };
            json!({ tag: yaml_to_json(t.value) })
        }
    }
}

/// Every state of the definition, nested ones included, as (name, state).
fn all_states(asl: &Value) -> Vec<(String, Value)> {
    fn walk(states: &Value, out: &mut Vec<(String, Value)>) {
        for (name, state) in states.as_object().expect("States is an object") {
            out.push((name.clone(), state.clone()));
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(p) = state.get(key) {
                    walk(&p["States"], out);
                }
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                walk(&branch["States"], out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&asl["States"], &mut out);
    out
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("a list of strings").to_owned())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

/// The template's functions built from this workspace: crate (binary) name -> logical id.
fn functions_by_crate(t: &Value) -> BTreeMap<String, String> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"));
            (binary.to_owned(), id.clone())
        })
        .collect()
}

/// The IAM actions a function's policies allow.
fn function_actions(t: &Value, id: &str) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for policy in resources(t)[id]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let statements = policy
            .get("Statement")
            .and_then(Value::as_array)
            .unwrap_or_else(|| {
                panic!("{id}: every policy is an inline Statement list (no SAM policy templates), got {policy}")
            });
        for s in statements.iter().flat_map(branches) {
            assert_eq!(s["Effect"], "Allow", "{id}: {s}");
            actions.extend(strings(&s["Action"]));
        }
    }
    actions
}

/// A statement, or each statement an `!If` can give (a parameter turns it on or off), without
/// `AWS::NoValue`: what the function may be granted under some stack parameters.
fn branches(statement: &Value) -> Vec<&Value> {
    match statement.get("!If").and_then(Value::as_array) {
        Some(cond) => cond
            .iter()
            .skip(1)
            .filter(|b| b.get("!Ref").and_then(Value::as_str) != Some("AWS::NoValue"))
            .flat_map(branches)
            .collect(),
        None => vec![statement],
    }
}

/// `${Key}` -> logical id of the function whose ARN the state machine receives under that key.
fn substituted_functions(t: &Value) -> BTreeMap<String, String> {
    let subs = &resources(t)[STATE_MACHINE]["Properties"]["DefinitionSubstitutions"];
    subs.as_object()
        .expect("DefinitionSubstitutions")
        .iter()
        .filter_map(|(k, v)| {
            // A published version of the function (SAM's `Function.Version`), so a running
            // execution keeps its code.
            let r = v.get("!Ref")?.as_str()?;
            let id = r.strip_suffix(".Version")?;
            Some((format!("${{{k}}}"), id.to_owned()))
        })
        .collect()
}

#[test]
fn every_custom_error_name_is_a_core_constant() {
    let mut seen = 0;
    for (name, state) in all_states(&asl()) {
        for key in ["Retry", "Catch"] {
            for rule in state[key].as_array().into_iter().flatten() {
                for error in strings(&rule["ErrorEquals"]) {
                    seen += 1;
                    let known = STATES_ERRORS.contains(&error.as_str())
                        || error_type::LAMBDA_SERVICE_ERRORS.contains(&error.as_str())
                        || error == LAMBDA_UNKNOWN
                        || error_type::ALL.contains(&error.as_str());
                    assert!(
                        known,
                        "{name}.{key}: {error} is neither a States.* error, a Lambda service error nor a constant of fleetshift_core::error_type"
                    );
                }
            }
        }
    }
    assert!(seen > 0, "the definition matches no error at all");
}

#[test]
fn nothing_retries_invalid_plan() {
    for (name, state) in all_states(&asl()) {
        for rule in state["Retry"].as_array().into_iter().flatten() {
            for error in strings(&rule["ErrorEquals"]) {
                assert!(
                    !["InvalidPlan", "States.ALL", "States.TaskFailed"].contains(&error.as_str()),
                    "{name}: a retrier on {error} would retry {}",
                    error_type::INVALID_PLAN
                );
            }
        }
    }
}

#[test]
fn definition_substitutions_and_placeholders_match() {
    let t = template();
    let sm = &resources(&t)[STATE_MACHINE]["Properties"];
    assert_eq!(sm["DefinitionUri"], ASL);
    assert_eq!(sm["Type"], "STANDARD");
    let keys: BTreeSet<String> = sm["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions")
        .keys()
        .cloned()
        .collect();
    let placeholder = regex_lite::Regex::new(r"\$\{([A-Za-z0-9_]+)\}").expect("regex");
    let used: BTreeSet<String> = placeholder
        .captures_iter(&asl_text())
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(
        keys, used,
        "DefinitionSubstitutions keys and the ${{...}} placeholders of {ASL} differ"
    );
    // Every function ARN handed to the state machine names a function of the template.
    for (key, id) in substituted_functions(&t) {
        assert_eq!(
            resources(&t)
                .get(&id)
                .map(|r| r["Type"].clone())
                .unwrap_or_default(),
            "AWS::Serverless::Function",
            "{key} names {id}"
        );
    }
}

#[test]
fn every_task_that_reaches_workspaces_retries_busy_and_throttled_calls() {
    let t = template();
    let subs = substituted_functions(&t);
    let reaches_workspaces: BTreeSet<&String> = subs
        .iter()
        .filter(|(_, id)| {
            function_actions(&t, id)
                .iter()
                .any(|a| a.starts_with("workspaces:"))
        })
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        reaches_workspaces.len(),
        4,
        "start-migration, check-migration, create-standby and poll-image-import reach WorkSpaces: {reaches_workspaces:?}"
    );
    let mut checked = 0;
    for (name, state) in all_states(&asl()) {
        if state["Type"] != "Task" {
            continue;
        }
        let resource = state["Resource"].as_str().unwrap_or_default().to_owned();
        let retry = state["Retry"].as_array().cloned().unwrap_or_default();
        let retrier_for = |error: &str| {
            retry
                .iter()
                .find(|r| strings(&r["ErrorEquals"]).iter().any(|e| e == error))
                .unwrap_or_else(|| panic!("{name}: no retrier for {error}"))
                .clone()
        };
        // Every Task invokes a Lambda function: the service's own errors are retried as AWS
        // recommends, throttling apart (see lambda_throttling_has_a_retrier_of_its_own).
        let lambda = retrier_for(error_type::LAMBDA_SERVICE_ERRORS[0]);
        for e in error_type::LAMBDA_SERVICE_ERRORS {
            let listed = strings(&lambda["ErrorEquals"]).iter().any(|x| x == e);
            assert_eq!(
                listed,
                *e != LAMBDA_THROTTLED,
                "{name}: the Lambda service retrier and {e}"
            );
        }
        if !reaches_workspaces.contains(&resource) {
            continue;
        }
        checked += 1;
        let busy = retrier_for(error_type::OPERATION_IN_PROGRESS);
        assert!(
            strings(&busy["ErrorEquals"])
                .iter()
                .any(|e| e == error_type::RESOURCE_UNAVAILABLE),
            "{name}: OperationInProgress and ResourceUnavailable share a retrier"
        );
        let throttle = retrier_for(error_type::THROTTLING);
        assert_ne!(
            busy, throttle,
            "{name}: throttling has a retrier of its own"
        );
        for r in [&busy, &throttle] {
            assert_eq!(r["JitterStrategy"], "FULL", "{name}: {r}");
            assert!(r["MaxDelaySeconds"].as_u64().is_some(), "{name}: {r}");
            assert!(
                r["IntervalSeconds"].as_u64().unwrap_or(0) >= 1,
                "{name}: {r}"
            );
            assert!(
                r["BackoffRate"].as_f64().unwrap_or(0.0) > 1.0,
                "{name}: {r}"
            );
            assert!(r["MaxAttempts"].as_u64().unwrap_or(0) >= 2, "{name}: {r}");
        }
    }
    // StartMigration, CheckMigration, CreateStandby, PollImageImport and the bot pair.
    assert!(
        checked >= 6,
        "only {checked} Tasks reach WorkSpaces: is the definition complete?"
    );
}

#[test]
fn lambda_throttling_has_a_retrier_of_its_own() {
    // Lambda's concurrency is shared by every function of the account and Region: a throttled
    // invoke clears as other invocations end, which takes seconds to a minute, not the ~7 s the
    // service-error retrier waits in all. The invocation never ran, so every Task may retry it.
    let mut checked = 0;
    for (name, state) in all_states(&asl()) {
        if state["Type"] != "Task" {
            continue;
        }
        checked += 1;
        let retry = state["Retry"].as_array().cloned().unwrap_or_default();
        let throttled: Vec<&Value> = retry
            .iter()
            .filter(|r| {
                strings(&r["ErrorEquals"])
                    .iter()
                    .any(|e| e == LAMBDA_THROTTLED)
            })
            .collect();
        assert_eq!(throttled.len(), 1, "{name}: {retry:?}");
        assert_eq!(
            *throttled[0],
            json!({
                "ErrorEquals": [LAMBDA_THROTTLED],
                "IntervalSeconds": 2,
                "BackoffRate": 2,
                "MaxAttempts": 8,
                "MaxDelaySeconds": 60,
                "JitterStrategy": "FULL"
            }),
            "{name}"
        );
    }
    assert_eq!(checked, 15, "every Lambda Task of the definition");
}

#[test]
fn idempotent_tasks_retry_a_timed_out_or_crashed_function() {
    // A function that timed out may have made its calls: only Tasks that can run twice retry it
    // (polls, and progress updates, which set a state rather than add to it).
    let asl = asl();
    let all = all_states(&asl);
    let retries_timeouts = |state: &Value| {
        state["Retry"].as_array().into_iter().flatten().any(|r| {
            strings(&r["ErrorEquals"]) == ["States.Timeout", LAMBDA_UNKNOWN]
                && r["MaxAttempts"] == 2
                && r["JitterStrategy"] == "FULL"
        })
    };
    let mut retrying: Vec<String> = all
        .iter()
        .filter(|(_, s)| retries_timeouts(s))
        .map(|(n, _)| n.clone())
        .collect();
    retrying.sort();
    assert_eq!(
        retrying,
        [
            "CheckBotMigration",
            "CheckMigration",
            "PollImageImport",
            "ReportBotCompleted",
            "ReportBotFailed",
            "ReportBotStarted",
            "ReportCompleted",
            "ReportFailed",
            "ReportStarted",
        ]
    );
}

#[test]
fn a_failed_migration_check_goes_back_to_waiting() {
    let asl = asl();
    let states = &asl["States"]["MigrateWorkspaces"]["ItemProcessor"]["States"];
    let catch = states["CheckMigration"]["Catch"]
        .as_array()
        .expect("CheckMigration catches");
    assert_eq!(catch.len(), 1, "{catch:?}");
    assert_eq!(strings(&catch[0]["ErrorEquals"]), ["States.ALL"]);
    assert_eq!(catch[0]["Next"], "CheckUnanswered");
    assert_eq!(states["CheckUnanswered"]["Next"], "UnansweredPastDeadline");
    let deadline = &states["UnansweredPastDeadline"];
    assert_eq!(deadline["Default"], "WaitNextCheck");
    assert_eq!(deadline["Choices"][0]["Next"], "CheckNeverAnswered");
    assert_eq!(states["CheckNeverAnswered"]["Next"], "ReportFailed");
    // The unanswered loop fits the same budget as the answered one: one state more per check.
    let p = Polling::default();
    let after_first =
        u64::from(p.migration_deadline_minutes) * 60 - u64::from(p.migration_first_check_seconds);
    let checks = 1 + after_first.div_ceil(u64::from(p.migration_interval_seconds)) as usize;
    // Walk it: every check fails (Catch), the deadline Choice says no until the last check.
    let mut name = "ReportStarted".to_owned();
    let (mut count, mut unanswered) = (0, 0);
    while states[&name]["End"] != true {
        count += 1;
        let s = &states[&name];
        name = match name.as_str() {
            "CheckMigration" => s["Catch"][0]["Next"].clone(),
            "UnansweredPastDeadline" => {
                unanswered += 1;
                if unanswered < checks {
                    s["Default"].clone()
                } else {
                    s["Choices"][0]["Next"].clone()
                }
            }
            _ => s["Next"].clone(),
        }
        .as_str()
        .expect("Next")
        .to_owned();
    }
    assert_eq!(checks, 4);
    assert_eq!(count + 1, 21, "a check that never answers: within 25");
}

/// The Rust host triple (cargo metadata lists only the host's dependencies, which are the ones
/// already downloaded).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// The SDK operations of a crate, from its generated `src/operation/<op>/` folders.
fn sdk_operations() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(host_triple())
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let mut ops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap_or_default();
        if !name.starts_with("aws-sdk-") {
            continue;
        }
        let manifest = Path::new(p["manifest_path"].as_str().expect("manifest_path"));
        let dir = manifest.parent().expect("crate dir").join("src/operation");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let set = ops.entry(name.to_owned()).or_default();
        for e in entries.flatten() {
            if e.path().is_dir() {
                set.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    ops
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The non-test Rust source of a function crate.
fn production_source(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let src = std::fs::read_to_string(&path).expect("source");
                // Unit tests (mock rules name operations too) come after #[cfg(test)].
                let prod = src.split("#[cfg(test)]").next().unwrap_or_default();
                text.push_str(prod);
                text.push('\n');
            }
        }
    }
    text
}

/// The IAM actions a function crate needs: every `.operation()` call of an SDK client it depends
/// on, plus the documented dependent actions.
fn called_actions(dir: &Path, ops: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    let source = production_source(dir);
    let call = regex_lite::Regex::new(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)").expect("regex");
    let called: BTreeSet<&str> = call
        .captures_iter(&source)
        .map(|c| c.get(1).expect("group").as_str())
        .collect();
    let mut actions = BTreeSet::new();
    for (sdk, sdk_ops) in ops {
        let depends = manifest.lines().any(|l| {
            l.trim_start().starts_with(&format!("{sdk} "))
                || l.trim_start().starts_with(&format!("{sdk}="))
        });
        if !depends {
            continue;
        }
        let prefix = SDK_PREFIXES
            .iter()
            .find(|(c, _)| c == sdk)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| {
                panic!(
                    "{}: add the IAM prefix of {sdk} to SDK_PREFIXES",
                    dir.display()
                )
            });
        for op in sdk_ops.iter().filter(|op| called.contains(op.as_str())) {
            let action = format!("{prefix}:{}", pascal(op));
            for (needs, extra) in DEPENDENT_ACTIONS {
                if *needs == action {
                    actions.insert((*extra).to_owned());
                }
            }
            actions.insert(action);
        }
    }
    actions
}

#[test]
fn each_function_may_call_exactly_what_its_crate_calls() {
    let t = template();
    let by_crate = functions_by_crate(&t);
    let ops = sdk_operations();
    assert!(
        ops.contains_key("aws-sdk-workspaces"),
        "cargo metadata lists the AWS SDK crates"
    );
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let deployed: BTreeSet<String> = by_crate.keys().cloned().collect();
    assert_eq!(
        crates, deployed,
        "every function crate is deployed by template.yaml, and every function there has its crate"
    );
    for (name, id) in &by_crate {
        let dir = root().join("functions").join(name);
        let needed = called_actions(&dir, &ops);
        assert!(!needed.is_empty(), "{name}: calls no AWS operation?");
        let granted = function_actions(&t, id);
        assert_eq!(
            granted, needed,
            "{id}: the IAM actions in template.yaml differ from the operations functions/{name} calls"
        );
    }
}

/// The features of `fleetshift-clock` a build turns on: `cargo tree -e features -i` from the
/// workspace root with `args` selecting the packages, the way `cargo build` would select them.
fn clock_features(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "-e",
            "features",
            "-i",
            "fleetshift-clock",
            "--prefix",
            "none",
        ])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sam build` runs `cargo lambda build --release --bin <Binary>` in the workspace root
/// (aws-lambda-builders, workflows/rust_cargo/actions.py), which selects the workspace's
/// default-members; features unify across the selected packages. The client-context hook (a
/// caller's client context setting a function's "now") must not be in that build, and must be in
/// the offline stack's (scripts/build-bins, cargo test --workspace), or the binaries would run on
/// the wall clock offline.
#[test]
fn a_deployed_build_has_no_offline_clock_hook() {
    let hook = "fleetshift-clock feature \"client-context\"";
    let deployed = clock_features(&[]);
    assert!(
        deployed.contains("fleetshift-clock feature \"default\""),
        "cargo tree shows the clock's features: {deployed}"
    );
    assert!(
        !deployed.contains(hook),
        "a build of the default members (what sam build makes) turns the hook on:\n{deployed}"
    );
    for function in [
        "check-migration",
        "poll-image-import",
        "push-hub-update",
        "start-migration",
    ] {
        assert!(
            !clock_features(&["-p", function]).contains(hook),
            "{function} built alone turns the hook on"
        );
    }
    assert!(
        clock_features(&["--workspace"]).contains(hook),
        "the offline stack's workspace build must turn the hook on"
    );
}

#[test]
fn every_function_is_built_by_cargo_lambda_from_the_workspace() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Tracing"], "Active");
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    for (name, id) in functions_by_crate(&t) {
        let r = &resources(&t)[&id];
        assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let expected = format!(
            "{}Function",
            name.split('-').map(pascal).collect::<String>()
        );
        assert_eq!(id, expected, "logical ids are <Name>Function");
        let code_uri = r["Properties"]["CodeUri"]
            .as_str()
            .or(globals["CodeUri"].as_str());
        assert_eq!(code_uri, Some("./"), "{id}: built from the workspace root");
    }
}

#[test]
fn workspaces_run_in_a_distributed_map_that_tolerates_item_failures() {
    let asl = asl();
    let map = &asl["States"]["MigrateWorkspaces"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(map["ItemsPath"], "$.plan.workspaces");
    assert_eq!(map["MaxConcurrencyPath"], "$.plan.maxConcurrency");
    assert_eq!(map["ToleratedFailurePercentage"], 100);
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"],
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    );
    // Every way out of an item is a Pass that builds the compact item result.
    let states = map["ItemProcessor"]["States"].as_object().expect("States");
    let ends: Vec<_> = states.iter().filter(|(_, s)| s["End"] == true).collect();
    assert!(!ends.is_empty());
    for (name, s) in ends {
        assert_eq!(s["Type"], "Pass", "{name}");
        let keys: BTreeSet<String> = s["Parameters"]
            .as_object()
            .expect("Parameters")
            .keys()
            .map(|k| k.trim_end_matches(".$").to_owned())
            .collect();
        let mut want: BTreeSet<String> = [
            "sourceWorkspaceId",
            "targetWorkspaceId",
            "status",
            "cause",
            "error",
            "standby",
        ]
        .map(String::from)
        .into();
        if name == "Completed" {
            // Only a completed migration can have been adopted after a lost answer.
            want.insert("adoption".to_owned());
        }
        assert_eq!(keys, want, "{name}");
    }
    for (name, s) in states {
        assert_ne!(
            s["Type"], "Fail",
            "{name}: an item never fails its child execution"
        );
    }
}

/// Follows one WorkSpace iteration from StartAt to its end, taking each Choice's branch from
/// `answers` (variable -> values, one per evaluation); counts the states entered.
fn transitions(states: &Value, start: &str, answers: &mut BTreeMap<&str, Vec<Value>>) -> usize {
    let mut name = start.to_owned();
    let mut count = 0;
    loop {
        count += 1;
        assert!(count < 1000, "the iteration does not end");
        let s = &states[&name];
        if s["End"] == true || s["Type"] == "Succeed" || s["Type"] == "Fail" {
            return count;
        }
        if s["Type"] != "Choice" {
            name = s["Next"].as_str().expect("Next").to_owned();
            continue;
        }
        let mut next = s["Default"].as_str().map(str::to_owned);
        let mut consumed = BTreeSet::new();
        for rule in s["Choices"].as_array().expect("Choices") {
            let var = rule["Variable"].as_str().expect("Variable");
            let value = match answers.get(var).and_then(|v| v.first()) {
                Some(v) => v.clone(),
                None => panic!("{name}: no answer for {var}"),
            };
            consumed.insert(var.to_owned());
            let expected = rule
                .get("StringEquals")
                .or_else(|| rule.get("BooleanEquals"))
                .expect("StringEquals or BooleanEquals");
            if &value == expected {
                next = Some(rule["Next"].as_str().expect("Next").to_owned());
                break;
            }
        }
        for var in consumed {
            let values = answers.get_mut(var.as_str()).expect("answered");
            if values.len() > 1 {
                values.remove(0);
            }
        }
        name = next.expect("a branch or a Default");
    }
}

#[test]
fn a_workspace_needs_at_most_25_state_transitions() {
    let asl = asl();
    let processor = &asl["States"]["MigrateWorkspaces"]["ItemProcessor"];
    let start = processor["StartAt"].as_str().expect("StartAt");
    let run = |checks: usize, last: &str, standby: bool| {
        let mut statuses = vec![json!("IN_PROGRESS"); checks - 1];
        statuses.push(json!(last));
        let mut answers = BTreeMap::from([
            ("$.check.status", statuses),
            ("$.workspace.standby", vec![json!(standby)]),
        ]);
        transitions(&processor["States"], start, &mut answers)
    };
    // A typical migration takes about an hour: with the default polling the first check (after
    // an hour) or the second finds it AVAILABLE.
    let typical = run(2, "COMPLETED", true);
    assert!(
        typical <= 12,
        "a typical migration takes {typical} transitions"
    );
    assert_eq!(run(1, "COMPLETED", false), 8);
    // The longest happy path with the default polling checks until the deadline.
    let p = Polling::default();
    let after_first =
        u64::from(p.migration_deadline_minutes) * 60 - u64::from(p.migration_first_check_seconds);
    let max_checks = 1 + after_first.div_ceil(u64::from(p.migration_interval_seconds)) as usize;
    for last in ["COMPLETED", "FAILED"] {
        let worst = run(max_checks, last, true);
        assert!(
            worst <= 25,
            "{max_checks} checks ending {last} take {worst} transitions"
        );
    }
}

#[test]
fn the_readme_example_is_a_valid_plan() {
    let readme = read("README.md");
    let start = readme
        .find("```json\n")
        .expect("README.md has a ```json example plan");
    let rest = &readme[start + "```json\n".len()..];
    let example = &rest[..rest.find("```").expect("closed code block")];
    let value: Value = serde_json::from_str(example).expect("the example is JSON");
    let plan = Plan::parse(&value).unwrap_or_else(|v| panic!("the README example: {v}"));
    assert!(!plan.workspaces.is_empty());
}

#[test]
fn a_summary_that_cannot_be_published_fails_the_wave_loudly() {
    let asl = asl();
    let states = &asl["States"];
    for task in ["Finish", "ReportImageGate"] {
        let catch = states[task]["Catch"]
            .as_array()
            .unwrap_or_else(|| panic!("{task} has no Catch: its failure would lose the summary"));
        let rule = catch
            .iter()
            .find(|r| strings(&r["ErrorEquals"]).iter().any(|e| e == "States.ALL"))
            .unwrap_or_else(|| panic!("{task}: no Catch on States.ALL"));
        // Follow Pass states to the end: a Fail state that names the lost summary.
        let mut name = rule["Next"].as_str().expect("Next").to_owned();
        while states[&name]["Type"] == "Pass" {
            name = states[&name]["Next"].as_str().expect("Next").to_owned();
        }
        let end = &states[&name];
        assert_eq!(end["Type"], "Fail", "{task} -> {name}");
        assert_eq!(end["Error"], "SummaryNotPublished", "{task} -> {name}");
        assert!(
            end.get("Cause").or_else(|| end.get("CausePath")).is_some(),
            "{task} -> {name}: the failure says why"
        );
    }
}

#[test]
fn the_bots_map_runs_as_many_bots_at_once_as_push_hub_update_assumes() {
    // push-hub-update sizes the NOT_STARTED tasks' NextUpdateSeconds on it.
    assert_eq!(
        asl()["States"]["MigrateBots"]["MaxConcurrency"],
        json!(push_hub_update::BOT_CONCURRENCY)
    );
}

#[test]
fn every_function_logs_to_a_log_group_of_the_stack_with_a_retention() {
    // Declared log groups are kept only as long as the stack says and go with the stack; a
    // Lambda-created one is kept forever and outlives it.
    let t = template();
    for id in functions_by_crate(&t).values() {
        let group = &resources(&t)[id]["Properties"]["LoggingConfig"]["LogGroup"];
        let name = group["!Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup is a !Ref, is {group}"));
        let g = &resources(&t)[name];
        assert_eq!(g["Type"], "AWS::Logs::LogGroup", "{id} -> {name}");
        assert_eq!(
            g["Properties"]["RetentionInDays"],
            json!({"!Ref": "LogRetentionDays"}),
            "{name}"
        );
    }
}

/// What the offline stack delivers without checking it (EventBridge invoking start-wave, its
/// dead-letter queue, Lambda's failure destination, Step Functions assuming its role): the
/// resource policies and grants AWS checks on those paths, read from the template resolved as
/// `sam deploy` resolves it.
mod delivery_paths {
    use std::collections::BTreeMap;

    use cloud_local::iam::{Policy, Principal, RequestContext, authorize};
    use fleetshift::functions::stack_model;
    use serde_json::Value;

    fn statements(policy: &Value) -> Vec<Value> {
        match &policy["Statement"] {
            Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        }
    }

    fn strs(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        }
    }

    #[test]
    fn eventbridge_may_invoke_each_lambda_target_of_its_rule_and_write_its_dead_letter_queue() {
        let model = stack_model(&BTreeMap::new()).expect("template.yaml resolves");
        let mut targets = 0;
        for rule in &model.rules {
            for t in &rule.targets {
                targets += 1;
                // Lambda's resource policy (AWS::Lambda::Permission) on exactly the ARN the rule
                // invokes (an alias is its own resource), for EventBridge, from this rule only.
                let permitted = model.resources.values().any(|(kind, p)| {
                    kind == "AWS::Lambda::Permission"
                        && p["FunctionName"] == t.arn.as_str()
                        && p["Action"] == "lambda:InvokeFunction"
                        && p["Principal"] == "events.amazonaws.com"
                        && p["SourceArn"] == rule.arn.as_str()
                });
                assert!(
                    permitted,
                    "{}: nothing lets EventBridge invoke {}",
                    rule.name, t.arn
                );
                // The dead-letter queue's policy lets EventBridge send from this rule
                // (EventBridge User Guide, "Granting permissions to the dead-letter queue").
                let dlq = t
                    .dead_letter_arn
                    .as_deref()
                    .expect("every target has a DLQ");
                let queue = model
                    .queue_by_arn(dlq)
                    .expect("the DLQ is the stack's queue");
                let policy = queue.policy.as_ref().expect("the DLQ has a policy");
                let allows = statements(policy).iter().any(|s| {
                    s["Effect"] == "Allow"
                        && s["Principal"]["Service"] == "events.amazonaws.com"
                        && strs(&s["Action"]).contains(&"sqs:SendMessage".to_owned())
                        && strs(&s["Resource"]).contains(&queue.arn)
                        && s["Condition"]["ArnEquals"]["aws:SourceArn"] == rule.arn.as_str()
                });
                assert!(allows, "{}: EventBridge may not write {dlq}", rule.name);
            }
        }
        assert_eq!(targets, 1, "WaveRequestedRule -> start-wave");
    }

    #[test]
    fn a_failed_asynchronous_invocation_can_reach_its_failure_destination() {
        let model = stack_model(&BTreeMap::new()).expect("template.yaml resolves");
        let mut destinations = 0;
        for f in &model.functions {
            let Some(dest) = f
                .event_invoke_config
                .as_ref()
                .and_then(|c| c.on_failure.as_ref())
            else {
                continue;
            };
            destinations += 1;
            // Lambda sends the record with the function's execution role (Lambda Developer Guide,
            // "Adding a destination": the execution role needs sqs:SendMessage).
            let policies = f
                .policies
                .iter()
                .map(|p| Policy::parse(p).unwrap())
                .collect();
            let role = Principal::assumed_role(&f.role_arn, &f.name, policies).unwrap();
            let d = authorize(
                &role,
                "sqs:SendMessage",
                std::slice::from_ref(&dest.arn),
                &RequestContext::new(),
                None,
            );
            assert!(d.is_allowed(), "{}: {:?}", f.name, d.message(&role.arn));
        }
        assert_eq!(destinations, 1, "start-wave's OnFailure queue");
    }

    #[test]
    fn only_this_stack_s_state_machine_may_assume_its_role() {
        let model = stack_model(&BTreeMap::new()).expect("template.yaml resolves");
        let sm = &model.state_machines[0];
        let role = model
            .roles
            .iter()
            .find(|r| Some(&r.arn) == sm.role_arn.as_ref())
            .expect("the state machine's role is the stack's");
        let trust = role.assume_role_policy.as_ref().expect("a trust policy");
        let s = &statements(trust)[0];
        assert_eq!(s["Principal"]["Service"], "states.amazonaws.com");
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        assert_eq!(
            strs(&s["Condition"]["ArnLike"]["aws:SourceArn"]),
            vec![
                "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration",
                "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration:*",
                "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration/*",
            ]
        );
        assert_eq!(
            sm.arn,
            "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration"
        );
    }
}
