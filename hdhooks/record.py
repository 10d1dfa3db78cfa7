"""Immutable records that cost nothing to define.

Every lifecycle hook is a new process, and its start-up is budgeted at twice
a bare Python start. Frozen dataclasses import ``inspect`` and generate code
for every class; ``typing.NamedTuple`` imports ``typing`` (and ``re``): each
alone costs most of that budget. :class:`Record` gives the same thing for
the modules a hook always loads: fields declared as annotations (in order),
defaults as class attributes, positional or keyword construction, equality,
hashing, a readable repr, and no assignment after construction. Type
checkers see a frozen dataclass (``dataclass_transform``).
"""

from __future__ import annotations

from types import MappingProxyType

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> object:
        return lambda cls: cls


#: An empty, read-only mapping: the default for mapping fields (shared, so it
#: must never change; a dataclass would use default_factory=dict).
EMPTY_MAP: MappingProxyType[str, str] = MappingProxyType({})


@dataclass_transform(frozen_default=True, eq_default=True)
class Record:
    """Base class: subclasses declare ``name: type [= default]`` lines."""

    __slots__ = ()
    _field_names: tuple[str, ...] = ()

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
