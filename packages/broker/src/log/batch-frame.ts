// The one seam between the log and the RecordBatch v2 codec: the log only ever needs the framing
// fields of a batch header (never its records), so everything it reads goes through here.
import { ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, computeBatchCrc, stampBatch, tryReadBatchHeader } from '@runnel/protocol';

export { BATCH_HEADER_SIZE, LOG_OVERHEAD };
const TIMESTAMP_TYPE_LOG_APPEND_TIME = 0x08;

export interface BatchFrame {
  baseOffset: number;
  lastOffset: number;
  /** Whole batch size in bytes, header included (batchLength + LOG_OVERHEAD). */
  sizeBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  maxTimestamp: number;
  /** -1 unless the batch comes from an idempotent producer; then the next three fields are its sequence. */
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
  /** Transaction markers: no records of a producer, so they never move its sequence. */
  control: boolean;
}

/**
 * Reads the framing of the batch at `position`, or returns why it is not a plausible batch. The
 * checks are the ones that keep a scan from running off into garbage; the CRC is checked separately
 * because it costs a pass over the whole batch.
 */
export function readFrame(buf: Buffer, position: number, bytesAvailable: number): BatchFrame | string {
  if (bytesAvailable < BATCH_HEADER_SIZE) return `only ${bytesAvailable} bytes left, a batch header needs ${BATCH_HEADER_SIZE}`;
  const parsed = tryReadBatchHeader(buf, position);
  if (!parsed.ok) return parsed.message;
  const header = parsed.header;
  if (header.sizeBytes > bytesAvailable) return `batch of ${header.sizeBytes} bytes but only ${bytesAvailable} bytes left`;
  if (header.lastOffsetDelta < 0) return `negative lastOffsetDelta ${header.lastOffsetDelta}`;
  return {
    baseOffset: header.baseOffset,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    sizeBytes: header.sizeBytes,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    magic: header.magic,
    crc: header.crc,
    maxTimestamp: header.maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    lastOffsetDelta: header.lastOffsetDelta,
    control: header.attributes.control,
  };
}

export function crcMatches(buf: Buffer, position: number, frame: BatchFrame): boolean {
  return computeBatchCrc(buf, position) >>> 0 === frame.crc;
}

export function stampFrame(buf: Buffer, position: number, baseOffset: number, leaderEpoch: number): void {
  stampBatch(buf, position, baseOffset, leaderEpoch);
}

/**
 * Kafka's LogAppendTime: the broker owns the timestamp, so it sets the timestamp-type bit and the max
 * timestamp. Both sit inside the CRC'd range, so (unlike stamping) this costs a CRC recomputation.
 */
export function setLogAppendTime(buf: Buffer, position: number, nowMs: number): void {
  const attributes = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_LOG_APPEND_TIME, position + ATTRIBUTES_OFFSET);
  buf.writeBigInt64BE(BigInt(nowMs), position + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, position) >>> 0, position + CRC_OFFSET);
}
