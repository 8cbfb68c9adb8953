"""Topic labels and the taxonomy they come from (a YAML file, or an inline list in user_config)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator

from topicserve.errors import InvalidInput
from topicserve.inputs import StrictModel
from topicserve.settings import default_taxonomy_path, get_settings

_LIST_SEPARATORS = re.compile(r"\s*[,;:]\s*|\s+(?:and|or|&)\s+", re.IGNORECASE)
Phrase = Annotated[str, Field(min_length=1, max_length=2000)]


class Label(StrictModel):
    """A topic, scored against its prototypes: all its texts and its description's keywords
    (topicserve/topics/prototypes.py).

    ``description`` is the one-line definition; ``descriptions`` are further paraphrases and
    ``examples`` prototype sentences of documents that belong to the topic. Averaging several
    phrasings gives a label vector that sits in the middle of the topic instead of next to one
    wording of it (on AG News: 0.75 accuracy with one description, 0.84 with ~10 texts per label).
    """

    label: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    descriptions: list[Phrase] = Field(default_factory=list, max_length=50)
    examples: list[Phrase] = Field(default_factory=list, max_length=50)

    @field_validator("label")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("label must not be blank")
        return value.strip()

    def prompt(self) -> str:
        """The main text embedded for this label: label and description together."""
        return f"{self.label}: {self.description}" if self.description else self.label

    def texts(self) -> list[str]:
        """Everything embedded for this label: the main prompt, then paraphrases and examples as they are."""
        return list(dict.fromkeys([self.prompt(), *self.descriptions, *self.examples]))

    def keywords(self) -> list[str]:
        """The description's enumerated parts ("Paintings, painters, oil and tempera" -> "Paintings",
        "painters", "oil", "tempera"), each a prototype of its own: a one-line description usually is
        a list, and one averaged vector of a list sits between its items and close to none of them."""
        parts = _LIST_SEPARATORS.split(self.description.strip().rstrip("."))
        return [p.strip() for p in parts if len(p.strip()) > 1]

    def key(self) -> str:
        """Identifies the label's vector: same texts, same vector."""
        return "\x1f".join(self.texts())


class Taxonomy(StrictModel):
    name: str = "custom"
    version: int | str = 1
    topics: list[Label] = Field(min_length=1)

    @field_validator("topics")
    @classmethod
    def _unique(cls, topics: list[Label]) -> list[Label]:
        seen: set[str] = set()
        for t in topics:
            if t.label.lower() in seen:
                raise ValueError(f"duplicate topic label {t.label!r}")
            seen.add(t.label.lower())
        return topics

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.topics]


def _request_labels(labels: list[Label]) -> list[Label]:
    """Inline labels of a request: no duplicates (case-insensitive), a bounded total of text."""
    seen: set[str] = set()
    for label in labels:
        if label.label.lower() in seen:
            raise ValueError(f"duplicate label {label.label!r} (labels are compared case-insensitively)")
        seen.add(label.label.lower())
    limit = get_settings().max_label_chars
    total = sum(len(text) for label in labels for text in label.texts())
    if total > limit:
        raise ValueError(
            f"the labels' texts add up to {total} characters, over the limit of {limit} per request "
            "(TOPICSERVE_MAX_LABEL_CHARS)"
        )
    return labels


RequestLabels = Annotated[
    list[Label], Field(min_length=1, max_length=get_settings().max_labels), AfterValidator(_request_labels)
]


def load_taxonomy(source: str | Path | dict[str, Any] | list[Any] | None = None) -> Taxonomy:
    """A Taxonomy from a YAML path, a parsed mapping/list, or the bundled default when empty."""
    if source is None or source == "":
        source = default_taxonomy_path()
    if isinstance(source, (str, Path)):
        try:
            source = yaml.safe_load(Path(source).read_text())
        except OSError as exc:  # server configuration only; the path stays in the server's log
            raise InvalidInput("cannot read the configured taxonomy file", field="taxonomy_path") from exc
    if isinstance(source, list):
        source = {"topics": source}
    try:
        return Taxonomy.model_validate(source)
    except ValidationError as exc:
        raise InvalidInput(f"invalid taxonomy: {exc.errors()[0]['msg']}", field="taxonomy") from exc
