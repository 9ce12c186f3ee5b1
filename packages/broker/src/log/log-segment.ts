import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeRecordBatch } from '@runnel/protocol';
import { readFrame } from './batch-frame.js';
import type { BatchFrame } from './batch-frame.js';
import { scanBatches } from './batch-scanner.js';
import type { ScannedBatch } from './batch-scanner.js';
import { readFullySync, writeFullySync } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import { OffsetIndex, TimeIndex } from './sparse-index.js';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
/** Relative offsets in both indexes are int32: a segment cannot span more offsets than this. */
export const RELATIVE_OFFSET_MAX = 0x7fffffff;
/** Read-ahead for scans; large enough that recovery of small batches is a few big reads. */
const RECOVERY_CHUNK_BYTES = 1024 * 1024;
const LOOKUP_CHUNK_BYTES = 16 * 1024;
/**
 * Header-only scans read just the next header after a batch this large: one small read costs less
 * than copying the body (measured: headers of a 1 GiB log of 16 KiB batches in about half the time
 * of reading it in 1 MiB chunks), while smaller batches are still read a chunk at a time.
 */
const HEADER_SCAN_BODY_SKIP_MIN_BYTES = 4 * 1024;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** A batch about to be appended: its frame and where it sits in the buffer being written. */
export interface AppendedBatch {
  frame: BatchFrame;
  bufPosition: number;
}

export interface SegmentRecovery {
  validBytes: number;
  truncatedBytes: number;
  problem?: string;
}

export interface SegmentReadRange {
  position: number;
  records: Buffer;
  firstBatchOffset: number;
  /** Offset after the last batch returned (== firstBatchOffset when nothing fitted). */
  nextFetchOffset: number;
}

/**
 * Kafka's LogSegment: one .log of concatenated batches plus its sparse .index and .timeindex. It
 * knows nothing about leaders or high watermarks; PartitionLog decides what to append and read.
 */
