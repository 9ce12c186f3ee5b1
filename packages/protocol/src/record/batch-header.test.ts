import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  computeBatchCrc,
  decodeAttributes,
  encodeAttributes,
  readBatchHeader,
  stampBatch,
} from './batch-header.js';
import { validateBatch } from './batch-validation.js';
import { encodeRecordBatch } from './record-batch.js';
import { GOLDEN_TIMESTAMP_MS, expectRunnelError, goldenBatch, refreshCrc } from './__tests__/fixtures.js';

describe('batch header layout', () => {
  it('places every field at the offset Kafka DefaultRecordBatch uses', () => {
    expect([
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
    ]).toEqual([0, 8, 12, 16, 17, 21, 23, 27, 35, 43, 51, 53, 57, 61]);
    expect(BATCH_HEADER_SIZE).toBe(61);
  });

  it('reads every field of the hand-built golden batch', () => {
    expect(readBatchHeader(goldenBatch())).toEqual({
      baseOffset: 0,
      batchLength: 68,
      partitionLeaderEpoch: -1,
      magic: 2,
      crc: 0x83794a1d,
      attributes: { compression: 'none', timestampType: 'create', transactional: false, control: false, hasDeleteHorizon: false },
      attributesRaw: 0,
      lastOffsetDelta: 0,
      baseTimestamp: GOLDEN_TIMESTAMP_MS,
      maxTimestamp: GOLDEN_TIMESTAMP_MS,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 1,
      sizeBytes: 80,
    });
  });

  it('reads a header at a non-zero position', () => {
    const buf = Buffer.concat([Buffer.alloc(7, 0xaa), goldenBatch()]);
    expect(readBatchHeader(buf, 7).sizeBytes).toBe(80);
    expect(computeBatchCrc(buf, 7)).toBe(0x83794a1d);
  });

  it('computes the CRC-32C the golden batch carries', () => {
    expect(computeBatchCrc(goldenBatch())).toBe(0x83794a1d);
  });

  it('decodes each attribute bit as the spec assigns it', () => {
    expect(decodeAttributes(0b0100_0000)?.hasDeleteHorizon).toBe(true);
    expect(decodeAttributes(0b0010_0000)?.control).toBe(true);
    expect(decodeAttributes(0b0001_0000)?.transactional).toBe(true);
    expect(decodeAttributes(0b0000_1000)?.timestampType).toBe('log-append');
    expect([0, 1, 2, 3, 4].map((id) => decodeAttributes(id)?.compression)).toEqual(['none', 'gzip', 'snappy', 'lz4', 'zstd']);
    expect(decodeAttributes(5)).toBeNull();
    expect(encodeAttributes({ compression: 'zstd', timestampType: 'log-append', transactional: true, control: true, hasDeleteHorizon: true })).toBe(0x7c);
  });

  it('throws CORRUPT_MESSAGE for a header shorter than 61 bytes', () => {
    expectRunnelError(() => readBatchHeader(goldenBatch().subarray(0, 60)), 'CORRUPT_MESSAGE');
  });

  it('throws when baseOffset does not fit in a safe integer', () => {
    const buf = goldenBatch();
    buf.writeBigInt64BE(2n ** 53n, BASE_OFFSET_OFFSET);
    expectRunnelError(() => readBatchHeader(buf), 'CORRUPT_MESSAGE');
  });

  it('throws UNSUPPORTED_COMPRESSION_TYPE for an unassigned codec id', () => {
    const buf = goldenBatch();
    buf.writeInt16BE(6, ATTRIBUTES_OFFSET);
    expectRunnelError(() => readBatchHeader(buf), 'UNSUPPORTED_COMPRESSION_TYPE');
  });
});

describe('stampBatch', () => {
  it('writes baseOffset and partitionLeaderEpoch and leaves the CRC valid', () => {
    const buf = goldenBatch();
    const bigOffset = 2 ** 40 + 12345;
    stampBatch(buf, 0, bigOffset, 7);
    const header = readBatchHeader(buf);
    expect(header.baseOffset).toBe(bigOffset);
    expect(header.partitionLeaderEpoch).toBe(7);
    expect(header.crc).toBe(0x83794a1d);
    expect(buf.readBigInt64BE(0)).toBe(BigInt(bigOffset));
    expect(validateBatch(buf, 0, { maxBatchBytes: 1024 }).ok).toBe(true);
  });

  it('stamps a batch in the middle of a buffer without touching its neighbours', () => {
    const batch = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x'), timestamp: 5 }] });
    const buf = Buffer.concat([batch, batch, batch]);
    stampBatch(buf, batch.length, 100, 3);
    expect(readBatchHeader(buf, 0).baseOffset).toBe(0);
    expect(readBatchHeader(buf, batch.length).baseOffset).toBe(100);
    expect(readBatchHeader(buf, 2 * batch.length).baseOffset).toBe(0);
  });

  it('refuses offsets and epochs the fields cannot hold', () => {
    expect(() => stampBatch(goldenBatch(), 0, -1, 0)).toThrow(RangeError);
    expect(() => stampBatch(goldenBatch(), 0, 2 ** 53, 0)).toThrow(RangeError);
    expect(() => stampBatch(goldenBatch(), 0, 0, 2 ** 31)).toThrow(RangeError);
  });
});

