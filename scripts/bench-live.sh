#!/usr/bin/env bash
# Measures live delivery to many subscribers with `lineup-live-load`: against nchan (nginx with
# libnginx-mod-nchan, installed from Debian's packages when missing and started here from a
# temporary prefix, never as the system service) and/or against a Lineup server already running,
# then prints the reports and, for `both`, the comparison Lineup / nchan.
#
# Usage: scripts/bench-live.sh [nchan|lineup|both]      (default: nchan)
#
# `both` is the side-by-side comparison in one run: Lineup first (its own `lineup demo`, started
# here on SQLite with the simulator's traffic, unless LINEUP_LIVE_BASE names a running server),
# then nchan with as many subscribers over as many channels, each channel published at the rate
# each Lineup subscriber received deltas (`lineup-live-load nchan --like`), so both deliver the
# same messages per second to the same number of subscribers; then the ratios Lineup / nchan.
#
# Shared settings (environment):
#   LINEUP_LIVE_SUBSCRIBERS  subscriber connections (default 10000)
#   LINEUP_LIVE_DURATION     measurement window (default 60s)
#   LINEUP_LIVE_RAMP         new connections per second (default 2000/s)
#   LINEUP_LIVE_OUT          folder for the JSON reports (default $CARGO_TARGET_DIR/bench-live)
# nchan:
#   LINEUP_LIVE_RATE         messages published per second to EACH channel (default 4), so every
#                            subscriber receives RATE deltas per second and nchan delivers
#                            SUBSCRIBERS x RATE deltas per second in all
#   LINEUP_LIVE_NCHAN_CHANNELS  channels bench-0.. the subscribers are spread over (default 1)
#   LINEUP_LIVE_NCHAN_PORT   nginx's port on 127.0.0.1 (default 8090)
# Lineup (the server makes its own deltas; the tool only subscribes):
#   LINEUP_LIVE_BASE         base URL of a running server; unset: a `lineup demo` is started here
#                            (port LINEUP_LIVE_DEMO_PORT, default 8088) and stopped at the end
#   LINEUP_LIVE_TOKEN        bearer token (required with LINEUP_LIVE_BASE); several, comma-
#                            separated, are used by the connections in turn, since the hub limits
#                            subscriptions per user (the tool reads it from the environment, so it
#                            stays out of `ps`)
#   LINEUP_LIVE_CHANNELS     comma-separated channels: queue:<uuid>,overview,agent:<dn> (default:
#                            the overview and every active queue)
#   LINEUP_LIVE_PID          the server's pid, for its memory per subscriber (optional)
#   LINEUP_LIVE_WS_PERCENT   share of the subscribers on WebSocket, the rest on SSE (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/lineup-target}"

mode="${1:-nchan}"
subscribers="${LINEUP_LIVE_SUBSCRIBERS:-10000}"
duration="${LINEUP_LIVE_DURATION:-60s}"
ramp="${LINEUP_LIVE_RAMP:-2000/s}"
out="${LINEUP_LIVE_OUT:-$CARGO_TARGET_DIR/bench-live}"
rate="${LINEUP_LIVE_RATE:-4}"
nchan_channels="${LINEUP_LIVE_NCHAN_CHANNELS:-1}"
nchan_port="${LINEUP_LIVE_NCHAN_PORT:-8090}"
nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so

log() { printf '==> %s\n' "$*"; }

case "$mode" in
  nchan | lineup | both) ;;
  *) echo "usage: $0 [nchan|lineup|both]" >&2; exit 2 ;;
esac

mkdir -p "$out"
log "building lineup-live-load (release)"
cargo build --release --quiet -p lineup-live-load
tool="$CARGO_TARGET_DIR/release/lineup-live-load"
# Ten thousand connections on each side need as many descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

ensure_nchan() {
  if command -v nginx >/dev/null 2>&1 && [ -f "$nchan_module" ]; then return; fi
  log "installing nginx and libnginx-mod-nchan from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
}

nginx_dir=""
stop_nginx() {
  if [ -n "$nginx_dir" ] && [ -f "$nginx_dir/nginx.pid" ]; then
    local pid
    pid=$(cat "$nginx_dir/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$nginx_dir" ]; then
    cp "$nginx_dir/error.log" "$out/nchan-error.log" 2>/dev/null || true
    rm -rf "$nginx_dir"
    nginx_dir=""
  fi
}
demo_dir=""
demo_pid=""
stop_demo() {
  if [ -n "$demo_pid" ]; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
    demo_pid=""
  fi
  if [ -n "$demo_dir" ]; then
    cp "$demo_dir/demo.log" "$out/lineup-demo.log" 2>/dev/null || true
    rm -rf "$demo_dir"
    demo_dir=""
  fi
}
trap 'stop_nginx; stop_demo' EXIT

