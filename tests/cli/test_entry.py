"""The console script prints the top-level help and the version without click, and exactly
what click would have printed: the kept text is click's own rendering, the width is the one
click would pick, and anything the kept text does not cover goes to click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler import entry
from reconciler.cli import main as command_line
from reconciler.help_text import HELP
from tests.cli.render_help import MODULE, WIDTHS, module_text, rendering

SCRIPT = Path(sys.executable).with_name("reconciler")

#: The arguments the kept text answers.
KEPT = [("--help",), ("-h",), (), ("--version",)]


def _clean_environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in entry.ENVIRONMENT}
    return {**environment, **extra}


def _run(*argv: str, **extra: str) -> tuple[str, str, int]:
    result = subprocess.run(
        [str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        env=_clean_environment(**extra),
    )
    return (result.stdout, result.stderr, result.returncode)


def test_the_kept_help_is_clicks_rendering() -> None:
    assert MODULE.read_text() == module_text(), "run `make help-text`"
    assert sorted(HELP) == sorted(WIDTHS)
    for width, text in HELP.items():
        assert text == rendering(width)
        assert "\n  validate " in text  # the commands are listed
    assert HELP[78] != HELP[98]  # the options' help is wrapped to each width


@pytest.mark.parametrize("argv", KEPT, ids=lambda argv: " ".join(argv) or "no arguments")
def test_the_console_script_prints_what_click_prints(argv: tuple[str, ...]) -> None:
    kept = _run(*argv)
    # COLUMNS=80 sends the script to click, which then wraps at 78 as it does in a pipe
    clicks = _run(*argv, COLUMNS="80", LINES="24")
    assert kept == clicks
    assert kept[2] == (2 if not argv else 0)
    assert "reconciler" in kept[0] + kept[1]


def test_the_options_environment_does_not_change_clicks_help() -> None:
    """The kept text stands for click's whatever the options' variables hold: click shows an
    option's default, never the value its variable would give."""
    variables = {
        name: "kubernetes" if parameter.name == "cluster" else "7"
        for parameter in command_line.params
        for name in ([parameter.envvar] if isinstance(parameter.envvar, str) else [])
    }
    assert "RECONCILER_CLUSTER" in variables
    assert _run("--help", COLUMNS="80", LINES="24", **variables) == _run("--help")


@pytest.mark.parametrize("argv", KEPT, ids=lambda argv: " ".join(argv) or "no arguments")
def test_the_kept_answers_import_neither_click_nor_a_command(
    argv: tuple[str, ...], tmp_path: Path
) -> None:
    listing = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        f"sys.argv = ['/bin/reconciler', *{list(argv)!r}]\n"
        "from reconciler.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"open({str(listing)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, env=_clean_environment()
    )
    modules = set(json.loads(listing.read_text()))
    assert "click" not in modules
    assert "typing" not in modules
    assert {m for m in modules if m.startswith("reconciler")} <= {
        "reconciler",
        "reconciler.entry",
        "reconciler.help_text",
    }


#: Runs a command's help the way START says, and prints the collector's thresholds at the
#: moment click is first imported.
_THRESHOLDS_AT_CLICK = """\
import gc, json, runpy, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "click" and not seen:
            seen.append(gc.get_threshold())
sys.meta_path.insert(0, Watch())
sys.argv = ["/bin/reconciler", "run", "--help"]
try:
    {start}
except SystemExit:
    pass
print(json.dumps(seen))
"""


@pytest.mark.parametrize(
    "start",
    [
        "from reconciler.entry import main; main()",  # the console script
        "runpy.run_module('reconciler', run_name='__main__')",  # python -m reconciler
    ],
    ids=["console script", "python -m"],
)
def test_the_collectors_thresholds_are_set_before_the_command_line_is_imported(
    start: str,
) -> None:
    """Importing click and the command line makes enough objects to run the collector about
    twenty times at the default thresholds; a command sets its own before that."""
    found = subprocess.run(
        [sys.executable, "-c", _THRESHOLDS_AT_CLICK.format(start=start)],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_environment(),
    )
    assert entry.GC_THRESHOLDS != (700, 10, 10)  # Python's own
    assert json.loads(found.stdout.splitlines()[-1]) == [list(entry.GC_THRESHOLDS)]


@pytest.mark.parametrize("columns", [0, 40, 52, 60, 79, 80, 81, 100, 101, 102, 103, 250])
def test_the_width_is_the_one_click_picks(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in entry.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((columns, 24)))
    clicks = click.HelpFormatter(max_width=command_line.context_settings["max_content_width"])
    assert entry.help_width() == clicks.width


def test_without_a_terminal_the_width_is_clicks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in entry.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    def no_terminal(fd: int = 1) -> os.terminal_size:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    assert entry.help_width() == click.HelpFormatter(max_width=100).width == 78
    assert command_line.context_settings["max_content_width"] == entry.MAX_CONTENT_WIDTH


@pytest.mark.parametrize(
    ("argv", "environment"),
    [
        (["reconciler", "--help"], {"COLUMNS": "120"}),
        (["reconciler", "--help"], {"LINES": "40"}),
        (["reconciler"], {"_RECONCILER_COMPLETE": "bash_source"}),
        (["/usr/bin/rec", "--help"], {}),
        (["reconciler", "--help", "--repo", "x"], {}),
        (["reconciler", "-h", "run"], {}),
        (["reconciler", "run"], {}),
        (["reconciler", "--version", "--help"], {}),
    ],
)
def test_anything_else_goes_to_click(
    argv: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in entry.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert entry.kept_answer(argv) is None


def test_a_width_without_kept_text_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in entry.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((90, 24)))
    assert entry.kept_answer(["reconciler", "--help"]) is None
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((140, 24)))
    assert entry.kept_answer(["/venv/bin/reconciler", "--help"]) == ("stdout", HELP[98], 0)


