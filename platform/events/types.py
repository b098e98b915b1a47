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


def load(type_name: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    """Typed event object from stored data (upcasting old versions)."""
    cls = lookup(type_name)
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
    fields = _fields(cls)
    kwargs = {name: _build_value(fields[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _build_value(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            if option is type(None) and value is None:
                return None
            if dataclasses.is_dataclass(option) and isinstance(value, dict):
                return _build(option, value)  # type: ignore[arg-type]
        return value
    if origin is list:
        (item,) = get_args(hint)
        return [_build_value(item, element) for element in value]
    if origin is dict:
        _, item = get_args(hint)
        return {key: _build_value(item, element) for key, element in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _build(hint, value)  # type: ignore[arg-type]
    return value


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
