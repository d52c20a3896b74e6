"""A rollback of the reconciler's own change cannot be asked for, but an approval of the
reconciler's own proposal of it is carried out."""

from __future__ import annotations

import pytest

from reconciler.core.approvals.requests import RequestError, shape_request
from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.decide.governance import OperationRequest, Origin
from tests.core.helpers import blueprint, state


def rollback(origin: Origin) -> OperationRequest:
    return OperationRequest(
        operation=ROLLBACK_OWN_CHANGE,
        service="web",
        origin=origin,
        current_replicas=2,
        target_replicas=3,
        parameters={"attempt": 1},
    )


def test_an_approved_rollback_of_its_own_change_keeps_its_shape() -> None:
    request = rollback(Origin.APPROVAL)
    assert shape_request(request, blueprint(), state(2)) == request


def test_a_person_cannot_ask_for_it() -> None:
    with pytest.raises(RequestError, match="cannot be asked for"):
        shape_request(rollback(Origin.REQUEST), blueprint(), state(2))
