"""detect_dbf_encoding on real shapefiles written by GDAL (through pyogrio) into tmp_path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.io.encoding import detect_dbf_encoding

NAMES = ["南湖社区居民委员会", "弹子石街道", "Danzishi Street"]


def write_shapefile(
    tmp_path: Path,
    names: list[str],
    encoding: str | None = None,
    *,
    cpg: bool = True,
    column: str = "name",
) -> Path:
    """A point shapefile with one text column; without its .cpg when ``cpg`` is False."""
    gdf = gpd.GeoDataFrame(
        {column: names, "code": range(len(names))},
        geometry=[shapely.Point(106.57 + i * 1e-4, 29.56) for i in range(len(names))],
        crs="EPSG:4326",
    )
    path = tmp_path / "grids.shp"
    pyogrio.write_dataframe(gdf, path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


def set_language_driver(path: Path, ldid: int) -> None:
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))


def read_names(path: Path, encoding: str | None, column: str = "name") -> list[str]:
    return pyogrio.read_dataframe(path, encoding=encoding)[column].tolist()


def test_gbk_without_cpg_is_detected_as_gb18030(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK", cpg=False)
    assert not path.with_suffix(".cpg").exists()
    assert read_names(path, None) != NAMES  # what GDAL makes of it unaided
    encoding, how = detect_dbf_encoding(path)
    assert (encoding, how) == ("GB18030", "no .cpg; text fields decode as GB18030")
    assert read_names(path, encoding) == NAMES


def test_gbk_with_cpg(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK")
    assert detect_dbf_encoding(path) == ("GBK", "cpg")
    assert read_names(path, "GBK") == NAMES


@pytest.mark.parametrize("cpg", [True, False], ids=["with-cpg", "without-cpg"])
def test_utf8(tmp_path, cpg):
    path = write_shapefile(tmp_path, NAMES, "UTF-8", cpg=cpg)
    encoding, how = detect_dbf_encoding(path)
    assert encoding == "UTF-8"
    assert how == ("cpg" if cpg else "no .cpg; text fields decode as UTF-8")
    assert read_names(path, encoding) == NAMES


def test_ascii_needs_no_encoding(tmp_path):
    names = ["Nanhu", "Danzishi", "Jiangbei"]
    path = write_shapefile(tmp_path, names, cpg=False)
    assert detect_dbf_encoding(path) == (None, "no .cpg; text fields are plain ASCII")
    assert read_names(path, None) == names


def test_language_driver_id_936(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK", cpg=False)
    set_language_driver(path, 0x4D)
    encoding, how = detect_dbf_encoding(path)
    assert (encoding, how) == ("GBK", "no .cpg; language driver id 0x4D (code page 936)")
    assert read_names(path, encoding) == NAMES


def test_valid_utf8_outweighs_a_stale_language_driver_id(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "UTF-8", cpg=False)
    set_language_driver(path, 0x4D)
    encoding, how = detect_dbf_encoding(path)
    assert encoding == "UTF-8"
    assert "language driver id 0x4D" in how
    assert read_names(path, encoding) == NAMES


def test_cpg_that_does_not_fit_the_text(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    encoding, how = detect_dbf_encoding(path)
    assert encoding == "GB18030"
    assert how == (
        ".cpg says 'UTF-8' but the text fields do not decode as UTF-8; "
        "text fields decode as GB18030"
    )
    assert read_names(path, encoding) == NAMES


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("UTF-8", "UTF-8"),
        ("utf8\n", "UTF-8"),
        ("65001", "UTF-8"),
        ("936", "GBK"),
        ("ANSI 936", "GBK"),
        ("CP936", "GBK"),
        ("GBK", "GBK"),
        ("GB2312", "GBK"),  # GBK is its superset; "GB2312" files routinely hold GBK-only hanzi
        ("GB18030", "GB18030"),
        ("54936", "GB18030"),
        ("950", "CP950"),
        ("Big5", "Big5"),
        ("1252", "CP1252"),
        ("8859_1", "ISO-8859-1"),
        ("ISO-8859-5", "ISO-8859-5"),
    ],
)
def test_cpg_names_map_to_encodings_python_and_gdal_know(tmp_path, declared, expected):
    path = write_shapefile(tmp_path, ["Nanhu"])
    path.with_suffix(".cpg").write_text(declared)
    assert detect_dbf_encoding(path) == (expected, "cpg")
    assert read_names(path, expected) == ["Nanhu"]


def test_unknown_cpg_falls_back_to_the_text(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK")
    path.with_suffix(".cpg").write_text("KLINGON")
    assert detect_dbf_encoding(path) == (
        "GB18030",
        ".cpg says 'KLINGON', which is not a known encoding; text fields decode as GB18030",
    )


def test_chinese_field_names_count_as_text(tmp_path):
    path = write_shapefile(tmp_path, ["Nanhu", "Danzishi"], "GBK", cpg=False, column="名称")
    encoding, _ = detect_dbf_encoding(path)
    assert encoding == "GB18030"
    assert read_names(path, encoding, column="名称") == ["Nanhu", "Danzishi"]


def test_text_far_into_the_file_is_read(tmp_path):
    # more than one 4 MiB read: the only Chinese value is in the last record
    names = ["x" * 100] * 50_000 + ["弹子石街道"]
    path = write_shapefile(tmp_path, names, "GBK", cpg=False)
    assert path.with_suffix(".dbf").stat().st_size > 5 << 20
    assert detect_dbf_encoding(path)[0] == "GB18030"


def test_dbf_path_and_upper_case_extensions(tmp_path):
    path = write_shapefile(tmp_path, NAMES, "GBK", cpg=False)
    assert detect_dbf_encoding(path.with_suffix(".dbf"))[0] == "GB18030"
    for suffix in (".shp", ".shx", ".dbf", ".prj"):
        path.with_suffix(suffix).rename(path.with_suffix(suffix.upper()))
    assert detect_dbf_encoding(path.with_suffix(".SHP"))[0] == "GB18030"


def test_missing_or_damaged_dbf_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"grids\.shp: no \.dbf"):
        detect_dbf_encoding(tmp_path / "grids.shp")
    path = write_shapefile(tmp_path, NAMES, "GBK")
    path.with_suffix(".dbf").write_bytes(b"\x03\x7e\x0b")
    with pytest.raises(InputError, match="not a dBASE file"):
        detect_dbf_encoding(path)
    path.with_suffix(".dbf").write_bytes(b"\x03" + b"\x00" * 31 + b"\x0d")
    with pytest.raises(InputError, match="damaged dBASE header"):
        detect_dbf_encoding(path)
