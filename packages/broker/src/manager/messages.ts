// The runnel.v1.Broker data-plane messages the manager speaks: the typed mirrors from
// @runnel/protocol (camelCase, int64 as number, bytes as Buffer), so the gRPC handlers pass requests
// straight through and in-process tests need no serialisation.

export type {
  EpochEndOffset as EpochEndOffsetMessage,
  EpochEndOffsetResult,
  FetchPartition,
  FetchPartitionResponse,
  FetchRequest,
  FetchResponse,
  FetchTopic,
  FetchTopicResponse,
  ListOffsetsPartition,
  ListOffsetsPartitionResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  ListOffsetsTopic,
  OffsetForLeaderEpochPartition,
  OffsetsForLeaderEpochRequest,
  OffsetsForLeaderEpochResponse,
  ProducePartitionData,
  ProducePartitionResponse,
  ProduceRequest,
  ProduceResponse,
  ProduceTopicData,
} from '@runnel/protocol';

/** ListOffsets timestamps with a special meaning (Kafka's ListOffsetsRequest constants). */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;
/** replicaId of a consumer's fetch. */
export const CONSUMER_REPLICA_ID = -1;
