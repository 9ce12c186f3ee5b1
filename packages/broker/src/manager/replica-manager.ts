// Kafka's ReplicaManager: every partition replica this broker hosts, each a PartitionLog on disk
// plus the pure PartitionState, driven the way replica/sim/replica-node.ts shows: feed the state
// facts (metadata, appends, flushes, follower fetches, time), then drain its outbox (high watermark,
// AlterPartition request, acks=all completions) and act on it.
//
// Produce: validate every batch of a partition before appending any (one partition's data is all or
// nothing), refuse acks=all up front when the ISR is below min.insync.replicas, append with offsets
// and epoch stamped, group-commit the fsync, answer acks=0/1 after the leader's write (Kafka) and
// acks=all once the high watermark passes the batch. Under the default 'durable' flush policy that
// watermark is the minimum FLUSHED offset of the ISR, so acks=all means on disk on every electable
// replica. Fetch: consumers read below the high watermark only; followers are fenced by epoch,
// told where they diverge (KIP-320), and their fetch offset and flushed offset advance the watermark.
// Long polls park in a delayed-fetch purgatory woken by appends and watermark moves.

import * as fs from 'node:fs';
import { ErrorCode, RunnelError, validateBatch } from '@runnel/protocol';
import type { ErrorCodeName } from '@runnel/protocol';
import type { MetadataImage, PartitionState as ImagePartition } from '@runnel/controller';
import type { Logger } from 'pino';
import { compactionEnabled, resolveLogConfig } from '../log/config.js';
import type { LogConfig } from '../log/config.js';
import type { FileOps } from '../log/file-ops.js';
import type { CleanResult } from '../log/log-cleaner.js';
import { UNDEFINED_EPOCH_OFFSET } from '../log/leader-epoch-cache.js';
import { PartitionLog } from '../log/partition-log.js';
import { systemClock } from '../log/log-types.js';
import type { Clock } from '../log/log-types.js';
import { PartitionState } from '../replica/core/partition-state.js';
import { NO_LEADER } from '../replica/core/types.js';
import type { FlushPolicy, IsrChangeRequest, ProduceCompletion } from '../replica/core/types.js';
import { FetchWaiters } from './fetch-waiters.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from './messages.js';
import type {
  EpochEndOffsetMessage,
  FetchPartition,
  FetchPartitionResponse,
  FetchRequest,
  FetchResponse,
  FetchTopicResponse,
  ListOffsetsPartitionResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  OffsetsForLeaderEpochRequest,
  OffsetsForLeaderEpochResponse,
  ProducePartitionResponse,
  ProduceRequest,
  ProduceResponse,
} from './messages.js';
import { ReplicaFetcher } from './replica-fetcher.js';
import type { FetchTransport, FollowerPartitionHandle } from './replica-fetcher.js';

/** The controller's answer to an AlterPartition request. */
export type AlterPartitionAnswer = { ok: true; isr: readonly number[]; partitionEpoch: number } | { ok: false; codeName: ErrorCodeName };

/** Sends ISR changes to the active controller (the controller client implements it later). */
export interface AlterPartitionSender {
  alterPartition(request: { brokerId: number; topicId: string; topic: string; partition: number; change: IsrChangeRequest }): Promise<AlterPartitionAnswer>;
}

export interface ReplicaManagerOptions {
  brokerId: number;
  /** The broker's data directory: one `<topic>-<partition>/` per hosted replica. */
  logDir: string;
  logger: Logger;
  alterPartition: AlterPartitionSender;
  /** Required to follow leaders; without it this broker can only lead. */
  fetchTransport?: FetchTransport;
  flushPolicy?: FlushPolicy;
  clock?: Clock;
  /** fsync implementation for the logs (tests gate or count fsyncs). */
  fileOps?: FileOps;
  replicaLagTimeMaxMs?: number;
  /** Period of PartitionState.tick (ISR shrink, acks=all deadlines); 0 disables the timer (tests tick by hand). */
  tickMs?: number;
  /** replica.high.watermark.checkpoint.interval.ms; 0 disables the timer. */
  highWatermarkCheckpointIntervalMs?: number;
  /** log.retention.check.interval.ms: period of the retention pass; 0 disables the timer (tests call enforceRetention). */
  retentionCheckIntervalMs?: number;
  /** log.cleaner.backoff.ms: period of the compaction pass over compacted topics; 0 disables the timer (tests call runCleaner). */
  cleanerBackoffMs?: number;
  /** Log settings for topics that do not override them (cluster configs are layered on top). */
  defaultLogConfig?: Partial<LogConfig>;
  defaultMinInsyncReplicas?: number;
  /** Upper bound on a fetch's max_wait_ms, so no request parks forever. */
  fetchMaxWaitMsMax?: number;
  /** acks=all wait when the request says timeout_ms 0 (unset). */
  produceTimeoutMsDefault?: number;
  replicaFetchWaitMaxMs?: number;
  replicaFetchMaxBytes?: number;
  replicaFetchBackoffMs?: number;
  replicaFetchTimeoutMs?: number;
}

const DEFAULTS = {
  tickMs: 100,
  highWatermarkCheckpointIntervalMs: 5_000,
  retentionCheckIntervalMs: 300_000,
  cleanerBackoffMs: 15_000,
  defaultMinInsyncReplicas: 1,
  fetchMaxWaitMsMax: 30_000,
  produceTimeoutMsDefault: 30_000,
  replicaFetchWaitMaxMs: 500,
  replicaFetchMaxBytes: 10 * 1024 * 1024,
  replicaFetchBackoffMs: 100,
  replicaFetchTimeoutMs: 5_000,
  fetchMaxBytes: 50 * 1024 * 1024,
  partitionMaxBytes: 1024 * 1024,
} as const;

/** Bound on re-reads of one long-poll fetch: each follows a wake-up, so this only caps a storm. */
const FETCH_ROUNDS_MAX = 10_000;

