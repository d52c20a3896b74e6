"""Shards: every service in exactly one shard, the same one whatever else is in the fleet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.errors import ConfigError
from reconciler.core.planning.sharding import Shard, parse_shard

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True)


@given(names=st.sets(NAMES, max_size=200), count=st.integers(min_value=1, max_value=16))
def test_every_service_is_in_exactly_one_shard(names: set[str], count: int) -> None:
    shards = [Shard(index, count) for index in range(1, count + 1)]
    for name in names:
        assert sum(shard.owns(name) for shard in shards) == 1


def test_a_thousand_services_spread_evenly() -> None:
    names = [f"service-{n:04d}" for n in range(1000)]
    sizes = [sum(Shard(i, 4).owns(n) for n in names) for i in range(1, 5)]
    assert sum(sizes) == 1000
    assert all(200 <= size <= 300 for size in sizes), sizes


def test_the_split_is_fixed_across_releases() -> None:
    """Changing the hash would move services between shards mid-rollout, so it is pinned."""
    owners = {
        name: next(i for i in range(1, 5) if Shard(i, 4).owns(name))
        for name in ("todo-frontend", "todo-backend", "payments", "search")
    }
    assert owners == {"todo-frontend": 4, "todo-backend": 2, "payments": 1, "search": 4}


@pytest.mark.parametrize(
    ("text", "shard"),
    [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), (" 4 / 4 ", Shard(4, 4))],
)
def test_parse(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("2", "is not I/N", "1/4, 2/4"),
        ("a/b", "is not I/N", "1/4, 2/4"),
        ("0/4", "between 1 and the count", "1/4 to 4/4"),
        ("5/4", "between 1 and the count", "1/4 to 4/4"),
        ("1/0", "between 1 and the count", "1/1 to 1/1"),
        ("-1/4", "is not I/N", "1/4, 2/4"),
    ],
)
def test_parse_errors_say_how_to_write_it(text: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_shard(text)
    assert hint in (caught.value.hint or "")
