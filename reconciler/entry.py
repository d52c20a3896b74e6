"""The `reconciler` console script: the command line, except that the help and the version a
bare `reconciler`, `reconciler -h`, `reconciler --help` or `reconciler --version` print come
from text kept in `help_text.py` rather than from click.

Importing click costs more than starting the interpreter, and these are the invocations a
person types to find their way. The kept text is click's own rendering of `reconciler.cli`
at the widths click picks for a pipe or an 80-column terminal and for a terminal of 102
columns or more; tests/cli/test_entry.py checks that it is, byte for byte, and `make
help-text` writes it again. Whenever the output could differ from click's (another width,
COLUMNS or LINES set, shell completion asked for, the script under another name, an output
that is not UTF-8, any other argument), click runs as it always does.

This module imports nothing beyond what the interpreter has already loaded at start-up.
"""

from __future__ import annotations

import codecs
import os
import sys

TYPE_CHECKING = False  # typing itself is not loaded at start-up, and costs milliseconds
if TYPE_CHECKING:
    from typing import TextIO

#: `context_settings["max_content_width"]` of `reconciler.cli.main`: click's help is never
#: wider than this, less its margin of 2.
MAX_CONTENT_WIDTH = 100
#: What shutil.get_terminal_size() answers when standard output is no terminal.
FALLBACK_COLUMNS = 80

#: The environment variables that change click's output for these arguments: the terminal's
#: size, read by shutil, and the variable that turns the command into shell completion.
ENVIRONMENT = ("COLUMNS", "LINES", "_RECONCILER_COMPLETE")

#: Collections of the youngest generation every 50,000 allocations rather than 700, of the
#: middle one every 50 of those, and of everything next to never: the thresholds a command
#: runs under (`reconciler.cli` sets them as it invokes a command, and says why).
GC_THRESHOLDS = (50_000, 50, 1_000)


def help_width() -> int:
    """The width click renders help at when COLUMNS and LINES are unset: the terminal's
    columns (80 when standard output is no terminal) at most `MAX_CONTENT_WIDTH`, less 2,
    and never under 50."""
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = FALLBACK_COLUMNS
    return max(min(columns or FALLBACK_COLUMNS, MAX_CONTENT_WIDTH) - 2, 50)


def kept_answer(argv: list[str]) -> tuple[str, str, int] | None:
    """What click would print for ARGV (the stream, the text and the exit code), when the kept
    text holds it; None when click must run."""
    name = os.path.basename(argv[0])  # noqa: PTH119  # pathlib is not loaded at start-up
    if name != "reconciler" or any(variable in os.environ for variable in ENVIRONMENT):
        return None
    if argv[1:] == ["--version"]:
        from reconciler import __version__

        return ("stdout", f"reconciler, version {__version__}\n", 0)
    if argv[1:] not in ([], ["-h"], ["--help"]):
        return None
    from reconciler.help_text import HELP

    text = HELP.get(help_width())
    if text is None:
        return None
    # With no arguments click shows the help as a usage error: on standard error, exit 2.
    return ("stderr", text, 2) if len(argv) == 1 else ("stdout", text, 0)


#: The characters the command line's words use beyond ASCII, and what an output whose encoding
#: cannot hold them (a Latin-1 or ASCII locale, PYTHONIOENCODING) shows instead. Anything else
#: it cannot hold becomes "?". JSON output is ASCII already: only words are affected.
PLAIN = {
    "→": "->",
    "×": "x",
    "…": "...",
    "≈": "~",
    "±": "+/-",
    "✓": "ok",
    "✗": "x",
    "✅": "[ok]",
    "❌": "[x]",
    "⚠": "[!]",
    "⛔": "[forbidden]",
    "⏳": "[waiting]",
    "\ufe0f": "",  # the variation selector that asks for an emoji's colour form
}

PLAIN_ERRORS = "reconciler-plain"


def _plain(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    shown = error.object[error.start : error.end]
    return "".join(PLAIN.get(character, "?") for character in shown), error.end


codecs.register_error(PLAIN_ERRORS, _plain)


def readable(stream: TextIO | None) -> None:
    """Let STREAM show every message even when its encoding cannot hold an arrow: a command
    that decided and recorded must not end in a UnicodeEncodeError while printing what it did.
    A UTF-8 stream is left as it is."""
    if stream is None or _utf8(stream):
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors=PLAIN_ERRORS)


def _utf8(stream: TextIO) -> bool:
    try:
        return codecs.lookup(stream.encoding).name == "utf-8"
    except (LookupError, TypeError):
        return False


def main() -> None:
    readable(sys.stdout)
    readable(sys.stderr)
    answer = kept_answer(sys.argv)
    if answer is not None:
        where, text, code = answer
        stream: TextIO = sys.stderr if where == "stderr" else sys.stdout
        if _utf8(stream):
            _print(stream, text)
            sys.exit(code)
    collect_rarely()
    from reconciler.cli import main as command_line

    command_line()


def collect_rarely() -> None:
    """Set `GC_THRESHOLDS` before click and the command line are imported rather than when
    the command is invoked: importing them makes enough objects for the collector to run
    about twenty times at Python's default thresholds, a few milliseconds of a short run,
    while what they make stays for the whole process."""
    import gc  # built into the interpreter: nothing to load

    gc.set_threshold(*GC_THRESHOLDS)


def _print(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        # As click does when the reader has gone: no traceback, exit 1, and nothing left to
        # flush into the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        sys.exit(1)
