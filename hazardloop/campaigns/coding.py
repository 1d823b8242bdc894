"""赋码: every inventoried object's stable code and a printable label with a QR code that
opens its record in the console.

The code (e.g. YXKJ-2026-000012) is set from the row id when the object is registered and
never changes.  The QR code encodes `{public URL}/c/{code}`; the public URL is the console's
address as the officers' phones reach it ($HAZARDLOOP_PUBLIC_URL, default
http://127.0.0.1:8000).  QR codes are drawn by segno (pure Python, no dependencies), at error
correction level M so a label survives some dirt.
"""

from __future__ import annotations

import io
import os

import segno

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
ERROR_LEVEL = "m"


def public_url() -> str:
    return (os.environ.get("HAZARDLOOP_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")


def object_path(code: str) -> str:
    return f"/c/{code}"


def object_url(code: str, base: str | None = None) -> str:
    return f"{(base or public_url()).rstrip('/')}{object_path(code)}"


def qr(code: str, base: str | None = None) -> segno.QRCode:
    return segno.make_qr(object_url(code, base), error=ERROR_LEVEL, boost_error=False)


def qr_svg(code: str, base: str | None = None, scale: int = 4) -> str:
    """The QR code as an SVG document (for a data: URI on the label page; no script)."""
    buf = io.BytesIO()
    qr(code, base).save(buf, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True)
    return buf.getvalue().decode("utf-8")


def qr_png(code: str, base: str | None = None, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    qr(code, base).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_data_uri(code: str, base: str | None = None, scale: int = 4) -> str:
    return qr(code, base).svg_data_uri(scale=scale, border=2)
