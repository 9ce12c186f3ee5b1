// Log compaction (cleanup.policy=compact) as a partition log applies it: the latest record per key
// survives at its original offset, tombstones live for delete.retention.ms, nothing uncommitted or in
// the active segment is rewritten, and reads, retention and the idempotent-producer state cope.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecordBatch } from '@runnel/protocol';
import { ManualClock, capturingLogger, makeKeyedBatch, makeTempDir, readAllRecords, removeDir } from './log-test-kit.js';
import type { CapturedLog, StoredRecord } from './log-test-kit.js';
import { LOG_FILE_SUFFIX, segmentFileName } from './log-segment.js';
import { PartitionLog } from './partition-log.js';
import { PRODUCER_SNAPSHOT } from './producer-snapshot.js';
import type { LogConfig } from './config.js';

const T0 = 1_700_000_000_000;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
let logDir: string;
let open: PartitionLog[];
let captured: CapturedLog;
let clock: ManualClock;

beforeEach(async () => {
  logDir = await makeTempDir();
  open = [];
  captured = capturingLogger();
  clock = new ManualClock(T0);
});

afterEach(async () => {
  for (const log of open) await log.close();
  await removeDir(logDir);
});

/** Small segments, so a few batches make several of them. */
const COMPACT: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 400, indexIntervalBytes: 60 };

function openLog(config: Partial<LogConfig> = COMPACT): PartitionLog {
  const log = PartitionLog.open({ logDir, topic: 'kv', partition: 0, config, clock, logger: captured.logger });
  open.push(log);
  return log;
}

async function reopen(log: PartitionLog, config: Partial<LogConfig> = COMPACT): Promise<PartitionLog> {
  await log.close();
  open.splice(open.indexOf(log), 1);
  return openLog(config);
}

function put(log: PartitionLog, records: ReadonlyArray<readonly [string | null, string | null]>, options: Parameters<typeof makeKeyedBatch>[1] = {}): number {
  const result = log.append(makeKeyedBatch(records, { timestampMs: clock.nowMs(), ...options }), { leaderEpoch: 0 });
  if (!result.ok) throw result.error;
  return result.baseOffset;
}

/** Three rounds over keys k0..k4, one record per batch: offset = round * 5 + key. */
function writeRounds(log: PartitionLog, rounds = 3): void {
  for (let round = 0; round < rounds; round++) for (let k = 0; k < 5; k++) put(log, [[`k${k}`, `r${round}-k${k}`]]);
}

/** What compaction must leave of `records`: each key's latest record (tombstones too), in offset order. */
function latestPerKey(records: readonly StoredRecord[]): StoredRecord[] {
  const latest = new Map<string | null, StoredRecord>();
  for (const record of records) latest.set(record.key, record);
  return [...latest.values()].sort((a, b) => a.offset - b.offset);
}

function segmentBytes(log: PartitionLog, baseOffset: number): Buffer {
  return fs.readFileSync(path.join(log.dir, segmentFileName(baseOffset, LOG_FILE_SUFFIX)));
}

