"""Where the replicas live in git: loading spec.manifests, finding the values, and editing
them in place, for the three shapes (a plain manifest, a kustomization, Helm values).

The edits are compared line by line with the file before: exactly the value lines change,
and they change to exactly the expected text (quotes, comments and spacing kept).
"""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest
import yaml

from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Blueprint, ManifestFormat, Manifests
from reconciler.core.errors import BlueprintError
from reconciler.core.gitops.manifests import ManifestError, check, edit, locate
from tests.conftest import require_tool
from tests.core.helpers import POLICIES, blueprint

PLAIN = """\
# The web tier. Argo CD applies this file (app shop-web).
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2   # the reconciler writes this line
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: shop/web:1.4
          resources:
            requests: {cpu: "150m", memory: 256Mi}
            limits:
              cpu: "1"
        - name: proxy
          image: envoy:1.30
          resources:
            requests:
              cpu: 50m     # sidecar
              memory: '64Mi'
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
# Production runs more replicas than the base.
replicas:
  - name: worker
    count: 1
  - name: web
    count: 4 # scaled by the reconciler
patches:
  - path: resources.yaml
"""

PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          resources:
            requests:
              cpu: 500m
              memory: 1Gi
"""

VALUES = """\
# Values for the web chart, production.
image:
  tag: "1.4"
web:
  replicaCount: 3
  resources:
    requests:
      cpu: "250m"   # half a core at peak
      memory: 512Mi
    limits:
      memory: 1Gi
"""


def located(fmt: str, extra: str = "") -> Blueprint:
    return blueprint(extra=f"  manifests:\n    format: {fmt}\n{extra}")


PLAIN_AT = Manifests(format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="web")
KUSTOMIZE_AT = Manifests(
    format=ManifestFormat.KUSTOMIZE,
    path="overlays/prod/kustomization.yaml",
    name="web",
    patch="overlays/prod/resources.yaml",
)
HELM_AT = Manifests(
    format=ManifestFormat.HELM,
    path="charts/web/values-prod.yaml",
    replicas_key=("web", "replicaCount"),
    requests_key=("web", "resources", "requests"),
)
FILES = {
    "deploy/web.yaml": PLAIN.encode(),
    "overlays/prod/kustomization.yaml": KUSTOMIZATION.encode(),
    "overlays/prod/resources.yaml": PATCH.encode(),
    "charts/web/values-prod.yaml": VALUES.encode(),
}


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old line, new line) for each line the edit touched; fails when lines were added,
    removed or moved, which a surgical edit never does."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), "an edit changes values, never the number of lines"
    for tag, *_ in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        assert tag in {"equal", "replace"}, tag
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# ---------------------------------------------------------------------------------------------
# Loading spec.manifests


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            "    path: deploy/web.yaml\n",
            Manifests(format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="web"),
            id="plain-defaults-to-the-deployment",
        ),
        pytest.param(
            "    path: o/kustomization.yaml\n    name: web-v2\n    patch: o/res.yaml\n",
            Manifests(
                format=ManifestFormat.KUSTOMIZE,
                path="o/kustomization.yaml",
                name="web-v2",
                patch="o/res.yaml",
            ),
            id="kustomize-with-patch",
        ),
        pytest.param(
            "    path: values.yaml\n    requests_key: resources.requests\n    sync_timeout: 5m\n",
            Manifests(
                format=ManifestFormat.HELM,
                path="values.yaml",
                name="web",
                replicas_key=("replicaCount",),
                requests_key=("resources", "requests"),
                sync_timeout=300.0,
            ),
            id="helm-default-replicas-key",
        ),
    ],
)
def test_spec_manifests_loads_with_its_defaults(extra: str, expected: Manifests) -> None:
    fmt = str(expected.format)
    assert located(fmt, extra).manifests == expected


@pytest.mark.parametrize(
    ("metadata", "manifests", "expected"),
    [
        pytest.param(
            "  name: web\n  deployment: web-api\n",
            "    kind: StatefulSet\n    repository: acme/deploy\n    branch: release\n",
            Manifests(
                format=ManifestFormat.PLAIN,
                path="deploy/web.yaml",
                kind="StatefulSet",
                name="web-api",
                repository="acme/deploy",
                branch="release",
            ),
            id="every-field-written-and-the-deployment-names-it",
        ),
        pytest.param(
            "  name: web\n  deployment: web-api\n",
            "    name: web-v2\n",
            Manifests(format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="web-v2"),
            id="its-own-name-wins-over-the-deployment",
        ),
        pytest.param(
            "  name: web\n",
            "",
            Manifests(format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="web"),
            id="without-a-deployment-the-service-names-it",
        ),
    ],
)
def test_spec_manifests_keeps_each_field_as_written(
    metadata: str, manifests: str, expected: Manifests
) -> None:
    """What a write-back edits and where: the document's kind, its name (the manifests' own,
    else metadata.deployment, else the service's), and another repository and branch."""
    text = (
        f"metadata:\n{metadata}  version: 1.0.0\nspec:\n  scaling:\n"
        "    min_replicas: 1\n    max_replicas: 5\n    scale_down_threshold: 40%\n"
        f"  manifests:\n    format: plain\n    path: deploy/web.yaml\n{manifests}"
    )
    loaded = parse_blueprint(text.encode(), source="blueprints/web/blueprint.yaml")
    assert loaded.manifests == expected


