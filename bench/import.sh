#!/usr/bin/env bash
# Contact import benchmark: uploads a CSV of ROWS contacts (default 1,000,000) to
# POST /v1/contact-lists/{id}/import on a fresh SQLite database and reports the upload's wall
# time and the server's peak memory (/usr/bin/time -v "Maximum resident set size").
#
#   BIN=target/debug/apisendsms bash bench/import.sh
#
# Variables: BIN (the apisendsms binary; default target/release/apisendsms, else target/debug),
# ROWS (1000000), BLOCKED (how many of the numbers are on the Blacklist first; 1000),
# KEEP_TMP=1 keeps the temp dir. Everything listens on 127.0.0.1; the server is stopped on exit.
set -euo pipefail

ROWS=${ROWS:-1000000}
BLOCKED=${BLOCKED:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [[ -z "${BIN:-}" ]]; then
  if [[ -x "$TARGET/release/apisendsms" ]]; then BIN=$TARGET/release/apisendsms; else BIN=$TARGET/debug/apisendsms; fi
fi
[[ -x "$BIN" ]] || { echo "no binary at $BIN (cargo build -p gateway)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/apisendsms-import.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then stop_server; fi
  [[ "${KEEP_TMP:-0}" == 1 ]] || rm -rf "$TMP"
}
# /usr/bin/time reports when its child exits: stop the server itself, not time.
stop_server() {
  local child
  child=$(pgrep -P "$SERVER_PID" || true)
  if [[ -n "$child" ]]; then kill -TERM "$child"; else kill -TERM "$SERVER_PID"; fi
  wait "$SERVER_PID" || true
  SERVER_PID=
}
trap cleanup EXIT

DB="sqlite://$TMP/db/apisendsms.db"
export APISENDSMS_DATABASE_URL=$DB APISENDSMS_RATE_LIMIT_PER_SECOND=0 APISENDSMS_LOG=warn

echo "generating $ROWS rows..."
python3 - "$TMP/contacts.csv" "$ROWS" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("number;name;city\n")
    for i in range(rows):
        # Distinct Czech mobile numbers, written the way people write them.
        f.write(f"+420 72{i // 1000000} {i % 1000000 // 1000:03d} {i % 1000:03d};Name {i};City {i % 100}\n")
PY
ls -l "$TMP/contacts.csv" | awk '{print "csv bytes:", $5}'

KEY=$("$BIN" accounts create --email bench@example.com --name Bench --credit-czk 0 | jq -r .api_key)

/usr/bin/time -v -o "$TMP/time.txt" "$BIN" serve --http 127.0.0.1:0 >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  ADDR=$(sed -n 's/^apisendsms listening on //p' "$TMP/server.out")
  [[ -n "$ADDR" ]] && break
  sleep 0.1
done
[[ -n "${ADDR:-}" ]] || { echo "server did not start"; cat "$TMP/server.err"; exit 1; }
API=(-sS -H "Authorization: Bearer $KEY")

for i in $(seq 1 "$BLOCKED"); do
  n=$(( (i - 1) * (ROWS / (BLOCKED > 0 ? BLOCKED : 1)) ))
  printf '{"number":"+42072%d%03d%03d"}\n' $((n / 1000000)) $((n % 1000000 / 1000)) $((n % 1000))
done | while read -r body; do curl "${API[@]}" -o /dev/null -H 'content-type: application/json' -d "$body" "$ADDR/v1/blacklist"; done

LIST=$(curl "${API[@]}" -H 'content-type: application/json' -d '{"name":"bench"}' "$ADDR/v1/contact-lists" | jq -r .id)
echo "uploading to list $LIST..."
START=$(date +%s.%N)
curl "${API[@]}" -H 'content-type: text/csv' --data-binary "@$TMP/contacts.csv" \
  "$ADDR/v1/contact-lists/$LIST/import?basis=consent" -o "$TMP/import.json"
END=$(date +%s.%N)
stop_server

SECS=$(python3 -c "print(f'{$END - $START:.1f}')")
RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")
jq -c '{status, rows_read, imported, duplicates, rejected, blocked}' "$TMP/import.json"
echo "binary: $BIN"
echo "rows: $ROWS  upload+import: ${SECS} s  ($(python3 -c "print(int($ROWS / $SECS))") rows/s)"
echo "server peak RSS: $((RSS / 1024)) MiB"
