"""The base of every request body of every service: no unknown fields, only storable text.

PostgreSQL `text` and `jsonb` cannot hold NUL (U+0000), and UTF-8 cannot encode an
unpaired surrogate (U+D800 to U+DFFF, which JSON's `\\uXXXX` escapes can still spell), so
either one in any string would fail only at the database, as a 500. One validator on
the base model walks the whole input (nested objects, lists, free-form maps and their
keys) before any field is read, so no field can be forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "{field} holds a character text cannot store (NUL or an unpaired surrogate)"


def unstorable_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in `value` that text cannot store, or None."""
    if isinstance(value, str):
        return (path or "body") if UNSTORABLE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and UNSTORABLE.search(key):
                return f"a key of {path or 'body'}"
            if (found := unstorable_at(item, where)) is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (
                found := unstorable_at(item, f"{path}.{index}" if path else str(index))
            ) is not None:
                return found
    return None


class RequestBody(BaseModel):
    """A request body: unknown fields are an error, and text must be storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Refuse NUL and unpaired surrogates anywhere in the input with a 422."""
        where = unstorable_at(data)
        if where is not None:
            raise PydanticCustomError("unstorable_text", UNSTORABLE_MESSAGE, {"field": where})
        return data
