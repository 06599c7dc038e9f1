"""The import report: what was read, imported, repaired, rejected and warned about."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["ImportReport", "Issue"]


@dataclass(frozen=True)
class Issue:
    """One thing the importer did to, or noticed about, a feature.

    ``kind`` is a stable machine-readable word (e.g. ``self_intersection``, ``missing_code``,
    ``lonlat_swapped``); ``where`` points into the source file ("feature 12", "line 40").
    """

    kind: str
    detail: str
    id: str | None = None
    name: str | None = None
    where: str | None = None


@dataclass
class ImportReport:
    """Accounts for every feature read: ``read == imported + held_back + len(rejected)``.

    ``held_back`` counts good features left out because the import was all-or-nothing
    (``ImportOptions(allow_rejects=False)``, the CLI's default) and some features were rejected.
    """

    source: str
    layer: str
    read: int = 0
    imported: int = 0
    repaired: list[Issue] = field(default_factory=list)
    rejected: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected_file: str | None = None
    workspace: str | None = None
    held_back: int = 0  # good features not written because others were rejected
    # Grids only: the draft plan they became (id, grids, changes, notes) and every building
    # whose grid changed when they were snapped to the canvas.
    plan: dict[str, object] | None = None
    snapped: list[dict[str, object]] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.read == self.imported + self.held_back + len(self.rejected)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["accounted"] = self.accounted
        return out
