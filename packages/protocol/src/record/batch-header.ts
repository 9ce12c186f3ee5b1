// The 61-byte header of a Kafka RecordBatch v2 (magic 2), per Kafka's "Message Format" docs and
// DefaultRecordBatch. All integers big-endian.
//
//   offset  size  field
//        0     8  baseOffset            \ log overhead (12 bytes): stamped by the leader,
//        8     4  batchLength            > outside the CRC, so stamping needs no recompute
//       12     4  partitionLeaderEpoch  /  (partitionLeaderEpoch likewise)
//       16     1  magic (2)
//       17     4  crc (uint32 CRC-32C of bytes 21 .. end of batch)
//       21     2  attributes            bits 0-2 codec, 3 timestamp type, 4 transactional,
//                                       5 control, 6 has delete horizon
//       23     4  lastOffsetDelta
//       27     8  baseTimestamp
//       35     8  maxTimestamp
//       43     8  producerId
//       51     2  producerEpoch
//       53     4  baseSequence
//       57     4  recordCount
//       61        records (compressed together when the codec is not none)
//
// batchLength counts the bytes after itself, so a batch occupies batchLength + 12 bytes.

import { RunnelError } from '../errors.js';
import { crc32c } from '../crc32c.js';
import { readInt64At, writeInt64At } from './byte-writer.js';
import { isInt32 } from './varint.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the bytes of a batch that batchLength does not count. */
export const LOG_OVERHEAD = 12;
/** The smallest legal batchLength: a header with no records. */
export const BATCH_LENGTH_MIN = BATCH_HEADER_SIZE - LOG_OVERHEAD;
export const MAGIC_V2 = 2;
/**
 * The smallest encoded record: length, attributes, timestampDelta, offsetDelta, keyLength,
 * valueLength and headerCount at one byte each. Lets a validator reject an uncompressed batch whose
 * recordCount cannot fit in its bytes without decoding a single record.
 */
export const RECORD_SIZE_MIN = 7;
/** Kafka's RecordBatch.NO_TIMESTAMP, NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE. */
export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;

const COMPRESSION_CODEC_MASK = 0x07;
const TIMESTAMP_TYPE_MASK = 0x08;
const TRANSACTIONAL_MASK = 0x10;
const CONTROL_MASK = 0x20;
const DELETE_HORIZON_MASK = 0x40;

export type CompressionCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type TimestampType = 'create' | 'log-append';

/** Index = the codec id in attribute bits 0-2. Ids 5-7 are unassigned in Kafka. */
export const COMPRESSION_CODECS: readonly CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface BatchAttributes {
  compression: CompressionCodec;
  timestampType: TimestampType;
  transactional: boolean;
  control: boolean;
  hasDeleteHorizon: boolean;
}

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: 2;
  /** Unsigned, as stored. */
  crc: number;
  attributes: BatchAttributes;
  /** The raw int16, for re-encoding bits Runnel does not interpret (7-15). */
  attributesRaw: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  /** batchLength + 12: the bytes the whole batch occupies. */
  sizeBytes: number;
}

export function encodeAttributes(attributes: Partial<BatchAttributes>): number {
  const codecId = COMPRESSION_CODECS.indexOf(attributes.compression ?? 'none');
  if (codecId < 0) throw new RangeError(`unknown compression codec ${String(attributes.compression)}`);
  return (
    codecId |
    (attributes.timestampType === 'log-append' ? TIMESTAMP_TYPE_MASK : 0) |
    (attributes.transactional === true ? TRANSACTIONAL_MASK : 0) |
    (attributes.control === true ? CONTROL_MASK : 0) |
    (attributes.hasDeleteHorizon === true ? DELETE_HORIZON_MASK : 0)
  );
}

/** The decoded attributes, or null when bits 0-2 name a codec Kafka never assigned (5-7). */
export function decodeAttributes(raw: number): BatchAttributes | null {
  const compression = COMPRESSION_CODECS[raw & COMPRESSION_CODEC_MASK];
  if (compression === undefined) return null;
  return {
    compression,
    timestampType: (raw & TIMESTAMP_TYPE_MASK) !== 0 ? 'log-append' : 'create',
    transactional: (raw & TRANSACTIONAL_MASK) !== 0,
    control: (raw & CONTROL_MASK) !== 0,
    hasDeleteHorizon: (raw & DELETE_HORIZON_MASK) !== 0,
  };
}

export type BatchErrorCodeName = 'CORRUPT_MESSAGE' | 'INVALID_RECORD' | 'MESSAGE_TOO_LARGE' | 'UNSUPPORTED_COMPRESSION_TYPE';

export type HeaderParse = { ok: true; header: BatchHeader } | { ok: false; codeName: BatchErrorCodeName; message: string };

function fail(codeName: BatchErrorCodeName, message: string): { ok: false; codeName: BatchErrorCodeName; message: string } {
  return { ok: false, codeName, message };
}

/**
 * Parses the 61 header bytes at `position` without throwing. Needs only the header, not the whole
 * batch, so a scan can tell a torn batch (header present, body cut short) from a corrupt one.
 */
