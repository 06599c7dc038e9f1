"""The case workflow, kept importable here: it lives in :mod:`gridmap.cases.workflow`."""

from gridmap.cases.workflow import (
    DONE_STATUSES,
    OPEN_STATUSES,
    RETURN_ACTIONS,
    STATUSES,
    WORKFLOW_ROLES,
    Step,
    deadline_for,
    is_overdue,
    load_workflow,
    next_status,
)

# (action, from status) → step of the shipped workflow, as before the move.
ACTIONS: dict[tuple[str, str], Step] = {(s.action, s.source): s for s in load_workflow().steps}

__all__ = [
    "ACTIONS",
    "DONE_STATUSES",
    "OPEN_STATUSES",
    "RETURN_ACTIONS",
    "STATUSES",
    "WORKFLOW_ROLES",
    "Step",
    "deadline_for",
    "is_overdue",
    "next_status",
]
