"""The identity of an embedding space: which model, how many dimensions, normalised or not.

Vectors are only comparable inside one space. The store records its space and every write and
query carries the caller's; a mismatch is an error that names both, never a silent search.

The backend that computed the vectors (torch fp32, onnx fp32, onnx int8) is recorded too, but it
does not split the space by itself: backends of one model are one space (``space_family``: model,
dim, normalised) when each non-reference backend passed the load gate, i.e. carries the mean
cosine to fp32 it was admitted with (``agreement``). A space read from an older store has no
``backend`` and reads as torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from topicserve.errors import ModelMismatch

REFERENCE_BACKEND = "torch"


class EmbeddingSpace(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    dim: int
    normalized: bool = True
    backend: str = REFERENCE_BACKEND
    # Mean cosine to the fp32 reference measured by the load gate; None for the reference backend.
    agreement: float | None = None

    @classmethod
    def from_info(cls, info: dict) -> EmbeddingSpace:
        """The space of an Embedder's ``info()`` (extra keys such as device are ignored)."""
        return cls.model_validate({k: info[k] for k in cls.model_fields if k in info})

    @property
    def space_family(self) -> tuple[str, int, bool]:
        return (self.model, self.dim, self.normalized)

    @property
    def gated(self) -> bool:
        """The reference backend, or one admitted by the load gate."""
        return self.backend == REFERENCE_BACKEND or self.agreement is not None

    def describe(self) -> str:
        norm = "L2-normalised" if self.normalized else "unnormalised"
        return f"{self.model} ({self.dim}-dim, {norm}, {self.backend} backend)"

    def compatible(self, other: EmbeddingSpace) -> bool:
        return self.space_family == other.space_family and self.gated and other.gated

    def check_compatible(self, other: EmbeddingSpace, *, what: str = "request") -> None:
        """Raise ModelMismatch naming both spaces unless ``other`` is this space (or a gated backend of it)."""
        if not self.compatible(other):
            raise ModelMismatch(
                f"embedding space mismatch: the store holds vectors of {self.describe()}, "
                f"but the {what} uses {other.describe()}. Re-embed the store with the new model "
                "(new storage_uri) or deploy the model the store was built with.",
                store_space=self.model_dump(),
                request_space=other.model_dump(),
            )
