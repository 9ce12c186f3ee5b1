// @runnel/client: producer, consumer and admin client for Runnel clusters, KafkaJS style.

export { Runnel, REQUEST_TIMEOUT_MS_DEFAULT } from './runnel.js';
export type { RunnelConfig } from './runnel.js';
export { Admin } from './admin.js';
export type { ClusterDescription, CreateTopicsOptions, PartitionOffsets, PartitionMetadataView, TopicMetadataView, TopicSpec } from './admin.js';
export { Producer } from './producer.js';
export type { Acks, Message, MessageHeaders, ProducerOptions, ProducerRecord, RawValue, RecordMetadata } from './producer.js';
export { Consumer } from './consumer.js';
export type { ConsumedHeaders, ConsumedMessage, ConsumerOptions, EachBatchPayload, EachMessagePayload, RunOptions, TopicPartitionOffset } from './consumer.js';
export { DefaultPartitioner } from './partitioner.js';
export { DEFAULT_RETRY, backoffMs, retry, resolveRetryOptions } from './retry.js';
export type { ResolvedRetryOptions, RetryCallOptions, RetryContext, RetryOptions, Sleep } from './retry.js';
export { SILENT_LOGGER, SYSTEM_CLOCK } from './logger.js';
export type { Clock, Logger } from './logger.js';
export type { BrokerNode, PartitionInfo, TopicInfo } from './cluster.js';
export type { GroupDetails, GroupOverview, GroupPartitionLag, ResetPlanEntry, ResetSpec } from './group/group-admin.js';
export type { TopicPartition } from './group/membership.js';
export { BUFFER_SERDE, STRING_SERDE, SerdeRegistry, Serdes, encodeHeaders, jsonSerde } from './serde.js';
export type { HeaderValue, OutgoingHeaders, Serde, SerdeConfig } from './serde.js';
export { RunnelError } from '@runnel/protocol';
