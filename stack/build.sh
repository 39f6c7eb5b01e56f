#!/usr/bin/env bash
# Real-stack harness: installs the Debian packages the end-to-end tests need (when missing) and
# builds the pinned LiveKit server and LiveKit SIP bridge from their released Go modules into
# .cache/stack/bin/ (git-ignored). Idempotent: a binary whose version stamp matches the pin in
# stack/versions.json is not rebuilt. Nothing of those projects is copied into this repository.
#
#   stack/build.sh            # apt packages + both binaries
#   stack/build.sh --no-apt   # binaries only
#   PA_STACK_BIN_DIR=/x stack/build.sh   # another output folder (the TS harness reads the same variable)
#
# Why not `go install MOD@VER`: it looks the module's version list up (for deprecations) and the
# module proxy of this workplace refuses that list for github.com/livekit/sip; and a tagged
# go.mod with `replace` lines makes `go install` refuse too. So: `go mod download -json MOD@VER`
# gives the module's folder in the module cache, a writable copy of it is built in place.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
versions="$root/stack/versions.json"
bin_dir="${PA_STACK_BIN_DIR:-$root/.cache/stack/bin}"
mkdir -p "$bin_dir"

# One build at a time per output folder (CI and a developer's shell may overlap).
exec 9>"$bin_dir/.build.lock"
flock 9

json() { node -e "const v=require(process.argv[1]);const x=process.argv[2].split('.').reduce((o,k)=>o[k],v);console.log(Array.isArray(x)?x.join(' '):x)" "$versions" "$1"; }

if [ "${1:-}" != "--no-apt" ]; then
  missing=()
  for pkg in $(json apt); do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "stack/build.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "stack/build.sh: Go (>= the modules' go.mod version, 1.26) is not installed" >&2; exit 1; }
# Use the installed toolchain; never fetch another one.
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

build() {
  local key="$1" module version package binary cgo ldflags want stamp dir work started
  module="$(json "$key.module")"
  version="$(json "$key.version")"
  package="$(json "$key.package")"
  binary="$(json "$key.binary")"
  cgo="$(json "$key.cgo")"
  ldflags="$(json "$key.ldflags")"
  want="$module@$version $(go env GOVERSION)"
  stamp="$bin_dir/$binary.version"
  if [ -x "$bin_dir/$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "stack/build.sh: $binary $version is up to date"
    return
  fi
  started=$SECONDS
  echo "stack/build.sh: building $binary from $module@$version"
  dir="$(cd /tmp && go mod download -json "$module@$version" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}console.log(j.Dir)})")"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  if [ "$cgo" = "true" ]; then export CGO_ENABLED=1; else export CGO_ENABLED=0; fi
  (cd "$work/src" && go build -trimpath -ldflags "$ldflags" -o "$bin_dir/$binary.tmp" "$package")
  mv -f "$bin_dir/$binary.tmp" "$bin_dir/$binary"
  echo "$want" >"$stamp"
  echo "stack/build.sh: built $binary in $((SECONDS - started)) s"
}

build livekitServer
build livekitSip
# Not part of the stack: the reference renderer test/infra-render.test.ts compares ours with.
build kustomize
