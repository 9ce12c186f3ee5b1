#!/usr/bin/env bash
# Installs Runnel's toolchain and dependencies on a fresh machine, then builds it.
# Needs Node.js >= 20.19 with npm. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export COREPACK_ENABLE_DOWNLOAD_PROMPT=0

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error(`Runnel needs Node.js >= 20.19, found ${process.version}`); process.exit(1); }'

# pnpm comes from corepack, pinned by package.json's packageManager field. Older corepack releases
# fail to verify the registry's current signing keys; a current corepack fixes that.
if ! corepack pnpm --version >/dev/null 2>&1; then
  npm install -g --loglevel=error corepack@latest
fi
corepack enable

pnpm install --frozen-lockfile
pnpm build
