#!/usr/bin/env bash
# A real-browser check of the page `loid serve` answers at GET /: starts `loid serve` on RUN_DIR on a
# free loopback port, loads /?user=U&top=3 in headless Chromium (Debian's `chromium` package, not
# installed by setup.sh), and checks that the page drew the recommendations, each with its weighted
# context reviews. Not part of the test suite (it needs a browser); the suite checks the page's
# endpoints and its HTML (tests/serve/server_test.cpp).
#   bash scripts/check_page.sh RUN_DIR [USER]        (LOID=path/to/loid to use another binary)
set -euo pipefail
run=${1:?usage: scripts/check_page.sh RUN_DIR [USER]}
loid=${LOID:-build/loid}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "check_page: needs Chromium (apt-get install chromium)" >&2
  exit 2
fi
log=$(mktemp)
"$loid" serve --run "$run" --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 240); do
  grep -q "listening on" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.5
done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
[ -n "$url" ] || { echo "check_page: the server did not start" >&2; cat "$log" >&2; exit 1; }
user=${2:-$(curl -s "$url/v1/model" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["example_users"][0])')}
query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$user")
dom=$("$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=30000 \
  --dump-dom "$url/?user=$query&top=3" 2>/dev/null)
cards=$(grep -o 'class="rec"' <<<"$dom" | wc -l || true)
reviews=$(grep -o 'class="review"' <<<"$dom" | wc -l || true)
echo "check_page: user $user: $cards recommendation cards, $reviews weighted reviews"
if [ "$cards" -lt 1 ] || [ "$reviews" -lt 1 ] || ! grep -q "recommendations for" <<<"$dom"; then
  echo "check_page: FAILED; the page's DOM:" >&2
  echo "$dom" >&2
  exit 1
fi
echo "check_page: ok"
