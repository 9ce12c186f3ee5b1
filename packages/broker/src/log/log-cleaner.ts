// Kafka's LogCleaner for one partition log (cleanup.policy=compact): keeps, for every key, only the
// record with the highest offset, and drops tombstones once delete.retention.ms has passed.
//
// One pass:
//   1. Cleanable range: whole segments from the log start, below the active segment and the high
//      watermark, stopping at the first segment holding a record younger than min.compaction.lag.ms.
//   2. Offset map: key -> highest offset, built from the dirty part of the log (from the first dirty
//      offset, the end of the previous pass) up to the high watermark, active segment included: a
//      newer committed value anywhere makes older copies removable. Records at or above the high
//      watermark are never used, since a follower truncation may still remove them. The map has a
//      memory bound; when full, the pass cleans only up to where the map is complete.
//   3. Groups: consecutive cleanable segments whose sizes sum to at most segment.bytes are rewritten
//      into one, oldest group first (so an old value never outlives the tombstone that deletes it,
//      whatever step a crash interrupts).
//   4. Each group is written to `<base>.log.cleaned` (+ indexes), fsynced, and swapped in with
//      Kafka's protocol: rename .cleaned -> .swap (the .log last: that rename commits), delete the
//      old segments, rename .swap -> live names. Recovery (log-loader.ts) discards .cleaned files and
//      completes a committed swap. The swap is one synchronous step on the event loop, so a read or
//      an append sees either the old segments or the new one.
//
// Record rules (Kafka's, via the RecordBatch v2 codec):
//   superseded (a later offset for the key is in the map)        removed
//   null key (only possible in data written before compaction)   removed, as Kafka does
//   tombstone, latest for its key, timestamp < now - delete.retention.ms   removed
//   anything else                                                kept, at its original offset
// Batches keep their base offset, lastOffsetDelta, producer id/epoch/base sequence, leader epoch,
// timestamps and compression (none or gzip, the codecs this build encodes); only the surviving
// records are re-encoded. A batch whose records are all removed is dropped, except (as an empty
// header-only batch) the last batch of a group, which pins the group's end offset for crash
// recovery, and any batch the idempotent-producer state still caches, so a rebuild of that state from
// the log gives the same answer to a retried batch. Control batches and batches this build cannot
// decode (snappy, lz4, zstd) are kept untouched; tombstones after an undecodable batch are kept too,
// since an older value of the same key may hide inside it.
import type { Logger } from 'pino';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  computeBatchCrc,
  decodeRecordBatch,
  encodeRecordBatch,
  writeInt64At,
} from '@runnel/protocol';
import type { DecodedRecord, DecodedRecordBatch } from '@runnel/protocol';
import { assert } from '@runnel/protocol/invariants';
import { readFrame } from './batch-frame.js';
import type { BatchFrame } from './batch-frame.js';
import type { ScannedBatch } from './batch-scanner.js';
import type { LogConfig } from './config.js';
import { fsyncDir } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import { LogSegment, RELATIVE_OFFSET_MAX } from './log-segment.js';
import type { AppendedBatch } from './log-segment.js';

export const CLEANED_FILE_SUFFIX = '.cleaned';
export const SWAP_FILE_SUFFIX = '.swap';
/** Per partition: the first offset not yet compacted (Kafka keeps one such file per log directory). */
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';
/** Bytes of batches decoded between two yields to the event loop. */
export const CLEAN_SLICE_BYTES_DEFAULT = 1024 * 1024;
/** Kafka's log.cleaner.dedupe.buffer.size is 128 MiB shared by all cleaner threads; one pass here gets 64 MiB. */
export const OFFSET_MAP_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Rough heap cost of one map entry beyond its key bytes (Map slot, string header, number). */
const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 64;
const COMPRESSION_CODEC_MASK = 0x07;

/**
 * The points of the swap protocol between which a crash may stop it; tests make `onSwapStep` throw
 * at one of them to simulate the crash.
 */
export type SwapStep =
  | 'cleaned-written'
  | 'swap-indexes-renamed'
  | 'swap-committed'
  | 'old-segment-deleted'
  | 'old-segments-deleted'
  | 'indexes-in-place'
  | 'swapped';

