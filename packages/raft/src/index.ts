// @runnel/raft: the pure Raft core and the driver that runs it with LevelDB, gRPC and a real clock.
export { RaftCore } from './core/raft.js';
export { InvariantViolation } from './core/assert.js';
export * from './core/types.js';
export * from './node/index.js';
