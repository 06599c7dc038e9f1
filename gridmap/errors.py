"""One error hierarchy. Core code raises these; the API maps them to status codes in one table."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DuplicateIdError",
    "GridmapError",
    "InputError",
    "MissingColumnError",
    "NotFoundError",
    "StoreClosedError",
    "StoreError",
]


class GridmapError(Exception):
    """Base of every error gridmap raises on purpose.

    ``where`` (the workspace file or database) and ``hint`` (e.g. the ids that do exist) help a
    person at the command line; :attr:`public` leaves them out for answers over HTTP, which must
    not name the store's path or host, nor list what a caller may not see.

    >>> str(NotFoundError("no plan 9", where="/srv/w.gpkg", hint="the plans are: 1, 2"))
    '/srv/w.gpkg: no plan 9; the plans are: 1, 2'
    >>> NotFoundError("no plan 9", where="/srv/w.gpkg", hint="the plans are: 1, 2").public
    'no plan 9'
    """

    code = "gridmap_error"

    def __init__(self, *args: object, where: object = None, hint: str | None = None) -> None:
        self.where, self.hint = where, hint
        self.public = str(args[0]) if args else ""
        if where is not None or hint:
            text = (f"{where}: " if where is not None else "") + self.public
            super().__init__(text + (f"; {hint}" if hint else ""), *args[1:])
        else:
            super().__init__(*args)


class InputError(GridmapError):
    """Bad input: the message names what came in and where (file, row, feature id)."""

    code = "bad_input"


class MissingColumnError(InputError):
    """A required column is absent from a source file."""

    code = "missing_column"

    def __init__(self, source: str, missing: list[str], available: list[str]):
        self.source, self.missing, self.available = source, missing, available
        super().__init__(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"the file has {', '.join(available) or 'no columns'}. "
            "Map a column with --field TARGET=SOURCE."
        )


class DuplicateIdError(InputError):
    """Ids that must be unique are not: in the file, or against what the workspace holds."""

    code = "duplicate_id"

    def __init__(self, source: str, column: str, duplicates: dict[str, list[int | str]]):
        self.source, self.column, self.duplicates = source, column, duplicates
        shown = "; ".join(
            f"{key!s} (rows {', '.join(map(str, rows))})"
            for key, rows in list(duplicates.items())[:20]
        )
        more = f" and {len(duplicates) - 20} more" if len(duplicates) > 20 else ""
        super().__init__(f"{source}: duplicate {column}: {shown}{more}")


class NotFoundError(GridmapError):
    """A thing asked for by name or id does not exist."""

    code = "not_found"


class ConflictError(GridmapError):
    """A write based on a stale revision, or one that would overwrite another person's edit."""

    code = "conflict"


class StoreError(GridmapError):
    """The workspace or database cannot be read or written as asked."""

    code = "store_error"


class StoreClosedError(StoreError):
    """The store was closed: nothing more can be read or written through it."""
