import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecordBatch, readBatchHeader } from '@runnel/protocol';
import { ManualClock, capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import { PartitionLog } from './partition-log.js';
import type { LogConfig } from './config.js';

const T0 = 1_700_000_000_000;
let logDir: string;
let open: PartitionLog[];

beforeEach(async () => {
  logDir = await makeTempDir();
  open = [];
});

afterEach(async () => {
  for (const log of open) await log.close();
  await removeDir(logDir);
});

function openLog(config: Partial<LogConfig> = {}, clock = new ManualClock(T0)): PartitionLog {
  const log = PartitionLog.open({ logDir, topic: 'orders', partition: 0, config, clock, logger: capturingLogger().logger });
  open.push(log);
  return log;
}

/** Every record (offset, value) from `from` to the end, reading the way a consumer does. */
function readAll(log: PartitionLog, from: number, maxBytes = 1024 * 1024): Array<{ offset: number; value: string }> {
  const out: Array<{ offset: number; value: string }> = [];
  let offset = from;
  for (let reads = 0; reads < 10_000 && offset < log.logEndOffset; reads++) {
    const result = log.read(offset, maxBytes);
    if (!result.ok) throw result.error;
    let position = 0;
    while (position < result.records.length) {
      const batch = decodeRecordBatch(result.records, position);
      for (const record of batch.records) if (record.offset >= offset) out.push({ offset: record.offset, value: record.value?.toString() ?? '' });
      position += batch.header.sizeBytes;
    }
    expect(result.nextFetchOffset).toBeGreaterThan(offset);
    offset = result.nextFetchOffset;
  }
  return out;
}

describe('PartitionLog append and read', () => {
  it('assigns consecutive offsets and stamps offset and leader epoch into each batch', () => {
    const log = openLog();
    const first = log.append(makeBatch({ recordCount: 3 }), { leaderEpoch: 4 });
    const second = log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 4 });
    expect(first).toMatchObject({ ok: true, baseOffset: 0, lastOffset: 2 });
    expect(second).toMatchObject({ ok: true, baseOffset: 3, lastOffset: 4 });
    expect(log.logEndOffset).toBe(5);
    const read = log.read(3, 1024);
    if (!read.ok) throw read.error;
    const header = readBatchHeader(read.records, 0);
    expect(header.baseOffset).toBe(3);
    expect(header.partitionLeaderEpoch).toBe(4);
    // Stamping sits outside the CRC'd range, so the stored batch still decodes with a valid CRC.
    expect(decodeRecordBatch(read.records).records.map((r) => r.offset)).toEqual([3, 4]);
  });

  it('coalesces several batches given together into one append with contiguous offsets', () => {
    const log = openLog();
    const result = log.append([makeBatch({ recordCount: 2 }), makeBatch({ recordCount: 5 }), makeBatch({ recordCount: 1 })], { leaderEpoch: 0 });
    expect(result).toMatchObject({ ok: true, baseOffset: 0, lastOffset: 7 });
    expect(readAll(log, 0).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('round-trips every record across many segment rolls', () => {
    const log = openLog({ segmentBytes: 2048, indexIntervalBytes: 256 });
    const expected: string[] = [];
    for (let i = 0; i < 120; i++) {
      const batch = makeBatch({ recordCount: 3, valueBytes: 40, tag: `b${i}` });
      expect(log.append(batch, { leaderEpoch: 1 }).ok).toBe(true);
      for (let r = 0; r < 3; r++) expected.push(`b${i}-${r}-`.padEnd(40, 'x'));
    }
    expect(log.segmentInfos().length).toBeGreaterThan(5);
    for (const segment of log.segmentInfos()) expect(segment.sizeBytes).toBeLessThanOrEqual(2048);
    const records = readAll(log, 0, 700);
    expect(records.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
    expect(records.map((r) => r.value)).toEqual(expected);
  });

  it('reading from an offset in the middle of a batch returns that whole batch', () => {
    const log = openLog({ indexIntervalBytes: 64 });
    for (let i = 0; i < 20; i++) log.append(makeBatch({ recordCount: 5 }), { leaderEpoch: 0 });
    const result = log.read(37, 10_000);
    if (!result.ok) throw result.error;
    expect(result.firstBatchOffset).toBe(35);
    expect(readBatchHeader(result.records, 0).baseOffset).toBe(35);
    expect(result.nextFetchOffset).toBe(100);
  });

  it('returns only whole batches within maxBytes, and one oversized first batch unless told not to', () => {
    const log = openLog();
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = makeBatch({ recordCount: 2, valueBytes: 100 });
      sizes.push(batch.length);
      log.append(batch, { leaderEpoch: 0 });
    }
    const size = sizes[0] as number;
    const twoAndAHalf = log.read(0, Math.floor(size * 2.5));
    if (!twoAndAHalf.ok) throw twoAndAHalf.error;
    expect(twoAndAHalf.records.length).toBe(size * 2);
    expect(twoAndAHalf.nextFetchOffset).toBe(4);

    const tiny = log.read(2, 10);
    if (!tiny.ok) throw tiny.error;
    expect(tiny.records.length).toBe(size);
    expect(tiny.nextFetchOffset).toBe(4);

    const none = log.read(2, 10, log.logEndOffset, { minOneBatch: false });
    if (!none.ok) throw none.error;
    expect(none.records.length).toBe(0);
  });

  it('never returns a batch reaching maxOffsetExclusive (the high watermark)', () => {
    const log = openLog();
    for (let i = 0; i < 5; i++) log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 0 });
    const result = log.read(0, 1 << 20, 6);
    if (!result.ok) throw result.error;
    expect(result.nextFetchOffset).toBe(6);
    const atHw = log.read(6, 1 << 20, 6);
    expect(atHw).toMatchObject({ ok: true, nextFetchOffset: 6 });
    if (atHw.ok) expect(atHw.records.length).toBe(0);
    // A batch straddling the limit is held back even though it starts below it.
    const straddling = log.read(6, 1 << 20, 7);
    if (!straddling.ok) throw straddling.error;
    expect(straddling.records.length).toBe(0);
  });

  it('answers OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset] and empty at the end', () => {
    const log = openLog();
    log.append(makeBatch({ recordCount: 3 }), { leaderEpoch: 0 });
    const beyond = log.read(4, 1024);
    expect(beyond.ok).toBe(false);
    if (!beyond.ok) {
      expect(beyond.error.codeName).toBe('OFFSET_OUT_OF_RANGE');
      expect(beyond.logEndOffset).toBe(3);
    }
    expect(log.read(-1, 1024)).toMatchObject({ ok: false, logStartOffset: 0 });
    const atEnd = log.read(3, 1024);
    expect(atEnd).toMatchObject({ ok: true, nextFetchOffset: 3 });
  });

  it('rejects oversized, malformed and stale-epoch appends without changing the log', () => {
    const log = openLog({ maxMessageBytes: 200 });
    log.append(makeBatch(), { leaderEpoch: 3 });
    const big = log.append(makeBatch({ recordCount: 10, valueBytes: 50 }), { leaderEpoch: 3 });
    expect(big).toMatchObject({ ok: false });
    if (!big.ok) expect(big.error.codeName).toBe('MESSAGE_TOO_LARGE');
    const torn = log.append(makeBatch().subarray(0, 40), { leaderEpoch: 3 });
    if (torn.ok) throw new Error('a torn batch was accepted');
    expect(torn.error.codeName).toBe('CORRUPT_MESSAGE');
    const stale = log.append(makeBatch(), { leaderEpoch: 2 });
    if (stale.ok) throw new Error('a stale epoch was accepted');
    expect(stale.error.codeName).toBe('FENCED_LEADER_EPOCH');
    expect(log.logEndOffset).toBe(1);
  });

  it('with LogAppendTime overwrites the max timestamp with the broker clock and keeps the CRC valid', () => {
    const clock = new ManualClock(T0 + 5_000);
    const log = openLog({ messageTimestampType: 'LogAppendTime' }, clock);
    const result = log.append(makeBatch({ timestampMs: T0 }), { leaderEpoch: 0 });
    expect(result).toMatchObject({ ok: true, logAppendTimeMs: T0 + 5_000 });
    const read = log.read(0, 1024);
    if (!read.ok) throw read.error;
    const decoded = decodeRecordBatch(read.records);
    expect(decoded.header.maxTimestamp).toBe(T0 + 5_000);
    expect(decoded.header.attributes.timestampType).toBe('log-append');
  });

  it('follower appends keep the leader offsets and epochs and must continue the log', () => {
    const leader = openLog();
    leader.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 1 });
    leader.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 2 });
    const fetched = leader.read(0, 1 << 20);
    if (!fetched.ok) throw fetched.error;
    const follower = PartitionLog.open({ logDir, topic: 'orders', partition: 1, logger: capturingLogger().logger });
    open.push(follower);
    expect(follower.appendAsFollower(fetched.records)).toMatchObject({ ok: true, baseOffset: 0, lastOffset: 3 });
    expect(follower.leaderEpochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 2 },
    ]);
    const again = follower.appendAsFollower(fetched.records);
    if (again.ok) throw new Error('a replayed batch was appended twice');
    expect(again.error.codeName).toBe('OFFSET_OUT_OF_RANGE');
    follower.truncateTo(2);
    const secondBatch = Buffer.from(fetched.records.subarray(readBatchHeader(fetched.records, 0).sizeBytes));
    secondBatch[secondBatch.length - 1] = (secondBatch[secondBatch.length - 1] as number) ^ 0xff;
    const bad = follower.appendAsFollower(secondBatch);
    if (bad.ok) throw new Error('a corrupt replicated batch was appended');
    expect(bad.error.codeName).toBe('CORRUPT_MESSAGE');
  });
});

