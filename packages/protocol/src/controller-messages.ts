// Hand-written mirrors of proto/runnel/v1/controller.proto in the shape PROTO_LOADER_OPTIONS decodes to:
// camelCase, uint64/int64 -> number, bytes -> Buffer, absent message fields -> null on decode (null or
// omitted is fine on encode). Keep in step with the .proto: a field added there and not here is
// silently dropped by callers.

export interface Endpoint {
  /** Listener name, e.g. "CLIENT". */
  name: string;
  host: string;
  port: number;
}

/** Where a node that is not the active controller thinks the controller is, so callers re-home. */
export interface ControllerHint {
  /** 0 when unknown. */
  leaderId: number;
  /** host:port of its controller listener, "" when unknown. */
  leaderEndpoint: string;
}

export interface RegisterBrokerRequest {
  clusterId: string;
  brokerId: number;
  /** New on every process start, so the controller can tell a restart from a duplicate. */
  incarnationId: string;
  endpoints: Endpoint[];
  /** "" for none. */
  rack: string;
}

export interface RegisterBrokerResponse {
  errorCode: number;
  errorMessage: string;
  brokerEpoch: number;
  controller: ControllerHint | null;
}

export interface BrokerHeartbeatRequest {
  brokerId: number;
  brokerEpoch: number;
  /** Offset of the last metadata record this broker applied: it is unfenced once caught up. */
  metadataOffset: number;
  wantFence: boolean;
  /** Controlled shutdown: move leadership away, leave ISRs. */
  wantShutdown: boolean;
}

export interface BrokerHeartbeatResponse {
  errorCode: number;
  errorMessage: string;
  isFenced: boolean;
  inControlledShutdown: boolean;
  /** Leads nothing any more: safe to exit. */
  shouldShutdown: boolean;
  controller: ControllerHint | null;
}

export interface TopicConfigEntry {
  name: string;
  value: string;
}

export interface CreatableTopic {
  name: string;
  /** -1: the cluster default. */
  numPartitions: number;
  /** -1: the cluster default. */
  replicationFactor: number;
  configs: TopicConfigEntry[];
}

export interface CreateTopicsRequest {
  topics: CreatableTopic[];
  validateOnly: boolean;
  timeoutMs: number;
}

export interface CreateTopicResult {
  name: string;
  errorCode: number;
  errorMessage: string;
  topicId: string;
  numPartitions: number;
  replicationFactor: number;
}

export interface CreateTopicsResponse {
  topics: CreateTopicResult[];
  controller: ControllerHint | null;
}

export interface DeleteTopicsRequest {
  names: string[];
  timeoutMs: number;
}

export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string;
}

export interface DeleteTopicsResponse {
  topics: TopicResult[];
  controller: ControllerHint | null;
}

export interface CreatePartitionsTopic {
  name: string;
  /** The new total; increase only. */
  count: number;
}

export interface CreatePartitionsRequest {
  topics: CreatePartitionsTopic[];
  validateOnly: boolean;
  timeoutMs: number;
}

export interface CreatePartitionsResponse {
  topics: TopicResult[];
  controller: ControllerHint | null;
}

export interface AlterPartitionRequest {
  /** The partition leader asking. */
  brokerId: number;
  brokerEpoch: number;
  topicId: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
  /** After an unclean election, the leader finished recovery. */
  leaderRecovered: boolean;
}

export interface AlterPartitionResponse {
  errorCode: number;
  errorMessage: string;
  /** -1: offline. */
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  isr: number[];
  controller: ControllerHint | null;
}

export interface AllocateProducerIdsRequest {
  brokerId: number;
  brokerEpoch: number;
}

export interface AllocateProducerIdsResponse {
  errorCode: number;
  errorMessage: string;
  firstProducerId: number;
  count: number;
  controller: ControllerHint | null;
}

export type ConfigResourceType = 'topic' | 'broker' | 'cluster';

export interface AlterConfigsRequest {
  /** A ConfigResourceType on the wire; typed as string because a peer may send anything. */
  resourceType: string;
  resourceName: string;
  set: TopicConfigEntry[];
  delete: string[];
  validateOnly: boolean;
}

export interface AlterConfigsResponse {
  errorCode: number;
  errorMessage: string;
  controller: ControllerHint | null;
}
