#!/usr/bin/env python3
"""Helpers of scripts/bench (standard library only).

  bench.py machine OUT.json                 the machine the figures were measured on
  bench.py size OUT.json LAMBDA_DIR FN...   each function's arm64 bootstrap size
  bench.py engine-node OUT.json NODE_JSON   the aws-local-stepfunctions run, with its median
  bench.py carry KEY RESULTS.json OUT.json  keep a skipped benchmark's last committed figures
  bench.py merge DIR RESULTS.json RESULTS.md   every DIR/*.json into one document, then the report
  bench.py render RESULTS.json RESULTS.md       the report again from the same figures (notes edited)
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

SIZE_GOAL_BYTES = 8 * 1000 * 1000  # 8 MB, decimal, as AWS quotes package sizes


def write(path, value):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(value, indent=2) + "\n")


def machine(out):
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    write(out, {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": int(first(["nproc"]) or os.cpu_count() or 0),
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "cpu": cpu,
        "kernel": platform.release(),
        "rustc": first(["rustc", "--version"]),
        "cargo_lambda": first(["cargo-lambda", "lambda", "--version"]),
        "git_commit": first(["git", "rev-parse", "--short", "HEAD"]),
        # Tracked files changed since that commit: the figures would not be the commit's.
        "git_dirty": bool(first(["git", "status", "--porcelain", "--untracked-files=no"])),
    })


def size(out, lambda_dir, functions):
    rows = []
    for fn in functions:
        path = Path(lambda_dir) / fn / "bootstrap"
        n = path.stat().st_size if path.exists() else None
        rows.append({
            "function": fn,
            "bytes": n,
            "mb": round(n / 1e6, 2) if n else None,
            "mib": round(n / 2**20, 2) if n else None,
            "meets_goal": n is not None and n <= SIZE_GOAL_BYTES,
        })
    sizes = [r["bytes"] for r in rows if r["bytes"]]
    write(out, {
        "what": "arm64 bootstrap of each function from `cargo lambda build --release --arm64` (stripped, LTO)",
        "goal": "<= 8 MB",
        "functions": rows,
        "largest_mb": round(max(sizes) / 1e6, 2) if sizes else None,
        "all_meet_goal": bool(rows) and all(r["meets_goal"] for r in rows),
    })


def engine_node(out, node_json):
    run = json.loads(Path(node_json).read_text().strip().splitlines()[-1])
    med = statistics.median(run["seconds"])
    run["seconds_median"] = med
    run["transitions_per_second"] = run["transitions"] / med
    write(out, run)


def carry(key, results_json, out):
    """Keeps a benchmark this run skipped (e.g. --no-size) from the last committed results."""
    try:
        previous = json.loads(Path(results_json).read_text()).get(key)
    except (OSError, json.JSONDecodeError):
        previous = None
    if previous is not None:
        previous.setdefault("measured", json.loads(Path(results_json).read_text())
                            .get("machine", {}).get("date"))
        write(out, previous)


# ---------------------------------------------------------------- report


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def generic(value):
    """A table of the scalar figures of an unknown benchmark (one row per list item)."""
    if isinstance(value, dict):
        lists = [(k, v) for k, v in value.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        scalars = [(k, v) for k, v in value.items() if not isinstance(v, (dict, list))]
        parts = []
        if scalars:
            parts.append(table(["figure", "value"], scalars))
        for k, items in lists:
            cols = [c for c in items[0] if not isinstance(items[0][c], (dict, list))]
            parts.append(f"{k}:\n\n" + table(cols, [[i.get(c) for c in cols] for i in items]))
        return "\n\n".join(parts) if parts else "```json\n" + json.dumps(value, indent=2) + "\n```"
    return "```json\n" + json.dumps(value, indent=2) + "\n```"


NOTES = {}


def note(key):
    """Hand-written analysis for a section: bench/notes/<key>.md, when present."""
    text = NOTES.get(key)
    return [text.strip(), ""] if text else []


def met(ok):
    return "**met**" if ok else "**not met**"


def render(results):
    out = ["# Benchmark results", ""]
    out.append("Written by `scripts/bench` from `bench/results.json`; do not edit by hand. "
               "Medians over several runs; ratios measured side by side in the same run.")
    out.append("")
    m = results.get("machine", {})
    out += ["## Machine", "", table(["", ""], [
        ["date (UTC)", m.get("date")], ["nproc", m.get("nproc")],
        ["memory", f"{m.get('memory_gib')} GiB"], ["CPU", m.get("cpu")],
        ["kernel", m.get("kernel")], ["rustc", m.get("rustc")],
        ["cargo-lambda", m.get("cargo_lambda")],
        ["commit", f"{m.get('git_commit')}" + (" (with uncommitted changes)" if m.get("git_dirty") else "")],
    ]), ""]

    cs = results.get("cold-start")
    out += ["## 1. Cold start", ""]
    if cs is None:
        out += ["Not measured in this run (`cargo run --release -p fleetshift --example cold_start` "
                "did not write `target/bench/cold-start.json`).", ""]
    else:
        out += ["From `target/bench/cold-start.json` (see its program for the method).", "", generic(cs), ""]

    sz = results.get("size")
    out += ["## 2. Size", ""]
    if sz is None:
        out += ["Not measured in this run.", ""]
    else:
        if sz.get("measured"):
            out += [f"Not rebuilt in this run (`--no-size`): the figures of {sz['measured']}.", ""]
        out += [f"{sz['what']}. Goal {sz['goal']} (8,000,000 bytes): {met(sz['all_meet_goal'])}, "
                f"largest {fmt(sz['largest_mb'])} MB.", "",
                table(["function", "bytes", "MB", "MiB", "<= 8 MB"],
                      [[r["function"], r["bytes"], r["mb"], r["mib"], r["meets_goal"]] for r in sz["functions"]]),
                ""]
    out += note("size")

    wt = results.get("wave-throughput")
    out += ["## 3. Wave throughput", ""]
    if wt is None:
        out += ["Not measured in this run.", ""]
    else:
        ten = next((s for s in wt["sizes"] if s["workspaces"] == 10_000), None)
        verdict = met(ten is not None and ten["wall_seconds_median"] < 30) if ten else "n/a"
        out += [f"{wt['what']}; each run a fresh process. {wt['split'][0].upper()}{wt['split'][1:]}. "
                f"Goal {wt['goal']}: {verdict}.", "",
                table(["WorkSpaces", "waves", "completed", "exit 0", "runs", "wall s (median)", "ms / WorkSpace",
                       "vs smallest (1.0 = linear)", "peak RSS MiB", "virtual hours"],
                      [[s["workspaces"], s["waves"], s["completed"], s.get("all_runs_exit_0"), s["runs"],
                        s["wall_seconds_median"], s["ms_per_workspace"], s["per_workspace_vs_smallest"],
                        s["peak_rss_mib_median"], s["virtual_hours"]] for s in wt["sizes"]]), ""]
        if wt.get("command"):
            out += [f"Command: `{wt['command']}`; peak RSS: {wt.get('peak_rss')}. Wall seconds of each run: " +
                    "; ".join(f"{fmt(s['workspaces'])}: " + ", ".join(fmt(x) for x in s["wall_seconds_runs"])
                              for s in wt["sizes"]) + ".", ""]
    out += note("wave-throughput")

    co = results.get("cost")
    out += ["## 4. Cost per WorkSpace on AWS", ""]
    if co is None:
        out += ["Not measured in this run.", ""]
    else:
        p = co["prices"]
        d = next(v for v in co["variants"] if v["variant"] == "default")
        ok = d["transitions_per_workspace"] <= 25 and d["usd_per_1000_workspaces"]["total"] <= 0.60
        out += [f"{co['what']}. Goal {co['goal']}: {met(ok)} for the default plan.", "",
                f"Prices ({p['region']}): Step Functions Standard ${p['step_functions_standard_usd_per_1000_transitions']:.3f} "
                f"per 1,000 state transitions ([aws.amazon.com/step-functions/pricing](https://aws.amazon.com/step-functions/pricing/)); "
                f"Lambda arm64 ${p['lambda_arm64_usd_per_gb_second']:.10f} per GB-second (first 7.5 billion GB-s a month) and "
                f"${p['lambda_usd_per_1m_requests']:.2f} per 1M requests ([aws.amazon.com/lambda/pricing](https://aws.amazon.com/lambda/pricing/)), "
                f"at the template's MemorySize {fmt(p['memory_mb'], 0)} MB and an assumed "
                f"{fmt(p['assumed_billed_ms_per_invocation'], 0)} ms billed per invocation. Free tiers ignored.", "",
                table(["plan", "transitions / WS", "parent share", "child", "Lambda invocations / WS",
                       "AWS API calls / WS", "USD / 1,000 WS: Step Functions", "Lambda", "total"],
                      [[v["variant"], v["transitions_per_workspace"], v["transitions_parent_share"],
                        v["transitions_child"], v["lambda_invocations_per_workspace"], v["api_calls_per_workspace"],
                        f"${v['usd_per_1000_workspaces']['step_functions']:.3f}",
                        f"${v['usd_per_1000_workspaces']['lambda_requests'] + v['usd_per_1000_workspaces']['lambda_duration']:.4f}",
                        f"${v['usd_per_1000_workspaces']['total']:.3f}"] for v in co["variants"]]), ""]
        out += ["States entered per WorkSpace in its child execution (default plan): " +
                ", ".join(f"{k} {fmt(n / d['workspaces'])}" for k, n in d["child_states"].items()) + ".", ""]
        out += ["AWS API calls per WorkSpace (default plan): " +
                ", ".join(f"{k} {fmt(n)}" for k, n in d["api_calls"].items()) + ".", ""]
    out += note("cost")

    out += ["## 5. Engine: sfn-local vs aws-local-stepfunctions", ""]
    rs, node = results.get("engine-sfn-local"), results.get("engine-aws-local-stepfunctions")
    if rs is None:
        out += ["Not measured in this run.", ""]
    else:
        def row(name, e):
            return [name, e["transitions"], len(e["seconds"]), e["seconds_median"] * 1000,
                    min(e["seconds"]) * 1000, max(e["seconds"]) * 1000, e["transitions_per_second"],
                    e["peak_rss_kib"] / 1024]

        rows = [row("sfn-local", rs)]
        if node:
            rows.append(row(f"aws-local-stepfunctions (Node {node['node']})", node))
        out += ["`bench/engine/map-5-tasks.asl.json` (a 1,000-item inline Map of five trivial Lambda Tasks, "
                "each handler returning its input) on both engines, one after the other in the same run.", "",
                table(["engine", "transitions", "runs", "median ms", "fastest ms", "slowest ms", "transitions / s",
                       "peak RSS MiB"], rows), ""]
        if node:
            out += [f"Ratio: sfn-local is **{node['seconds_median'] / rs['seconds_median']:.1f}x** faster "
                    "(median wall time of aws-local-stepfunctions / sfn-local).", ""]
        else:
            out += ["aws-local-stepfunctions was not run (no Node or npm).", ""]
    out += note("engine")
    sb = results.get("sfn-local-bench")
    if sb:
        out += [f"sfn-local's own bench example (`cargo run --release -p sfn-local --example bench`, best of 3): "
                f"{fmt(sb.get('transitions'))} transitions in {fmt(sb.get('seconds', 0) * 1000, 1)} ms, "
                f"{fmt(sb.get('transitions_per_second'), 0)} transitions/s, peak RSS "
                f"{fmt(sb.get('peak_rss_kib', 0) / 1024, 1)} MiB.", ""]

    known = {"machine", "cold-start", "size", "wave-throughput", "cost", "engine-sfn-local",
             "engine-aws-local-stepfunctions", "sfn-local-bench"}
    for key in sorted(k for k in results if k not in known):
        out += [f"## {key}", "", generic(results[key]), ""]
    out += ["## Reproduce", "", "```sh", "scripts/bench            # every benchmark (the arm64 build is slow)",
            "BENCH_RUNS=5 scripts/bench", "```", ""]
    return "\n".join(out)


def merge(directory, results_json, results_md):
    results = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            results[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            print(f"bench: skipping {path}: {e}", file=sys.stderr)
    write(results_json, results)
    load_notes(results_md)
    Path(results_md).write_text(render(results))


def load_notes(results_md):
    for path in (Path(results_md).parent / "notes").glob("*.md"):
        NOTES[path.stem] = path.read_text()


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "machine":
        machine(*args)
    elif cmd == "size":
        size(args[0], args[1], args[2:])
    elif cmd == "engine-node":
        engine_node(*args)
    elif cmd == "carry":
        carry(*args)
    elif cmd == "merge":
        merge(*args)
    elif cmd == "render":  # RESULTS.json RESULTS.md: the report again (e.g. after editing a note)
        load_notes(args[1])
        Path(args[1]).write_text(render(json.loads(Path(args[0]).read_text())))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
