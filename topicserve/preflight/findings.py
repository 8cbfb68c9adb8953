"""What a preflight check reports: one finding per line, with the fix next to the problem."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING, INFO, OK = "error", "warning", "info", "ok"
_ORDER = {ERROR: 0, WARNING: 1, INFO: 2, OK: 3}


@dataclass
class Finding:
    level: str  # error | warning | info | ok
    check: str  # config | download | unpack | import | deployments | gpu | dependencies | secrets
    message: str
    fix: str = ""
    app: str = ""

    def line(self) -> str:
        where = f"{self.app}/{self.check}" if self.app else self.check
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.level.upper():7} {where}: {self.message}{fix}"

    def to_dict(self) -> dict:
        return asdict(self)


def worst(findings: list[Finding]) -> str:
    return min((f.level for f in findings), key=_ORDER.__getitem__, default=OK)
