#!/usr/bin/env bash
# keyden scan beside a plain `grep -c` of the prefix over the same files: Go's
# own sources (about 150 MB of text, read from the page cache after a first
# warm-up pass), on one core (taskset -c 0, GOMAXPROCS=1), no key store (the
# checksum decides; a store only adds one lookup per key found).
#   bench/scan.sh [runs=3]
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/keyden" .
src=$(go env GOROOT)/src
mb=$(du -sm --apparent-size "$src" | cut -f1)
echo "== $src: $mb MB, $(find "$src" -type f | wc -l) files"
grep -rc kd_ "$src" >/dev/null || true
for i in $(seq "$R"); do
  for what in scan grep; do
    start=$(date +%s.%N)
    if [ "$what" = scan ]; then
      GOMAXPROCS=1 taskset -c 0 "$work/keyden" --db "$work/none.db" scan "$src" >/dev/null 2>&1 || true
    else
      taskset -c 0 grep -rc kd_ "$src" >/dev/null || true
    fi
    end=$(date +%s.%N)
    echo "$what: $(echo "$end - $start" | bc) s, $(echo "$mb / ($end - $start)" | bc) MB/s"
  done
done
