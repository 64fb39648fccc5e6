#!/bin/sh
# Peak RSS and CPU of `keyden list`, `list --json` and `audit --json` on
# stores of several sizes, for two keyden binaries side by side (the same
# command, one after the other, so the shared machine's load hits both):
#
#   bench/list-memory.sh OLD_KEYDEN NEW_KEYDEN STORE...
#
# Stores come from `go run ./cmd/keyden-fill --db PATH --count N`.
set -eu
old=$1 new=$2
shift 2
printf '%-12s %-14s %-4s %10s %8s %8s\n' store command bin "peak KiB" "user s" "sys s"
for db in "$@"; do
	for cmd in "list" "list --json" "audit --json"; do
		for bin in old new; do
			eval exe=\$$bin
			# shellcheck disable=SC2086
			/usr/bin/time -f '%M %U %S' -o /tmp/list-memory.$$ "$exe" --db "$db" $cmd >/dev/null
			read -r rss user sys </tmp/list-memory.$$
			printf '%-12s %-14s %-4s %10s %8s %8s\n' "$(basename "$db")" "$cmd" "$bin" "$rss" "$user" "$sys"
		done
	done
done
rm -f /tmp/list-memory.$$
