import { describe, expect, it } from 'vitest';
import { ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, RECORDS_OFFSET, readBatchHeader, stampBatch } from './batch-header.js';
import { validateBatch } from './batch-validation.js';
import { decodeRecordBatch, encodeRecordBatch } from './record-batch.js';
import type { RecordInput } from './record-batch.js';
import { GOLDEN_BATCH_HEX, GOLDEN_TIMESTAMP_MS, expectRunnelError, goldenBatch, refreshCrc } from './__tests__/fixtures.js';

const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const str = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

function withCodec(batch: Buffer, codecId: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeInt16BE((copy.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | codecId, ATTRIBUTES_OFFSET);
  return refreshCrc(copy);
}

describe('encodeRecordBatch', () => {
  it('produces the hand-built golden batch byte for byte', () => {
    const batch = encodeRecordBatch({
      records: [{ key: text('key'), value: text('value'), headers: [{ key: 'h', value: text('v') }], timestamp: GOLDEN_TIMESTAMP_MS }],
    });
    expect(batch.toString('hex')).toBe(GOLDEN_BATCH_HEX);
  });

  it('writes producer id, epoch, sequence, transactional bit and stamped fields into the header', () => {
    const batch = encodeRecordBatch({
      baseOffset: 500,
      partitionLeaderEpoch: 9,
      producerId: 42,
      producerEpoch: 3,
      baseSequence: 17,
      transactional: true,
      records: [
        { key: null, value: text('a'), timestamp: 1000 },
        { key: null, value: text('b'), timestamp: 3000 },
        { key: null, value: text('c'), timestamp: 2000 },
      ],
    });
    expect(readBatchHeader(batch)).toMatchObject({
      baseOffset: 500,
      partitionLeaderEpoch: 9,
      producerId: 42,
      producerEpoch: 3,
      baseSequence: 17,
      attributes: { compression: 'none', transactional: true, control: false },
      lastOffsetDelta: 2,
      baseTimestamp: 1000,
      maxTimestamp: 3000,
      recordCount: 3,
      sizeBytes: batch.length,
    });
    expect(validateBatch(batch, 0, { maxBatchBytes: 1_000_000 }).ok).toBe(true);
  });

  it('uses baseTimestamp for records without a timestamp, and -1 when nothing gives one', () => {
    const based = decodeRecordBatch(encodeRecordBatch({ baseTimestamp: 77, records: [{ key: null, value: null }, { key: null, value: null, timestamp: 80 }] }));
    expect(based.records.map((r) => r.timestamp)).toEqual([77, 80]);
    const none = decodeRecordBatch(encodeRecordBatch({ records: [{ key: null, value: null }] }));
    expect(none.header.baseTimestamp).toBe(-1);
    expect(none.records[0]?.timestamp).toBe(-1);
  });

  it('refuses inputs that cannot be encoded as a valid batch', () => {
    expect(() => encodeRecordBatch({ records: [] })).toThrow(RangeError);
    expect(() => encodeRecordBatch({ records: [{ key: null, value: null, offsetDelta: 1 }, { key: null, value: null, offsetDelta: 1 }] })).toThrow(RangeError);
    expect(() => encodeRecordBatch({ records: [{ key: null, value: null }], compression: 'snappy' as 'gzip' })).toThrow(RangeError);
    expect(() => encodeRecordBatch({ records: [{ key: null, value: null, timestamp: 2 ** 53 }] })).toThrow(RangeError);
    expect(() => encodeRecordBatch({ records: [{ key: null, value: null }], producerEpoch: 40000 })).toThrow(RangeError);
  });
});

describe('decodeRecordBatch', () => {
  it('decodes the golden batch', () => {
    const { header, records } = decodeRecordBatch(goldenBatch());
    expect(header.recordCount).toBe(1);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record?.offset).toBe(0);
    expect(record?.timestamp).toBe(GOLDEN_TIMESTAMP_MS);
    expect(str(record?.key ?? null)).toBe('key');
    expect(str(record?.value ?? null)).toBe('value');
    expect(record?.headers.map((h) => [h.key, str(h.value)])).toEqual([['h', 'v']]);
  });

  it('keeps null and empty keys, values and header values apart', () => {
    const batch = encodeRecordBatch({
      records: [
        { key: null, value: null, timestamp: 1 },
        { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: 1 },
        { key: text('k'), value: null, headers: [{ key: '', value: null }, { key: 'e', value: Buffer.alloc(0) }], timestamp: 1 },
      ],
    });
    const { records } = decodeRecordBatch(batch);
    expect(records.map((r) => [r.key === null ? null : r.key.length, r.value === null ? null : r.value.length])).toEqual([
      [null, null],
      [0, 0],
      [1, null],
    ]);
    expect(records[2]?.headers.map((h) => [h.key, h.value === null ? null : h.value.length])).toEqual([
      ['', null],
      ['e', 0],
    ]);
  });

  it('round-trips multi-byte UTF-8 header keys and binary values', () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { records } = decodeRecordBatch(
      encodeRecordBatch({ records: [{ key: binary, value: binary, headers: [{ key: 'ключ-🔑', value: binary }], timestamp: 9 }] }),
    );
    expect(records[0]?.headers[0]?.key).toBe('ключ-🔑');
    expect(records[0]?.headers[0]?.value?.equals(binary)).toBe(true);
    expect(records[0]?.key?.equals(binary)).toBe(true);
  });

  it('round-trips many records with offsets from the stamped baseOffset and negative timestamp deltas', () => {
    const count = 1000;
    const base = 1_700_000_000_000;
    const input: RecordInput[] = Array.from({ length: count }, (_, i) => ({
      key: text(`key-${i}`),
      value: text('v'.repeat(i % 300)),
      headers: i % 3 === 0 ? [{ key: `h${i}`, value: text(String(i)) }] : [],
      // Wanders below and above the first timestamp, as records from a retried send do.
      timestamp: base + ((i * 7919) % 5000) - 2500,
    }));
    const batch = encodeRecordBatch({ records: input });
    stampBatch(batch, 0, 2 ** 40, 4);
    const { header, records } = decodeRecordBatch(batch);
    expect(header.lastOffsetDelta).toBe(count - 1);
    expect(header.maxTimestamp).toBe(Math.max(...input.map((r) => r.timestamp as number)));
    expect(records).toHaveLength(count);
    records.forEach((record, i) => {
      const expected = input[i] as RecordInput;
      expect(record.offset).toBe(2 ** 40 + i);
      expect(record.timestamp).toBe(expected.timestamp);
      expect(str(record.key)).toBe(`key-${i}`);
      expect(record.value?.length).toBe(i % 300);
      expect(record.headers.map((h) => [h.key, str(h.value)])).toEqual((expected.headers ?? []).map((h) => [h.key, str(h.value as Buffer)]));
    });
  });

  it('honours explicit offset deltas (a compacted batch) and reports the sparse range', () => {
    const batch = encodeRecordBatch({
      baseOffset: 10,
      records: [0, 2, 5].map((offsetDelta) => ({ key: text(String(offsetDelta)), value: null, offsetDelta, timestamp: 1 })),
    });
    const { header, records } = decodeRecordBatch(batch);
    expect(header.lastOffsetDelta).toBe(5);
    expect(records.map((r) => r.offset)).toEqual([10, 12, 15]);
    expect(validateBatch(batch, 0, { maxBatchBytes: 10_000 })).toMatchObject({ ok: false, codeName: 'INVALID_RECORD' });
    expect(validateBatch(batch, 0, { maxBatchBytes: 10_000, origin: 'log' }).ok).toBe(true);
  });

  it('gives every record of a log-append-time batch the batch maxTimestamp, as Kafka does', () => {
    const batch = encodeRecordBatch({
      timestampType: 'log-append',
      records: [
        { key: null, value: null, timestamp: 100 },
        { key: null, value: null, timestamp: 300 },
      ],
    });
    const { header, records } = decodeRecordBatch(batch);
    expect(header.attributes.timestampType).toBe('log-append');
    expect(records.map((r) => r.timestamp)).toEqual([300, 300]);
  });

  it('reads a batch at a non-zero position of a larger buffer', () => {
    const buf = Buffer.concat([Buffer.alloc(13), goldenBatch(), Buffer.alloc(5)]);
    expect(decodeRecordBatch(buf, 13).records).toHaveLength(1);
  });

  it('throws CORRUPT_MESSAGE on a CRC mismatch and on a truncated batch', () => {
    const flipped = goldenBatch();
    flipped[70] = (flipped[70] as number) ^ 0x80;
    expect(expectRunnelError(() => decodeRecordBatch(flipped), 'CORRUPT_MESSAGE').code).toBe(2);
    expectRunnelError(() => decodeRecordBatch(goldenBatch().subarray(0, 70)), 'CORRUPT_MESSAGE');
  });

  it('throws INVALID_RECORD on wrong magic', () => {
    const legacy = goldenBatch();
    legacy.writeInt8(1, 16);
    expectRunnelError(() => decodeRecordBatch(legacy), 'INVALID_RECORD');
  });

  describe('records that pass the CRC but are malformed', () => {
    it('rejects a record whose length overstates its fields', () => {
      const buf = goldenBatch();
      buf[RECORDS_OFFSET] = 0x26; // 19 instead of 18
      expectRunnelError(() => decodeRecordBatch(refreshCrc(buf)), 'CORRUPT_MESSAGE');
    });

    it('rejects a key length that runs past the record', () => {
      const buf = goldenBatch();
      buf[RECORDS_OFFSET + 4] = 0x7e; // keyLength 63
      expectRunnelError(() => decodeRecordBatch(refreshCrc(buf)), 'CORRUPT_MESSAGE');
    });

    it('rejects a key length below -1', () => {
      const buf = goldenBatch();
      buf[RECORDS_OFFSET + 4] = 0x03; // keyLength -2
      expectRunnelError(() => decodeRecordBatch(refreshCrc(buf)), 'CORRUPT_MESSAGE');
    });

    it('rejects bytes left over after recordCount records', () => {
      const buf = Buffer.concat([goldenBatch(), Buffer.from([0x00])]);
      buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
      expectRunnelError(() => decodeRecordBatch(refreshCrc(buf)), 'CORRUPT_MESSAGE');
    });

    it('rejects a header count that cannot fit in the record', () => {
      const buf = goldenBatch();
      buf[RECORDS_OFFSET + 14] = 0x14; // headerCount 10 in a 4-byte remainder
      expectRunnelError(() => decodeRecordBatch(refreshCrc(buf)), 'CORRUPT_MESSAGE');
    });
  });
});

