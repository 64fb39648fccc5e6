#!/usr/bin/env bash
# Builds release artefacts into dist/ without publishing anything:
#   dist/keyden_<version>_linux_<arch>.tar.gz  static binaries, completions, man pages
#   dist/keyden_<version>_<arch>.deb            the same as a Debian package
# ARCHES (default "amd64 arm64") picks the architectures; DIST the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"

DIST=${DIST:-dist}
ARCHES=${ARCHES:-"amd64 arm64"}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
tag=$(git describe --tags --exact-match 2>/dev/null || true)
if [ -n "$tag" ]; then
  version=${tag#v}
else
  # Untagged: a version that sorts after the last release and names the commit.
  version="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d).${commit:0:12}"
fi
git diff --quiet HEAD 2>/dev/null || version="$version+modified"
date=${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
ldflags="-s -w -X keyden/cli.Version=$version -X keyden/cli.Commit=$commit -X keyden/cli.BuildDate=$date"

# Binaries keyden ships: keyden itself, and any helper it runs (cmd/keyden-*
# except the test filler).
helpers=()
for d in cmd/keyden-*; do
  [ "$d" = cmd/keyden-fill ] || [ ! -d "$d" ] || helpers+=("$d")
done

command -v nfpm >/dev/null || go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

# Completions and man pages come from a keyden built for this machine.
host="$DIST/host"
mkdir -p "$host"
go build -trimpath -ldflags "$ldflags" -o "$host/keyden" .

for arch in $ARCHES; do
  stage="$DIST/stage-$arch"
  rm -rf "$stage"
  mkdir -p "$stage/usr/bin" "$stage/usr/share/man/man1" "$stage/usr/share/bash-completion/completions" \
    "$stage/usr/share/zsh/vendor-completions" "$stage/usr/share/fish/vendor_completions.d" "$stage/usr/share/doc/keyden"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/usr/bin/keyden" .
  for h in "${helpers[@]}"; do
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/usr/bin/$(basename "$h")" "./$h"
  done
  "$host/keyden" completion bash >"$stage/usr/share/bash-completion/completions/keyden"
  "$host/keyden" completion zsh >"$stage/usr/share/zsh/vendor-completions/_keyden"
  "$host/keyden" completion fish >"$stage/usr/share/fish/vendor_completions.d/keyden.fish"
  "$host/keyden" man --dir "$stage/usr/share/man/man1"
  gzip -9n "$stage"/usr/share/man/man1/*.1
  cp README.md "$stage/usr/share/doc/keyden/"
  if compgen -G "contrib/systemd/*.service" >/dev/null; then
    mkdir -p "$stage/usr/lib/systemd/system"
    cp contrib/systemd/*.service "$stage/usr/lib/systemd/system/"
  fi
  tar -C "$stage" -czf "$DIST/keyden_${version}_linux_${arch}.tar.gz" usr
  # nfpm expands the environment in some fields but not in contents.
  sed "s|\${STAGE}|$stage|" packaging/nfpm.yaml >"$DIST/nfpm-$arch.yaml"
  ARCH=$arch DEB_VERSION=$version nfpm package --config "$DIST/nfpm-$arch.yaml" --packager deb --target "$DIST/keyden_${version}_${arch}.deb" >/dev/null 2>&1 ||
    { echo "nfpm could not make the .deb:" >&2; ARCH=$arch DEB_VERSION=$version nfpm package --config "$DIST/nfpm-$arch.yaml" --packager deb --target "$DIST/keyden_${version}_${arch}.deb" >&2; exit 1; }
  echo "$DIST/keyden_${version}_${arch}.deb"
done
