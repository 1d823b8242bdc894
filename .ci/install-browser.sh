#!/usr/bin/env bash
# Debian's chromium for the end-to-end web test (driven by the python playwright
# package with executable_path=/usr/bin/chromium; no browser download).  Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ] && command -v pdftoppm >/dev/null; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# poppler-utils: pdftoppm/pdfinfo, the 公文 PDF test reads the printed page as an image (issue 14)
$SUDO apt-get install -y --no-install-recommends chromium poppler-utils
/usr/bin/chromium --version
