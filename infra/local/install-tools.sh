#!/usr/bin/env bash
# Installs the system packages the sheets and their tests need, if missing:
# the VL Gothic font (embedded as a subset in every sheet), pdftotext/pdftoppm (poppler-utils)
# and zbarimg (zbar-tools), which read back what a sheet shows; Chromium, which renders the
# customer's pages in the browser tests (screenshots, DOM, A4 print).
set -euo pipefail
need=()
[ -f /usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf ] || need+=(fonts-vlgothic)
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v zbarimg >/dev/null || need+=(zbar-tools)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]} (Debian packages: the sheets' font, and the tools the tests use to read sheets and pages back)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
