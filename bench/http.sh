#!/usr/bin/env bash
# HTTP submit benchmark: Kannel 1.4.5 (Debian) sendsms vs apisendsms POST /v1/messages.
# Usage: bash bench/http.sh        (see bench/README.md for the knobs)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

# ---- options (env vars) ------------------------------------------------------
DURATION=${DURATION:-20}                 # measured seconds per scenario
WARMUP=${WARMUP:-3}                      # warm-up seconds per scenario (not measured)
REPEAT=${REPEAT:-1}                      # measured runs per scenario; the median run is reported
CONNECTIONS=${CONNECTIONS:-64}           # single-message scenarios (both systems)
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-4}
BATCH_SIZE=${BATCH_SIZE:-1000}
THREADS=${THREADS:-2}                    # wrk threads
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}          # per-request timeout inside wrk
READY_TIMEOUT=${READY_TIMEOUT:-30}       # seconds to wait for a service to be ready
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-30}       # seconds to wait for Kannel to empty its queue
SKIP_KANNEL=${SKIP_KANNEL:-0}
SKIP_APISENDSMS=${SKIP_APISENDSMS:-0}
SKIP_BATCH=${SKIP_BATCH:-0}
KANNEL_SMSC=${KANNEL_SMSC:-fake}         # fake (fakesmsc from kannel-extras) | smpp (bench/smpp_sink.py)
PORT_BASE=${PORT_BASE:-23000}            # ports PORT_BASE..PORT_BASE+9 are used
APISENDSMS_BIN=${APISENDSMS_BIN:-$REPO_DIR/target/release/apisendsms}
SERVICE_LOG=${SERVICE_LOG:-}             # if set, passed to the service as APISENDSMS_LOG (its log filter)
APISENDSMS_DEMO=${APISENDSMS_DEMO:-1}    # 1 = serve --demo: route every message to the built-in simulated carrier
BUSY_WARN_PCT=${BUSY_WARN_PCT:-10}       # warn when other processes keep the CPUs busier than this
BENCH_TMPDIR=${BENCH_TMPDIR:-/tmp}       # parent of the temp dir (databases, Kannel store); /dev/shm = no real fsync
KEEP_TMP=${KEEP_TMP:-0}                  # 1 = keep the temp dir (configs, logs, DB)
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}   # where the summary is saved
PYTHON=${PYTHON:-python3}

KANNEL_ADMIN_PORT=$((PORT_BASE + 0))
KANNEL_SMSBOX_PORT=$((PORT_BASE + 1))
KANNEL_SENDSMS_PORT=$((PORT_BASE + 2))
KANNEL_FAKE_PORT=$((PORT_BASE + 3))
SMPP_PORT=$((PORT_BASE + 4))
APISENDSMS_PORT=$((PORT_BASE + 5))
KANNEL_USER=bench
KANNEL_PASS=benchpass
KANNEL_ADMIN_PASS=benchadmin

