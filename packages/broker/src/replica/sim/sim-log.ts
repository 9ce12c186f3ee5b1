// A replica's log over a simulated disk. Records live in memory as soon as they are appended; only
// the prefix covered by flush() is guaranteed to survive a crash. A crash keeps the flushed prefix
// plus, at random, some of the unflushed writes (the page cache may have written them back), and may
// tear the last one it keeps; recovery drops a torn record and everything after it, as a CRC scan would.
// Record objects are created once by the leader that appended them and shared by reference, so
// "same record at the same offset" is an identity check.

import type { EpochCacheView, EpochEntry } from '../core/leader-epoch.js';
import type { Prng } from './prng.js';

export interface LogRecord {
  readonly offset: number;
  readonly epoch: number;
  readonly payload: string;
}

export interface CrashOutcome {
  lostRecords: number;
  torn: boolean;
}

export class SimLog {
  private records: LogRecord[] = [];
  private flushedLength = 0;
  /** Set while crashed: the last surviving record is torn and recovery will drop it. */
  private tornTail = false;
  private epochs: EpochEntry[] = [];
  private highWatermarkCheckpoint = 0;
  /** Lowest offset whose record changed (truncation, crash) since the invariants last looked. */
  changedFrom = Number.POSITIVE_INFINITY;

  get logEndOffset(): number {
    return this.records.length;
  }

  get flushedOffset(): number {
    return this.flushedLength;
  }

  get checkpointedHighWatermark(): number {
    return this.highWatermarkCheckpoint;
  }

  recordAt(offset: number): LogRecord | undefined {
    return this.records[offset];
  }

  /** Records that would be read back now (after a crash: the ones recovery will keep). */
  readableLength(): number {
    return this.tornTail ? this.records.length - 1 : this.records.length;
  }

  slice(from: number, toExclusive: number): LogRecord[] {
    return this.records.slice(from, toExclusive);
  }

  epochCache(): EpochCacheView {
    return { epochs: this.epochs, logEndOffset: this.records.length };
  }

  latestEpoch(): number {
    return this.epochs[this.epochs.length - 1]?.epoch ?? -1;
  }

  append(record: LogRecord): void {
    if (record.offset !== this.records.length) throw new Error(`append at ${record.offset} but log end is ${this.records.length}`);
    // An epoch assigned when this replica last became leader, under which it wrote nothing, gives way to
    // the records of the leader it now follows (Kafka's LeaderEpochFileCache.assign does the same).
    let last = this.epochs[this.epochs.length - 1];
    while (last !== undefined && last.epoch > record.epoch && last.startOffset >= record.offset) {
      this.epochs.pop();
      last = this.epochs[this.epochs.length - 1];
    }
    const latest = this.latestEpoch();
    if (record.epoch < latest) throw new Error(`append of epoch ${record.epoch} after epoch ${latest}`);
    if (record.epoch > latest) this.epochs.push({ epoch: record.epoch, startOffset: record.offset });
    this.records.push(record);
  }

  /** Kafka assigns the new leader epoch at the log end when a replica becomes leader. */
  assignLeaderEpoch(epoch: number): void {
    const latest = this.latestEpoch();
    if (epoch < latest) throw new Error(`leader epoch ${epoch} below the log's latest epoch ${latest}`);
    if (epoch > latest) this.epochs.push({ epoch, startOffset: this.records.length });
  }

  truncateTo(offset: number): void {
    if (offset >= this.records.length) return;
    this.records.length = offset;
    this.flushedLength = Math.min(this.flushedLength, offset);
    this.epochs = this.epochs.filter((entry) => entry.startOffset < offset);
    this.changedFrom = Math.min(this.changedFrom, offset);
  }

  flush(highWatermark: number): void {
    this.flushedLength = this.records.length;
    this.highWatermarkCheckpoint = highWatermark;
  }

  crash(prng: Prng): CrashOutcome {
    const unflushed = this.records.length - this.flushedLength;
    const kept = prng.chance(0.5) ? 0 : prng.int(unflushed + 1);
    const survivors = this.flushedLength + kept;
    const lostRecords = this.records.length - survivors;
    this.records.length = survivors;
    this.tornTail = kept > 0 && prng.chance(0.5);
    this.changedFrom = Math.min(this.changedFrom, this.readableLength());
    return { lostRecords, torn: this.tornTail };
  }

  /** Start-up: drop a torn tail, rebuild the epoch cache from the records (Kafka truncates it to the log end). */
  recover(): void {
    if (this.tornTail) this.records.length -= 1;
    this.tornTail = false;
    this.flushedLength = this.records.length;
    this.highWatermarkCheckpoint = Math.min(this.highWatermarkCheckpoint, this.records.length);
    this.epochs = [];
    for (const record of this.records) {
      if (record.epoch !== this.latestEpoch()) this.epochs.push({ epoch: record.epoch, startOffset: record.offset });
    }
  }
}
