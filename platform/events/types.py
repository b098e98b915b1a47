"""Event types: closed, typed, versioned records, each declared once.

An event type is a frozen dataclass decorated with `@event_type(version=N)`.
Its fields are its schema. Data coming in (from a command, or from the log)
is checked against it strictly: an unknown type, a missing or unknown field,
or a value of the wrong type is an `EventSchemaError` raised before anything
is written. Old versions in the log are read through upcasters that turn the
stored data of version N into the shape of version N+1.

Allowed field types are the ones the canonical JSON form can carry exactly:
str, int, bool, None (via `X | None`), list[X], dict[str, X], and nested
event-data dataclasses. No floats: rates and scores travel as integers
(counts, numerators and denominators) or as decimal strings.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from common.refusal import Refusal
from events.chain import MAX_SAFE_INTEGER


class EventSchemaError(Refusal, ValueError):
    """Event data does not match its declared schema; nothing was written."""

    code = "invalid_event"


class DomainEvent:
    """Base of every event type. Subclasses are frozen dataclasses."""

    type_name: ClassVar[str]
    version: ClassVar[int]

    def to_data(self) -> dict[str, Any]:
        return _dump(self)  # type: ignore[no-any-return]


E = TypeVar("E", bound=type[DomainEvent])

_REGISTRY: dict[str, type[DomainEvent]] = {}
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
_NON_EVENT_NAMES = ("Command", "Created", "Updated")


def event_type(*, version: int = 1, name: str | None = None) -> Callable[[E], E]:
    """Register a frozen dataclass as an event type (past-tense name, e.g. BallotCast)."""

    def register(cls: E) -> E:
        type_name = name or cls.__name__
        if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise TypeError(f"{type_name} must be a frozen dataclass")
        if type_name in _REGISTRY:
            raise TypeError(f"event type {type_name} is declared twice")
        if not type_name[:1].isupper():
            raise TypeError(f"event type {type_name} must be CamelCase")
        cls.type_name = type_name
        cls.version = version
        _REGISTRY[type_name] = cls
        return cls

    return register


def upcaster(type_name: str, *, from_version: int) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]]:
    """Register a function turning data of `from_version` into `from_version + 1`."""

    def register(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


def registered_types() -> Mapping[str, type[DomainEvent]]:
    return dict(_REGISTRY)


def lookup(type_name: str) -> type[DomainEvent]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise EventSchemaError(f"未知的事件类型 {type_name}", f"unknown event type {type_name}") from None


def validate(type_name: str, data: Any) -> dict[str, Any]:
    """Check data against the current version of its type; return it unchanged."""
    cls = lookup(type_name)
    _check_dataclass(cls, data, type_name)
    return data  # type: ignore[no-any-return]


def upcast(type_name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Bring stored data of an old version up to the current version of its type."""
    cls = lookup(type_name)
    if schema_version > cls.version:
        raise EventSchemaError(
            f"{type_name} 的版本 {schema_version} 高于本程序支持的 {cls.version}",
            f"{type_name} version {schema_version} is newer than this code knows ({cls.version})",
        )
    current = data
    for step in range(schema_version, cls.version):
        try:
            current = _UPCASTERS[(type_name, step)](dict(current))
        except KeyError:
            raise EventSchemaError(
                f"缺少 {type_name} 从版本 {step} 升级的转换", f"no upcaster for {type_name} v{step}"
            ) from None
    return current


def load(type_name: str, schema_version: int, data: dict[str, Any], *, stored: bool = False) -> DomainEvent:
    """Typed event object from stored data (upcasting old versions).

    `stored`: the data was read back from the event store, which checked it
    against its type's current declaration when it wrote it (events.store
    appends at the current version only). Data of the current version is then
    built without a second check; data of an older version is upcast and
    checked, since no upcaster's output was ever checked. A declaration that
    changes the shape of its data takes a new version with an upcaster
    (this module's docstring), so stored data of a version keeps its shape.
    Whether the stored bytes are the ones written is the hash chain's question
    (events.chain, the verifier), not this function's.
    """
    cls = lookup(type_name)
    if stored and schema_version == cls.version:
        return _build(cls, data)  # type: ignore[no-any-return]
    current = upcast(type_name, schema_version, data)
    _check_dataclass(cls, current, type_name)
    return _build(cls, current)  # type: ignore[no-any-return]


