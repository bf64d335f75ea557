#!/usr/bin/env bash
# Runs the tests that exercise the Lambda code again on Node 24, the major of Lambda's
# nodejs24.x runtime (the machine's own node may be older): every bundled handler's smoke test
# (test/cdk/bundles.test.ts) and the integration suites. Node 24 comes from the npm registry (the
# node-<platform>-<arch> package ships the binary) into .tmp/node24, once.
#
#   scripts/node24.sh                  # smoke + integration suites
#   scripts/node24.sh test/ingest      # vitest arguments narrow it (or set a reporter)
set -euo pipefail
cd "$(dirname "$0")/.."
# Keep in step with LAMBDA_RUNTIME in lib/constructs/handler-function.ts (a test checks it).
MAJOR=24
pkg="node-$(node -p process.platform)-$(node -p process.arch)"
dir=".tmp/node$MAJOR"
bin="$PWD/$dir/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$MAJOR" ]; then
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$dir" "$pkg@$MAJOR" > /dev/null
fi
echo "node$MAJOR: $("$bin/node" --version) from $pkg"
# Everything but the template tests (no handler code runs there) and the browser test.
set -- --exclude 'test/e2e/**' --exclude 'test/cdk/stack.test.ts' "$@"
start=$(date +%s)
# Node 24 first on PATH, so processes the tests start (node, npx tsx) run on it too.
PATH="$bin:$PATH" SMOKE_NODE_MAJOR=$MAJOR "$bin/node" node_modules/vitest/vitest.mjs run "$@"
echo "node$MAJOR: tests took $(( $(date +%s) - start )) s"
