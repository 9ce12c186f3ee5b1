import { describe, expect, it } from 'vitest';
import { BATCH_HEADER_SIZE, stampBatch } from './batch-header.js';
import { iterateBatches, scanBatches } from './batch-scan.js';
import { encodeRecordBatch } from './record-batch.js';

function segment(batchCount: number): { buf: Buffer; sizes: number[] } {
  const batches: Buffer[] = [];
  let nextOffset = 0;
  for (let b = 0; b < batchCount; b++) {
    const recordCount = b + 1;
    const batch = encodeRecordBatch({
      records: Array.from({ length: recordCount }, (_, i) => ({ key: null, value: Buffer.from(`batch ${b} record ${i}`), timestamp: 1000 + b })),
    });
    stampBatch(batch, 0, nextOffset, 1);
    nextOffset += recordCount;
    batches.push(batch);
  }
  return { buf: Buffer.concat(batches), sizes: batches.map((b) => b.length) };
}

describe('iterateBatches', () => {
  it('walks concatenated batches by batchLength and reports their positions and headers', () => {
    const { buf, sizes } = segment(3);
    const entries = [...iterateBatches(buf)];
    expect(entries.map((e) => e.kind)).toEqual(['batch', 'batch', 'batch']);
    expect(entries.map((e) => e.position)).toEqual([0, sizes[0], (sizes[0] as number) + (sizes[1] as number)]);
    expect(entries.map((e) => (e.kind === 'batch' ? e.header.baseOffset : -1))).toEqual([0, 1, 3]);
    expect(scanBatches(buf)).toMatchObject({ validEndPosition: buf.length, stop: null });
  });

  it('stops at a tail shorter than a header and reports it as torn', () => {
    const { buf } = segment(3);
    const next = segment(1).buf;
    const torn = Buffer.concat([buf, next.subarray(0, 30)]);
    const scan = scanBatches(torn);
    expect(scan.batches).toHaveLength(3);
    expect(scan.validEndPosition).toBe(buf.length);
    expect(scan.stop).toMatchObject({ kind: 'torn', position: buf.length, availableBytes: 30 });
  });

  it('stops at a batch whose header is whole but whose body is cut short, and reports it as torn', () => {
    const { buf } = segment(2);
    const next = segment(1).buf;
    const torn = Buffer.concat([buf, next.subarray(0, BATCH_HEADER_SIZE + 3)]);
    const scan = scanBatches(torn);
    expect(scan.batches).toHaveLength(2);
    expect(scan.stop).toMatchObject({ kind: 'torn', position: buf.length, codeName: 'CORRUPT_MESSAGE' });
  });

  it('reports a batch missing only its last byte as torn, not corrupt', () => {
    const { buf, sizes } = segment(2);
    const scan = scanBatches(buf.subarray(0, buf.length - 1));
    expect(scan.batches).toHaveLength(1);
    expect(scan.stop).toMatchObject({ kind: 'torn', position: sizes[0], availableBytes: (sizes[1] as number) - 1 });
  });

  it('stops at the first batch whose CRC fails and reports it as corrupt', () => {
    const { buf, sizes } = segment(3);
    const second = sizes[0] as number;
    buf[second + 70] = (buf[second + 70] as number) ^ 0x04;
    const scan = scanBatches(buf);
    expect(scan.batches).toHaveLength(1);
    expect(scan.validEndPosition).toBe(second);
    expect(scan.stop).toMatchObject({ kind: 'corrupt', position: second, codeName: 'CORRUPT_MESSAGE' });
  });

  it('stops at zero-filled space after the last batch (a file extended but never written)', () => {
    const { buf } = segment(2);
    const scan = scanBatches(Buffer.concat([buf, Buffer.alloc(4096)]));
    expect(scan.batches).toHaveLength(2);
    expect(scan.validEndPosition).toBe(buf.length);
    expect(scan.stop?.kind).toBe('corrupt');
  });

  it('skips CRC hashing when asked, trusting bytes it already validated', () => {
    const { buf, sizes } = segment(3);
    const at = (sizes[0] as number) + 70;
    buf[at] = (buf[at] as number) ^ 0x04;
    expect(scanBatches(buf, { verifyCrc: false }).batches).toHaveLength(3);
  });

  it('treats a batch above maxBatchBytes as corrupt', () => {
    const { buf, sizes } = segment(3);
    const limit = Math.max(sizes[0] as number, sizes[1] as number);
    const scan = scanBatches(buf, { maxBatchBytes: limit });
    expect(scan.batches).toHaveLength(2);
    expect(scan.stop).toMatchObject({ kind: 'corrupt', codeName: 'MESSAGE_TOO_LARGE' });
  });

  it('scans only the window it is given', () => {
    const { buf, sizes } = segment(3);
    const first = sizes[0] as number;
    const second = sizes[1] as number;
    const scan = scanBatches(buf, { position: first, end: first + second });
    expect(scan.batches.map((b) => b.position)).toEqual([first]);
    expect(scan.validEndPosition).toBe(first + second);
    expect(scan.stop).toBeNull();
    expect(() => scanBatches(buf, { position: 0, end: buf.length + 1 })).toThrow(RangeError);
  });

  it('yields nothing for an empty buffer', () => {
    expect(scanBatches(Buffer.alloc(0))).toEqual({ batches: [], validEndPosition: 0, stop: null });
  });
});
