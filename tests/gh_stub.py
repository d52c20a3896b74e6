"""A stand-in for the GitHub command line `gh`, for tests that follow the docs.

It does what the docs' `gh` commands do to GitHub, on this machine: `repo create` makes a bare
repository under GH_STUB_GIT_BASE (which the test serves as github.com), `variable set` and
`secret set` remember values, `workflow run` remembers a dispatch for the test to run, and
`run list` lists the runs the test recorded. Everything lands in GH_STUB_STATE/gh.json. Any
other command fails loudly, so a doc cannot use one the test does not know.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def _state() -> tuple[Path, dict[str, object]]:
    path = Path(os.environ["GH_STUB_STATE"]) / "gh.json"
    return path, json.loads(path.read_text()) if path.exists() else {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gh")
    commands = parser.add_subparsers(dest="group", required=True)
    repo = commands.add_parser("repo").add_subparsers(dest="action", required=True)
    create = repo.add_parser("create")
    create.add_argument("name")
    create.add_argument("--private", action="store_true")
    create.add_argument("--public", action="store_true")
    for group in ("variable", "secret"):
        setter = commands.add_parser(group).add_subparsers(dest="action", required=True)
        set_ = setter.add_parser("set")
        set_.add_argument("name")
        set_.add_argument("--body")
    workflow = commands.add_parser("workflow").add_subparsers(dest="action", required=True)
    dispatch = workflow.add_parser("run")
    dispatch.add_argument("workflow")
    dispatch.add_argument("-f", "--raw-field", action="append", default=[])
    runs = commands.add_parser("run").add_subparsers(dest="action", required=True)
    listing = runs.add_parser("list")
    listing.add_argument("--workflow")
    args = parser.parse_args(argv)

    path, state = _state()
    if args.group == "repo":
        bare = Path(os.environ["GH_STUB_GIT_BASE"]) / args.name
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        state.setdefault("repositories", []).append(args.name)  # type: ignore[union-attr]
        print(f"✓ Created repository {args.name} on GitHub")
    elif args.group in {"variable", "secret"}:
        value = args.body if args.body is not None else sys.stdin.read()
        state.setdefault(f"{args.group}s", {})[args.name] = value  # type: ignore[index]
        print(f"✓ Set {args.group} {args.name}")
    elif args.group == "workflow":
        inputs = dict(field.split("=", 1) for field in args.raw_field)
        entry = {"workflow": args.workflow, "inputs": inputs}
        state.setdefault("dispatches", []).append(entry)  # type: ignore[union-attr]
        print(f"✓ Created workflow_dispatch event for {args.workflow}.yml")
    else:
        recorded = Path(os.environ["GH_STUB_STATE"]) / "runs.json"
        for run in json.loads(recorded.read_text()) if recorded.exists() else []:
            print(f"completed\t{run['conclusion']}\t{args.workflow}\t{run['event']}")
    path.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
