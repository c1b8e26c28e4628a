"""Shared pieces of every scenario block: the strict base model, unit types and limits.

Units: time in whole months from the start of the simulation (month 0); money in the scenario's
currency; MRR and prices in currency per month; probabilities and shares in [0, 1].

Nothing in :mod:`simlib.config` knows the runtime: names of plug-ins (coverage policies, offer
kinds) stay strings here and are checked at the runtime boundary (:mod:`simlib.plugins`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, get_args

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

MAX_ACCOUNTS = 50_000_000
MAX_DEPTH = 32  # mapping/list nesting levels a scenario document may have
MAX_HORIZON = 1200


class Strict(BaseModel):
    """Base of every scenario block: unknown keys, NaN and infinity are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


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
