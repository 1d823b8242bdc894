#!/bin/sh
# CJK fonts for the bulletin charts (matplotlib) and the chromium screenshot test.
# Idempotent: does nothing when the Noto CJK fonts are already installed.
set -e
if fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    exit 0
fi
apt-get install -y fonts-noto-cjk || { apt-get update && apt-get install -y fonts-noto-cjk; }