export interface CleanOptions {
  /** Records older than the high watermark only: committed data is the only data compaction may reason about. */
  highWatermark: number;
  /** What delete.retention.ms and min.compaction.lag.ms are measured from; default the log's clock. */
  nowMs?: number;
  sliceBytes?: number;
  offsetMapBytesMax?: number;
  /** Test seam: called at each step of a segment swap; a throw there is a crash at that point. */
  onSwapStep?: (step: SwapStep) => void;
}

export interface CleanableRange {
  /** Everything below it was compacted by an earlier pass (no key appears twice there). */
  firstDirtyOffset: number;
  /** Exclusive end of what a pass may rewrite now: a segment base offset. */
  cleanableEndOffset: number;
  cleanBytes: number;
  dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes), 0 when nothing is cleanable: what picks the dirtiest log. */
  dirtyRatio: number;
  /** Compaction is on, something is dirty, and the ratio reached min.cleanable.dirty.ratio. */
  needsCleaning: boolean;
}

export interface CleanResult {
  /** Source segments rewritten, and the segments they became. */
  segmentsCleaned: number;
  segmentsWritten: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  firstDirtyOffset: number;
  /** Why the pass stopped early (nothing already swapped is undone), if it did. */
  aborted?: string;
}

/** What the cleaner needs of a PartitionLog; the log implements the swap, which touches its private state. */
export interface CleanerHost {
  readonly dir: string;
  readonly ops: FileOps;
  readonly log: Logger;
  config(): Readonly<LogConfig>;
  segments(): readonly LogSegment[];
  firstDirtyOffset(): number;
  setFirstDirtyOffset(offset: number): void;
  /** Base offsets of the batches the idempotent-producer state caches (they must stay, see above). */
  producerCachedBaseOffsets(): ReadonlySet<number>;
  /** A counter that changes whenever the log is truncated: a map built across a truncation is void. */
  truncationCount(): number;
  /** Why the pass must stop now (closed, failed), or undefined. */
  interruption(): string | undefined;
  /** Replaces `sources` by `cleaned` (see PartitionLog); false, with `cleaned` deleted, if the sources changed meanwhile. */
  swap(sources: readonly LogSegment[], cleaned: LogSegment, onSwapStep: ((step: SwapStep) => void) | undefined): boolean;
}

/** Key -> highest offset seen, bounded by an estimate of its heap cost. Keys are compared byte for byte. */
export class KeyOffsetMap {
  private readonly offsets = new Map<string, number>();
  private memoryBytes = 0;

  constructor(readonly memoryBytesMax: number) {}

  get size(): number {
    return this.offsets.size;
  }

  /** Records `offset` for `key`; false (nothing changed) when a new key would pass the memory bound. */
  put(key: Buffer, offset: number): boolean {
    // latin1 maps each byte to one UTF-16 unit, so distinct keys give distinct strings.
    const id = key.toString('latin1');
    const previous = this.offsets.get(id);
    if (previous === undefined) {
      const cost = key.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES;
      if (this.memoryBytes + cost > this.memoryBytesMax) return false;
      this.memoryBytes += cost;
    }
    if (previous === undefined || offset > previous) this.offsets.set(id, offset);
    return true;
  }

  latestOffset(key: Buffer): number | undefined {
    return this.offsets.get(key.toString('latin1'));
  }
}

interface SegmentBound {
  segment: LogSegment;
  /** Base offset of the next segment: no offset of this segment reaches it. */
  upperBoundOffset: number;
}

