#!/usr/bin/env bash
# What a key check costs at the gateway: wrk through nginx to a small
# backend, with auth_request to `keyden serve` (configured as the README
# shows: upstream keep-alive) and without, alternately in one run, then the
# throughput ratio and the p50s. Also counts the connections serve accepted,
# and the CPU each process spent per request: on a machine whose cores are
# all busy (here, or with other load), the throughput ratio tends to the
# ratio of the CPU per request of all processes without auth and with it.
# Needs nginx and wrk (installed with apt-get when missing and run as root).
#   bench/gateway.sh [keys=100000] [connections=16] [seconds=10] [rounds=2]
# KEYDEN=path/to/keyden measures that binary instead of building this tree;
# it must read the store this tree's keyden-fill makes. STUB=1 also runs,
# each round, the same auth_request against a stub in nginx itself (return
# 200): what nginx's auth subrequest costs with the cheapest verifier there
# could be, so the ceiling of the ratio on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; C=${2:-16}; D=${3:-10}; R=${4:-2}
for tool in wrk nginx; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $tool >/dev/null; } ||
    { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d)
trap 'kill $(cat "$work/serve.pid" 2>/dev/null) 2>/dev/null || true; kill -QUIT $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
# Ports: serve, nginx with auth, nginx without, the backend.
K=18191; A=18192; P=18193; B=18194; SA=18196; SV=18197

if [ -n "${KEYDEN:-}" ]; then cp "$KEYDEN" "$work/keyden"; else go build -o "$work/keyden" .; fi
go run ./cmd/keyden-fill --db "$work/k.db" --count "$N" --secrets "$work/keys" --keep 1000 >/dev/null 2>&1
"$work/keyden" --db "$work/k.db" serve --listen 127.0.0.1:$K --trusted-proxy 127.0.0.1 2>"$work/serve.log" & echo $! > "$work/serve.pid"
# wait_for WHAT CMD...: up to 60 s, else say why and stop.
wait_for() {
  local what=$1; shift
  for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done
  echo "$what did not start within 60 s:" >&2; cat "$work/serve.log" "$work/logs/error.log" 2>/dev/null >&2; exit 1
}
wait_for "keyden serve" curl -sf -o /dev/null http://127.0.0.1:$K/healthz

