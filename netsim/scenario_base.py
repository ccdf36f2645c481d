"""The base of every mapping in the scenario format: strict keys, errors that locate.

``_Model`` forbids unknown keys and wraps its errors so that the loader can report the first
one with its line and suggest a valid key (netsim.scenario_format explains the two error
kinds). Workloads build their sections on it (``SectionModel``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .scenario_types import (
    describe,
    fail,
)

__all__ = ["SectionModel"]


def _default(text: Any) -> Any:
    """A default written as the user would write it, parsed like user input."""
    return Field(default=text, validate_default=True)


class _Model(BaseModel):
    """Base of every section: unknown keys are errors, and errors carry the valid keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    what: ClassVar[str] = "this mapping"

    @model_validator(mode="wrap")
    @classmethod
    def _collect_errors(cls, value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            ctx = {
                "errors": exc.errors(include_url=False),
                "keys": tuple(cls.model_fields),
                "what": cls.what,
                "message": f"invalid {cls.what}",
            }
            raise PydanticCustomError("nested", "{message}", ctx) from None


def _validate(model: type[_Model], value: object) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        ctx = {"errors": exc.errors(include_url=False), "message": f"invalid {model.what}"}
        raise PydanticCustomError("nested", "{message}", ctx) from None


def _pick(value: dict, key: str, choices: dict[str, type[_Model]], what: str) -> type[_Model]:
    """The model for a mapping, chosen by the value of its ``key`` (its discriminator)."""
    names = ", ".join(choices)
    if key not in value:
        raise fail(f"{what} needs '{key}', one of: {names}")
    choice = value[key]
    if not isinstance(choice, str) or choice not in choices:
        raise fail(f"expected one of {names}, got {describe(choice)}", key)
    return choices[choice]


SectionModel = _Model
"""The base of a workload's section model: unknown keys are errors, with suggestions."""
