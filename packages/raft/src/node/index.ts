// Public API of the Raft node driver (LevelDB storage, gRPC transport, real clock) around RaftCore.
export { RaftNode, RAFT_NODE_DEFAULTS } from './raft-node.js';
export type { RaftNodeOptions, RaftNodeEvents, RaftNodeCounters } from './raft-node.js';
export type { StateMachine } from './state-machine.js';
export type { QuorumView, QuorumReplicaView } from './quorum-view.js';
export { quorumView } from './quorum-view.js';
export type { Clock } from './clock.js';
export { SYSTEM_CLOCK } from './clock.js';
export { LevelStorage, StorageCorruptionError } from './level-storage.js';
export type { PersistUpdate } from './level-storage.js';
export { GrpcTransport, createRaftServiceHandlers, TRANSPORT_DEFAULTS } from './grpc-transport.js';
export type { GrpcTransportOptions, RaftServiceHandlerOptions, RaftTransport, PeerTransportStats } from './grpc-transport.js';
export { messageToProto, messageFromProto } from './wire.js';
export { CodecError } from './codec.js';