/** The cleanable prefix of the log (see step 1) and the bytes the dirty ratio weighs. */
export function cleanableRange(host: CleanerHost, nowMs: number, highWatermark: number): CleanableRange & { segments: SegmentBound[] } {
  const config = host.config();
  const all = host.segments();
  const segments: SegmentBound[] = [];
  for (let i = 0; i < all.length - 1; i++) {
    const segment = all[i] as LogSegment;
    const upperBoundOffset = (all[i + 1] as LogSegment).baseOffset;
    if (upperBoundOffset > highWatermark) break;
    // Kafka's min.compaction.lag.ms: a record stays uncompacted at least this long after it was written.
    if (config.minCompactionLagMs > 0 && segment.sizeBytes > 0 && nowMs - segment.largestTimestampMs() < config.minCompactionLagMs) break;
    segments.push({ segment, upperBoundOffset });
  }
  const logStartOffset = (all[0] as LogSegment).baseOffset;
  const cleanableEndOffset = segments.length === 0 ? logStartOffset : (segments[segments.length - 1] as SegmentBound).upperBoundOffset;
  const firstDirtyOffset = Math.min(Math.max(host.firstDirtyOffset(), logStartOffset), cleanableEndOffset);
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const { segment } of segments) {
    if (segment.baseOffset < firstDirtyOffset) cleanBytes += segment.sizeBytes;
    else dirtyBytes += segment.sizeBytes;
  }
  const total = cleanBytes + dirtyBytes;
  const dirtyRatio = total === 0 ? 0 : dirtyBytes / total;
  const needsCleaning = config.cleanupPolicy !== 'delete' && dirtyBytes > 0 && dirtyRatio >= config.minCleanableDirtyRatio;
  return { firstDirtyOffset, cleanableEndOffset, cleanBytes, dirtyBytes, dirtyRatio, needsCleaning, segments };
}

const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

class PassInterrupted extends Error {}

/** One compaction pass over `host` (see the file comment). Never touches the active segment. */
export async function cleanLog(host: CleanerHost, options: CleanOptions, nowMs: number): Promise<CleanResult> {
  const sliceBytes = options.sliceBytes ?? CLEAN_SLICE_BYTES_DEFAULT;
  const truncations = host.truncationCount();
  const checkInterruption = (): void => {
    const reason = host.interruption() ?? (host.truncationCount() === truncations ? undefined : 'the log was truncated during the pass');
    if (reason !== undefined) throw new PassInterrupted(reason);
  };
  const range = cleanableRange(host, nowMs, options.highWatermark);
  const result: CleanResult = {
    segmentsCleaned: 0,
    segmentsWritten: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    firstDirtyOffset: range.firstDirtyOffset,
  };
  // A pass with nothing dirty still drops tombstones whose delete.retention.ms has passed.
  if (range.segments.length === 0) return result;
  try {
    const map = new KeyOffsetMap(options.offsetMapBytesMax ?? OFFSET_MAP_BYTES_MAX_DEFAULT);
    const mapEndOffset = await buildOffsetMap(host, map, range.firstDirtyOffset, options.highWatermark, sliceBytes, checkInterruption);
    const segments = range.segments.filter((bound) => bound.upperBoundOffset <= mapEndOffset);
    const cleanEndOffset = segments.length === 0 ? undefined : (segments[segments.length - 1] as SegmentBound).upperBoundOffset;
    if (cleanEndOffset === undefined || (mapEndOffset < options.highWatermark && cleanEndOffset <= range.firstDirtyOffset)) {
      return { ...result, aborted: `the offset map (${map.size} keys) filled before the first dirty segment ended` };
    }
    const context: FilterContext = {
      map,
      tombstoneHorizonMs: nowMs - host.config().deleteRetentionMs,
      producerCached: host.producerCachedBaseOffsets(),
      undecodableSeen: false,
    };
    for (const group of groupSegments(segments, host.config().segmentBytes)) {
      checkInterruption();
      const cleaned = await cleanGroup(host, group, context, result, sliceBytes, checkInterruption, options.onSwapStep);
      if (!cleaned) return { ...result, aborted: 'segments changed during the pass (retention or truncation)' };
    }
    host.setFirstDirtyOffset(cleanEndOffset);
    result.firstDirtyOffset = cleanEndOffset;
    return result;
  } catch (err) {
    if (err instanceof PassInterrupted) return { ...result, aborted: err.message };
    throw err;
  }
}

/**
 * Fills `map` from the records in [firstDirtyOffset, highWatermark); returns the offset below which
 * every record is in it (highWatermark unless the map filled up first).
 */
