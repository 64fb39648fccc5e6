#!/usr/bin/env bash
# keyden serve's memory at a store's size: resident set after the first
# load, its peak during the load, and both after 5 s of wrk on /verify.
#   bench/serve-rss.sh STORE KEYS_FILE [seconds=5]
# STORE is made by: go run ./cmd/keyden-fill --db STORE --count 1000000 --secrets KEYS_FILE --keep 1000
# KEYDEN=path/to/keyden measures that binary instead of building this tree.
# serve writes last used into STORE, as it would in use.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=$1; KEYS=$2; D=${3:-5}; PORT=${PORT:-18195}
work=$(mktemp -d)
trap 'kill $(cat "$work/serve.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${KEYDEN:-}" ]; then cp "$KEYDEN" "$work/keyden"; else go build -o "$work/keyden" .; fi
"$work/keyden" --db "$DB" serve --listen 127.0.0.1:$PORT 2>"$work/serve.log" & echo $! > "$work/serve.pid"
pid=$(cat "$work/serve.pid")
kib() { awk -v k="$1" '$1==k":" {print $2}' "/proc/$pid/status"; }
mib() { echo "$(( $(kib "$1") / 1024 )) MiB"; }
# VmHWM counts the store's pages bbolt maps while it reads them; RssAnon
# (sampled) is the process's own memory.
( anon=0; while [ ! -e "$work/up" ]; do a=$(kib RssAnon); [ "$a" -gt "$anon" ] && echo "$a" > "$work/anon" && anon=$a; sleep 0.05; done ) &
for _ in $(seq 1200); do curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz && break; sleep 0.1; done
touch "$work/up"
curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz || { echo "keyden serve did not start within 120 s:" >&2; cat "$work/serve.log" >&2; exit 1; }; wait $!; anon=$(cat "$work/anon")
echo "after load: RSS $(mib VmRSS), peak $(mib VmHWM) with the store's mapped pages, $((anon / 1024)) MiB of its own ($(grep -o 'loaded.*' "$work/serve.log"))"
KEYS_FILE="$KEYS" wrk -t1 -c16 -d"${D}s" -s bench/wrk-verify.lua "http://127.0.0.1:$PORT/verify" | awk '/Requests\/sec/ {printf "wrk: %s req/s; ", $2}'
echo "after ${D} s of wrk: RSS $(mib VmRSS), peak $(mib VmHWM)"
