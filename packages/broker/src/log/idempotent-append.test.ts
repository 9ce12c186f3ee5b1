// The idempotent-producer rules as the partition log applies them: leader appends are checked
// before anything is written, followers copy the state, and opening or truncating the log rebuilds
// it from the batch headers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, decodeRecordBatch } from '@runnel/protocol';
import { ManualClock, capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import type { CapturedLog } from './log-test-kit.js';
import { LOG_FILE_SUFFIX, segmentFileName } from './log-segment.js';
import { PartitionLog } from './partition-log.js';
import { PRODUCER_SNAPSHOT } from './producer-snapshot.js';
import type { LogConfig } from './config.js';
import type { AppendResult } from './log-types.js';

const T0 = 1_700_000_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;
let logDir: string;
let open: PartitionLog[];
let captured: CapturedLog;

beforeEach(async () => {
  logDir = await makeTempDir();
  open = [];
  captured = capturingLogger();
});

afterEach(async () => {
  for (const log of open) await log.close();
  await removeDir(logDir);
});

function openLog(options: { config?: Partial<LogConfig>; clock?: ManualClock; partition?: number; producerIdExpirationMs?: number } = {}): PartitionLog {
  const log = PartitionLog.open({
    logDir,
    topic: 'orders',
    partition: options.partition ?? 0,
    config: options.config ?? {},
    clock: options.clock ?? new ManualClock(T0),
    logger: captured.logger,
    ...(options.producerIdExpirationMs === undefined ? {} : { producerIdExpirationMs: options.producerIdExpirationMs }),
  });
  open.push(log);
  return log;
}

/** Closes and opens the log again; `withoutSnapshot` drops what a clean close saved, as a crash would. */
async function reopen(log: PartitionLog, options: Parameters<typeof openLog>[0] & { withoutSnapshot?: boolean } = {}): Promise<PartitionLog> {
  await log.close();
  open.splice(open.indexOf(log), 1);
  if (options.withoutSnapshot === true) fs.rmSync(snapshotPath(log.partition));
  return openLog({ partition: log.partition, ...options });
}

function snapshotPath(partition = 0): string {
  return path.join(logDir, `orders-${partition}`, PRODUCER_SNAPSHOT);
}

function logLines(msg: string): Array<Record<string, unknown>> {
  return captured.lines.filter((line) => line.msg === msg);
}

/** A batch of `count` records from producer `id`, sequences from `sequence`. */
function produced(id: number, epoch: number, sequence: number, count = 3, timestampMs = T0): Buffer {
  return makeBatch({ recordCount: count, timestampMs, tag: `p${id}e${epoch}s${sequence}`, producer: { id, epoch, sequence } });
}

function appendOk(log: PartitionLog, batches: Buffer | Buffer[], leaderEpoch = 0): Extract<AppendResult, { ok: true }> {
  const result = log.append(batches, { leaderEpoch });
  if (!result.ok) throw result.error;
  return result;
}

/** Every record value in the log, in offset order. */
function values(log: PartitionLog): string[] {
  const read = log.read(log.logStartOffset, 64 * 1024 * 1024);
  if (!read.ok) throw read.error;
  const out: string[] = [];
  for (let position = 0; position < read.records.length; ) {
    const batch = decodeRecordBatch(read.records, position);
    for (const record of batch.records) out.push(record.value?.toString().replace(/x+$/, '') ?? '');
    position += batch.header.sizeBytes;
  }
  return out;
}

describe('leader append with an idempotent producer', () => {
  it('answers a retried batch with its original offsets and does not write it again', () => {
    const log = openLog();
    appendOk(log, produced(7, 0, 0));
    appendOk(log, makeBatch({ recordCount: 2 }));
    const sizeBefore = log.sizeBytes();
    expect(log.append(produced(7, 0, 0), { leaderEpoch: 0 })).toEqual({ ok: true, baseOffset: 0, lastOffset: 2, sizeBytes: 0, duplicate: true });
    expect(log.logEndOffset).toBe(5);
    expect(log.sizeBytes()).toBe(sizeBefore);
    expect(appendOk(log, produced(7, 0, 3))).toMatchObject({ baseOffset: 5, lastOffset: 7 });
    expect(values(log).filter((v) => v.startsWith('p7'))).toEqual(['p7e0s0-0-', 'p7e0s0-1-', 'p7e0s0-2-', 'p7e0s3-0-', 'p7e0s3-1-', 'p7e0s3-2-']);
  });

  it('refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER and writes nothing of the request', () => {
    const log = openLog();
    appendOk(log, produced(7, 0, 0));
    const result = log.append([produced(7, 0, 3), makeBatch(), produced(7, 0, 9)], { leaderEpoch: 0 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(result.error.details).toMatchObject({ producerId: 7, firstSequence: 9, expectedSequence: 6 });
    expect(log.logEndOffset).toBe(3);
    // The refused request used no sequence: its first batch is still the next one expected.
    expect(appendOk(log, produced(7, 0, 3))).toMatchObject({ baseOffset: 3 });
  });

  it('refuses a fenced producer epoch with INVALID_PRODUCER_EPOCH', () => {
    const log = openLog();
    appendOk(log, produced(7, 1, 0));
    const result = log.append(produced(7, 0, 3), { leaderEpoch: 0 });
    expect(result).toMatchObject({ ok: false, error: { codeName: 'INVALID_PRODUCER_EPOCH', code: ErrorCode.INVALID_PRODUCER_EPOCH } });
    expect(log.logEndOffset).toBe(3);
  });

  it('answers a request of several retried batches with the offsets of the first write', () => {
    const log = openLog();
    appendOk(log, [produced(7, 0, 0), produced(7, 0, 3)]);
    appendOk(log, produced(8, 0, 0));
    expect(log.append([produced(7, 0, 0), produced(7, 0, 3)], { leaderEpoch: 0 })).toEqual({ ok: true, baseOffset: 0, lastOffset: 5, sizeBytes: 0, duplicate: true });
    expect(log.logEndOffset).toBe(9);
  });

  it('writes only the new batches of a request that mixes a retry with them, answering from the retried one', () => {
    const log = openLog();
    appendOk(log, produced(7, 0, 0));
    appendOk(log, produced(8, 0, 0));
    const result = appendOk(log, [produced(7, 0, 0), produced(7, 0, 3)]);
    expect(result).toMatchObject({ baseOffset: 0, lastOffset: 8 });
    expect(result.duplicate).toBeUndefined();
    expect(log.logEndOffset).toBe(9);
    expect(values(log)).toHaveLength(9);
    expect(log.producerEntry(7)?.batches.map((b) => b.baseOffset)).toEqual([0, 6]);
  });

  it('gives a retry on a LogAppendTime topic the append time of the first write', () => {
    const clock = new ManualClock(T0);
    const log = openLog({ config: { messageTimestampType: 'LogAppendTime' }, clock });
    expect(appendOk(log, produced(7, 0, 0)).logAppendTimeMs).toBe(T0);
    clock.advance(5_000);
    expect(log.append(produced(7, 0, 0), { leaderEpoch: 0 })).toMatchObject({ ok: true, duplicate: true, baseOffset: 0, logAppendTimeMs: T0 });
  });

  it('appends batches without a producer id unchecked, as before', () => {
    const log = openLog();
    appendOk(log, makeBatch({ recordCount: 2 }));
    appendOk(log, makeBatch({ recordCount: 2 }));
    expect(log.logEndOffset).toBe(4);
    expect(log.producerCount).toBe(0);
  });
});

describe('follower append', () => {
  it('records replicated batches, so a follower that becomes leader answers a retry with the original offsets and refuses a gap', () => {
    const leader = openLog({ partition: 0 });
    const follower = openLog({ partition: 1 });
    appendOk(leader, produced(7, 0, 0), 1);
    appendOk(leader, produced(7, 0, 3), 1);
    const read = leader.read(0, 1024 * 1024);
    if (!read.ok) throw read.error;
    expect(follower.appendAsFollower(read.records).ok).toBe(true);
    expect(follower.producerEntry(7)?.batches.map((b) => [b.firstSeq, b.lastSeq, b.baseOffset])).toEqual([
      [0, 2, 0],
      [3, 5, 3],
    ]);

    follower.assignEpochStartOffset(2, follower.logEndOffset);
    expect(follower.append(produced(7, 0, 3), { leaderEpoch: 2 })).toMatchObject({ ok: true, duplicate: true, baseOffset: 3, lastOffset: 5 });
    expect(follower.append(produced(7, 0, 9), { leaderEpoch: 2 })).toMatchObject({ ok: false, error: { codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER' } });
    expect(appendOk(follower, produced(7, 0, 6), 2)).toMatchObject({ baseOffset: 6 });
    expect(follower.logEndOffset).toBe(9);
  });
});

describe('rebuilding producer state from the log', () => {
  it('rebuilds on open from the batch headers of every segment', async () => {
    let log = openLog({ config: { segmentBytes: 400 } });
    for (let seq = 0; seq < 30; seq += 3) appendOk(log, [produced(7, 2, seq), produced(8, 0, seq)]);
    expect(log.segmentInfos().length).toBeGreaterThan(3);
    const before = { seven: log.producerEntry(7), eight: log.producerEntry(8) };
    log = await reopen(log, { config: { segmentBytes: 400 }, withoutSnapshot: true });
    expect(logLines('rebuilt producer state from the log').at(-1)).toMatchObject({ why: 'opened', scannedBatches: 20, producers: 2 });
    expect({ seven: log.producerEntry(7), eight: log.producerEntry(8) }).toEqual(before);
    expect(log.append(produced(7, 2, 27), { leaderEpoch: 0 })).toMatchObject({ ok: true, duplicate: true, baseOffset: 54 });
    expect(log.append(produced(8, 0, 33), { leaderEpoch: 0 })).toMatchObject({ ok: false, error: { codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER' } });
    expect(log.append(produced(7, 1, 0), { leaderEpoch: 0 })).toMatchObject({ ok: false, error: { codeName: 'INVALID_PRODUCER_EPOCH' } });
    expect(appendOk(log, produced(8, 0, 30))).toMatchObject({ baseOffset: 60 });
  });

  it('forgets a batch that recovery cut off as torn: its retry is written, not answered with offsets that no longer exist', async () => {
    let log = openLog();
    appendOk(log, produced(7, 0, 0));
    const sizeAfterFirst = log.sizeBytes();
    appendOk(log, produced(7, 0, 3));
    await log.close();
    open.splice(open.indexOf(log), 1);
    fs.truncateSync(path.join(logDir, 'orders-0', segmentFileName(0, LOG_FILE_SUFFIX)), sizeAfterFirst + 20);
    log = openLog();
    expect(log.logEndOffset).toBe(3);
    // The clean close's snapshot described the longer log: it is set aside for a rescan.
    expect(logLines('producer state snapshot does not match the log; rescanning')).toHaveLength(1);
    expect(log.producerEntry(7)?.batches.map((b) => b.firstSeq)).toEqual([0]);
    const retry = appendOk(log, produced(7, 0, 3));
    expect(retry).toMatchObject({ baseOffset: 3, lastOffset: 5 });
    expect(retry.duplicate).toBeUndefined();
  });

  it('rebuilds after truncateTo: a truncated batch\'s retry is written again at the new log end', () => {
    const log = openLog();
    appendOk(log, produced(7, 0, 0));
    appendOk(log, produced(7, 0, 3));
    appendOk(log, produced(7, 0, 6));
    log.truncateTo(3);
    expect(log.producerEntry(7)?.batches.map((b) => b.firstSeq)).toEqual([0]);
    expect(log.append(produced(7, 0, 6), { leaderEpoch: 0 })).toMatchObject({ ok: false, error: { codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER' } });
    expect(appendOk(log, produced(7, 0, 3))).toMatchObject({ baseOffset: 3 });
    expect(log.append(produced(7, 0, 0), { leaderEpoch: 0 })).toMatchObject({ ok: true, duplicate: true, baseOffset: 0 });
  });

  it('forgets every producer on truncateFullyAndStartAt', () => {
    const log = openLog();
    appendOk(log, produced(7, 0, 0));
    log.truncateFullyAndStartAt(100);
    expect(log.producerCount).toBe(0);
    expect(log.append(produced(7, 0, 3), { leaderEpoch: 0 })).toMatchObject({ ok: false, error: { codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER' } });
  });

  it('keeps a producer whose batches retention deleted, through a truncation, until producer.id.expiration.ms passes', () => {
    const clock = new ManualClock(T0);
    const log = openLog({ config: { segmentBytes: 400, retentionBytes: 1 }, clock, producerIdExpirationMs: DAY_MS });
    appendOk(log, produced(7, 0, 0));
    for (let seq = 0; seq < 15; seq += 3) appendOk(log, produced(8, 0, seq));
    expect(log.deleteOldSegments().deletedSegments).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(2);
    expect(log.producerEntry(7)).toBeDefined();
    log.truncateTo(log.logEndOffset - 3);
    expect(log.producerEntry(7)).toBeDefined();
    expect(appendOk(log, produced(7, 0, 3))).toMatchObject({ baseOffset: log.logEndOffset - 3 });

    // Measured from the newest record's timestamp in the producer's latest batch.
    clock.advance(DAY_MS + 1);
    log.deleteOldSegments();
    expect(log.producerCount).toBe(2);
    clock.advance(1);
    log.deleteOldSegments();
    expect(log.producerCount).toBe(0);
    expect(captured.lines).toContainEqual(expect.objectContaining({ msg: 'forgot expired producers', expiredProducers: 2 }));
  });

  it('does not expire a live producer whose clock lags the broker\'s by more than producer.id.expiration.ms', () => {
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    const log = openLog({ clock, partition: 0 });
    appendOk(log, produced(7, 0, 0, 3, T0));
    const follower = openLog({ clock, partition: 1 });
    const read = log.read(0, 1 << 20);
    if (!read.ok) throw read.error;
    expect(follower.appendAsFollower(read.records).ok).toBe(true);
    clock.advance(DAY_MS - 1);
    for (const replica of [log, follower]) {
      replica.deleteOldSegments();
      expect(replica.producerEntry(7)).toBeDefined();
    }
    expect(appendOk(log, produced(7, 0, 3, 3, T0))).toMatchObject({ baseOffset: 3 });
  });

  it('skips segments older than producer.id.expiration.ms when it rebuilds on open', async () => {
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    let log = openLog({ config: { segmentBytes: 400 }, clock });
    appendOk(log, produced(7, 0, 0, 3, T0));
    log.roll();
    appendOk(log, produced(8, 0, 0, 3, T0 + 2 * DAY_MS));
    log = await reopen(log, { config: { segmentBytes: 400 }, clock, withoutSnapshot: true });
    expect(log.producerEntry(7)).toBeUndefined();
    expect(log.producerEntry(8)).toBeDefined();
    expect(captured.lines.filter((line) => line.msg === 'rebuilt producer state from the log').at(-1)).toMatchObject({ why: 'opened', scannedSegments: 1, producers: 1 });
  });
});

describe('producer state snapshot at a clean close', () => {
  it('is loaded by the next open instead of a rescan, and consumed by it', async () => {
    let log = openLog({ config: { segmentBytes: 400 } });
    for (let seq = 0; seq < 30; seq += 3) appendOk(log, [produced(7, 2, seq), produced(8, 0, seq)]);
    const before = { seven: log.producerEntry(7), eight: log.producerEntry(8) };
    log = await reopen(log, { config: { segmentBytes: 400 } });
    expect(logLines('loaded producer state from its snapshot')).toEqual([expect.objectContaining({ producers: 2, logEndOffset: 60 })]);
    expect(logLines('rebuilt producer state from the log')).toHaveLength(1);
    expect({ seven: log.producerEntry(7), eight: log.producerEntry(8) }).toEqual(before);
    expect(fs.existsSync(snapshotPath())).toBe(false);
    expect(log.append(produced(7, 2, 27), { leaderEpoch: 0 })).toMatchObject({ ok: true, duplicate: true, baseOffset: 54 });
  });

  it('carries a producer whose batches retention deleted across a clean restart', async () => {
    let log = openLog({ config: { segmentBytes: 400, retentionBytes: 1 } });
    appendOk(log, produced(7, 0, 0));
    for (let seq = 0; seq < 15; seq += 3) appendOk(log, produced(8, 0, seq));
    log.deleteOldSegments();
    expect(log.logStartOffset).toBeGreaterThan(2);
    log = await reopen(log, { config: { segmentBytes: 400, retentionBytes: 1 } });
    expect(log.producerEntry(7)?.batches).toEqual([{ firstSeq: 0, lastSeq: 2, baseOffset: 0, lastOffset: 2, maxTimestampMs: T0 + 2 }]);
    expect(appendOk(log, produced(7, 0, 3)).duplicate).toBeUndefined();
  });

  it('is ignored when unreadable: the log is rescanned', async () => {
    let log = openLog();
    appendOk(log, produced(7, 0, 0));
    await log.close();
    open.splice(open.indexOf(log), 1);
    fs.writeFileSync(snapshotPath(), '0\n1\n3 7 0\n');
    log = openLog();
    expect(logLines('ignoring an unreadable producer state snapshot')).toHaveLength(1);
    expect(log.producerEntry(7)?.batches).toHaveLength(1);
    expect(fs.existsSync(snapshotPath())).toBe(false);
  });
});
