"""The assessment and the subsidy sheet as files: CSV (UTF-8 with a BOM, which Excel reads as
UTF-8) and XLSX (openpyxl), with zh-CN column headers.

The rows are those of :func:`gridmap.service.stats.assess` (with a ``name``) and of
:func:`gridmap.service.stats.subsidy_sheet`; codes are written as text so that a spreadsheet
does not turn a 15-digit grid code into a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

__all__ = [
    "GROUPING_TITLES",
    "STAGE_LABELS",
    "stats_csv",
    "stats_table",
    "stats_xlsx",
    "subsidy_csv",
    "subsidy_table",
    "subsidy_xlsx",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The workflow's statuses as a street office names the stages (CJ/T 214 practice).
STAGE_LABELS = {
    "reported": "受理",
    "registered": "立案",
    "dispatched": "派遣",
    "handling": "处置",
    "handled": "反馈",
    "verified": "核查",
    "closed": "结案",
    "evaluated": "评价",
}
GROUPING_TITLES = {
    "grid": "按网格",
    "staff": "按网格员",
    "community": "按社区",
    "street": "按街道",
    "month": "按月份",
    "category": "按类别",
}
_KEY_HEADERS = {
    "grid": "网格编码",
    "staff": "网格员工号",
    "community": "社区代码",
    "street": "街道代码",
    "month": "月份",
    "category": "大类",
}
_FIGURES = (
    ("total", "案件总数"),
    ("dismissed", "不予立案"),
    ("closed", "结案数"),
    ("on_time", "按期结案"),
    ("overdue", "超期"),
    ("on_time_share", "按期结案率"),
    ("reopened", "返工(退回)数"),
    ("mean_hours", "平均处置时长(小时)"),
    ("mean_working_hours", "平均处置时长(工作小时)"),
    ("mean_satisfaction", "平均满意度"),
    ("rated", "评价数"),
)
_SUBSIDY = (
    ("staff_id", "工号"),
    ("name", "姓名"),
    ("cases", "案件数"),
    ("closed", "结案数"),
    ("on_time", "按期结案"),
    ("overdue", "超期"),
    ("on_time_share", "按期结案率"),
    ("reopened", "返工(退回)数"),
    ("base_yuan", "基础补贴(元)"),
    ("assessed_yuan", "考核补贴(元)"),
    ("total_yuan", "合计(元)"),
)


def stats_table(
    grouping: str, rows: Sequence[Mapping[str, Any]], statuses: Sequence[str]
) -> list[list[Any]]:
    """Header and rows of one grouping: key, name, then the figures (stages in order)."""
    header = [
        _KEY_HEADERS[grouping],
        "名称",
        "案件总数",
        *(f"{STAGE_LABELS.get(s, s)}阶段" for s in statuses),
        *(label for key, label in _FIGURES[1:]),
    ]
    body = [
        [
            row["key"],
            row.get("name"),
            row["total"],
            *(row["by_stage"].get(s, 0) for s in statuses),
            *(row[key] for key, _ in _FIGURES[1:]),
        ]
        for row in rows
    ]
    return [header, *body]


def subsidy_table(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Header and rows of the subsidy sheet."""
    return [[label for _, label in _SUBSIDY], *([row[k] for k, _ in _SUBSIDY] for row in rows)]


def _text(value: Any, *, quote: bool) -> Any:
    """A cell's value made safe for a spreadsheet: characters a worksheet cannot hold (control
    characters) become U+FFFD; with ``quote``, text a spreadsheet would run as a formula
    (=, +, -, @ first) gets a leading apostrophe (OWASP's advice against CSV injection)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return "'" + value if quote and value[:1] in _FORMULA_START else value


def _csv(table: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([["" if v is None else _text(v, quote=True) for v in row] for row in table])
    return out.getvalue().encode("utf-8-sig")


def stats_csv(grouping: str, rows: Sequence[Mapping[str, Any]], statuses: Sequence[str]) -> bytes:
    """One grouping's table as CSV."""
    return _csv(stats_table(grouping, rows, statuses))


def subsidy_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The subsidy sheet as CSV."""
    return _csv(subsidy_table(rows))


def _xlsx(sheets: Mapping[str, Sequence[Sequence[Any]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, table in sheets.items():
        sheet = book.create_sheet(title)
        for row in table:
            sheet.append([_text(v, quote=False) for v in row])
        for line in sheet.iter_rows():
            for cell in line:
                if cell.data_type == "f":  # text starting with "=": keep it text, never a formula
                    cell.data_type = "s"
        for k, cell in enumerate(table[0] if table else [], start=1):
            sheet.column_dimensions[get_column_letter(k)].width = max(10, 2 * len(str(cell)) + 2)
        sheet.freeze_panes = "A2"
        for line in sheet.iter_rows(min_row=2, max_col=1):
            for cell in line:
                cell.number_format = "@"  # codes stay text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def stats_xlsx(tables: Mapping[str, Sequence[Mapping[str, Any]]], statuses: Sequence[str]) -> bytes:
    """A workbook with a sheet per grouping (``tables``: grouping → rows), titled in zh-CN."""
    return _xlsx(
        {
            GROUPING_TITLES[grouping]: stats_table(grouping, rows, statuses)
            for grouping, rows in tables.items()
        }
    )


def subsidy_xlsx(month: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The subsidy sheet as a workbook of one sheet, titled with the month."""
    return _xlsx({f"{month} 网格员补贴": subsidy_table(rows)})
