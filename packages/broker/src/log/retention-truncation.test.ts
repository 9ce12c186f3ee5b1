import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import { PartitionLog } from './partition-log.js';
import type { LogConfig } from './config.js';

const T0 = 1_700_000_000_000;
const HOUR_MS = 3_600_000;
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
  const log = PartitionLog.open({ logDir, topic: 'clicks', partition: 0, config, clock, logger: capturingLogger().logger });
  open.push(log);
  return log;
}

/** One batch per segment (segment.bytes fits exactly one), stamped at T0 + i hours. */
function oneBatchPerSegment(log: PartitionLog, count: number): void {
  for (let i = 0; i < count; i++) {
    const result = log.append(makeBatch({ recordCount: 2, timestampMs: T0 + i * HOUR_MS }), { leaderEpoch: 0 });
    if (!result.ok) throw result.error;
  }
}

const BATCH_BYTES = makeBatch({ recordCount: 2 }).length;

describe('retention', () => {
  it('deletes segments whose largest timestamp is older than retention.ms, oldest first, never the active one', () => {
    const clock = new ManualClock(T0);
    const log = openLog({ segmentBytes: BATCH_BYTES, retentionMs: 3 * HOUR_MS }, clock);
    oneBatchPerSegment(log, 6);
    expect(log.segmentInfos().length).toBe(6);
    clock.advance(6 * HOUR_MS);
    // Segment i's newest record is at T0 + i h + 1 ms; now is T0 + 6 h, so segments 0..2 are past 3 h.
    const result = log.deleteOldSegments();
    expect(result).toEqual({ deletedSegments: 3, deletedBytes: 3 * BATCH_BYTES, logStartOffset: 6 });
    expect(log.logStartOffset).toBe(6);
    expect(log.read(0, 1024)).toMatchObject({ ok: false, logStartOffset: 6 });
    clock.advance(100 * HOUR_MS);
    expect(log.deleteOldSegments().logStartOffset).toBe(10);
    expect(log.segmentInfos().length).toBe(1);
  });

  it('deletes the oldest segments while the log exceeds retention.bytes', () => {
    const log = openLog({ segmentBytes: BATCH_BYTES, retentionBytes: BATCH_BYTES * 2 });
    oneBatchPerSegment(log, 5);
    expect(log.deleteOldSegments()).toEqual({ deletedSegments: 3, deletedBytes: 3 * BATCH_BYTES, logStartOffset: 6 });
    expect(log.sizeBytes()).toBe(BATCH_BYTES * 2);
    // As in Kafka, a segment goes only if the log stays at or above retention.bytes without it.
    log.updateConfig({ retentionBytes: BATCH_BYTES * 2 - 1 });
    expect(log.deleteOldSegments().deletedSegments).toBe(0);
  });

  it('keeps segments holding offsets at or above the high watermark', () => {
    const log = openLog({ segmentBytes: BATCH_BYTES, retentionBytes: 0 });
    oneBatchPerSegment(log, 5);
    expect(log.deleteOldSegments(4).logStartOffset).toBe(4);
  });

  it('moves the leader epoch cache start along with the log start', () => {
    const log = openLog({ segmentBytes: BATCH_BYTES, retentionBytes: 0 });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 1 });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 1 });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 2 });
    log.deleteOldSegments();
    expect(log.leaderEpochEntries()).toEqual([{ epoch: 2, startOffset: 4 }]);
  });
});

describe('truncation', () => {
  it('truncateTo removes everything at or after the offset across segments, indexes and epochs', () => {
    const log = openLog({ segmentBytes: BATCH_BYTES * 2, indexIntervalBytes: 1 });
    for (let epoch = 1; epoch <= 4; epoch++) {
      log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: epoch });
      log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: epoch });
    }
    expect(log.logEndOffset).toBe(16);
    const removed = log.truncateTo(6);
    expect(removed).toBe(5 * BATCH_BYTES);
    expect(log.logEndOffset).toBe(6);
    expect(log.segmentInfos().map((s) => s.baseOffset)).toEqual([0, 4]);
    expect(log.leaderEpochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 4 },
    ]);
    expect(log.read(6, 1024)).toMatchObject({ ok: true, nextFetchOffset: 6 });
    expect(log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 5 })).toMatchObject({ ok: true, baseOffset: 6, lastOffset: 7 });
    expect(log.read(5, 1 << 20)).toMatchObject({ ok: true, firstBatchOffset: 4, nextFetchOffset: 8 });
    expect(log.leaderEpochEntries().at(-1)).toEqual({ epoch: 5, startOffset: 6 });
  });

  it('truncating inside a batch removes the whole batch', () => {
    const log = openLog();
    log.append(makeBatch({ recordCount: 4 }), { leaderEpoch: 0 });
    log.append(makeBatch({ recordCount: 4 }), { leaderEpoch: 0 });
    log.truncateTo(6);
    expect(log.logEndOffset).toBe(4);
  });

  it('truncateFullyAndStartAt empties the log and restarts it at the offset', async () => {
    const log = openLog({ segmentBytes: BATCH_BYTES });
    oneBatchPerSegment(log, 3);
    log.truncateFullyAndStartAt(100);
    expect(log.logStartOffset).toBe(100);
    expect(log.logEndOffset).toBe(100);
    expect(log.leaderEpochEntries()).toEqual([]);
    expect(log.append(makeBatch(), { leaderEpoch: 7 })).toMatchObject({ ok: true, baseOffset: 100 });
    await log.close();
    open.length = 0;
    const reopened = openLog();
    expect(reopened.logStartOffset).toBe(100);
    expect(reopened.logEndOffset).toBe(101);
    expect(reopened.readHighWatermark()).toBe(100);
  });

  it('a truncation is durable: diverged data does not come back after a restart', async () => {
    const log = openLog();
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 1 });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 1 });
    await log.flush();
    log.truncateTo(2);
    log.append(makeBatch({ recordCount: 5 }), { leaderEpoch: 2 });
    await log.close();
    open.length = 0;
    const reopened = openLog();
    expect(reopened.logEndOffset).toBe(7);
    expect(reopened.leaderEpochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 2 },
    ]);
  });
});

describe('delete', () => {
  it('removes the partition directory', async () => {
    const log = openLog();
    log.append(makeBatch(), { leaderEpoch: 0 });
    await log.delete();
    open.length = 0;
    expect(fs.existsSync(log.dir)).toBe(false);
    expect(log.append(makeBatch(), { leaderEpoch: 0 })).toMatchObject({ ok: false });
  });
});