interface HostedPartition {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly key: string;
  readonly log: PartitionLog;
  readonly state: PartitionState;
  minInsyncReplicas: number;
  open: boolean;
  highWatermarkDirty: boolean;
  readonly pendingProduces: Map<number, (completion: ProduceCompletion) => void>;
  readonly handle: FollowerPartitionHandle;
}

/** Totals of one retention pass over the hosted replicas. */
export interface RetentionPassResult {
  partitionsChecked: number;
  deletedSegments: number;
  deletedBytes: number;
}

export interface CleanerPassResult {
  topic: string;
  partition: number;
  result: CleanResult;
}

export interface HostedPartitionView {
  topic: string;
  partition: number;
  role: 'leader' | 'follower' | 'none';
  leaderId: number;
  leaderEpoch: number;
  isr: readonly number[];
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
  flushedOffset: number;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

type PartitionLookup = { ok: true; hosted: HostedPartition } | { ok: false; error: RunnelError };

export class ReplicaManager {
  readonly brokerId: number;
  private readonly options: ReplicaManagerOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly flushPolicy: FlushPolicy;
  private readonly partitions = new Map<string, HostedPartition>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private readonly waiters = new FetchWaiters();
  private imageValue: MetadataImage | undefined;
  private metadataChain: Promise<void> = Promise.resolve();
  private nextProduceRequestId = 1;
  private readonly timers: NodeJS.Timeout[] = [];
  private retentionPass: Promise<RetentionPassResult> | undefined;
  private cleanerPass: Promise<CleanerPassResult | undefined> | undefined;
  private checkpointPass: Promise<void> | undefined;
  private closed = false;

  constructor(options: ReplicaManagerOptions) {
    this.options = options;
    this.brokerId = options.brokerId;
    this.log = options.logger.child({ component: 'replica-manager', brokerId: options.brokerId });
    this.clock = options.clock ?? systemClock;
    this.flushPolicy = options.flushPolicy ?? 'durable';
    fs.mkdirSync(options.logDir, { recursive: true });
    const tickMs = options.tickMs ?? DEFAULTS.tickMs;
    if (tickMs > 0) this.timers.push(setInterval(() => this.tick(), tickMs).unref());
    const checkpointMs = options.highWatermarkCheckpointIntervalMs ?? DEFAULTS.highWatermarkCheckpointIntervalMs;
    if (checkpointMs > 0) this.timers.push(setInterval(() => this.checkpointHighWatermarksGradually(), checkpointMs).unref());
    const retentionMs = options.retentionCheckIntervalMs ?? DEFAULTS.retentionCheckIntervalMs;
    // enforceRetention never rejects; a pass still running when the next fires is joined, not doubled.
    if (retentionMs > 0) this.timers.push(setInterval(() => void this.enforceRetention(), retentionMs).unref());
    const cleanerMs = options.cleanerBackoffMs ?? DEFAULTS.cleanerBackoffMs;
    if (cleanerMs > 0) this.timers.push(setInterval(() => void this.runCleaner(), cleanerMs).unref());
  }

  /** The last metadata image applied (Metadata requests are answered from it). */
  get image(): MetadataImage | undefined {
    return this.imageValue;
  }

  // ---- metadata ----------------------------------------------------------------------------------

  /**
   * Makes the hosted replicas match `image`: open logs for new assignments, become leader or
   * follower when the leader epoch moved, take ISR updates, and stop and delete replicas whose topic
   * was removed (or re-created under a new id) or that moved off this broker. Calls are serialised.
   */
  applyMetadata(image: MetadataImage): Promise<void> {
    const next = this.metadataChain.then(() => this.applyMetadataNow(image));
    this.metadataChain = next.catch(() => undefined);
    return next;
  }

  private async applyMetadataNow(image: MetadataImage): Promise<void> {
    if (this.closed) return;
    this.imageValue = image;
    const wanted = new Set<string>();
    for (const { topic, state } of image.allPartitions()) {
      if (!state.replicas.includes(this.brokerId)) continue;
      const key = partitionKey(topic.name, state.partition);
      wanted.add(key);
      try {
        this.applyPartition(image, topic.name, topic.topicId, state);
      } catch (err) {
        this.log.error({ err, topic: topic.name, partition: state.partition }, 'could not apply metadata to a partition');
      }
    }
    const removals: Promise<void>[] = [];
    for (const [key, hosted] of this.partitions) {
      const current = image.topic(hosted.topic);
      if (!wanted.has(key) || current?.topicId !== hosted.topicId) removals.push(this.removePartition(hosted, 'no longer assigned here'));
    }
    await Promise.all(removals);
    await this.stopIdleFetchers();
  }

