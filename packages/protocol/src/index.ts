export { loadProtos, protoRoot, serviceConstructor, PROTO_LOADER_OPTIONS } from './proto-loader.js';
export {
  RAFT_SERVICE,
  QUORUM_SERVICE,
  CONTROLLER_SERVICE,
  BROKER_SERVICE,
  GROUP_COORDINATOR_SERVICE,
  MESSAGE_BYTES_MAX,
  PEER_CHANNEL_OPTIONS,
  createRaftClient,
  createQuorumClient,
  createControllerClient,
  createBrokerClient,
  createGroupCoordinatorClient,
  serverOptions,
  unaryCall,
} from './grpc-clients.js';
export type {
  RaftClient,
  QuorumClient,
  ControllerClient,
  BrokerClient,
  ServiceHandlers,
  ControllerServiceHandlers,
  BrokerServiceHandlers,
  GroupCoordinatorClient,
  GroupCoordinatorServiceHandlers,
  UnaryMethod,
  UnaryCallback,
  UnaryMethodName,
  RequestOf,
  ResponseOf,
} from './grpc-clients.js';
export type * from './raft-messages.js';
export type * from './quorum-messages.js';
export type * from './controller-messages.js';
export type * from './broker-messages.js';
export type * from './group-messages.js';
export { PeerChannel, PEER_CONNECT_TIMEOUT_MS_DEFAULT } from './peer-channel.js';
export type { PeerChannelOptions } from './peer-channel.js';
export { PIPELINE_IN_FLIGHT_MAX, Pipeline, pipelineHandler } from './pipeline.js';
export type { Envelope, PipelineOptions, Reply } from './pipeline.js';
export { ErrorCode, errorInfo, isErrorCodeName, RunnelError } from './errors.js';
export type { ErrorCodeName, ErrorInfo, RunnelErrorOptions } from './errors.js';
export { ERROR_TABLE } from './error-codes.js';
export { crc32c } from './crc32c.js';
export { murmur2, toPositive, partitionForKey } from './murmur2.js';
export * from './record/index.js';
