// Kafka RecordBatch v2 codec: varints, batch header access for the opaque append path
// (read, validate, stamp, scan), and full batch encode/decode for clients and tests.

export {
  VARINT_BYTES_MAX,
  VARLONG_BYTES_MAX,
  INT32_MIN,
  INT32_MAX,
  isInt32,
  sizeOfVarint,
  sizeOfVarlong,
  sizeOfVarlongBigInt,
  writeVarintAt,
  writeVarlongAt,
  writeVarlongBigIntAt,
  encodeVarint,
  encodeVarlong,
} from './varint.js';
export { ByteReader, decodeVarint, decodeVarlong, decodeVarlongBigInt } from './byte-reader.js';
export { ByteWriter, WRITER_CAPACITY_BYTES_MAX, readInt64At, writeInt64At } from './byte-writer.js';
export {
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  MAGIC_OFFSET,
  CRC_OFFSET,
  ATTRIBUTES_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  BASE_SEQUENCE_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  BATCH_LENGTH_MIN,
  MAGIC_V2,
  RECORD_SIZE_MIN,
  NO_TIMESTAMP,
  NO_PRODUCER_ID,
  NO_PRODUCER_EPOCH,
  NO_SEQUENCE,
  COMPRESSION_CODECS,
  encodeAttributes,
  decodeAttributes,
  tryReadBatchHeader,
  readBatchHeader,
  stampBatch,
  computeBatchCrc,
} from './batch-header.js';
export type { BatchAttributes, BatchErrorCodeName, BatchHeader, CompressionCodec, HeaderParse, TimestampType } from './batch-header.js';
export { validateBatch } from './batch-validation.js';
export type { BatchOrigin, BatchValidation, ValidateBatchOptions } from './batch-validation.js';
export { iterateBatches, scanBatches } from './batch-scan.js';
export type { BatchScan, BatchScanEntry, BatchScanStop, IterateBatchesOptions, ScannedBatch } from './batch-scan.js';
export { encodeRecordBatch, decodeRecordBatch, NO_PARTITION_LEADER_EPOCH, DECOMPRESSED_BYTES_MAX_DEFAULT } from './record-batch.js';
export type {
  DecodeRecordBatchOptions,
  DecodedRecord,
  DecodedRecordBatch,
  EncodeRecordBatchInput,
  RecordHeader,
  RecordHeaderInput,
  RecordInput,
} from './record-batch.js';