# -- checking --------------------------------------------------------------------


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    # Cached: resolving type hints is the costliest part of validating an
    # event, and a declared event type does not change while the process runs.
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def _required(cls: type) -> frozenset[str]:
    return frozenset(
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _check_dataclass(cls: type, data: Any, path: str) -> None:
    _checker(cls)(data, path)


def _check_value(hint: Any, value: Any, path: str) -> None:
    _checker(hint)(value, path)


# A checker per declared type, built once: every append validates its events,
# and asking `typing` what a hint is (get_origin, get_args) for every value of
# a 50-mark ballot cost more than the rest of the append's Python work.
Checker = Callable[[Any, str], None]


@functools.cache
def _checker(hint: Any) -> Checker:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [_checker(option) for option in get_args(hint)]

        def accept_union(value: Any, path: str) -> None:
            errors = []
            for option in options:
                try:
                    option(value, path)
                    return
                except EventSchemaError as exc:
                    errors.append(exc)
            raise errors[-1]

        return accept_union
    if hint is type(None):

        def accept_none(value: Any, path: str) -> None:
            if value is not None:
                raise _wrong(path, "null", value)

        return accept_none
    if hint is str:
        return _check_str
    if hint is bool:

        def accept_bool(value: Any, path: str) -> None:
            if not isinstance(value, bool):
                raise _wrong(path, "布尔值 / boolean", value)

        return accept_bool
    if hint is int:
        return _check_int
    if origin is list:
        (item_hint,) = get_args(hint)
        item = _checker(item_hint)

        def accept_list(value: Any, path: str) -> None:
            if not isinstance(value, list):
                raise _wrong(path, "列表 / list", value)
            for index, element in enumerate(value):
                item(element, f"{path}[{index}]")

        return accept_list
    if origin is dict:
        _key_hint, item_hint = get_args(hint)
        item = _checker(item_hint)

        def accept_dict(value: Any, path: str) -> None:
            if not isinstance(value, dict):
                raise _wrong(path, "对象 / object", value)
            for key, element in value.items():
                if not isinstance(key, str):
                    raise _wrong(path, "字符串键 / string keys", key)
                item(element, f"{path}.{key}")

        return accept_dict
    if hint is Any or hint is typing.Any:
        return _check_any
    if dataclasses.is_dataclass(hint):
        return _dataclass_checker(hint)  # type: ignore[arg-type]
    raise TypeError(f"unsupported field type {hint!r}")


def _dataclass_checker(cls: type) -> Checker:
    names = frozenset(_fields(cls))
    required = _required(cls)
    # Resolved lazily: a dataclass may refer to itself or to one declared later.
    field_checkers: dict[str, Checker] = {}

    def accept_dataclass(data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise EventSchemaError(f"{path} 应为对象", f"{path} must be an object")
        keys = data.keys()
        if not keys <= names:
            unknown = sorted(set(keys) - names)
            raise EventSchemaError(
                f"{path} 含未知字段 {', '.join(unknown)}", f"{path} has unknown fields {', '.join(unknown)}"
            )
        if not required <= keys:
            missing = sorted(required - set(keys))
            raise EventSchemaError(
                f"{path} 缺少字段 {', '.join(missing)}", f"{path} is missing fields {', '.join(missing)}"
            )
        if not field_checkers:
            field_checkers.update({name: _checker(hint) for name, hint in _fields(cls).items()})
        for name, value in data.items():
            field_checkers[name](value, f"{path}.{name}")

    return accept_dataclass


def _check_str(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _wrong(path, "字符串 / string", value)
    if "\x00" in value:
        raise EventSchemaError(f"{path} 含空字符", f"{path} contains a NUL character")


def _check_int(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(path, "整数 / integer", value)
    if abs(value) > MAX_SAFE_INTEGER:
        raise EventSchemaError(f"{path} 超出整数范围", f"{path} is outside the safe integer range")


def _check_any(value: Any, path: str) -> None:
    return None


def _wrong(path: str, expected: str, value: Any) -> EventSchemaError:
    got = type(value).__name__
    zh, en = expected.split(" / ") if " / " in expected else (expected, expected)
    return EventSchemaError(f"{path} 应为{zh}，实际为 {got}", f"{path} must be {en}, got {got}")


def _build(cls: type, data: dict[str, Any]) -> Any:
    return _builder(cls)(data)


# A builder per declared type, made once (like the checkers): a replay builds
# every event of a meeting's log, and asking `typing` what each value's hint is
# cost more than the rest of reading the log. Containers are copied (the typed
# event never shares a list or dict with the data it was built from); strings,
# integers, booleans and None are taken as they are.
Builder = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@functools.cache
def _builder(hint: Any) -> Builder:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        # As before: None stays None, a dict becomes the first dataclass option; anything else as it is.
        dataclass_options = [option for option in get_args(hint) if dataclasses.is_dataclass(option)]
        if not dataclass_options:
            return _same
        first: Any = dataclass_options[0]

        def build_union(value: Any) -> Any:
            return _builder(first)(value) if isinstance(value, dict) else value

        return build_union
    if origin is list:
        (item_hint,) = get_args(hint)
        item = _builder(item_hint)
        if item is _same:
            return list
        return lambda value: [item(element) for element in value]
    if origin is dict:
        _, item_hint = get_args(hint)
        item = _builder(item_hint)
        if item is _same:
            return dict
        return lambda value: {key: item(element) for key, element in value.items()}
    if dataclasses.is_dataclass(hint):
        return _dataclass_builder(hint)  # type: ignore[arg-type]
    return _same


def _dataclass_builder(cls: type) -> Builder:
    # Resolved lazily: a dataclass may refer to itself or to one declared later.
    nested: dict[str, Builder] = {}
    resolved = False
    make = _direct_maker(cls)

    def build_dataclass(value: Any) -> Any:
        nonlocal resolved
        if not isinstance(value, dict):
            return value
        if not resolved:
            nested.update({name: b for name, hint in _fields(cls).items() if (b := _builder(hint)) is not _same})
            resolved = True
        if nested:
            value = {name: nested[name](element) if name in nested else element for name, element in value.items()}
        return make(value)

    return build_dataclass


def _direct_maker(cls: type) -> Callable[[dict[str, Any]], Any]:
    """How to make an instance of `cls` from a checked dict of its fields: `cls(**value)`, or faster.

    Data reaches a builder checked (load: at append for stored data of the
    current version, just before for the rest): the keys are the class's
    fields, the required ones present. A frozen dataclass's `__init__` sets
    each field through `object.__setattr__`, about two thirds of building a
    question or an answer of a meeting's log. Where `__init__` does nothing
    else (no `__post_init__`, no default factory, fields in the instance's
    `__dict__`), the instance is made as `__init__` leaves it: the defaults,
    then the values, in its `__dict__`. Frozen all the same: assigning to a
    field afterwards raises, and equality, hashing and repr read the fields.
    """
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls) if params is not None else ()
    if (params is None or not params.frozen or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__")
            or any(f.default_factory is not dataclasses.MISSING for f in fields)):
        return lambda value: cls(**value)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    count = len(fields)
    new = object.__new__

    def make(value: dict[str, Any]) -> Any:
        instance: Any = new(cls)
        attributes = instance.__dict__
        if len(value) < count:
            attributes.update(defaults)
        attributes.update(value)
        return instance

    return make


def _dump(value: Any) -> Any:
    kind: Any = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    names = _dump_names(kind)
    if names is not None:
        return {name: _dump(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


@functools.cache
def _dump_names(kind: type) -> tuple[str, ...] | None:
    """Field names of a dataclass type (cached per type), None for anything else."""
    if dataclasses.is_dataclass(kind):
        return tuple(f.name for f in dataclasses.fields(kind))
    return None


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: its type name, schema version and data."""

    type: str
    data: dict[str, Any]
    schema_version: int = 0  # 0: the type's current version

    @classmethod
    def of(cls, event: DomainEvent) -> NewEvent:
        return cls(type=event.type_name, data=event.to_data(), schema_version=event.version)
