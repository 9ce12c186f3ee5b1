// Consumer group administration: list (every broker coordinates some groups, so all are asked),
// describe with lag (committed offsets from the coordinator, high watermarks from each partition's
// leader), delete, and reset offsets. Resets are computed here (earliest, latest, by time, to an
// offset, shift by N; clamped to what the log holds) and committed as a non-member commit, which the
// coordinator accepts only while the group has no active members (NON_EMPTY_GROUP otherwise).

import { RunnelError, errorInfo, unaryCall } from '@runnel/protocol';
import type { GroupDescription as WireGroupDescription } from '@runnel/protocol';
import type { Cluster } from '../cluster.js';
import type { GrpcGroupTransport } from './group-transport.js';

export interface GroupOverview {
  groupId: string;
  state: string;
  members: number;
  coordinatorAddress: string;
}

export interface GroupPartitionLag {
  topic: string;
  partition: number;
  /** -1: nothing committed. */
  committedOffset: number;
  /** The high watermark. */
  logEndOffset: number;
  /** logEndOffset - committedOffset; the whole log when nothing is committed. */
  lag: number;
  /** '' when no member owns it. */
  owner: string;
}

export interface GroupDetails {
  groupId: string;
  state: string;
  /** The broker coordinating the group. */
  coordinatorId: number;
  groupEpoch: number;
  members: Array<{ memberId: string; memberEpoch: number; clientId: string; topics: string[]; assignment: Array<{ topic: string; partitions: number[] }> }>;
  partitions: GroupPartitionLag[];
}

export type ResetSpec =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'datetime'; timestampMs: number }
  | { kind: 'offset'; offset: number }
  | { kind: 'shift'; by: number };

export interface ResetPlanEntry {
  topic: string;
  partition: number;
  /** -1: nothing committed before. */
  currentOffset: number;
  newOffset: number;
}

interface PartitionBounds {
  low: number;
  high: number;
}

export class GroupAdmin {
  constructor(
    private readonly cluster: Cluster,
    private readonly transport: GrpcGroupTransport,
  ) {}

  /** Every group of the cluster, sorted by id. */
  async listGroups(): Promise<GroupOverview[]> {
    const addresses = await this.transport.brokerAddresses();
    const answers = await Promise.all(
      addresses.map(async (address) => {
        const response = await unaryCall(this.transport.client(address), 'listGroups', {}, this.cluster.options.requestTimeoutMs);
        if (response.errorCode !== 0) throw RunnelError.fromCode(response.errorCode, response.errorMessage || undefined);
        return response.groups.map((g) => ({ groupId: g.groupId, state: g.state, members: g.members, coordinatorAddress: address }));
      }),
    );
    return answers.flat().sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  private async describeRaw(groupId: string): Promise<WireGroupDescription> {
    return this.cluster.retry(
      async () => {
        const address = await this.transport.findCoordinatorOnce(groupId);
        const response = await unaryCall(this.transport.client(address), 'describeGroups', { groupIds: [groupId] }, this.cluster.options.requestTimeoutMs);
        const group = response.groups[0];
        if (group === undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `no description of group ${groupId}`);
        if (group.errorCode !== 0) throw RunnelError.fromCode(group.errorCode, group.errorMessage || undefined, { details: { groupId } });
        return group;
      },
      { operation: `describe group ${groupId}` },
    );
  }

  /** Members, assignments, and per partition the committed offset, high watermark and lag. */
  async describeGroup(groupId: string): Promise<GroupDetails> {
    const group = await this.describeRaw(groupId);
    const owners = new Map<string, string>();
    const topics = new Set<string>();
    for (const m of group.members) {
      for (const tp of m.assignment) {
        topics.add(tp.topic);
        for (const p of tp.partitions) owners.set(`${tp.topic}\u0000${p}`, m.memberId);
      }
      for (const t of m.subscribedTopicNames) topics.add(t);
    }
    const committed = new Map<string, number>();
    for (const o of group.offsets) {
      topics.add(o.topic);
      committed.set(`${o.topic}\u0000${o.partition}`, o.committedOffset);
    }
    const partitions: GroupPartitionLag[] = [];
    for (const topic of [...topics].sort()) {
      const bounds = await this.bounds(topic).catch(() => new Map<number, PartitionBounds>());
      for (const [partition, { low, high }] of [...bounds].sort((a, b) => a[0] - b[0])) {
        const key = `${topic}\u0000${partition}`;
        const offset = committed.get(key) ?? -1;
        partitions.push({ topic, partition, committedOffset: offset, logEndOffset: high, lag: offset < 0 ? high - low : Math.max(0, high - offset), owner: owners.get(key) ?? '' });
      }
    }
    return {
      groupId,
      state: group.state,
      coordinatorId: group.coordinatorId,
      groupEpoch: group.groupEpoch,
      members: group.members.map((m) => ({ memberId: m.memberId, memberEpoch: m.memberEpoch, clientId: m.clientId, topics: m.subscribedTopicNames, assignment: m.assignment })),
      partitions,
    };
  }

  /** Deletes groups without active members, with their committed offsets. */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    for (const groupId of groupIds) {
      await this.cluster.retry(
        async () => {
          const address = await this.transport.findCoordinatorOnce(groupId);
          const response = await unaryCall(this.transport.client(address), 'deleteGroups', { groupIds: [groupId] }, this.cluster.options.requestTimeoutMs);
          const result = response.results[0];
          if (result !== undefined && result.errorCode !== 0) throw RunnelError.fromCode(result.errorCode, result.errorMessage || undefined, { details: { groupId } });
        },
        { operation: `delete group ${groupId}` },
      );
    }
  }

