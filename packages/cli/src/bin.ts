import { run } from './program.js';

/** Entry point of bin/runnel.mjs: `argv` is process.argv (node, script, ...args). */
export async function main(argv: readonly string[]): Promise<void> {
  process.exitCode = await run(argv);
}
