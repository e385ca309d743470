#!/usr/bin/env bash
# Judge every server of the fifth adversary round with this checkout's gate, one at a time:
#   bash tests/adversary/round5/run.sh [OUT.tsv]     (from the repository root, after make bootstrap)
# Each line of OUT.tsv: variant, exit code, seconds, the verdict line. Traffic goes to 127.0.0.1 only.
set -u
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../.." && pwd)
out=${1:-$root/reports/adversary-round5.tsv}; : > "$out"
work=$(mktemp -d)
for variant in $(cd "$here" && python3 -c 'from variants import VARIANTS; print(" ".join(VARIANTS))'); do
  (cd "$here" && exec python3 serve.py "$variant") > "$work/server.out" 2>/dev/null &
  server=$!
  for _ in $(seq 100); do grep -q '^IDS' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/^PORT/{print $2}' "$work/server.out"); key=$(awk '/^KEY/{print $2}' "$work/server.out")
  product=$(awk '/^PRODUCT/{print $2}' "$work/server.out")
  ids=(); for id in $(awk '/^IDS/{print $2}' "$work/server.out" | tr , ' '); do ids+=(--checkout-id "$id"); done
  start=$(date +%s)
  DODO_PAYMENTS_API_KEY=$key timeout 420 "$root/.venv/bin/conformance" run --base-url "http://127.0.0.1:$port" \
    --create-session --product-id "$product" "${ids[@]}" --report-dir "$work/report" --max-time 300 \
    > "$work/gate.out" 2>&1
  code=$?
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  printf '%s\t%s\t%s\t%s\n' "$variant" "$code" "$(( $(date +%s) - start ))" "$(grep '^conformance: ' "$work/gate.out" | tail -1)" >> "$out"
done
rm -rf "$work"
echo "$out"
