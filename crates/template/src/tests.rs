use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{StackModel, Template, TemplateError};

fn model(yaml: &str) -> StackModel {
    resolve_with(yaml, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn resolve_with(yaml: &str, overrides: &[(&str, &str)]) -> Result<StackModel, TemplateError> {
    let overrides: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Template::parse(yaml)?.resolve(&overrides)
}

fn error(yaml: &str) -> String {
    resolve_with(yaml, &[]).unwrap_err().to_string()
}

/// A template whose Outputs hold the values under test, with a few resources to refer to.
fn outputs(outputs: &str) -> BTreeMap<String, Value> {
    model(&format!("{RESOURCES}\nOutputs:\n{outputs}")).outputs
}

const RESOURCES: &str = r#"
Parameters:
  Stage:
    Type: String
    Default: prod
  Count:
    Type: Number
    Default: 25
  Names:
    Type: CommaDelimitedList
    Default: "a,b"
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [!Ref Count, 25]]
  Either: !Or [!Condition IsDev, !Equals [!Ref Count, "25"]]
Mappings:
  Sizes:
    prod:
      Memory: 512
Resources:
  WorkFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: work
    Properties:
      AutoPublishAlias: live
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub ${AWS::StackName}-machine
      AutoPublishAlias: live
      DefinitionUri: m.asl.json
  Queue:
    Type: AWS::SQS::Queue
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub ${AWS::StackName}-bus
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/x
  Role:
    Type: AWS::IAM::Role
"#;

#[test]
fn refs_of_parameters_pseudo_parameters_and_resources() {
    let o = outputs(
        r#"
  Stage: {Value: !Ref Stage}
  Count: {Value: !Ref Count}
  Names: {Value: !Join [";", !Ref Names]}
  Account: {Value: !Ref AWS::AccountId}
  Region: {Value: !Ref "AWS::Region"}
  Stack: {Value: !Ref AWS::StackName}
  Partition: {Value: !Ref AWS::Partition}
  Suffix: {Value: !Ref AWS::URLSuffix}
  Function: {Value: !Ref WorkFunction}
  Machine: {Value: !Ref Machine}
  Queue: {Value: !Ref Queue}
  Bus: {Value: !Ref Bus}
  Rule: {Value: !Ref Rule}
  Logs: {Value: !Ref Logs}
  Role: {Value: !Ref Role}
  FunctionRole: {Value: !Ref WorkFunctionRole}
"#,
    );
    let expect = json!({
        "Stage": "prod",
        "Count": "25",
        "Names": "a;b",
        "Account": "123456789012",
        "Region": "us-east-1",
        "Stack": "fleetshift",
        "Partition": "aws",
        "Suffix": "amazonaws.com",
        "Function": "fleetshift-work",
        "Machine": "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine",
        "Queue": "https://sqs.us-east-1.amazonaws.com/123456789012/fleetshift-Queue",
        "Bus": "fleetshift-bus",
        "Rule": "arn:aws:events:us-east-1:123456789012:rule/fleetshift-bus/fleetshift-Rule",
        "Logs": "/aws/x",
        "Role": "fleetshift-Role",
        "FunctionRole": "fleetshift-WorkFunctionRole",
    });
    assert_eq!(serde_json::to_value(&o).unwrap(), expect);
}

#[test]
fn sam_alias_and_version_references() {
    let o = outputs(
        r#"
  Alias: {Value: !Ref WorkFunction.Alias}
  Version: {Value: !Ref WorkFunction.Version}
  MachineAlias: {Value: !Ref Machine.Alias}
  InSub: {Value: !Sub "${WorkFunction.Alias}"}
  Long: {Value: {"Ref": "WorkFunction.Alias"}}
"#,
    );
    assert_eq!(
        o["Alias"],
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work:live"
    );
    assert_eq!(
        o["Version"],
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work:1"
    );
    assert_eq!(
        o["MachineAlias"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine:live"
    );
    assert_eq!(o["InSub"], o["Alias"]);
    assert_eq!(o["Long"], o["Alias"]);
}

#[test]
fn an_alias_without_auto_publish_alias_is_an_error() {
    let e = error(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\nOutputs:\n  A:\n    Value: !Ref F.Alias\n",
    );
    assert_eq!(
        e,
        "Outputs.A.Value.Ref: unknown reference: F.Alias: F has no AutoPublishAlias"
    );
}

#[test]
fn get_att_of_each_kind() {
    let o = outputs(
        r#"
  Function: {Value: !GetAtt WorkFunction.Arn}
  FunctionRole: {Value: !GetAtt WorkFunctionRole.Arn}
  Role: {Value: !GetAtt Role.Arn}
  Queue: {Value: !GetAtt Queue.Arn}
  QueueName: {Value: !GetAtt Queue.QueueName}
  Rule: {Value: !GetAtt [Rule, Arn]}
  Bus: {Value: {"Fn::GetAtt": ["Bus", "Arn"]}}
  BusName: {Value: !GetAtt Bus.Name}
  Logs: {Value: !GetAtt Logs.Arn}
  Machine: {Value: !GetAtt Machine.Arn}
  MachineName: {Value: !GetAtt Machine.Name}
"#,
    );
    let expect = json!({
        "Function": "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work",
        "FunctionRole": "arn:aws:iam::123456789012:role/fleetshift-WorkFunctionRole",
        "Role": "arn:aws:iam::123456789012:role/fleetshift-Role",
        "Queue": "arn:aws:sqs:us-east-1:123456789012:fleetshift-Queue",
        "QueueName": "fleetshift-Queue",
        "Rule": "arn:aws:events:us-east-1:123456789012:rule/fleetshift-bus/fleetshift-Rule",
        "Bus": "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-bus",
        "BusName": "fleetshift-bus",
        "Logs": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/x:*",
        "Machine": "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine",
        "MachineName": "fleetshift-machine",
    });
    assert_eq!(serde_json::to_value(&o).unwrap(), expect);
}

#[test]
fn an_unknown_attribute_is_an_error() {
    let e = model_error_outputs("  X: {Value: !GetAtt Queue.Nope}\n");
    assert_eq!(
        e,
        "Outputs.X.Value.Fn::GetAtt: unknown reference: Queue (AWS::SQS::Queue) has no attribute Nope the offline stack knows"
    );
}

fn model_error_outputs(outputs: &str) -> String {
    error(&format!("{RESOURCES}\nOutputs:\n{outputs}"))
}

#[test]
fn sub_forms() {
    let o = outputs(
        r#"
  Plain: {Value: !Sub "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Stage}"}
  Literal: {Value: !Sub "${!Literal}-${Stage}"}
  Map: {Value: !Sub ["${A}/${B}/${Queue.Arn}", {A: !Ref Stage, B: 7}]}
  Long: {Value: {"Fn::Sub": "${Queue}"}}
"#,
    );
    assert_eq!(o["Plain"], "arn:aws:x:us-east-1:123456789012:prod");
    assert_eq!(o["Literal"], "${Literal}-prod");
    assert_eq!(
        o["Map"],
        "prod/7/arn:aws:sqs:us-east-1:123456789012:fleetshift-Queue"
    );
    assert_eq!(
        o["Long"],
        "https://sqs.us-east-1.amazonaws.com/123456789012/fleetshift-Queue"
    );
}

#[test]
fn conditions_and_if() {
    let m = model(&format!(
        "{RESOURCES}\nOutputs:\n  Prod: {{Value: !If [IsProd, yes, no]}}\n  Dev: {{Value: !If [IsDev, yes, no]}}\n"
    ));
    assert_eq!(
        m.conditions,
        BTreeMap::from([
            ("IsProd".to_owned(), true),
            ("IsDev".to_owned(), false),
            ("Both".to_owned(), true),
            ("Either".to_owned(), true),
        ])
    );
    assert_eq!(m.outputs["Prod"], "yes");
    assert_eq!(m.outputs["Dev"], "no");
    let dev = resolve_with(RESOURCES, &[("Stage", "dev")]).unwrap();
    assert!(!dev.conditions["IsProd"]);
    assert!(!dev.conditions["Both"]);
}

#[test]
fn no_value_removes_the_property_or_item() {
    let o = outputs(
        r#"
  Map:
    Value:
      Keep: 1
      Drop: !If [IsDev, 2, !Ref AWS::NoValue]
      List: [a, !If [IsDev, b, !Ref AWS::NoValue], c]
"#,
    );
    assert_eq!(o["Map"], json!({"Keep": 1, "List": ["a", "c"]}));
}

#[test]
fn join_split_select_find_in_map() {
    let o = outputs(
        r#"
  Join: {Value: !Join ["-", [a, !Ref Stage, 3]]}
  Split: {Value: !Split [",", "x,y,z"]}
  Select: {Value: !Select [1, !Split [",", "x,y,z"]]}
  SelectParam: {Value: !Select ["0", !Ref Names]}
  Find: {Value: !FindInMap [Sizes, !Ref Stage, Memory]}
"#,
    );
    assert_eq!(o["Join"], "a-prod-3");
    assert_eq!(o["Split"], json!(["x", "y", "z"]));
    assert_eq!(o["Select"], "y");
    assert_eq!(o["SelectParam"], "a");
    assert_eq!(o["Find"], 512);
}

#[test]
fn errors_name_the_path() {
    assert_eq!(
        model_error_outputs("  X: {Value: !Base64 abc}\n"),
        "Outputs.X.Value.Fn::Base64: unsupported intrinsic function Fn::Base64"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !Ref Missing}\n"),
        "Outputs.X.Value.Ref: unknown reference: Missing is neither a parameter nor a resource of the template"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !Sub \"${Nope.Arn}\"}\n"),
        "Outputs.X.Value.Fn::Sub: unknown reference: Nope is neither a parameter nor a resource of the template"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !If [NoSuch, a, b]}\n"),
        "Outputs.X.Value.Fn::If[0]: unknown reference: no condition NoSuch in the template's Conditions"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !Ref AWS::Nope}\n"),
        "Outputs.X.Value.Ref: unknown reference: no pseudo parameter AWS::Nope"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !Select [5, [a]]}\n"),
        "Outputs.X.Value.Fn::Select: Fn::Select index 5 is past the list's 1 items"
    );
    assert_eq!(
        model_error_outputs("  X: {Value: !FindInMap [Sizes, dev, Memory]}\n"),
        "Outputs.X.Value.Fn::FindInMap: unknown reference: Mappings has no Sizes.dev.Memory"
    );
    // Inside a resource, the path names the resource and the property.
    let e = error(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n          X: !ImportValue other\n",
    );
    assert_eq!(
        e,
        "Resources.F.Properties.Environment.Variables.X.Fn::ImportValue: unsupported intrinsic function Fn::ImportValue"
    );
}

