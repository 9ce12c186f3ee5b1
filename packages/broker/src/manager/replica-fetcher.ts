// One follower's fetch loop towards one leader broker (Kafka's ReplicaFetcherThread): a single
// replica Fetch carries every partition this broker follows on that leader. Each response is
// applied per partition: truncate to the divergence point the leader names (KIP-320, driven by the
// leader-epoch helpers), append with appendAsFollower, group-commit the flush, then learn the
// leader's high watermark. The next fetch carries the new log end (what the leader counts as
// replicated) and the flushed offset (what the 'durable' high watermark counts), so the loop never
// reports data as on disk before the fsync finished.

import { ErrorCode, RunnelError, errorInfo } from '@runnel/protocol';
import type { Logger } from 'pino';
import type { PartitionLog } from '../log/partition-log.js';
import { truncationStep } from '../replica/core/leader-epoch.js';
import type { PartitionState } from '../replica/core/partition-state.js';
import type { FlushPolicy } from '../replica/core/types.js';
import type { FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopic } from './messages.js';

/** How a follower reaches a leader: in-process in tests, gRPC in the daemon. */
export interface FetchTransport {
  fetch(leaderId: number, request: FetchRequest, options: { timeoutMs: number; signal: AbortSignal }): Promise<FetchResponse>;
}

/** What the fetcher needs of one followed partition; the ReplicaManager implements it. */
export interface FollowerPartitionHandle {
  readonly topic: string;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly state: PartitionState;
  /** False once the partition was stopped, deleted or closed: nothing may touch its log any more. */
  isOpen(): boolean;
  /** Called after the fetcher changed the log or the state: the owner drains the state's outbox. */
  changed(): void;
}

export interface ReplicaFetcherOptions {
  brokerId: number;
  /** The broker epoch the controller granted this broker (sent as replicaEpoch). */
  brokerEpoch?: number;
  leaderId: number;
  transport: FetchTransport;
  logger: Logger;
  flushPolicy: FlushPolicy;
  /** Long-poll wait the leader may hold a fetch for (replica.fetch.wait.max.ms). */
  maxWaitMs: number;
  maxBytes: number;
  partitionMaxBytes: number;
  /** Per request: the long poll plus this much slack before the follower gives up on the leader. */
  requestTimeoutMs: number;
  /** replica.fetch.backoff.ms: pause after an error, for the whole loop or one partition. */
  retryBackoffMs: number;
  nowMs(): number;
}

