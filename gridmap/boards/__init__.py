"""Public grid boards (网格公示牌): gather what a board shows from a store, render it as PDF."""

from gridmap.boards.content import (
    BoardSelection,
    GridBoard,
    collect_boards,
    grid_page_url,
    sides_of,
)
from gridmap.boards.offices import community_offices, reach_in_store
from gridmap.boards.render import find_font, render_boards

__all__ = [
    "BoardSelection",
    "GridBoard",
    "collect_boards",
    "community_offices",
    "find_font",
    "grid_page_url",
    "reach_in_store",
    "render_boards",
    "sides_of",
]
