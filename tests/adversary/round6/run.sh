#!/usr/bin/env bash
# run.sh [OUT.tsv] [VARIANT...]: start each variant, run the gate once, record, stop it.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="${1:-$HERE/first-contact.tsv}"; shift || true
RUNS="$HERE/runs"; mkdir -p "$RUNS"
if [ $# -gt 0 ]; then LIST="$*"; else
  LIST="$(cd "$HERE" && python3 -c 'from variants import VARIANTS; print(" ".join(VARIANTS))')"; fi
printf 'variant\tkind\texit\tseconds\tverdict\n' > "$OUT"
for v in $LIST; do
  kind="$(cd "$HERE" && python3 -c "from variants import VARIANTS; print(VARIANTS['$v'][0])")"
  info="$RUNS/$v.serve"
  (cd "$HERE" && exec python3 serve.py "$v") > "$info" 2>"$RUNS/$v.serve.err" &
  spid=$!
  for _ in $(seq 50); do grep -q '^IDS=' "$info" 2>/dev/null && break; sleep 0.1; done
  PORT="$(sed -n 's/^PORT=//p' "$info")"; KEY="$(sed -n 's/^KEY=//p' "$info")"
  PRODUCT="$(sed -n 's/^PRODUCT=//p' "$info")"; IDS="$(sed -n 's/^IDS=//p' "$info")"
  args=(); IFS=, read -ra idl <<< "$IDS"; for i in "${idl[@]}"; do args+=(--checkout-id "$i"); done
  start=$(date +%s.%N)
  (cd "$ROOT" && DODO_PAYMENTS_API_KEY="$KEY" "$ROOT/.venv/bin/conformance" run --base-url "http://127.0.0.1:$PORT" \
    "${args[@]}" --create-session --product-id "$PRODUCT" --report-dir "$RUNS/$v" --max-time 300) \
    > "$RUNS/$v.out" 2>&1
  rc=$?
  secs=$(python3 -c "print(round($(date +%s.%N)-$start,1))")
  verdict="$(grep '^conformance: ' "$RUNS/$v.out" | tail -1 | tr '\t' ' ')"
  printf '%s\t%s\t%s\t%s\t%s\n' "$v" "$kind" "$rc" "$secs" "$verdict" >> "$OUT"
  echo "$v $kind rc=$rc ${secs}s"
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
done
