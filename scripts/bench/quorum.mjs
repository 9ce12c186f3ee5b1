#!/usr/bin/env node
// `pnpm bench:quorum [--proposals N] [--failover-trials N] ...`: the same benchmark as `runnel bench quorum`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('bench: the CLI is not built; run `pnpm build` first');
  process.exit(1);
}
const { main } = await import(dist);
await main([process.argv[0], 'runnel', 'bench', 'quorum', ...process.argv.slice(2)]);
