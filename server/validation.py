"""Parsing request bodies: cheap mechanical checks at the edge, with a clear 4xx for each failure."""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import accumulate
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from pydantic import Strict as StrictType
from starlette.requests import Request

from server.errors import ApiError

M = TypeVar("M", bound=BaseModel)

# C0/C1 controls other than tab and newline, plus bidi overrides that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean_line(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if "\n" in value or "\t" in value or _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").strip()
    if _CONTROL.search(value.replace("\r", "\x00")):
        raise ValueError("must not contain control characters")
    return value


Line = Annotated[str, AfterValidator(_clean_line)]
Text = Annotated[str, AfterValidator(_clean_text)]

# Row ids are 32-bit signed integers on PostgreSQL (SERIAL); SQLite would take 64 bits but not 10**23.
# Every id that reaches a query is checked against this first, so an absurd id is a 404/422, never a
# driver error.
MAX_ID = 2**31 - 1
# Numbers in bodies are JSON numbers only: `false` is not 0 and "5" is not 5 (pydantic's lax mode would
# take both). Floats must be finite (see Strict.model_config).
Integer = Annotated[int, StrictType()]
Number = Annotated[float, StrictType()]
Id = Annotated[int, StrictType(), Field(ge=1, le=MAX_ID)]

# No body of ours nests deeper than 3 (object → list → value); 32 leaves room and stays far below the
# depth where json's recursive parser raises RecursionError (about 1,000 on CPython).
MAX_JSON_DEPTH = 32
# The unrolled form of "a JSON string": linear, no backtracking on long strings.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP_OF = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_STEP = np.zeros(256, dtype=np.int8)
for _byte, _step in _STEP_OF.items():
    _STEP[_byte] = _step
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _STEP_OF)
_SMALL = 16


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than MAX_JSON_DEPTH."""


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (UTF-8 JSON), counted without parsing it.

    Brackets inside strings do not count; an unterminated string leaves its brackets counted, which only
    errs towards refusing a document json.loads would refuse anyway. UTF-8 never uses ASCII bytes inside
    a multi-byte character, so a byte scan is exact."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if len(brackets) <= _SMALL:
        # A WebSocket ping or a typical body: a few brackets, cheaper than a trip into numpy.
        return max(accumulate(map(_STEP_OF.__getitem__, brackets)), default=0)
    # The running sum of +1 per opener and -1 per closer, in C: 64 KB of "[]," costs about what parsing it
    # does, where a Python loop cost three times as much.
    return int(np.cumsum(_STEP[np.frombuffer(brackets, dtype=np.uint8)], dtype=np.int32).max())


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# One decoder for every document: json.loads with any option builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads for untrusted input: strict UTF-8, no NaN/Infinity, at most ``max_depth`` levels.

    Raises ValueError (TooDeep for nesting) for anything that is not such a document. The depth is
    checked before parsing: the stdlib parser recurses once per level and a 1.5 KB body of "[" would
    raise RecursionError from deep inside it."""
    data, text = (raw.encode(), raw) if isinstance(raw, str) else (raw, raw.decode("utf-8"))
    if json_depth(data) > max_depth:
        raise TooDeep(f"arrays and objects nest deeper than {max_depth} levels")
    return _DECODER.decode(text)


_DIGITS = re.compile(r"[0-9]{1,10}")


def path_id(request: Request, name: str, what: str) -> int:
    """The row id in path parameter ``name``: ASCII digits, 1..MAX_ID, else a 404 for ``what``.

    int() alone would take "+5", " 5", "5_0" and Arabic-Indic digits, and ids past the column's range
    reach the driver (SQLite OverflowError, PostgreSQL DataError)."""
    raw = request.path_params[name]
    value = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= value <= MAX_ID:
        raise ApiError(404, "not_found", f"{what} {raw[:20]} not found")
    return value


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high] (ASCII digits, optional minus), else a 422."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,12}", raw):
        raise ApiError(422, "invalid", f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(422, "invalid", f"{name} must be between {low} and {high}")
    return value


async def read_json(request: Request, model: type[M], limit: int) -> M:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"request body is larger than {limit} bytes")
    return parse_json(bytes(body), model)


def parse_json(body: bytes, model: type[M]) -> M:
    try:
        data: Any = loads(body) if body else None
    except TooDeep as exc:
        raise ApiError(400, "too_deep", f"body is not acceptable JSON: {exc}") from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = fields[0]
        raise ApiError(422, "invalid", f"{first['field']}: {first['message']}", fields=fields) from None
