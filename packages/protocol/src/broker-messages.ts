// Hand-written mirrors of proto/runnel/v1/broker.proto in the shape PROTO_LOADER_OPTIONS decodes to:
// camelCase, uint64/int64 -> number, bytes -> Buffer, absent message fields -> null on decode (null or
// omitted is fine on encode). Messages shared with controller.proto (TopicConfigEntry, the admin
// requests) live in controller-messages.ts. Keep in step with the .proto.

import type { TopicConfigEntry } from './controller-messages.js';

export interface MetadataRequest {
  /** Empty: every topic (if allTopics) or none. */
  topics: string[];
  /** With empty `topics`, return all (false: none, brokers only). */
  allTopics: boolean;
}

export interface BrokerInfo {
  id: number;
  host: string;
  port: number;
  rack: string;
  fenced: boolean;
}

export interface PartitionMetadata {
  errorCode: number;
  partition: number;
  /** -1: no leader (offline). */
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface TopicMetadata {
  errorCode: number;
  name: string;
  topicId: string;
  isInternal: boolean;
  partitions: PartitionMetadata[];
  configs: TopicConfigEntry[];
}

export interface MetadataResponse {
  clusterId: string;
  /** -1 when unknown. */
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicMetadata[];
  /** The answering broker's applied metadata offset. */
  metadataOffset: number;
}

export interface ProducePartitionData {
  partition: number;
  /** One or more RecordBatch v2, concatenated, exactly as they will be stored. */
  records: Buffer;
}

export interface ProduceTopicData {
  name: string;
  partitions: ProducePartitionData[];
}

export interface ProduceRequest {
  /** 0, 1 or -1 (all). */
  acks: number;
  timeoutMs: number;
  topics: ProduceTopicData[];
}

export interface ProducePartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  baseOffset: number;
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTimeMs: number;
  logStartOffset: number;
  /** On NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH: the leader this broker knows. */
  currentLeaderId: number;
  currentLeaderEpoch: number;
}

export interface ProduceTopicResponse {
  name: string;
  partitions: ProducePartitionResponse[];
}

export interface ProduceResponse {
  topics: ProduceTopicResponse[];
}

export interface FetchPartition {
  partition: number;
  /** -1: not checked (old clients); replicas always set it. */
  currentLeaderEpoch: number;
  fetchOffset: number;
  /** Replicas: epoch of the last batch they hold, for divergence checks; -1 none. */
  lastFetchedEpoch: number;
  /** Replicas only. */
  logStartOffset: number;
  partitionMaxBytes: number;
  /** Replicas: everything below this is fsynced on the follower. */
  flushedOffset: number;
}

export interface FetchTopic {
  name: string;
  partitions: FetchPartition[];
}

export interface FetchRequest {
  /** -1 for consumers; the broker id for follower fetches. */
  replicaId: number;
  /** The follower's broker epoch. */
  replicaEpoch: number;
  /** Long poll: answered when minBytes are available or maxWaitMs elapsed. */
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel: number;
  topics: FetchTopic[];
}

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Set when the follower must truncate first (KIP-320); null on decode when absent. */
  divergingEpoch: EpochEndOffset | null;
  currentLeaderId: number;
  currentLeaderEpoch: number;
  records: Buffer;
}

export interface FetchTopicResponse {
  name: string;
  partitions: FetchPartitionResponse[];
}

export interface FetchResponse {
  errorCode: number;
  topics: FetchTopicResponse[];
}

export interface ListOffsetsPartition {
  partition: number;
  currentLeaderEpoch: number;
  /** -2 earliest, -1 latest, otherwise the first offset with timestamp >= it. */
  timestamp: number;
}

export interface ListOffsetsTopic {
  name: string;
  partitions: ListOffsetsPartition[];
}

export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel: number;
  topics: ListOffsetsTopic[];
}

export interface ListOffsetsPartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  timestamp: number;
  /** -1 when no such offset. */
  offset: number;
  leaderEpoch: number;
}

export interface ListOffsetsTopicResponse {
  name: string;
  partitions: ListOffsetsPartitionResponse[];
}

export interface ListOffsetsResponse {
  topics: ListOffsetsTopicResponse[];
}

export interface OffsetForLeaderEpochPartition {
  partition: number;
  currentLeaderEpoch: number;
  leaderEpoch: number;
}

export interface OffsetForLeaderEpochTopic {
  name: string;
  partitions: OffsetForLeaderEpochPartition[];
}

export interface OffsetsForLeaderEpochRequest {
  replicaId: number;
  topics: OffsetForLeaderEpochTopic[];
}

export interface EpochEndOffsetResult {
  partition: number;
  errorCode: number;
  leaderEpoch: number;
  endOffset: number;
}

export interface OffsetForLeaderEpochTopicResult {
  name: string;
  partitions: EpochEndOffsetResult[];
}

export interface OffsetsForLeaderEpochResponse {
  topics: OffsetForLeaderEpochTopicResult[];
}

export interface InitProducerIdRequest {
  transactionTimeoutMs: number;
}

export interface InitProducerIdResponse {
  errorCode: number;
  errorMessage: string;
  producerId: number;
  producerEpoch: number;
}

export type DescribeClusterRequest = Record<string, never>;

/** A voter of the metadata quorum and its controller listener. */
export interface ControllerVoter {
  id: number;
  endpoint: string;
}

export interface DescribeClusterResponse {
  errorCode: number;
  errorMessage: string;
  clusterId: string;
  /** -1 when unknown. */
  controllerId: number;
  brokers: BrokerInfo[];
  /** The metadata quorum's voters; decoded as [] when the broker did not say. */
  controllerVoters?: ControllerVoter[];
  /** The answering broker's id; 0 when not said. */
  answeredBy?: number;
  /** The answering broker's applied metadata offset; 0 when not said. */
  metadataOffset?: number;
}
