#!/usr/bin/env python3
"""boto3 against cloud-local: every emulated operation, and one error per service.

Usage: boto3_check.py ENDPOINT_URL [STATE_MACHINE_NAME [INPUT_FILE]]
       (e.g. http://127.0.0.1:4566 fleetshift-fleet-migration examples/wave-generated.json)

Expects the server's default fleet (`Fleet::generate(10)`: ws-gen0000000.., bundles
wsb-target0001, directories d-1000000001 (us-east-1) / d-2000000002 (us-west-2), image
wsi-gen000001, Lex bot OrderFlowers) and a Step Functions state machine (default `smoke`, as the
`serve` example starts it; `fleetshift local serve` serves `fleetshift-fleet-migration`, run with a
wave plan over the generated fleet as its input). The execution must end SUCCEEDED. Virtual time travels in the x-fleetshift-virtual-time header.
Prints `N passed, N failed` and exits non-zero on any failure.
"""
import json
import sys
import time

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4566"
STATE_MACHINE = sys.argv[2] if len(sys.argv) > 2 else "smoke"
INPUT = open(sys.argv[3]).read() if len(sys.argv) > 3 else "{}"
ACCOUNT = "123456789012"
NOW = {"ms": int(time.time() * 1000)}
RESULTS = {"passed": 0, "failed": 0}


def client(service, region="us-east-1"):
    c = boto3.client(
        service,
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )

    def add_time(request, **_):
        request.headers["x-fleetshift-virtual-time"] = str(NOW["ms"])

    c.meta.events.register("before-sign.*.*", add_time)
    return c


def check(name, fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {e!r}")


def expect_error(code, fn):
    try:
        fn()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e.response['Error']}"
        return e
    raise AssertionError(f"expected {code}, got success")


def workspaces():
    ws = client("workspaces")
    out = ws.describe_workspaces(Limit=5)
    assert len(out["Workspaces"]) == 5 and out.get("NextToken"), out
    src = "ws-gen0000009"
    mig = ws.migrate_workspace(SourceWorkspaceId=src, BundleId="wsb-target0001")
    target = mig["TargetWorkspaceId"]
    assert target.startswith("ws-") and target != src
    got = ws.describe_workspaces(WorkspaceIds=[target])["Workspaces"][0]
    assert got["State"] == "PENDING", got
    NOW["ms"] += 41 * 60 * 1000
    got = ws.describe_workspaces(WorkspaceIds=[target])["Workspaces"][0]
    assert got["State"] == "AVAILABLE", got
    assert ws.describe_workspaces(WorkspaceIds=[src])["Workspaces"] == []

    west = client("workspaces", "us-west-2")
    out = west.create_standby_workspaces(
        PrimaryRegion="us-east-1",
        StandbyWorkspaces=[
            {"PrimaryWorkspaceId": "ws-gen0000008", "DirectoryId": "d-2000000002"},
            {"PrimaryWorkspaceId": "ws-nosuch0001", "DirectoryId": "d-2000000002"},
        ],
    )
    assert len(out["PendingStandbyRequests"]) == 1, out
    assert out["FailedStandbyRequests"][0]["ErrorCode"] == "ResourceNotFound.Workspace", out

    imp = ws.describe_custom_workspace_image_import(ImageId="wsi-gen000001")
    assert imp["State"] in ("PENDING", "IN_PROGRESS", "PROCESSING_SOURCE_IMAGE"), imp
    assert hasattr(imp["Created"], "year"), "timestamps parse as datetimes"

    e = expect_error(
        "ResourceNotFoundException",
        lambda: ws.migrate_workspace(SourceWorkspaceId="ws-nosuch0001", BundleId="wsb-target0001"),
    )
    assert "ws-nosuch0001" in e.response["Error"]["Message"]
    expect_error(
        "InvalidParameterValuesException",
        lambda: ws.migrate_workspace(SourceWorkspaceId="ws-BAD", BundleId="wsb-target0001"),
    )