describe('gzip batches', () => {
  const records: RecordInput[] = Array.from({ length: 200 }, (_, i) => ({
    key: text(`user-${i % 10}`),
    value: text(`{"event":"click","page":"/home","n":${i}}`),
    headers: [{ key: 'trace', value: text('abc') }],
    timestamp: 1_700_000_000_000 + i,
  }));

  it('compress the records section only and round-trip', () => {
    const plain = encodeRecordBatch({ records });
    const gzipped = encodeRecordBatch({ records, compression: 'gzip' });
    const header = readBatchHeader(gzipped);
    expect(header.attributes.compression).toBe('gzip');
    expect(header.recordCount).toBe(200);
    expect(gzipped.subarray(RECORDS_OFFSET, RECORDS_OFFSET + 2).toString('hex')).toBe('1f8b');
    expect(gzipped.length).toBeLessThan(plain.length / 2);
    expect(validateBatch(gzipped, 0, { maxBatchBytes: 1_000_000, supportedCompression: ['none', 'gzip'] }).ok).toBe(true);

    const fromGzip = decodeRecordBatch(gzipped).records;
    const fromPlain = decodeRecordBatch(plain).records;
    expect(fromGzip.map((r) => [r.offset, r.timestamp, str(r.key), str(r.value), r.headers.length])).toEqual(
      fromPlain.map((r) => [r.offset, r.timestamp, str(r.key), str(r.value), r.headers.length]),
    );
  });

  it('reject a gzip payload that does not inflate with CORRUPT_MESSAGE', () => {
    const gzipped = encodeRecordBatch({ records, compression: 'gzip' });
    gzipped[RECORDS_OFFSET + 20] = (gzipped[RECORDS_OFFSET + 20] as number) ^ 0xff;
    expectRunnelError(() => decodeRecordBatch(refreshCrc(gzipped)), 'CORRUPT_MESSAGE');
  });

  it('stop inflating at decompressedBytesMax with MESSAGE_TOO_LARGE', () => {
    const bomb = encodeRecordBatch({ records: [{ key: null, value: Buffer.alloc(1_000_000), timestamp: 1 }], compression: 'gzip' });
    expect(bomb.length).toBeLessThan(10_000);
    expectRunnelError(() => decodeRecordBatch(bomb, 0, { decompressedBytesMax: 100_000 }), 'MESSAGE_TOO_LARGE');
    expect(decodeRecordBatch(bomb).records[0]?.value?.length).toBe(1_000_000);
  });
});

describe('codecs without a decoder', () => {
  it.each([
    [2, 'snappy'],
    [3, 'lz4'],
    [4, 'zstd'],
  ])('a batch with codec id %d (%s) fails with UNSUPPORTED_COMPRESSION_TYPE (76), not a crash', (codecId, name) => {
    const batch = withCodec(encodeRecordBatch({ records: [{ key: null, value: text('x'), timestamp: 1 }], compression: 'gzip' }), codecId);
    expect(readBatchHeader(batch).attributes.compression).toBe(name);
    const error = expectRunnelError(() => decodeRecordBatch(batch), 'UNSUPPORTED_COMPRESSION_TYPE');
    expect(error.code).toBe(76);
  });
});