  private applyPartition(image: MetadataImage, topic: string, topicId: string, assignment: ImagePartition): void {
    let hosted = this.partitions.get(partitionKey(topic, assignment.partition));
    if (hosted !== undefined && hosted.topicId !== topicId) {
      // Same name, new topic id: the old topic was deleted and re-created; its data must not leak in.
      this.detachPartition(hosted, 'topic re-created');
      void hosted.log.delete().catch((err: unknown) => this.log.error({ err, topic }, 'deleting a re-created topic log failed'));
      hosted = undefined;
    }
    const logConfig = topicLogConfig(image, topic, this.options.defaultLogConfig);
    if (hosted === undefined) {
      hosted = this.openPartition(topic, topicId, assignment.partition, logConfig);
    } else {
      try {
        // Resolved in full so a deleted topic override falls back to the default instead of sticking
        // (updateConfig layers onto the current config).
        hosted.log.updateConfig(resolveLogConfig(logConfig));
      } catch (err) {
        // A bad config must not stop leadership changes below; the log keeps its previous config.
        this.log.error({ err, topic, partition: assignment.partition }, 'topic log config rejected; keeping the previous one');
      }
    }
    hosted.minInsyncReplicas = topicMinInsync(image, topic, this.options.defaultMinInsyncReplicas ?? DEFAULTS.defaultMinInsyncReplicas);
    const { state, log } = hosted;
    const base = { leaderEpoch: assignment.leaderEpoch, partitionEpoch: assignment.partitionEpoch, replicas: assignment.replicas, isr: assignment.isr };
    if (assignment.leader === this.brokerId) {
      const change = state.becomeLeader(base, log.logEndOffset, this.clock.nowMs());
      if (change.kind === 'new-epoch') {
        log.assignEpochStartOffset(assignment.leaderEpoch, log.logEndOffset);
        this.unfollow(hosted);
        this.log.info({ topic, partition: assignment.partition, leaderEpoch: assignment.leaderEpoch, logEndOffset: log.logEndOffset, isr: assignment.isr }, 'became leader');
      }
    } else {
      const change = state.becomeFollower({ ...base, leaderId: assignment.leader });
      if (change.kind === 'new-epoch') {
        this.unfollow(hosted);
        if (assignment.leader !== NO_LEADER) this.follow(hosted, assignment.leader);
        this.log.info({ topic, partition: assignment.partition, leaderEpoch: assignment.leaderEpoch, leaderId: assignment.leader }, 'became follower');
      }
    }
    this.drain(hosted);
    this.waiters.wake(hosted.key);
  }

  private openPartition(topic: string, topicId: string, partition: number, config: Partial<LogConfig>): HostedPartition {
    const log = PartitionLog.open({ logDir: this.options.logDir, topic, partition, config, clock: this.clock, logger: this.log, ...(this.options.fileOps === undefined ? {} : { fileOps: this.options.fileOps }) });
    const logEndOffset = log.logEndOffset;
    const state = new PartitionState(
      {
        localBrokerId: this.brokerId,
        flushPolicy: this.flushPolicy,
        ...(this.options.replicaLagTimeMaxMs === undefined ? {} : { replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs }),
      },
      { logEndOffset, flushedOffset: Math.min(log.flushedOffset, logEndOffset), highWatermark: Math.min(log.readHighWatermark(), logEndOffset) },
    );
    const key = partitionKey(topic, partition);
    const hosted: HostedPartition = {
      topic,
      topicId,
      partition,
      key,
      log,
      state,
      minInsyncReplicas: 1,
      open: true,
      highWatermarkDirty: false,
      pendingProduces: new Map(),
      handle: {
        topic,
        partition,
        log,
        state,
        isOpen: () => hosted.open,
        changed: () => {
          this.drain(hosted);
          this.waiters.wake(key);
        },
      },
    };
    this.partitions.set(key, hosted);
    return hosted;
  }

  /** Stops serving a partition: pending produces fail, waiters wake, the fetcher lets go. */
  private detachPartition(hosted: HostedPartition, why: string): void {
    hosted.state.stop();
    this.drain(hosted);
    hosted.open = false;
    this.unfollow(hosted);
    this.partitions.delete(hosted.key);
    this.waiters.wake(hosted.key);
    this.log.info({ topic: hosted.topic, partition: hosted.partition, why }, 'stopped replica');
  }

  private async removePartition(hosted: HostedPartition, why: string): Promise<void> {
    this.detachPartition(hosted, why);
    try {
      await hosted.log.delete();
    } catch (err) {
      this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'deleting a partition log failed');
    }
  }

