import * as fs from 'node:fs';
import { BATCH_HEADER_SIZE, crcMatches, readFrame } from './batch-frame.js';
import type { BatchFrame } from './batch-frame.js';

export interface ScannedBatch {
  /** Position of the batch in the file. */
  position: number;
  frame: BatchFrame;
  /** Bytes holding the batch at `bufPosition` (its header always; the whole batch if asked for). */
  buf: Buffer;
  bufPosition: number;
}

export interface ScanOptions {
  /** Read whole batches and check their CRC32C (recovery); otherwise headers are enough. */
  verifyCrc: boolean;
  /** Read-ahead size; one read covers many small batches. */
  chunkBytes: number;
  /**
   * Only headers are wanted (no CRC): after a batch at least `bodySkipMinBytes` long, read just the
   * next header instead of a whole chunk, so a scan of large batches does not copy their bodies.
   */
  bodySkipMinBytes?: number;
}

export interface ScanOutcome {
  /** Position after the last batch that passed every check (and that `visit` accepted). */
  validEndPosition: number;
  /** Why the scan stopped before `endPosition`, if it did for a reason other than `visit`. */
  problem?: string;
}

/**
 * Walks the batches of a .log file between two positions, reading in chunks so a scan of many small
 * batches costs a few large reads. `visit` returns false to stop early. Stops at the first batch
 * whose framing or CRC is wrong: everything from there on is a torn or corrupt tail.
 */
export function scanBatches(
  fd: number,
  startPosition: number,
  endPosition: number,
  options: ScanOptions,
  visit: (batch: ScannedBatch) => boolean,
): ScanOutcome {
  let chunk = Buffer.alloc(0);
  let chunkStart = startPosition;
  const bodySkipMinBytes = options.verifyCrc ? Number.POSITIVE_INFINITY : (options.bodySkipMinBytes ?? Number.POSITIVE_INFINITY);
  let previousBatchBytes = 0;
  const refill = (from: number, wantBytes: number): void => {
    const readAheadBytes = previousBatchBytes >= bodySkipMinBytes ? BATCH_HEADER_SIZE : options.chunkBytes;
    const length = Math.min(Math.max(wantBytes, readAheadBytes), endPosition - from);
    const buf = Buffer.allocUnsafe(length);
    const n = fs.readSync(fd, buf, 0, length, from);
    chunk = n === length ? buf : buf.subarray(0, n);
    chunkStart = from;
  };
  let position = startPosition;
  // Bounded: each iteration advances `position` by a batch size >= BATCH_HEADER_SIZE or returns.
  while (position < endPosition) {
    if (chunkStart + chunk.length - position < BATCH_HEADER_SIZE) refill(position, BATCH_HEADER_SIZE);
    const inChunk = chunkStart + chunk.length - position;
    if (inChunk < BATCH_HEADER_SIZE) {
      return { validEndPosition: position, problem: `torn batch header: ${endPosition - position} bytes at position ${position}` };
    }
    const frame = readFrame(chunk, position - chunkStart, endPosition - position);
    if (typeof frame === 'string') return { validEndPosition: position, problem: `${frame} at position ${position}` };
    if (options.verifyCrc) {
      if (chunkStart + chunk.length - position < frame.sizeBytes) refill(position, frame.sizeBytes);
      if (chunkStart + chunk.length - position < frame.sizeBytes) {
        return { validEndPosition: position, problem: `short read of a ${frame.sizeBytes}-byte batch at position ${position}` };
      }
      if (!crcMatches(chunk, position - chunkStart, frame)) {
        return { validEndPosition: position, problem: `CRC mismatch in the batch at offset ${frame.baseOffset}, position ${position}` };
      }
    }
    if (!visit({ position, frame, buf: chunk, bufPosition: position - chunkStart })) return { validEndPosition: position };
    position += frame.sizeBytes;
    previousBatchBytes = frame.sizeBytes;
  }
  return { validEndPosition: position };
}
