"""A configured value and the legal text it comes from."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Sourced(BaseModel, Generic[T]):
    """A configured value and the legal text it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: T
    source: str = Field(min_length=8)