  private follow(hosted: HostedPartition, leaderId: number): void {
    const transport = this.options.fetchTransport;
    if (transport === undefined) {
      this.log.warn({ topic: hosted.topic, partition: hosted.partition, leaderId }, 'no fetch transport: cannot follow the leader');
      return;
    }
    let fetcher = this.fetchers.get(leaderId);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher({
        brokerId: this.brokerId,
        leaderId,
        transport,
        logger: this.log.child({ fetcherFor: leaderId }),
        flushPolicy: this.flushPolicy,
        maxWaitMs: this.options.replicaFetchWaitMaxMs ?? DEFAULTS.replicaFetchWaitMaxMs,
        maxBytes: this.options.replicaFetchMaxBytes ?? DEFAULTS.replicaFetchMaxBytes,
        partitionMaxBytes: this.options.replicaFetchMaxBytes ?? DEFAULTS.replicaFetchMaxBytes,
        requestTimeoutMs: this.options.replicaFetchTimeoutMs ?? DEFAULTS.replicaFetchTimeoutMs,
        retryBackoffMs: this.options.replicaFetchBackoffMs ?? DEFAULTS.replicaFetchBackoffMs,
        nowMs: () => this.clock.nowMs(),
      });
      this.fetchers.set(leaderId, fetcher);
    }
    fetcher.add(hosted.handle);
  }

  private unfollow(hosted: HostedPartition): void {
    for (const fetcher of this.fetchers.values()) fetcher.remove(hosted.topic, hosted.partition);
  }

  private async stopIdleFetchers(): Promise<void> {
    const idle = [...this.fetchers.values()].filter((fetcher) => fetcher.partitionCount === 0);
    for (const fetcher of idle) this.fetchers.delete(fetcher.leaderId);
    await Promise.all(idle.map((fetcher) => fetcher.stop()));
  }

  // ---- the state's outbox ------------------------------------------------------------------------

  private drain(hosted: HostedPartition): void {
    const ready = hosted.state.ready();
    if (ready.highWatermark !== undefined) {
      hosted.highWatermarkDirty = true;
      this.waiters.wake(hosted.key);
    }
    if (ready.isrChangeRequest !== undefined) this.sendIsrChange(hosted, ready.isrChangeRequest);
    for (const completion of ready.produceCompletions) {
      const resolve = hosted.pendingProduces.get(completion.requestId);
      hosted.pendingProduces.delete(completion.requestId);
      resolve?.(completion);
    }
  }

  private sendIsrChange(hosted: HostedPartition, change: IsrChangeRequest): void {
    const request = { brokerId: this.brokerId, topicId: hosted.topicId, topic: hosted.topic, partition: hosted.partition, change };
    this.log.info({ topic: hosted.topic, partition: hosted.partition, newIsr: change.newIsr, partitionEpoch: change.partitionEpoch }, 'proposing an ISR change');
    const settle = (answer: AlterPartitionAnswer): void => {
      if (!hosted.open) return;
      if (answer.ok) {
        hosted.state.onIsrChangeCommitted(answer.isr, answer.partitionEpoch);
      } else {
        this.log.info({ topic: hosted.topic, partition: hosted.partition, newIsr: change.newIsr, codeName: answer.codeName }, 'ISR change not taken by the controller');
        hosted.state.onIsrChangeRejected(answer.codeName, change.requestId);
      }
      this.drain(hosted);
    };
    this.options.alterPartition
      .alterPartition(request)
      .then(settle, (err: unknown) => {
        const codeName: ErrorCodeName = err instanceof RunnelError ? err.codeName : 'REQUEST_TIMED_OUT';
        settle({ ok: false, codeName });
      })
      .catch((err: unknown) => this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'applying an AlterPartition answer failed'));
  }

  /** Time passes for every partition: ISR shrink, ISR change retries, acks=all deadlines. */
  tick(): void {
    const now = this.clock.nowMs();
    for (const hosted of this.partitions.values()) {
      hosted.state.tick(now);
      this.drain(hosted);
    }
  }

  /**
   * Persists every high watermark that moved since the last call (Kafka checkpoints periodically too).
   * Under the 'lazy' policy this is also when logs get flushed: nothing else fsyncs them.
   */
  checkpointHighWatermarks(): void {
    for (const hosted of this.partitions.values()) this.checkpointHighWatermark(hosted);
  }

  /**
   * The periodic checkpoint pass. A checkpoint is synchronous file work with two fsyncs (file and
   * directory), which under disk load take milliseconds each; done for every partition in one go it
   * stalled produce and fetch for all of them at once (measured ~8-13 ms per 5 s pass at 3-4
   * partitions on a busy disk). So partitions go one at a time with a yield to the event loop between
   * them, like the retention pass; a pass still running when the next is due is not doubled.
   */
  private checkpointHighWatermarksGradually(): void {
    if (this.checkpointPass !== undefined) return;
    this.checkpointPass = (async () => {
      for (const hosted of [...this.partitions.values()]) {
        if (this.closed) return;
        if (!hosted.open) continue;
        await this.checkpointHighWatermarkInBackground(hosted);
      }
    })()
      .catch((err: unknown) => this.log.error({ err }, 'high watermark checkpoint pass failed'))
      .finally(() => {
        this.checkpointPass = undefined;
      });
  }

  /** The periodic pass's checkpoint: the same work with the fsyncs on the thread pool. */
  private async checkpointHighWatermarkInBackground(hosted: HostedPartition): Promise<void> {
    if (this.flushPolicy === 'lazy' && hosted.log.flushedOffset < hosted.log.logEndOffset) {
      hosted.log.flush().catch((err: unknown) => this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'background flush failed'));
    }
    if (!hosted.highWatermarkDirty) return;
    hosted.highWatermarkDirty = false;
    try {
      await hosted.log.checkpointHighWatermarkAsync(Math.min(hosted.state.highWatermark, hosted.log.logEndOffset));
    } catch (err) {
      // Marked dirty again so the next pass retries; a partition closed meanwhile is simply skipped.
      hosted.highWatermarkDirty = true;
      if (hosted.open) this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'high watermark checkpoint failed');
    }
  }

  private checkpointHighWatermark(hosted: HostedPartition): void {
    if (this.flushPolicy === 'lazy' && hosted.log.flushedOffset < hosted.log.logEndOffset) {
      hosted.log.flush().catch((err: unknown) => this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'background flush failed'));
    }
    if (!hosted.highWatermarkDirty) return;
    hosted.highWatermarkDirty = false;
    try {
      hosted.log.checkpointHighWatermark(Math.min(hosted.state.highWatermark, hosted.log.logEndOffset));
    } catch (err) {
      this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'high watermark checkpoint failed');
    }
  }

  /**
   * One retention pass (Kafka's log.retention.check.interval.ms): for every hosted replica, deletes
   * the segments its topic's retention.ms / retention.bytes expire, never at or above the high
   * watermark the replica knows (a follower's is the leader's as last fetched). Deletion is
   * synchronous file work, so partitions go one at a time with a yield to the event loop between
   * them, letting produce and fetch interleave. Never rejects: failures are logged per partition.
   * A call while a pass runs joins that pass.
   */
  enforceRetention(): Promise<RetentionPassResult> {
    this.retentionPass ??= this.retentionPassNow()
      .catch((err: unknown): RetentionPassResult => {
        this.log.error({ err }, 'retention pass failed');
        return { partitionsChecked: 0, deletedSegments: 0, deletedBytes: 0 };
      })
      .finally(() => {
        this.retentionPass = undefined;
      });
    return this.retentionPass;
  }

  /**
   * One compaction pass (Kafka's log cleaner): the hosted log of a compacted topic with the highest
   * dirty ratio above its min.cleanable.dirty.ratio is cleaned below its high watermark. The clean
   * yields to the event loop between slices, so produce and fetch keep flowing. Never rejects; a call
   * while a pass runs joins it. Resolves to undefined when no log needed cleaning.
   */
  runCleaner(): Promise<CleanerPassResult | undefined> {
    this.cleanerPass ??= this.cleanerPassNow()
      .catch((err: unknown): undefined => {
        // The log that failed is offline already (KAFKA_STORAGE_ERROR); the others carry on.
        this.log.error({ err }, 'log cleaner pass failed');
        return undefined;
      })
      .finally(() => {
        this.cleanerPass = undefined;
      });
    return this.cleanerPass;
  }

  private async cleanerPassNow(): Promise<CleanerPassResult | undefined> {
    let best: { hosted: HostedPartition; highWatermark: number; dirtyRatio: number } | undefined;
    for (const hosted of this.partitions.values()) {
      if (!hosted.open || !compactionEnabled(hosted.log.config)) continue;
      const highWatermark = Math.min(hosted.state.highWatermark, hosted.log.logEndOffset);
      const range = hosted.log.cleanableRange({ highWatermark });
      if (range.needsCleaning && (best === undefined || range.dirtyRatio > best.dirtyRatio)) best = { hosted, highWatermark, dirtyRatio: range.dirtyRatio };
    }
    if (best === undefined || this.closed) return undefined;
    const { hosted, highWatermark, dirtyRatio } = best;
    const result = await hosted.log.clean({ highWatermark, nowMs: this.clock.nowMs() });
    this.log.info({ topic: hosted.topic, partition: hosted.partition, dirtyRatio, ...result }, 'cleaned a compacted log');
    return { topic: hosted.topic, partition: hosted.partition, result };
  }

  private async retentionPassNow(): Promise<RetentionPassResult> {
    const total: RetentionPassResult = { partitionsChecked: 0, deletedSegments: 0, deletedBytes: 0 };
    for (const hosted of [...this.partitions.values()]) {
      // Re-checked after every yield: the partition may have been removed, or the broker closed.
      if (this.closed) break;
      if (!hosted.open) continue;
      try {
        const highWatermark = Math.min(hosted.state.highWatermark, hosted.log.logEndOffset);
        const result = hosted.log.deleteOldSegments(highWatermark);
        total.partitionsChecked++;
        if (result.deletedSegments > 0) {
          total.deletedSegments += result.deletedSegments;
          total.deletedBytes += result.deletedBytes;
          this.log.info(
            { topic: hosted.topic, partition: hosted.partition, deletedSegments: result.deletedSegments, deletedBytes: result.deletedBytes, logStartOffset: result.logStartOffset, highWatermark },
            'deleted log segments by retention',
          );
          // Parked fetches below the new log start must wake to learn they are out of range.
          this.waiters.wake(hosted.key);
        }
      } catch (err) {
        this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'retention check failed');
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return total;
  }

  private scheduleFlush(hosted: HostedPartition): void {
    if (this.flushPolicy !== 'durable') return;
    // Group commit: every append asks, concurrent asks share one fsync inside the log.
    hosted.log
      .flushUpTo(hosted.log.logEndOffset)
      .then(() => {
        if (!hosted.open) return;
        hosted.state.onLocalFlush(Math.min(hosted.log.flushedOffset, hosted.state.logEndOffset));
        this.drain(hosted);
      })
      // A failed fsync leaves flushedOffset behind, so acks=all waiters time out rather than lie.
      .catch((err: unknown) => this.log.error({ err, topic: hosted.topic, partition: hosted.partition }, 'flush failed'));
  }

  // ---- lookups -----------------------------------------------------------------------------------

  private lookup(topic: string, partition: number): PartitionLookup {
    const hosted = this.partitions.get(partitionKey(topic, partition));
    if (hosted !== undefined) return { ok: true, hosted };
    const known = this.imageValue?.topic(topic);
    if (known === undefined || known.partitions[partition] === undefined) {
      return { ok: false, error: new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `this broker does not know ${topic}-${partition}`) };
    }
    return { ok: false, error: new RunnelError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} does not host ${topic}-${partition}`) };
  }

  private leaderHint(topic: string, partition: number): { currentLeaderId: number; currentLeaderEpoch: number } {
    const hosted = this.partitions.get(partitionKey(topic, partition));
    if (hosted !== undefined) return { currentLeaderId: hosted.state.leaderId, currentLeaderEpoch: hosted.state.leaderEpoch };
    const state = this.imageValue?.topic(topic)?.partitions[partition];
    return { currentLeaderId: state?.leader ?? NO_LEADER, currentLeaderEpoch: state?.leaderEpoch ?? -1 };
  }

  /** A read-only view of every hosted replica (admin, tests). */
  describe(): HostedPartitionView[] {
    return [...this.partitions.values()].map((hosted) => ({
      topic: hosted.topic,
      partition: hosted.partition,
      role: hosted.state.role,
      leaderId: hosted.state.leaderId,
      leaderEpoch: hosted.state.leaderEpoch,
      isr: [...hosted.state.isr],
      highWatermark: hosted.state.highWatermark,
      logStartOffset: hosted.log.logStartOffset,
      logEndOffset: hosted.log.logEndOffset,
      flushedOffset: hosted.log.flushedOffset,
    }));
  }

  /** Direct access for tests and tools that must build a scenario (e.g. a divergent log). */
  partitionLog(topic: string, partition: number): PartitionLog | undefined {
    return this.partitions.get(partitionKey(topic, partition))?.log;
  }

  // ---- produce -----------------------------------------------------------------------------------

  async produce(request: ProduceRequest): Promise<ProduceResponse> {
    const acks = request.acks;
    const acksError = acks === 0 || acks === 1 || acks === -1 ? undefined : new RunnelError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1 (all), got ${String(acks)}`);
    const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : (this.options.produceTimeoutMsDefault ?? DEFAULTS.produceTimeoutMsDefault);
    const seen = new Set<string>();
    const topics = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((data): Promise<ProducePartitionResponse> => {
        const key = partitionKey(topic.name, data.partition);
        // Two entries for one partition in one request would make the outcome depend on their order.
        const duplicate = seen.has(key);
        seen.add(key);
        if (acksError !== undefined) return Promise.resolve(this.produceError(topic.name, data.partition, acksError));
        if (duplicate) {
          return Promise.resolve(this.produceError(topic.name, data.partition, new RunnelError('INVALID_REQUEST', `partition ${topic.name}-${data.partition} appears twice in one produce request`)));
        }
        try {
          return this.producePartition(topic.name, data.partition, data.records, acks, timeoutMs);
        } catch (err) {
          return Promise.resolve(this.produceError(topic.name, data.partition, this.unexpected(err, 'produce')));
        }
      }),
    }));
    const answered = await Promise.all(topics.map(async (topic) => ({ name: topic.name, partitions: await Promise.all(topic.partitions) })));
    return { topics: answered };
  }

  private producePartition(topic: string, partition: number, records: Buffer, acks: number, timeoutMs: number): Promise<ProducePartitionResponse> {
    const found = this.lookup(topic, partition);
    if (!found.ok) return Promise.resolve(this.produceError(topic, partition, found.error));
    const { hosted } = found;
    const { state, log } = hosted;
    if (state.role !== 'leader') {
      return Promise.resolve(this.produceError(topic, partition, new RunnelError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} is not the leader of ${topic}-${partition}`)));
    }
    const invalid = validateBatches(records, log.config.maxMessageBytes);
    if (invalid !== undefined) return Promise.resolve(this.produceError(topic, partition, invalid));
    if (acks === -1) {
      const refused = state.canAcceptAcksAll(hosted.minInsyncReplicas);
      if (refused !== undefined) return Promise.resolve(this.produceError(topic, partition, refused));
    }
    const result = log.append(records, { leaderEpoch: state.leaderEpoch });
    if (!result.ok) return Promise.resolve(this.produceError(topic, partition, result.error));
    state.onLocalAppend(log.logEndOffset);
    this.scheduleFlush(hosted);
    const success: ProducePartitionResponse = {
      partition,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      baseOffset: result.baseOffset,
      logAppendTimeMs: result.logAppendTimeMs ?? -1,
      logStartOffset: log.logStartOffset,
      currentLeaderId: this.brokerId,
      currentLeaderEpoch: state.leaderEpoch,
    };
    let answer: Promise<ProducePartitionResponse> = Promise.resolve(success);
    if (acks === -1) {
      const requestId = this.nextProduceRequestId++;
      const immediate = state.registerProduce(requestId, result.lastOffset, hosted.minInsyncReplicas, this.clock.nowMs() + timeoutMs);
      const toResponse = (completion: ProduceCompletion): ProducePartitionResponse =>
        completion.error === undefined ? success : { ...this.produceError(topic, partition, completion.error), baseOffset: result.baseOffset };
      answer = immediate !== undefined ? Promise.resolve(toResponse(immediate)) : new Promise((resolve) => hosted.pendingProduces.set(requestId, (c) => resolve(toResponse(c))));
    }
    this.drain(hosted);
    this.waiters.wake(hosted.key);
    return answer;
  }

  private produceError(topic: string, partition: number, error: RunnelError): ProducePartitionResponse {
    return {
      partition,
      errorCode: error.code,
      errorMessage: error.message,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: this.partitions.get(partitionKey(topic, partition))?.log.logStartOffset ?? -1,
      ...this.leaderHint(topic, partition),
    };
  }

  // ---- fetch -------------------------------------------------------------------------------------

  /**
   * Consumer (replicaId -1) or follower (replicaId = its broker id) fetch. Answers at once when
   * min_bytes are available or any partition has an error; otherwise parks until an append or a
   * high-watermark move wakes it, max_wait_ms passes, or `signal` aborts.
   *
   * A follower's fetch is not answered for a high-watermark move alone (Kafka's DelayedFetch does
   * the same): under acks=all every batch moves the watermark once per follower report, and
   * answering each move cost every follower an extra round trip per batch, CPU that the produce
   * path's latency paid for on a busy machine (docs/performance.md). Followers learn the watermark
   * with their next data or at max_wait_ms; nothing on a follower waits for it.
   */
  async fetch(request: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    const problem = fetchRequestProblem(request);
    if (problem !== undefined) return { errorCode: ErrorCode.INVALID_REQUEST, topics: [] };
    const maxWaitMs = Math.min(request.maxWaitMs, this.options.fetchMaxWaitMsMax ?? DEFAULTS.fetchMaxWaitMsMax);
    const deadlineMs = Date.now() + maxWaitMs;
    const keys = request.topics.flatMap((topic) => topic.partitions.map((p) => partitionKey(topic.name, p.partition)));
    for (let round = 0; ; round++) {
      const { response, bytes, anyError } = this.readFetch(request);
      const remainingMs = deadlineMs - Date.now();
      if (bytes >= request.minBytes || anyError || remainingMs <= 0 || round >= FETCH_ROUNDS_MAX || this.closed || signal?.aborted === true) return response;
      const reason = await this.waiters.wait(keys, remainingMs, signal);
      if (reason === 'aborted') return response;
      if (reason === 'timeout') return this.readFetch(request).response;
    }
  }

  private readFetch(request: FetchRequest): { response: FetchResponse; bytes: number; anyError: boolean } {
    let budget = request.maxBytes > 0 ? request.maxBytes : DEFAULTS.fetchMaxBytes;
    let bytes = 0;
    let anyError = false;
    const topics: FetchTopicResponse[] = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((part) => {
        let answer: FetchPartitionResponse;
        try {
          answer = this.readFetchPartition(request.replicaId, topic.name, part, budget, bytes === 0);
        } catch (err) {
          answer = this.fetchError(topic.name, part.partition, this.unexpected(err, 'fetch'));
        }
        if (answer.errorCode !== ErrorCode.NONE || (answer.divergingEpoch ?? undefined) !== undefined) anyError = true;
        bytes += answer.records.length;
        budget = Math.max(0, budget - answer.records.length);
        return answer;
      }),
    }));
    return { response: { errorCode: ErrorCode.NONE, topics }, bytes, anyError };
  }

  private readFetchPartition(replicaId: number, topic: string, part: FetchPartition, budget: number, first: boolean): FetchPartitionResponse {
    const found = this.lookup(topic, part.partition);
    if (!found.ok) return this.fetchError(topic, part.partition, found.error);
    const { hosted } = found;
    const { state, log } = hosted;
    const isReplica = replicaId >= 0;
    const epochError = isReplica || part.currentLeaderEpoch >= 0 ? state.checkLeaderRequest(part.currentLeaderEpoch) : state.role === 'leader' ? undefined : state.checkLeaderRequest(state.leaderEpoch);
    if (epochError !== undefined) return this.fetchError(topic, part.partition, epochError);
    const outOfRange = (): FetchPartitionResponse | undefined =>
      !Number.isSafeInteger(part.fetchOffset) || part.fetchOffset < log.logStartOffset || part.fetchOffset > log.logEndOffset
        ? this.fetchError(
            topic,
            part.partition,
            new RunnelError('OFFSET_OUT_OF_RANGE', `fetch offset ${part.fetchOffset} is outside [${log.logStartOffset}, ${log.logEndOffset}] of ${topic}-${part.partition}`),
          )
        : undefined;
    const maxBytes = Math.min(budget, part.partitionMaxBytes > 0 ? part.partitionMaxBytes : DEFAULTS.partitionMaxBytes);
    let limit = state.highWatermark;
    if (isReplica) {
      if (!state.snapshot().replicas.includes(replicaId)) {
        return this.fetchError(topic, part.partition, new RunnelError('NOT_LEADER_OR_FOLLOWER', `broker ${replicaId} is not a replica of ${topic}-${part.partition}`));
      }
      // Before the range check: a follower ahead of the leader's log end is the divergence case.
      const diverging = divergence(log, part);
      if (diverging !== undefined) {
        return { ...this.fetchOk(hosted), divergingEpoch: diverging };
      }
      const rangeError = outOfRange();
      if (rangeError !== undefined) return rangeError;
      const admission = state.onFollowerFetch(replicaId, part.fetchOffset, part.flushedOffset, part.currentLeaderEpoch, this.clock.nowMs());
      this.drain(hosted);
      if (!admission.ok) return this.fetchError(topic, part.partition, admission.error);
      limit = log.logEndOffset;
    } else {
      const rangeError = outOfRange();
      if (rangeError !== undefined) return rangeError;
    }
    const read = log.read(part.fetchOffset, maxBytes, limit, { minOneBatch: first });
    if (!read.ok) return this.fetchError(topic, part.partition, read.error);
    return { ...this.fetchOk(hosted), records: read.records };
  }

  private fetchOk(hosted: HostedPartition): FetchPartitionResponse {
    return {
      partition: hosted.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      highWatermark: hosted.state.highWatermark,
      lastStableOffset: hosted.state.highWatermark,
      logStartOffset: hosted.log.logStartOffset,
      divergingEpoch: null,
      currentLeaderId: hosted.state.leaderId,
      currentLeaderEpoch: hosted.state.leaderEpoch,
      records: Buffer.alloc(0),
    };
  }

  private fetchError(topic: string, partition: number, error: RunnelError): FetchPartitionResponse {
    const hosted = this.partitions.get(partitionKey(topic, partition));
    return {
      partition,
      errorCode: error.code,
      errorMessage: error.message,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: hosted?.log.logStartOffset ?? -1,
      divergingEpoch: null,
      ...this.leaderHint(topic, partition),
      records: Buffer.alloc(0),
    };
  }

  // ---- offsets -----------------------------------------------------------------------------------

  listOffsets(request: ListOffsetsRequest): ListOffsetsResponse {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((part): ListOffsetsPartitionResponse => {
          const fail = (error: RunnelError): ListOffsetsPartitionResponse => ({
            partition: part.partition,
            errorCode: error.code,
            errorMessage: error.message,
            timestamp: -1,
            offset: -1,
            leaderEpoch: -1,
          });
          try {
            const found = this.lookup(topic.name, part.partition);
            if (!found.ok) return fail(found.error);
            const { state, log } = found.hosted;
            const epochError = state.checkLeaderRequest(part.currentLeaderEpoch >= 0 ? part.currentLeaderEpoch : state.leaderEpoch);
            if (epochError !== undefined) return fail(epochError);
            const ok = (offset: number, timestamp: number): ListOffsetsPartitionResponse => ({
              partition: part.partition,
              errorCode: ErrorCode.NONE,
              errorMessage: '',
              timestamp,
              offset,
              leaderEpoch: state.leaderEpoch,
            });
            // Consumers see up to the high watermark; only a replica may learn the log end.
            const visibleEnd = request.replicaId >= 0 ? log.logEndOffset : state.highWatermark;
            if (part.timestamp === EARLIEST_TIMESTAMP) return ok(log.logStartOffset, -1);
            if (part.timestamp === LATEST_TIMESTAMP) return ok(visibleEnd, -1);
            if (!Number.isSafeInteger(part.timestamp) || part.timestamp < 0) {
              return fail(new RunnelError('INVALID_REQUEST', `timestamp ${part.timestamp} is neither -2 (earliest), -1 (latest) nor a time in ms`));
            }
            const found2 = log.offsetForTimestamp(part.timestamp, visibleEnd);
            return found2 === undefined ? ok(-1, -1) : ok(found2.offset, found2.timestampMs);
          } catch (err) {
            return fail(this.unexpected(err, 'list offsets'));
          }
        }),
      })),
    };
  }

  offsetsForLeaderEpoch(request: OffsetsForLeaderEpochRequest): OffsetsForLeaderEpochResponse {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((part) => {
          const fail = (error: RunnelError) => ({ partition: part.partition, errorCode: error.code, leaderEpoch: -1, endOffset: -1 });
          try {
            const found = this.lookup(topic.name, part.partition);
            if (!found.ok) return fail(found.error);
            const { state, log } = found.hosted;
            const epochError = state.checkLeaderRequest(part.currentLeaderEpoch >= 0 ? part.currentLeaderEpoch : state.leaderEpoch);
            if (epochError !== undefined) return fail(epochError);
            const answer = log.endOffsetForEpoch(part.leaderEpoch);
            return { partition: part.partition, errorCode: ErrorCode.NONE, leaderEpoch: answer.epoch, endOffset: answer.endOffset };
          } catch (err) {
            return fail(this.unexpected(err, 'offsets for leader epoch'));
          }
        }),
      })),
    };
  }

  private unexpected(err: unknown, operation: string): RunnelError {
    if (err instanceof RunnelError) return err;
    this.log.error({ err, operation }, 'unexpected error serving a request');
    return new RunnelError('UNKNOWN_SERVER_ERROR', `${operation} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Stops fetchers and timers, fails waiting produces, checkpoints high watermarks and closes every log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.metadataChain;
    // A running pass stops at its next partition once closed is set; the logs must outlive it.
    await this.retentionPass;
    await this.cleanerPass;
    await this.checkpointPass;
    const fetchers = [...this.fetchers.values()];
    this.fetchers.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.stop()));
    this.checkpointHighWatermarksOnClose();
    const hosted = [...this.partitions.values()];
    for (const partition of hosted) this.detachPartition(partition, 'broker shutting down');
    this.waiters.wakeAll();
    await Promise.all(hosted.map((partition) => partition.log.close()));
  }

  private checkpointHighWatermarksOnClose(): void {
    for (const hosted of this.partitions.values()) hosted.highWatermarkDirty = true;
    this.checkpointHighWatermarks();
  }
}