describe('PartitionLog offsetForTimestamp', () => {
  it('finds the first record whose timestamp is at or after the target, across segments', () => {
    const log = openLog({ segmentBytes: 1024, indexIntervalBytes: 128 });
    // Batch i holds records at T0 + 100*i + {0,1,2}.
    for (let i = 0; i < 40; i++) log.append(makeBatch({ recordCount: 3, timestampMs: T0 + 100 * i }), { leaderEpoch: 0 });
    expect(log.segmentInfos().length).toBeGreaterThan(3);
    expect(log.offsetForTimestamp(T0)).toEqual({ offset: 0, timestampMs: T0 });
    expect(log.offsetForTimestamp(T0 + 1001)).toEqual({ offset: 31, timestampMs: T0 + 1001 });
    expect(log.offsetForTimestamp(T0 + 2550)).toEqual({ offset: 78, timestampMs: T0 + 2600 });
    expect(log.offsetForTimestamp(T0 + 3903)).toBeUndefined();
    expect(log.offsetForTimestamp(T0 + 2550, 60)).toBeUndefined();
  });
});

describe('PartitionLog segment roll', () => {
  it('rolls by segment.ms measured on the injected clock from the first append', () => {
    const clock = new ManualClock(T0);
    const log = openLog({ segmentMs: 60_000 }, clock);
    log.append(makeBatch(), { leaderEpoch: 0 });
    clock.advance(59_000);
    log.append(makeBatch(), { leaderEpoch: 0 });
    expect(log.segmentInfos().length).toBe(1);
    clock.advance(2_000);
    log.append(makeBatch(), { leaderEpoch: 0 });
    expect(log.segmentInfos().map((s) => s.baseOffset)).toEqual([0, 2]);
  });

  it('rolls by segment.bytes before a segment would grow past it', () => {
    const batch = makeBatch({ valueBytes: 100 });
    const log = openLog({ segmentBytes: batch.length * 3 });
    for (let i = 0; i < 7; i++) log.append(makeBatch({ valueBytes: 100 }), { leaderEpoch: 0 });
    expect(log.segmentInfos().map((s) => s.baseOffset)).toEqual([0, 3, 6]);
  });
});
