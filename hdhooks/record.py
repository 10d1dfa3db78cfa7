"""Immutable records that cost nothing to define.

Every lifecycle hook is a new process, and its start-up is budgeted at twice
a bare Python start. Frozen dataclasses import ``inspect`` and generate code
for every class; ``typing.NamedTuple`` imports ``typing`` (and ``re``): each
alone costs most of that budget. :class:`Record` gives the same thing for
the modules a hook always loads: fields declared as annotations (in order),
defaults as class attributes, positional or keyword construction, equality,
hashing, a readable repr, and no assignment after construction.

It keeps the promises type checkers are told (``dataclass_transform``: a
frozen dataclass): a ``dict`` or ``list`` given for a field is stored as a
read-only ``MappingProxyType`` or a tuple, so a frozen value cannot be changed
through its fields; :meth:`Record.replace` is the typed copy-with-changes, and
``dataclasses.replace``/``fields``/``is_dataclass`` work too (their field
table is built on first use, importing dataclasses only then).
"""

from __future__ import annotations

from types import MappingProxyType

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**_: object) -> object:
        return lambda cls: cls


#: An empty, read-only mapping: the default for mapping fields (shared, so it
#: must never change; a dataclass would use default_factory=dict).
EMPTY_MAP: MappingProxyType[str, str] = MappingProxyType({})


def _constant(value: object) -> Any:
    return lambda: value


class _DataclassFields:
    """``__dataclass_fields__`` made on first access, so start-up never pays for it."""

    def __get__(self, obj: object, owner: type[Record]) -> dict[str, Any]:
        import dataclasses

        specs: list[tuple[Any, ...]] = []
        for name in owner._field_names:
            if not hasattr(owner, name):
                specs.append((name, object))
                continue
            default = getattr(owner, name)
            if type(default).__hash__ is None:  # dataclasses refuse unhashable defaults
                specs.append((name, object, dataclasses.field(
                    default_factory=_constant(default))))
            else:
                specs.append((name, object, dataclasses.field(default=default)))
        shadow: Any = dataclasses.make_dataclass(owner.__name__, specs, frozen=True)
        table: dict[str, Any] = shadow.__dataclass_fields__
        type.__setattr__(owner, "__dataclass_fields__", table)
        return table


@dataclass_transform(frozen_default=True, eq_default=True)
class Record:
    """Base class: subclasses declare ``name: type [= default]`` lines."""

    __slots__ = ()
    _field_names: tuple[str, ...] = ()
    __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls) -> None:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            # not inspect.get_annotations: importing inspect is what this avoids
            for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063
                if not name.startswith("_") and name not in names:
                    names.append(name)
        cls._field_names = tuple(names)

    def __init__(self, *args: object, **kwargs: object) -> None:
        names = self._field_names
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields, got {len(args)}")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {key!r}")
            values[key] = value
        for name in names:
            if name in values:
                object.__setattr__(self, name, values[name])
            elif not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__}: missing field {name!r}")
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()  # normalise fields, with object.__setattr__ as in a dataclass
        for name in names:
            value = getattr(self, name, None)
            if type(value) is dict:
                object.__setattr__(self, name, MappingProxyType(dict(value)))
            elif type(value) is list:
                object.__setattr__(self, name, tuple(value))

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` applied (``dataclasses.replace`` for a Record)."""
        values = dict(zip(self._field_names, self._values(), strict=True))
        values.update(changes)
        return type(self)(**values)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._field_names)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._field_names)
        return f"{type(self).__name__}({fields})"
