#!/usr/bin/env bash
# End-to-end benchmark: HTTP accepted -> SMPP submitted -> receipt -> delivered, against the SMSC
# simulator (`apisendsms smsc-sim`) running as its own process, receipts on, SQLite.
# Runs apisendsms, then Kannel 1.4.5 (Debian's bearerbox + smsbox, an SMPP smsc group, DLRs
# requested) against a fresh simulator of the same kind, and prints both figures and their ratio.
# Usage: bash bench/e2e.sh        (knobs below; see bench/README.md)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
MESSAGES=${MESSAGES:-200000}
BATCH=${BATCH:-1000}                  # numbers per POST /v1/messages
CONCURRENCY=${CONCURRENCY:-4}         # concurrent batch requests
KANNEL_CONNECTIONS=${KANNEL_CONNECTIONS:-64}
WINDOW=${WINDOW:-200}                 # SMPP window of both gateways' carrier binds
RECEIPT_DELAY_MS=${RECEIPT_DELAY_MS:-10}
TIMEOUT=${TIMEOUT:-900}               # seconds each system may take
SKIP_KANNEL=${SKIP_KANNEL:-0}
PORT_BASE=${PORT_BASE:-24000}
APISENDSMS_BIN=${APISENDSMS_BIN:-$REPO_DIR/target/release/apisendsms}
BENCH_TMPDIR=${BENCH_TMPDIR:-/tmp}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
PYTHON=${PYTHON:-python3}

SIM_PORT=$((PORT_BASE + 0)); SIM_CTL=$((PORT_BASE + 1)); API_PORT=$((PORT_BASE + 2))
K_ADMIN=$((PORT_BASE + 3)); K_BOX=$((PORT_BASE + 4)); K_SEND=$((PORT_BASE + 5))

WORK=$(mktemp -d "$BENCH_TMPDIR/apisendsms-e2e.XXXXXX")
PIDS=()
log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
start_bg() { local name=$1; shift; "$@" >"$WORK/$name.out" 2>&1 & LAST_PID=$!; PIDS+=("$LAST_PID"); }
stop_pid() { kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }
cleanup() { local rc=$?; for p in "${PIDS[@]}"; do stop_pid "$p"; done; ((rc == 0)) && rm -rf "$WORK" || log "kept $WORK"; exit "$rc"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 150); do ss -Htln "sport = :$1" | grep -q . && return 0; sleep 0.2; done; return 1; }
vmhwm_mib() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  log "apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_sim() { # start_sim NAME
  start_bg "$1" "$APISENDSMS_BIN" smsc-sim --listen "127.0.0.1:$SIM_PORT" --control "127.0.0.1:$SIM_CTL" \
    --receipt-delay-ms "$RECEIPT_DELAY_MS"
  SIM_PID=$LAST_PID
  wait_port "$SIM_PORT" || die "simulator did not start: $(tail -3 "$WORK/$1.out")"
}

[[ -x $APISENDSMS_BIN ]] || (cd "$REPO_DIR" && cargo build --release -p gateway --bin apisendsms)
mkdir -p "$OUT_DIR"

# ---- apisendsms ----------------------------------------------------------------------
log "=== apisendsms: $MESSAGES messages in batches of $BATCH, $CONCURRENCY concurrent requests"
start_sim sim-apisendsms
DB=$WORK/e2e.db
cat >"$WORK/apisendsms.toml" <<TOML
rate_limit_per_second = 0
max_recipients = 10000
[[connectors]]
kind = "smpp"
name = "smsc"
host = "127.0.0.1"
port = $SIM_PORT
system_id = "bench"
password = "bench"
window = $WINDOW
[[routes]]
prefix = ""
connector = "smsc"
TOML
ACCOUNT=$(env -u APISENDSMS_DATABASE_URL "$APISENDSMS_BIN" --config "$WORK/apisendsms.toml" \
  --database-url "sqlite://$DB" accounts create --email bench@example.com --name Bench --credit-czk 10000000)
KEY=$(jq -r .api_key <<<"$ACCOUNT")
APISENDSMS_LOG=warn start_bg apisendsms "$APISENDSMS_BIN" --config "$WORK/apisendsms.toml" \
  --database-url "sqlite://$DB" serve --http "127.0.0.1:$API_PORT"
