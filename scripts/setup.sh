#!/usr/bin/env bash
# Installs what the tests need and the machine may lack. Idempotent and quiet
# when everything is present, so `make test` can call it every time.
set -euo pipefail

# apt_install installs the Debian packages given, if any.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "setup: installing $* (Debian packages)"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# `make bench` (setup.sh --bench) needs only nginx, the peer proxy it
# compares the gateway with; none of the tests' tools.
if [ "${1:-}" = --bench ]; then
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx-light
  exit 0
fi

need_apt=()
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
# Node.js runs the field-encryption interop test (contracts/fieldcrypto) and
# the official Tencent Cloud SDK against both programs (gateway/e2e).
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# Headless Chromium (and a CJK font, so card data is legible in the
# screenshot) for the consoles' browser tests (simulator/console,
# gateway/console).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || need_apt+=(fonts-wqy-microhei)
# promtool checks and unit-tests configs/prometheus/rules.yml, and a real
# prometheus scrapes both programs in gateway/e2e/prometheus_test.go.
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || need_apt+=(prometheus)
apt_install ${need_apt[@]+"${need_apt[@]}"}
go mod download

# k6, pinned, built from source through the Go module proxy (no binary
# downloads here). Used by the smoke test in `make test` and `make loadtest`.
K6_VERSION=v1.8.1
if ! [ -x bin/k6 ] || ! bin/k6 version 2>/dev/null | grep -q "${K6_VERSION#v}"; then
  echo "setup: building k6 ${K6_VERSION} into bin/ (a few minutes, once)"
  mkdir -p bin
  GOBIN="$PWD/bin" GOFLAGS=-buildvcs=false go install "go.k6.io/k6@${K6_VERSION}"
fi

# npm_ci runs `npm ci` (pinned by the directory's package-lock.json) in
# dir, relative to the repository root, unless every path given under its
# node_modules is already there. The Go tests run the same `npm ci` when
# this did not.
root="$(dirname "$0")/.."
npm_ci() {
  local dir=$1 p
  shift
  for p in "$@"; do
    if ! [ -e "$root/$dir/node_modules/$p" ]; then
      echo "setup: npm ci in $dir"
      (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
      return
    fi
  done
}

# sm-crypto for the field-encryption interop test.
npm_ci contracts/fieldcrypto/testdata/interop sm-crypto
# The official tencentcloud-sdk-nodejs and sm-crypto for the FaceID SDK
# test (gateway/e2e/tencent_sdk_test.go).
npm_ci contracts/tencent/testdata/sdk tencentcloud-sdk-nodejs/package.json sm-crypto
# playwright-core for the browser tests of both consoles: the simulator's
# QA console (simulator/console) and the gateway's operator console
# (gateway/console, through NODE_PATH).
npm_ci simulator/console/e2e playwright-core
# Spectral and Prism, the third-party validators of contracts/openapi.yaml
# (contracts/validate).
npm_ci contracts/validate .bin/prism .bin/spectral