def test_a_blueprint_without_manifests_has_none() -> None:
    assert blueprint().manifests is None


@pytest.mark.parametrize(
    ("fmt", "extra", "message"),
    [
        ("plain", "    path: a.yaml\n    replicas_key: x\n", "`replicas_key` is read only with"),
        ("helm", "    path: v.yaml\n    patch: p.yaml\n", "`patch` is read only with"),
        ("kustomize", "    path: overlays/prod/extra.yaml\n", "is not a kustomization file"),
        ("plain", "    path: /etc/passwd\n", "relative to the repository's root"),
        ("plain", "    path: ../elsewhere.yaml\n", "has the wrong form"),
        ("plain", "    kind: Deployment\n", "path"),
    ],
)
def test_spec_manifests_mistakes_are_named(fmt: str, extra: str, message: str) -> None:
    with pytest.raises(BlueprintError) as caught:
        located(fmt, extra)
    text = str(caught.value) + " ".join(p.render() for p in caught.value.problems)
    assert "spec.manifests" in text
    assert message in text


# ---------------------------------------------------------------------------------------------
# Reading the numbers


@pytest.mark.parametrize(
    ("where", "replicas", "cpu", "memory", "line"),
    [
        (PLAIN_AT, 2, 200, (256 + 64) * 1024**2, 15),
        (KUSTOMIZE_AT, 4, 500, 1024**3, 10),
        (HELM_AT, 3, 250, 512 * 1024**2, 5),
    ],
    ids=["plain", "kustomize", "helm"],
)
def test_locate_reads_what_the_cluster_should_run(
    where: Manifests, replicas: int, cpu: int, memory: int, line: int
) -> None:
    numbers = locate(where, FILES)
    assert numbers.replica_count == replicas
    assert numbers.cpu_total == cpu
    assert numbers.memory_total == memory
    assert numbers.replicas.line == line


