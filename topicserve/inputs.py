"""The base of every request model: strict types, no unknown fields, text that can be stored.

Python's ``json`` turns ``"\\ud800"`` into a lone surrogate and ``NaN``/``Infinity`` into floats;
neither can be written as UTF-8 JSON (or Arrow) later, so both are refused here, at the door,
not when a batch is already half-way into the store.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

INT64 = 2**63 - 1


def utf8_or_raise(value: str, what: str = "text") -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains a lone surrogate (not valid Unicode)") from None
    return value


def _check_strings(value: Any) -> None:
    """Lone surrogates anywhere in a (nested) value; iterative, so depth cannot blow the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            utf8_or_raise(item)
        elif isinstance(item, BaseModel):
            continue  # validated by its own model
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


class StrictModel(BaseModel):
    """Unknown fields are errors, ``true``/``"5"``/``1.5`` are not ints, NaN/Infinity are not numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any, info: ValidationInfo) -> Any:
        _check_strings(value)
        return value


def check_json_value(value: Any, *, max_bytes: int, max_depth: int, max_keys: int) -> Any:
    """A JSON object of string keys and str/int/float/bool/null values, lists and objects, within limits.

    Walked without recursion: a deeply nested value is refused by ``max_depth``, not by Python's stack.
    """
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    keys, stack = 0, [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels at {path or 'top'}")
        if isinstance(item, dict):
            keys += len(item)
            if keys > max_keys:
                raise ValueError(f"has more than {max_keys} keys (nested ones included)")
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys must be strings at {path or 'top'}")
                utf8_or_raise(key, "a key")
                stack.append((child, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
        else:
            _check_scalar(item, path)
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        raise ValueError(f"is {size} bytes as JSON, over the limit of {max_bytes} bytes")
    return value


def _check_scalar(item: Any, path: str) -> None:
    if item is None or isinstance(item, bool):
        return
    if isinstance(item, str):
        utf8_or_raise(item, f"the value at {path}")
    elif isinstance(item, int):
        if abs(item) > INT64:
            raise ValueError(f"integer at {path} is outside the 64-bit range")
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"number at {path} is NaN or infinite")
    else:
        raise ValueError(f"value at {path} is not a JSON scalar, list or object")