#[test]
fn parameter_overrides_are_checked() {
    let tpl = r#"
Parameters:
  Flag: {Type: String, AllowedValues: ["true", "false"], Default: "false"}
  Region: {Type: String, Default: "", AllowedPattern: "^([a-z]{2}(-[a-z]+)+-\\d)?$"}
  Count: {Type: Number, MinValue: 1, MaxValue: 25, Default: 25}
  Short: {Type: String, MaxLength: 3, Default: ab}
Resources:
  Q: {Type: AWS::SQS::Queue}
"#;
    let ok = resolve_with(
        tpl,
        &[("Flag", "true"), ("Region", "eu-west-1"), ("Count", "3")],
    )
    .unwrap();
    assert_eq!(ok.parameters["Flag"], "true");
    assert_eq!(ok.parameters["Count"], "3");
    assert_eq!(ok.parameters["Short"], "ab");
    let err = |o: &[(&str, &str)]| resolve_with(tpl, o).unwrap_err().to_string();
    assert_eq!(
        err(&[("Flag", "yes")]),
        r#"parameter Flag: "yes" is not one of AllowedValues ["true", "false"]"#
    );
    assert_eq!(
        err(&[("Region", "Europe")]),
        r#"parameter Region: "Europe" does not match AllowedPattern ^([a-z]{2}(-[a-z]+)+-\d)?$"#
    );
    assert_eq!(
        err(&[("Count", "0")]),
        r#"parameter Count: "0" is below MinValue 1"#
    );
    assert_eq!(
        err(&[("Count", "26")]),
        r#"parameter Count: "26" is above MaxValue 25"#
    );
    assert_eq!(
        err(&[("Count", "many")]),
        r#"parameter Count: "many" is not a number (Type Number)"#
    );
    assert_eq!(
        err(&[("Short", "abcd")]),
        r#"parameter Short: "abcd" is longer than MaxLength 3"#
    );
    assert_eq!(
        err(&[("Nope", "1")]),
        "parameter Nope: the template declares no such parameter"
    );
    assert_eq!(
        resolve_with(
            "Parameters:\n  P: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n",
            &[]
        )
        .unwrap_err()
        .to_string(),
        "parameter P: no value given and no Default"
    );
}

