import { crc32c } from '../crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_MIN,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODECS,
  CRC_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAGIC_V2,
  RECORD_SIZE_MIN,
  tryReadBatchHeader,
} from './batch-header.js';
import type { BatchErrorCodeName, BatchHeader, CompressionCodec } from './batch-header.js';

/**
 * Who wrote the batch. 'client' applies Kafka's LogValidator rules for produced batches (at least
 * one record, recordCount === lastOffsetDelta + 1, no control batches, an idempotent batch has a
 * base sequence). 'log' is for bytes Runnel already accepted once (replica fetch, segment
 * recovery), where Kafka only requires structural validity: a compacted batch may hold fewer
 * records than its offset range, or none.
 */
export type BatchOrigin = 'client' | 'log';

export interface ValidateBatchOptions {
  /** Kafka's max.message.bytes: the largest whole batch (header included) accepted. */
  maxBatchBytes: number;
  /** Defaults to 'client', the produce path: strict is the safe default for untrusted bytes. */
  origin?: BatchOrigin;
  /**
   * Codecs accepted. Defaults to all five Kafka defines: the broker stores batches opaquely and
   * never decompresses them, so it can accept codecs this codec cannot decode.
   */
  supportedCompression?: readonly CompressionCodec[];
}

export type BatchValidation =
  | { ok: true; header: BatchHeader }
  | { ok: false; codeName: BatchErrorCodeName; message: string };

function reject(codeName: BatchErrorCodeName, message: string): BatchValidation {
  return { ok: false, codeName, message };
}

/**
 * Checks the batch at `position` without decoding its records: the broker's produce-path check.
 * Order follows Kafka (UnifiedLog.analyzeAndValidateRecords, LogValidator): framing, size limit
 * before the CRC so an oversized batch is not hashed, CRC before any attribute is trusted, then the
 * offset/count rules. Bytes after the batch are not examined: header.sizeBytes tells the caller
 * where it ends.
 */
export function validateBatch(buf: Buffer, position: number, options: ValidateBatchOptions): BatchValidation {
  const origin = options.origin ?? 'client';
  const available = buf.length - position;
  if (available < BATCH_HEADER_SIZE) {
    return reject('CORRUPT_MESSAGE', `batch needs at least ${BATCH_HEADER_SIZE} bytes, got ${Math.max(0, available)}`);
  }
  const magic = buf.readInt8(position + MAGIC_OFFSET);
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (magic === MAGIC_V2) {
    if (batchLength < BATCH_LENGTH_MIN) {
      return reject('CORRUPT_MESSAGE', `batchLength ${batchLength} is below the ${BATCH_LENGTH_MIN}-byte minimum`);
    }
    if (batchLength + LOG_OVERHEAD > available) {
      return reject('CORRUPT_MESSAGE', `batchLength ${batchLength} declares ${batchLength + LOG_OVERHEAD} bytes but only ${available} are present`);
    }
    if (batchLength + LOG_OVERHEAD > options.maxBatchBytes) {
      return reject('MESSAGE_TOO_LARGE', `batch of ${batchLength + LOG_OVERHEAD} bytes exceeds the ${options.maxBatchBytes}-byte limit`);
    }
    const end = position + LOG_OVERHEAD + batchLength;
    const storedCrc = buf.readUInt32BE(position + CRC_OFFSET);
    const actualCrc = crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, end));
    if (storedCrc !== actualCrc) {
      return reject('CORRUPT_MESSAGE', `batch CRC mismatch: stored 0x${hex32(storedCrc)}, computed 0x${hex32(actualCrc)}`);
    }
  }
  // With a wrong magic this reports it (INVALID_RECORD for legacy 0/1, CORRUPT_MESSAGE otherwise).
  const parsed = tryReadBatchHeader(buf, position);
  if (!parsed.ok) return parsed;
  const header = parsed.header;

  const supported = options.supportedCompression ?? COMPRESSION_CODECS;
  if (!supported.includes(header.attributes.compression)) {
    return reject('UNSUPPORTED_COMPRESSION_TYPE', `compression ${header.attributes.compression} is not accepted (accepted: ${supported.join(', ')})`);
  }

  const countProblem = origin === 'client' ? clientBatchProblem(header) : logBatchProblem(header);
  if (countProblem !== null) return reject('INVALID_RECORD', countProblem);

  if (header.attributes.compression === 'none' && header.recordCount * RECORD_SIZE_MIN > header.batchLength - BATCH_LENGTH_MIN) {
    return reject('CORRUPT_MESSAGE', `recordCount ${header.recordCount} cannot fit in ${header.batchLength - BATCH_LENGTH_MIN} bytes of uncompressed records`);
  }
  return { ok: true, header };
}

/** Kafka's LogValidator.validateBatch for AppendOrigin.CLIENT, in its order. */
function clientBatchProblem(header: BatchHeader): string | null {
  const countFromOffsets = header.lastOffsetDelta + 1;
  if (countFromOffsets <= 0) return `batch has an invalid offset range: lastOffsetDelta ${header.lastOffsetDelta}`;
  if (header.recordCount <= 0) return `invalid reported count for record batch: ${header.recordCount}`;
  if (countFromOffsets !== header.recordCount) {
    return `inconsistent batch offset range (lastOffsetDelta ${header.lastOffsetDelta}) and count of records ${header.recordCount}`;
  }
  if (header.attributes.control) return 'clients are not allowed to write control records';
  if (header.producerId >= 0 && header.baseSequence < 0) {
    return `invalid sequence number ${header.baseSequence} in record batch with producerId ${header.producerId}`;
  }
  return null;
}

function logBatchProblem(header: BatchHeader): string | null {
  if (header.recordCount < 0) return `invalid reported count for record batch: ${header.recordCount}`;
  if (header.recordCount === 0) return null;
  if (header.lastOffsetDelta < 0) return `batch of ${header.recordCount} records has negative lastOffsetDelta ${header.lastOffsetDelta}`;
  // Compaction may drop records but never adds offsets, so the count is bounded by the range.
  if (header.recordCount > header.lastOffsetDelta + 1) {
    return `recordCount ${header.recordCount} exceeds the ${header.lastOffsetDelta + 1} offsets the batch spans`;
  }
  return null;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
