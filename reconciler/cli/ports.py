"""The ports a command works through, released when it ends, and what surrounds its writes:
the outputs it records, and pushing its commits afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings
from reconciler.cli.publishing import PushSettings, push_records

if TYPE_CHECKING:
    from reconciler.cli.outputs import RecordingAudit
    from reconciler.core.errors import ReconcilerError
    from reconciler.shell.ports import Ports
    from reconciler.shell.workspace import Fleet


def command_ports(root: Path, settings: Settings, fleet: Fleet) -> Ports:
    """Build the ports, and release their network clients when the command ends."""
    from reconciler.cli.compose import build_ports, release

    ports = build_ports(root, settings, fleet)
    click.get_current_context().call_on_close(lambda: release(ports))
    return ports


def pushing_manifests(ports: Ports, settings: Settings, pushing: PushSettings) -> Ports:
    """A run that pushes pushes its manifest commits too, each at once: the GitOps tool reads
    the remote, and a person's push to the same file is seen before it is overwritten."""
    from dataclasses import replace

    from reconciler.cli.compose import open_manifests

    if not pushing.enabled:
        return ports
    manifests = open_manifests(settings.root(), pushing.remote, pushing.branch or "")
    return replace(ports, manifests=manifests)


def recording_outputs(
    ports: Ports, outputs_path: Path | None
) -> tuple[Ports, RecordingAudit | None]:
    """The ports with an audit store that remembers this run's records, for --outputs."""
    from dataclasses import replace

    from reconciler.cli.outputs import RecordingAudit

    if outputs_path is None:
        return ports, None
    recording = RecordingAudit(ports.audit)
    return replace(ports, audit=recording), recording


@contextmanager
def outputs_written(outputs_path: Path | None, recording: RecordingAudit | None) -> Iterator[None]:
    """Write the step outputs afterwards, also when the work failed part-way: a later step
    (`if: failure()`) needs to know what was changed before it failed."""
    try:
        yield
    finally:
        if outputs_path is not None and recording is not None:
            from reconciler.cli.step_outputs import write_outputs

            write_outputs(outputs_path, recording.appended)


def then_push(
    work: Callable[[], None], root: Path, pushing: PushSettings | None
) -> str | ReconcilerError | None:
    """Run `work`, then push its records if asked: also when `work` failed part-way, since
    records of changes already made must reach the remote. Returns what the push said, or its
    error for the caller to raise once the run's report is out."""
    from reconciler.core.errors import ReconcilerError

    if pushing is None or not pushing.enabled:
        work()
        return None
    try:
        work()
    except BaseException:
        try:
            click.echo(push_records(root, pushing), err=True)
        except ReconcilerError as error:
            click.echo(f"error: pushing the audit records also failed: {error}", err=True)
        raise
    try:
        message = push_records(root, pushing)
    except ReconcilerError as error:
        return error
    click.echo(message, err=True)
    return message