# ---------------------------------------------------------------------------------------------
# Editing in place: exactly the value lines change


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        pytest.param(
            PLAIN_AT,
            {"replicas": 3},
            {"deploy/web.yaml": [("  replicas: 2   #", "  replicas: 3   #")]},
            id="plain-replicas",
        ),
        pytest.param(
            PLAIN_AT,
            {"cpu_request": 220, "memory_request": 640 * 1024**2},
            {
                "deploy/web.yaml": [
                    (
                        '            requests: {cpu: "150m", memory: 256Mi}',
                        '            requests: {cpu: "165m", memory: 512Mi}',
                    ),
                    (
                        "              cpu: 50m     # sidecar",
                        "              cpu: 55m     # sidecar",
                    ),
                    ("              memory: '64Mi'", "              memory: '128Mi'"),
                ]
            },
            id="plain-requests-keep-each-containers-share-and-quotes",
        ),
        pytest.param(
            KUSTOMIZE_AT,
            {"replicas": 6},
            {
                "overlays/prod/kustomization.yaml": [
                    (
                        "    count: 4 # scaled by the reconciler",
                        "    count: 6 # scaled by the reconciler",
                    )
                ]
            },
            id="kustomize-replicas-entry",
        ),
        pytest.param(
            KUSTOMIZE_AT,
            {"replicas": 5, "cpu_request": 750},
            {
                "overlays/prod/kustomization.yaml": [("    count: 4 #", "    count: 5 #")],
                "overlays/prod/resources.yaml": [
                    ("              cpu: 500m", "              cpu: 750m")
                ],
            },
            id="kustomize-requests-in-the-patch",
        ),
        pytest.param(
            HELM_AT,
            {"replicas": 10, "cpu_request": 1000},
            {
                "charts/web/values-prod.yaml": [
                    ("  replicaCount: 3", "  replicaCount: 10"),
                    ('      cpu: "250m"   # half', '      cpu: "1"   # half'),
                ]
            },
            id="helm-values",
        ),
    ],
)
def test_edit_changes_exactly_the_value_lines(
    where: Manifests, change: dict[str, int], expected: dict[str, list[tuple[str, str]]]
) -> None:
    edited = edit(where, FILES, **change)
    assert sorted(edited) == sorted(expected)
    for path, lines in expected.items():
        diff = changed_lines(FILES[path].decode(), edited[path].decode())
        assert len(diff) == len(lines)
        for (old, new), (old_prefix, new_prefix) in zip(diff, lines, strict=True):
            assert old.startswith(old_prefix), (old, old_prefix)
            assert new.startswith(new_prefix), (new, new_prefix)
            # Whatever followed the value on its line (a comment, a brace) is kept.
            assert old.removeprefix(old_prefix).split(None, 1)[1:] == new.removeprefix(
                new_prefix
            ).split(None, 1)[1:] or old.endswith("}")


def test_an_edit_to_the_same_value_changes_no_file() -> None:
    assert edit(PLAIN_AT, FILES, replicas=2) == {}


def test_an_edit_keeps_a_byte_order_mark_and_windows_line_ends() -> None:
    raw = ("\ufeff" + PLAIN.replace("\n", "\r\n")).encode()
    edited = edit(PLAIN_AT, {"deploy/web.yaml": raw}, replicas=7)["deploy/web.yaml"]
    assert edited == raw.replace(b"replicas: 2 ", b"replicas: 7 ")


def test_a_request_nobody_wrote_is_not_added() -> None:
    where = Manifests(format=ManifestFormat.KUSTOMIZE, path=KUSTOMIZE_AT.path, name="web")
    with pytest.raises(ManifestError, match="no container sets a cpu request"):
        edit(where, FILES, cpu_request=300)


# ---------------------------------------------------------------------------------------------
# What validate says, with file and line


def problems_of(bp: Blueprint, files: dict[str, bytes | None], text: str = "") -> list[str]:
    return [p.render() for p in check(bp, files, blueprint_text=text)]


BLUEPRINT_TEXT = (
    "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
    "    min_replicas: 1\n    max_replicas: 5\n    scale_down_threshold: 40%\n"
    "  manifests:\n    format: plain\n    path: deploy/missing.yaml\n"
)