API_PID=$LAST_PID
wait_port "$API_PORT" || die "apisendsms did not start: $(tail -3 "$WORK/apisendsms.out")"
sleep 1
"$PYTHON" "$BENCH_DIR/e2e_driver.py" apisendsms --port "$API_PORT" --key "$KEY" --db "$DB" \
  --messages "$MESSAGES" --batch "$BATCH" --concurrency "$CONCURRENCY" --timeout "$TIMEOUT" >"$WORK/apisendsms.json"
OURS=$(jq -c --arg rss "$(vmhwm_mib "$API_PID")" --arg sim "$(vmhwm_mib "$SIM_PID")" \
  '. + {peak_rss_mib: ($rss | tonumber), sim_peak_rss_mib: ($sim | tonumber)}' "$WORK/apisendsms.json")
log "apisendsms: $OURS"
stop_pid "$API_PID"; stop_pid "$SIM_PID"

# ---- Kannel --------------------------------------------------------------------------
THEIRS='null'
if [[ $SKIP_KANNEL != 1 ]]; then
  log "=== Kannel: $MESSAGES sendsms requests, $KANNEL_CONNECTIONS connections (ab), DLRs requested"
  apt_install kannel apache2-utils
  start_sim sim-kannel
  cat >"$WORK/kannel.conf" <<CONF
group = core
admin-port = $K_ADMIN
admin-password = bench
status-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = $K_BOX
box-allow-ip = "127.0.0.1"
log-file = "$WORK/bearerbox.log"
log-level = 3
store-type = file
store-location = "$WORK/kannel.store"
dlr-storage = internal

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $K_BOX
sendsms-port = $K_SEND
sendsms-interface = 127.0.0.1
log-file = "$WORK/smsbox.log"
log-level = 3

group = sendsms-user
username = bench
password = bench
user-allow-ip = "127.0.0.1"

group = smsc
smsc = smpp
smsc-id = smsc
host = 127.0.0.1
port = $SIM_PORT
transceiver-mode = true
smsc-username = bench
smsc-password = bench
system-type = ""
max-pending-submits = $WINDOW
enquire-link-interval = 30
reconnect-delay = 1
CONF
  start_bg bearerbox bearerbox -v 3 "$WORK/kannel.conf"; BB_PID=$LAST_PID
  wait_port "$K_BOX" || die "bearerbox did not start"
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$K_ADMIN/status.txt?password=bench" | grep -q '(online' && break; sleep 0.2
  done
  start_bg smsbox smsbox -v 3 "$WORK/kannel.conf"; SB_PID=$LAST_PID
  wait_port "$K_SEND" || die "smsbox did not start"
  sleep 1
  URL="http://127.0.0.1:$K_SEND/cgi-bin/sendsms?username=bench&password=bench&from=BENCH&to=%2B420777000001&text=End-to-end+benchmark+message&dlr-mask=3&dlr-url=http%3A%2F%2F127.0.0.1%2Fdlr"
  T0=$(date +%s.%N)
  ab -q -k -n "$MESSAGES" -c "$KANNEL_CONNECTIONS" "$URL" >"$WORK/ab.txt" 2>&1 || die "ab failed: $(tail -3 "$WORK/ab.txt")"
  log "ab: $(grep -E 'Requests per second|Failed requests|Non-2xx' "$WORK/ab.txt" | tr -s ' ' | paste -sd';')"
  "$PYTHON" "$BENCH_DIR/e2e_driver.py" kannel-wait --sim-control "$SIM_CTL" --messages "$MESSAGES" \
    --timeout "$TIMEOUT" --t0 "$T0" >"$WORK/kannel.json"
  THEIRS=$(jq -c --arg bb "$(vmhwm_mib "$BB_PID")" --arg sb "$(vmhwm_mib "$SB_PID")" \
    '. + {peak_rss_mib: (($bb | tonumber) + ($sb | tonumber))}' "$WORK/kannel.json")
  log "kannel: $THEIRS"
fi

SUMMARY=$(jq -nc --argjson ours "$OURS" --argjson theirs "$THEIRS" \
  '{apisendsms: $ours, kannel: $theirs,
    ratio: (if $theirs == null or $theirs.delivered_per_s == 0 then null
            else ($ours.delivered_per_s / $theirs.delivered_per_s * 100 | floor) / 100 end)}')
echo "$SUMMARY" | tee "$OUT_DIR/e2e-$(date +%Y%m%d-%H%M%S).json"
