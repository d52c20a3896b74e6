"""Writes reconciler/help_text.py, the top-level help the console script prints without
importing click, from click's own rendering (`make help-text`; tests/cli/test_entry.py fails
with that hint when the kept text and click's differ)."""

from __future__ import annotations

import click

from reconciler.cli import main
from tests.conftest import REPO

MODULE = REPO / "reconciler" / "help_text.py"

#: The widths kept: a pipe or an 80-column terminal (80 - 2), and a terminal of 102 columns or
#: more (the command's max_content_width of 100, less 2).
WIDTHS = (78, 98)


def rendering(width: int) -> str:
    """`reconciler --help` as click prints it at WIDTH, its final line break included."""
    saved = click.formatting.FORCED_WIDTH
    click.formatting.FORCED_WIDTH = width
    try:
        with click.Context(main, info_name="reconciler", **main.context_settings) as context:
            return main.get_help(context) + "\n"
    finally:
        click.formatting.FORCED_WIDTH = saved


def literal(text: str) -> str:
    """TEXT as a triple-quoted literal whose lines are the help's own lines."""
    assert '"""' not in text
    return '"""\\\n' + text.replace("\\", "\\\\") + '"""'


def module_text() -> str:
    entries = "".join(f"    {width}: {literal(rendering(width))},\n" for width in WIDTHS)
    return (
        '"""`reconciler --help` as click renders it, kept so that the console script prints it\n'
        "without importing click (see entry.py). Written by `make help-text` from\n"
        'tests/cli/render_help.py; do not edit by hand."""\n'
        "\n"
        "#: The help, by the width click wraps it to.\n"
        "HELP = {\n"
        f"{entries}"
        "}\n"
    )


if __name__ == "__main__":
    MODULE.write_text(module_text())
    print(f"wrote {MODULE.relative_to(REPO)}")
