"""Every command's `--help` teaches: what it does, its options, examples, and its exit codes.

The test walks the whole click tree, so a command added later cannot leave them out. Each
example must be a command line click accepts, and each exit code one docs/cli.md documents.
"""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from tests.cli.commandlines import check_parses, subcommands, words
from tests.conftest import REPO


def _tree(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, click.Group):
        for name, sub in sorted(subcommands(command).items()):
            found += _tree(sub, (*path, name))
    return found


def _all_commands() -> list[tuple[str, ...]]:
    from reconciler.cli import main

    return _tree(main)


def _help(path: tuple[str, ...]) -> str:
    from reconciler.cli import main

    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _section(text: str, heading: str) -> list[str]:
    """The lines of the help section that starts with `heading`, up to the next blank line."""
    match = re.search(rf"^ *{heading}\b[^\n:]*:(.*)$", text, re.MULTILINE)
    assert match, f"no {heading!r} section"
    lines = [match.group(1)]
    for line in text[match.end() + 1 :].splitlines():
        if not line.strip():
            break
        lines.append(line)
    return lines


def _documented_exit_codes() -> set[int]:
    text = (REPO / "docs" / "cli.md").read_text()
    table = text.split("## Exit codes", 1)[1]
    return {int(code) for code in re.findall(r"^\| (\d) \|", table, re.MULTILINE)}


def test_the_walk_finds_every_command() -> None:
    """A guard on the walk itself: nested commands are found, not only the top level."""
    found = {" ".join(path) for path in _all_commands()}
    assert {"", "run", "request", "sim", "sim set", "breaker reset", "demo"} <= found


@pytest.mark.parametrize("path", _all_commands(), ids=lambda path: " ".join(path) or "reconciler")
def test_every_help_has_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert re.search(r"^  \S", text, re.MULTILINE), "no description"
    assert "Options:" in text
    examples = [line.strip() for line in _section(text, "Examples")[1:] if line.strip()]
    assert examples, "the Examples section is empty"
    exits = " ".join(_section(text, "Exit codes"))
    codes = {int(code) for code in re.findall(r"(?<![\w/.-])(\d)(?= [a-z])", exits)}
    assert 2 in codes, f"exit code 2 (usage) is not listed: {exits}"
    assert codes <= _documented_exit_codes(), f"{codes} are not all in docs/cli.md"
    if not path:
        return  # the top level's examples are a tour, each with a description beside it
    for example in examples:
        if not example.startswith("reconciler "):
            assert example.startswith("make "), example
            continue
        # A person copies these: each must be a command line click accepts as written.
        check_parses(words(example)[1:])


def test_run_and_request_list_every_exit_code_they_can_return() -> None:
    """The codes the first user missed: run's 2 and 4, request's 2, 3 and 4."""
    for path, wanted in ((("run",), {0, 1, 2, 3, 4, 5}), (("request",), {0, 1, 2, 3, 4, 5})):
        exits = " ".join(_section(_help(path), "Exit codes"))
        codes = {int(code) for code in re.findall(r"(?<![\w/.-])(\d)(?= [a-z])", exits)}
        assert codes == wanted, path
