"""PDF of a stored document, printed by headless chromium (optional: needs the browser, not a Python package).

The PDF is a by-product of the stored HTML (the document of record, with its hash):
chromium prints exactly those bytes, with the CJK fonts the page names (Debian
fonts-noto-cjk: Noto Serif/Sans CJK SC), A4, without the browser's header and
footer.  No Python dependency is added: the browser is called as a program
(`--headless --print-to-pdf`).  Where there is no chromium the command says so.
The PDF is not byte-reproducible (chromium stamps a creation date); the HTML is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hazardloop.errors import ValidationError

PRINT_CSS = b"""<style media="print">
@page { size: A4; margin: 18mm 15mm; }
body { max-width: none !important; margin: 0 !important; }
img.chart { width: 100% !important; height: auto !important; }
tr, figure { page-break-inside: avoid; }
</style>
"""


def chromium() -> str | None:
    for path in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if path and Path(path).exists():
            return path
    return None


def html_to_pdf(html: bytes, out: Path, *, timeout: float = 120, print_css: bytes | None = PRINT_CSS) -> Path:
    """Print `html` to an A4 PDF.  print_css: rules added for printing (None: the page's own @page,
    as a 公文 laid out after GB/T 9704 brings)."""
    exe = chromium()
    if exe is None:
        raise ValidationError("未找到 chromium，无法生成 PDF（apt-get install -y chromium fonts-noto-cjk，"
                              "或用环境变量 CHROMIUM 指定浏览器）。")
    # Print-only rules go in before </head> of a temporary copy: the stored bytes stay untouched.
    page = html.replace(b"</head>", print_css + b"</head>", 1) if print_css else html
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="hazardloop-pdf-") as tmp:
        src = Path(tmp) / "document.html"
        src.write_bytes(page)
        target = Path(tmp) / "document.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer", "--print-to-pdf-no-header",
               f"--print-to-pdf={target}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ValidationError(f"chromium 在 {timeout:.0f} 秒内未完成 PDF 打印。") from None
        if not target.is_file() or target.stat().st_size == 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise ValidationError(f"chromium 未能生成 PDF（退出码 {proc.returncode}）：{err[0]}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, out)
    return out
