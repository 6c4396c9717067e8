"""Tests of scripts/check-iam on small literal templates, against the committed iam/reference.json.

Run: scripts/check-iam --self-test, or .venv/bin/python -m unittest scripts/test_check_iam.py
"""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import iam_policies  # noqa: E402

REFERENCE = iam_policies.Reference(json.loads(iam_policies.REFERENCE_PATH.read_text()))

HEADER = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  StandbyRegion:
    Type: String
    Default: ""
  KeyArn:
    Type: String
Conditions:
  HasStandbyRegion: !Not [!Equals [!Ref StandbyRegion, ""]]
Resources:
"""


def function(statements: str) -> str:
    """A template with one SAM function whose Policies hold the given statements (YAML)."""
    body = "\n".join("            " + line for line in statements.strip("\n").splitlines())
    return HEADER + f"""\
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: ./
      Policies:
        - Statement:
{body}
"""


def errors_of(text: str) -> list[str]:
    template = iam_policies.Template(*iam_policies.decode_string(text))
    errors, _ = iam_policies.check(template, REFERENCE)
    return errors


class TodaysWrongGrants(unittest.TestCase):
    """Wrong grants the template once had, as it had them: each is caught."""

    def test_describe_image_import_on_workspaceimage_arn(self):
        errors = errors_of(function("""
