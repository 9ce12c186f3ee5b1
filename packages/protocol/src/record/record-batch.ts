// Encoding and decoding whole RecordBatch v2 batches, records included. The broker's append path
// never calls this (it validates and stamps opaque bytes, see batch-validation.ts); producers,
// consumers and tests do.
//
// Record grammar (Kafka "Message Format", DefaultRecord), inside the batch after recordCount:
//   length          varint   bytes of the rest of this record
//   attributes      int8     unused, 0
//   timestampDelta  varlong  from baseTimestamp
//   offsetDelta     varint   from baseOffset
//   keyLength       varint   -1 for a null key
//   key             bytes
//   valueLength     varint   -1 for a null value (a tombstone)
//   value           bytes
//   headerCount     varint
//   headers         headerKeyLength varint, headerKey UTF-8, headerValueLength varint (-1 null), value
// With a codec, the records (only) are compressed together; recordCount stays uncompressed.
//
// Compression: gzip uses node:zlib's synchronous calls, which block the event loop for the time
// one batch takes to (de)compress (well under a millisecond for default-sized batches). Move to
// the async zlib API or a worker if profiles show it. snappy, lz4 and zstd batches are recognised
// and refused with UNSUPPORTED_COMPRESSION_TYPE: Node has no built-in codec for them and the
// project takes no native dependency yet.

import { gunzipSync, gzipSync } from 'node:zlib';
import { RunnelError } from '../errors.js';
import { crc32c } from '../crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORD_SIZE_MIN,
  encodeAttributes,
  stampBatch,
} from './batch-header.js';
import type { BatchHeader, TimestampType } from './batch-header.js';
import { validateBatch } from './batch-validation.js';
import { ByteReader } from './byte-reader.js';
import { ByteWriter, writeInt64At } from './byte-writer.js';
import { corruptMessage } from './corrupt.js';
import { INT32_MAX, isInt32, sizeOfVarint, sizeOfVarlong } from './varint.js';

/** Kafka's RecordBatch.NO_PARTITION_LEADER_EPOCH: what a producer sends before the leader stamps it. */
export const NO_PARTITION_LEADER_EPOCH = -1;
/**
 * Default cap on one batch's decompressed records. A gzip stream expands up to ~1000x, so without
 * a cap a 1 MB batch could demand a gigabyte; 64 MiB is far above Kafka's 1 MB default
 * max.message.bytes times realistic ratios.
 */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

export interface RecordHeaderInput {
  key: string;
  value: Uint8Array | null;
}

export interface RecordInput {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeaderInput[];
  /** Milliseconds. Defaults to the batch's baseTimestamp. */
  timestamp?: number;
  /** Defaults to the record's index; must increase strictly when given. */
  offsetDelta?: number;
}