WORK=$(mktemp -d "$BENCH_TMPDIR/apisendsms-bench.XXXXXX")
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
export BENCH_LUA_DIR=$BENCH_DIR/lua

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- process bookkeeping: everything started here is killed on exit ------------
PIDS=()
start_bg() { # start_bg NAME CMD... ; sets LAST_PID, output in $WORK/NAME.out
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  log "started $name (pid $LAST_PID)"
}
stop_pid() { # stop_pid PID : TERM, wait up to 5 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
bg_wait() { # bg_wait OUTFILE CMD... : run CMD in the background and wait for it, so that
  # a signal interrupts the wait at once and cleanup can kill CMD
  local out=$1; shift
  "$@" >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid"
}
cleanup() {
  local rc=$? i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then
    log "temp dir kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

vmhwm_kb() { # peak RSS of a live PID in kB (0 if unknown)
  awk '/^VmHWM:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

cpu_ticks() { # cpu_ticks PID... : utime+stime (clock ticks) summed over the PIDs
  local pid total=0 t
  for pid in "$@"; do
    t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

host_busy_pct() { # % of all CPUs busy over 1 s (measured while our services idle: other load)
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.0f", (busy + idle) ? 100 * busy / (busy + idle) : 0}'
}
SERVER_PIDS=() # processes whose CPU time is charged to the scenario being measured

wait_until() { # wait_until SECONDS DESCRIPTION CMD... : poll CMD every 0.2 s
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
  log "ready: $what"
}

port_listening() { ss -Htln "sport = :$1" | grep -q .; }
port_free() { ! port_listening "$1"; }
check_ports() { local p; for p in "$@"; do port_free "$p" || die "port $p is in use (set PORT_BASE)"; done; }

APT_UPDATED=0
apt_install() { # apt_install PKG... (only the missing ones)
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "need root to apt-get install ${missing[*]}"
  if [[ $APT_UPDATED == 0 ]]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
    { tail -20 "$WORK/apt.log" >&2; die "apt-get install failed"; }
}

# ---- load generator ---------------------------------------------------------------
# run_wrk SYSTEM SCENARIO CONNECTIONS MSGS_PER_REQ SCRIPT URL
# Writes $WORK/SYSTEM-SCENARIO.json (one JSON object) and prints wrk's report.
run_wrk() {
  local system=$1 scenario=$2 conns=$3 per_req=$4 script=$5 url=$6
  local threads=$THREADS
  ((threads <= conns)) || threads=$conns
  local tag="$system-$scenario"
  HOST_BUSY=$(host_busy_pct)
  if ((HOST_BUSY > BUSY_WARN_PCT)); then
    log "WARNING: the machine is already ${HOST_BUSY}% busy before $tag (other processes); figures will be low and noisy"
  fi
  if ((WARMUP > 0)); then
    log "$tag: warm-up ${WARMUP}s, $conns connections"
    WRK_RESULT="" bg_wait "$WORK/$tag.warmup.txt" timeout $((WARMUP + 30)) \
      wrk -t"$threads" -c"$conns" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$script" "$url" ||
      die "$tag: warm-up wrk failed: $(tail -5 "$WORK/$tag.warmup.txt")"
  fi
  local r cpu0 cpu1 cpu_s
  : >"$WORK/$tag.runs.jsonl"
  for ((r = 1; r <= REPEAT; r++)); do
    log "$tag: measuring ${DURATION}s (run $r/$REPEAT), $conns connections, $threads wrk threads"
    cpu0=$(cpu_ticks "${SERVER_PIDS[@]}")
    WRK_RESULT="$WORK/$tag.r$r.wrk.json" bg_wait "$WORK/$tag.r$r.wrk.txt" timeout $((DURATION + 60)) \
      wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" --latency -s "$script" "$url" ||
      die "$tag: wrk failed: $(tail -5 "$WORK/$tag.r$r.wrk.txt")"
    cpu1=$(cpu_ticks "${SERVER_PIDS[@]}")
    cpu_s=$(awk -v d=$((cpu1 - cpu0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d / hz}')
    sed 's/^/    /' "$WORK/$tag.r$r.wrk.txt" >&2
    [[ -s $WORK/$tag.r$r.wrk.json ]] || die "$tag: wrk wrote no result"
    jq -c --argjson cpu "$cpu_s" '. + {server_cpu_s: $cpu}' "$WORK/$tag.r$r.wrk.json" >>"$WORK/$tag.runs.jsonl"
  done
  # The scenario's figures are those of the median run (by req/s); all runs' req/s are kept.
  jq -cs 'sort_by(.requests / .duration_us) as $s
    | $s[(length - 1) / 2 | floor] + {runs_rps: [.[] | .requests * 1e6 / .duration_us | floor]}' \
    "$WORK/$tag.runs.jsonl" >"$WORK/$tag.wrk.json"
}

# record SYSTEM SCENARIO CONNECTIONS MSGS_PER_REQ RSS_KB [EXTRA_JSON]
record() {
  local system=$1 scenario=$2 conns=$3 per_req=$4 rss=$5 extra=${6:-"{}"}
  jq -c --arg system "$system" --arg scenario "$scenario" \
    --argjson conns "$conns" --argjson per_req "$per_req" --argjson rss "$rss" --argjson extra "$extra" \
    --argjson busy "${HOST_BUSY:-0}" \
    '. + {system: $system, scenario: $scenario, connections: $conns, msgs_per_req: $per_req, peak_rss_kb: $rss, host_busy_before_pct: $busy} + $extra' \
    "$WORK/$system-$scenario.wrk.json" >>"$RESULTS"
}

# ---- Kannel -------------------------------------------------------------------------
write_kannel_conf() {
  local dir=$1
  cat >"$dir/kannel.conf" <<EOF
# Generated by bench/http.sh
group = core
admin-port = $KANNEL_ADMIN_PORT
admin-password = $KANNEL_ADMIN_PASS
status-password = $KANNEL_ADMIN_PASS
admin-allow-ip = "127.0.0.1"
smsbox-port = $KANNEL_SMSBOX_PORT
box-allow-ip = "127.0.0.1"
log-file = "$dir/bearerbox.log"
log-level = 3
# durable queue: every accepted message is written to the store file
store-type = file
store-location = "$dir/kannel.store"
dlr-storage = internal

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $KANNEL_SMSBOX_PORT
sendsms-port = $KANNEL_SENDSMS_PORT
sendsms-interface = 127.0.0.1
log-file = "$dir/smsbox.log"
log-level = 3

group = sendsms-user
username = $KANNEL_USER
password = $KANNEL_PASS
user-allow-ip = "127.0.0.1"
max-messages = 1

group = sms-service
keyword = default
text = "ok"
EOF
  if [[ $KANNEL_SMSC == fake ]]; then
    cat >>"$dir/kannel.conf" <<EOF

group = smsc
smsc = fake
smsc-id = fake
port = $KANNEL_FAKE_PORT
connect-allow-ip = "127.0.0.1"
EOF
  else
    cat >>"$dir/kannel.conf" <<EOF

group = smsc
smsc = smpp
smsc-id = smpp
host = 127.0.0.1
port = $SMPP_PORT
transceiver-mode = true
smsc-username = bench
smsc-password = bench
system-type = ""
max-pending-submits = 100
enquire-link-interval = 30
reconnect-delay = 1
EOF
  fi
}

kannel_status() { curl -sf --max-time 2 "http://127.0.0.1:$KANNEL_ADMIN_PORT/status.txt?password=$KANNEL_ADMIN_PASS"; }
kannel_smsc_online() { kannel_status | grep -q '(online'; }
kannel_smsbox_up() { kannel_status | grep -qi 'smsbox:'; }
kannel_delivered() { # messages bearerbox has handed to the SMSC (and had acknowledged) so far
  kannel_status | sed -n 's/^SMS: received .*, sent \([0-9]*\) (.*/\1/p' | head -1
}

bench_kannel() {
  log "=== Kannel ($KANNEL_SMSC SMSC) ==="
  local pkgs=(kannel)
  [[ $KANNEL_SMSC == fake ]] && pkgs+=(kannel-extras)
  apt_install "${pkgs[@]}"
  local fakesmsc=/usr/lib/kannel/test/fakesmsc
  [[ $KANNEL_SMSC != fake || -x $fakesmsc ]] || die "$fakesmsc missing (kannel-extras); try KANNEL_SMSC=smpp"
  check_ports "$KANNEL_ADMIN_PORT" "$KANNEL_SMSBOX_PORT" "$KANNEL_SENDSMS_PORT" "$KANNEL_FAKE_PORT" "$SMPP_PORT"

  local dir=$WORK/kannel
  mkdir -p "$dir"
  write_kannel_conf "$dir"

  if [[ $KANNEL_SMSC == smpp ]]; then
    start_bg smpp_sink "$PYTHON" "$BENCH_DIR/smpp_sink.py" --port "$SMPP_PORT" --stats-file "$dir/sink-stats.json"
    SMSC_PID=$LAST_PID
    wait_until "$READY_TIMEOUT" "SMPP sink" port_listening "$SMPP_PORT" ||
      die "SMPP sink did not start: $(tail -5 "$WORK/smpp_sink.out")"
  fi
  # -v 3: console log level "error" (the default, debug, costs a lot under load)
  start_bg bearerbox bearerbox -v 3 "$dir/kannel.conf"
  local bb_pid=$LAST_PID
  wait_until "$READY_TIMEOUT" "bearerbox admin" kannel_status ||
    die "bearerbox not ready: $(tail -5 "$WORK/bearerbox.out")"
  if [[ $KANNEL_SMSC == fake ]]; then
    # -m 0: send no MO traffic, only receive the MT messages Kannel delivers;
    # -v 4: do not print every received message (that costs as much CPU as smsbox)
    start_bg fakesmsc "$fakesmsc" -v 4 -H 127.0.0.1 -r "$KANNEL_FAKE_PORT" -m 0 '1 2 text x'
    SMSC_PID=$LAST_PID
  fi
  wait_until "$READY_TIMEOUT" "Kannel SMSC link online" kannel_smsc_online ||
    die "SMSC link not online: $(kannel_status | tail -8)"
  start_bg smsbox smsbox -v 3 "$dir/kannel.conf"
  local sb_pid=$LAST_PID
  local probe="http://127.0.0.1:$KANNEL_SENDSMS_PORT/cgi-bin/sendsms?username=$KANNEL_USER&password=$KANNEL_PASS&from=BENCH&to=%2B420777000000&text=probe"
  wait_until "$READY_TIMEOUT" "smsbox sendsms" curl -sf --max-time 2 "$probe" ||
    die "smsbox not ready: $(tail -5 "$WORK/smsbox.out")"
  local code body
  body=$(curl -s --max-time 5 -o - -w '\n%{http_code}' "$probe")
  code=${body##*$'\n'}
  log "probe: HTTP $code, body: ${body%$'\n'*}"
  [[ $code == 202 ]] || die "Kannel probe answered $code"

  SERVER_PIDS=("$bb_pid" "$sb_pid")
  local before
  before=$(kannel_delivered)
  run_wrk kannel single "$CONNECTIONS" 1 "$BENCH_DIR/lua/kannel_sendsms.lua" "http://127.0.0.1:$KANNEL_SENDSMS_PORT"

  # Wait (bounded) until Kannel has handed everything to the SMSC, to report the backlog.
  local accepted delivered prev=-1 deadline=$((SECONDS + DRAIN_TIMEOUT))
  accepted=$(jq '.requests - .non2xx' "$WORK/kannel-single.wrk.json")
  while ((SECONDS < deadline)); do
    delivered=$(kannel_delivered)
    kannel_status | grep -q 'sent [0-9]* (0 queued), store size 0' && ((delivered == prev)) && break
    prev=$delivered
    sleep 1
  done
  delivered=$(kannel_delivered)
  log "Kannel status after run: $(kannel_status | grep '^SMS:' | head -1)"
  log "sent to the SMSC since the probe (warm-up included): $((delivered - before)); accepted in measured window: $accepted"

  local bb_rss sb_rss
  bb_rss=$(vmhwm_kb "$bb_pid")
  sb_rss=$(vmhwm_kb "$sb_pid")
  log "peak RSS: bearerbox ${bb_rss} kB, smsbox ${sb_rss} kB"
  record kannel single "$CONNECTIONS" 1 $((bb_rss + sb_rss)) \
    "$(jq -nc --argjson bb "$bb_rss" --argjson sb "$sb_rss" --argjson d "$((delivered - before))" --arg smsc "$KANNEL_SMSC" \
      '{rss_detail: "bearerbox \($bb) kB + smsbox \($sb) kB", delivered_incl_warmup: $d, smsc: $smsc}')"

  local pid
  for pid in "$sb_pid" "$bb_pid" "$SMSC_PID"; do stop_pid "$pid"; done
}

# ---- apisendsms -----------------------------------------------------------------------
# api_env [VAR=VALUE...] CMD... : run CMD without this script's APISENDSMS_* variables
# (the service reads every APISENDSMS_* variable as a setting and refuses unknown ones).
# It execs, so the PID start_bg records is the service's own.
api_env() {
  local unset_args=() v
  for v in $(compgen -e); do
    [[ $v == APISENDSMS_* ]] && unset_args+=(-u "$v")
  done
  exec env "${unset_args[@]}" "$@" # only ever called in a subshell: $(...) or start_bg's &
}

# start_apisendsms DIR : fresh DB + account + server; sets API_PID, API_KEY
start_apisendsms() {
  local dir=$1
  mkdir -p "$dir"
  local db="sqlite://$dir/bench.db"
  check_ports "$APISENDSMS_PORT"
  local out
  out=$(api_env timeout 60 "$APISENDSMS_BIN" accounts create --database-url "$db" \
    --email bench@example.com --name Bench --credit-czk 100000000 2>"$dir/accounts.err") ||
    die "accounts create failed: $(tail -5 "$dir/accounts.err")"
  API_KEY=$(printf '%s\n' "$out" | grep '^{' | tail -1 | jq -r '.api_key // empty')
  [[ -n $API_KEY ]] || die "accounts create printed no api_key: $out"
  export BENCH_API_KEY=$API_KEY
  local serve_args=(serve --http "127.0.0.1:$APISENDSMS_PORT" --database-url "$db")
  [[ $APISENDSMS_DEMO == 1 ]] && serve_args+=(--demo)
  local env_args=(APISENDSMS_RATE_LIMIT_PER_SECOND=0)
  [[ -n $SERVICE_LOG ]] && env_args+=("APISENDSMS_LOG=$SERVICE_LOG")
  start_bg apisendsms api_env "${env_args[@]}" "$APISENDSMS_BIN" "${serve_args[@]}"
  API_PID=$LAST_PID
  SERVER_PIDS=("$API_PID")
  wait_until "$READY_TIMEOUT" "apisendsms /healthz" curl -sf --max-time 2 "http://127.0.0.1:$APISENDSMS_PORT/healthz" ||
    die "apisendsms not ready: $(tail -5 "$WORK/apisendsms.out")"
}

api_probe() { # api_probe BODY : one request, must be 202
  local body code
  body=$(curl -s --max-time 10 -o - -w '\n%{http_code}' -X POST "http://127.0.0.1:$APISENDSMS_PORT/v1/messages" \
    -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' --data "$1")
  code=${body##*$'\n'}
  log "probe: HTTP $code, body: $(printf '%s' "${body%$'\n'*}" | head -c 300)"
  [[ $code == 202 ]] || die "apisendsms probe answered $code"
}

api_status_counts() { # api_status_counts DB_FILE : {"queued": n, ...} from the messages table, best effort
  "$PYTHON" - "$1" <<'PY' 2>/dev/null || echo '{}'
import json, sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(json.dumps(dict(con.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())))
PY
}

bench_apisendsms() {
  log "=== apisendsms ==="
  [[ -x $APISENDSMS_BIN ]] || die "$APISENDSMS_BIN not found (cargo build --release -p gateway), or set SKIP_APISENDSMS=1"
  local url="http://127.0.0.1:$APISENDSMS_PORT"

  start_apisendsms "$WORK/api-single"
  api_probe '{"to": "+420777000000", "text": "probe", "from": "BENCH"}'
  run_wrk apisendsms single "$CONNECTIONS" 1 "$BENCH_DIR/lua/apisendsms_single.lua" "$url"
  local rss counts
  rss=$(vmhwm_kb "$API_PID")
  stop_pid "$API_PID"
  counts=$(api_status_counts "$WORK/api-single/bench.db")
  log "message states in the database after the run (warm-up included): $counts"
  record apisendsms single "$CONNECTIONS" 1 "$rss" "$(jq -nc --argjson c "$counts" '{statuses: $c}')"

  if [[ $SKIP_BATCH != 1 ]]; then
    start_apisendsms "$WORK/api-batch"
    api_probe '{"to": ["+420777000001", "+420777000002"], "text": "probe", "from": "BENCH"}'
    run_wrk apisendsms batch "$BATCH_CONNECTIONS" "$BATCH_SIZE" \
      "$BENCH_DIR/lua/apisendsms_batch.lua" "$url"
    rss=$(vmhwm_kb "$API_PID")
    stop_pid "$API_PID"
    counts=$(api_status_counts "$WORK/api-batch/bench.db")
    log "message states in the database after the run (warm-up included): $counts"
    record apisendsms batch "$BATCH_CONNECTIONS" "$BATCH_SIZE" "$rss" "$(jq -nc --argjson c "$counts" '{statuses: $c}')"
  fi
}

# ---- main -------------------------------------------------------------------------------
command -v jq >/dev/null || apt_install jq
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
export BATCH_SIZE KANNEL_USER KANNEL_PASS

log "work dir $WORK; DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT CONNECTIONS=$CONNECTIONS BATCH_CONNECTIONS=$BATCH_CONNECTIONS BATCH_SIZE=$BATCH_SIZE THREADS=$THREADS"
[[ $SKIP_KANNEL == 1 ]] || bench_kannel
[[ $SKIP_APISENDSMS == 1 ]] || bench_apisendsms

mkdir -p "$OUT_DIR"
stamp=$(date +%Y%m%d-%H%M%S)
{
  echo "# http.sh $stamp  host: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
  echo "# kannel $(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo n/a), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo n/a), repo $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo n/a)"
  echo "# DURATION=${DURATION}s WARMUP=${WARMUP}s REPEAT=$REPEAT THREADS=$THREADS KANNEL_SMSC=$KANNEL_SMSC BENCH_TMPDIR=$BENCH_TMPDIR ($(df --output=fstype "$BENCH_TMPDIR" | tail -1))"
  "$PYTHON" "$BENCH_DIR/summarize.py" "$RESULTS"
} | tee "$OUT_DIR/http-$stamp.txt"
cp "$RESULTS" "$OUT_DIR/http-$stamp.jsonl"
log "saved $OUT_DIR/http-$stamp.txt"