async function buildOffsetMap(host: CleanerHost, map: KeyOffsetMap, firstDirtyOffset: number, highWatermark: number, sliceBytes: number, checkInterruption: () => void): Promise<number> {
  for (const segment of [...host.segments()]) {
    if (segment.nextOffset <= firstDirtyOffset) continue;
    if (segment.baseOffset >= highWatermark) break;
    let position = 0;
    let done = segment.sizeBytes === 0;
    let fullAt: number | undefined;
    let reachedHighWatermark = false;
    // Bounded: each slice advances `position` by at least one batch, or stops the loop.
    while (!done && fullAt === undefined && !reachedHighWatermark) {
      checkInterruption();
      if (segment.isClosed) throw new PassInterrupted(`segment ${segment.baseOffset} was removed during the pass`);
      const slice = segment.scanSlice(position, sliceBytes, (batch) => {
        if (fullAt !== undefined || reachedHighWatermark) return;
        const { frame } = batch;
        if (frame.lastOffset < firstDirtyOffset) return;
        if (frame.lastOffset >= highWatermark) {
          reachedHighWatermark = true;
          return;
        }
        const decoded = tryDecode(batch);
        if (decoded === undefined || decoded.header.attributes.control) return;
        for (const record of decoded.records) {
          if (record.key === null || record.offset < firstDirtyOffset) continue;
          if (!map.put(record.key, record.offset)) {
            // The batch is only partly mapped: the map is complete below its base offset.
            fullAt = frame.baseOffset;
            return;
          }
        }
      });
      if (slice.problem !== undefined) throw new PassInterrupted(`unreadable batch in segment ${segment.baseOffset}: ${slice.problem}`);
      position = slice.nextPosition;
      done = slice.done;
      await yieldToEventLoop();
    }
    if (fullAt !== undefined) {
      host.log.warn({ segment: segment.baseOffset, keys: map.size, memoryBytesMax: map.memoryBytesMax }, 'cleaner offset map is full; cleaning only up to where it is complete');
      return fullAt;
    }
    if (reachedHighWatermark) break;
  }
  return highWatermark;
}

function tryDecode(batch: ScannedBatch): DecodedRecordBatch | undefined {
  try {
    return decodeRecordBatch(batch.buf, batch.bufPosition);
  } catch {
    return undefined;
  }
}