- Effect: Allow
  Action: workspaces:DescribeCustomWorkspaceImageImport
  Resource: !Sub arn:${AWS::Partition}:workspaces:${AWS::Region}:${AWS::AccountId}:workspaceimage/*
"""))
        self.assertEqual(errors, [
            "Fn (SAM role FnRole) Policies[0] Statement[0]: action workspaces:DescribeCustomWorkspaceImageImport: "
            "resource arn:${AWS::Partition}:workspaces:${AWS::Region}:${AWS::AccountId}:workspaceimage/*: "
            'the action supports no resource-level permissions: grant it on "*" only'
        ])

    def test_get_migration_on_a_lex_arn(self):
        errors = errors_of(function("""
- Effect: Allow
  Action: lex:GetMigration
  Resource: !Sub arn:${AWS::Partition}:lex:${AWS::Region}:${AWS::AccountId}:*
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("action lex:GetMigration: resource arn:${AWS::Partition}:lex:", errors[0])
        self.assertIn("supports no resource-level permissions", errors[0])

    def test_create_tags_on_a_workspaces_arn(self):
        # The reference lists no resource type for workspaces:CreateTags.
        self.assertEqual(REFERENCE.services["workspaces"]["actions"]["CreateTags"]["resourceTypes"], [])
        errors = errors_of(function("""
- Effect: Allow
  Action:
    - workspaces:CreateStandbyWorkspaces
    - workspaces:CreateTags
  Resource: !Sub arn:${AWS::Partition}:workspaces:*:${AWS::AccountId}:*
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("action workspaces:CreateTags: resource arn:${AWS::Partition}:workspaces:*:", errors[0])

    def test_directory_arn_misspelled_as_the_resource_type_name(self):
        # The type is called directoryid; its ARN says directory/.
        errors = errors_of(function("""
- Effect: Allow
  Action: workspaces:CreateStandbyWorkspaces
  Resource: !Sub arn:${AWS::Partition}:workspaces:*:${AWS::AccountId}:directoryid/*
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("matches none of the action's resource types (directoryid arn:${Partition}:workspaces:"
                      "${Region}:${Account}:directory/${DirectoryId}, workspaceid", errors[0])


class CorrectGrants(unittest.TestCase):
    def test_actions_without_resource_types_on_star(self):
        self.assertEqual(errors_of(function("""
- Effect: Allow
  Action:
    - workspaces:DescribeCustomWorkspaceImageImport
    - workspaces:CreateTags
    - lex:GetMigration
  Resource: "*"
""")), [])

    def test_migrate_workspace_on_workspace_and_bundle(self):
        self.assertEqual(errors_of(function("""
- Effect: Allow
  Action: workspaces:MigrateWorkspace
  Resource:
    - !Sub arn:${AWS::Partition}:workspaces:${AWS::Region}:${AWS::AccountId}:workspace/*
    - !Sub arn:${AWS::Partition}:workspaces:${AWS::Region}:*:workspacebundle/*
""")), [])

    def test_invoke_function_alias_arn(self):
        # Lambda authorizes a function by its function, version or alias ARN.
        self.assertEqual(errors_of(function("""
- Effect: Allow
  Action: lambda:InvokeFunction
  Resource: !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:fleetshift-start-migration:live
""")), [])

    def test_kms_grant_on_a_key_parameter_with_its_condition_keys(self):
        self.assertEqual(errors_of(function("""
- Effect: Allow
  Action:
    - kms:CreateGrant
    - kms:DescribeKey
  Resource: !Ref KeyArn
  Condition:
    StringEquals:
      kms:ViaService: !Sub ec2.${AWS::Region}.amazonaws.com
    Bool:
      kms:GrantIsForAWSResource: "true"
""")), ["Fn (SAM role FnRole) Policies[0] Statement[0]: action kms:DescribeKey: condition key "
        "kms:GrantIsForAWSResource: neither a global aws: key nor one the reference lists for the "
        "action or its resource types"])

    def test_pass_role_with_passed_to_service(self):
        self.assertEqual(errors_of(function("""
- Effect: Allow
  Action: iam:PassRole
  Resource: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/lex-v2-bot
  Condition:
    StringEquals:
      iam:PassedToService: lexv2.amazonaws.com
""")), [])


class Failures(unittest.TestCase):
    def test_unknown_action(self):
        errors = errors_of(function("""
- Effect: Allow
  Action: workspaces:MigrateWorkspaces
  Resource: "*"
"""))
        self.assertEqual(errors, [
            "Fn (SAM role FnRole) Policies[0] Statement[0]: action workspaces:MigrateWorkspaces: "
            "unknown action (not in iam/reference.json)"
        ])

    def test_unknown_condition_key(self):
        errors = errors_of(function("""
- Effect: Allow
  Action: events:PutEvents
  Resource: !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/waves
  Condition:
    StringEquals:
      events:detailType: Wave Progress
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("action events:PutEvents: condition key events:detailType: neither", errors[0])

    def test_each_if_branch_is_checked(self):
        errors = errors_of(function("""
- Effect: Allow
  Action: workspaces:CreateStandbyWorkspaces
  Resource: !Sub arn:${AWS::Partition}:workspaces:*:${AWS::AccountId}:workspace/*
  Condition: !If
    - HasStandbyRegion
    - StringEquals:
        aws:RequestedRegion: !Ref StandbyRegion
    - StringEquals:
        workspaces:NoSuchKey: x
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("condition key workspaces:NoSuchKey [!If HasStandbyRegion false]", errors[0])

    def test_not_action_and_not_resource(self):
        errors = errors_of(function("""
- Effect: Allow
  NotAction: iam:*
  NotResource: "*"
"""))
        self.assertEqual(errors, [
            "Fn (SAM role FnRole) Policies[0] Statement[0]: NotAction is not allowed (name the actions and resources the statement grants)",
            "Fn (SAM role FnRole) Policies[0] Statement[0]: NotResource is not allowed (name the actions and resources the statement grants)",
        ])

    def test_state_machine_alias_arn_is_not_authorized_for_start_execution(self):
        # Step Functions authorizes a version or alias by the unqualified state machine ARN.
        errors = errors_of(function("""
- Effect: Allow
  Action: states:StartExecution
  Resource: !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:fleetshift-fleet-migration:live
"""))
        self.assertEqual(len(errors), 1)
        self.assertIn("matches none of the action's resource types (statemachine", errors[0])

    def test_resource_policy_and_get_att(self):
        text = HEADER + """\
  Queue:
    Type: AWS::SQS::Queue
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [fleetshift]}
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Statement:
          - Sid: RuleDeadLetters
            Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Rule.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: !GetAtt Rule.Arn
"""
        self.assertEqual(errors_of(text), [
            "QueuePolicy PolicyDocument Statement[0] (Sid RuleDeadLetters): action sqs:SendMessage: "
            "resource !GetAtt Rule.Arn: matches none of the action's resource types "
            "(queue arn:${Partition}:sqs:${Region}:${Account}:${QueueName})"
        ])


class Patterns(unittest.TestCase):
    def overlap(self, policy: str, arn: str) -> bool:
        return iam_policies.patterns_overlap(
            iam_policies.literal_atoms(policy, policy=True), iam_policies.arn_format_atoms(arn)
        )

    def test_placeholders_are_one_segment(self):
        fmt = "arn:${Partition}:states:${Region}:${Account}:stateMachine:${StateMachineName}"
        self.assertTrue(self.overlap("arn:aws:states:us-east-1:123456789012:stateMachine:m", fmt))
        self.assertTrue(self.overlap("arn:aws:states:*:123456789012:stateMachine:*", fmt))
        self.assertFalse(self.overlap("arn:aws:states:us-east-1:123456789012:stateMachine:m:live", fmt))
        self.assertFalse(self.overlap("arn:aws:states:us-east-1:123456789012:execution:m:*", fmt))
        self.assertTrue(self.overlap("*", fmt))
        self.assertTrue(self.overlap("arn:aws:states:us-east-1:12345678901?:stateMachine:m", fmt))


if __name__ == "__main__":
    unittest.main()
