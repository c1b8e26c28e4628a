"""Shared pieces of every scenario block: the strict base model, unit types and limits.

Units: time in whole months from the start of the simulation (month 0); money in the scenario's
currency; MRR and prices in currency per month; probabilities and shares in [0, 1].

Nothing in :mod:`simlib.config` knows the runtime: names of plug-ins (coverage policies, offer
kinds) stay strings here and are checked at the runtime boundary (:mod:`simlib.plugins`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, get_args

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema
from pydantic_core.core_schema import ErrorType

__all__ = [
    "MAX_ACCOUNTS",
    "MAX_DEPTH",
    "MAX_HORIZON",
    "MAX_REQUESTS",
    "BetaDist",
    "ByKey",
    "NonNegative",
    "PositiveParam",
    "Probability",
    "SegmentName",
    "Strict",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveParam = Annotated[float, Field(gt=0.0, le=1e9)]
NonNegative = Annotated[float, Field(ge=0.0, le=1e12)]
SegmentName = Annotated[str, Field(min_length=1, max_length=200)]

#: Accounts a run may hold: the opening book plus the new accounts expected over the horizon
#: (:mod:`simlib.config.limits`). About 240 bytes an account measured (the book's columns and
#: the accounts table), so about 12 GB at the bound.
MAX_ACCOUNTS = 50_000_000
MAX_DEPTH = 32  # mapping/list nesting levels a scenario document may have
MAX_HORIZON = 1200
#: Customer requests a run may queue (``coverage.requests.per_month`` x ``horizon_months``): a
#: queued request holds about 300 bytes and takes about 8 microseconds to schedule and work
#: (measured), so about 3 GB and 80 seconds at the bound.
MAX_REQUESTS = 10_000_000


def _as_whole(value: Any) -> Any:
    """A float with no fractional part (or a numpy number) as a plain Python number."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _as_number(value: Any) -> Any:
    """A numpy number as a plain Python number (a numpy boolean stays a boolean)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


_NUMBER_INPUTS = {"int": _as_whole, "float": _as_number}
#: parts of a core schema that hold values or settings, not schemas to validate with
_NOT_SCHEMAS = frozenset({"default", "metadata", "serialization", "cls", "config", "ref"})


def _strict_schema(schema: Any, seen: set[int]) -> Any:
    """``schema`` with every int, float, str and bool schema in it strict (in place).

    An int or float schema is wrapped in a before-validator that passes numpy numbers and
    whole floats on as Python numbers (:func:`_as_whole`, :func:`_as_number`); the wrapped
    schema is not wrapped again when a model's schema is met inside another's.
    """
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            schema[i] = _strict_schema(item, seen)
        return schema
    if not isinstance(schema, dict) or id(schema) in seen:
        return schema
    seen.add(id(schema))
    kind = schema.get("type")
    if kind in ("int", "float", "str", "bool"):
        schema["strict"] = True
        if kind in _NUMBER_INPUTS:
            return core_schema.no_info_before_validator_function(_NUMBER_INPUTS[kind], schema)
        return schema
    if kind == "function-before" and schema["function"].get("function") in _NUMBER_INPUTS.values():
        return schema  # wrapped already
    for key, value in schema.items():
        if key not in _NOT_SCHEMAS and isinstance(value, (dict, list)):
            schema[key] = _strict_schema(value, seen)
    return schema


class Strict(BaseModel):
    """Base of every scenario block: unknown keys, NaN and infinity are errors, and values keep
    their type: a boolean is not a number, text is not a number, a number is not text.

    Every whole-number, number, text and true/false field of a subclass (also inside mappings,
    lists and optional values) is validated strictly (:func:`_strict_schema`): ``true`` is not 1,
    ``'300'`` is not 300, ``!!binary`` bytes are not text, ``1`` is not true. A whole number
    still passes as a number, and a number with no fractional part (``12.0``, as ranges and
    sweeps produce) as a whole number.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _strict_schema(handler(source), set())


class BetaDist(Strict):
    """A Beta(alpha, beta) distribution on [0, 1]; mean alpha / (alpha + beta)."""

    alpha: PositiveParam = Field(description="Beta shape alpha (> 0)")
    beta: PositiveParam = Field(description="Beta shape beta (> 0)")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


_MAPPING = TypeAdapter(dict[str, Any])


class ByKey:
    """Metadata of a mapping field whose values' model is chosen by their key.

    ``Annotated[dict[str, SerializeAsAny[Base]], ByKey(models, default)]``: the value under key
    ``k`` is validated as ``models[k]`` (``default`` for any other key), so each entry has only
    the fields of its own model; an error's key path runs through ``k``. ``tolerated`` lists
    keys that an entry may still carry with exactly the given value (a value no model reads,
    such as those written by an earlier version's resolved.yaml); they are dropped.
    """

    def __init__(
        self,
        models: Mapping[str, type[BaseModel]],
        default: type[BaseModel],
        tolerated: Mapping[str, Any] | None = None,
    ) -> None:
        self.models = models  # kept by reference: a plug-in may add its own model to it
        self.default = default
        self.tolerated = dict(tolerated or {})

    def model_for(self, key: object) -> type[BaseModel]:
        """The model of the entry under ``key``."""
        return self.models.get(key, self.default) if isinstance(key, str) else self.default

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # the annotated schema serializes (SerializeAsAny: each entry by its own model);
        # validation is ours
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def _entry(self, key: str, value: Any) -> Any:
        model = self.model_for(key)
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not self._dropped(model, k, v)}
        return model.model_validate(value)

    def _dropped(self, model: type[BaseModel], key: str, value: Any) -> bool:
        """A tolerated key that ``model`` does not have, holding exactly its tolerated value."""
        if key in model.model_fields or key not in self.tolerated:
            return False
        return bool(value == self.tolerated[key])

    def _validate(self, value: Any, _handler: Any) -> dict[str, BaseModel]:
        raw = _MAPPING.validate_python(value)  # a mapping with text keys, or its errors
        out: dict[str, BaseModel] = {}
        errors: list[InitErrorDetails] = []
        for key, entry in raw.items():
            try:
                out[key] = self._entry(key, entry)
            except ValidationError as exc:
                errors.extend(_prefixed(exc, key))
        if errors:
            raise ValidationError.from_exception_data("mapping", errors)
        return out


#: pydantic's own error types (any other is a model's PydanticCustomError, passed on as one)
_KNOWN_ERRORS = frozenset(get_args(ErrorType))


def _prefixed(exc: ValidationError, key: str) -> list[InitErrorDetails]:
    """The line errors of ``exc`` with ``key`` in front of their location."""
    out: list[InitErrorDetails] = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        detail: InitErrorDetails = {
            "type": kind if kind in _KNOWN_ERRORS else PydanticCustomError(kind, err["msg"]),
            "loc": (key, *err["loc"]),
            "input": err.get("input"),
        }
        if "ctx" in err and kind in _KNOWN_ERRORS:
            detail["ctx"] = err["ctx"]
        out.append(detail)
    return out