describe('log compaction', () => {
  it('keeps only the latest record of each key, at its original offset', async () => {
    const log = openLog();
    writeRounds(log);
    log.roll();
    const before = readAllRecords(log);
    expect(log.segmentInfos().length).toBeGreaterThan(3);

    const result = await log.clean({ highWatermark: log.logEndOffset });

    expect(result.aborted).toBeUndefined();
    expect(result.recordsRemoved).toBe(10);
    expect(readAllRecords(log)).toEqual(latestPerKey(before));
    expect(readAllRecords(log).map((r) => r.offset)).toEqual([10, 11, 12, 13, 14]);
    expect(log.logStartOffset).toBe(0);
    expect(log.logEndOffset).toBe(15);
    expect(log.sizeBytes()).toBeLessThan(before.length * 60);
  });

  it('a newer committed value in the active segment makes older copies removable', async () => {
    const log = openLog();
    writeRounds(log, 2);
    log.roll();
    const activeBase = log.logEndOffset;
    put(log, [['k0', 'newest']]);
    const activeBefore = segmentBytes(log, activeBase);

    await log.clean({ highWatermark: log.logEndOffset });

    const records = readAllRecords(log);
    expect(records.filter((r) => r.key === 'k0')).toEqual([{ offset: activeBase, key: 'k0', value: 'newest' }]);
    expect(records.filter((r) => r.key === 'k1').map((r) => r.value)).toEqual(['r1-k1']);
    expect(segmentBytes(log, activeBase).equals(activeBefore)).toBe(true);
  });

  it('does not let a value at or above the high watermark remove older ones, nor rewrite segments reaching it', async () => {
    const log = openLog();
    for (const [key, value] of [['k0', 'a'], ['k0', 'b'], ['k1', 'c'], ['k2', 'x']] as const) put(log, [[key, value]]);
    log.roll();
    put(log, [['k1', 'd']]);
    put(log, [['k1', 'd2']]);
    put(log, [['k2', 'e']]);
    log.roll();
    put(log, [['k2', 'f']]);
    // Offset 6 (k2=e) is not committed yet: it may still be truncated away, so it cannot supersede
    // k2=x; and the segment holding it stays as it is, although k1=d there is superseded.
    const highWatermark = 6;
    const untouched = log.segmentInfos().slice(1).map((s) => [s.baseOffset, segmentBytes(log, s.baseOffset)] as const);

    await log.clean({ highWatermark });

    for (const [base, bytes] of untouched) expect(segmentBytes(log, base).equals(bytes), `segment ${base}`).toBe(true);
    expect(readAllRecords(log).map((r) => `${r.offset}:${r.key}=${r.value}`)).toEqual(['1:k0=b', '3:k2=x', '4:k1=d', '5:k1=d2', '6:k2=e', '7:k2=f']);
  });

  it('reads from an offset inside a removed range return the next surviving batch', async () => {
    const log = openLog();
    writeRounds(log);
    put(log, [['k9', 'last']]);
    log.roll();
    await log.clean({ highWatermark: log.logEndOffset });
    const survivors = readAllRecords(log).map((r) => r.offset);
    expect(survivors).toEqual([10, 11, 12, 13, 14, 15]);

    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const read = log.read(offset, 1 << 20);
      if (!read.ok) throw read.error;
      const next = survivors.find((s) => s >= offset) as number;
      // The first batch returned is the one holding `offset` or the next one that survived (possibly
      // an empty batch kept for its offsets); the first record a consumer keeps is the next survivor.
      const first = decodeRecordBatch(read.records, 0);
      expect(first.header.baseOffset + first.header.lastOffsetDelta, `read from ${offset}`).toBeGreaterThanOrEqual(offset);
      const records = readAllRecords({ ...log, logStartOffset: offset, read: log.read.bind(log), logEndOffset: log.logEndOffset });
      expect(records[0]?.offset, `read from ${offset}`).toBe(next);
      expect(read.nextFetchOffset).toBeGreaterThan(offset);
    }
  });

  it('keeps a tombstone until delete.retention.ms has passed, then drops it', async () => {
    const log = openLog({ ...COMPACT, deleteRetentionMs: DAY_MS });
    writeRounds(log, 1);
    put(log, [['k2', null]]);
    put(log, [['k7', 'filler']]);
    log.roll();

    await log.clean({ highWatermark: log.logEndOffset });
    const afterFirst = readAllRecords(log);
    expect(afterFirst.filter((r) => r.key === 'k2')).toEqual([{ offset: 5, key: 'k2', value: null }]);

    clock.advance(DAY_MS - 1);
    expect((await log.clean({ highWatermark: log.logEndOffset })).tombstonesRemoved).toBe(0);
    expect(readAllRecords(log)).toEqual(afterFirst);

    clock.advance(2);
    const result = await log.clean({ highWatermark: log.logEndOffset });
    expect(result.tombstonesRemoved).toBe(1);
    expect(readAllRecords(log).filter((r) => r.key === 'k2')).toEqual([]);
    expect(readAllRecords(log).map((r) => r.key)).toEqual(['k0', 'k1', 'k3', 'k4', 'k7']);
  });

  it('leaves segments younger than min.compaction.lag.ms alone', async () => {
    const log = openLog({ ...COMPACT, minCompactionLagMs: HOUR_MS });
    writeRounds(log, 2);
    log.roll();
    const before = readAllRecords(log);
    expect((await log.clean({ highWatermark: log.logEndOffset })).segmentsCleaned).toBe(0);
    expect(readAllRecords(log)).toEqual(before);

    clock.advance(HOUR_MS + 1);
    expect((await log.clean({ highWatermark: log.logEndOffset })).recordsRemoved).toBe(5);
    expect(readAllRecords(log)).toEqual(latestPerKey(before));
  });

  it('with an offset map too small for the dirty range, cleans what the map covers and converges over passes', async () => {
    const log = openLog();
    // Ten distinct keys, then new values for the first five; the map holds seven keys.
    for (let k = 0; k < 10; k++) put(log, [[`k${k}`, `old-${k}`]]);
    for (let k = 0; k < 5; k++) put(log, [[`k${k}`, `new-${k}`]]);
    log.roll();
    const before = readAllRecords(log);
    const offsetMapBytesMax = 7 * (2 + 64);
    const firstDirtyOffsets: number[] = [];
    // Bounded: each pass moves the first dirty offset on by at least one segment, or the loop ends.
    for (let pass = 0; pass < 10 && log.firstDirtyOffset < 15; pass++) {
      const result = await log.clean({ highWatermark: log.logEndOffset, offsetMapBytesMax });
      firstDirtyOffsets.push(result.firstDirtyOffset);
      const now = readAllRecords(log);
      // Never more removed than compaction allows: every key's latest record is always there.
      for (const latest of latestPerKey(before)) expect(now).toContainEqual(latest);
    }
    expect(firstDirtyOffsets.length).toBeGreaterThan(1);
    expect(captured.lines.some((line) => line.msg === 'cleaner offset map is full; cleaning only up to where it is complete')).toBe(true);
    expect(readAllRecords(log)).toEqual(latestPerKey(before));
  });

  it('merges small cleaned segments into one', async () => {
    const log = openLog({ ...COMPACT, segmentBytes: 400 });
    writeRounds(log, 4);
    log.roll();
    const segmentsBefore = log.segmentInfos().length;
    // The first pass shrinks each segment (groups are sized by what they hold before cleaning); the
    // next one merges the small results.
    await log.clean({ highWatermark: log.logEndOffset });
    expect(log.segmentInfos().length).toBe(segmentsBefore);
    await log.clean({ highWatermark: log.logEndOffset });
    const inactive = log.segmentInfos().slice(0, -1);
    expect(inactive.length).toBeLessThan(segmentsBefore - 2);
    // Greedy grouping: no two neighbours left that would have fitted in one segment.
    for (let i = 0; i + 1 < inactive.length; i++) {
      expect((inactive[i]?.sizeBytes ?? 0) + (inactive[i + 1]?.sizeBytes ?? 0)).toBeGreaterThan(400);
    }
    expect(readAllRecords(log).map((r) => r.value)).toEqual(['r3-k0', 'r3-k1', 'r3-k2', 'r3-k3', 'r3-k4']);
  });

  it('keeps the compression, base offset and offset range of a rewritten batch', async () => {
    const log = openLog();
    put(log, [['a', '1'], ['b', '1'], ['c', '1'], ['d', '1']], { compression: 'gzip' });
    put(log, [['a', '2'], ['b', '2'], ['d', '2']]);
    log.roll();
    await log.clean({ highWatermark: log.logEndOffset });
    const read = log.read(0, 1 << 20);
    if (!read.ok) throw read.error;
    const batch = decodeRecordBatch(read.records, 0);
    expect(batch.header.attributes.compression).toBe('gzip');
    // Its first and last records are gone, yet the batch still spans offsets 0-3.
    expect([batch.header.baseOffset, batch.header.lastOffsetDelta]).toEqual([0, 3]);
    expect(batch.records.map((r) => [r.offset, r.key?.toString()])).toEqual([[2, 'c']]);
    expect(read.nextFetchOffset).toBe(7);
  });

  it('survives a reopen: cleaned segments load, and the next pass only counts new data as dirty', async () => {
    const log = openLog();
    writeRounds(log);
    log.roll();
    await log.clean({ highWatermark: log.logEndOffset });
    const cleaned = readAllRecords(log);
    expect(log.dirtyRatio({ highWatermark: log.logEndOffset })).toBe(0);

    const reopened = await reopen(log);
    expect(readAllRecords(reopened)).toEqual(cleaned);
    expect(reopened.firstDirtyOffset).toBe(15);
    expect(reopened.dirtyRatio({ highWatermark: reopened.logEndOffset })).toBe(0);
    writeRounds(reopened, 1);
    reopened.roll();
    const range = reopened.cleanableRange({ highWatermark: reopened.logEndOffset });
    expect(range.dirtyRatio).toBeGreaterThan(0);
    expect(range.dirtyRatio).toBeLessThan(1);
    expect(range.needsCleaning).toBe(range.dirtyRatio >= 0.5);
  });
});

