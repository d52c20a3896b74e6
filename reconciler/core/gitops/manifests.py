"""The numbers Argo CD or Flux apply, where they live in git: found, checked, edited in place.

A blueprint's `spec.manifests` names a file in one of three shapes (a plain manifest, a
kustomization's `replicas:` entry, a Helm values file). This module finds the replica count
and the resource requests in it (`locate`), says what is wrong with the location as
`file:line` problems (`check`), and writes new values (`edit`).

The edit is surgical: it replaces the characters of the scalars that change and nothing else,
so comments, key order, quoting and spacing stay byte for byte and the diff a reviewer sees is
exactly the value lines. The file is never loaded and dumped again, which would reformat it.
Requests follow the cluster adapter's rule: the number is the pod's total, and each container
that has a request keeps its share of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.blueprint.model import Blueprint, ManifestFormat, Manifests
from reconciler.core.blueprint.units import (
    UnitError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_memory,
)
from reconciler.core.blueprint.yamlsafe import Document, Path, YamlError, parse_yaml
from reconciler.core.gitops.documents import (
    ManifestError,
    Site,
    container_requests,
    documents_of,
    lookup,
    missing,
    pick,
    problem,
    single_document,
    site_of,
)
from reconciler.core.problems import Problem, Severity

__all__ = [
    "ManifestError",
    "Numbers",
    "Site",
    "check",
    "edit",
    "locate",
]


@dataclass(frozen=True, kw_only=True)
class Numbers:
    """What the manifests say the cluster should run, and where each number is written."""

    replicas: Site
    #: The CPU and memory requests of each container that has one (empty: none set).
    cpu: tuple[Site, ...] = ()
    memory: tuple[Site, ...] = ()

    @property
    def replica_count(self) -> int:
        return _replicas(self.replicas)

    @property
    def cpu_total(self) -> int | None:
        """The pod's CPU request in millicores, or None when no container sets one."""
        return sum(parse_cpu(site.value) for site in self.cpu) if self.cpu else None

    @property
    def memory_total(self) -> int | None:
        return sum(parse_memory(site.value) for site in self.memory) if self.memory else None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.file for s in (self.replicas, *self.cpu, *self.memory)))


def _replicas(site: Site) -> int:
    value = site.value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(
            [
                problem(
                    site.file,
                    site.field,
                    f"holds {site.text!r}, not a whole number of replicas",
                    "write the replica count as a number",
                    site.line,
                    site.column,
                )
            ]
        )
    return value


def locate(manifests: Manifests, files: Mapping[str, bytes | None]) -> Numbers:
    """Find the replica count and the requests; ManifestError naming the file and line of
    whatever is missing or unusable. `files` holds the contents of `manifests.files`."""
    match manifests.format:
        case ManifestFormat.PLAIN:
            numbers = _in_plain(manifests, files)
        case ManifestFormat.KUSTOMIZE:
            numbers = _in_kustomization(manifests, files)
        case ManifestFormat.HELM:
            numbers = _in_helm_values(manifests, files)
    _replicas(numbers.replicas)
    _check_quantities(numbers)
    return numbers


def _in_plain(manifests: Manifests, files: Mapping[str, bytes | None]) -> Numbers:
    """A manifest: the named object's spec.replicas and its containers' requests."""
    file = manifests.path
    text, documents = documents_of(file, files.get(file))
    document = pick(file, documents, manifests.kind, manifests.name)
    path: Path = ("spec", "replicas")
    if path not in document.spans:
        raise missing(
            file,
            document,
            path,
            "the replicas the GitOps tool applies",
            "write spec.replicas in the manifest: the reconciler changes values, it "
            "does not add them (or use coexistence: gitops_ignores_replicas when the "
            "manifest leaves replicas out on purpose)",
        )
    return Numbers(
        replicas=site_of(file, text, document, path),
        cpu=container_requests(file, text, document, "cpu"),
        memory=container_requests(file, text, document, "memory"),
    )


