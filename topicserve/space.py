"""The identity of an embedding space: which model, how many dimensions, normalised or not.

Vectors are only comparable inside one space. The store records its space and every write and
query carries the caller's; a mismatch is an error that names both, never a silent search.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from topicserve.errors import ModelMismatch


class EmbeddingSpace(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    dim: int
    normalized: bool = True

    def describe(self) -> str:
        norm = "L2-normalised" if self.normalized else "unnormalised"
        return f"{self.model} ({self.dim}-dim, {norm})"

    def check_compatible(self, other: EmbeddingSpace, *, what: str = "request") -> None:
        """Raise ModelMismatch naming both spaces unless ``other`` is this space."""
        if other != self:
            raise ModelMismatch(
                f"embedding space mismatch: the store holds vectors of {self.describe()}, "
                f"but the {what} uses {other.describe()}. Re-embed the store with the new model "
                "(new storage_uri) or deploy the model the store was built with.",
                store_space=self.model_dump(),
                request_space=other.model_dump(),
            )