export interface EncodeRecordBatchInput {
  /** Default 0: a producer's batch; the leader stamps the real one on append. */
  baseOffset?: number;
  /** Default -1 (none): the leader stamps it on append. */
  partitionLeaderEpoch?: number;
  records: readonly RecordInput[];
  compression?: 'none' | 'gzip';
  timestampType?: TimestampType;
  /** Default -1: not idempotent. */
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  /**
   * Default: the first record's timestamp, or -1 (NO_TIMESTAMP) when no record has one. Producers
   * pass their clock's time here, so this module never reads a clock itself.
   */
  baseTimestamp?: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  /** Views into the input (or decompressed) buffer, not copies: copy them if that buffer is reused. */
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedRecordBatch {
  header: BatchHeader;
  records: DecodedRecord[];
}

export interface DecodeRecordBatchOptions {
  decompressedBytesMax?: number;
}

function sizeOfBytesField(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

/** Everything the size pass learns, kept so the write pass does not recompute it. */
interface RecordLayout {
  bodySizes: Int32Array;
  headerKeyBytes: number[];
  timestampDeltas: number[];
  offsetDeltas: Int32Array;
  recordsBytes: number;
  maxTimestamp: number;
}

function layoutRecords(records: readonly RecordInput[], baseTimestamp: number): RecordLayout {
  const count = records.length;
  const bodySizes = new Int32Array(count);
  const offsetDeltas = new Int32Array(count);
  const timestampDeltas: number[] = new Array<number>(count);
  const headerKeyBytes: number[] = [];
  let recordsBytes = 0;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  let previousOffsetDelta = -1;
  for (let i = 0; i < count; i++) {
    const record = records[i] as RecordInput;
    const timestamp = record.timestamp ?? baseTimestamp;
    if (!Number.isSafeInteger(timestamp)) throw new RangeError(`record ${i}: timestamp must be a safe integer, got ${timestamp}`);
    const timestampDelta = timestamp - baseTimestamp;
    if (!Number.isSafeInteger(timestampDelta)) throw new RangeError(`record ${i}: timestamp delta ${timestampDelta} is not a safe integer`);
    const offsetDelta = record.offsetDelta ?? i;
    if (!(isInt32(offsetDelta) && offsetDelta > previousOffsetDelta)) throw new RangeError(`record ${i}: offsetDelta must be an int32 above ${previousOffsetDelta}, got ${offsetDelta}`);
    previousOffsetDelta = offsetDelta;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;

    let body = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytesField(record.key) + sizeOfBytesField(record.value);
    const headers = record.headers ?? [];
    body += sizeOfVarint(headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      headerKeyBytes.push(keyBytes);
      body += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytesField(header.value);
    }
    if (body > INT32_MAX) throw new RangeError(`record ${i} is ${body} bytes, above the int32 length limit`);
    bodySizes[i] = body;
    offsetDeltas[i] = offsetDelta;
    timestampDeltas[i] = timestampDelta;
    recordsBytes += sizeOfVarint(body) + body;
  }
  return { bodySizes, headerKeyBytes, timestampDeltas, offsetDeltas, recordsBytes, maxTimestamp };
}

function writeBytesField(writer: ByteWriter, bytes: Uint8Array | null): void {
  if (bytes === null) {
    writer.writeVarint(-1);
  } else {
    writer.writeVarint(bytes.length).writeBytes(bytes);
  }
}

function writeRecords(writer: ByteWriter, records: readonly RecordInput[], layout: RecordLayout): void {
  let headerIndex = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as RecordInput;
    writer
      .writeVarint(layout.bodySizes[i] as number)
      .writeInt8(0)
      .writeVarlong(layout.timestampDeltas[i] as number)
      .writeVarint(layout.offsetDeltas[i] as number);
    writeBytesField(writer, record.key);
    writeBytesField(writer, record.value);
    const headers = record.headers ?? [];
    writer.writeVarint(headers.length);
    for (const header of headers) {
      const keyBytes = layout.headerKeyBytes[headerIndex++] as number;
      writer.writeVarint(keyBytes).writeUtf8(header.key, keyBytes);
      writeBytesField(writer, header.value);
    }
  }
}

/**
 * Encodes a batch, byte for byte as Kafka's MemoryRecordsBuilder would lay it out. One size pass,
 * then one allocation of the exact output size (plus the compressor's own buffer for gzip).
 */
export function encodeRecordBatch(input: EncodeRecordBatchInput): Buffer {
  const records = input.records;
  if (records.length === 0) throw new RangeError('a batch needs at least one record');
  const baseOffset = input.baseOffset ?? 0;
  const partitionLeaderEpoch = input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH;
  const producerId = input.producerId ?? NO_PRODUCER_ID;
  const producerEpoch = input.producerEpoch ?? NO_PRODUCER_EPOCH;
  const baseSequence = input.baseSequence ?? NO_SEQUENCE;
  const compression = input.compression ?? 'none';
  if (!(Number.isSafeInteger(producerId) && producerId >= -1)) throw new RangeError(`producerId must be -1 or a non-negative safe integer, got ${producerId}`);
  if (!(Number.isInteger(producerEpoch) && producerEpoch >= -32768 && producerEpoch <= 32767)) throw new RangeError(`producerEpoch must be an int16, got ${producerEpoch}`);
  if (!isInt32(baseSequence)) throw new RangeError(`baseSequence must be an int32, got ${baseSequence}`);
  if (!(compression === 'none' || compression === 'gzip')) throw new RangeError(`cannot encode compression ${String(compression)}: only none and gzip are built in`);

  const baseTimestamp = input.baseTimestamp ?? records[0]?.timestamp ?? NO_TIMESTAMP;
  if (!Number.isSafeInteger(baseTimestamp)) throw new RangeError(`baseTimestamp must be a safe integer, got ${baseTimestamp}`);
  const layout = layoutRecords(records, baseTimestamp);

  let out: Buffer;
  if (compression === 'none') {
    const writer = new ByteWriter(BATCH_HEADER_SIZE + layout.recordsBytes);
    writer.reserve(BATCH_HEADER_SIZE);
    writeRecords(writer, records, layout);
    out = writer.finish();
  } else {
    const recordsWriter = new ByteWriter(layout.recordsBytes);
    writeRecords(recordsWriter, records, layout);
    const compressed = gzipSync(recordsWriter.finish());
    out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(out, BATCH_HEADER_SIZE);
  }
  if (out.length - LOG_OVERHEAD > INT32_MAX) throw new RangeError(`batch of ${out.length} bytes exceeds the int32 batchLength limit`);

  const lastOffsetDelta = layout.offsetDeltas[records.length - 1] as number;
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  stampBatch(out, 0, baseOffset, partitionLeaderEpoch);
  out.writeInt8(MAGIC_V2, MAGIC_OFFSET);
  out.writeInt16BE(encodeAttributes({ compression, timestampType: input.timestampType ?? 'create', transactional: input.transactional ?? false }), ATTRIBUTES_OFFSET);
  out.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64At(out, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64At(out, MAX_TIMESTAMP_OFFSET, layout.maxTimestamp);
  writeInt64At(out, PRODUCER_ID_OFFSET, producerId);
  out.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  out.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  out.writeInt32BE(records.length, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return out;
}

function decompressRecords(header: BatchHeader, compressed: Buffer, decompressedBytesMax: number, position: number): Buffer {
  const codec = header.attributes.compression;
  switch (codec) {
    case 'none':
      return compressed;
    case 'gzip':
      try {
        return gunzipSync(compressed, { maxOutputLength: decompressedBytesMax });
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new RunnelError('MESSAGE_TOO_LARGE', `gzip batch at position ${position} decompresses to more than ${decompressedBytesMax} bytes`, {
            cause: error,
            details: { position },
          });
        }
        throw new RunnelError('CORRUPT_MESSAGE', `gzip batch at position ${position} does not decompress: ${(error as Error).message}`, {
          cause: error,
          details: { position },
        });
      }
    case 'snappy':
    case 'lz4':
    case 'zstd':
      throw new RunnelError('UNSUPPORTED_COMPRESSION_TYPE', `batch at position ${position} uses ${codec}, which this client cannot decompress (supported: none, gzip)`, {
        details: { position, compression: codec },
      });
    default: {
      const unreachable: never = codec;
      throw new Error(`unhandled codec ${String(unreachable)}`);
    }
  }
}

function readNullableBytes(reader: ByteReader, what: string): Buffer | null {
  const length = reader.readVarint();
  if (length === -1) return null;
  if (length < -1) throw corruptMessage(`${what} has invalid length ${length}`, { position: reader.position });
  return reader.readBytes(length);
}

function readHeaders(reader: ByteReader, recordEnd: number): RecordHeader[] {
  const count = reader.readVarint();
  // Each header takes at least 2 bytes (two 1-byte lengths): a larger count is corrupt, and
  // checking first bounds the loop by the record's size, not by a number from the wire.
  if (count < 0 || count * 2 > recordEnd - reader.position) {
    throw corruptMessage(`record declares ${count} headers in ${recordEnd - reader.position} bytes`, { position: reader.position });
  }
  const headers: RecordHeader[] = new Array<RecordHeader>(count);
  for (let h = 0; h < count; h++) {
    const keyLength = reader.readVarint();
    if (keyLength < 0) throw corruptMessage(`header key has invalid length ${keyLength}`, { position: reader.position });
    const key = reader.readUtf8(keyLength);
    headers[h] = { key, value: readNullableBytes(reader, 'header value') };
  }
  return headers;
}

function readRecords(header: BatchHeader, records: Buffer): DecodedRecord[] {
  const reader = new ByteReader(records);
  const logAppendTime = header.attributes.timestampType === 'log-append';
  const decoded: DecodedRecord[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    const length = reader.readVarint();
    if (length < RECORD_SIZE_MIN - 1 || length > reader.remaining) {
      throw corruptMessage(`record ${i} declares length ${length} with ${reader.remaining} bytes left`, { position: reader.position });
    }
    const recordEnd = reader.position + length;
    reader.readInt8();
    const timestampDelta = reader.readVarlong();
    const offsetDelta = reader.readVarint();
    const key = readNullableBytes(reader, 'record key');
    const value = readNullableBytes(reader, 'record value');
    const headers = readHeaders(reader, recordEnd);
    if (reader.position !== recordEnd) {
      throw corruptMessage(`record ${i} declares ${length} bytes but its fields take ${length + reader.position - recordEnd}`, { position: reader.position });
    }
    // Kafka reports a log-append-time batch's maxTimestamp (the broker's append time) for every record.
    const timestamp = logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
    const offset = header.baseOffset + offsetDelta;
    if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(offset)) {
      throw corruptMessage(`record ${i} has an offset or timestamp outside the safe integer range`, { position: reader.position });
    }
    decoded.push({ offset, timestamp, key, value, headers });
  }
  if (reader.remaining !== 0) {
    throw corruptMessage(`${reader.remaining} bytes follow the batch's ${header.recordCount} records`, { position: reader.position });
  }
  return decoded;
}

/**
 * Decodes the batch at `position`, records included. Validates framing and CRC first (with the
 * lenient 'log' origin rules, so compacted batches decode), then decompresses and parses every
 * record with bounds checks. Throws RunnelError: CORRUPT_MESSAGE for malformed bytes,
 * UNSUPPORTED_COMPRESSION_TYPE for snappy/lz4/zstd, MESSAGE_TOO_LARGE past decompressedBytesMax.
 */
export function decodeRecordBatch(buf: Buffer, position = 0, options: DecodeRecordBatchOptions = {}): DecodedRecordBatch {
  const validation = validateBatch(buf, position, { maxBatchBytes: Number.MAX_SAFE_INTEGER, origin: 'log' });
  if (!validation.ok) throw new RunnelError(validation.codeName, validation.message, { details: { position } });
  const header = validation.header;
  const compressed = buf.subarray(position + BATCH_HEADER_SIZE, position + header.sizeBytes);
  const records = decompressRecords(header, compressed, options.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT, position);
  if (header.recordCount * RECORD_SIZE_MIN > records.length) {
    throw corruptMessage(`recordCount ${header.recordCount} cannot fit in ${records.length} bytes of records`, { position });
  }
  return { header, records: readRecords(header, records) };
}
