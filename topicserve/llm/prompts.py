"""Prompt templates: versioned text files in topicserve/prompts/, named ``<name>-v<version>.txt``.

A template has a ``[system]`` and a ``[user]`` section; ``$placeholders`` are filled with
`string.Template` (so JSON braces in a prompt need no escaping). Lines before the first section
that start with ``#`` are comments. The file name is reported with every result it produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Literal

from topicserve.errors import InvalidInput

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*-v\d+$")
SHIPPED_PROMPTS = tuple(sorted(p.stem for p in PROMPT_DIR.glob("*.txt") if _NAME.match(p.stem)))
# The prompts that tag texts (`topics-vN`): the others name discovered clusters or expand labels and
# have other placeholders. A request may choose how its texts are tagged, so it may name a prompt
# only by one of these names: a set of files, not a path, and never a prompt made for another job.
TOPIC_PROMPTS = tuple(name for name in SHIPPED_PROMPTS if name.startswith("topics-"))
PromptName = Literal[TOPIC_PROMPTS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class Prompt:
    name: str  # e.g. "topics-v1": the file name without .txt; reported with results
    system: str
    user: str

    def messages(self, **values: object) -> list[dict[str, str]]:
        fill = {k: str(v) for k, v in values.items()}
        out = [{"role": "user", "content": Template(self.user).substitute(fill)}]
        if self.system:
            out.insert(0, {"role": "system", "content": Template(self.system).substitute(fill)})
        return out


def parse_prompt(name: str, source: str) -> Prompt:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines():
        header = line.strip().lower()
        if header in ("[system]", "[user]"):
            current = sections.setdefault(header.strip("[]"), [])
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise InvalidInput(f"prompt {name}: text before the first [system]/[user] section", field="prompt")
    if "user" not in sections:
        raise InvalidInput(f"prompt {name} has no [user] section", field="prompt")
    return Prompt(name, "\n".join(sections.get("system", [])).strip(), "\n".join(sections["user"]).strip())


def load_prompt(name: str, directory: Path = PROMPT_DIR) -> Prompt:
    """The template ``<directory>/<name>.txt``; ``name`` must look like ``topics-v1``."""
    if not _NAME.match(name):
        raise InvalidInput(f"prompt name must look like 'topics-v1', got {name!r}", field="prompt")
    path = directory / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.txt"))
        raise InvalidInput(f"no prompt {name!r}; available: {', '.join(known)}", field="prompt")
    return parse_prompt(name, path.read_text(encoding="utf-8"))
