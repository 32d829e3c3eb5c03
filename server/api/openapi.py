"""The OpenAPI document, generated from the routes' declared bodies (pydantic models)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from server.schemas import ErrorOut
from server.validation import MAX_ID

F = TypeVar("F", bound=Callable[..., Any])

_ERRORS = {
    "400": "malformed request",
    "401": "missing or invalid token",
    "403": "wrong role or origin",
    "404": "unknown event or resource",
    "409": "conflict with the current state",
    "413": "body too large",
    "415": "wrong content type",
    "422": "invalid field",
    "429": "rate limited",
}


# Operations anyone may call: a token is optional there (it may change what the caller sees).
PUBLIC = "anyone"
_BEARER = {"bearer": []}


# Path parameters that are row ids, read with validation.path_id (1..MAX_ID, else 404). Others (a WHIP
# session id, a slug, a certificate code) are strings.
ROW_IDS = frozenset({"question_id", "participant_id", "poll_id", "line_id"})


def path_parameter(name: str) -> dict[str, Any]:
    """A path parameter's schema: row ids are bounded integers, the rest strings."""
    if name in ROW_IDS:
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    else:
        schema = {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def doc(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    roles: str = PUBLIC,
    tag: str = "events",
) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        fn.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "body": body,
            "response": response,
            "status": status,
            "roles": roles,
            "tag": tag,
        }
        return fn

    return mark


def build(routes: list[BaseRoute], version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        spec = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in spec.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = spec
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorOut)
    for route in routes:
        meta = getattr(getattr(route, "endpoint", None), "__openapi__", None)
        if not isinstance(route, Route) or meta is None:
            continue
        params = [path_parameter(name) for name in route.param_convertors]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op: dict[str, Any] = {
                "summary": meta["summary"],
                "tags": [meta["tag"]],
                "description": f"Allowed: {meta['roles']}.",
                "parameters": params,
                # Public operations take a token optionally ({} = no credentials needed).
                "security": [{}, _BEARER] if meta["roles"] == PUBLIC else [_BEARER],
                "responses": {
                    str(meta["status"]): {
                        "description": "success",
                        **(
                            {"content": {"application/json": {"schema": ref(meta["response"])}}}
                            if meta["response"]
                            else {}
                        ),
                    },
                    **{
                        code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                        for code, text in _ERRORS.items()
                    },
                },
            }
            if meta["body"] is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(meta["body"])}},
                }
            paths.setdefault(route.path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sitecast API", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