describe('dirty ratio', () => {
  it('is the uncleaned share of the cleanable bytes, and 0 when nothing is cleanable', async () => {
    const log = openLog();
    expect(log.dirtyRatio({ highWatermark: 0 })).toBe(0);
    writeRounds(log);
    log.roll();
    expect(log.dirtyRatio({ highWatermark: log.logEndOffset })).toBe(1);
    expect(log.cleanableRange({ highWatermark: log.logEndOffset }).needsCleaning).toBe(true);
    // Below the first segment's end nothing is cleanable yet.
    expect(log.dirtyRatio({ highWatermark: 1 })).toBe(0);
    await log.clean({ highWatermark: log.logEndOffset });
    expect(log.cleanableRange({ highWatermark: log.logEndOffset })).toMatchObject({ dirtyRatio: 0, dirtyBytes: 0, needsCleaning: false });
  });

  it('never asks for cleaning on a delete-policy topic, where clean() does nothing', async () => {
    const log = openLog({ segmentBytes: 400 });
    writeRounds(log);
    log.roll();
    expect(log.cleanableRange({ highWatermark: log.logEndOffset }).needsCleaning).toBe(false);
    const before = readAllRecords(log);
    expect((await log.clean({ highWatermark: log.logEndOffset })).aborted).toMatch(/cleanup.policy is delete/);
    expect(readAllRecords(log)).toEqual(before);
  });
});

