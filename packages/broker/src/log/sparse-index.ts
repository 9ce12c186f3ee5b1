import * as fs from 'node:fs';
import { writeFullySync } from './file-ops.js';
import type { FileOps } from './file-ops.js';

/** First in-memory capacity; doubled as entries arrive, so small segments stay small. */
const INITIAL_CAPACITY_ENTRIES = 64;

/**
 * A sparse, append-only index file of fixed-size entries, mirrored in memory for binary search.
 * Entries are appended as the log grows (one small write each, every index.interval.bytes) rather
 * than preallocated and memory-mapped as Kafka does: Node has no mmap. The mirror holds the file's
 * own bytes (8 or 12 per entry), decoded on lookup, so a full 1 GiB segment at the default interval
 * costs a few MiB rather than a quarter of a million objects.
 */
export abstract class SparseIndex<E> {
  private bytes: Buffer = Buffer.alloc(0);
  private count = 0;
  private fd: number;

  protected constructor(
    private path_: string,
    readonly baseOffset: number,
    private readonly entrySizeBytes: number,
    private readonly ops: FileOps,
  ) {
    this.fd = fs.openSync(path_, fs.existsSync(path_) ? 'r+' : 'w+');
  }

  get path(): string {
    return this.path_;
  }

  /** Renames the file; the open descriptor keeps pointing at it (POSIX rename semantics). */
  renameTo(newPath: string): void {
    fs.renameSync(this.path_, newPath);
    this.path_ = newPath;
  }

  protected abstract encode(entry: E, buf: Buffer, position: number): void;
  protected abstract decode(buf: Buffer, position: number): E;
  /** Why `next` may not follow `prev` (entries must be strictly increasing), or undefined if fine. */
  protected abstract orderProblem(prev: E | undefined, next: E): string | undefined;

  get entryCount(): number {
    return this.count;
  }

  protected entryAt(i: number): E {
    return this.decode(this.bytes, i * this.entrySizeBytes);
  }

  lastEntry(): E | undefined {
    return this.count === 0 ? undefined : this.entryAt(this.count - 1);
  }

  /**
   * Loads the file. Returns a problem description if the content is inconsistent (torn write,
   * unordered entries); the caller then rebuilds the index from the log.
   */
  load(): string | undefined {
    const buf = fs.readFileSync(this.path);
    this.bytes = buf;
    this.count = 0;
    if (buf.length % this.entrySizeBytes !== 0) {
      return `${this.path}: size ${buf.length} is not a multiple of the ${this.entrySizeBytes}-byte entry`;
    }
    let previous: E | undefined;
    for (let position = 0; position < buf.length; position += this.entrySizeBytes) {
      const entry = this.decode(buf, position);
      const problem = this.orderProblem(previous, entry);
      if (problem !== undefined) return `${this.path}: entry ${position / this.entrySizeBytes}: ${problem}`;
      previous = entry;
    }
    this.count = buf.length / this.entrySizeBytes;
    return undefined;
  }

  protected appendEntry(entry: E): void {
    const problem = this.orderProblem(this.lastEntry(), entry);
    if (problem !== undefined) throw new Error(`${this.path}: ${problem}`);
    const position = this.count * this.entrySizeBytes;
    if (position + this.entrySizeBytes > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(INITIAL_CAPACITY_ENTRIES * this.entrySizeBytes, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, position);
      this.bytes = grown;
    }
    this.encode(entry, this.bytes, position);
    writeFullySync(this.fd, this.bytes.subarray(position, position + this.entrySizeBytes), position);
    this.count += 1;
  }

  /** Index of the last entry for which `isAtOrBelow` holds (entries are sorted), or -1. */
  protected floorIndex(isAtOrBelow: (entry: E) => boolean): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (isAtOrBelow(this.entryAt(mid))) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Keeps the first `count` entries. */
  protected truncateToEntries(count: number): void {
    if (count >= this.count) return;
    this.count = count;
    fs.ftruncateSync(this.fd, count * this.entrySizeBytes);
  }

  reset(): void {
    this.count = 0;
    fs.ftruncateSync(this.fd, 0);
  }

  flushSync(): void {
    this.ops.fsyncSync(this.fd);
  }

  flush(): Promise<void> {
    return this.ops.fsync(this.fd);
  }

