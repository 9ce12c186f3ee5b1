// The coordinator runtime's view of this broker: its replicas of `__consumer_offsets` (through the
// ReplicaManager, so group records go through the same validation, acks=all and ISR rules as any
// produce) and the cluster metadata (through the committed metadata image).

import { RunnelError, decodeRecordBatch, encodeRecordBatch, iterateBatches, errorInfo } from '@runnel/protocol';
import type { CreateTopicsRequest, CreateTopicsResponse } from '@runnel/protocol';
import type { MetadataImage } from '@runnel/controller';
import type { ReplicaManager } from '../manager/replica-manager.js';
import type { EncodedGroupRecord } from '../group/core/records.js';
import { OFFSETS_TOPIC } from './coordinator-runtime.js';
import type { CoordinatorClusterView, OffsetsTopicAccess } from './coordinator-runtime.js';

/** Bytes read per step while loading a shard. */
const LOAD_READ_BYTES = 4 * 1024 * 1024;

export interface ReplicaOffsetsAccessOptions {
  replicaManager: ReplicaManager;
  /** Bound on one append waiting for the ISR (acks=all). */
  appendTimeoutMs: number;
}

export class ReplicaOffsetsAccess implements OffsetsTopicAccess {
  constructor(private readonly options: ReplicaOffsetsAccessOptions) {}

  leaderEpoch(partition: number): number | undefined {
    const hosted = this.options.replicaManager.describe().find((p) => p.topic === OFFSETS_TOPIC && p.partition === partition);
    return hosted !== undefined && hosted.role === 'leader' ? hosted.leaderEpoch : undefined;
  }

  async append(partition: number, _leaderEpoch: number, records: readonly EncodedGroupRecord[], timestampMs: number): Promise<void> {
    const batch = encodeRecordBatch({
      baseTimestamp: timestampMs,
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp: timestampMs })),
    });
    const response = await this.options.replicaManager.produce({
      acks: -1,
      timeoutMs: this.options.appendTimeoutMs,
      topics: [{ name: OFFSETS_TOPIC, partitions: [{ partition, records: batch }] }],
    });
    const answer = response.topics[0]?.partitions[0];
    if (answer === undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `no answer appending to ${OFFSETS_TOPIC}-${partition}`);
    if (answer.errorCode !== 0) throw new RunnelError(errorInfo(answer.errorCode).name, `appending group records to ${OFFSETS_TOPIC}-${partition}: ${answer.errorMessage}`);
  }

  async readAll(partition: number): Promise<EncodedGroupRecord[]> {
    const log = this.options.replicaManager.partitionLog(OFFSETS_TOPIC, partition);
    if (log === undefined) throw new RunnelError('NOT_COORDINATOR', `${OFFSETS_TOPIC}-${partition} is not hosted here`);
    const out: EncodedGroupRecord[] = [];
    let offset = log.logStartOffset;
    const end = log.logEndOffset;
    while (offset < end) {
      const read = log.read(offset, LOAD_READ_BYTES, end);
      if (!read.ok) throw read.error;
      if (read.records.length === 0) break;
      for (const entry of iterateBatches(read.records)) {
        if (entry.kind !== 'batch') throw new RunnelError('CORRUPT_MESSAGE', `${OFFSETS_TOPIC}-${partition}: ${entry.message}`);
        const batch = decodeRecordBatch(read.records, entry.position);
        if (batch.header.attributes.control) continue;
        for (const record of batch.records) {
          if (record.offset < offset || record.key === null) continue;
          // Copies: the read buffer may be reused, and the shard keeps nothing but decoded values.
          out.push({ key: Buffer.from(record.key), value: record.value === null ? null : Buffer.from(record.value) });
        }
      }
      if (read.nextFetchOffset <= offset) break;
      offset = read.nextFetchOffset;
    }
    return out;
  }
}

export interface ImageClusterViewOptions {
  image: () => MetadataImage;
  /** The client endpoint brokers registered ("host:port" parts), undefined if unknown. */
  clientEndpoint: (image: MetadataImage, brokerId: number) => { host: string; port: number } | undefined;
  createTopics: (request: CreateTopicsRequest) => Promise<CreateTopicsResponse>;
  /** offsets.topic.num.partitions */
  offsetsTopicPartitions: number;
  /** offsets.topic.replication.factor */
  offsetsTopicReplicationFactor: number;
  /** offsets.topic.segment.bytes */
  offsetsTopicSegmentBytes: number;
  onCreateError: (message: string) => void;
}

export class ImageClusterView implements CoordinatorClusterView {
  constructor(private readonly options: ImageClusterViewOptions) {}

  partitionCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const topic of this.options.image().topicsById.values()) {
      if (topic.name.startsWith('__')) continue;
      counts.set(topic.name, topic.partitions.length);
    }
    return counts;
  }

  topicNames(): string[] {
    return [...this.partitionCounts().keys()].sort();
  }

  offsetsTopicPartitions(): number | undefined {
    return this.options.image().topic(OFFSETS_TOPIC)?.partitions.length;
  }

  leaderOfOffsetsPartition(partition: number): { nodeId: number; host: string; port: number } | undefined {
    const image = this.options.image();
    const leader = image.leaderOf(OFFSETS_TOPIC, partition);
    if (leader === undefined || leader < 0) return undefined;
    const endpoint = this.options.clientEndpoint(image, leader);
    return endpoint === undefined ? undefined : { nodeId: leader, ...endpoint };
  }

  async createOffsetsTopic(): Promise<void> {
    const live = this.options.image().liveBrokers().length;
    const response = await this.options.createTopics({
      topics: [
        {
          name: OFFSETS_TOPIC,
          numPartitions: this.options.offsetsTopicPartitions,
          replicationFactor: this.options.offsetsTopicReplicationFactor,
          configs: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: String(this.options.offsetsTopicSegmentBytes) },
          ],
        },
      ],
      validateOnly: false,
      timeoutMs: 30_000,
    });
    const result = response.topics[0];
    if (result !== undefined && result.errorCode !== 0 && errorInfo(result.errorCode).name !== 'TOPIC_ALREADY_EXISTS') {
      this.options.onCreateError(
        `creating ${OFFSETS_TOPIC} (${this.options.offsetsTopicPartitions} partitions, replication factor ${this.options.offsetsTopicReplicationFactor}, ${live} live brokers) failed: ${errorInfo(result.errorCode).name} ${result.errorMessage}`,
      );
    }
  }
}