describe('validateBatch', () => {
  const limits = { maxBatchBytes: 1_000_000 };

  it('accepts the golden batch and returns its header', () => {
    const result = validateBatch(goldenBatch(), 0, limits);
    expect(result.ok).toBe(true);
    expect(result.ok && result.header.recordCount).toBe(1);
  });

  it('rejects a flipped bit anywhere in the CRC range with CORRUPT_MESSAGE', () => {
    for (const at of [ATTRIBUTES_OFFSET, RECORD_COUNT_OFFSET + 3, 75, 79]) {
      const buf = goldenBatch();
      buf[at] = (buf[at] as number) ^ 0x01;
      expect(validateBatch(buf, 0, limits)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
    }
  });

  it('rejects a truncated batch with CORRUPT_MESSAGE', () => {
    expect(validateBatch(goldenBatch().subarray(0, 79), 0, limits)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
    expect(validateBatch(goldenBatch().subarray(0, 30), 0, limits)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
  });

  it('rejects a batchLength below the header size with CORRUPT_MESSAGE', () => {
    const buf = goldenBatch();
    buf.writeInt32BE(48, BATCH_LENGTH_OFFSET);
    expect(validateBatch(buf, 0, limits)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
  });

  it('rejects legacy magic 0/1 with INVALID_RECORD and other magic values with CORRUPT_MESSAGE', () => {
    for (const [magic, codeName] of [
      [0, 'INVALID_RECORD'],
      [1, 'INVALID_RECORD'],
      [3, 'CORRUPT_MESSAGE'],
      [-1, 'CORRUPT_MESSAGE'],
    ] as const) {
      const buf = goldenBatch();
      buf.writeInt8(magic, MAGIC_OFFSET);
      expect(validateBatch(buf, 0, limits)).toMatchObject({ ok: false, codeName });
    }
  });

  it('rejects a batch larger than maxBatchBytes with MESSAGE_TOO_LARGE, counting the whole batch', () => {
    expect(validateBatch(goldenBatch(), 0, { maxBatchBytes: 79 })).toMatchObject({ ok: false, codeName: 'MESSAGE_TOO_LARGE' });
    expect(validateBatch(goldenBatch(), 0, { maxBatchBytes: 80 }).ok).toBe(true);
  });

  it('rejects a codec outside supportedCompression with UNSUPPORTED_COMPRESSION_TYPE', () => {
    const buf = goldenBatch();
    buf.writeInt16BE(2, ATTRIBUTES_OFFSET); // snappy
    refreshCrc(buf);
    expect(validateBatch(buf, 0, limits).ok).toBe(true);
    expect(validateBatch(buf, 0, { ...limits, supportedCompression: ['none', 'gzip'] })).toMatchObject({
      ok: false,
      codeName: 'UNSUPPORTED_COMPRESSION_TYPE',
    });
    buf.writeInt16BE(7, ATTRIBUTES_OFFSET);
    refreshCrc(buf);
    expect(validateBatch(buf, 0, limits)).toMatchObject({ ok: false, codeName: 'UNSUPPORTED_COMPRESSION_TYPE' });
  });

  it('reports a bad CRC before an unknown codec, since the attributes are not trusted until the CRC holds', () => {
    const buf = goldenBatch();
    buf.writeInt16BE(7, ATTRIBUTES_OFFSET);
    expect(validateBatch(buf, 0, limits)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
  });

  describe('offset and count rules', () => {
    function withCounts(recordCount: number, lastOffsetDelta: number): Buffer {
      const buf = goldenBatch();
      buf.writeInt32BE(recordCount, RECORD_COUNT_OFFSET);
      buf.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
      return refreshCrc(buf);
    }

    it('a client batch must have recordCount === lastOffsetDelta + 1 (Kafka LogValidator)', () => {
      expect(validateBatch(withCounts(1, 1), 0, limits)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
      expect(validateBatch(withCounts(0, 0), 0, limits)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
      expect(validateBatch(withCounts(0, -1), 0, limits)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
    });

    it('a log batch may hold fewer records than offsets (compaction) or none, never more', () => {
      const log = { ...limits, origin: 'log' as const };
      expect(validateBatch(withCounts(1, 5), 0, log).ok).toBe(true);
      expect(validateBatch(withCounts(0, 5), 0, log).ok).toBe(true);
      expect(validateBatch(withCounts(2, 0), 0, log)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
      expect(validateBatch(withCounts(-1, 0), 0, log)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
    });

    it('rejects an uncompressed recordCount that cannot fit in the batch bytes with CORRUPT_MESSAGE', () => {
      const log = { ...limits, origin: 'log' as const };
      expect(validateBatch(withCounts(3, 1000), 0, log)).toMatchObject({ ok: false, codeName: 'CORRUPT_MESSAGE' });
    });

    it('rejects a control batch and an idempotent batch without a sequence from a client', () => {
      const control = goldenBatch();
      control.writeInt16BE(0x20, ATTRIBUTES_OFFSET);
      expect(validateBatch(refreshCrc(control), 0, limits)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });

      const idempotent = goldenBatch();
      idempotent.writeBigInt64BE(42n, PRODUCER_ID_OFFSET);
      expect(validateBatch(refreshCrc(idempotent), 0, limits)).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
      idempotent.writeInt32BE(0, BASE_SEQUENCE_OFFSET);
      expect(validateBatch(refreshCrc(idempotent), 0, limits).ok).toBe(true);
    });
  });
});