# A `lineup demo` of its own (SQLite, simulator traffic) on a fresh database, with room for every
# subscriber under the one demo account, signed in with a password made here.
start_demo() {
  log "building lineup (release)"
  cargo build --release --quiet -p lineup
  local port="${LINEUP_LIVE_DEMO_PORT:-8088}"
  demo_dir=$(mktemp -d /tmp/lineup-live-demo.XXXXXX)
  printf '[live]\nmax_subscriptions_per_user = %d\n' $((subscribers + 100)) >"$demo_dir/lineup.toml"
  LINEUP_LIVE_PASSWORD="live-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  export LINEUP_LIVE_PASSWORD
  LINEUP_DEMO_PASSWORD="$LINEUP_LIVE_PASSWORD" LINEUP_NO_RATE_LIMITS=true \
    "$CARGO_TARGET_DIR/release/lineup" demo --config "$demo_dir/lineup.toml" \
    --database-url "sqlite://$demo_dir/lineup.db" --listen "127.0.0.1:$port" >"$demo_dir/demo.log" 2>&1 &
  demo_pid=$!
  LINEUP_LIVE_BASE="http://127.0.0.1:$port"
  LINEUP_LIVE_PID="$demo_pid"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$demo_pid" 2>/dev/null || { cat "$demo_dir/demo.log" >&2; exit 1; }
    sleep 0.2
  done
  # Let the simulator's traffic and the agents' presence warm up.
  sleep "${LINEUP_LIVE_WARMUP:-20}"
  log "lineup demo on $LINEUP_LIVE_BASE (pid $demo_pid)"
}

# One worker process (a fair match for one Lineup process), room for 20,000 connections, channel
# ids from the URL, no access log; everything nginx writes stays in the temporary prefix.
write_nginx_conf() {
  # The worker may not go past this shell's hard limit of open files (no CAP_SYS_RESOURCE here).
  local nofile
  nofile=$(ulimit -Hn)
  if [ "$nofile" = unlimited ] || [ "$nofile" -gt 40000 ]; then nofile=40000; fi
  cat >"$nginx_dir/nginx.conf" <<EOF
load_module $nchan_module;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log warn;

events {
  worker_connections 20000;
}

http {
  access_log off;
  client_body_temp_path $nginx_dir/body;
  proxy_temp_path $nginx_dir/proxy;
  fastcgi_temp_path $nginx_dir/fastcgi;
  uwsgi_temp_path $nginx_dir/uwsgi;
  scgi_temp_path $nginx_dir/scgi;

  server {
    listen 127.0.0.1:$nchan_port;

    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 16;
      nchan_message_timeout 60s;
    }

    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber;
      nchan_channel_id \$1;
      nchan_subscriber_first_message newest;
    }
  }
}
EOF
}

run_nchan() {
  ensure_nchan
  nginx_dir=$(mktemp -d /tmp/lineup-nchan.XXXXXX)
  chmod 755 "$nginx_dir"
  write_nginx_conf
  log "starting nginx + nchan on 127.0.0.1:$nchan_port (prefix $nginx_dir)"
  nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf"
  for _ in $(seq 1 50); do [ -s "$nginx_dir/nginx.pid" ] && break; sleep 0.1; done
  local pid
  pid=$(cat "$nginx_dir/nginx.pid")
  local shape=(--subscribers "$subscribers" --channels "$nchan_channels" --rate "$rate")
  if [ "${1:-}" = like ]; then
    log "nchan: the Lineup run's subscribers, channels and deliveries per second, $duration"
    shape=(--like "$out/lineup.json")
  else
    log "nchan: $subscribers SSE subscribers on $nchan_channels channel(s), $rate msg/s published per channel, $duration"
  fi
  "$tool" nchan --url "http://127.0.0.1:$nchan_port" "${shape[@]}" \
    --duration "$duration" --ramp "$ramp" --server-pid "$pid" --json "$out/nchan.json"
  stop_nginx
}

run_lineup() {
  local auth=()
  if [ -z "${LINEUP_LIVE_BASE:-}" ]; then
    start_demo
    auth=(--username admin --tenant demo)
  else
    : "${LINEUP_LIVE_TOKEN:?set LINEUP_LIVE_TOKEN to a bearer token of the server at LINEUP_LIVE_BASE}"
    export LINEUP_LIVE_TOKEN
  fi
  local ws=$((subscribers * ${LINEUP_LIVE_WS_PERCENT:-50} / 100))
  local sse=$((subscribers - ws))
  local extra=()
  if [ -n "${LINEUP_LIVE_PID:-}" ]; then extra+=(--server-pid "$LINEUP_LIVE_PID"); fi
  if [ -n "${LINEUP_LIVE_CHANNELS:-}" ]; then extra+=(--channels "$LINEUP_LIVE_CHANNELS"); fi
  log "lineup: $sse SSE + $ws WS subscribers on ${LINEUP_LIVE_CHANNELS:-the overview and every queue}, $duration"
  "$tool" run --base "$LINEUP_LIVE_BASE" "${auth[@]}" \
    --sse "$sse" --ws "$ws" --duration "$duration" --ramp "$ramp" "${extra[@]}" --json "$out/lineup.json"
  stop_demo
}

case "$mode" in
  nchan) run_nchan ;;
  lineup) run_lineup ;;
  both)
    run_lineup
    run_nchan like
    log "lineup / nchan"
    "$tool" compare "$out/lineup.json" "$out/nchan.json"
    ;;
esac
log "JSON reports in $out"
