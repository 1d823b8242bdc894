"""Merged ranges of one worksheet of an .xlsx file, for the streaming (read-only) reader.

openpyxl's read-only mode streams cells and does not give merged ranges (a merged area reads
as its top-left value and blanks); its normal mode gives them (ws.merged_cells) but builds
every cell in memory first.  Units merge 上报单位 / 企业名称 / 行业领域 down over many rows,
so the importer needs the ranges.  They are read here from the package itself with the
standard library only (zipfile, ElementTree) and the file format's public rules (ECMA-376
Part 2, Open Packaging Conventions): _rels/.rels names the workbook part, the workbook's
relationships name each sheet's part, and the sheet part lists <mergeCell ref="A5:A7"/>
after its cell data.  No openpyxl internals; tests/test_xlsxmerge.py holds the result to
openpyxl's own ws.merged_cells on real sheets.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_CHUNK = 1 << 20
_REF = re.compile(rb"""<(?:\w+:)?mergeCell\b[^>]*?\bref\s*=\s*["']([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?["']""")
_CARRY = 512  # longer than any <mergeCell …/> element: one cut by a chunk boundary is read whole next time


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _relationships(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, target part name) of a part's relationships; [] when it has none."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    try:
        root = ElementTree.fromstring(zf.read(rels))
    except KeyError:
        return []
    out = []
    for rel in root:
        if _local(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target") or ""
        # A target is relative to the source part's folder, or absolute from the package root.
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out.append((rel.get("Id") or "", rel.get("Type") or "", resolved))
    return out


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet title -> the part name of its XML, as the workbook declares them."""
    office = [t for _, kind, t in _relationships(zf, "") if kind.endswith("/officeDocument")]
    if not office:
        return {}
    workbook = office[0]
    by_id = {rid: target for rid, _, target in _relationships(zf, workbook)}
    out: dict[str, str] = {}
    for el in ElementTree.fromstring(zf.read(workbook)).iter():
        if _local(el.tag) != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if _local(k) == "id" and k.startswith("{")), None)
        if el.get("name") is not None and rid in by_id:
            out[el.get("name") or ""] = by_id[rid]
    return out


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def merged_ranges(path: str | Path, title: str) -> list[tuple[int, int, int, int]]:
    """Every merged range of the sheet called `title`: (min_col, min_row, max_col, max_row).
    [] when the sheet cannot be found in the package (the caller then fills nothing down)."""
    with zipfile.ZipFile(path) as zf:
        part = sheet_parts(zf).get(title)
        if part is None:
            return []
        out: list[tuple[int, int, int, int]] = []
        carry = b""
        with zf.open(part) as fh:
            # Streamed: the part is decompressed chunk by chunk and never held whole.
            while chunk := fh.read(_CHUNK):
                buf = carry + chunk
                end = 0
                if b"mergeCell" in buf:
                    for m in _REF.finditer(buf):
                        c1, r1 = _column(m.group(1)), int(m.group(2))
                        c2, r2 = (_column(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
                        out.append((min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)))
                        end = m.end()
                carry = buf[max(end, len(buf) - _CARRY):]
    return out
