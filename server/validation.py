"""Parsing request bodies: cheap mechanical checks at the edge, with a clear 4xx for each failure."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError
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
        data: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as exc:
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