describe('cleanup.policy and retention', () => {
  it('retention.ms and retention.bytes never delete segments of a compact-only topic', () => {
    const log = openLog({ ...COMPACT, retentionMs: HOUR_MS, retentionBytes: 100 });
    writeRounds(log);
    log.roll();
    clock.advance(2 * HOUR_MS);
    expect(log.deleteOldSegments(log.logEndOffset).deletedSegments).toBe(0);
    expect(log.logStartOffset).toBe(0);
  });

  it('compact,delete both compacts and expires old segments', async () => {
    const log = openLog({ ...COMPACT, cleanupPolicy: 'compact,delete', retentionMs: HOUR_MS });
    writeRounds(log);
    log.roll();
    await log.clean({ highWatermark: log.logEndOffset });
    expect(readAllRecords(log).length).toBe(5);
    clock.advance(2 * HOUR_MS);
    put(log, [['fresh', 'x']]);
    const deleted = log.deleteOldSegments(log.logEndOffset);
    expect(deleted.deletedSegments).toBeGreaterThan(0);
    expect(readAllRecords(log)).toEqual([{ offset: 15, key: 'fresh', value: 'x' }]);
  });

  it('a delete-policy topic keeps its retention', () => {
    const log = openLog({ segmentBytes: 400, retentionMs: HOUR_MS });
    writeRounds(log);
    log.roll();
    clock.advance(2 * HOUR_MS);
    expect(log.deleteOldSegments(log.logEndOffset).deletedSegments).toBeGreaterThan(0);
  });
});

describe('produce to a compacted topic', () => {
  it('refuses a batch holding a record without a key with INVALID_RECORD, writing nothing', () => {
    const log = openLog();
    put(log, [['a', '1']]);
    const result = log.append(makeKeyedBatch([['b', '2'], [null, 'keyless']]), { leaderEpoch: 0 });
    expect(result).toMatchObject({ ok: false, error: { codeName: 'INVALID_RECORD' } });
    expect(log.logEndOffset).toBe(1);
  });

  it('accepts keyless records on a delete-policy topic', () => {
    const log = openLog({ segmentBytes: 400 });
    expect(log.append(makeKeyedBatch([[null, 'keyless']]), { leaderEpoch: 0 })).toMatchObject({ ok: true, baseOffset: 0 });
  });
});