mkdir -p "$work/tmp" "$work/logs"
# auth_server PORT UPSTREAM: a gateway on PORT that asks UPSTREAM's /verify
# before proxying to the backend; keyden and the stub get the same one.
auth_server() {
  cat <<SERVER
  server {
    listen 127.0.0.1:$1;
    location / {
      auth_request /_$2;
      auth_request_set \$key_id \$upstream_http_x_key_id;
      proxy_set_header X-Key-Id \$key_id;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://backend;
    }
    location = /_$2 {
      internal;
      proxy_pass http://$2/verify;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
SERVER
}
cat > "$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  upstream keyden { server 127.0.0.1:$K; keepalive 16; }
  upstream backend { server 127.0.0.1:$B; keepalive 16; }
  # The API behind the gateway: a fixed answer.
  server { listen 127.0.0.1:$B; location / { return 200 "hello\n"; } }
  # With keyden: auth_request as in the README.
$(auth_server $A keyden)
  # With auth against a stub verifier in nginx itself, configured alike.
  upstream stub { server 127.0.0.1:$SV; keepalive 16; }
  server { listen 127.0.0.1:$SV; location / { add_header X-Key-Id stub; return 200; } }
$(auth_server $SA stub)
  # Without auth: the same proxy to the same backend.
  server {
    listen 127.0.0.1:$P;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://backend;
    }
  }
}
CONF
"$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log" 2>>"$work/logs/error.log" &
authorized() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$work/keys")" http://127.0.0.1:$A/)" = 200 ]; }
wait_for nginx curl -sf -o /dev/null http://127.0.0.1:$P/
wait_for "a check through nginx" authorized

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }   # user+system, in clock ticks (10 ms)
accepted() { curl -s http://127.0.0.1:$K/metrics | awk '/^keyden_connections_accepted_total/ {print $2}'; }
# run PORT: prints "requests/s p50_ms non2xx wrk_cpu_ticks"
run() {
  KEYS_FILE="$work/keys" wrk -t1 -c"$C" -d"${D}s" --latency -s bench/wrk-verify.lua "http://127.0.0.1:$1/orders" > "$work/wrk.out"
  local rps p50 bad w me=$BASHPID
  w=$(awk '{print $16+$17}' /proc/$me/stat) # this subshell's waited-for children: wrk
  
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1=="50%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$work/wrk.out")
  bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out"); echo "$rps $p50 ${bad:-0} $w"
}
echo "== nginx → backend, with and without auth_request to keyden serve: $N keys, $C connections, ${D}s each, $R rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
sum_plain=0; sum_auth=0; conns=0; cpu_plain=0; cpu_auth=0
for r in $(seq "$R"); do
  m0=$(cpu "$(cat "$work/nginx.pid")")
  read -r p_rps p_p50 p_bad p_w < <(run $P)
  m1=$(cpu "$(cat "$work/nginx.pid")"); preqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  c0=$(accepted); s0=$(cpu "$(cat "$work/serve.pid")"); n0=$(cpu "$(cat "$work/nginx.pid")")
  read -r a_rps a_p50 a_bad a_w < <(run $A)
  c1=$(accepted); reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  s1=$(cpu "$(cat "$work/serve.pid")"); n1=$(cpu "$(cat "$work/nginx.pid")")
  conns=$((c1 - c0 - 1))
  [ "$p_bad" = 0 ] && [ "$a_bad" = 0 ] || { echo "non-2xx answers: without $p_bad, with $a_bad" >&2; exit 1; }
  awk -v r="$r" -v pr="$p_rps" -v pp="$p_p50" -v ar="$a_rps" -v ap="$a_p50" -v c="$conns" -v n="$reqs" -v ks=$((s1 - s0)) -v ns=$((n1 - n0)) -v ms=$((m1 - m0)) -v pn="$preqs" -v pw="$p_w" -v aw="$a_w" 'BEGIN {
    printf "round %d: without auth %.0f req/s, p50 %.3f ms | with auth %.0f req/s, p50 %.3f ms | %.2f× the throughput, p50 %.2f× | serve accepted %d connections for %d checks; CPU per request: serve %.1f µs, nginx %.1f µs (%.1f µs without auth), wrk %.1f µs (%.1f µs without auth); all: %.1f µs with auth, %.1f µs without (%.2f×)\n", r, pr, pp, ar, ap, ar/pr, ap/pp, c, n, ks*1e4/n, ns*1e4/n, ms*1e4/pn, aw*1e4/n, pw*1e4/pn, (ks+ns+aw)*1e4/n, (ms+pw)*1e4/pn, ((ms+pw)/pn)/((ks+ns+aw)/n) }'
  cpu_auth=$(awk -v a="$cpu_auth" -v b=$((s1 - s0 + n1 - n0 + a_w)) -v n="$reqs" 'BEGIN {print a+b*1e4/n}'); cpu_plain=$(awk -v a="$cpu_plain" -v b=$((m1 - m0 + p_w)) -v n="$preqs" 'BEGIN {print a+b*1e4/n}')
  if [ -n "${STUB:-}" ]; then
    t0=$(cpu "$(cat "$work/nginx.pid")")
    read -r t_rps t_p50 t_bad t_w < <(run $SA)
    t1=$(cpu "$(cat "$work/nginx.pid")"); treqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    awk -v r="$r" -v tr="$t_rps" -v pr="$p_rps" -v tp="$t_p50" -v ns=$((t1 - t0)) -v tw="$t_w" -v n="$treqs" 'BEGIN {
      printf "round %d, stub: with auth against a stub in nginx %.0f req/s, p50 %.3f ms: %.2f× the throughput without auth; CPU per request: nginx %.1f µs, wrk %.1f µs\n", r, tr, tp, tr/pr, ns*1e4/n, tw*1e4/n }'
  fi
  sum_plain=$(awk -v a="$sum_plain" -v b="$p_rps" 'BEGIN {print a+b}'); sum_auth=$(awk -v a="$sum_auth" -v b="$a_rps" 'BEGIN {print a+b}')
done
awk -v a="$sum_auth" -v p="$sum_plain" -v r="$R" -v ca="$cpu_auth" -v cp="$cpu_plain" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN { printf "with auth / without, all rounds: %.2f× the throughput (%.0f / %.0f req/s); CPU per request of all processes %.1f / %.1f µs (%.2f×); load average now %s\n", a/p, a/r, p/r, ca/r, cp/r, cp/ca, la }'