interface Entry {
  handle: FollowerPartitionHandle;
  backoffUntilMs: number;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class ReplicaFetcher {
  readonly leaderId: number;
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private stopped = false;
  private running: Promise<void> | undefined;
  private kickSleep: (() => void) | undefined;
  private consecutiveErrors = 0;
  /** Fetch round trips completed (tests and metrics). */
  rounds = 0;

  constructor(private readonly options: ReplicaFetcherOptions) {
    this.leaderId = options.leaderId;
  }

  get partitionCount(): number {
    return this.entries.size;
  }

  has(topic: string, partition: number): boolean {
    return this.entries.has(key(topic, partition));
  }

  add(handle: FollowerPartitionHandle): void {
    this.entries.set(key(handle.topic, handle.partition), { handle, backoffUntilMs: 0 });
    this.kick();
    this.running ??= this.run();
  }

  remove(topic: string, partition: number): void {
    this.entries.delete(key(topic, partition));
  }

  /** Stops the loop and waits for the round in flight to finish (its response is dropped). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.kick();
    await this.running;
  }

  private kick(): void {
    const wake = this.kickSleep;
    this.kickSleep = undefined;
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(1, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.kickSleep = done;
    });
  }

  private async run(): Promise<void> {
    const log = this.options.logger;
    while (!this.stopped) {
      const now = this.options.nowMs();
      const ready = [...this.entries.values()].filter((entry) => entry.handle.isOpen() && entry.backoffUntilMs <= now);
      if (ready.length === 0) {
        if (this.entries.size === 0) {
          this.running = undefined;
          return;
        }
        const wakeAt = Math.min(...[...this.entries.values()].map((entry) => entry.backoffUntilMs));
        await this.sleep(Math.min(this.options.retryBackoffMs, Math.max(1, wakeAt - now)));
        continue;
      }
      const sent = ready.map((entry) => ({ entry, leaderEpoch: entry.handle.state.leaderEpoch }));
      let response: FetchResponse;
      try {
        response = await this.options.transport.fetch(this.leaderId, this.buildRequest(sent.map((s) => s.entry)), {
          timeoutMs: this.options.maxWaitMs + this.options.requestTimeoutMs,
          signal: this.abort.signal,
        });
      } catch (err) {
        if (this.stopped) break;
        this.consecutiveErrors++;
        // One line per streak, not per retry: a dead leader would otherwise flood the log.
        if (this.consecutiveErrors === 1) log.warn({ err, leaderId: this.leaderId }, 'replica fetch failed; backing off');
        await this.sleep(this.options.retryBackoffMs);
        continue;
      }
      this.consecutiveErrors = 0;
      this.rounds++;
      if (this.stopped) break;
      if (response.errorCode !== ErrorCode.NONE) {
        log.warn({ leaderId: this.leaderId, error: errorInfo(response.errorCode).name }, 'replica fetch refused');
        await this.sleep(this.options.retryBackoffMs);
        continue;
      }
      const byKey = new Map<string, FetchPartitionResponse>();
      for (const topic of response.topics) for (const part of topic.partitions) byKey.set(key(topic.name, part.partition), part);
      await Promise.all(
        sent.map(async ({ entry, leaderEpoch }) => {
          const part = byKey.get(key(entry.handle.topic, entry.handle.partition));
          if (part === undefined) return;
          try {
            await this.applyPartition(entry, leaderEpoch, part);
          } catch (err) {
            log.error({ err, topic: entry.handle.topic, partition: entry.handle.partition }, 'applying a replica fetch response failed');
            entry.backoffUntilMs = this.options.nowMs() + this.options.retryBackoffMs;
          }
        }),
      );
    }
    this.running = undefined;
  }

  private buildRequest(entries: readonly Entry[]): FetchRequest {
    const topics = new Map<string, FetchTopic>();
    for (const { handle } of entries) {
      let topic = topics.get(handle.topic);
      if (topic === undefined) {
        topic = { name: handle.topic, partitions: [] };
        topics.set(handle.topic, topic);
      }
      const logEnd = handle.log.logEndOffset;
      topic.partitions.push({
        partition: handle.partition,
        currentLeaderEpoch: handle.state.leaderEpoch,
        fetchOffset: logEnd,
        lastFetchedEpoch: handle.log.latestEpoch(),
        logStartOffset: handle.log.logStartOffset,
        partitionMaxBytes: this.options.partitionMaxBytes,
        flushedOffset: Math.min(handle.log.flushedOffset, logEnd),
      });
    }
    return {
      replicaId: this.options.brokerId,
      replicaEpoch: this.options.brokerEpoch ?? 0,
      maxWaitMs: this.options.maxWaitMs,
      minBytes: 1,
      maxBytes: this.options.maxBytes,
      isolationLevel: 0,
      topics: [...topics.values()],
    };
  }

  private async applyPartition(entry: Entry, sentLeaderEpoch: number, part: FetchPartitionResponse): Promise<void> {
    const { handle } = entry;
    const { state, log } = handle;
    // The partition may have changed hands while the fetch was out: a response from an older epoch
    // must not write into a log that now follows someone else.
    const current = (): boolean =>
      !this.stopped && handle.isOpen() && state.role === 'follower' && state.leaderId === this.leaderId && state.leaderEpoch === sentLeaderEpoch;
    if (!current()) return;
    if (part.errorCode !== ErrorCode.NONE) {
      this.onPartitionError(entry, part);
      return;
    }
    const diverging = part.divergingEpoch;
    if (diverging !== undefined && diverging !== null && (diverging.epoch >= 0 || diverging.endOffset >= 0)) {
      const view = { epochs: log.leaderEpochEntries(), logEndOffset: log.logEndOffset };
      const step = truncationStep(view, { epoch: diverging.epoch, endOffset: diverging.endOffset }, state.highWatermark);
      const before = log.logEndOffset;
      log.truncateTo(step.truncateTo);
      state.onLocalTruncate(log.logEndOffset);
      this.options.logger.info(
        { topic: handle.topic, partition: handle.partition, from: before, to: log.logEndOffset, leaderEpochAnswer: diverging },
        'truncated a divergent suffix',
      );
      handle.changed();
      return;
    }
    if (part.records.length > 0) {
      const result = log.appendAsFollower(part.records);
      if (!result.ok) {
        this.options.logger.warn({ topic: handle.topic, partition: handle.partition, err: result.error }, 'follower append refused');
        entry.backoffUntilMs = this.options.nowMs() + this.options.retryBackoffMs;
        return;
      }
      state.onLocalAppend(log.logEndOffset);
      if (this.options.flushPolicy === 'durable') {
        await log.flushUpTo(log.logEndOffset);
        if (!current()) return;
        state.onLocalFlush(Math.min(log.flushedOffset, state.logEndOffset));
      }
    }
    if (part.highWatermark >= 0) state.onLeaderHighWatermark(part.highWatermark);
    handle.changed();
  }

  private onPartitionError(entry: Entry, part: FetchPartitionResponse): void {
    const { handle } = entry;
    const info = errorInfo(part.errorCode);
    if (info.name === 'OFFSET_OUT_OF_RANGE' && handle.log.logEndOffset < part.logStartOffset) {
      // Behind the leader's retention: nothing below its log start exists any more anywhere.
      handle.log.truncateFullyAndStartAt(part.logStartOffset);
      handle.state.onLocalAppend(handle.log.logEndOffset);
      handle.state.onLocalFlush(handle.log.flushedOffset);
      handle.changed();
      return;
    }
    this.options.logger.debug({ topic: handle.topic, partition: handle.partition, error: info.name, message: part.errorMessage }, 'replica fetch partition error');
    entry.backoffUntilMs = this.options.nowMs() + this.options.retryBackoffMs;
  }
}

/** Thrown by transports that cannot reach a leader at all. */
export function leaderUnreachable(leaderId: number, cause?: unknown): RunnelError {
  return new RunnelError('LEADER_NOT_AVAILABLE', `cannot reach leader broker ${leaderId}`, { cause });
}