describe('idempotent producers and compaction', () => {
  it('keeps the batches the producer state caches, so a rebuild gives the same state and retries are still recognised', async () => {
    const log = openLog();
    const producer = { id: 42, epoch: 0 };
    // Eight batches of one producer, all for the same key: compaction would remove all but the last.
    for (let sequence = 0; sequence < 8; sequence++) {
      put(log, [['k', `v${sequence}`]], { producer: { ...producer, sequence } });
    }
    put(log, [['other', 'x']]);
    log.roll();
    const entryBefore = log.producerEntry(42);
    expect(entryBefore?.batches.length).toBe(5);

    const result = await log.clean({ highWatermark: log.logEndOffset });
    expect(result.recordsRemoved).toBe(7);
    expect(readAllRecords(log).map((r) => r.value)).toEqual(['v7', 'x']);
    expect(log.producerEntry(42)).toEqual(entryBefore);

    await log.close();
    open.splice(open.indexOf(log), 1);
    // Without the snapshot of a clean close, as after a crash: the state comes from the batch headers.
    fs.rmSync(path.join(log.dir, PRODUCER_SNAPSHOT));
    const reopened = openLog();
    expect(reopened.producerEntry(42)).toEqual(entryBefore);
    const retry = reopened.append(makeKeyedBatch([['k', 'v5']], { timestampMs: T0, producer: { ...producer, sequence: 5 } }), { leaderEpoch: 0 });
    expect(retry).toMatchObject({ ok: true, duplicate: true, baseOffset: 5 });
    const next = reopened.append(makeKeyedBatch([['k', 'v8']], { timestampMs: T0, producer: { ...producer, sequence: 8 } }), { leaderEpoch: 0 });
    expect(next).toMatchObject({ ok: true, baseOffset: 9 });
  });
});

describe('concurrency', () => {
  it('appends and reads stay correct while a pass runs, and the pass never touches the active segment', async () => {
    const log = openLog();
    writeRounds(log, 4);
    log.roll();
    const highWatermark = log.logEndOffset;
    const pass = log.clean({ highWatermark, sliceBytes: 1 });
    const appended: StoredRecord[] = [];
    let turns = 0;
    let settled = false;
    void pass.finally(() => {
      settled = true;
    });
    // Bounded: the pass yields once per batch, and a few hundred turns are far more than it needs.
    while (!settled && turns < 500) {
      const offset = put(log, [[`live${turns}`, `v${turns}`]]);
      appended.push({ offset, key: `live${turns}`, value: `v${turns}` });
      const everything = readAllRecords(log);
      expect(everything.slice(-appended.length)).toEqual(appended);
      await new Promise<void>((resolve) => setImmediate(resolve));
      turns++;
    }
    const result = await pass;
    expect(result.aborted).toBeUndefined();
    expect(turns).toBeGreaterThan(5);
    expect(readAllRecords(log)).toEqual([...['k0', 'k1', 'k2', 'k3', 'k4'].map((key, k) => ({ offset: 15 + k, key, value: `r3-${key}` })), ...appended]);
  });

  it('a pass that retention overtakes stops without swapping anything', async () => {
    const log = openLog({ ...COMPACT, cleanupPolicy: 'compact,delete', retentionMs: HOUR_MS });
    writeRounds(log, 3);
    log.roll();
    const pass = log.clean({ highWatermark: log.logEndOffset, sliceBytes: 1 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    clock.advance(2 * HOUR_MS);
    log.deleteOldSegments(log.logEndOffset);
    const result = await pass;
    expect(result.aborted).toMatch(/removed|changed/);
    expect(fs.readdirSync(log.dir).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'))).toEqual([]);
  });

  it('close() during a pass stops it and leaves no cleaner files', async () => {
    const log = openLog();
    writeRounds(log, 3);
    log.roll();
    const before = readAllRecords(log);
    const pass = log.clean({ highWatermark: log.logEndOffset, sliceBytes: 1 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    await log.close();
    open.splice(open.indexOf(log), 1);
    expect((await pass).aborted).toMatch(/closing/);
    expect(fs.readdirSync(log.dir).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'))).toEqual([]);
    const reopened = openLog();
    const after = readAllRecords(reopened);
    // Groups swapped before the close stay compacted; nothing is lost either way.
    expect(latestPerKey(after)).toEqual(latestPerKey(before));
  });
});