@pytest.mark.parametrize(
    ("extra", "files", "expected"),
    [
        pytest.param(
            "    path: deploy/web.yaml\n",
            FILES,
            [],
            id="plain-ok",
        ),
        pytest.param(
            "    path: deploy/web.yaml\n    name: api\n",
            FILES,
            [
                "deploy/web.yaml:1: no document is Deployment api (it holds Service/web, "
                "Deployment/web) (fix: set spec.manifests.kind and name to the object the "
                "GitOps tool applies)"
            ],
            id="plain-no-such-document",
        ),
        pytest.param(
            "    path: deploy/web.yaml\n",
            {"deploy/web.yaml": PLAIN.replace("  replicas: 2", "  paused: false").encode()},
            ["deploy/web.yaml:14:1: spec.replicas: has no spec.replicas"],
            id="plain-no-replicas-key",
        ),
        pytest.param(
            "    path: deploy/web.yaml\n",
            {"deploy/web.yaml": PLAIN.replace("replicas: 2", "replicas: 9").encode()},
            [
                "deploy/web.yaml:15:13: warning: spec.replicas: holds 9 replicas, above "
                "max_replicas (5) "
                "of blueprints/web/blueprint.yaml"
            ],
            id="plain-outside-the-bounds",
        ),
        pytest.param(
            "    path: overlays/prod/kustomization.yaml\n    name: api\n",
            FILES,
            ["overlays/prod/kustomization.yaml:6:1: replicas: has no replicas (an entry"],
            id="kustomize-no-entry",
        ),
        pytest.param(
            "    path: charts/web/values-prod.yaml\n    replicas_key: web.replicas\n",
            FILES,
            ["charts/web/values-prod.yaml:4:1: web.replicas: has no web.replicas"],
            id="helm-no-key",
        ),
        pytest.param(
            "    path: charts/web/values-prod.yaml\n    replicas_key: image.tag\n",
            FILES,
            ["charts/web/values-prod.yaml:3:8: image.tag: holds '\"1.4\"', not a whole number"],
            id="helm-not-a-number",
        ),
        pytest.param(
            "    path: deploy/missing.yaml\n",
            FILES,
            [
                "blueprints/web/blueprint.yaml:11:5: spec.manifests.path: deploy/missing.yaml "
                "does not exist"
            ],
            id="missing-file-points-at-the-blueprint-line",
        ),
    ],
)
def test_check_names_file_and_line(
    extra: str, files: dict[str, bytes | None], expected: list[str]
) -> None:
    fmt = "plain" if "deploy/" in extra else "kustomize" if "kustom" in extra else "helm"
    found = problems_of(located(fmt, extra), files, BLUEPRINT_TEXT)
    assert len(found) == len(expected), found
    for text, prefix in zip(found, expected, strict=True):
        assert text.startswith(prefix), (text, prefix)


def test_a_yaml_error_in_the_manifest_is_reported_where_it_is() -> None:
    broken = {"deploy/web.yaml": b"kind: Deployment\nmetadata: {name: web\nspec: {}\n"}
    found = problems_of(located("plain", "    path: deploy/web.yaml\n"), broken)
    assert len(found) == 1 and found[0].startswith("deploy/web.yaml:3:"), found


# ---------------------------------------------------------------------------------------------
# What kustomize renders


def test_kubectl_kustomize_renders_the_edited_replicas_and_requests(tmp_path: Path) -> None:
    kubectl = require_tool("kubectl", "apt-get install kubernetes-client")
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    (base / "deployment.yaml").write_text(PLAIN.split("---\n")[1])
    overlay = tmp_path / "overlays/prod"
    overlay.mkdir(parents=True)
    files = {
        KUSTOMIZE_AT.path: KUSTOMIZATION.replace("  - name: worker\n    count: 1\n", "").encode(),
        KUSTOMIZE_AT.patch: PATCH.encode(),
    }
    for path, content in edit(KUSTOMIZE_AT, files, replicas=7, cpu_request=900).items():
        files[path] = content
    for path, content in files.items():
        (tmp_path / path).write_bytes(content)

    rendered = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 7
    app = deployment["spec"]["template"]["spec"]["containers"][0]
    assert app["resources"]["requests"] == {"cpu": "900m", "memory": "1Gi"}


def test_the_blueprint_of_the_line_numbers_loads() -> None:
    # The line numbers above point into BLUEPRINT_TEXT, which must itself be a blueprint.
    text = BLUEPRINT_TEXT.encode()
    manifests = parse_blueprint(text, source="b.yaml", policies=POLICIES).manifests
    assert manifests is not None and manifests.path == "deploy/missing.yaml"
