// Topic and cluster administration. Brokers forward admin requests to the active controller, so
// any broker will do; results carry per-topic Kafka error codes which become typed errors here.

import { RunnelError } from '@runnel/protocol';
import type { Cluster, PartitionInfo } from './cluster.js';

/** A topic to create. */
export interface TopicSpec {
  topic: string;
  /** Default -1: the cluster default. */
  numPartitions?: number;
  /** Default -1: the cluster default. */
  replicationFactor?: number;
  configEntries?: Array<{ name: string; value: string }>;
}

/** Arguments of {@link Admin.createTopics}. */
export interface CreateTopicsOptions {
  topics: TopicSpec[];
  /** Check the request without creating anything. */
  validateOnly?: boolean;
  /** Wait until every new partition has a leader (default true). */
  waitForLeaders?: boolean;
  /** Server-side timeout. Default: the client's requestTimeoutMs. */
  timeoutMs?: number;
}

/** A partition as {@link Admin.fetchTopicMetadata} reports it. */
export interface PartitionMetadataView {
  partitionId: number;
  /** -1 when offline. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  partitionErrorCode: number;
}

/** A topic as {@link Admin.fetchTopicMetadata} reports it. */
export interface TopicMetadataView {
  name: string;
  topicId: string;
  partitions: PartitionMetadataView[];
}

/** What {@link Admin.describeCluster} reports. */
export interface ClusterDescription {
  clusterId: string;
  /** -1 when unknown. */
  controller: number;
  brokers: Array<{ nodeId: number; host: string; port: number; rack: string; fenced: boolean }>;
}

/** Admin operations, KafkaJS style. Obtain one with `runnel.admin()`. */
export class Admin {
  private readonly cluster: Cluster;

  /** @internal Use `runnel.admin()`. */
  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Checks that some broker answers. Channels are lazy, so this is the first round trip. */
  async connect(): Promise<void> {
    await this.cluster.retry(() => this.cluster.refreshMetadata(), { operation: 'connect' });
  }

  /** Kept for KafkaJS symmetry; channels belong to the Runnel instance and close with it. */
  async disconnect(): Promise<void> {}

  /**
   * Creates topics. Resolves true when all were created, false when some already existed (like
   * KafkaJS); throws the first other per-topic error as a RunnelError.
   */
  async createTopics(options: CreateTopicsOptions): Promise<boolean> {
    const timeoutMs = options.timeoutMs ?? this.cluster.options.requestTimeoutMs;
    const response = await this.cluster.retry(
      () =>
        this.cluster.callAny('createTopics', {
          topics: options.topics.map((t) => ({
            name: t.topic,
            numPartitions: t.numPartitions ?? -1,
            replicationFactor: t.replicationFactor ?? -1,
            configs: (t.configEntries ?? []).map((c) => ({ name: c.name, value: c.value })),
          })),
          validateOnly: options.validateOnly ?? false,
          timeoutMs,
        }),
      { operation: 'createTopics' },
    );
    let allCreated = true;
    for (const result of response.topics) {
      if (result.errorCode === 0) continue;
      const error = RunnelError.fromCode(result.errorCode, result.errorMessage || undefined, { details: { topic: result.name } });
      if (error.codeName === 'TOPIC_ALREADY_EXISTS') {
        allCreated = false;
        continue;
      }
      throw error;
    }
    if (!options.validateOnly && (options.waitForLeaders ?? true)) {
      await this.waitForLeaders(options.topics.map((t) => t.topic));
    }
    return allCreated;
  }

  private async waitForLeaders(topics: string[]): Promise<void> {
    await this.cluster.retry(
      async () => {
        const infos = await this.cluster.ensureTopics(topics);
        for (const [topic, info] of infos) {
          const leaderless = info.partitions.find((p) => p.leaderId < 0);
          if (info.partitions.length === 0 || leaderless !== undefined) {
            throw new RunnelError('LEADER_NOT_AVAILABLE', `topic "${topic}" has partitions without a leader`, { details: { topic } });
          }
        }
      },
      { operation: 'waitForLeaders' },
    );
  }

  /** Deletes topics; throws the first per-topic error. */
  async deleteTopics(options: { topics: string[]; timeoutMs?: number }): Promise<void> {
    const response = await this.cluster.retry(
      () => this.cluster.callAny('deleteTopics', { names: options.topics, timeoutMs: options.timeoutMs ?? this.cluster.options.requestTimeoutMs }),
      { operation: 'deleteTopics' },
    );
    throwFirstTopicError(response.topics);
  }

  /** Raises partition counts (`count` is the new total); throws the first per-topic error. */
  async createPartitions(options: { topicPartitions: Array<{ topic: string; count: number }>; validateOnly?: boolean; timeoutMs?: number }): Promise<void> {
    const response = await this.cluster.retry(
      () =>
        this.cluster.callAny('createPartitions', {
          topics: options.topicPartitions.map((t) => ({ name: t.topic, count: t.count })),
          validateOnly: options.validateOnly ?? false,
          timeoutMs: options.timeoutMs ?? this.cluster.options.requestTimeoutMs,
        }),
      { operation: 'createPartitions' },
    );
    throwFirstTopicError(response.topics);
  }

  /** Names of every topic, sorted. */
  async listTopics(): Promise<string[]> {
    const topics = await this.cluster.retry(() => this.cluster.fetchAllTopics(), { operation: 'listTopics' });
    return topics.map((t) => t.name).sort();
  }

  /** Partitions, leaders, replicas and ISR of `topics` (every topic when omitted). */
  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: TopicMetadataView[] }> {
    const requested = options.topics;
    const infos =
      requested === undefined || requested.length === 0
        ? await this.cluster.retry(() => this.cluster.fetchAllTopics(), { operation: 'fetchTopicMetadata' })
        : [...(await this.cluster.ensureTopics(requested)).values()];
    return {
      topics: infos.map((info) => ({ name: info.name, topicId: info.topicId, partitions: info.partitions.map(toPartitionView) })),
    };
  }

  /** Alias of {@link Admin.fetchTopicMetadata} named like Kafka's AdminClient. */
  describeTopics(options: { topics?: string[] } = {}): Promise<{ topics: TopicMetadataView[] }> {
    return this.fetchTopicMetadata(options);
  }

  /** Cluster id, active controller and brokers. */
  async describeCluster(): Promise<ClusterDescription> {
    const response = await this.cluster.retry(() => this.cluster.callAny('describeCluster', {}), { operation: 'describeCluster' });
    if (response.errorCode !== 0) throw RunnelError.fromCode(response.errorCode, response.errorMessage || undefined);
    return {
      clusterId: response.clusterId,
      controller: response.controllerId,
      brokers: response.brokers
        .map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: b.rack, fenced: b.fenced }))
        .sort((a, b) => a.nodeId - b.nodeId),
    };
  }
}

function toPartitionView(p: PartitionInfo): PartitionMetadataView {
  return {
    partitionId: p.partition,
    leader: p.leaderId,
    leaderEpoch: p.leaderEpoch,
    replicas: p.replicas,
    isr: p.isr,
    offlineReplicas: p.offlineReplicas,
    partitionErrorCode: p.errorCode,
  };
}

function throwFirstTopicError(results: ReadonlyArray<{ name: string; errorCode: number; errorMessage: string }>): void {
  for (const result of results) {
    if (result.errorCode !== 0) {
      throw RunnelError.fromCode(result.errorCode, result.errorMessage || undefined, { details: { topic: result.name } });
    }
  }
}
