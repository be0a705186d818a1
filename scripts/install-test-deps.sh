#!/usr/bin/env bash
# Installs what `make build` and `make test` need beyond Go and a C
# compiler, when it is missing: CMake (the C library and ctest), Node and
# the Node SDK suites' packages (server/testdata/*-node), Chromium
# (the web page's browser test). Packages come from apt (Debian/Ubuntu);
# without apt or root, each missing tool is named with how to install it
# and the script fails only for CMake, which the build cannot do without
# (the Node and browser tests skip when their tools are absent, unless
# CI=true). With the argument "cmake" only CMake is checked (make build).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
fi
updated=""
apt_install() { # apt_install PACKAGE...: 0 when installed
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [ -z "$updated" ]; then
    $SUDO apt-get update -qq && updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

if ! command -v cmake >/dev/null 2>&1 || ! command -v ctest >/dev/null 2>&1; then
  echo "install-test-deps: installing CMake" >&2
  apt_install cmake || { echo "install-test-deps: CMake is missing; install it (apt-get install -y cmake, or from cmake.org) and retry" >&2; exit 1; }
fi

[ "${1:-}" = cmake ] && exit 0

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-test-deps: installing Node.js and npm" >&2
  apt_install nodejs npm || echo "install-test-deps: Node.js is missing (apt-get install -y nodejs npm); the Node SDK suite will skip" >&2
fi
# Every Node SDK suite (server/testdata/*-node: the OpenAI and Anthropic SDKs).
for suite in server/testdata/*-node; do
  if command -v npm >/dev/null 2>&1 && [ -f "$suite/package-lock.json" ] && [ ! -d "$suite/node_modules" ]; then
    npm ci --no-audit --no-fund --prefix "$suite" \
      || echo "install-test-deps: npm ci failed in $suite; its suite will skip (or fail with CI=true)" >&2
  fi
done

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "install-test-deps: installing Chromium" >&2
  apt_install chromium || echo "install-test-deps: Chromium is missing (apt-get install -y chromium); the web page's browser test will skip" >&2
fi
exit 0
