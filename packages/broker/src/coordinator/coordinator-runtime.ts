// The group coordinator of one broker: one shard per `__consumer_offsets` partition this broker
// leads. A shard is the pure GroupCoordinator (group/core) loaded from its partition's log; every
// request runs on it one at a time, the records it produced are appended to the partition with
// acks=all, and only then is the request answered. If an append fails, the in-memory state is ahead
// of the log, so the shard is thrown away and loaded again from the log before it serves anything
// else (the request that failed gets a retriable error). Leadership changes load and drop shards.

import { RunnelError } from '@runnel/protocol';
import type { Logger } from 'pino';
import { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator } from '../group/core/group-coordinator.js';
import type { GroupCoordinatorConfig } from '../group/core/group-coordinator.js';
import { decodeGroupRecord, encodeGroupRecord, partitionForGroup, replayGroupRecords } from '../group/core/records.js';
import type { EncodedGroupRecord, GroupRecord } from '../group/core/records.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** What the runtime needs of the broker's replicas of `__consumer_offsets`. */
export interface OffsetsTopicAccess {
  /** The leader epoch of partition `partition` if this broker leads it now. */
  leaderEpoch(partition: number): number | undefined;
  /** Appends as the leader in `leaderEpoch`; resolves once the high watermark covers the records (acks=all). */
  append(partition: number, leaderEpoch: number, records: readonly EncodedGroupRecord[], timestampMs: number): Promise<void>;
  /** Every record of the partition's log, start to end, in order. */
  readAll(partition: number): Promise<EncodedGroupRecord[]>;
}

/** What the runtime needs of the cluster metadata. */
export interface CoordinatorClusterView {
  /** Partition count of every topic, internal ones excluded. */
  partitionCounts(): Map<string, number>;
  /** Partition count of `__consumer_offsets`, undefined while it does not exist. */
  offsetsTopicPartitions(): number | undefined;
  /** The broker leading `__consumer_offsets-partition` and its client endpoint. */
  leaderOfOffsetsPartition(partition: number): { nodeId: number; host: string; port: number } | undefined;
  /** Asks the controller to create `__consumer_offsets`; resolves when asked (creation is async). */
  createOffsetsTopic(): Promise<void>;
}

export interface CoordinatorRuntimeOptions {
  brokerId: number;
  access: OffsetsTopicAccess;
  cluster: CoordinatorClusterView;
  logger: Logger;
  nowMs: () => number;
  generateMemberId: () => string;
  config?: Partial<Omit<GroupCoordinatorConfig, 'generateMemberId'>>;
}

type ShardState = 'loading' | 'active' | 'closed';

