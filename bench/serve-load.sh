#!/usr/bin/env bash
# Measures `keyden serve` under wrk on loopback: first alone, then while the
# TUI is open on the same store (in tmux) and a shell creates and deletes
# keys in a loop. Needs wrk and tmux (apt-get install wrk tmux).
#   bench/serve-load.sh [keys=100000] [connections=16] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; C=${2:-16}; D=${3:-10}
work=$(mktemp -d)
trap 'kill $(cat "$work/serve.pid" 2>/dev/null) 2>/dev/null || true; kill $churn 2>/dev/null || true; tmux -L load kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
churn=
go build -o "$work/keyden" .
go run ./cmd/keyden-fill --db "$work/k.db" --count "$N" --secrets "$work/keys" --keep 1000
"$work/keyden" --db "$work/k.db" serve --listen 127.0.0.1:18090 2>"$work/serve.log" & echo $! > "$work/serve.pid"
until curl -sf http://127.0.0.1:18090/healthz >/dev/null; do sleep 0.1; done

run() { KEYS_FILE="$work/keys" wrk -t1 -c"$C" -d"${D}s" --latency -s bench/wrk-verify.lua http://127.0.0.1:18090/verify | grep -E "Requests/sec| 50%| 99%|Non-2xx"; }
echo "== alone: $N keys, $C connections, ${D}s"
run

tmux -L load -f /dev/null new-session -d -s tui -x 120 -y 40 "env KEYDEN_DB=$work/k.db $work/keyden"
( while true; do
    id=$("$work/keyden" --db "$work/k.db" create --name churn --env dev --json | sed -n 's/.*"id": "\(k[0-9a-z]*\)".*/\1/p')
    "$work/keyden" --db "$work/k.db" delete "$id" --yes >/dev/null
    sleep 0.25
  done ) & churn=$!
sleep 1
echo "== with the TUI open and a shell creating and deleting keys"
tui=$(tmux -L load list-panes -t tui -F '#{pane_pid}')
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
t0=$(cpu "$tui")
run
echo "   TUI CPU during the run: $(( ($(cpu "$tui") - t0) * 10 )) ms"
kill $churn; churn=
echo "== churn: $(grep -c . "$work/serve.log") log lines; last: $(tail -1 "$work/serve.log")"
