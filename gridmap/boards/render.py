"""Grid boards as PDF (reportlab), one page per grid, with a Chinese font embedded.

Each page: the title, the grid's map (its boundary over the roads, buildings and neighbouring
grids, drawn here as vector paths), a QR code (segno) to the grid's page, 四至, the staff with
roles, public phones, duties and photos where given, and the community office.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import segno
import shapely
from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, Paragraph, Table, TableStyle

from gridmap.boards.content import SIDES, GridBoard
from gridmap.errors import InputError

__all__ = ["FONT_CANDIDATES", "PAGE_SIZES", "find_font", "render_boards"]

PAGE_SIZES = {"A4": A4, "A3": A3}
# TrueType-outline CJK fonts reportlab can embed (it cannot embed CFF-outline .otf/.ttc such as
# Noto CJK). Debian: fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
_FONT = "GridmapCJK"
_RED = colors.HexColor("#c0392b")
_INK = colors.HexColor("#222222")
_GREY = colors.HexColor("#777777")


def find_font(path: Path | None = None) -> Path:
    """The CJK TrueType font to embed: ``path`` if given, else the first installed candidate.

    Raises InputError naming the font tried, or the packages that provide one.
    """
    if path is not None:
        if not Path(path).is_file():
            raise InputError(f"--font {path}: no such file")
        return Path(path)
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise InputError(
        "no Chinese TrueType font found (tried "
        + ", ".join(str(c) for c in FONT_CANDIDATES)
        + "); install one, e.g. apt-get install fonts-wqy-microhei, or give --font FILE.ttf"
    )


def _register(font: Path) -> None:
    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    try:
        pdfmetrics.registerFont(TTFont(_FONT, str(font), subfontIndex=0))
    except Exception as exc:  # reportlab raises its own TTFError and plain errors alike
        raise InputError(f"font {font}: reportlab cannot embed it ({exc})") from exc


def render_boards(
    boards: Sequence[GridBoard],
    out: Path | io.BytesIO,
    *,
    size: str = "A4",
    font: Path | None = None,
    made_on: dt.date | None = None,
) -> int:
    """Write one page per board to ``out`` (a path or a binary buffer); return the page count.

    Parameters
    ----------
    boards : sequence of GridBoard
    out : Path or BytesIO
    size : {"A4", "A3"}
    font : Path, optional
        A TrueType CJK font; default: :func:`find_font`.
    made_on : date, optional
        The date printed at the foot of each page (default today).
    """
    if size not in PAGE_SIZES:
        raise InputError(f"--size {size!r}: choose A4 or A3")
    if not boards:
        raise InputError("no boards to render")
    _register(find_font(font))
    width, height = PAGE_SIZES[size]
    scale = width / A4[0]  # an A3 page is the A4 layout scaled by √2
    target = str(out) if isinstance(out, Path) else out
    canvas = Canvas(target, pagesize=(width, height), pageCompression=1)
    canvas.setTitle("网格公示牌 " + ", ".join(b.code for b in boards[:3]))
    canvas.setCreator("gridmap")
    stamp = (made_on or dt.date.today()).isoformat()
    for board in boards:
        canvas.saveState()
        canvas.scale(scale, scale)
        _page(canvas, board, stamp)
        canvas.restoreState()
        canvas.showPage()
    canvas.save()
    return len(boards)


def _style(size: float, *, leading: float | None = None, color: Any = _INK) -> ParagraphStyle:
    return ParagraphStyle(
        f"s{size}",
        fontName=_FONT,
        fontSize=size,
        leading=leading or size * 1.35,
        textColor=color,
        wordWrap="CJK",
    )


def _escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _page(canvas: Canvas, board: GridBoard, stamp: str) -> None:
    width, height = A4
    margin = 32.0
    top = height - margin
    canvas.setFillColor(_RED)
    canvas.rect(0, height - 74, width, 74, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    canvas.setFont(_FONT, 22)
    canvas.drawString(margin, height - 42, f"{board.name} 公示牌")
    canvas.setFont(_FONT, 10.5)
    people = "" if board.residents is None else f"  常住人口 {board.residents:,} 人"
    homes = "" if board.households is None else f"  {board.households:,} 户"
    canvas.drawString(
        margin,
        height - 62,
        f"{board.street_name} {board.community_name}  网格编码 {board.code}{people}{homes}",
    )
    top = height - 74 - 14

    map_size = 330.0
    _draw_map(canvas, board, margin, top - map_size, map_size)
    right = margin + map_size + 16
    qr_size = width - margin - right
    _draw_qr(canvas, board.url, right, top - qr_size, qr_size)
    caption = Paragraph(
        f"扫码查看本网格<br/><font size=7>{_escape(board.url)}</font>", _style(9, leading=11)
    )
    _, h = caption.wrap(qr_size, 60)
    caption.drawOn(canvas, right, top - qr_size - 4 - h)

    sides_top = top - qr_size - 12 - h
    rows = [
        [Paragraph("四至", _style(11)), ""],
        *[
            [
                Paragraph(side, _style(10)),
                Paragraph(_escape("、".join(board.sides.get(side, [])) or "—"), _style(9)),
            ]
            for side in SIDES
        ],
    ]
    sides = Table(rows, colWidths=[26, qr_size - 26])
    sides.setStyle(
        TableStyle(
            [
                ("SPAN", (0, 0), (1, 0)),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, _RED),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    _, h = sides.wrap(qr_size, sides_top - (top - map_size))
    sides.drawOn(canvas, right, sides_top - h)

    y = top - map_size - 14
    y = _draw_staff(canvas, board, margin, y, width - 2 * margin)
    _draw_office(canvas, board, margin, y - 10, width - 2 * margin)
    canvas.setFont(_FONT, 7.5)
    canvas.setFillColor(_GREY)
    canvas.drawString(margin, 18, f"网格公示牌 · 制作日期 {stamp} · gridmap")
    canvas.drawRightString(width - margin, 18, "公示信息仅含工作电话，不含个人信息")


def _draw_map(canvas: Canvas, board: GridBoard, x: float, y: float, size: float) -> None:
    """The grid (red) over buildings (grey), roads (white casing) and neighbouring grids."""
    x0, y0, x1, y1 = board.boundary.bounds
    pad = max(x1 - x0, y1 - y0) * 0.12 + 1e-4
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    squash = math.cos(math.radians((y0 + y1) / 2))  # lon degrees are shorter than lat degrees
    span = max((x1 - x0) * squash, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = size / span

    def to_page(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [
                x + size / 2 + (coords[:, 0] - cx) * squash * k,
                y + size / 2 + (coords[:, 1] - cy) * k,
            ]
        )

    canvas.saveState()
    frame = canvas.beginPath()
    frame.rect(x, y, size, size)
    canvas.clipPath(frame, stroke=0, fill=0)
    canvas.setFillColor(colors.HexColor("#f4f1ea"))
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    for width, color in ((5.0, colors.HexColor("#c9c2b3")), (3.6, colors.white)):
        canvas.setLineWidth(width)
        canvas.setStrokeColor(color)
        canvas.setLineCap(1)
        for line in board.roads:
            _stroke(canvas, line, to_page)
    canvas.setFillColor(colors.HexColor("#b9b4aa"))
    for building in board.buildings:
        _polygon(canvas, building, to_page, fill=True, stroke=False)
    canvas.setDash(3, 2)
    canvas.setLineWidth(0.8)
    canvas.setStrokeColor(_GREY)
    for other in board.neighbours:
        _polygon(canvas, other, to_page, fill=False, stroke=True)
    canvas.setDash()
    canvas.setStrokeColor(_RED)
    canvas.setFillColor(colors.Color(0.75, 0.22, 0.17, alpha=0.10))
    canvas.setLineWidth(2.4)
    _polygon(canvas, board.boundary, to_page, fill=True, stroke=True)
    canvas.setFillColor(_INK)
    canvas.setFont(_FONT, 7)
    for name, line in board.road_names[:8]:
        inside = [
            p
            for p in getattr(
                line.intersection(board.boundary), "geoms", [line.intersection(board.boundary)]
            )
            if p.geom_type == "LineString" and not p.is_empty
        ]
        longest = max(inside, key=lambda p: p.length) if inside else line
        if longest.geom_type != "LineString":
            continue
        at = longest.interpolate(0.5, normalized=True)
        px, py = to_page(np.array([[at.x, at.y]]))[0]
        canvas.drawCentredString(px, py + 3, name)
    canvas.restoreState()
    canvas.setStrokeColor(_INK)
    canvas.setLineWidth(0.6)
    canvas.rect(x, y, size, size, stroke=1, fill=0)
    canvas.setFillColor(_INK)
    canvas.setFont(_FONT, 9)
    canvas.drawCentredString(x + size - 14, y + size - 16, "北")
    canvas.line(x + size - 14, y + size - 34, x + size - 14, y + size - 20)
    metres = span * 111_320 / 5
    bar = 10 ** math.floor(math.log10(metres))
    canvas.line(x + 8, y + 8, x + 8 + bar * size / (span * 111_320), y + 8)
    canvas.setFont(_FONT, 7)
    canvas.drawString(x + 8, y + 11, f"{bar:,.0f} 米")


def _rings(geom: shapely.Geometry) -> list[np.ndarray]:
    if geom.is_empty:
        return []
    parts = getattr(geom, "geoms", [geom])
    rings = []
    for part in parts:
        if part.geom_type == "Polygon":
            rings.append(np.asarray(part.exterior.coords))
            rings.extend(np.asarray(r.coords) for r in part.interiors)
        elif part.geom_type == "Point":
            rings.append(np.asarray(part.buffer(0.00004, 4).exterior.coords))
    return rings


def _polygon(canvas: Canvas, geom: Any, to_page: Any, *, fill: bool, stroke: bool) -> None:
    rings = _rings(geom)
    if not rings:
        return
    path = canvas.beginPath()
    for ring in rings:
        points = to_page(ring)
        path.moveTo(*points[0])
        for px, py in points[1:]:
            path.lineTo(px, py)
        path.close()
    canvas.drawPath(path, stroke=int(stroke), fill=int(fill), fillMode=0)


def _stroke(canvas: Canvas, geom: Any, to_page: Any) -> None:
    for part in getattr(geom, "geoms", [geom]):
        if part.geom_type != "LineString" or part.is_empty:
            continue
        points = to_page(np.asarray(part.coords))
        path = canvas.beginPath()
        path.moveTo(*points[0])
        for px, py in points[1:]:
            path.lineTo(px, py)
        canvas.drawPath(path, stroke=1, fill=0)


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code as vector squares (error correction M, quiet zone of 4 modules)."""
    code = segno.make_qr(url, error="m")
    matrix = [list(row) for row in code.matrix_iter(border=4)]
    module = size / len(matrix)
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(x + c * module, y + size - (r + 1) * module, module, module, 0, 1)


