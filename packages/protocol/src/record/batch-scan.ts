import { BATCH_HEADER_SIZE, BATCH_LENGTH_MIN, BATCH_LENGTH_OFFSET, LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V2, tryReadBatchHeader } from './batch-header.js';
import type { BatchErrorCodeName, BatchHeader } from './batch-header.js';
import { validateBatch } from './batch-validation.js';

export interface ScannedBatch {
  kind: 'batch';
  /** Absolute position of the batch in the scanned buffer. */
  position: number;
  sizeBytes: number;
  header: BatchHeader;
}

/**
 * Why a scan stopped before the end of the buffer. 'torn': the last batch is cut short (a crash
 * mid-write), so everything from `position` on is an incomplete append. 'corrupt': the bytes at
 * `position` are a complete-looking batch that fails its checks (bad magic, length or CRC).
 * Recovery truncates at `position` in both cases; the kind is for the log line.
 */
export interface BatchScanStop {
  kind: 'torn' | 'corrupt';
  position: number;
  /** Bytes from `position` to the end of the scanned window. */
  availableBytes: number;
  codeName: BatchErrorCodeName;
  message: string;
}

export type BatchScanEntry = ScannedBatch | BatchScanStop;

export interface IterateBatchesOptions {
  /** Where the first batch starts. Default 0. */
  position?: number;
  /** End of the window to scan (exclusive). Default buf.length. */
  end?: number;
  /**
   * Check every batch's CRC (default true). Recovery needs it; a caller re-reading bytes it just
   * validated (building an index) can skip the hashing.
   */
  verifyCrc?: boolean;
  /** A batch larger than this counts as corrupt. Default: any size an int32 batchLength allows. */
  maxBatchBytes?: number;
}

/**
 * Walks batches laid end to end (a segment file, a fetch response) by batchLength alone, never
 * decoding records. Yields each good batch, and at most one final BatchScanStop when the bytes
 * stop making sense before the window ends. The loop advances by at least BATCH_HEADER_SIZE per
 * batch, so it is bounded by window / 61 iterations.
 */
export function* iterateBatches(buf: Buffer, options: IterateBatchesOptions = {}): Generator<BatchScanEntry, void, undefined> {
  const end = options.end ?? buf.length;
  let position = options.position ?? 0;
  if (!Number.isInteger(position) || !Number.isInteger(end) || position < 0 || end > buf.length || position > end) {
    throw new RangeError(`scan window [${position}, ${end}) is outside a buffer of ${buf.length} bytes`);
  }
  const verifyCrc = options.verifyCrc ?? true;
  const maxBatchBytes = options.maxBatchBytes ?? Number.MAX_SAFE_INTEGER;
  const window = end === buf.length ? buf : buf.subarray(0, end);

  while (position < end) {
    const available = end - position;
    if (available < BATCH_HEADER_SIZE) {
      yield { kind: 'torn', position, availableBytes: available, codeName: 'CORRUPT_MESSAGE', message: `${available} trailing bytes are less than a batch header` };
      return;
    }
    const magic = window.readInt8(position + MAGIC_OFFSET);
    const batchLength = window.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (magic === MAGIC_V2 && batchLength >= BATCH_LENGTH_MIN && batchLength + LOG_OVERHEAD > available) {
      yield {
        kind: 'torn',
        position,
        availableBytes: available,
        codeName: 'CORRUPT_MESSAGE',
        message: `batch declares ${batchLength + LOG_OVERHEAD} bytes but only ${available} remain`,
      };
      return;
    }
    const checked = verifyCrc ? validateBatch(window, position, { maxBatchBytes, origin: 'log' }) : tryReadBatchHeader(window, position);
    if (!checked.ok) {
      yield { kind: 'corrupt', position, availableBytes: available, codeName: checked.codeName, message: checked.message };
      return;
    }
    const header = checked.header;
    if (!verifyCrc && header.sizeBytes > maxBatchBytes) {
      yield { kind: 'corrupt', position, availableBytes: available, codeName: 'MESSAGE_TOO_LARGE', message: `batch of ${header.sizeBytes} bytes exceeds ${maxBatchBytes}` };
      return;
    }
    yield { kind: 'batch', position, sizeBytes: header.sizeBytes, header };
    position += header.sizeBytes;
  }
}

export interface BatchScan {
  batches: ScannedBatch[];
  /** Absolute position just past the last good batch: where recovery truncates. */
  validEndPosition: number;
  /** Why the scan stopped early, or null when the window holds only whole, valid batches. */
  stop: BatchScanStop | null;
}

/** iterateBatches collected into one result, for callers that want the truncation point. */
export function scanBatches(buf: Buffer, options: IterateBatchesOptions = {}): BatchScan {
  const batches: ScannedBatch[] = [];
  let validEndPosition = options.position ?? 0;
  let stop: BatchScanStop | null = null;
  for (const entry of iterateBatches(buf, options)) {
    if (entry.kind === 'batch') {
      batches.push(entry);
      validEndPosition = entry.position + entry.sizeBytes;
    } else {
      stop = entry;
    }
  }
  return { batches, validEndPosition, stop };
}