  /**
   * Computes new offsets for every partition of `topic` (or the listed ones) and, unless `dryRun`,
   * commits them. Offsets are clamped to [log start, high watermark], as Kafka's tool does.
   */
  async resetOffsets(options: { groupId: string; topic: string; partitions?: number[]; spec: ResetSpec; dryRun?: boolean }): Promise<ResetPlanEntry[]> {
    const { groupId, topic, spec } = options;
    const bounds = await this.bounds(topic);
    const wanted = options.partitions ?? [...bounds.keys()].sort((a, b) => a - b);
    const description = await this.describeRaw(groupId).catch((err: unknown) => {
      if (err instanceof RunnelError && err.codeName === 'GROUP_ID_NOT_FOUND') return undefined;
      throw err;
    });
    if (description !== undefined && description.members.length > 0 && options.dryRun !== true) {
      throw new RunnelError('NON_EMPTY_GROUP', `group ${groupId} has ${description.members.length} active members: stop them before resetting offsets`);
    }
    const current = new Map<number, number>();
    for (const o of description?.offsets ?? []) if (o.topic === topic) current.set(o.partition, o.committedOffset);
    const byTime = spec.kind === 'datetime' ? await this.offsetsForTime(topic, wanted, spec.timestampMs) : undefined;
    const plan: ResetPlanEntry[] = [];
    for (const partition of wanted) {
      const b = bounds.get(partition);
      if (b === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} does not exist`);
      const now = current.get(partition) ?? -1;
      let target: number;
      switch (spec.kind) {
        case 'earliest':
          target = b.low;
          break;
        case 'latest':
          target = b.high;
          break;
        case 'datetime':
          target = byTime?.get(partition) ?? b.high;
          break;
        case 'offset':
          target = spec.offset;
          break;
        case 'shift':
          target = (now < 0 ? b.low : now) + spec.by;
          break;
      }
      plan.push({ topic, partition, currentOffset: now, newOffset: Math.min(Math.max(target, b.low), b.high) });
    }
    if (options.dryRun === true) return plan;
    await this.cluster.retry(
      async () => {
        const address = await this.transport.findCoordinatorOnce(groupId);
        const response = await unaryCall(
          this.transport.client(address),
          'offsetCommit',
          {
            groupId,
            memberId: '',
            memberEpoch: -1,
            topics: [{ name: topic, partitions: plan.map((e) => ({ partition: e.partition, committedOffset: e.newOffset, committedLeaderEpoch: -1, metadata: '' })) }],
          },
          this.cluster.options.requestTimeoutMs,
        );
        if (response.errorCode !== 0) throw RunnelError.fromCode(response.errorCode, response.errorMessage || undefined, { details: { groupId } });
      },
      { operation: `reset offsets of group ${groupId}` },
    );
    return plan;
  }

  /** Log start offset and high watermark per partition, asked of each leader. */
  private async bounds(topic: string): Promise<Map<number, PartitionBounds>> {
    const [low, high] = await Promise.all([this.listOffsets(topic, undefined, -2), this.listOffsets(topic, undefined, -1)]);
    const out = new Map<number, PartitionBounds>();
    for (const [partition, l] of low) out.set(partition, { low: l, high: high.get(partition) ?? l });
    return out;
  }

  private async offsetsForTime(topic: string, partitions: number[], timestampMs: number): Promise<Map<number, number>> {
    const found = await this.listOffsets(topic, partitions, timestampMs);
    // -1: no record that late; the tool then moves to the end, as Kafka's does.
    return new Map([...found].filter(([, offset]) => offset >= 0));
  }

  private async listOffsets(topic: string, only: number[] | undefined, timestamp: number): Promise<Map<number, number>> {
    return this.cluster.retry(
      async () => {
        const info = (await this.cluster.ensureTopics([topic])).get(topic);
        if (info === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`);
        const byLeader = new Map<number, number[]>();
        for (const p of info.partitions) {
          if (only !== undefined && !only.includes(p.partition)) continue;
          const leader = this.cluster.leaderOf(topic, p.partition);
          if (leader < 0) throw new RunnelError('LEADER_NOT_AVAILABLE', `${topic}-${p.partition} has no leader`);
          byLeader.set(leader, [...(byLeader.get(leader) ?? []), p.partition]);
        }
        const out = new Map<number, number>();
        await Promise.all(
          [...byLeader].map(async ([leader, ids]) => {
            const response = await this.cluster.callBroker(leader, 'listOffsets', {
              replicaId: -1,
              isolationLevel: 0,
              topics: [{ name: topic, partitions: ids.map((partition) => ({ partition, currentLeaderEpoch: -1, timestamp })) }],
            });
            for (const t of response.topics) {
              for (const p of t.partitions) {
                if (p.errorCode !== 0) throw RunnelError.fromCode(p.errorCode, p.errorMessage || errorInfo(p.errorCode).description);
                out.set(p.partition, p.offset);
              }
            }
          }),
        );
        return out;
      },
      {
        operation: `list offsets of ${topic}`,
        onRetry: async (error) => {
          if (error.staleMetadata) await this.cluster.refreshMetadata([topic]).catch(() => undefined);
        },
      },
    );
  }
}
