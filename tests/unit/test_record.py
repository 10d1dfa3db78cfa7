"""Records behave like frozen dataclasses: the config and hook values rely on it."""

from __future__ import annotations

import pytest

from hdhooks.config.model import SecretRef, ServiceConfig
from hdhooks.record import Record


class Point(Record):
    x: int
    y: int = 0
    label: str = ""


class Labelled(Point):
    colour: str = "red"


def test_positional_keyword_and_defaults() -> None:
    assert Point(1) == Point(x=1, y=0, label="")
    assert Point(1, 2, "a").label == "a"
    assert Labelled(1, colour="blue") == Labelled(x=1, y=0, label="", colour="blue")
    assert repr(Point(1, 2)) == "Point(x=1, y=2, label='')"


def test_equal_records_hash_alike_and_other_types_differ() -> None:
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point(1) != Labelled(1)
    assert {Point(1), Point(1)} == {Point(1)}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Point(), "missing field 'x'"),
        (lambda: Point(1, 2, "a", "b"), "takes 3 fields, got 4"),
        (lambda: Point(1, x=2), "unexpected or repeated field 'x'"),
        (lambda: Point(1, z=2), "unexpected or repeated field 'z'"),
    ],
)
def test_bad_construction_says_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()  # type: ignore[operator]


def test_records_cannot_change() -> None:
    svc = ServiceConfig(name="api")
    with pytest.raises(AttributeError, match="immutable"):
        svc.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del svc.port
    assert SecretRef("token", "api/prod/token").key is None


def test_replace_copies_with_changes_and_dataclasses_agree() -> None:
    import dataclasses

    p = Labelled(1, colour="blue")
    assert p.replace(y=5) == Labelled(1, 5, colour="blue")
    assert dataclasses.replace(p, label="z") == Labelled(1, label="z", colour="blue")
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "label", "colour"]


class Bag(Record):
    items: tuple[str, ...] = ()
    table: object = None


def test_mutable_containers_are_frozen() -> None:
    from types import MappingProxyType

    source = {"a": "1"}
    bag = Bag(["x"], source)
    assert bag.items == ("x",)
    assert isinstance(bag.table, MappingProxyType)
    with pytest.raises(TypeError):
        bag.table["b"] = "2"  # type: ignore[index]
