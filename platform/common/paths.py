"""Path converters for ids in URLs: a path matches only where an id can be.

`<id:meeting_id>` takes what an id can be (letters, digits, underscore; at
most 64), `<num:batch_no>` a number of at most nine digits. Anything else (a NUL, a
lone surrogate, a 10 KB segment, a number past any batch) matches no route
and is answered 404 in the error format (common.http_errors) before a view,
the database or an error message ever sees it.

Importing this module registers both converters (Django keeps one global
registry); every URL module that uses them imports it. The OpenAPI schema
shows `id` with its pattern (drf-spectacular reads the regex) and `num` as an
integer (SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"] in settings).
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import get_converters

ID_REGEX = "[A-Za-z0-9_]{1,64}"
NUM_REGEX = "[0-9]{1,9}"


class IdConverter:
    regex = ID_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class NumConverter:
    regex = NUM_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


if "id" not in get_converters():
    register_converter(IdConverter, "id")
    register_converter(NumConverter, "num")