def migration_hub():
    hub = client("mgh")
    expect_error(
        "ResourceNotFoundException",
        lambda: hub.import_migration_task(ProgressUpdateStream="nostream", MigrationTaskName="t"),
    )
    hub.create_progress_update_stream(ProgressUpdateStreamName="fleetshift")
    hub.import_migration_task(ProgressUpdateStream="fleetshift", MigrationTaskName="ws-gen0000001")
    hub.notify_migration_task_state(
        ProgressUpdateStream="fleetshift",
        MigrationTaskName="ws-gen0000001",
        Task={"Status": "IN_PROGRESS", "StatusDetail": "migrating", "ProgressPercent": 10},
        UpdateDateTime=NOW["ms"] / 1000,
        NextUpdateSeconds=900,
    )
    d = hub.describe_migration_task(ProgressUpdateStream="fleetshift", MigrationTaskName="ws-gen0000001")
    assert d["MigrationTask"]["Task"]["Status"] == "IN_PROGRESS", d
    tasks = hub.list_migration_tasks()["MigrationTaskSummaryList"]
    assert [t["MigrationTaskName"] for t in tasks] == ["ws-gen0000001"], tasks
    expect_error(
        "InvalidInputException",
        lambda: hub.create_progress_update_stream(ProgressUpdateStreamName="bad|name"),
    )


def eventbridge():
    eb = client("events")
    out = eb.put_events(
        Entries=[
            {"Source": "fleetshift", "DetailType": "wave", "Detail": json.dumps({"ok": True})},
            {"Source": "fleetshift", "DetailType": "wave", "Detail": "not json"},
        ]
    )
    assert out["FailedEntryCount"] == 1 and "EventId" in out["Entries"][0], out
    entry = {"Source": "fleetshift", "DetailType": "wave", "Detail": "{}"}
    e = expect_error("ValidationException", lambda: eb.put_events(Entries=[entry] * 11))
    assert "Entries" in e.response["Error"]["Message"], e.response


def lex():
    lx = client("lex-models")
    bot = lx.get_bot(name="OrderFlowers", versionOrAlias="$LATEST")
    assert bot["version"] == "$LATEST", bot
    assert len(lx.get_bot_versions(name="OrderFlowers")["bots"]) >= 1
    m = lx.start_migration(
        v1BotName="OrderFlowers",
        v1BotVersion="$LATEST",
        v2BotName="OrderFlowersV2",
        v2BotRole=f"arn:aws:iam::{ACCOUNT}:role/LexMigration",
        migrationStrategy="CREATE_NEW",
    )
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202, m
    assert lx.get_migration(migrationId=m["migrationId"])["migrationStatus"] == "IN_PROGRESS"
    NOW["ms"] += 10 * 60 * 1000
    assert lx.get_migration(migrationId=m["migrationId"])["migrationStatus"] == "COMPLETED"
    expect_error("NotFoundException", lambda: lx.get_migration(migrationId="ABCDEFGHIJ"))


def step_functions():
    sfn = client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
    name = f"boto3-{NOW['ms']}"
    started = sfn.start_execution(stateMachineArn=arn, name=name, input=INPUT)
    assert hasattr(started["startDate"], "year")
    for _ in range(500):
        d = sfn.describe_execution(executionArn=started["executionArn"])
        if d["status"] != "RUNNING":
            break
        time.sleep(0.02)
    assert d["status"] == "SUCCEEDED", d
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert events[0]["type"] == "ExecutionStarted", events
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert any(e["name"] == name for e in listed), listed
    expect_error(
        "ExecutionAlreadyExists",
        lambda: sfn.start_execution(stateMachineArn=arn, name=name, input='{"other": 1}'),
    )


for name, fn in [
    ("WorkSpaces", workspaces),
    ("Migration Hub", migration_hub),
    ("EventBridge", eventbridge),
    ("Lex model building V1", lex),
    ("Step Functions", step_functions),
]:
    check(name, fn)

print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] else 0)
