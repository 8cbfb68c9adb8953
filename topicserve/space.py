"""The identity of an embedding space: which model, how many dimensions, normalised or not.

Vectors are only comparable inside one space. The store records its space and every write and
query carries the caller's; a mismatch is an error that names both, never a silent search.

The backend that computed the vectors (torch fp32, onnx fp32, onnx int8) is recorded too, but it
does not split the space by itself: backends of one model are one space (``space_family``: model,
dim, normalised) when each non-reference backend passed the load gate, i.e. carries the mean
cosine to fp32 it was admitted with (``agreement``). A space read from an older store has no
``backend`` and reads as torch.

A model loaded from a local directory is recorded by its path, but messages name it by the
directory's name only (``public_model``): errors and /readyz never show file paths.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

from topicserve.errors import ModelMismatch

REFERENCE_BACKEND = "torch"
UPGRADE_HINT = (
    "To switch models, deploy the new model with TOPICSERVE_STORE_TABLE set to a new table and fill it "
    "with `python -m topicserve backfill --from-store <old table>`; to roll back, deploy the model the "
    "table was built with (docs/store.md, 'Upgrading the embedding model')."
)


def public_model(model: str) -> str:
    """A hub id as it is; a local directory (an absolute or relative path) by its last component."""
    if model.startswith(("/", "~", "./", "../", "\\")) or "://" in model:
        return PurePosixPath(model.replace("\\", "/").rstrip("/")).name or "(local model)"
    return model


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
        return f"{public_model(self.model)} ({self.dim}-dim, {norm}, {self.backend} backend)"

    def public(self) -> dict:
        """The space as errors and /readyz show it (a local model directory by its name only)."""
        return {**self.model_dump(), "model": public_model(self.model)}

    def compatible(self, other: EmbeddingSpace) -> bool:
        return self.space_family == other.space_family and self.gated and other.gated

    def check_compatible(self, other: EmbeddingSpace, *, what: str = "request", table: str | None = None) -> None:
        """Raise ModelMismatch naming both spaces unless ``other`` is this space (or a gated backend of it)."""
        if not self.compatible(other):
            store = f"the store table {table!r}" if table else "the store"
            raise ModelMismatch(
                f"embedding space mismatch: {store} holds vectors of {self.describe()}, "
                f"but the {what} uses {other.describe()}. {UPGRADE_HINT}",
                store_space=self.public(),
                request_space=other.public(),
            )
