#!/usr/bin/env bash
# keyden ssh with real OpenSSH clients on a store of 100k synthetic keys:
# the server's resident memory with 1 session of the app, then with N more;
# the time from `ssh` starting to the table on screen against the time of
# `ssh … help` (handshake, one command, exit) on the same server; and a
# keystroke (j/k) to the moved selection, through ssh and in a local keyden,
# side by side in tmux (capture-pane polling: a few ms of resolution).
# Usage: bench/ssh-sessions.sh [N=20]   (builds keyden; needs tmux, ssh)
set -euo pipefail
N=${1:-20}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'tmux -L kdbench kill-server 2>/dev/null || true; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/keyden" .
# A store of our own (the user running this is its super admin), 100k keys.
go run ./cmd/keyden-fill --db "$work/k.db" --count 100000 >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/id" -C bench
export KEYDEN_DB=$work/k.db HOME=$work
"$work/keyden" member add ann --ssh-key "$(cat "$work/id.pub")" >/dev/null
port=$((20000 + RANDOM % 20000))
"$work/keyden" ssh --listen 127.0.0.1:$port 2>"$work/log" & pid=$!
until grep -q 'host key SHA256' "$work/log"; do sleep 0.05; done
echo "[127.0.0.1]:$port $(cat "$work/ssh_host_ed25519_key.pub")" > "$work/kh"
SSH="ssh -p $port -i $work/id -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=$work/kh -o StrictHostKeyChecking=yes"
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
shows() { tmux -L kdbench capture-pane -p -t "$1" | grep -q 'keys · '; }
now() { date +%s%N; }
# handshake + one command, five times
for i in 1 2 3 4 5; do t0=$(now); $SSH -o BatchMode=yes 127.0.0.1 help >/dev/null; echo "ssh help: $(( ($(now) - t0) / 1000000 )) ms"; done
tmux -L kdbench -f /dev/null new-session -d -s w0 -x 120 -y 40 "sleep 600"
for i in 1 2 3 4 5; do
  t0=$(now); tmux -L kdbench new-window -t w0 -n f$i "$SSH -t 127.0.0.1"
  until shows w0:f$i; do sleep 0.005; done
  echo "ssh to the table: $(( ($(now) - t0) / 1000000 )) ms"
  tmux -L kdbench kill-window -t w0:f$i
done
tmux -L kdbench new-window -t w0 -n s0 "$SSH -t 127.0.0.1"; until shows w0:s0; do sleep 0.05; done
sleep 1; one=$(rss); echo "server RSS with 1 session: $one kB"
for i in $(seq 1 "$N"); do tmux -L kdbench new-window -t w0 -n s$i "$SSH -t 127.0.0.1"; done
for i in $(seq 1 "$N"); do until shows w0:s$i; do sleep 0.05; done; done
sleep 1; more=$(rss); echo "server RSS with $((N + 1)) sessions: $more kB; per extra session: $(( (more - one) / N )) kB"

# Keystrokes: the same store, one local keyden and one ssh session.
tmux -L kdbench new-window -t w0 -n local "$work/keyden"; until shows w0:local; do sleep 0.05; done
row() { tmux -L kdbench capture-pane -p -t "$1" | grep -n '▸' | head -1 | cut -d: -f1; }
stroke() { # window key -> ms until the selection moved
  local before; before=$(row "$1"); local t0; t0=$(now)
  tmux -L kdbench send-keys -t "$1" "$2"
  while [ "$(row "$1")" = "$before" ]; do :; done
  echo $(( ($(now) - t0) / 1000000 ))
}
ssh_ms=(); local_ms=()
for i in $(seq 1 20); do
  k=j; [ $((i % 2)) = 0 ] && k=k
  ssh_ms+=("$(stroke w0:s0 $k)"); local_ms+=("$(stroke w0:local $k)")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "keystroke to the moved selection, median of 20: ssh $(med "${ssh_ms[@]}") ms, local $(med "${local_ms[@]}") ms"