  sizeBytes(): number {
    return this.count * this.entrySizeBytes;
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Removes the file; the descriptor stays open until close() (a sync may still be using it). */
  unlink(): void {
    fs.rmSync(this.path, { force: true });
  }
}

export interface OffsetPosition {
  offset: number;
  position: number;
}

/** `.index`: relative offset (int32) -> position in the .log (int32), 8 bytes per entry. */
export class OffsetIndex extends SparseIndex<OffsetPosition> {
  static readonly ENTRY_SIZE = 8;

  constructor(path: string, baseOffset: number, ops: FileOps) {
    super(path, baseOffset, OffsetIndex.ENTRY_SIZE, ops);
  }

  protected encode(entry: OffsetPosition, buf: Buffer, position: number): void {
    buf.writeInt32BE(entry.offset - this.baseOffset, position);
    buf.writeInt32BE(entry.position, position + 4);
  }

  protected decode(buf: Buffer, position: number): OffsetPosition {
    return { offset: this.baseOffset + buf.readInt32BE(position), position: buf.readInt32BE(position + 4) };
  }

  protected orderProblem(prev: OffsetPosition | undefined, next: OffsetPosition): string | undefined {
    if (next.offset < this.baseOffset || next.position < 0) return `entry (${next.offset}, ${next.position}) below the segment base`;
    if (prev === undefined) return undefined;
    if (next.offset <= prev.offset || next.position <= prev.position) {
      return `entry (${next.offset}, ${next.position}) does not follow (${prev.offset}, ${prev.position})`;
    }
    return undefined;
  }

  append(offset: number, position: number): void {
    this.appendEntry({ offset, position });
  }

  /** The last indexed batch starting at or before `offset`, or the segment start. */
  lookup(offset: number): OffsetPosition {
    const i = this.floorIndex((entry) => entry.offset <= offset);
    return i < 0 ? { offset: this.baseOffset, position: 0 } : this.entryAt(i);
  }

  /** Drops entries for batches at or after `offset` (their bytes are being truncated). */
  truncateTo(offset: number): void {
    this.truncateToEntries(this.floorIndex((entry) => entry.offset < offset) + 1);
  }
}

export interface TimestampOffset {
  timestampMs: number;
  offset: number;
}

/**
 * `.timeindex`: timestamp (int64) -> relative offset (int32), 12 bytes per entry. An entry (t, o)
 * says every batch before offset o has a max timestamp below t, so a lookup can start scanning at o.
 */
export class TimeIndex extends SparseIndex<TimestampOffset> {
  static readonly ENTRY_SIZE = 12;

  constructor(path: string, baseOffset: number, ops: FileOps) {
    super(path, baseOffset, TimeIndex.ENTRY_SIZE, ops);
  }

  protected encode(entry: TimestampOffset, buf: Buffer, position: number): void {
    buf.writeBigInt64BE(BigInt(entry.timestampMs), position);
    buf.writeInt32BE(entry.offset - this.baseOffset, position + 8);
  }

  protected decode(buf: Buffer, position: number): TimestampOffset {
    return { timestampMs: Number(buf.readBigInt64BE(position)), offset: this.baseOffset + buf.readInt32BE(position + 8) };
  }

  protected orderProblem(prev: TimestampOffset | undefined, next: TimestampOffset): string | undefined {
    if (next.offset < this.baseOffset) return `entry offset ${next.offset} below the segment base`;
    if (prev === undefined) return undefined;
    if (next.timestampMs <= prev.timestampMs || next.offset < prev.offset) {
      return `entry (${next.timestampMs}, ${next.offset}) does not follow (${prev.timestampMs}, ${prev.offset})`;
    }
    return undefined;
  }

  /** Appends only when the timestamp moved forward: the index holds the running maximum. */
  maybeAppend(timestampMs: number, offset: number): void {
    // Batches without timestamps (-1, as Kafka's NO_TIMESTAMP) give the index nothing to find.
    if (timestampMs < 0) return;
    const last = this.lastEntry();
    if (last !== undefined && timestampMs <= last.timestampMs) return;
    this.appendEntry({ timestampMs, offset });
  }

  /** The last entry with timestamp <= `timestampMs`, or (-1, baseOffset) when there is none. */
  lookup(timestampMs: number): TimestampOffset {
    const i = this.floorIndex((entry) => entry.timestampMs <= timestampMs);
    return i < 0 ? { timestampMs: -1, offset: this.baseOffset } : this.entryAt(i);
  }

  truncateTo(offset: number): void {
    this.truncateToEntries(this.floorIndex((entry) => entry.offset < offset) + 1);
  }
}
