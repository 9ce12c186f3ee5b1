// Topic and cluster administration. Brokers forward admin requests to the active controller, so
// any broker will do; results carry per-topic Kafka error codes which become typed errors here.

import { RunnelError } from '@runnel/protocol';
import type { Cluster, PartitionInfo } from './cluster.js';
import { GroupAdmin } from './group/group-admin.js';
import type { GroupDetails, GroupOverview, ResetPlanEntry, ResetSpec } from './group/group-admin.js';
import { GrpcGroupTransport } from './group/group-transport.js';

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
  /** The metadata quorum's voters and their controller listeners; [] when the broker did not say. */
  controllerVoters: Array<{ nodeId: number; endpoint: string }>;
  /** The broker that answered (-1 when it did not say) and its applied metadata offset. */
  answeredBy: number;
  metadataOffset: number;
}

/** One partition's offsets as {@link Admin.fetchTopicOffsets} reports them (KafkaJS shape, numbers). */
export interface PartitionOffsets {
  partition: number;
  /** The log start offset. */
  low: number;
  /** The high watermark: the offset the next committed record gets. */
  high: number;
  /** Same as `high`, named as KafkaJS names it. */
  offset: number;
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

  /**
   * Log start offset and high watermark of every partition of `topic`, asked of each partition's
   * leader; a partition whose leader moved is retried after a metadata refresh.
   */
  async fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]> {
    return this.cluster.retry(
      async () => {
        const info = (await this.cluster.ensureTopics([topic])).get(topic);
        const partitions = info?.partitions ?? [];
        const byLeader = new Map<number, number[]>();
        for (const p of partitions) {
          const leader = this.cluster.leaderOf(topic, p.partition);
          if (leader < 0) throw new RunnelError('LEADER_NOT_AVAILABLE', `${topic}-${p.partition} has no leader`, { details: { topic, partition: p.partition } });
          byLeader.set(leader, [...(byLeader.get(leader) ?? []), p.partition]);
        }
        const out: PartitionOffsets[] = [];
        await Promise.all([...byLeader].map(async ([leader, ids]) => {
          const ask = async (timestamp: number): Promise<Map<number, number>> => {
            const response = await this.cluster.callBroker(leader, 'listOffsets', {
              replicaId: -1,
              isolationLevel: 0,
              topics: [{ name: topic, partitions: ids.map((partition) => ({ partition, currentLeaderEpoch: -1, timestamp })) }],
            });
            const found = new Map<number, number>();
            for (const t of response.topics) {
              for (const p of t.partitions) {
                if (p.errorCode !== 0) throw RunnelError.fromCode(p.errorCode, p.errorMessage || undefined, { details: { topic, partition: p.partition, brokerId: leader } });
                found.set(p.partition, p.offset);
              }
            }
            return found;
          };
          const [earliest, latest] = await Promise.all([ask(-2), ask(-1)]);
          for (const partition of ids) {
            const low = earliest.get(partition);
            const high = latest.get(partition);
            if (low === undefined || high === undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `broker ${leader} did not answer for ${topic}-${partition}`, { details: { topic, partition } });
            out.push({ partition, low, high, offset: high });
          }
        }));
        return out.sort((a, b) => a.partition - b.partition);
      },
      {
        operation: 'fetchTopicOffsets',
        onRetry: async (error) => {
          if (error.staleMetadata || error.codeName === 'NETWORK_EXCEPTION' || error.codeName === 'REQUEST_TIMED_OUT') await this.cluster.refreshMetadata([topic]).catch(() => undefined);
        },
      },
    );
  }

  private groupAdmin(): { admin: GroupAdmin; close: () => void } {
    const transport = new GrpcGroupTransport(this.cluster);
    return { admin: new GroupAdmin(this.cluster, transport), close: () => transport.close() };
  }

  /** Every consumer group of the cluster (each broker coordinates some), sorted by id. */
  async listGroups(): Promise<GroupOverview[]> {
    const { admin, close } = this.groupAdmin();
    try {
      return await admin.listGroups();
    } finally {
      close();
    }
  }

  /** A group's members and, per partition, committed offset, high watermark, lag and owner. */
  async describeGroup(groupId: string): Promise<GroupDetails> {
    const { admin, close } = this.groupAdmin();
    try {
      return await admin.describeGroup(groupId);
    } finally {
      close();
    }
  }

  /** Deletes groups that have no active members, with their committed offsets (NON_EMPTY_GROUP otherwise). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    const { admin, close } = this.groupAdmin();
    try {
      await admin.deleteGroups(groupIds);
    } finally {
      close();
    }
  }

  /**
   * Moves a group's committed offsets for one topic (earliest, latest, by time, to an offset, shift
   * by N; clamped to the log). Only for a group without active members; `dryRun` only computes.
   */
  async resetOffsets(options: { groupId: string; topic: string; partitions?: number[]; spec: ResetSpec; dryRun?: boolean }): Promise<ResetPlanEntry[]> {
    const { admin, close } = this.groupAdmin();
    try {
      return await admin.resetOffsets(options);
    } finally {
      close();
    }
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
      controllerVoters: (response.controllerVoters ?? []).map((v) => ({ nodeId: v.id, endpoint: v.endpoint })).sort((a, b) => a.nodeId - b.nodeId),
      answeredBy: response.answeredBy === undefined || response.answeredBy === 0 ? -1 : response.answeredBy,
      metadataOffset: response.metadataOffset ?? 0,
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