#[test]
fn a_condition_leaves_a_resource_out() {
    let tpl = r#"
Parameters:
  On: {Type: String, Default: "false"}
Conditions:
  IsOn: !Equals [!Ref On, "true"]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Condition: IsOn
Outputs:
  Url:
    Condition: IsOn
    Value: !Ref Q
"#;
    let off = resolve_with(tpl, &[]).unwrap();
    assert!(off.queues.is_empty());
    assert!(off.outputs.is_empty());
    let on = resolve_with(tpl, &[("On", "true")]).unwrap();
    assert_eq!(on.queues[0].name, "fleetshift-Q");
}

#[test]
fn functions_merge_globals_and_get_sam_policies() {
    let m = model(
        r#"
Globals:
  Function:
    Timeout: 30
    MemorySize: 256
    Tracing: Active
    Environment:
      Variables:
        SHARED: g
        OVERRIDDEN: g
Resources:
  StartFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: start
    Properties:
      Timeout: 300
      AutoPublishAlias: live
      Environment:
        Variables:
          OVERRIDDEN: local
          COUNT: 3
          QUEUE: !Ref Failed
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: 3600
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt Failed.Arn
      Policies:
        - Statement:
            - Effect: Allow
              Action: states:StartExecution
              Resource: "*"
        - AWSXRayDaemonWriteAccess
  Failed:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: failed
"#,
    );
    let f = m.function_by_binary("start").unwrap();
    assert_eq!(f.logical_id, "StartFunction");
    assert_eq!(f.name, "fleetshift-start");
    assert_eq!(
        f.arn,
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start"
    );
    assert_eq!(
        f.alias_arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start:live")
    );
    assert_eq!(f.timeout_seconds, 300);
    assert_eq!(f.memory_mb, 256);
    assert_eq!(
        f.environment,
        BTreeMap::from([
            ("SHARED".to_owned(), "g".to_owned()),
            ("OVERRIDDEN".to_owned(), "local".to_owned()),
            ("COUNT".to_owned(), "3".to_owned()),
            (
                "QUEUE".to_owned(),
                "https://sqs.us-east-1.amazonaws.com/123456789012/failed".to_owned()
            ),
        ])
    );
    assert_eq!(
        f.role_arn,
        "arn:aws:iam::123456789012:role/fleetshift-StartFunctionRole"
    );
    assert_eq!(
        f.principal_arn,
        "arn:aws:sts::123456789012:assumed-role/fleetshift-StartFunctionRole/fleetshift-start"
    );
    assert_eq!(
        f.policies,
        vec![
            json!({"Statement": [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}]}),
            json!({"Statement": [{"Action": "sqs:SendMessage", "Effect": "Allow",
                "Resource": "arn:aws:sqs:us-east-1:123456789012:failed"}]}),
        ]
    );
    assert_eq!(
        f.managed_policy_arns,
        vec![
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        ]
    );
    let eic = f.event_invoke_config.as_ref().unwrap();
    assert_eq!(eic.maximum_retry_attempts, Some(1));
    assert_eq!(eic.maximum_event_age_in_seconds, Some(3600));
    let on_failure = eic.on_failure.as_ref().unwrap();
    assert_eq!(on_failure.kind.as_deref(), Some("SQS"));
    assert_eq!(on_failure.arn, "arn:aws:sqs:us-east-1:123456789012:failed");
    let role = m.role_by_arn(&f.role_arn).unwrap();
    assert_eq!(role.generated_for.as_deref(), Some("StartFunction"));
}

