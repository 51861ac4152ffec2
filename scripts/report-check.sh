#!/usr/bin/env bash
# Open the report of `stiffnode inspect --report` in a headless Chromium and screenshot it: the
# page must load without console errors and hold every plot. Not part of CI (Chromium is a large
# download); run it after changing the plots or the report.
#
# Usage: scripts/report-check.sh [BINARY]   (apt-get install -y chromium first)
# Writes $OUT (default /tmp/report-check): two short runs, their comparison, report.png.
set -euo pipefail
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/stiffnode}"
OUT="${OUT:-/tmp/report-check}"
rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN" train --config examples/robertson-rates.toml --epochs 40 --modes-every 4 --out "$OUT/radau5" --quiet | tail -1
"$BIN" train --config examples/robertson-rates.toml --epochs 40 --modes-every 4 --method backward-euler \
  --out "$OUT/backward-euler" --quiet | tail -1
"$BIN" inspect "$OUT/radau5" "$OUT/backward-euler" --report --out "$OUT/compared" > /dev/null
page="file://$OUT/compared/report.html"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
chromium "${flags[@]}" --dump-dom "$page" > "$OUT/dom.html" 2> "$OUT/chromium.log"
chromium "${flags[@]}" --window-size=1400,4000 --screenshot="$OUT/report.png" "$page" 2>> "$OUT/chromium.log"
svgs=$(grep -o "<svg" "$OUT/dom.html" | wc -l)
errors=$(grep -c "CONSOLE" "$OUT/chromium.log" || true)
echo "report: $svgs plots in the loaded page, $errors console messages, screenshot $OUT/report.png"
[ "$svgs" -eq 12 ] && [ "$errors" -eq 0 ] && [ -s "$OUT/report.png" ]
