#!/usr/bin/env python3
"""A minimal Lambda custom runtime for the cold start benchmark (crates/cli/examples/cold_start.rs).

The same loop AWS's Python runtime interface client runs, with the standard library only: import
the handler (its init: boto3 and the clients), then GET .../invocation/next, call the handler,
POST .../response or .../error, forever. An init failure is POSTed to .../init/error.
"""

import json
import os
import sys
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, body, error_type=None):
    req = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if error_type:
        req.add_header("Lambda-Runtime-Function-Error-Type", error_type)
    urllib.request.urlopen(req).read()


def diagnostic(exc):
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")


def main():
    try:
        import handler  # noqa: PLC0415 - the import is the init being measured
    except Exception as exc:  # noqa: BLE001 - reported to the Runtime API, as Lambda does
        post("/init/error", diagnostic(exc), "Runtime.InitError")
        sys.exit(1)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as resp:
            event = json.loads(resp.read() or b"null")
            context = Context(resp.headers)
        try:
            result = handler.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - the function's error, reported as Lambda does
            post(f"/invocation/{context.aws_request_id}/error", diagnostic(exc), "Unhandled")
            continue
        post(f"/invocation/{context.aws_request_id}/response", result)


if __name__ == "__main__":
    main()
