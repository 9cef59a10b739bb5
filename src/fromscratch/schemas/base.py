"""The base of every result model: extra keys allowed (outputs grow), documented keys typed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Result(BaseModel):
    """A JSON object of a command's output. New keys may appear in later versions."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