#[test]
fn a_sam_policy_template_is_reported_not_dropped() {
    let e = error(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        - SQSSendMessagePolicy: {QueueName: q}\n",
    );
    assert_eq!(
        e,
        "Resources.F.Properties.Policies[0]: unsupported intrinsic function SAM policy template SQSSendMessagePolicy"
    );
}

#[test]
fn state_machine_substitutions_and_role_policies() {
    let m = model(
        r#"
Parameters:
  Concurrency: {Type: Number, Default: 25}
Resources:
  WorkFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: work}}
    Properties: {AutoPublishAlias: live}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: fleetshift-machine
      AutoPublishAlias: live
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        WorkArn: !Ref WorkFunction.Alias
        Concurrency: !Ref Concurrency
        Literal: 5
      Role: !GetAtt MachineRole.Arn
  MachineRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: states.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: invoke
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: lambda:InvokeFunction, Resource: !Ref WorkFunction.Alias}]
"#,
    );
    let sm = m.state_machine("Machine").unwrap();
    assert_eq!(
        sm.alias_arn.as_deref(),
        Some("arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine:live")
    );
    assert_eq!(sm.definition_uri.as_deref(), Some("machine.asl.json"));
    assert_eq!(
        sm.definition_substitutions,
        BTreeMap::from([
            (
                "WorkArn".to_owned(),
                "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work:live".to_owned()
            ),
            ("Concurrency".to_owned(), "25".to_owned()),
            ("Literal".to_owned(), "5".to_owned()),
        ])
    );
    assert_eq!(
        sm.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/fleetshift-MachineRole")
    );
    assert_eq!(
        sm.policies,
        vec![
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work:live"}]})
        ]
    );
}

