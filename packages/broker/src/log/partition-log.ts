import * as fs from 'node:fs';
import * as path from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { RunnelError } from '@runnel/protocol';
import { assert, unreachable } from '@runnel/protocol/invariants';
import { frameBatches } from './append-framing.js';
import { crcMatches, setLogAppendTime, stampFrame } from './batch-frame.js';
import type { BatchFrame } from './batch-frame.js';
import { CheckpointFile } from './checkpoint-file.js';
import { compactionEnabled, deletionEnabled, resolveLogConfig } from './config.js';
import type { LogConfig } from './config.js';
import { fsyncDir, fsyncDirSync, nodeFileOps } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import { GroupCommit } from './group-commit.js';
import { LeaderEpochFileCache } from './leader-epoch-cache.js';
import type { EpochEndOffset, EpochEntry } from './leader-epoch-cache.js';
import { CLEANER_OFFSET_CHECKPOINT, SWAP_FILE_SUFFIX as SWAP_SUFFIX, cleanLog, cleanableRange, nullKeyProblem } from './log-cleaner.js';
import type { CleanOptions, CleanResult, CleanableRange, CleanerHost, SwapStep } from './log-cleaner.js';
import { loadSegments } from './log-loader.js';
import { retentionDeletions } from './log-retention.js';
import { LogSegment, RELATIVE_OFFSET_MAX } from './log-segment.js';
import type { AppendedBatch } from './log-segment.js';
import { INT32_MAX, PRODUCER_ID_EXPIRATION_MS_DEFAULT, appendFailed, appendOk, partitionDirName, systemClock } from './log-types.js';
import { deleteProducerSnapshot, readProducerSnapshot, writeProducerSnapshot } from './producer-snapshot.js';
import type { ProducerSnapshot } from './producer-snapshot.js';
import { ProducerStateManager } from './producer-state.js';
import type { BatchPlacement, ProducerAppend, ProducerEntry } from './producer-state.js';
import type { AppendResult, Clock, LogReadResult, PartitionLogOptions, ReadOptions, RetentionResult, SegmentInfo } from './log-types.js';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const HIGH_WATERMARK_CHECKPOINT = 'high-watermark-checkpoint';

/**
 * Kafka's UnifiedLog for one partition: a list of segments, the last one active. Appends are
 * synchronous writes (the write is one syscall, durability is the separate, group-committed
 * flush); batches are treated as opaque bytes apart from their header (framing, and the producer
 * fields the idempotence checks read). Everything else a partition needs to survive a crash lives
 * beside the segments: the recovery point, the high watermark and the leader epoch checkpoint. The
 * idempotent-producer state lives in memory only and is rebuilt from batch headers on open.
 */
export class PartitionLog {
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  readonly leaderEpochCache: LeaderEpochFileCache;
  private config_: LogConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly ops: FileOps;
  private readonly recoveryCheckpoint: CheckpointFile;
  private readonly hwCheckpoint: CheckpointFile;
  private readonly groupCommit: GroupCommit;
  private producerState = new ProducerStateManager();
  private readonly producerIdExpirationMs: number;
  private segments: LogSegment[];
  private logEndOffset_: number;
  private flushedOffset_: number;
  private highWatermark_: number;
  /** When the first batch went into the active segment: what segment.ms measures from. */
  private activeFirstAppendMs: number | undefined;
  private readonly dirtySegments = new Set<LogSegment>();
  private dirDirty = false;
  /** Segments removed while a sync may be using their descriptors; closed when it finishes. */
  private retired: LogSegment[] = [];
  /** Lowest log end offset seen during the sync in flight: a truncation caps what it made durable. */
  private lowestEndOffsetDuringSync = Number.POSITIVE_INFINITY;
  /** The fsync running now and the log end offset it will make durable. */
  private syncInFlight: { targetOffset: number; settled: Promise<void> } | undefined;
  private failure: RunnelError | undefined;
  private closed = false;
  private readonly cleanerCheckpoint: CheckpointFile;
  /** Below it a compaction pass left at most one record per key (see log-cleaner.ts). */
  private firstDirtyOffset_: number;
  /** Bumped by every truncation: a compaction pass that read across one must not swap anything. */
  private truncations = 0;
  private cleaning: Promise<CleanResult> | undefined;
  /** close() or delete() started: a running compaction pass stops at its next yield. */
  private closing = false;

  private constructor(options: PartitionLogOptions, config: LogConfig) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.dir = path.join(options.logDir, partitionDirName(options.topic, options.partition));
    this.config_ = config;
    this.clock = options.clock ?? systemClock;
    this.ops = options.fileOps ?? nodeFileOps;
    this.producerIdExpirationMs = options.producerIdExpirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT;
    this.log = (options.logger ?? pino({ enabled: false })).child({ topic: this.topic, partition: this.partition });
    fs.mkdirSync(this.dir, { recursive: true });
    this.recoveryCheckpoint = new CheckpointFile(this.dir, RECOVERY_POINT_CHECKPOINT, 1, this.ops);
    this.hwCheckpoint = new CheckpointFile(this.dir, HIGH_WATERMARK_CHECKPOINT, 1, this.ops);
    this.cleanerCheckpoint = new CheckpointFile(this.dir, CLEANER_OFFSET_CHECKPOINT, 1, this.ops);
    this.groupCommit = new GroupCommit(() => this.syncOnce());