def _in_kustomization(manifests: Manifests, files: Mapping[str, bytes | None]) -> Numbers:
    """A kustomization: the count of its `replicas:` entry for the object, and the requests
    in its patch when it names one."""
    file = manifests.path
    text, document = single_document(file, files.get(file))
    entries = document.data.get("replicas")
    index = next(
        (
            i
            for i, entry in enumerate(entries if isinstance(entries, list) else [])
            if isinstance(entry, Mapping) and entry.get("name") == manifests.name
        ),
        None,
    )
    if index is None or ("replicas", index, "count") not in document.spans:
        raise missing(
            file,
            document,
            ("replicas",) if index is None else ("replicas", index, "count"),
            f"an entry `- name: {manifests.name}` with a `count:`",
            f"add `replicas: [{{name: {manifests.name}, count: N}}]` to the "
            "kustomization, with the count the cluster runs now",
        )
    cpu: tuple[Site, ...] = ()
    memory: tuple[Site, ...] = ()
    if manifests.patch:
        patch_text, patch_documents = documents_of(manifests.patch, files.get(manifests.patch))
        patch = pick(manifests.patch, patch_documents, manifests.kind, manifests.name)
        cpu = container_requests(manifests.patch, patch_text, patch, "cpu")
        memory = container_requests(manifests.patch, patch_text, patch, "memory")
    return Numbers(
        replicas=site_of(file, text, document, ("replicas", index, "count")),
        cpu=cpu,
        memory=memory,
    )


def _in_helm_values(manifests: Manifests, files: Mapping[str, bytes | None]) -> Numbers:
    """A Helm values file: the value at `replicas_key`, and the requests at `requests_key`."""
    file = manifests.path
    text, document = single_document(file, files.get(file))
    replicas_path: Path = manifests.replicas_key
    if replicas_path not in document.spans:
        raise missing(
            file,
            document,
            replicas_path,
            "the replica count the chart reads",
            "set spec.manifests.replicas_key to the key the chart's Deployment uses "
            "for spec.replicas, and write it in the values file",
        )
    return Numbers(
        replicas=site_of(file, text, document, replicas_path),
        **_helm_requests(manifests, text, document),
    )


def _helm_requests(
    manifests: Manifests, text: str, document: Document
) -> dict[str, tuple[Site, ...]]:
    """The cpu and memory requests under `requests_key`, where it is set and they are."""
    requests: dict[str, tuple[Site, ...]] = {"cpu": (), "memory": ()}
    if not manifests.requests_key:
        return requests
    if not isinstance(lookup(document.data, manifests.requests_key), Mapping):
        raise missing(
            manifests.path,
            document,
            manifests.requests_key,
            "a mapping with cpu and memory",
            "set spec.manifests.requests_key to the mapping that holds the "
            "container's requests, e.g. resources.requests",
        )
    for resource in requests:
        where = (*manifests.requests_key, resource)
        if where in document.spans:
            requests[resource] = (site_of(manifests.path, text, document, where),)
    return requests


def _check_quantities(numbers: Numbers) -> None:
    problems = []
    for sites, parse in ((numbers.cpu, parse_cpu), (numbers.memory, parse_memory)):
        for site in sites:
            try:
                parse(site.value)
            except UnitError as error:
                problems.append(
                    problem(site.file, site.field, str(error), error.hint, site.line, site.column)
                )
    if problems:
        raise ManifestError(problems)


