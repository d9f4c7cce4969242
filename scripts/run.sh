#!/usr/bin/env bash
# Runs a deno task (test, demo, bench, …) on a fresh machine: finds Deno 2 on PATH, or installs
# the pinned Deno from npm into .tools/ (git-ignored). The task itself builds the C shim and
# installs DPDK when needed (scripts/build.ts).
#
#   scripts/run.sh test     # the whole test suite
#   scripts/run.sh demo     # the demo
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION=2.9.6

deno=""
if command -v deno >/dev/null 2>&1 && deno --version 2>/dev/null | grep -qE '^deno 2\.'; then
  deno=$(command -v deno)
elif [ -x .tools/node_modules/.bin/deno ]; then
  deno=.tools/node_modules/.bin/deno
elif command -v npm >/dev/null 2>&1; then
  echo "melin-dpdk: installing Deno $DENO_VERSION from npm into .tools/ …" >&2
  npm install --silent --no-audit --no-fund --prefix .tools "deno@$DENO_VERSION" >&2
  deno=.tools/node_modules/.bin/deno
else
  echo "melin-dpdk: Deno 2 is not on PATH and npm is not available to install it." >&2
  echo "Install Deno 2 (https://docs.deno.com/runtime/getting_started/installation/) or Node.js with npm." >&2
  exit 1
fi
if ! "$deno" --version >/dev/null 2>&1; then
  echo "melin-dpdk: $deno does not run; remove .tools/ and try again, or install Deno 2 on PATH." >&2
  exit 1
fi
[ $# -gt 0 ] || { echo "usage: scripts/run.sh <task> [args…]   (tasks: test, demo, bench, build, check)" >&2; exit 2; }
exec "$deno" task "$@"