export class LogSegment {
  private fd: number;
  private sizeBytes_: number;
  private bytesSinceLastIndexEntry = 0;
  private maxTimestampSoFar = -1;
  private offsetOfMaxTimestampSoFar: number;
  /** Offset after the last batch; exact for the active segment and any segment scanned on open. */
  private nextOffset_: number;
  /** Max timestamp of the first batch: what segment.ms measures the segment's age from, as in Kafka. */
  private rollingBaseTimestampMs: number | undefined;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  /** An index file was absent when the segment was opened: an empty one would be wrong, not just slow. */
  private readonly indexFilesMissing: boolean;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly indexIntervalBytes: number,
    private readonly ops: FileOps,
    create: boolean,
    /** '' for a live segment; '.cleaned' or '.swap' while the cleaner replaces segments (see log-cleaner.ts). */
    private logFileSuffix: string,
  ) {
    const logPath = this.logPath;
    if (create) {
      for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) {
        fs.rmSync(path.join(dir, segmentFileName(baseOffset, suffix + logFileSuffix)), { force: true });
      }
    }
    this.fd = fs.openSync(logPath, create ? 'w+' : 'r+');
    this.sizeBytes_ = fs.fstatSync(this.fd).size;
    const indexPath = path.join(dir, segmentFileName(baseOffset, INDEX_FILE_SUFFIX + logFileSuffix));
    const timeIndexPath = path.join(dir, segmentFileName(baseOffset, TIME_INDEX_FILE_SUFFIX + logFileSuffix));
    this.indexFilesMissing = !fs.existsSync(indexPath) || !fs.existsSync(timeIndexPath);
    this.offsetIndex = new OffsetIndex(indexPath, baseOffset, ops);
    this.timeIndex = new TimeIndex(timeIndexPath, baseOffset, ops);
    this.offsetOfMaxTimestampSoFar = baseOffset;
    this.nextOffset_ = baseOffset;
  }

  static create(dir: string, baseOffset: number, indexIntervalBytes: number, ops: FileOps, fileSuffix = ''): LogSegment {
    return new LogSegment(dir, baseOffset, indexIntervalBytes, ops, true, fileSuffix);
  }

  static open(dir: string, baseOffset: number, indexIntervalBytes: number, ops: FileOps, fileSuffix = ''): LogSegment {
    return new LogSegment(dir, baseOffset, indexIntervalBytes, ops, false, fileSuffix);
  }

  get logPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, LOG_FILE_SUFFIX + this.logFileSuffix));
  }

  /** Renames both index files to carry `fileSuffix`; descriptors stay open. */
  renameIndexFiles(fileSuffix: string): void {
    this.offsetIndex.renameTo(path.join(this.dir, segmentFileName(this.baseOffset, INDEX_FILE_SUFFIX + fileSuffix)));
    this.timeIndex.renameTo(path.join(this.dir, segmentFileName(this.baseOffset, TIME_INDEX_FILE_SUFFIX + fileSuffix)));
  }

  /** Renames the .log to carry `fileSuffix`: the step the cleaner's swap protocol commits with. */
  renameLogFile(fileSuffix: string): void {
    const target = path.join(this.dir, segmentFileName(this.baseOffset, LOG_FILE_SUFFIX + fileSuffix));
    fs.renameSync(this.logPath, target);
    this.logFileSuffix = fileSuffix;
  }

  /** Closed (removed from the log, or the log closed): its descriptor may already belong to another file. */
  get isClosed(): boolean {
    return this.fd < 0;
  }

  get sizeBytes(): number {
    return this.sizeBytes_;
  }

  get nextOffset(): number {
    return this.nextOffset_;
  }

  /** Largest batch timestamp in the segment (what retention.ms compares), or the file mtime if none. */
  largestTimestampMs(): number {
    if (this.maxTimestampSoFar >= 0) return this.maxTimestampSoFar;
    return fs.fstatSync(this.fd).mtimeMs;
  }

  /** Age basis for segment.ms; undefined while the segment is empty. */
  rollingBaseTimestamp(): number | undefined {
    return this.rollingBaseTimestampMs;
  }

  /**
   * Loads the indexes of a segment that was fully flushed before the last shutdown (below the
   * recovery point), so opening a large log does not read it all. Returns why that is not safe (a
   * missing or torn index, an unreadable tail) so the caller recovers the segment instead.
   */
  loadWithoutRecovery(): string | undefined {
    const problem =
      (this.indexFilesMissing && this.sizeBytes_ > 0 ? `${this.logPath}: index files missing` : undefined) ??
      this.offsetIndex.load() ??
      this.timeIndex.load() ??
      this.indexBeyondLogProblem();
    if (problem !== undefined) return problem;
    this.maxTimestampSoFar = this.timeIndex.lastEntry()?.timestampMs ?? -1;
    this.offsetOfMaxTimestampSoFar = this.timeIndex.lastEntry()?.offset ?? this.baseOffset;
    const tailProblem = this.scanTail();
    if (tailProblem !== undefined) return tailProblem;
    const lastTime = this.timeIndex.lastEntry();
    if (lastTime !== undefined && lastTime.offset >= this.nextOffset_) {
      return `${this.timeIndex.path}: entry at offset ${lastTime.offset} past the log end ${this.nextOffset_}`;
    }
    return undefined;
  }

  private indexBeyondLogProblem(): string | undefined {
    const last = this.offsetIndex.lastEntry();
    if (last !== undefined && last.position >= this.sizeBytes_) {
      return `${this.offsetIndex.path}: last entry points at position ${last.position} past the ${this.sizeBytes_}-byte log`;
    }
    return undefined;
  }

  /**
   * Validates every batch (framing, offsets, CRC32C), rebuilds both indexes from scratch, and
   * truncates the file after the last good batch. Used for segments past the recovery point, whose
   * tail may be torn or hold garbage after a crash.
   */
  recover(): SegmentRecovery {
    this.resetState();
    const sizeBefore = this.sizeBytes_;
    let problem: string | undefined;
    const outcome = scanBatches(this.fd, 0, sizeBefore, { verifyCrc: true, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch) => {
      problem = this.offsetProblem(batch.frame);
      if (problem !== undefined) {
        problem = `${problem} at position ${batch.position}`;
        return false;
      }
      this.indexBatch(batch.frame, batch.position);
      return true;
    });
    problem ??= outcome.problem;
    const validBytes = outcome.validEndPosition;
    if (validBytes < sizeBefore) {
      fs.ftruncateSync(this.fd, validBytes);
      this.sizeBytes_ = validBytes;
    }
    return { validBytes, truncatedBytes: sizeBefore - validBytes, ...(problem === undefined ? {} : { problem }) };
  }

  private offsetProblem(frame: BatchFrame): string | undefined {
    if (frame.baseOffset < this.nextOffset_) return `batch base offset ${frame.baseOffset} below the expected ${this.nextOffset_}`;
    if (frame.lastOffset - this.baseOffset > RELATIVE_OFFSET_MAX) return `offset ${frame.lastOffset} beyond the segment's int32 range`;
    return undefined;
  }

  private resetState(): void {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.bytesSinceLastIndexEntry = 0;
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = this.baseOffset;
    this.nextOffset_ = this.baseOffset;
    this.rollingBaseTimestampMs = undefined;
  }

  /** After loading indexes: scan from the last indexed batch to learn the next offset and max timestamp. */
  private scanTail(): string | undefined {
    const start = this.offsetIndex.lastEntry() ?? { offset: this.baseOffset, position: 0 };
    this.nextOffset_ = start.offset;
    this.bytesSinceLastIndexEntry = 0;
    const outcome = scanBatches(this.fd, start.position, this.sizeBytes_, { verifyCrc: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch) => {
      this.trackBatch(batch.frame);
      this.bytesSinceLastIndexEntry += batch.frame.sizeBytes;
      return true;
    });
    if (outcome.problem !== undefined) return `${this.logPath}: unreadable tail: ${outcome.problem}`;
    this.readFirstBatchTimestamp();
    return undefined;
  }

  private readFirstBatchTimestamp(): void {
    if (this.sizeBytes_ === 0) return;
    scanBatches(this.fd, 0, this.sizeBytes_, { verifyCrc: false, chunkBytes: LOOKUP_CHUNK_BYTES }, (batch) => {
      this.rollingBaseTimestampMs = batch.frame.maxTimestamp;
      return false;
    });
  }

  /** Every batch header in file order, without reading record bodies of large batches. */
  forEachBatchHeader(visit: (frame: BatchFrame) => void): void {
    const options = { verifyCrc: false, chunkBytes: RECOVERY_CHUNK_BYTES, bodySkipMinBytes: HEADER_SCAN_BODY_SKIP_MIN_BYTES };
    scanBatches(this.fd, 0, this.sizeBytes_, options, (batch) => {
      visit(batch.frame);
      return true;
    });
  }

  /**
   * Whole, CRC-checked batches from `position` on, until about `budgetBytes` were visited (at
   * least one batch): the cleaner reads a segment in slices so it can yield to the event loop
   * between them. `nextPosition` is where the next slice starts; `problem` says why a scan stopped
   * at a bad batch.
   */
  scanSlice(position: number, budgetBytes: number, visit: (batch: ScannedBatch) => void): { nextPosition: number; done: boolean; problem?: string } {
    let visitedBytes = 0;
    const outcome = scanBatches(this.fd, position, this.sizeBytes_, { verifyCrc: true, chunkBytes: Math.min(RECOVERY_CHUNK_BYTES, Math.max(budgetBytes, 1)) }, (batch) => {
      if (visitedBytes > 0 && visitedBytes + batch.frame.sizeBytes > budgetBytes) return false;
      visit(batch);
      visitedBytes += batch.frame.sizeBytes;
      return true;
    });
    const done = outcome.validEndPosition >= this.sizeBytes_;
    return { nextPosition: outcome.validEndPosition, done, ...(outcome.problem === undefined ? {} : { problem: outcome.problem }) };
  }

  /** Index maintenance for one batch at `position`, exactly as on the append path. */
  private indexBatch(frame: BatchFrame, position: number): void {
    this.rollingBaseTimestampMs ??= frame.maxTimestamp;
    this.trackBatch(frame);
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex.append(frame.baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += frame.sizeBytes;
  }

  private trackBatch(frame: BatchFrame): void {
    if (frame.maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = frame.maxTimestamp;
      this.offsetOfMaxTimestampSoFar = frame.baseOffset;
    }
    this.nextOffset_ = frame.lastOffset + 1;
  }

  /** Appends already-stamped batches with one write; `batches` describe where each sits in `buf`. */
  append(buf: Buffer, batches: readonly AppendedBatch[]): void {
    const position = this.sizeBytes_;
    writeFullySync(this.fd, buf, position);
    this.sizeBytes_ += buf.length;
    for (const { frame, bufPosition } of batches) this.indexBatch(frame, position + bufPosition);
  }

  /** The first batch whose last offset is >= `offset`, found via the index and a short scan. */
  translateOffset(offset: number): { position: number; frame: BatchFrame } | undefined {
    const start = this.offsetIndex.lookup(offset);
    let found: { position: number; frame: BatchFrame } | undefined;
    scanBatches(this.fd, start.position, this.sizeBytes_, { verifyCrc: false, chunkBytes: LOOKUP_CHUNK_BYTES }, (batch) => {
      if (batch.frame.lastOffset < offset) return true;
      found = { position: batch.position, frame: batch.frame };
      return false;
    });
    return found;
  }

  /**
   * Whole batches from the one containing `startOffset`: at most `maxBytes` (but the first batch in
   * full when `minOneBatch`, as Kafka does so a large batch cannot stall a consumer), none whose last
   * offset reaches `maxOffsetExclusive`. Undefined when the segment has no batch at or after
   * `startOffset`.
   */
  read(startOffset: number, maxBytes: number, maxOffsetExclusive: number, minOneBatch: boolean): SegmentReadRange | undefined {
    const first = this.translateOffset(startOffset);
    if (first === undefined) return undefined;
    const empty = { position: first.position, records: Buffer.alloc(0), firstBatchOffset: first.frame.baseOffset, nextFetchOffset: startOffset };
    if (first.frame.lastOffset >= maxOffsetExclusive) return empty;
    if (first.frame.sizeBytes > maxBytes && !minOneBatch) return empty;
    const wantBytes = Math.min(this.sizeBytes_ - first.position, Math.max(maxBytes, first.frame.sizeBytes));
    const buf = readFullySync(this.fd, wantBytes, first.position);
    let cut = 0;
    let nextFetchOffset = startOffset;
    // Walk the headers in the bytes already read: the cut must fall on a batch boundary.
    while (cut < buf.length) {
      const frame = readFrame(buf, cut, buf.length - cut);
      if (typeof frame === 'string' || frame.lastOffset >= maxOffsetExclusive) break;
      cut += frame.sizeBytes;
      nextFetchOffset = frame.lastOffset + 1;
    }
    return { position: first.position, records: buf.subarray(0, cut), firstBatchOffset: first.frame.baseOffset, nextFetchOffset };
  }

  /**
   * Kafka's findOffsetByTimestamp: the first batch whose max timestamp is >= `timestampMs`, at or
   * after `startingOffset`. The time index gives a starting point every earlier batch is below.
   */
  findOffsetByTimestamp(timestampMs: number, startingOffset: number): { offset: number; timestampMs: number } | undefined {
    const fromOffset = Math.max(this.timeIndex.lookup(timestampMs).offset, startingOffset);
    const start = this.offsetIndex.lookup(fromOffset);
    let found: { position: number; frame: BatchFrame } | undefined;
    scanBatches(this.fd, start.position, this.sizeBytes_, { verifyCrc: false, chunkBytes: LOOKUP_CHUNK_BYTES }, (batch) => {
      if (batch.frame.maxTimestamp < timestampMs || batch.frame.lastOffset < startingOffset) return true;
      found = { position: batch.position, frame: batch.frame };
      return false;
    });
    if (found === undefined) return undefined;
    return this.firstRecordAtOrAfter(found.position, found.frame, timestampMs, startingOffset);
  }

  /**
   * The one place the log decodes records, as Kafka does for ListOffsets: only the single batch the
   * time index led to. A batch that cannot be decoded here (a codec this build lacks) answers with
   * its base offset, which is still a correct place for a consumer to start.
   */
  private firstRecordAtOrAfter(position: number, frame: BatchFrame, timestampMs: number, startingOffset: number): { offset: number; timestampMs: number } {
    const fallback = { offset: Math.max(frame.baseOffset, startingOffset), timestampMs: frame.maxTimestamp };
    let decoded: ReturnType<typeof decodeRecordBatch>;
    try {
      decoded = decodeRecordBatch(readFullySync(this.fd, frame.sizeBytes, position));
    } catch {
      return fallback;
    }
    const logAppendTime = decoded.header.attributes.timestampType === 'log-append';
    for (const record of decoded.records) {
      const recordTimestampMs = logAppendTime ? frame.maxTimestamp : record.timestamp;
      if (record.offset >= startingOffset && recordTimestampMs >= timestampMs) return { offset: record.offset, timestampMs: recordTimestampMs };
    }
    return fallback;
  }

  /**
   * Removes every batch whose last offset is >= `offset` (batch granularity: a batch is never split).
   * Returns the bytes removed.
   */
  truncateTo(offset: number): number {
    const cut = this.translateOffset(offset);
    if (cut === undefined) return 0;
    const removedBytes = this.sizeBytes_ - cut.position;
    fs.ftruncateSync(this.fd, cut.position);
    this.sizeBytes_ = cut.position;
    this.offsetIndex.truncateTo(cut.frame.baseOffset);
    this.timeIndex.truncateTo(cut.frame.baseOffset);
    this.recomputeAfterTruncation();
    return removedBytes;
  }

  private recomputeAfterTruncation(): void {
    const lastTime = this.timeIndex.lastEntry();
    this.maxTimestampSoFar = lastTime?.timestampMs ?? -1;
    this.offsetOfMaxTimestampSoFar = lastTime?.offset ?? this.baseOffset;
    // Batches between the last time-index entry and the new end may hold a larger timestamp.
    const from = this.offsetIndex.lookup(lastTime?.offset ?? this.baseOffset);
    this.nextOffset_ = from.offset;
    scanBatches(this.fd, from.position, this.sizeBytes_, { verifyCrc: false, chunkBytes: RECOVERY_CHUNK_BYTES }, (batch) => {
      this.trackBatch(batch.frame);
      return true;
    });
    const lastIndexed = this.offsetIndex.lastEntry();
    this.bytesSinceLastIndexEntry = this.sizeBytes_ - (lastIndexed?.position ?? 0);
    if (this.sizeBytes_ === 0) this.rollingBaseTimestampMs = undefined;
  }

  /** Kafka's onBecomeInactiveSegment: make the time index cover the whole segment before it is closed for appends. */
  onBecomeInactive(): void {
    if (this.maxTimestampSoFar >= 0) this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
  }

  /**
   * fsync of the .log (what makes everything appended so far survive power loss) and, unless
   * `logOnly`, of both indexes. The active segment's indexes need no fsync on the acks path: the
   * segment holding the recovery point, and every later one, has its indexes rebuilt from the .log
   * on open; they are synced when the segment becomes inactive, before the recovery point passes it.
   */
  async flush(options: { logOnly?: boolean } = {}): Promise<void> {
    await this.ops.fsync(this.fd);
    if (options.logOnly === true) return;
    await this.offsetIndex.flush();
    await this.timeIndex.flush();
  }

  flushSync(): void {
    this.ops.fsyncSync(this.fd);
    this.offsetIndex.flushSync();
    this.timeIndex.flushSync();
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    this.offsetIndex.close();
    this.timeIndex.close();
  }

  /** Removes the files but keeps descriptors open: an fsync in flight may still hold them. */
  unlinkFiles(): void {
    fs.rmSync(this.logPath, { force: true });
    this.offsetIndex.unlink();
    this.timeIndex.unlink();
  }

  deleteFiles(): void {
    this.unlinkFiles();
    this.close();
  }
}
