"""Which text encoding a shapefile's attribute table (.dbf) is written in.

Chinese shapefiles usually come from desktop GIS on Chinese Windows: GBK text, often without a
.cpg file, and GDAL then reads them as ISO-8859-1 mojibake. The .cpg is trusted when present;
otherwise the language-driver byte of the .dbf header, and then the bytes of the text fields
themselves, decide.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from gridmap.errors import InputError

__all__ = ["detect_dbf_encoding"]

# dBASE language driver ids for Chinese code pages (the byte at offset 29 of the header)
_CHINESE_LDID = {0x4D: ("GBK", 936), 0x7A: ("GBK", 936), 0x4F: ("CP950", 950), 0x78: ("CP950", 950)}
# code pages whose usual Python/GDAL names are not simply CP<n>
_CODE_PAGES = {65001: "UTF-8", 936: "GBK", 54936: "GB18030", 950: "CP950"}
_NAMES = {"UTF8": "UTF-8", "GB2312": "GBK", "EUCCN": "GBK", "GBK": "GBK", "GB18030": "GB18030"}
_CHUNK_BYTES = 4 << 20


def detect_dbf_encoding(shp_path: str | Path) -> tuple[str | None, str]:
    """Find the encoding of a shapefile's text attributes.

    In order: the .cpg beside the file, when it names an encoding the text decodes with; text
    that is valid UTF-8 and not pure ASCII; a Chinese language-driver id in the .dbf header
    (0x4D, 0x7A: code page 936; 0x4F, 0x78: 950) that the text decodes with; pure ASCII text,
    which needs no encoding; text that is valid GB18030 (the superset of GBK and GB2312). The
    text is every character field and field name, read from the raw bytes.

    Parameters
    ----------
    shp_path : str or Path
        The .shp file (or its .dbf).

    Returns
    -------
    encoding : str or None
        A name both Python and GDAL know, to pass as ``pyogrio.read_dataframe(path,
        encoding=...)``; None when the text is ASCII or its encoding could not be decided.
    how : str
        How it was decided, for the import log: ``"cpg"``, or a sentence.

    Raises
    ------
    InputError
        There is no .dbf beside ``shp_path``, or its header is damaged.

    Examples
    --------
    >>> import pathlib, tempfile, geopandas as gpd, pyogrio, shapely
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "streets.shp"
    >>> gdf = gpd.GeoDataFrame(
    ...     {"name": ["弹子石街道"]}, geometry=[shapely.Point(106.6, 29.6)], crs=4326
    ... )
    >>> pyogrio.write_dataframe(gdf, path, encoding="GBK")
    >>> detect_dbf_encoding(path)
    ('GBK', 'cpg')
    >>> path.with_suffix(".cpg").unlink()
    >>> detect_dbf_encoding(path)
    ('GB18030', 'no .cpg; text fields decode as GB18030')
    >>> pyogrio.read_dataframe(path, encoding="GB18030")["name"].tolist()
    ['弹子石街道']
    """
    path = Path(shp_path)
    dbf = _sibling(path, ".dbf")
    if dbf is None:
        raise InputError(f"{path}: no .dbf beside it (a shapefile keeps its attributes there)")
    header = _read_header(dbf)
    cpg = _sibling(path, ".cpg")
    declared = None if cpg is None else cpg.read_bytes().decode("utf-8-sig", "replace").strip()
    declared_encoding = None if declared is None else _cpg_encoding(declared)
    ldid_encoding, code_page = _CHINESE_LDID.get(header.ldid, (None, 0))
    candidates = [declared_encoding, ldid_encoding, "UTF-8", "GB18030"]
    non_ascii, fits = _fitting_encodings(dbf, header, [c for c in candidates if c])

    if declared is None:
        note = "no .cpg"
    elif declared_encoding is None:
        note = f".cpg says {declared!r}, which is not a known encoding"
    elif fits[declared_encoding]:
        return declared_encoding, "cpg"
    else:
        note = f".cpg says {declared!r} but the text fields do not decode as {declared_encoding}"
    driver = f"language driver id 0x{header.ldid:02X} (code page {code_page})"
    # Valid non-ASCII UTF-8 is strong evidence (GBK text almost never is), while the driver id
    # is often stale, so UTF-8 goes first.
    if non_ascii and fits["UTF-8"]:
        ignored = f", not the {driver}" if ldid_encoding else ""
        return "UTF-8", f"{note}; text fields decode as UTF-8{ignored}"
    if ldid_encoding is not None:
        if fits[ldid_encoding]:
            return ldid_encoding, f"{note}; {driver}"
        note = f"{note}; {driver} does not fit the text"
    if not non_ascii:
        return None, f"{note}; text fields are plain ASCII"
    if fits["GB18030"]:
        return "GB18030", f"{note}; text fields decode as GB18030"
    return None, f"{note}; text fields are neither UTF-8 nor GB18030, left to GDAL's default"


def _sibling(path: Path, suffix: str) -> Path | None:
    if path.suffix.lower() == suffix:
        return path if path.is_file() else None
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def _cpg_encoding(declared: str) -> str | None:
    """Map what a .cpg says (``UTF-8``, ``936``, ``ANSI 936``, ``GBK``, ``8859_1``...) to a name."""
    text = declared.upper().replace(" ", "")
    if number := re.fullmatch(r"(?:ANSI|CP|WINDOWS-?)?(\d+)", text):
        code_page = int(number[1])
        name = _CODE_PAGES.get(code_page, f"CP{code_page}")
    elif latin := re.fullmatch(r"(?:ISO-?)?8859[-_]?(\d+)", text):
        name = f"ISO-8859-{latin[1]}"
    else:
        name = _NAMES.get(text.replace("-", "").replace("_", ""), declared.strip())
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


class _Header(NamedTuple):
    n_records: int
    header_length: int
    record_length: int
    ldid: int
    names: list[bytes]
    fields: list[tuple[int, int]]  # (offset in the record, width) of each character field


def _read_header(dbf: Path) -> _Header:
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            raise InputError(f"{dbf}: not a dBASE file (only {len(head)} bytes)")
        header_length = int.from_bytes(head[8:10], "little")
        record_length = int.from_bytes(head[10:12], "little")
        names, fields = _character_fields(f.read(max(header_length - 32, 0)))
    if header_length < 33 or record_length < 1 or any(s + w > record_length for s, w in fields):
        raise InputError(
            f"{dbf}: damaged dBASE header (header {header_length} bytes, "
            f"records {record_length} bytes)"
        )
    n_records = int.from_bytes(head[4:8], "little")
    return _Header(n_records, header_length, record_length, head[29], names, fields)


def _fitting_encodings(
    dbf: Path, header: _Header, candidates: list[str]
) -> tuple[bool, dict[str, bool]]:
    """Whether any field name or text value is non-ASCII, and which candidates decode them all.

    Reads the records in chunks and stops as soon as every candidate has failed.
    """
    fits = dict.fromkeys(candidates, True)
    non_ascii = False
    for values in _non_ascii_values(dbf, header):
        non_ascii = non_ascii or bool(values)
        for encoding in fits:
            fits[encoding] = fits[encoding] and _all_decode(values, encoding)
        if not any(fits.values()):
            break
    return non_ascii, fits


def _non_ascii_values(dbf: Path, header: _Header) -> Iterator[list[bytes]]:
    yield [name for name in header.names if not name.isascii()]
    with dbf.open("rb") as f:
        f.seek(header.header_length)
        for records in _record_chunks(f, header.n_records, header.record_length):
            live = records[records[:, 0] != ord("*")]  # "*" marks a deleted record
            values = []
            for start, width in header.fields:
                column = live[:, start : start + width]
                for row in np.flatnonzero((column >= 0x80).any(axis=1)):
                    values.append(column[row].tobytes().rstrip(b" \x00"))
            yield values


def _character_fields(descriptors: bytes) -> tuple[list[bytes], list[tuple[int, int]]]:
    """Field names, and (offset in record, width) of the character fields."""
    names, fields, offset = [], [], 1  # byte 0 of a record is the deletion flag
    for i in range(0, len(descriptors) - 31, 32):
        descriptor = descriptors[i : i + 32]
        if descriptor[0] == 0x0D:  # end of the field descriptors
            break
        kind = chr(descriptor[11])
        # as shapelib reads it: numeric widths are one byte, character widths may use two
        width = descriptor[16] if kind in "NF" else descriptor[16] + 256 * descriptor[17]
        names.append(descriptor[:11].split(b"\x00")[0])
        if kind == "C":
            fields.append((offset, width))
        offset += width
    return names, fields


def _record_chunks(f: BinaryIO, n_records: int, record_length: int) -> Iterator[np.ndarray]:
    per_chunk = max(1, _CHUNK_BYTES // record_length)
    remaining = n_records
    while remaining > 0:
        data = f.read(min(per_chunk, remaining) * record_length)
        count = len(data) // record_length
        if count == 0:  # truncated file: read what is there
            return
        yield np.frombuffer(data[: count * record_length], np.uint8).reshape(count, record_length)
        remaining -= count


def _all_decode(values: list[bytes], encoding: str) -> bool:
    """Whether every value decodes, allowing a multi-byte character cut off at the field end."""
    try:
        b"\n".join(values).decode(encoding)
        return True
    except UnicodeDecodeError:
        pass
    decoder = codecs.getincrementaldecoder(encoding)()
    for value in values:
        decoder.reset()
        try:
            decoder.decode(value, final=False)  # holds back an incomplete trailing character
        except UnicodeDecodeError:
            return False
    return True