def test_an_output_that_is_not_utf8_goes_to_click() -> None:
    kept = _run("--help", PYTHONIOENCODING="latin-1")
    assert kept == _run("--help", PYTHONIOENCODING="latin-1", COLUMNS="80", LINES="24")


def test_a_closed_pipe_ends_as_it_does_under_click() -> None:
    def closed_pipe(**extra: str) -> tuple[int, str]:
        read, write = os.pipe()
        os.close(read)
        try:
            result = subprocess.run(
                [str(SCRIPT), "--help"],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
                env=_clean_environment(**extra),
            )
        finally:
            os.close(write)
        return (result.returncode, result.stderr)

    assert closed_pipe() == closed_pipe(COLUMNS="80", LINES="24") == (1, "")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
@pytest.mark.parametrize("argv", [("--help",), ("explain", "--help"), ("run", "--help")])
def test_an_output_that_cannot_hold_an_arrow_still_shows_the_words(
    encoding: str, argv: tuple[str, ...]
) -> None:
    result = subprocess.run(
        [str(SCRIPT), *argv],
        capture_output=True,
        check=False,
        env=_clean_environment(PYTHONIOENCODING=encoding),
    )
    assert result.returncode == 0, result.stderr.decode(encoding, "replace")
    assert b"Traceback" not in result.stderr
    assert "→".encode() not in result.stdout
    result.stdout.decode(encoding)  # nothing outside the encoding was written
    assert b"Usage: reconciler" in result.stdout


def test_a_plain_output_gets_the_ascii_form_of_each_character() -> None:
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    entry.readable(stream)
    stream.write("2 → 3 × 1.5 … ≈60% (±10%) ✓ ✗ ✅ ❌ ⚠️ ⛔ ⏳ ρ")
    stream.flush()
    assert (
        raw.getvalue()
        == b"2 -> 3 x 1.5 ... ~60% (+/-10%) ok x [ok] [x] [!] [forbidden] [waiting] ?"
    )


def test_a_utf8_output_is_left_as_it_is() -> None:
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    entry.readable(stream)
    assert stream.errors == "strict"
    stream.write("2 → 3")
    stream.flush()
    assert raw.getvalue() == "2 → 3".encode()


def test_python_dash_m_goes_through_the_same_entry() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "explain", "--help"],
        capture_output=True,
        check=False,
        env=_clean_environment(PYTHONIOENCODING="latin-1"),
    )
    assert result.returncode == 0, result.stderr.decode("latin-1")
    assert b"Usage: python -m reconciler explain" in result.stdout
    result.stdout.decode("latin-1")
