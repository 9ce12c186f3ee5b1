import type { Logger } from 'pino';
import { CheckpointFile } from './checkpoint-file.js';
import type { FileOps } from './file-ops.js';

/** Kafka's sentinel for "no such epoch" in OffsetsForLeaderEpoch answers. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';

/**
 * Kafka's LeaderEpochFileCache: the first offset written in each leader epoch, strictly increasing
 * in both epoch and offset. A follower asks the leader for the end offset of its latest epoch and
 * truncates to the divergence point (KIP-101/KIP-279), which the high watermark alone cannot find.
 * Every change is checkpointed before the method returns.
 */
export class LeaderEpochFileCache {
  private epochs: EpochEntry[];

  /** The checkpoint could not be read: the owner should rebuild the cache from the log's batches. */
  readonly loadProblem: string | undefined;

  constructor(
    private readonly checkpoint: CheckpointFile,
    private readonly log: Logger,
  ) {
    let problem: string | undefined;
    let epochs: EpochEntry[] = [];
    try {
      epochs = (checkpoint.read() ?? []).map(([epoch, startOffset]) => ({ epoch: epoch as number, startOffset: startOffset as number }));
      for (let i = 1; i < epochs.length && problem === undefined; i++) {
        const prev = epochs[i - 1] as EpochEntry;
        const cur = epochs[i] as EpochEntry;
        if (cur.epoch <= prev.epoch || cur.startOffset < prev.startOffset) problem = `${checkpoint.path}: epochs not monotonic at entry ${i}`;
      }
    } catch (err) {
      problem = (err as Error).message;
    }
    this.epochs = problem === undefined ? epochs : [];
    this.loadProblem = problem;
  }

  static open(dir: string, ops: FileOps, log: Logger): LeaderEpochFileCache {
    return new LeaderEpochFileCache(new CheckpointFile(dir, LEADER_EPOCH_CHECKPOINT, 2, ops), log);
  }

  /** Replaces the whole cache (a rebuild from the log after an unreadable checkpoint). */
  replaceAll(entries: readonly EpochEntry[]): void {
    this.epochs = [];
    for (const entry of entries) this.assign(entry.epoch, entry.startOffset);
    this.flush();
  }

  entries(): readonly EpochEntry[] {
    return this.epochs.map((entry) => ({ ...entry }));
  }

  latestEntry(): EpochEntry | undefined {
    const last = this.epochs[this.epochs.length - 1];
    return last === undefined ? undefined : { ...last };
  }

  latestEpoch(): number {
    return this.epochs[this.epochs.length - 1]?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. A no-op when it is already the latest epoch at the
   * same or an earlier offset. Entries that would break monotonicity (a higher epoch, or a start at
   * or after this one) are removed first, as Kafka does: they belong to a log suffix being replaced.
   */
  assign(epoch: number, startOffset: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0 || !Number.isSafeInteger(startOffset) || startOffset < 0) {
      throw new Error(`leader epoch entry must be non-negative integers, got (${epoch}, ${startOffset})`);
    }
    const latest = this.epochs[this.epochs.length - 1];
    if (latest !== undefined && latest.epoch === epoch && latest.startOffset <= startOffset) return;
    const removed: EpochEntry[] = [];
    while (this.epochs.length > 0) {
      const last = this.epochs[this.epochs.length - 1] as EpochEntry;
      if (last.epoch < epoch && last.startOffset < startOffset) break;
      removed.push(last);
      this.epochs.pop();
    }
    if (removed.length > 1 || (removed.length === 1 && removed[0]?.startOffset !== startOffset)) {
      this.log.warn({ epoch, startOffset, removed }, 'leader epoch cache: removed non-monotonic entries');
    }
    this.epochs.push({ epoch, startOffset });
    this.flush();
  }

  /**
   * OffsetsForLeaderEpoch: the largest epoch <= `requestedEpoch` this log knows, and the first
   * offset of the next higher epoch (or the log end offset when `requestedEpoch` is the latest).
   * Unknown or newer-than-latest epochs answer (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH || this.epochs.length === 0) return undefinedAnswer;
    const latest = this.epochs[this.epochs.length - 1] as EpochEntry;
    if (requestedEpoch === latest.epoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higherIndex = this.epochs.findIndex((entry) => entry.epoch > requestedEpoch);
    if (higherIndex < 0) return undefinedAnswer;
    const higher = this.epochs[higherIndex] as EpochEntry;
    // The requested epoch predates everything we know: it ended where our first known epoch began.
    if (higherIndex === 0) return { epoch: requestedEpoch, endOffset: higher.startOffset };
    const floor = this.epochs[higherIndex - 1] as EpochEntry;
    return { epoch: floor.epoch, endOffset: higher.startOffset };
  }

  /** Removes epochs starting at or after `endOffset` (the log was truncated to `endOffset`). */
  truncateFromEnd(endOffset: number): void {
    const before = this.epochs.length;
    this.epochs = this.epochs.filter((entry) => entry.startOffset < endOffset);
    if (this.epochs.length !== before) this.flush();
  }

  /**
   * The log start moved to `startOffset` (retention, truncateFullyAndStartAt): epochs that started
   * before it collapse into one entry starting there, so the epoch in force is not forgotten.
   */
  truncateFromStart(startOffset: number): void {
    let lastBelow = -1;
    for (let i = 0; i < this.epochs.length && (this.epochs[i] as EpochEntry).startOffset <= startOffset; i++) lastBelow = i;
    if (lastBelow < 0) return;
    const kept = this.epochs[lastBelow] as EpochEntry;
    if (lastBelow === 0 && kept.startOffset === startOffset) return;
    this.epochs = [{ epoch: kept.epoch, startOffset }, ...this.epochs.slice(lastBelow + 1)];
    this.flush();
  }

  clear(): void {
    if (this.epochs.length === 0) return;
    this.epochs = [];
    this.flush();
  }

  private flush(): void {
    this.checkpoint.write(this.epochs.map((entry) => [entry.epoch, entry.startOffset]));
  }
}