#[test]
fn buses_rules_and_queues() {
    let m = model(
        r#"
Parameters:
  Operators: {Type: CommaDelimitedList, Default: ""}
Conditions:
  HasOperators: !Not [!Equals [!Join [",", !Ref Operators], ""]]
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: fleetshift-waves
      Policy:
        Version: "2012-10-17"
        Statement:
          - Sid: account
            Effect: Allow
            Principal: {AWS: !If [HasOperators, !Ref Operators, !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"]}
            Action: events:PutEvents
            Resource: !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/fleetshift-waves
  OtherAccount:
    Type: AWS::Events::EventBusPolicy
    Properties:
      EventBusName: !Ref Bus
      StatementId: other
      Action: events:PutEvents
      Principal: "111122223333"
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt Bus.Arn
      EventPattern:
        source: [fleetshift]
        account: [!Ref AWS::AccountId]
      Targets:
        - Id: start-wave
          Arn: !GetAtt Dlq.Arn
          RetryPolicy: {MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600}
          DeadLetterConfig: {Arn: !GetAtt Dlq.Arn}
  Dlq:
    Type: AWS::SQS::Queue
  DlqPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Dlq]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage, Resource: !GetAtt Dlq.Arn}]
"#,
    );
    let bus = m.event_bus("fleetshift-waves").unwrap();
    assert_eq!(
        bus.arn,
        "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"
    );
    assert_eq!(
        bus.policy.as_ref().unwrap()["Statement"],
        json!([
            {"Sid": "account", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "events:PutEvents",
             "Resource": "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"},
            {"Sid": "other", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "events:PutEvents",
             "Resource": "arn:aws:events:us-east-1:123456789012:event-bus/fleetshift-waves"},
        ])
    );
    let rule = m.rule("Rule").unwrap();
    assert_eq!(rule.event_bus_name, "fleetshift-waves");
    assert_eq!(
        rule.arn,
        "arn:aws:events:us-east-1:123456789012:rule/fleetshift-waves/fleetshift-Rule"
    );
    assert_eq!(
        rule.event_pattern,
        Some(json!({"source": ["fleetshift"], "account": ["123456789012"]}))
    );
    assert_eq!(rule.state, "ENABLED");
    let t = &rule.targets[0];
    assert_eq!(t.id, "start-wave");
    assert_eq!(
        t.retry_policy.as_ref().unwrap().maximum_retry_attempts,
        Some(10)
    );
    assert_eq!(
        t.dead_letter_arn.as_deref(),
        Some("arn:aws:sqs:us-east-1:123456789012:fleetshift-Dlq")
    );
    let q = m
        .queue_by_arn(t.dead_letter_arn.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        q.policy.as_ref().unwrap()["Statement"][0]["Action"],
        "sqs:SendMessage"
    );
}