/** Every batch of a produce request's partition data, checked before any is appended. */
function validateBatches(records: Buffer, maxMessageBytes: number): RunnelError | undefined {
  if (records.length === 0) return new RunnelError('INVALID_RECORD', 'produce request carries no record batch');
  let position = 0;
  for (let count = 0; position < records.length; count++) {
    const checked = validateBatch(records, position, { maxBatchBytes: maxMessageBytes });
    if (!checked.ok) return new RunnelError(checked.codeName, `batch ${count} at byte ${position}: ${checked.message}`);
    position += checked.header.sizeBytes;
  }
  return undefined;
}

/**
 * KIP-320 on the leader: the follower's last fetched epoch must end, in the leader's log, at or after
 * its fetch offset; otherwise the follower holds records the leader does not and must truncate first.
 */
function divergence(log: PartitionLog, part: FetchPartition): EpochEndOffsetMessage | undefined {
  if (part.lastFetchedEpoch < 0 || part.fetchOffset === 0) return undefined;
  const answer = log.endOffsetForEpoch(part.lastFetchedEpoch);
  if (answer.endOffset === UNDEFINED_EPOCH_OFFSET) {
    // The leader knows no epoch at or below the follower's: only its log end bounds what they share.
    return part.fetchOffset > log.logEndOffset ? { epoch: -1, endOffset: log.logEndOffset } : undefined;
  }
  if (answer.epoch < part.lastFetchedEpoch || answer.endOffset < part.fetchOffset) return { epoch: answer.epoch, endOffset: answer.endOffset };
  return undefined;
}

