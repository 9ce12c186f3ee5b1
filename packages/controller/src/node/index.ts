// The controller's driver: the metadata state machine over Raft, the active controller's gRPC
// service, and the broker side of registration and heartbeats.
export { MetadataStateMachine } from './metadata-state-machine.js';
export type { ImageListener } from './metadata-state-machine.js';
export { ControllerServer, CONTROLLER_SERVER_DEFAULTS } from './controller-server.js';
export type { ControllerServerOptions } from './controller-server.js';
export { BrokerLifecycle, BROKER_LIFECYCLE_DEFAULTS } from './broker-lifecycle.js';
export type { BrokerLifecycleOptions, BrokerLifecycleState, BrokerLifecycleEvents } from './broker-lifecycle.js';
export { ControllerEndpoints } from './controller-endpoints.js';
export type { ControllerTarget } from './controller-endpoints.js';
