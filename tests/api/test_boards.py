"""Public grid boards (网格公示牌) as PDF: ``gridmap board --street`` on the published sample (a
page per grid; the QR code, read back from a rendered page, opens the grid's page; staff names
and public phones are in the text, private phones are not) and ``GET /api/grids/{code}/board.pdf``
on both engines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from published import STAFFED_STREET, client, engine, sample_gpkg, sample_postgis, sample_store

from gridmap.boards import grid_page_url
from gridmap.cli.serve_commands import assign_community_staff
from gridmap.store import GpkgStore

__all__ = ["client", "engine", "sample_gpkg", "sample_postgis", "sample_store"]

STREET = "500108002"  # 花园路街道
BASE = "https://wg.example.cn"


def _text(pdf: Path, page: int | None = None) -> str:
    pages = [] if page is None else ["-f", str(page), "-l", str(page)]
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *pages, str(pdf), "-"], capture_output=True, check=True
    )
    return done.stdout.decode()


def _qr_codes(pdf: Path, page: int, tmp: Path) -> list[str]:
    stem = tmp / f"page{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-png",
            "-singlefile",
            "-f",
            str(page),
            "-l",
            str(page),
            str(pdf),
            str(stem),
        ],
        check=True,
    )
    image = np.asarray(Image.open(f"{stem}.png").convert("L"))
    return [found.text for found in zxingcpp.read_barcodes(image)]


@pytest.fixture(scope="module")
def street_boards(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """`gridmap board --street 花园路街道` on a copy of the sample whose grids there have staff."""
    folder = tmp_path_factory.mktemp("boards")
    workspace = folder / "nanan.gpkg"
    shutil.copyfile(sample_gpkg, workspace)
    with GpkgStore(workspace) as store:
        divisions = store.read("divisions")
        assign_community_staff(
            store,
            actor="tester",
            communities=[c for c in divisions["code"] if c.startswith(STREET) and c[9:] != "000"],
        )
        grids = store.grids_at()
        codes = sorted(c for c in grids["code"] if c.startswith(STREET))
        staff = store.read("staff").set_index("id")
        first = [staff.loc[a.staff_id] for a in store.staff_assignments(grid_code=codes[0])]
    out = folder / "street.pdf"
    gridmap = str(Path(sys.executable).with_name("gridmap"))
    subprocess.run(
        [
            gridmap,
            "board",
            "--street",
            STREET,
            "--out",
            str(out),
            "--base-url",
            BASE,
            "--workspace",
            str(workspace),
        ],
        check=True,
        capture_output=True,
    )
    return {"pdf": out, "codes": codes, "first_staff": first, "folder": folder}


def test_a_page_per_grid_of_the_street(street_boards: dict) -> None:  # type: ignore[type-arg]
    info = subprocess.run(
        ["pdfinfo", str(street_boards["pdf"])], capture_output=True, text=True, check=True
    ).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages == len(street_boards["codes"]) > 10
    fonts = subprocess.run(
        ["pdffonts", str(street_boards["pdf"])], capture_output=True, text=True, check=True
    ).stdout
    assert "WenQuanYi" in fonts and " yes yes " in fonts  # the Chinese font embedded, subset


def test_the_qr_code_opens_the_grids_page(street_boards: dict) -> None:  # type: ignore[type-arg]
    codes = street_boards["codes"]
    for page in (1, len(codes)):
        found = _qr_codes(street_boards["pdf"], page, street_boards["folder"])
        assert found == [grid_page_url(BASE, codes[page - 1])]


def test_staff_names_and_public_phones_are_on_the_board(street_boards: dict) -> None:  # type: ignore[type-arg]
    text = _text(street_boards["pdf"], 1)
    people = street_boards["first_staff"]
    assert len(people) >= 5
    for person in people:
        assert person["name"] in text and person["phone_public"] in text
        assert person["phone_private"] not in text
    assert street_boards["codes"][0] in text and "四至" in text and "居民委员会" in text


def test_the_board_over_http(client, sample_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grids = sample_store.grids_at()
    code = sorted(c for c in grids["code"] if c.startswith(STAFFED_STREET))[0]
    staff = sample_store.read("staff").set_index("id")
    people = [staff.loc[a.staff_id] for a in sample_store.staff_assignments(grid_code=code)]
    answer = client.get(f"/api/grids/{code}/board.pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "board.pdf"
    pdf.write_bytes(answer.content)
    text = _text(pdf)
    assert people and all(p["name"] in text and p["phone_public"] in text for p in people)
    assert not any(p["phone_private"] in text for p in people)
    assert _qr_codes(pdf, 1, tmp_path) == [f"http://testserver/?grid={code}"]
    assert client.get("/api/grids/500108999999001/board.pdf").status_code == 404
    assert client.get("/api/grids/12345/board.pdf").status_code == 422
    assert client.get(f"/api/grids/{code}/board.pdf?size=B5").status_code == 422