function fetchRequestProblem(request: FetchRequest): string | undefined {
  if (!Number.isSafeInteger(request.replicaId)) return 'replicaId must be an integer';
  if (!Number.isSafeInteger(request.maxWaitMs) || request.maxWaitMs < 0) return 'maxWaitMs must be a non-negative integer';
  if (!Number.isSafeInteger(request.minBytes) || request.minBytes < 0) return 'minBytes must be a non-negative integer';
  if (!Array.isArray(request.topics)) return 'topics must be a list';
  return undefined;
}

function configNumber(image: MetadataImage, topic: string, name: string): number | undefined {
  const raw = image.effectiveTopicConfig(topic, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The topic's log configs from the image (topic > cluster > broker defaults), Kafka names mapped to LogConfig. */
export function topicLogConfig(image: MetadataImage, topic: string, defaults: Partial<LogConfig> = {}): Partial<LogConfig> {
  const config: Partial<LogConfig> = { ...defaults };
  const numeric: [string, keyof LogConfig][] = [
    ['segment.bytes', 'segmentBytes'],
    ['segment.ms', 'segmentMs'],
    ['retention.ms', 'retentionMs'],
    ['retention.bytes', 'retentionBytes'],
    ['max.message.bytes', 'maxMessageBytes'],
    ['delete.retention.ms', 'deleteRetentionMs'],
    ['min.compaction.lag.ms', 'minCompactionLagMs'],
  ];
  for (const [name, field] of numeric) {
    const value = configNumber(image, topic, name);
    if (value !== undefined) (config as Record<string, unknown>)[field] = value;
  }
  const timestampType = image.effectiveTopicConfig(topic, 'message.timestamp.type');
  if (timestampType === 'CreateTime' || timestampType === 'LogAppendTime') config.messageTimestampType = timestampType;
  // A list in either order ("delete,compact" is Kafka's too); validation.ts refused anything else.
  const policy = image.effectiveTopicConfig(topic, 'cleanup.policy');
  if (policy !== undefined) {
    const parts = policy.split(',').map((part) => part.trim());
    if (parts.length > 0 && parts.every((part) => part === 'compact' || part === 'delete')) {
      config.cleanupPolicy = parts.includes('compact') ? (parts.includes('delete') ? 'compact,delete' : 'compact') : 'delete';
    }
  }
  // A double, so not one of the integer configs above.
  const dirtyRatio = Number(image.effectiveTopicConfig(topic, 'min.cleanable.dirty.ratio') ?? Number.NaN);
  if (dirtyRatio >= 0 && dirtyRatio <= 1) config.minCleanableDirtyRatio = dirtyRatio;
  return config;
}

export function topicMinInsync(image: MetadataImage, topic: string, fallback: number): number {
  const value = configNumber(image, topic, 'min.insync.replicas');
  return value !== undefined && value >= 1 ? value : fallback;
}

