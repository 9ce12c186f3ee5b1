export { main } from './bin.js';
export { createProgram, run } from './program.js';
export type { CliIo } from './program.js';
export { CliError } from './errors.js';
export * from './local-cluster.js';
export * from './quorum-describe.js';
export * from './bench-quorum.js';