class Shard {
  state: ShardState = 'loading';
  core: GroupCoordinator | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partition: number,
    readonly leaderEpoch: number,
  ) {}

  /** Runs `task` after every task queued before it. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function coordinatorError(code: 'NOT_COORDINATOR' | 'COORDINATOR_LOAD_IN_PROGRESS' | 'COORDINATOR_NOT_AVAILABLE', message: string): RunnelError {
  return new RunnelError(code, message);
}

export class GroupCoordinatorRuntime {
  private readonly shards = new Map<number, Shard>();
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private creatingTopic: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: CoordinatorRuntimeOptions) {
    this.config = { ...GROUP_COORDINATOR_DEFAULTS, ...options.config, generateMemberId: options.generateMemberId };
    this.log = options.logger.child({ component: 'group-coordinator', brokerId: options.brokerId });
  }

  // ---------------------------------------------------------------- shards

  /**
   * Called after every metadata image is applied to the replicas: loads shards for partitions this
   * broker now leads (or leads in a new epoch), drops the others, and tells loaded shards about
   * topic changes.
   */
  syncWithMetadata(): void {
    if (this.closed) return;
    const count = this.options.cluster.offsetsTopicPartitions() ?? 0;
    for (let partition = 0; partition < count; partition++) {
      const epoch = this.options.access.leaderEpoch(partition);
      const shard = this.shards.get(partition);
      if (epoch === undefined) {
        if (shard !== undefined) this.dropShard(shard, 'no longer the leader');
        continue;
      }
      if (shard !== undefined && shard.leaderEpoch === epoch) continue;
      if (shard !== undefined) this.dropShard(shard, `leader epoch moved to ${epoch}`);
      this.loadShard(partition, epoch);
    }
    for (const shard of this.shards.values()) {
      if (shard.partition >= count) this.dropShard(shard, 'partition gone');
    }
    const counts = this.options.cluster.partitionCounts();
    for (const shard of this.shards.values()) {
      void shard.enqueue(async () => {
        if (shard.state !== 'active' || shard.core === undefined) return;
        shard.core.updateTopics(counts, this.options.nowMs());
        await this.persist(shard, shard.core.drainRecords());
      }).catch((err: unknown) => this.log.warn({ err, partition: shard.partition }, 'applying topic changes to a coordinator shard failed'));
    }
  }

  private dropShard(shard: Shard, reason: string): void {
    shard.state = 'closed';
    shard.core = undefined;
    this.shards.delete(shard.partition);
    this.log.info({ partition: shard.partition, leaderEpoch: shard.leaderEpoch, reason }, 'coordinator shard unloaded');
  }

  private loadShard(partition: number, leaderEpoch: number): void {
    const shard = new Shard(partition, leaderEpoch);
    this.shards.set(partition, shard);
    void shard.enqueue(() => this.reload(shard)).catch((err: unknown) => this.log.error({ err, partition }, 'loading a coordinator shard failed'));
  }

  /** (Re)builds the shard's state from its partition's log. */
  private async reload(shard: Shard): Promise<void> {
    shard.state = 'loading';
    shard.core = undefined;
    const startedMs = this.options.nowMs();
    const stored = await this.options.access.readAll(shard.partition);
    if (this.shards.get(shard.partition) !== shard) return;
    const decoded: GroupRecord[] = [];
    for (const record of stored) decoded.push(decodeGroupRecord(record));
    shard.core = replayGroupRecords(decoded, { config: this.config, partitionCounts: this.options.cluster.partitionCounts(), nowMs: this.options.nowMs() });
    shard.state = 'active';
    this.log.info(
      { partition: shard.partition, leaderEpoch: shard.leaderEpoch, records: stored.length, groups: shard.core.listGroups().length, loadMs: this.options.nowMs() - startedMs },
      'coordinator shard loaded',
    );
  }

  /** Appends what the core wrote; on failure reloads the shard from the log and rethrows. */
  private async persist(shard: Shard, records: readonly GroupRecord[]): Promise<void> {
    if (records.length === 0) return;
    const epoch = this.options.access.leaderEpoch(shard.partition);
    try {
      if (epoch !== shard.leaderEpoch) throw coordinatorError('NOT_COORDINATOR', `broker ${this.options.brokerId} no longer leads ${OFFSETS_TOPIC}-${shard.partition}`);
      await this.options.access.append(shard.partition, shard.leaderEpoch, records.map(encodeGroupRecord), this.options.nowMs());
    } catch (err) {
      this.log.warn({ err, partition: shard.partition }, 'appending group records failed; reloading the shard from the log');
      if (this.shards.get(shard.partition) === shard) await this.reload(shard).catch((reloadErr: unknown) => this.log.error({ err: reloadErr }, 'reloading a coordinator shard failed'));
      throw err instanceof RunnelError && err.retriable ? err : coordinatorError('COORDINATOR_NOT_AVAILABLE', `writing group state failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Runs `operation` on the shard that owns `groupId` and answers once its records are committed.
   * NOT_COORDINATOR when this broker does not lead the group's partition, COORDINATOR_LOAD_IN_PROGRESS
   * while the shard loads.
   */
  run<T>(groupId: string, operation: (core: GroupCoordinator, nowMs: number) => T): Promise<T> {
    const count = this.options.cluster.offsetsTopicPartitions();
    if (count === undefined) return Promise.reject(coordinatorError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC} does not exist yet`));
    const partition = partitionForGroup(groupId, count);
    const shard = this.shards.get(partition);
    if (shard === undefined) return Promise.reject(coordinatorError('NOT_COORDINATOR', `broker ${this.options.brokerId} is not the coordinator of group ${groupId} (${OFFSETS_TOPIC}-${partition})`));
    if (shard.state === 'loading') return Promise.reject(coordinatorError('COORDINATOR_LOAD_IN_PROGRESS', `${OFFSETS_TOPIC}-${partition} is loading`));
    return shard.enqueue(async () => {
      if (shard.state !== 'active' || shard.core === undefined) throw coordinatorError('NOT_COORDINATOR', `${OFFSETS_TOPIC}-${partition} is not active here`);
      const result = operation(shard.core, this.options.nowMs());
      await this.persist(shard, shard.core.drainRecords());
      return result;
    });
  }

  /** Every loaded shard's answer to `operation` (read-only operations such as listing groups). */
  everyShard<T>(operation: (core: GroupCoordinator) => T): T[] {
    const out: T[] = [];
    for (const shard of this.shards.values()) if (shard.state === 'active' && shard.core !== undefined) out.push(operation(shard.core));
    return out;
  }

  /** Expires members whose session or rebalance deadline passed; the daemon calls it on a timer. */
  tick(): void {
    for (const shard of this.shards.values()) {
      void shard.enqueue(async () => {
        if (shard.state !== 'active' || shard.core === undefined) return;
        const expired = shard.core.tick(this.options.nowMs());
        for (const e of expired) this.log.info({ groupId: e.groupId, memberId: e.memberId, reason: e.reason }, 'group member expired');
        await this.persist(shard, shard.core.drainRecords());
      }).catch((err: unknown) => this.log.warn({ err, partition: shard.partition }, 'coordinator tick failed'));
    }
  }

  // ---------------------------------------------------------------- coordinator lookup

  /** Where group `groupId` is coordinated; creates `__consumer_offsets` on first use. */
  async findCoordinator(groupId: string): Promise<{ nodeId: number; host: string; port: number }> {
    const count = this.options.cluster.offsetsTopicPartitions();
    if (count === undefined) {
      this.creatingTopic ??= this.options.cluster.createOffsetsTopic().finally(() => {
        this.creatingTopic = undefined;
      });
      await this.creatingTopic;
      throw coordinatorError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC} is being created`);
    }
    const partition = partitionForGroup(groupId, count);
    const leader = this.options.cluster.leaderOfOffsetsPartition(partition);
    if (leader === undefined) throw coordinatorError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC}-${partition} has no leader`);
    return leader;
  }

  close(): void {
    this.closed = true;
    for (const shard of [...this.shards.values()]) this.dropShard(shard, 'broker closing');
  }

  /**
   * Every committed offset of the groups this broker coordinates (active shards only), for lag
   * metrics: a read of in-memory state, bounded by the groups and partitions those shards hold.
   */
  committedOffsets(): Array<{ groupId: string; topic: string; partition: number; offset: number }> {
    const out: Array<{ groupId: string; topic: string; partition: number; offset: number }> = [];
    for (const shard of this.shards.values()) {
      const core = shard.core;
      if (shard.state !== 'active' || core === undefined) continue;
      for (const { groupId } of core.listGroups()) {
        for (const o of core.fetchOffsets({ groupId }).offsets) {
          if (o.offset >= 0) out.push({ groupId, topic: o.topic, partition: o.partition, offset: o.offset });
        }
      }
    }
    return out;
  }

  /** Loaded shards (tests, metrics). */
  describe(): Array<{ partition: number; leaderEpoch: number; state: ShardState; groups: number }> {
    return [...this.shards.values()].map((s) => ({ partition: s.partition, leaderEpoch: s.leaderEpoch, state: s.state, groups: s.core?.listGroups().length ?? 0 }));
  }
}