/** Kafka's groupSegmentsBySize: consecutive segments that fit together in one segment (size and int32 relative offsets). */
export function groupSegments<S extends { segment: { baseOffset: number; sizeBytes: number }; upperBoundOffset: number }>(segments: readonly S[], segmentBytes: number): S[][] {
  const groups: S[][] = [];
  let current: S[] = [];
  let currentBytes = 0;
  for (const bound of segments) {
    const first = current[0];
    const fits = first !== undefined && currentBytes + bound.segment.sizeBytes <= segmentBytes && bound.upperBoundOffset - 1 - first.segment.baseOffset <= RELATIVE_OFFSET_MAX;
    if (first !== undefined && !fits) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(bound);
    currentBytes += bound.segment.sizeBytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

interface FilterContext {
  map: KeyOffsetMap;
  tombstoneHorizonMs: number;
  producerCached: ReadonlySet<number>;
  /** Set once a batch could not be decoded: tombstones after it are kept (an older value may hide inside it). */
  undecodableSeen: boolean;
}

/** Rewrites one group into a `.cleaned` segment and swaps it in. False when the sources changed meanwhile. */
async function cleanGroup(
  host: CleanerHost,
  group: readonly SegmentBound[],
  context: FilterContext,
  result: CleanResult,
  sliceBytes: number,
  checkInterruption: () => void,
  onSwapStep: ((step: SwapStep) => void) | undefined,
): Promise<boolean> {
  const first = group[0];
  const last = group[group.length - 1];
  assert(first !== undefined && last !== undefined, 'empty cleaner group');
  const config = host.config();
  const cleaned = LogSegment.create(host.dir, first.segment.baseOffset, config.indexIntervalBytes, host.ops, CLEANED_FILE_SUFFIX);
  let swapped = false;
  // Once the swap starts, a failure is a crash inside it: the files are recovery's to finish or discard.
  let swapStarted = false;
  try {
    let bytesBefore = 0;
    let recordsRemoved = 0;
    let tombstonesRemoved = 0;
    for (const { segment } of group) {
      bytesBefore += segment.sizeBytes;
      let position = 0;
      let done = segment.sizeBytes === 0;
      // Bounded: each slice advances `position` by at least one batch.
      while (!done) {
        checkInterruption();
        if (segment.isClosed) throw new PassInterrupted(`segment ${segment.baseOffset} was removed during the pass`);
        const pieces: Buffer[] = [];
        const frames: AppendedBatch[] = [];
        let piecesBytes = 0;
        const keep = (bytes: Buffer, frame: BatchFrame): void => {
          frames.push({ frame, bufPosition: piecesBytes });
          pieces.push(bytes);
          piecesBytes += bytes.length;
        };
        const slice = segment.scanSlice(position, sliceBytes, (batch) => {
          const lastOfGroup = segment === last.segment && batch.position + batch.frame.sizeBytes === segment.sizeBytes;
          const retainEmpty = lastOfGroup || (batch.frame.producerId >= 0 && context.producerCached.has(batch.frame.baseOffset));
          const outcome = filterBatch(batch, context, retainEmpty);
          recordsRemoved += outcome.recordsRemoved;
          tombstonesRemoved += outcome.tombstonesRemoved;
          if (outcome.bytes !== undefined) keep(outcome.bytes, outcome.frame);
        });
        if (slice.problem !== undefined) throw new PassInterrupted(`unreadable batch in segment ${segment.baseOffset}: ${slice.problem}`);
        if (pieces.length > 0) cleaned.append(Buffer.concat(pieces, piecesBytes), frames);
        position = slice.nextPosition;
        done = slice.done;
        await yieldToEventLoop();
      }
    }
    cleaned.onBecomeInactive();
    // Durable before the swap commits, and off the event loop: a whole segment may be a lot to sync.
    await cleaned.flush();
    await fsyncDir(host.ops, host.dir);
    checkInterruption();
    const bytesAfter = cleaned.sizeBytes;
    swapStarted = true;
    swapped = host.swap(group.map((bound) => bound.segment), cleaned, onSwapStep);
    if (!swapped) {
      swapStarted = false;
      return false;
    }
    result.segmentsCleaned += group.length;
    result.segmentsWritten += 1;
    result.bytesBefore += bytesBefore;
    result.bytesAfter += bytesAfter;
    result.recordsRemoved += recordsRemoved;
    result.tombstonesRemoved += tombstonesRemoved;
    host.log.info(
      { baseOffset: first.segment.baseOffset, upperBoundOffset: last.upperBoundOffset, sources: group.length, bytesBefore, bytesAfter, recordsRemoved, tombstonesRemoved },
      'compacted log segments',
    );
    return true;
  } finally {
    // A pass stopped before the swap leaves nothing behind.
    if (!swapStarted) cleaned.deleteFiles();
    else if (!swapped) cleaned.close();
  }
}

interface FilterOutcome {
  /** The batch to write (the original bytes, a rewrite, or an empty header), or undefined to drop it. */
  bytes?: Buffer;
  frame: BatchFrame;
  recordsRemoved: number;
  tombstonesRemoved: number;
}

/** Applies the record rules (file comment) to one batch. */
export function filterBatch(batch: ScannedBatch, context: FilterContext, retainEmpty: boolean): FilterOutcome {
  const { frame } = batch;
  const original = batch.buf.subarray(batch.bufPosition, batch.bufPosition + frame.sizeBytes);
  const unchanged: FilterOutcome = { bytes: original, frame, recordsRemoved: 0, tombstonesRemoved: 0 };
  if (frame.control) return unchanged;
  const decoded = tryDecode(batch);
  if (decoded === undefined) {
    context.undecodableSeen = true;
    return unchanged;
  }
  const kept: DecodedRecord[] = [];
  let tombstonesRemoved = 0;
  for (const record of decoded.records) {
    const verdict = recordVerdict(record, context);
    if (verdict === 'keep') kept.push(record);
    else if (verdict === 'expired-tombstone') tombstonesRemoved++;
  }
  const recordsRemoved = decoded.records.length - kept.length;
  if (recordsRemoved === 0) return unchanged;
  if (kept.length === 0) {
    if (!retainEmpty) return { frame, recordsRemoved, tombstonesRemoved };
    const bytes = emptyBatchLike(original);
    return { bytes, frame: frameOf(bytes), recordsRemoved, tombstonesRemoved };
  }
  const bytes = reencode(decoded, kept, original);
  return { bytes, frame: frameOf(bytes), recordsRemoved, tombstonesRemoved };
}

function recordVerdict(record: DecodedRecord, context: FilterContext): 'keep' | 'superseded' | 'expired-tombstone' {
  if (record.key === null) return 'superseded';
  const latest = context.map.latestOffset(record.key);
  if (latest !== undefined && latest > record.offset) return 'superseded';
  if (record.value === null && record.timestamp < context.tombstoneHorizonMs && !context.undecodableSeen) return 'expired-tombstone';
  return 'keep';
}

/** The surviving records as a batch with the original's header fields, offsets and compression. */
function reencode(decoded: DecodedRecordBatch, kept: readonly DecodedRecord[], original: Buffer): Buffer {
  const { header } = decoded;
  const compression = header.attributes.compression;
  assert(compression === 'none' || compression === 'gzip', `decoded a batch compressed with ${compression}`);
  const bytes = encodeRecordBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    transactional: header.attributes.transactional,
    timestampType: header.attributes.timestampType,
    compression,
    baseTimestamp: header.baseTimestamp,
    records: kept.map((record) => ({
      key: record.key,
      value: record.value,
      headers: record.headers,
      timestamp: record.timestamp,
      offsetDelta: record.offset - header.baseOffset,
    })),
  });
  // Kafka keeps lastOffsetDelta (so the producer's sequence range and the batch's offset range stay
  // what they were) and the max timestamp (retention, the time index and LogAppendTime read it).
  bytes.writeInt32BE(original.readInt32BE(LAST_OFFSET_DELTA_OFFSET), LAST_OFFSET_DELTA_OFFSET);
  writeInt64At(bytes, MAX_TIMESTAMP_OFFSET, header.maxTimestamp);
  bytes.writeUInt32BE(computeBatchCrc(bytes, 0) >>> 0, CRC_OFFSET);
  return bytes;
}

