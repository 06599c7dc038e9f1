"""Cases (案件): the categories table and the working-day calendar their time limits run on."""

from gridmap.cases.calendar import CHINA_TZ, OFFICE_HOURS, WorkingCalendar
from gridmap.cases.categories import (
    CATEGORIES_CSV,
    Category,
    case_deadline,
    category,
    load_categories,
)

__all__ = [
    "CATEGORIES_CSV",
    "CHINA_TZ",
    "OFFICE_HOURS",
    "Category",
    "WorkingCalendar",
    "case_deadline",
    "category",
    "load_categories",
]