def _draw_staff(canvas: Canvas, board: GridBoard, x: float, top: float, width: float) -> float:
    """The staff table; returns the y below it."""
    head = _style(9.5, color=colors.white)
    cell = _style(9)
    with_photos = any(p.get("photo") for p in board.staff)
    header = ["职务", "姓名", "工作电话", "职责"]
    widths = [82.0, 58.0, 92.0]
    if with_photos:
        header.insert(0, "照片")
        widths.insert(0, 44.0)
    widths.append(width - sum(widths))
    rows: list[list[Any]] = [[Paragraph(h, head) for h in header]]
    for person in board.staff:
        row: list[Any] = [
            Paragraph(_escape(person["role_name"]), cell),
            Paragraph(_escape(person["name"]), cell),
            Paragraph(_escape(person["phone"] or "—"), cell),
            Paragraph(_escape(person["duties"] or ""), cell),
        ]
        if with_photos:
            photo = person.get("photo")
            row.insert(0, Image(str(photo), width=36, height=46) if photo else "")
        rows.append(row)
    if not board.staff:
        rows.append([Paragraph("暂未配备网格员", cell)] + [""] * (len(header) - 1))
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), _RED),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#faf6f5")]),
            ]
        )
    )
    _, h = table.wrap(width, top - 120)
    table.drawOn(canvas, x, top - h)
    return top - h


def _draw_office(canvas: Canvas, board: GridBoard, x: float, top: float, width: float) -> None:
    office = board.office or {}
    lines = [f"<b>社区办公地点</b>　{_escape(office.get('name') or board.community_name)}"]
    for label, key in (("地址", "address"), ("电话", "phone"), ("办公时间", "hours")):
        if office.get(key):
            lines.append(f"{label}：{_escape(office[key])}")
    text = Paragraph("<br/>".join(lines), _style(9.5))
    _, h = text.wrap(width - 16, top - 40)
    canvas.setStrokeColor(_RED)
    canvas.setLineWidth(0.8)
    canvas.roundRect(x, top - h - 12, width, h + 12, 4, stroke=1, fill=0)
    text.drawOn(canvas, x + 8, top - h - 6)
