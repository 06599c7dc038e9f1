"""The notes the server writes on an incident's events, in zh-CN: the office reads them.

A clerk's own note is kept as typed; these are the notes written when none was given: how a
report came in (and near which grids' boundary), and what a correction changed (an assignee
by name as well as id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gridmap.store.contract import Store

__all__ = ["change_note", "report_note", "staff_names"]

_CHANNELS = {"office": "窗口登记 (office)", "open311": "居民上报 (open311)"}
_FIELDS = {
    "assignee": "处置人",
    "category": "类别",
    "description": "描述",
    "address": "地址",
    "grid_code": "网格",
    "community_code": "社区",
    "street_code": "街道",
    "public_note": "公开答复",
    "department": "处置部门",
    "extension_hours": "延期工时",
    "satisfaction": "满意度",
}


def report_note(channel: str, candidates: Sequence[str], near_boundary: bool) -> str:
    """How a report came in, and the grids near whose boundary it lies.

    >>> report_note("open311", ["500108003002001", "500108003004001"], True)
    '居民上报 (open311)；靠近网格边界：500108003002001、500108003004001'
    """
    said = _CHANNELS.get(channel, channel)
    if near_boundary:
        return f"{said}；靠近网格边界：{'、'.join(candidates)}"
    return said


def change_note(changes: Mapping[str, Any], staff_names: Mapping[str, str]) -> str | None:
    """What a correction changed, field by field (the status is the event's own).

    >>> change_note({"assignee": "S1", "status": "dispatched"}, {"S1": "李四"})
    '处置人：李四 (S1)'
    >>> change_note({"status": "handled"}, {}) is None
    True
    """
    parts = []
    for key, value in changes.items():
        if key == "status":
            continue
        if key == "assignee" and value in staff_names:
            value = f"{staff_names[value]} ({value})"
        parts.append(f"{_FIELDS.get(key, key)}：{'—' if value is None else value}")
    return "；".join(parts) or None


def staff_names(store: Store) -> dict[str, str]:
    """Staff id → name, from the staff layer."""
    staff = store.read("staff")
    if staff.empty:
        return {}
    return dict(zip(staff["id"].astype(str), staff["name"].astype(str), strict=False))