#[test]
fn list_parameters_reach_policies_whole() {
    let m = resolve_with(
        r#"
Parameters:
  Operators: {Type: CommaDelimitedList, Default: ""}
Conditions:
  HasOperators: !Not [!Equals [!Join [",", !Ref Operators], ""]]
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: b
      Policy:
        Statement:
          - Principal: {AWS: !If [HasOperators, !Ref Operators, "*"]}
"#,
        &[(
            "Operators",
            "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
        )],
    )
    .unwrap();
    assert_eq!(
        m.event_bus("b").unwrap().policy.as_ref().unwrap()["Statement"][0]["Principal"]["AWS"],
        json!([
            "arn:aws:iam::123456789012:role/a",
            "arn:aws:iam::123456789012:role/b"
        ])
    );
}

/// The project's own template, with its defaults: values that only change with the template.
#[test]
fn the_real_template() {
    let text = include_str!("../../../template.yaml");
    let m = Template::parse(text)
        .unwrap()
        .resolve(&BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let hub = m.function_by_binary("push-hub-update").unwrap();
    assert_eq!(hub.logical_id, "PushHubUpdateFunction");
    assert_eq!(hub.name, "fleetshift-push-hub-update");
    assert_eq!(hub.timeout_seconds, 300);
    assert_eq!(hub.memory_mb, 128);
    assert_eq!(hub.environment["HUB_ENABLED"], "false");
    assert_eq!(hub.environment["HUB_HOME_REGION"], "us-east-1");
    assert_eq!(hub.environment["STANDBY_REGION"], "");
    assert_eq!(
        hub.principal_arn,
        "arn:aws:sts::123456789012:assumed-role/fleetshift-PushHubUpdateFunctionRole/fleetshift-push-hub-update"
    );
    let start_migration = m.function_by_binary("start-migration").unwrap();
    assert_eq!(start_migration.timeout_seconds, 30);
    assert!(
        !start_migration.policies.is_empty(),
        "start-migration's role has its statements"
    );
    for binary in [
        "start-migration",
        "check-migration",
        "create-standby",
        "poll-image-import",
        "push-hub-update",
        "start-wave",
    ] {
        let f = m.function_by_binary(binary).unwrap();
        assert_eq!(
            f.arn,
            format!("arn:aws:lambda:us-east-1:123456789012:function:fleetshift-{binary}")
        );
        assert_eq!(
            f.role_arn,
            format!(
                "arn:aws:iam::123456789012:role/fleetshift-{}Role",
                f.logical_id
            )
        );
    }
    let start_wave = m.function_by_binary("start-wave").unwrap();
    let sm = m.state_machine("FleetMigrationStateMachine").unwrap();
    assert_eq!(sm.name, "fleetshift-fleet-migration");
    assert_eq!(
        sm.arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration"
    );
    assert_eq!(sm.definition_substitutions["DefaultConcurrency"], "25");
    assert_eq!(
        sm.definition_uri.as_deref(),
        Some("state-machines/fleet-migration.asl.json")
    );
    assert_eq!(
        sm.definition_substitutions["PushHubUpdateFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-push-hub-update:1"
    );
    // start-wave starts the state machine's alias.
    assert_eq!(
        start_wave.environment["STATE_MACHINE_ARN"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration:live"
    );
    assert_eq!(
        sm.alias_arn.as_deref(),
        Some("arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-fleet-migration:live")
    );
    let on_failure = start_wave
        .event_invoke_config
        .as_ref()
        .and_then(|c| c.on_failure.as_ref())
        .unwrap();
    let failed = m.queue_by_arn(&on_failure.arn).unwrap();
    assert_eq!(failed.logical_id, "StartWaveFailedQueue");
    assert!(
        start_wave.policies.iter().any(|p| p["Statement"][0]
            == json!({"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": failed.arn})),
        "SAM grants the OnFailure destination: {:?}",
        start_wave.policies
    );
    let rule = m.rule("WaveRequestedRule").unwrap();
    assert_eq!(rule.event_bus_name, "fleetshift-waves");
    assert_eq!(
        rule.event_pattern,
        Some(
            json!({"source": ["fleetshift"], "detail-type": ["Wave Requested"], "account": ["123456789012"]})
        )
    );
    assert_eq!(rule.targets[0].id, "start-wave");
    assert_eq!(
        rule.targets[0].arn,
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-start-wave:live"
    );
    assert_eq!(
        rule.targets[0].dead_letter_arn.as_deref(),
        Some(failed.arn.as_str())
    );
}

#[test]
fn the_real_template_with_the_default_bus_and_lex() {
    let text = include_str!("../../../template.yaml");
    let t = Template::parse(text).unwrap();
    let overrides = |o: &[(&str, &str)]| -> BTreeMap<String, String> {
        o.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let m = t
        .resolve(&overrides(&[("UseDefaultEventBus", "true")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(m.event_bus("fleetshift-waves").is_none());
    assert_eq!(
        m.rule("WaveRequestedRule").unwrap().event_bus_name,
        "default"
    );
    assert_eq!(
        m.function_by_binary("push-hub-update").unwrap().environment["EVENT_BUS_NAME"],
        "default"
    );
    assert_eq!(
        t.resolve(&overrides(&[("LexMigrationEnabled", "true")]))
            .unwrap_err()
            .to_string(),
        "Rules.LexMigrationNeedsARole: LexMigrationEnabled=true needs LexV2BotRoleArn, the role Lex V2 bots run with."
    );
}

#[test]
fn sam_generated_alias_and_version_resources() {
    let o = outputs(
        r#"
  MachineAlias: {Value: !Ref MachineAliaslive}
  MachineAliasArn: {Value: !GetAtt MachineAliaslive.Arn}
  MachineVersion: {Value: !Ref MachineVersion}
  FunctionAlias: {Value: !Ref WorkFunctionAliaslive}
"#,
    );
    assert_eq!(
        o["MachineAlias"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine:live"
    );
    assert_eq!(o["MachineAliasArn"], o["MachineAlias"]);
    assert_eq!(
        o["MachineVersion"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:fleetshift-machine:1"
    );
    assert_eq!(
        o["FunctionAlias"],
        "arn:aws:lambda:us-east-1:123456789012:function:fleetshift-work:live"
    );
}

#[test]
fn rules_refuse_parameters() {
    let tpl = r#"
Parameters:
  On: {Type: String, Default: "false"}
  Role: {Type: String, Default: ""}
Rules:
  NeedsRole:
    RuleCondition: !Equals [!Ref On, "true"]
    Assertions:
      - Assert: !Not [!Equals [!Ref Role, ""]]
        AssertDescription: On needs Role.
Resources:
  Q: {Type: AWS::SQS::Queue}
"#;
    assert!(resolve_with(tpl, &[]).is_ok());
    assert!(resolve_with(tpl, &[("On", "true"), ("Role", "r")]).is_ok());
    assert_eq!(
        resolve_with(tpl, &[("On", "true")])
            .unwrap_err()
            .to_string(),
        "Rules.NeedsRole: On needs Role."
    );
}
