"""`run` and `plan` move what they loaded (blueprints, the cluster's state) out of the garbage
collector's sight for the cycle (`gc.freeze`), and every command gives it back when it ends,
a process that runs several commands (a test session) still reclaims the
cyclic garbage of the earlier ones, and the trail cache's connections still close."""

from __future__ import annotations

import gc

from tests.scenarios.conftest import Scenario


def test_a_run_gives_back_what_it_froze(seeded: Scenario) -> None:
    gc.unfreeze()
    report = seeded.json("run")
    assert report["ok"] is True  # type: ignore[index]
    assert gc.get_freeze_count() == 0
    seeded.json("plan")
    assert gc.get_freeze_count() == 0
