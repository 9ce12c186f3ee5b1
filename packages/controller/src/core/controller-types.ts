import type { RunnelError } from '@runnel/protocol';
import type { PartitionRef } from './metadata-image.js';
import type { UncleanElection } from './partition-change-builder.js';
import type { BrokerEndpoint, ConfigResourceType, LeaderRecoveryState, MetadataRecord } from './records.js';

// Configuration, requests and responses of the QuorumController: the contract the daemon's gRPC
// handlers translate to and from.

export interface QuorumControllerConfig {
  /** broker.session.timeout.ms */
  brokerSessionTimeoutMs: number;
  /** num.partitions: used when CreateTopics leaves the count unset. */
  defaultNumPartitions: number;
  /** default.replication.factor */
  defaultReplicationFactor: number;
  /** unclean.leader.election.enable (cluster default; topic and cluster configs override it). */
  uncleanLeaderElectionEnable: boolean;
  /** auto.leader.rebalance.enable */
  autoLeaderRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds, in ms. */
  leaderImbalanceCheckIntervalMs: number;
  /** Producer ids handed to a broker per request. */
  producerIdBlockSize: number;
}

export const DEFAULT_CONTROLLER_CONFIG: Readonly<QuorumControllerConfig> = Object.freeze({
  brokerSessionTimeoutMs: 9_000,
  defaultNumPartitions: 1,
  defaultReplicationFactor: 1,
  uncleanLeaderElectionEnable: false,
  autoLeaderRebalanceEnable: true,
  // Kafka checks every 300 s; a rejoined broker waiting five minutes for its leaderships is most of
  // a rolling restart, so Runnel checks every 30 s.
  leaderImbalanceCheckIntervalMs: 30_000,
  producerIdBlockSize: 1_000,
});

/** Records to propose atomically, the response to give once they commit, and unclean elections to log loudly. */
export interface ControllerResult<T> {
  records: MetadataRecord[];
  response: T;
  uncleanElections: UncleanElection[];
}

export interface RegisterBrokerRequest {
  brokerId: number;
  incarnationId: string;
  endpoints: BrokerEndpoint[];
  rack: string | null;
}

export interface BrokerHeartbeatRequest {
  brokerId: number;
  brokerEpoch: number;
  /** The offset of the last metadata record the broker has applied. */
  metadataOffset: number;
  wantFence: boolean;
  wantShutdown: boolean;
}

export interface BrokerHeartbeatResponse {
  isFenced: boolean;
  inControlledShutdown: boolean;
  /** The broker asked to shut down and leads nothing any more: it may exit. */
  shouldShutdown: boolean;
}

export interface CreateTopicRequest {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Readonly<Record<string, string>>;
  /** Manual assignment, one replica list per partition (first = preferred leader). */
  assignments?: readonly (readonly number[])[];
}

export interface CreateTopicResult {
  name: string;
  error: RunnelError | null;
  topicId: string | null;
  numPartitions: number;
  replicationFactor: number;
}

export interface TopicResult {
  name: string;
  error: RunnelError | null;
}

export interface CreatePartitionsRequest {
  name: string;
  /** The new total number of partitions. */
  count: number;
}

export interface AlterPartitionRequest {
  topicId: string;
  partition: number;
  leaderId: number;
  /** Checked when given: the request of a previous incarnation must not change the ISR. */
  brokerEpoch?: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: readonly number[];
  leaderRecoveryState?: LeaderRecoveryState;
}

export interface AlterPartitionResponse {
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  isr: readonly number[];
  leaderRecoveryState: LeaderRecoveryState;
}

export interface AlterConfigsRequest {
  resourceType: ConfigResourceType;
  resourceName: string;
  /** null removes the key. */
  configs: Readonly<Record<string, string | null>>;
}

export interface AlterConfigsResult {
  resourceType: ConfigResourceType;
  resourceName: string;
  error: RunnelError | null;
}

export interface TickResponse {
  fencedBrokers: number[];
  /** Partitions whose leader changed because of fencing, an offline partition coming back, or rebalance. */
  changedPartitions: PartitionRef[];
}

export interface ProducerIdBlock {
  firstProducerId: number;
  size: number;
}

