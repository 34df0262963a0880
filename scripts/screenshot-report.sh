#!/usr/bin/env bash
# Render a report page (softnet-emu compare/sweep --report DIR) with headless Chromium and save a
# PNG, to see that it displays. Needs Debian's chromium (apt-get install -y chromium); the test
# suite does not. Usage: scripts/screenshot-report.sh REPORT_DIR_OR_HTML [OUT.png] [WIDTHxHEIGHT]
set -euo pipefail

target=${1:?usage: scripts/screenshot-report.sh REPORT_DIR_OR_HTML [OUT.png] [WIDTHxHEIGHT]}
[[ -d $target ]] && target=$target/index.html
[[ -f $target ]] || { echo "screenshot-report: $target: no such file" >&2; exit 2; }
out=${2:-${target%.html}.png}
size=${3:-1280x2000}

browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n $browser ]] || { echo "screenshot-report: chromium not found (apt-get install -y chromium)" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --hide-scrollbars --screenshot="$(realpath -m "$out")" --window-size="${size/x/,}" \
  "file://$(realpath "$target")" 2>/dev/null
echo "$out"