/** The original header with no records (and no compression, since there is nothing to compress). */
function emptyBatchLike(original: Buffer): Buffer {
  const bytes = Buffer.from(original.subarray(0, BATCH_HEADER_SIZE));
  bytes.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  bytes.writeInt16BE(bytes.readInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_CODEC_MASK, ATTRIBUTES_OFFSET);
  bytes.writeInt32BE(0, RECORD_COUNT_OFFSET);
  bytes.writeUInt32BE(computeBatchCrc(bytes, 0) >>> 0, CRC_OFFSET);
  return bytes;
}

function frameOf(bytes: Buffer): BatchFrame {
  const frame = readFrame(bytes, 0, bytes.length);
  assert(typeof frame !== 'string', `the cleaner wrote a malformed batch: ${String(frame)}`);
  return frame;
}

/** Null keys cannot be compacted (Kafka refuses them on a compacted topic): the first such record's offset delta, or undefined. */
export function nullKeyProblem(buf: Buffer, position: number): { codeName: 'INVALID_RECORD' | 'CORRUPT_MESSAGE' | 'UNSUPPORTED_COMPRESSION_TYPE' | 'MESSAGE_TOO_LARGE'; message: string } | undefined {
  let decoded: DecodedRecordBatch;
  try {
    decoded = decodeRecordBatch(buf, position);
  } catch (err) {
    const codeName = (err as { codeName?: string }).codeName;
    const known = codeName === 'CORRUPT_MESSAGE' || codeName === 'UNSUPPORTED_COMPRESSION_TYPE' || codeName === 'MESSAGE_TOO_LARGE' ? codeName : 'CORRUPT_MESSAGE';
    return { codeName: known, message: `a compacted topic must decode every record to check its key: ${(err as Error).message}` };
  }
  const index = decoded.records.findIndex((record) => record.key === null);
  if (index < 0) return undefined;
  return { codeName: 'INVALID_RECORD', message: `compacted topic cannot accept a record without a key (record ${index} of the batch)` };
}
