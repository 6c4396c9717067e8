"""The boto3 alternative of the six functions, for the cold start benchmark.

At import (the Lambda init) it creates the same clients as the function's Rust `Deps`
(AWS_LAMBDA_FUNCTION_NAME says which function); each invocation makes the function's main AWS call
with the same input. It is the usual Python shape of these functions, not a port of their logic:
no plan validation, no error classification, one call per invocation.
"""

import json
import os

import boto3

FUNCTION = os.environ["AWS_LAMBDA_FUNCTION_NAME"].removeprefix("fleetshift-")
REGION = os.environ["AWS_REGION"]

if FUNCTION in ("start-migration", "check-migration"):
    workspaces = boto3.client("workspaces")
    lex = boto3.client("lex-models")
elif FUNCTION in ("create-standby", "poll-image-import"):
    workspaces = boto3.client("workspaces")
elif FUNCTION == "push-hub-update":
    hub = boto3.client("mgh", region_name=os.environ.get("HUB_HOME_REGION") or REGION)
    events = boto3.client("events")
elif FUNCTION == "start-wave":
    sfn = boto3.client("stepfunctions")
else:
    raise RuntimeError(f"unknown function {FUNCTION}")


def handler(event, _context):
    if FUNCTION == "start-migration":
        r = workspaces.migrate_workspace(
            SourceWorkspaceId=event["workspaceId"], BundleId=event["bundleId"]
        )
        return {"sourceWorkspaceId": r["SourceWorkspaceId"], "targetWorkspaceId": r["TargetWorkspaceId"]}
    if FUNCTION == "check-migration":
        r = workspaces.describe_workspaces(WorkspaceIds=[event["targetWorkspaceId"]])
        state = r["Workspaces"][0]["State"] if r["Workspaces"] else "UNKNOWN"
        return {"status": "COMPLETED" if state == "AVAILABLE" else "IN_PROGRESS", "state": state}
    if FUNCTION == "create-standby":
        s = event["standby"]
        standby = boto3.client("workspaces", region_name=s["region"])
        r = standby.create_standby_workspaces(
            PrimaryRegion=event["primaryRegion"],
            StandbyWorkspaces=[
                {"PrimaryWorkspaceId": w, "DirectoryId": s["directoryId"],
                 "DataReplication": s["dataReplication"]}
                for w in event["workspaceIds"]
            ],
        )
        return {"pending": len(r.get("PendingStandbyRequests", [])),
                "failed": len(r.get("FailedStandbyRequests", []))}
    if FUNCTION == "poll-image-import":
        r = workspaces.describe_custom_workspace_image_import(ImageId=event["imageId"])
        return {"state": r["State"], "progressPercentage": r.get("ProgressPercentage")}
    if FUNCTION == "push-hub-update":
        detail = {"waveId": event["waveId"], "task": event["task"], "status": event["status"]}
        events.put_events(Entries=[{
            "Source": "fleetshift", "DetailType": "Migration Progress",
            "Detail": json.dumps(detail), "EventBusName": os.environ.get("EVENT_BUS_NAME", "default"),
        }])
        return {}
    if FUNCTION == "start-wave":
        plan = event["detail"]
        r = sfn.start_execution(
            stateMachineArn=os.environ["STATE_MACHINE_ARN"],
            name=plan["waveId"] + "-py",
            input=json.dumps(plan),
        )
        return {"executionArn": r["executionArn"]}
    raise RuntimeError(f"unknown function {FUNCTION}")