    const checkpointedRecoveryPoint = this.readCheckpointOffset(this.recoveryCheckpoint) ?? 0;
    const loaded = loadSegments(this.dir, checkpointedRecoveryPoint, config.indexIntervalBytes, this.ops, this.log);
    this.segments = loaded.segments;
    if (this.segments.length === 0) {
      this.segments.push(LogSegment.create(this.dir, 0, config.indexIntervalBytes, this.ops));
    }
    const active = this.activeSegment;
    this.logEndOffset_ = active.nextOffset;
    this.activeFirstAppendMs = this.initialFirstAppendMs(active);
    // Whatever recovery kept is made durable now, so the recovery point can cover all of it and the
    // next start does not rescan these bytes.
    for (const segment of this.segments.slice(Math.max(0, this.segmentIndexFor(checkpointedRecoveryPoint)))) segment.flushSync();
    fsyncDirSync(this.ops, this.dir);
    this.flushedOffset_ = this.logEndOffset_;
    this.writeRecoveryPoint();

    this.leaderEpochCache = LeaderEpochFileCache.open(this.dir, this.ops, this.log);
    if (this.leaderEpochCache.loadProblem !== undefined) {
      const entries = this.epochStartsFromBatches();
      this.log.warn({ problem: this.leaderEpochCache.loadProblem, entries }, 'leader epoch checkpoint unreadable; rebuilt it from the log');
      this.leaderEpochCache.replaceAll(entries);
    }
    this.leaderEpochCache.truncateFromEnd(this.logEndOffset_);
    this.leaderEpochCache.truncateFromStart(this.logStartOffset);
    this.loadProducerState(loaded.truncatedBytes);
    // A missing cleaner checkpoint only makes the whole log look dirty to the next pass.
    this.firstDirtyOffset_ = this.readCheckpointOffset(this.cleanerCheckpoint) ?? this.logStartOffset;
    const storedHw = this.readCheckpointOffset(this.hwCheckpoint) ?? this.logStartOffset;
    this.highWatermark_ = Math.min(Math.max(storedHw, this.logStartOffset), this.logEndOffset_);
    this.log.info(
      { logStartOffset: this.logStartOffset, logEndOffset: this.logEndOffset_, segments: this.segments.length, truncatedBytes: loaded.truncatedBytes, highWatermark: this.highWatermark_ },
      'opened partition log',
    );
  }

  /** Opens (creating if needed) the partition's log, recovering its tail. Throws INVALID_CONFIG on a bad config. */
  static open(options: PartitionLogOptions): PartitionLog {
    return new PartitionLog(options, resolveLogConfig(options.config));
  }

  get config(): Readonly<LogConfig> {
    return this.config_;
  }

  /** Applies changed topic configs; they govern the next append, roll and retention pass. */
  updateConfig(overrides: Partial<LogConfig>): void {
    this.config_ = resolveLogConfig({ ...this.config_, ...overrides });
  }

  get logStartOffset(): number {
    return (this.segments[0] as LogSegment).baseOffset;
  }

  get logEndOffset(): number {
    return this.logEndOffset_;
  }

  /** Recovery point: every offset below it has been fsynced. */
  get flushedOffset(): number {
    return this.flushedOffset_;
  }

  /** Number of group-commit syncs started (metrics; tests count coalescing with it). */
  get flushCount(): number {
    return this.groupCommit.syncCount;
  }

  private get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1] as LogSegment;
  }

  sizeBytes(): number {
    return this.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  segmentInfos(): SegmentInfo[] {
    return this.segments.map((segment, i) => ({
      baseOffset: segment.baseOffset,
      nextOffset: i === this.segments.length - 1 ? this.logEndOffset_ : (this.segments[i + 1] as LogSegment).baseOffset,
      sizeBytes: segment.sizeBytes,
      largestTimestampMs: segment.largestTimestampMs(),
      offsetIndexEntries: segment.offsetIndex.entryCount,
      timeIndexEntries: segment.timeIndex.entryCount,
    }));
  }

  // ---------------------------------------------------------------- append

  /**
   * Leader append: checks every batch against the idempotent-producer state (a refused batch refuses
   * the request, writing nothing), stamps each new batch's base offset (continuing from the log end
   * offset) and the leader epoch into `batches` in place (into a copy when some were retries), writes
   * them with one write, and updates the indexes. Retried batches are not written again: the result
   * carries their original offsets (`duplicate` when nothing was new). The batches must already be
   * validated (CRC, sizes); only their framing and producer fields are checked here.
   */
  append(batches: Buffer | readonly Buffer[], options: { leaderEpoch: number }): AppendResult {
    const unusable = this.unusable();
    if (unusable !== undefined) return { ok: false, error: unusable };
    const { leaderEpoch } = options;
    if (!Number.isSafeInteger(leaderEpoch) || leaderEpoch < 0 || leaderEpoch > INT32_MAX) {
      throw new RangeError(`leaderEpoch must be a non-negative int32, got ${leaderEpoch}`);
    }
    const latestEpoch = this.leaderEpochCache.latestEpoch();
    if (leaderEpoch < latestEpoch) {
      return appendFailed('FENCED_LEADER_EPOCH', `append with leader epoch ${leaderEpoch}, but the log is at epoch ${latestEpoch}`, { leaderEpoch, latestEpoch });
    }
    const given = Array.isArray(batches) ? Buffer.concat(batches as readonly Buffer[]) : (batches as Buffer);
    const framed = frameBatches(given, this.config_);
    if (!Array.isArray(framed)) return framed;
    if (compactionEnabled(this.config_)) {
      // Kafka's rule: compaction needs a key to decide what a record supersedes. The one place the
      // append path decodes records, and only for compacted topics.
      for (const { bufPosition } of framed) {
        const problem = nullKeyProblem(given, bufPosition);
        if (problem !== undefined) return appendFailed(problem.codeName, `${this.topic}-${this.partition}: ${problem.message}`, { bufPosition });
      }
    }
    const logAppendTimeMs = this.config_.messageTimestampType === 'LogAppendTime' ? this.clock.nowMs() : undefined;
    const checked = this.checkProducers(framed, logAppendTimeMs);
    if (!checked.ok) return checked.refusal;
    const { producerAppend, fresh, first, lastOffset } = checked;
    if (fresh.length === 0) {
      // A retry of batches already in the log (the first write may have reached this replica before
      // a failover): answering with the original offsets is what makes the retry exactly-once.
      const originalAppendTimeMs = logAppendTimeMs === undefined ? {} : { logAppendTimeMs: first.maxTimestampMs };
      return appendOk({ baseOffset: first.baseOffset, lastOffset, sizeBytes: 0, duplicate: true, ...originalAppendTimeMs });
    }
    const { buf, writes } = fresh.length === framed.length ? { buf: given, writes: framed } : withoutDuplicates(given, fresh);
    for (const { frame, bufPosition } of writes) {
      stampFrame(buf, bufPosition, frame.baseOffset, leaderEpoch);
      frame.partitionLeaderEpoch = leaderEpoch;
      if (logAppendTimeMs !== undefined) {
        setLogAppendTime(buf, bufPosition, logAppendTimeMs);
        frame.maxTimestamp = logAppendTimeMs;
      }
    }
    const result = this.appendFramed(buf, writes, logAppendTimeMs);
    if (!result.ok) return result;
    producerAppend.commit();
    // A request mixing retried and new batches (a client sends one batch per partition per request,
    // so only another client would) writes the new ones and answers from its first batch, wherever
    // that landed, to the last offset of any of its batches.
    return first.baseOffset === result.baseOffset ? result : { ...result, baseOffset: first.baseOffset };
  }

  /**
   * The idempotent-producer rules (producer-state.ts) for every batch of a leader request, in order,
   * before anything is stamped or written: one refused batch refuses the whole request. Places the
   * new batches at consecutive offsets from the log end (in their frames) and sets duplicates aside.
   */
  private checkProducers(
    framed: readonly AppendedBatch[],
    logAppendTimeMs: number | undefined,
  ): { ok: false; refusal: AppendResult } | { ok: true; producerAppend: ProducerAppend; fresh: AppendedBatch[]; first: BatchPlacement; lastOffset: number } {
    const producerAppend = this.producerState.beginAppend();
    const fresh: AppendedBatch[] = [];
    let first: BatchPlacement | undefined;
    let lastOffset = -1;
    let nextOffset = this.logEndOffset_;
    const appendTimeMs = logAppendTimeMs ?? this.clock.nowMs();
    for (const batch of framed) {
      const { frame } = batch;
      const verdict = producerAppend.check(frame);
      switch (verdict.kind) {
        case 'refused':
          return { ok: false, refusal: appendFailed(verdict.codeName, verdict.message, { ...verdict.details, logEndOffset: this.logEndOffset_ }) };
        case 'duplicate':
          first ??= verdict.original;
          lastOffset = Math.max(lastOffset, verdict.original.lastOffset);
          break;
        case 'append':
        case 'unchecked': {
          frame.baseOffset = nextOffset;
          frame.lastOffset = nextOffset + frame.lastOffsetDelta;
          nextOffset = frame.lastOffset + 1;
          const placement = { baseOffset: frame.baseOffset, lastOffset: frame.lastOffset, maxTimestampMs: logAppendTimeMs ?? frame.maxTimestamp };
          if (verdict.kind === 'append') producerAppend.record(frame, placement, appendTimeMs);
          first ??= placement;
          lastOffset = Math.max(lastOffset, frame.lastOffset);
          fresh.push(batch);
          break;
        }
        default:
          unreachable(verdict);
      }
    }
    assert(first !== undefined, 'frameBatches returned no batch');
    return { ok: true, producerAppend, fresh, first, lastOffset };
  }

  /**
   * Follower append: batches arrive from the leader already stamped, so offsets and epochs are kept
   * as they are; CRCs are verified (the bytes crossed a network) and offsets must continue the log.
   */
  appendAsFollower(batches: Buffer | readonly Buffer[]): AppendResult {
    const unusable = this.unusable();
    if (unusable !== undefined) return { ok: false, error: unusable };
    const buf = Array.isArray(batches) ? Buffer.concat(batches as readonly Buffer[]) : (batches as Buffer);
    const framed = frameBatches(buf, this.config_);
    if (!Array.isArray(framed)) return framed;
    let expected = this.logEndOffset_;
    for (const { frame, bufPosition } of framed) {
      if (!crcMatches(buf, bufPosition, frame)) {
        return appendFailed('CORRUPT_MESSAGE', `CRC mismatch in the replicated batch at offset ${frame.baseOffset}`, { baseOffset: frame.baseOffset });
      }
      if (frame.baseOffset < expected) {
        return appendFailed('OFFSET_OUT_OF_RANGE', `replicated batch at offset ${frame.baseOffset} does not continue the log at ${expected}`, { baseOffset: frame.baseOffset, expectedOffset: expected });
      }
      expected = frame.lastOffset + 1;
    }
    const result = this.appendFramed(buf, framed, undefined);
    // No checks: the leader made them, and a follower must hold exactly what the leader holds so it
    // can take over with the same producer state.
    if (result.ok) {
      const nowMs = this.clock.nowMs();
      for (const { frame } of framed) this.producerState.update(frame, placementOf(frame), nowMs);
    }
    return result;
  }

  private appendFramed(buf: Buffer, framed: readonly AppendedBatch[], logAppendTimeMs: number | undefined): AppendResult {
    const first = (framed[0] as AppendedBatch).frame;
    const last = (framed[framed.length - 1] as AppendedBatch).frame;
    try {
      this.maybeRoll(buf.length, first.baseOffset, last.lastOffset);
      for (const { frame } of framed) {
        // Kafka's maybeAssignEpochStartOffset: the first batch of a new epoch marks where it began.
        if (frame.partitionLeaderEpoch >= 0 && frame.partitionLeaderEpoch > this.leaderEpochCache.latestEpoch()) {
          this.leaderEpochCache.assign(frame.partitionLeaderEpoch, frame.baseOffset);
        }
      }
      const active = this.activeSegment;
      active.append(buf, framed);
      this.activeFirstAppendMs ??= this.clock.nowMs();
      this.dirtySegments.add(active);
    } catch (err) {
      return { ok: false, error: this.markFailed(err, 'append') };
    }
    this.logEndOffset_ = last.lastOffset + 1;
    return appendOk({ baseOffset: first.baseOffset, lastOffset: last.lastOffset, sizeBytes: buf.length, ...(logAppendTimeMs === undefined ? {} : { logAppendTimeMs }) });
  }

  // ---------------------------------------------------------------- producer state

  /** What the log knows of an idempotent producer (tests, tools). */
  producerEntry(producerId: number): ProducerEntry | undefined {
    return this.producerState.entry(producerId);
  }

  get producerCount(): number {
    return this.producerState.producerCount;
  }

  /**
   * From the snapshot a clean close wrote when it still describes this log (same log end, nothing
   * cut by recovery), otherwise by rescanning. The snapshot is deleted either way: from here on the
   * log changes, and after a crash only a rescan can say what the log holds.
   */
  private loadProducerState(recoveredBytes: number): void {
    let snapshot: ProducerSnapshot | undefined;
    try {
      snapshot = readProducerSnapshot(this.dir, this.ops);
    } catch (err) {
      this.log.warn({ err }, 'ignoring an unreadable producer state snapshot');
    }
    deleteProducerSnapshot(this.dir, this.ops);
    if (snapshot !== undefined && snapshot.logEndOffset === this.logEndOffset_ && recoveredBytes === 0) {
      for (const entry of snapshot.entries) this.producerState.put(entry);
      const expired = this.producerState.removeExpired(this.clock.nowMs(), this.producerIdExpirationMs);
      this.log.info({ producers: this.producerState.producerCount, expired, logEndOffset: this.logEndOffset_ }, 'loaded producer state from its snapshot');
      return;
    }
    if (snapshot !== undefined) {
      this.log.warn({ snapshotLogEndOffset: snapshot.logEndOffset, logEndOffset: this.logEndOffset_, recoveredBytes }, 'producer state snapshot does not match the log; rescanning');
    }
    this.rebuildProducerState('opened');
  }

  /**
   * Replays the producer fields of every batch header (records are never read) into a fresh
   * state. Segments whose newest batch is older than producer.id.expiration.ms are skipped: every
   * producer seen only there would be expired anyway. Producers the previous state knew only from
   * batches that retention has since deleted are kept, as Kafka (KIP-360) keeps them until they
   * expire: the log no longer says anything about them, and forgetting them would fail their next
   * batch with OUT_OF_ORDER_SEQUENCE_NUMBER.
   */
  private rebuildProducerState(why: string): void {
    const startedMs = performance.now();
    const previous = this.producerState;
    const rebuilt = new ProducerStateManager();
    const nowMs = this.clock.nowMs();
    let scannedSegments = 0;
    let scannedBatches = 0;
    for (const segment of this.segments) {
      if (segment !== this.activeSegment && nowMs - segment.largestTimestampMs() >= this.producerIdExpirationMs) continue;
      scannedSegments++;
      segment.forEachBatchHeader((frame) => {
        scannedBatches++;
        rebuilt.update(frame, placementOf(frame));
      });
    }
    for (const entry of previous.entries()) {
      const last = entry.batches[entry.batches.length - 1];
      if (rebuilt.entry(entry.producerId) === undefined && last !== undefined && last.lastOffset < this.logStartOffset) rebuilt.put(entry);
    }
    rebuilt.removeExpired(nowMs, this.producerIdExpirationMs);
    this.producerState = rebuilt;
    this.log.info(
      { why, producers: rebuilt.producerCount, scannedSegments, scannedBatches, durationMs: Math.round(performance.now() - startedMs) },
      'rebuilt producer state from the log',
    );
  }

  // ---------------------------------------------------------------- roll

  /** Kafka's shouldRoll: size, age (segment.ms) and the int32 range of relative offsets. */
  private maybeRoll(appendBytes: number, firstOffset: number, lastOffset: number): void {
    const active = this.activeSegment;
    if (active.sizeBytes === 0) {
      // An empty active segment only needs replacing if the append cannot be indexed relative to it.
      if (firstOffset !== active.baseOffset && (firstOffset < active.baseOffset || lastOffset - active.baseOffset > RELATIVE_OFFSET_MAX)) {
        this.roll(firstOffset);
      }
      return;
    }
    const reasons: string[] = [];
    if (active.sizeBytes + appendBytes > this.config_.segmentBytes) reasons.push('segment.bytes');
    const ageMs = this.clock.nowMs() - (this.activeFirstAppendMs ?? this.clock.nowMs());
    if (ageMs > this.config_.segmentMs) reasons.push('segment.ms');
    if (lastOffset - active.baseOffset > RELATIVE_OFFSET_MAX) reasons.push('offset range');
    if (reasons.length > 0) this.roll(firstOffset, reasons);
  }

  /** Starts a new active segment at `baseOffset` (default: the log end offset). */
  roll(baseOffset: number = this.logEndOffset_, reasons: string[] = ['requested']): void {
    const previous = this.activeSegment;
    if (previous.sizeBytes === 0) {
      if (previous.baseOffset === baseOffset) return;
      this.segments.pop();
      this.retire(previous);
    } else {
      previous.onBecomeInactive();
      this.dirtySegments.add(previous);
    }
    this.segments.push(LogSegment.create(this.dir, baseOffset, this.config_.indexIntervalBytes, this.ops));
    this.dirDirty = true;
    this.activeFirstAppendMs = undefined;
    this.log.info({ baseOffset, previousBaseOffset: previous.baseOffset, previousSizeBytes: previous.sizeBytes, reasons }, 'rolled log segment');
  }

  // ---------------------------------------------------------------- read

  /**
   * Whole batches from the one containing `startOffset`, up to `maxBytes` (at least one batch with
   * `minOneBatch`, the default) and only batches entirely below `maxOffsetExclusive` (consumers pass
   * the high watermark). OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset].
   */
  read(startOffset: number, maxBytes: number, maxOffsetExclusive: number = this.logEndOffset_, options: ReadOptions = {}): LogReadResult {
    const bounds = { logStartOffset: this.logStartOffset, logEndOffset: this.logEndOffset_ };
    const unusable = this.unusable();
    if (unusable !== undefined) return { ok: false, error: unusable, ...bounds };
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    if (!Number.isSafeInteger(startOffset) || startOffset < bounds.logStartOffset || startOffset > bounds.logEndOffset) {
      const error = new RunnelError('OFFSET_OUT_OF_RANGE', `offset ${startOffset} is outside [${bounds.logStartOffset}, ${bounds.logEndOffset}]`, {
        details: { startOffset, ...bounds },
      });
      return { ok: false, error, ...bounds };
    }
    const limit = Math.min(maxOffsetExclusive, this.logEndOffset_);
    const empty = { ok: true as const, records: Buffer.alloc(0), firstBatchOffset: undefined, nextFetchOffset: startOffset, ...bounds };
    if (startOffset >= limit) return empty;
    const minOneBatch = options.minOneBatch ?? true;
    // Kafka reads from one segment per fetch; a start offset past a segment's last batch (a gap)
    // moves on to the next segment.
    for (let i = Math.max(0, this.segmentIndexFor(startOffset)); i < this.segments.length; i++) {
      const range = (this.segments[i] as LogSegment).read(startOffset, maxBytes, limit, minOneBatch);
      if (range !== undefined) {
        return { ok: true, records: range.records, firstBatchOffset: range.firstBatchOffset, nextFetchOffset: range.nextFetchOffset, ...bounds };
      }
    }
    return empty;
  }

  /**
   * ListOffsets by timestamp: the first record whose timestamp is >= `timestampMs`, found via the
   * time index and a scan of batch headers, then by decoding that one batch (its base offset if it
   * cannot be decoded). Undefined when no record below `maxOffsetExclusive` is that late.
   */
  offsetForTimestamp(timestampMs: number, maxOffsetExclusive: number = this.logEndOffset_): { offset: number; timestampMs: number } | undefined {
    for (const segment of this.segments) {
      if (segment.sizeBytes === 0 || segment.largestTimestampMs() < timestampMs) continue;
      const found = segment.findOffsetByTimestamp(timestampMs, this.logStartOffset);
      if (found === undefined) continue;
      return found.offset < maxOffsetExclusive ? found : undefined;
    }
    return undefined;
  }

  /** Index of the last segment whose base offset is <= `offset`, or -1. */
  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.segments[mid] as LogSegment).baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  // ---------------------------------------------------------------- durability

  /**
   * Group commit: resolves once everything appended before the call is fsynced (and flushedOffset
   * covers it). Concurrent calls share fsyncs. Rejects with KAFKA_STORAGE_ERROR if the disk fails.
   */
  flush(): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== undefined) return Promise.reject(unusable);
    return this.groupCommit.request();
  }

  /**
   * Resolves once offsets below `offset` are durable: what acks=all awaits with lastOffset + 1.
   * Rides on the fsync in flight when that one started after `offset` was appended, instead of
   * queueing for the next.
   */
  async flushUpTo(offset: number): Promise<void> {
    if (offset <= this.flushedOffset_) return;
    const inFlight = this.syncInFlight;
    if (inFlight !== undefined && offset <= inFlight.targetOffset) {
      await inFlight.settled;
      if (offset <= this.flushedOffset_) return;
    }
    await this.flush();
  }

  private async syncOnce(): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== undefined) throw unusable;
    const targetOffset = this.logEndOffset_;
    let settle = (): void => {};
    // Never rejects, so nobody has to handle it; waiters re-check flushedOffset and the failure.
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.syncInFlight = { targetOffset, settled };
    try {
      await this.syncSegments(targetOffset);
    } finally {
      this.syncInFlight = undefined;
      settle();
    }
  }

  private async syncSegments(targetOffset: number): Promise<void> {
    this.lowestEndOffsetDuringSync = Number.POSITIVE_INFINITY;
    const segments = [...this.dirtySegments];
    this.dirtySegments.clear();
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    const coversInactive = dirDirty || segments.some((segment) => segment !== this.activeSegment);
    try {
      // A segment that rolls meanwhile is marked dirty again by roll(), so its indexes are synced
      // (and only then the recovery point written) by the next sync.
      for (const segment of segments) await segment.flush({ logOnly: segment === this.activeSegment });
      if (dirDirty) await fsyncDir(this.ops, this.dir);
    } catch (err) {
      for (const segment of segments) this.dirtySegments.add(segment);
      this.dirDirty ||= dirDirty;
      throw this.markFailed(err, 'flush');
    } finally {
      this.closeRetired();
    }
    const durableOffset = Math.min(targetOffset, this.lowestEndOffsetDuringSync);
    if (durableOffset > this.flushedOffset_) this.flushedOffset_ = durableOffset;
    // Checkpoint when a roll completed, not on every flush: that would triple the fsyncs acks=all
    // pays, and recovery rescans the active segment anyway.
    if (coversInactive) this.writeRecoveryPoint();
  }

  /** Writes the recovery point (the flushed offset) checkpoint. The owner may call this periodically. */
  writeRecoveryPoint(): void {
    this.recoveryCheckpoint.write([[this.flushedOffset_]]);
  }

  /** Persists the high watermark (atomically); it must lie within [0, logEndOffset]. */
  checkpointHighWatermark(highWatermark: number): void {
    if (!Number.isSafeInteger(highWatermark) || highWatermark < 0 || highWatermark > this.logEndOffset_) {
      throw new RangeError(`high watermark ${highWatermark} outside [0, ${this.logEndOffset_}]`);
    }
    this.hwCheckpoint.write([[highWatermark]]);
    this.highWatermark_ = highWatermark;
  }

  /** checkpointHighWatermark with the fsyncs off the event loop (the periodic pass). */
  async checkpointHighWatermarkAsync(highWatermark: number): Promise<void> {
    if (!Number.isSafeInteger(highWatermark) || highWatermark < 0 || highWatermark > this.logEndOffset_) {
      throw new RangeError(`high watermark ${highWatermark} outside [0, ${this.logEndOffset_}]`);
    }
    await this.hwCheckpoint.writeAsync([[highWatermark]]);
    this.highWatermark_ = highWatermark;
  }

  /** The last checkpointed high watermark, clamped to [logStartOffset, logEndOffset]. */
  readHighWatermark(): number {
    return Math.min(Math.max(this.highWatermark_, this.logStartOffset), this.logEndOffset_);
  }

  // ---------------------------------------------------------------- leader epochs

  /** A new leader records where its epoch starts (its log end offset when it took over). */
  assignEpochStartOffset(epoch: number, startOffset: number): void {
    this.leaderEpochCache.assign(epoch, startOffset);
  }

  /** OffsetsForLeaderEpoch, answered from this log (see LeaderEpochFileCache.endOffsetFor). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.leaderEpochCache.endOffsetFor(epoch, this.logEndOffset_);
  }

  latestEpoch(): number {
    return this.leaderEpochCache.latestEpoch();
  }

  leaderEpochEntries(): readonly EpochEntry[] {
    return this.leaderEpochCache.entries();
  }

  // ---------------------------------------------------------------- truncation

  /**
   * Removes every batch whose last offset is >= `offset` (a follower diverged from its leader).
   * Batches are never split, so the new log end offset can be below `offset` if it falls inside a
   * batch. Returns the bytes removed.
   */
  truncateTo(offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`truncation offset must be a non-negative integer, got ${offset}`);
    const unusable = this.unusable();
    if (unusable !== undefined) throw unusable;
    if (offset >= this.logEndOffset_) return 0;
    this.truncations++;
    if (offset < this.logStartOffset) {
      const bytes = this.sizeBytes();
      this.truncateFullyAndStartAt(offset);
      return bytes;
    }
    let removedBytes = 0;
    try {
      while (this.segments.length > 1 && this.activeSegment.baseOffset > offset) {
        const segment = this.segments.pop() as LogSegment;
        removedBytes += segment.sizeBytes;
        this.retire(segment);
      }
      const active = this.activeSegment;
      removedBytes += active.truncateTo(offset);
      this.logEndOffset_ = active.nextOffset;
      if (active.sizeBytes === 0) this.activeFirstAppendMs = undefined;
      this.afterTruncation(active);
      this.rebuildProducerState('truncated');
    } catch (err) {
      throw this.markFailed(err, 'truncate');
    }
    this.log.info({ offset, logEndOffset: this.logEndOffset_, removedBytes }, 'truncated log');
    return removedBytes;
  }

  /** Drops the whole log and restarts it, empty, at `offset` (a follower too far behind the leader's log start). */
  truncateFullyAndStartAt(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`start offset must be a non-negative integer, got ${offset}`);
    const unusable = this.unusable();
    if (unusable !== undefined) throw unusable;
    this.truncations++;
    try {
      for (const segment of this.segments) this.retire(segment);
      const fresh = LogSegment.create(this.dir, offset, this.config_.indexIntervalBytes, this.ops);
      this.segments = [fresh];
      this.logEndOffset_ = offset;
      this.activeFirstAppendMs = undefined;
      this.leaderEpochCache.clear();
      // Nothing of the old log is left to say what its producers wrote (Kafka clears them too).
      this.producerState = new ProducerStateManager();
      this.afterTruncation(fresh);
      this.flushedOffset_ = offset;
      this.writeRecoveryPoint();
      this.checkpointHighWatermark(offset);
    } catch (err) {
      throw this.markFailed(err, 'truncate');
    }
    this.log.info({ offset }, 'truncated the whole log and restarted it');
  }

  /**
   * Makes a truncation durable before anything is appended after it: otherwise a crash could bring
   * the removed (diverged) bytes back behind a recovery point that skips rescanning them.
   */
  private afterTruncation(active: LogSegment): void {
    this.lowestEndOffsetDuringSync = Math.min(this.lowestEndOffsetDuringSync, this.logEndOffset_);
    this.leaderEpochCache.truncateFromEnd(this.logEndOffset_);
    active.flushSync();
    fsyncDirSync(this.ops, this.dir);
    if (this.flushedOffset_ > this.logEndOffset_) {
      this.flushedOffset_ = this.logEndOffset_;
      this.writeRecoveryPoint();
    }
    if (this.highWatermark_ > this.logEndOffset_) this.checkpointHighWatermark(this.logEndOffset_);
    if (this.firstDirtyOffset_ > this.logEndOffset_) {
      // What is appended after the truncation point is new, so not compacted.
      this.firstDirtyOffset_ = this.logEndOffset_;
      this.cleanerCheckpoint.write([[this.firstDirtyOffset_]]);
    }
  }

  // ---------------------------------------------------------------- retention

  /** Deletes whole old segments by retention.ms / retention.bytes (see retentionDeletions). */
  deleteOldSegments(highWatermark: number = this.logEndOffset_): RetentionResult {
    const unusable = this.unusable();
    if (unusable !== undefined) throw unusable;
    const views = this.segments.map((segment, i) => ({
      sizeBytes: segment.sizeBytes,
      largestTimestampMs: segment.largestTimestampMs(),
      upperBoundOffset: this.segments[i + 1]?.baseOffset,
    }));
    // A compact-only topic keeps every key's latest value for ever: retention would delete them.
    const reasons = deletionEnabled(this.config_) ? retentionDeletions(views, this.config_, this.clock.nowMs(), highWatermark) : [];
    let deletedBytes = 0;
    for (const reason of reasons) {
      const segment = this.segments.shift() as LogSegment;
      deletedBytes += segment.sizeBytes;
      this.log.info({ baseOffset: segment.baseOffset, sizeBytes: segment.sizeBytes, reason }, 'deleting log segment by retention');
      this.retire(segment);
    }
    if (reasons.length > 0) this.leaderEpochCache.truncateFromStart(this.logStartOffset);
    // Producers outlive their deleted batches (see rebuildProducerState) until they expire, which
    // this periodic pass is the natural place to check.
    const expiredProducers = this.producerState.removeExpired(this.clock.nowMs(), this.producerIdExpirationMs);
    if (expiredProducers > 0) this.log.info({ expiredProducers, producerIdExpirationMs: this.producerIdExpirationMs }, 'forgot expired producers');
    return { deletedSegments: reasons.length, deletedBytes, logStartOffset: this.logStartOffset };
  }

  // ---------------------------------------------------------------- compaction

  /** The cleanable range and its dirty ratio now (see log-cleaner.ts): what a scheduler compares across logs. */
  cleanableRange(options: { highWatermark: number; nowMs?: number }): CleanableRange {
    const { segments: _segments, ...range } = cleanableRange(this.cleanerHost(), options.nowMs ?? this.clock.nowMs(), Math.min(options.highWatermark, this.logEndOffset_));
    return range;
  }

  /** Bytes of the uncleaned part of the cleanable range over all of it (0 when nothing is cleanable). */
  dirtyRatio(options: { highWatermark: number; nowMs?: number }): number {
    return this.cleanableRange(options).dirtyRatio;
  }

  get firstDirtyOffset(): number {
    return Math.min(Math.max(this.firstDirtyOffset_, this.logStartOffset), this.logEndOffset_);
  }

  /**
   * One compaction pass (log-cleaner.ts) when cleanup.policy includes compact; resolves with what it
   * did. Yields to the event loop between slices of work, so appends and reads go on meanwhile; the
   * active segment and everything at or above `highWatermark` are never rewritten. A call while a
   * pass runs returns that pass. Rejects only on an I/O failure, which takes the log offline.
   */
  clean(options: CleanOptions): Promise<CleanResult> {
    const unusable = this.unusable();
    if (unusable !== undefined) return Promise.reject(unusable);
    const idle: CleanResult = { segmentsCleaned: 0, segmentsWritten: 0, bytesBefore: 0, bytesAfter: 0, recordsRemoved: 0, tombstonesRemoved: 0, firstDirtyOffset: this.firstDirtyOffset };
    if (!compactionEnabled(this.config_)) return Promise.resolve({ ...idle, aborted: `cleanup.policy is ${this.config_.cleanupPolicy}` });
    if (this.cleaning !== undefined) return this.cleaning;
    const nowMs = options.nowMs ?? this.clock.nowMs();
    const highWatermark = Math.min(options.highWatermark, this.logEndOffset_);
    const pass = cleanLog(this.cleanerHost(), { ...options, highWatermark }, nowMs)
      .catch((err: unknown) => {
        throw err instanceof RunnelError ? err : this.markFailed(err, 'clean');
      })
      .finally(() => {
        this.cleaning = undefined;
      });
    this.cleaning = pass;
    return pass;
  }

  /** Resolves once no pass runs. A failed pass already rejected its caller's promise and took the log offline. */
  private async cleaningSettled(): Promise<void> {
    await this.cleaning?.then(
      () => undefined,
      () => undefined,
    );
  }

  private cleanerHost(): CleanerHost {
    return {
      dir: this.dir,
      ops: this.ops,
      log: this.log,
      config: () => this.config_,
      segments: () => this.segments,
      firstDirtyOffset: () => this.firstDirtyOffset,
      setFirstDirtyOffset: (offset) => {
        this.firstDirtyOffset_ = offset;
        try {
          this.cleanerCheckpoint.write([[offset]]);
        } catch (err) {
          // Only costs the next pass after a restart a rescan of already clean segments.
          this.log.warn({ err }, 'could not write the cleaner offset checkpoint');
        }
      },
      producerCachedBaseOffsets: () => {
        const offsets = new Set<number>();
        for (const entry of this.producerState.entries()) for (const batch of entry.batches) offsets.add(batch.baseOffset);
        return offsets;
      },
      truncationCount: () => this.truncations,
      interruption: () => (this.closing ? 'the log is closing' : this.unusable()?.message),
      swap: (sources, cleaned, onSwapStep) => this.swapCleaned(sources, cleaned, onSwapStep),
    };
  }

  /**
   * Kafka's replaceSegments, in one synchronous step: a read or append on the event loop sees the
   * old segments or the new one, never a mix. Each file step is ordered so that a crash between any
   * two leaves what recovery (log-loader.ts) turns back into exactly the old or the new segments:
   * .cleaned files are discarded, a .log.swap is the commit point after which the old segments are
   * deleted and the swap renamed into place. False (nothing touched) when the sources are no longer
   * the log's, e.g. retention deleted one of them during the pass.
   */
  private swapCleaned(sources: readonly LogSegment[], cleaned: LogSegment, onSwapStep: ((step: SwapStep) => void) | undefined): boolean {
    const at = this.segments.indexOf(sources[0] as LogSegment);
    const intact = at >= 0 && at + sources.length < this.segments.length && sources.every((segment, i) => this.segments[at + i] === segment);
    if (!intact || this.unusable() !== undefined) return false;
    const step = onSwapStep ?? ((): void => {});
    try {
      step('cleaned-written');
      cleaned.renameIndexFiles(SWAP_SUFFIX);
      step('swap-indexes-renamed');
      cleaned.renameLogFile(SWAP_SUFFIX);
      fsyncDirSync(this.ops, this.dir);
      step('swap-committed');
      for (const [i, segment] of sources.entries()) {
        this.retire(segment);
        if (i < sources.length - 1) step('old-segment-deleted');
      }
      step('old-segments-deleted');
      cleaned.renameIndexFiles('');
      step('indexes-in-place');
      cleaned.renameLogFile('');
      fsyncDirSync(this.ops, this.dir);
      step('swapped');
    } catch (err) {
      throw this.markFailed(err, 'segment swap');
    }
    this.segments.splice(at, sources.length, cleaned);
    return true;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Flushes everything, checkpoints the recovery point, and closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.cleaningSettled();
    await this.groupCommit.whenIdle();
    this.closed = true;
    try {
      if (this.failure === undefined) {
        for (const segment of this.dirtySegments) segment.flushSync();
        if (this.dirDirty) fsyncDirSync(this.ops, this.dir);
        this.dirtySegments.clear();
        this.dirDirty = false;
        this.flushedOffset_ = this.logEndOffset_;
        this.writeRecoveryPoint();
        this.writeProducerSnapshot();
      }
    } finally {
      for (const segment of this.segments) segment.close();
      this.closeRetired();
    }
    this.log.info({ logEndOffset: this.logEndOffset_ }, 'closed partition log');
  }

  private writeProducerSnapshot(): void {
    try {
      writeProducerSnapshot(this.dir, this.ops, this.logEndOffset_, this.producerState.entries());
    } catch (err) {
      // Only costs the next open a rescan of the batch headers.
      this.log.warn({ err }, 'could not write the producer state snapshot');
    }
  }

  /** Topic deletion: closes the log and removes its directory. */
  async delete(): Promise<void> {
    this.closing = true;
    await this.cleaningSettled();
    await this.groupCommit.whenIdle();
    this.closed = true;
    for (const segment of this.segments) segment.close();
    this.closeRetired();
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.log.info({}, 'deleted partition log');
  }

  /**
   * A checkpoint's single offset, or undefined if absent. An unreadable one is not a reason to refuse
   * to start: a missing recovery point only means a longer recovery scan, and a missing high
   * watermark is re-learned from the leader.
   */
  private readCheckpointOffset(file: CheckpointFile): number | undefined {
    try {
      const offset = file.read()?.[0]?.[0];
      return offset !== undefined && offset >= 0 ? offset : undefined;
    } catch (err) {
      this.log.warn({ file: file.path, err }, 'ignoring an unreadable checkpoint');
      return undefined;
    }
  }

  /** Where each leader epoch first appears in the stored batches (reads every batch header). */
  private epochStartsFromBatches(): EpochEntry[] {
    const entries: EpochEntry[] = [];
    for (const segment of this.segments) {
      segment.forEachBatchHeader((frame) => {
        const latest = entries[entries.length - 1];
        if (frame.partitionLeaderEpoch >= 0 && (latest === undefined || frame.partitionLeaderEpoch > latest.epoch)) {
          entries.push({ epoch: frame.partitionLeaderEpoch, startOffset: frame.baseOffset });
        }
      });
    }
    return entries;
  }

  private initialFirstAppendMs(active: LogSegment): number | undefined {
    if (active.sizeBytes === 0) return undefined;
    const nowMs = this.clock.nowMs();
    const firstTimestampMs = active.rollingBaseTimestamp();
    // After a restart the append time is gone; the first batch's timestamp is Kafka's stand-in, but
    // a future one must not postpone the roll indefinitely.
    return firstTimestampMs !== undefined && firstTimestampMs >= 0 && firstTimestampMs <= nowMs ? firstTimestampMs : nowMs;
  }

  private retire(segment: LogSegment): void {
    this.dirtySegments.delete(segment);
    segment.unlinkFiles();
    if (this.groupCommit.inFlight) this.retired.push(segment);
    else segment.close();
  }

  private closeRetired(): void {
    const retired = this.retired;
    this.retired = [];
    for (const segment of retired) segment.close();
  }

  private unusable(): RunnelError | undefined {
    if (this.failure !== undefined) return this.failure;
    if (this.closed) return new RunnelError('KAFKA_STORAGE_ERROR', `log ${this.dir} is closed`);
    return undefined;
  }

  /**
   * An I/O error leaves the log's on-disk state unknown (after a failed fsync the page cache may
   * already have dropped the dirty pages), so the log stops serving until the broker restarts and
   * recovers it, as Kafka takes a failed log directory offline.
   */
  private markFailed(err: unknown, operation: string): RunnelError {
    if (err instanceof RunnelError && err === this.failure) return err;
    this.failure ??= new RunnelError('KAFKA_STORAGE_ERROR', `${operation} failed on ${this.dir}: ${(err as Error).message}`, { cause: err });
    this.log.error({ err, operation }, 'log I/O failed; the partition log is offline until restart');
    return this.failure;
  }
}

function placementOf(frame: BatchFrame): BatchPlacement {
  return { baseOffset: frame.baseOffset, lastOffset: frame.lastOffset, maxTimestampMs: frame.maxTimestamp };
}

/** The new batches of a request that also held retries, copied next to each other for one write. */
function withoutDuplicates(given: Buffer, fresh: readonly AppendedBatch[]): { buf: Buffer; writes: AppendedBatch[] } {
  const buf = Buffer.concat(fresh.map(({ frame, bufPosition }) => given.subarray(bufPosition, bufPosition + frame.sizeBytes)));
  let position = 0;
  const writes = fresh.map(({ frame }) => {
    const write = { frame, bufPosition: position };
    position += frame.sizeBytes;
    return write;
  });
  return { buf, writes };
}
