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
    next_status,
)

__all__ = [
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