export function tryReadBatchHeader(buf: Buffer, position = 0): HeaderParse {
  if (!Number.isInteger(position) || position < 0) throw new RangeError(`position must be a non-negative integer, got ${position}`);
  if (buf.length - position < BATCH_HEADER_SIZE) {
    return fail('CORRUPT_MESSAGE', `batch header needs ${BATCH_HEADER_SIZE} bytes at position ${position}, only ${Math.max(0, buf.length - position)} available`);
  }
  const magic = buf.readInt8(position + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) {
    // Kafka reads magic 0 and 1 as the legacy message formats, which produce v3+ refuses with
    // INVALID_RECORD; any other value is not a format at all (Kafka: "Invalid magic found").
    return magic === 0 || magic === 1
      ? fail('INVALID_RECORD', `batch at position ${position} has legacy magic ${magic}: only RecordBatch v2 (magic 2) is accepted`)
      : fail('CORRUPT_MESSAGE', `batch at position ${position} has invalid magic ${magic}`);
  }
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_LENGTH_MIN) {
    return fail('CORRUPT_MESSAGE', `batch at position ${position} declares batchLength ${batchLength}, below the ${BATCH_LENGTH_MIN}-byte minimum`);
  }
  const baseOffset = readInt64At(buf, position + BASE_OFFSET_OFFSET);
  if (baseOffset === null || baseOffset < 0) {
    return fail('CORRUPT_MESSAGE', `batch at position ${position} has baseOffset outside [0, 2^53-1]`);
  }
  const attributesRaw = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  const attributes = decodeAttributes(attributesRaw);
  if (attributes === null) {
    return fail('UNSUPPORTED_COMPRESSION_TYPE', `batch at position ${position} uses unknown compression codec id ${attributesRaw & COMPRESSION_CODEC_MASK}`);
  }
  const baseTimestamp = readInt64At(buf, position + BASE_TIMESTAMP_OFFSET);
  const maxTimestamp = readInt64At(buf, position + MAX_TIMESTAMP_OFFSET);
  const producerId = readInt64At(buf, position + PRODUCER_ID_OFFSET);
  if (baseTimestamp === null || maxTimestamp === null || producerId === null) {
    // Millisecond timestamps and broker-assigned producer ids stay far below 2^53; beyond it the
    // bytes are garbage, not a value worth carrying as bigint.
    return fail('CORRUPT_MESSAGE', `batch at position ${position} has a timestamp or producerId outside the safe integer range`);
  }
  return {
    ok: true,
    header: {
      baseOffset,
      batchLength,
      partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
      magic: MAGIC_V2,
      crc: buf.readUInt32BE(position + CRC_OFFSET),
      attributes,
      attributesRaw,
      lastOffsetDelta: buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET),
      baseTimestamp,
      maxTimestamp,
      producerId,
      producerEpoch: buf.readInt16BE(position + PRODUCER_EPOCH_OFFSET),
      baseSequence: buf.readInt32BE(position + BASE_SEQUENCE_OFFSET),
      recordCount: buf.readInt32BE(position + RECORD_COUNT_OFFSET),
      sizeBytes: batchLength + LOG_OVERHEAD,
    },
  };
}

/**
 * Reads the header at `position`. Throws a RunnelError (CORRUPT_MESSAGE, INVALID_RECORD for legacy
 * magic, UNSUPPORTED_COMPRESSION_TYPE for codec ids 5-7) when the header bytes cannot be a v2
 * header. Does not check the CRC or that the whole batch is present: see validateBatch.
 */
export function readBatchHeader(buf: Buffer, position = 0): BatchHeader {
  const parsed = tryReadBatchHeader(buf, position);
  if (!parsed.ok) throw new RunnelError(parsed.codeName, parsed.message, { details: { position } });
  return parsed.header;
}

/**
 * Writes baseOffset and partitionLeaderEpoch into the batch at `position` in place. Both lie
 * before the CRC'd range, so the CRC stays valid: this is the leader's whole per-batch write cost
 * on the append path.
 */
export function stampBatch(buf: Buffer, position: number, baseOffset: number, partitionLeaderEpoch: number): void {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new RangeError(`baseOffset must be in [0, 2^53-1], got ${baseOffset}`);
  if (!isInt32(partitionLeaderEpoch)) throw new RangeError(`partitionLeaderEpoch must be an int32, got ${partitionLeaderEpoch}`);
  if (buf.length - position < BATCH_HEADER_SIZE) throw new RangeError(`no batch header at position ${position} of a ${buf.length}-byte buffer`);
  writeInt64At(buf, position + BASE_OFFSET_OFFSET, baseOffset);
  buf.writeInt32BE(partitionLeaderEpoch, position + PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * CRC-32C of the batch at `position` from attributes to its end, as the crc field should hold it.
 * Throws CORRUPT_MESSAGE when the buffer holds less than the declared batch.
 */
export function computeBatchCrc(buf: Buffer, position = 0): number {
  if (buf.length - position < BATCH_HEADER_SIZE) {
    throw new RunnelError('CORRUPT_MESSAGE', `batch header needs ${BATCH_HEADER_SIZE} bytes at position ${position}`, { details: { position } });
  }
  const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
  const end = position + LOG_OVERHEAD + batchLength;
  if (batchLength < BATCH_LENGTH_MIN || end > buf.length) {
    throw new RunnelError('CORRUPT_MESSAGE', `batch at position ${position} declares batchLength ${batchLength}, but the buffer holds ${buf.length - position - LOG_OVERHEAD}`, {
      details: { position },
    });
  }
  return crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, end));
}
