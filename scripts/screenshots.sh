#!/usr/bin/env bash
# Renders the README's screenshots from the real program in a real terminal:
# tmux runs keyden on a demo store, capture-pane -e keeps the colours, and
# freeze (go install github.com/charmbracelet/freeze@latest) draws them.
set -euo pipefail
cd "$(dirname "$0")/.."
FREEZE=${FREEZE:-$(command -v freeze || echo "$HOME/go/bin/freeze")}
FORMAT=${FORMAT:-svg}   # png to look at them locally
OUT=${OUT:-docs}
work=$(mktemp -d)
trap 'tmux -L shots kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/keyden" .
go run ./cmd/keyden-fill --demo --db "$work/demo.db"

t() { tmux -L shots -f /dev/null "$@"; }
wait_for() {
  for _ in $(seq 1 100); do t capture-pane -p -t s | grep -qF -- "$1" && return 0; sleep 0.05; done
  echo "timed out waiting for: $1" >&2; t capture-pane -p -t s >&2; return 1
}
shot() {
  # freeze ignores SGR 39/49 (default colour), which tmux uses to end a
  # colour; a full reset draws the same screen.
  t capture-pane -e -p -t s | sed -e 's/\x1b\[39m/\x1b[0m/g; s/\x1b\[49m/\x1b[0m/g' > "$work/$1.ans"
  # The capture goes in on stdin: freeze -x "cat FILE" runs cat in a pty
  # and now and then read nothing or only part of it.
  (cd "$work" && "$FREEZE" -o "$1.$FORMAT" --window --padding 16 --font.size 14 <"$1.ans" >"$1.log" 2>&1) ||
    { echo "freeze failed on $1:" >&2; cat "$work/$1.log" >&2; exit 1; }
  cp "$work/$1.$FORMAT" "$OUT/$1.$FORMAT"
  echo "$OUT/$1.$FORMAT"
}

t new-session -d -s s -x 100 -y 26 "env TERM=xterm-256color COLORTERM=truecolor KEYDEN_DB=$work/demo.db KEYDEN_SYSTEM_CLIPBOARD=0 $work/keyden"
wait_for "8 keys"
shot keys
t send-keys -t s n
wait_for "New key"
t send-keys -t s -l "payments webhook"
t send-keys -t s Tab; t send-keys -t s Tab; t send-keys -t s Right; t send-keys -t s Right
t send-keys -t s Tab; t send-keys -t s Tab
t send-keys -t s -l "payments:write Refunds"
wait_for "not allowed"
shot form
for _ in $(seq 1 8); do t send-keys -t s BSpace; done
t send-keys -t s Tab; t send-keys -t s Right; t send-keys -t s Right
t send-keys -t s Enter
wait_for "OSC 52"
shot reveal
t send-keys -t s Escape
wait_for "LAST USED"
t send-keys -t s -l "/acme"
t send-keys -t s Enter
wait_for "2 shown"
t send-keys -t s Enter
wait_for "  create"
shot details
t send-keys -t s d
wait_for "to confirm:"
shot confirm

# The review on a filled store (2,008 keys, as the README's two questions
# were tried): the prod tab's stale keys grouped by creator, and the keys
# used in the last hour with the query on the filter line.
t kill-session -t s
go run ./cmd/keyden-fill --db "$work/filled.db" --count 2008 --seed 1 --daily-uses >/dev/null
t new-session -d -s s -x 100 -y 30 "env TERM=xterm-256color COLORTERM=truecolor KEYDEN_DB=$work/filled.db KEYDEN_SYSTEM_CLIPBOARD=0 $work/keyden"
wait_for "2008 keys"
t send-keys -t s BTab
t send-keys -t s r
t send-keys -t s g
wait_for "NEVER USED"
shot review
t send-keys -t s Escape; t send-keys -t s Escape; t send-keys -t s Tab
t send-keys -t s r; t send-keys -t s r; t send-keys -t s r; t send-keys -t s r
wait_for "used:<1h"
shot query