def check(
    blueprint: Blueprint,
    files: Mapping[str, bytes | None],
    *,
    blueprint_text: str = "",
) -> list[Problem]:
    """What `validate` says about a blueprint's manifest location: the files, the document
    and the keys exist (errors), and the replicas they hold are within the blueprint's bounds
    (a warning: an approved one-off may hold them outside). Empty when there is no location."""
    manifests = blueprint.manifests
    if manifests is None:
        return []
    missing = [path for path in manifests.files if files.get(path) is None]
    if missing:
        return [_unreadable(blueprint, blueprint_text, path) for path in missing]
    try:
        numbers = locate(manifests, files)
    except ManifestError as error:
        return list(error.problems)
    scaling = blueprint.scaling
    replicas = numbers.replica_count
    site = numbers.replicas
    if not scaling.min_replicas <= replicas <= scaling.max_replicas:
        side = "below min_replicas" if replicas < scaling.min_replicas else "above max_replicas"
        bound = scaling.min_replicas if replicas < scaling.min_replicas else scaling.max_replicas
        return [
            problem(
                site.file,
                site.field,
                f"holds {replicas} replicas, {side} ({bound}) of {blueprint.source}",
                "bring the manifest within the blueprint's bounds, or change the bounds "
                "through a reviewed change to the blueprint (an approved one-off is held "
                "there until the next change)",
                site.line,
                site.column,
                code="manifests.bounds",
                severity=Severity.WARNING,
            )
        ]
    return []


def _unreadable(blueprint: Blueprint, blueprint_text: str, path: str) -> Problem:
    manifests = blueprint.manifests
    assert manifests is not None
    key = "patch" if path == manifests.patch and path != manifests.path else "path"
    line, column = None, None
    if blueprint_text:
        with contextlib.suppress(YamlError):
            line, column = parse_yaml(blueprint_text.encode()).position(("spec", "manifests", key))
    where = f" in {manifests.repository}" if manifests.repository else ""
    return problem(
        blueprint.source,
        f"spec.manifests.{key}",
        f"{path} does not exist{where}",
        "give the path from the repository's root of the file Argo CD or Flux applies",
        line,
        column,
        code="manifests.path",
    )


def _shares(sites: Sequence[Site], parse: Any, total: int) -> list[int]:
    """The pod's total split over the containers that have a request, each keeping its share
    (rounded down, the remainder to the first, so the sum is exact)."""
    current = [parse(site.value) for site in sites]
    whole = sum(current)
    if whole <= 0:
        current, whole = [1] + [0] * (len(sites) - 1), 1
    values = [total * share // whole for share in current]
    values[0] += total - sum(values)
    return values


def _written(site: Site, value: str) -> str:
    """The new scalar written the way the old one was: quoted alike, or plain."""
    quote = site.text[:1]
    if quote in {'"', "'"} and site.text.endswith(quote):
        return f"{quote}{value}{quote}"
    return value


def edit(
    manifests: Manifests,
    files: Mapping[str, bytes | None],
    *,
    replicas: int | None = None,
    cpu_request: int | None = None,
    memory_request: int | None = None,
) -> dict[str, bytes]:
    """The files with the new values written in place, by path (only the files that change).
    ManifestError when the location cannot be used, or holds no request to change."""
    numbers = locate(manifests, files)
    replacements: dict[str, list[tuple[Site, str]]] = {}

    def put(site: Site, value: str) -> None:
        replacements.setdefault(site.file, []).append((site, _written(site, value)))

    if replicas is not None:
        put(numbers.replicas, str(replicas))
    for total, sites, parse, fmt, name in (
        (cpu_request, numbers.cpu, parse_cpu, format_cpu, "cpu"),
        (memory_request, numbers.memory, parse_memory, format_memory, "memory"),
    ):
        if total is None:
            continue
        if not sites:
            where = manifests.patch or manifests.path
            raise ManifestError(
                [
                    problem(
                        where,
                        "",
                        f"no container sets a {name} request here, so there is none to change",
                        "write the request in the file (the reconciler changes values, it "
                        "does not add them)"
                        + (", or set spec.manifests.patch" if not manifests.patch else ""),
                        1,
                    )
                ]
            )
        for site, value in zip(sites, _shares(sites, parse, total), strict=True):
            put(site, fmt(value))
    result: dict[str, bytes] = {}
    for file, changes in replacements.items():
        raw = files[file]
        assert raw is not None  # locate read it
        text = raw.decode("utf-8")
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        text = text.removeprefix(bom)
        for site, written in sorted(changes, key=lambda item: item[0].start, reverse=True):
            text = text[: site.start] + written + text[site.end :]
        new = (bom + text).encode()
        if new != raw:
            result[file] = new
    return result
