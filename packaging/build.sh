#!/usr/bin/env bash
# Build a one-folder Scribe Studio bundle with PyInstaller.
#   packaging/build.sh slim   -> dist/scribe-studio-slim/  (generation only, no torch)
#   packaging/build.sh full   -> dist/scribe-studio-full/  (with torch: can train)
# Uses the current Python environment (e.g. .venv) — install with: pip install -e ".[package]"
set -euo pipefail
variant="${1:-slim}"
case "$variant" in slim|full) ;; *) echo "usage: $0 slim|full" >&2; exit 2;; esac
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
SCRIBE_VARIANT="$variant" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath "build/$variant" packaging/scribe-studio.spec
out="dist/scribe-studio-$variant"
echo "built $out ($(du -sh "$out" | cut -f1))"
