"""Reading a `reconciler ...` command line the way a shell and click would, without running it.

Help texts and the demo show command lines for people to copy; these helpers check that such a
line splits into the words meant and that click accepts every option and argument in it.
"""

from __future__ import annotations

import shlex

import click

#: Where a shell command line stops being the reconciler's: a pipe, a redirection, `&&`, `;`.
_SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&"}


def words(line: str) -> list[str]:
    """The words of a shell command line up to its first operator, comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found = []
    for token in lexer:
        if token in _SHELL_OPERATORS:
            break
        found.append(token)
    return found


def subcommands(group: click.Group) -> dict[str, click.Command]:
    """A group's subcommands by name, in the order its help lists them (the top level imports
    each command's module here, as running it would)."""
    context = click.Context(group)
    found = {}
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        found[name] = command
    return found


def command_path(argv: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The command an argv (without the program name) invokes, and the arguments it gets.

    Global options are skipped by what the top-level command says about them (a flag takes no
    value), then each word names a subcommand until a command that is not a group.
    """
    from reconciler.cli import main

    flags = {
        opt: param.is_flag
        for param in main.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        word = argv[index]
        assert word.split("=")[0] in flags, f"unknown global option {word}"
        index += 1 if "=" in word or flags[word] else 2
    if index:  # the global options' values, checked by click (the command is looked up below)
        with main.make_context("reconciler", argv[: index + 1]):
            pass
    path: list[str] = []
    command: click.Command = main
    while isinstance(command, click.Group):
        assert index < len(argv), f"{argv}: no command after {path}"
        name = argv[index]
        found = subcommands(command)
        assert name in found, f"{argv}: no command {name!r} under {path}"
        command = found[name]
        path.append(name)
        index += 1
    return path, command, argv[index:]


def check_parses(argv: list[str]) -> list[str]:
    """The command path of `argv`, after click has parsed all its options and arguments (a
    usage error raises)."""
    path, command, rest = command_path(argv)
    with command.make_context(" ".join(path), list(rest)):
        pass
    return path
