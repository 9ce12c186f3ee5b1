import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import type { CapturedLog } from './log-test-kit.js';
import { INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, segmentFileName } from './log-segment.js';
import { PartitionLog, RECOVERY_POINT_CHECKPOINT } from './partition-log.js';
import type { LogConfig } from './config.js';

let logDir: string;
let partDir: string;
let captured: CapturedLog;

beforeEach(async () => {
  logDir = await makeTempDir();
  partDir = path.join(logDir, 'events-3');
  captured = capturingLogger();
});

afterEach(async () => {
  await removeDir(logDir);
});

function openLog(config: Partial<LogConfig> = {}): PartitionLog {
  return PartitionLog.open({ logDir, topic: 'events', partition: 3, config, logger: captured.logger });
}

/** Appends `count` batches of 2 records and returns the log's size after each. */
function fill(log: PartitionLog, count: number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const result = log.append(makeBatch({ recordCount: 2, valueBytes: 30, tag: `r${i}` }), { leaderEpoch: 0 });
    if (!result.ok) throw result.error;
    sizes.push(log.sizeBytes());
  }
  return sizes;
}

function logFile(baseOffset: number): string {
  return path.join(partDir, segmentFileName(baseOffset, LOG_FILE_SUFFIX));
}

function recoveryWarnings(): Array<Record<string, unknown>> {
  return captured.lines.filter((line) => line.msg === 'truncated a torn or corrupt log tail during recovery');
}

describe('crash recovery', () => {
  it('truncates half a batch of garbage appended after the last good batch, and appends continue', async () => {
    const log = openLog();
    const sizes = fill(log, 5);
    await log.close();
    const garbage = Buffer.alloc(37, 0x5a);
    fs.appendFileSync(logFile(0), garbage);

    const reopened = openLog();
    expect(reopened.logEndOffset).toBe(10);
    expect(reopened.sizeBytes()).toBe(sizes[4]);
    expect(fs.statSync(logFile(0)).size).toBe(sizes[4]);
    expect(recoveryWarnings()).toEqual([expect.objectContaining({ truncatedBytes: 37, validBytes: sizes[4] })]);
    expect(reopened.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 0 })).toMatchObject({ ok: true, baseOffset: 10 });
    for (const [from, firstBatchOffset, nextFetchOffset] of [[8, 8, 10], [10, 10, 12]] as const) {
      expect(reopened.read(from, 1 << 20)).toMatchObject({ ok: true, firstBatchOffset, nextFetchOffset });
    }
    await reopened.close();
  });

  it('truncates a last batch cut short (a torn write) to the batch before it', async () => {
    const log = openLog();
    const sizes = fill(log, 4);
    await log.close();
    fs.truncateSync(logFile(0), (sizes[3] as number) - 9);

    const reopened = openLog();
    expect(reopened.logEndOffset).toBe(6);
    expect(reopened.sizeBytes()).toBe(sizes[2]);
    expect(recoveryWarnings()[0]).toMatchObject({ truncatedBytes: (sizes[3] as number) - 9 - (sizes[2] as number) });
    await reopened.close();
  });

  it('drops a last batch whose CRC no longer matches (a flipped byte)', async () => {
    const log = openLog();
    const sizes = fill(log, 4);
    await log.close();
    const bytes = fs.readFileSync(logFile(0));
    const flipAt = (sizes[3] as number) - 5;
    bytes[flipAt] = (bytes[flipAt] as number) ^ 0x01;
    fs.writeFileSync(logFile(0), bytes);

    const reopened = openLog();
    expect(reopened.logEndOffset).toBe(6);
    expect(String(recoveryWarnings()[0]?.problem)).toMatch(/CRC/);
    expect(reopened.append(makeBatch(), { leaderEpoch: 0 })).toMatchObject({ ok: true, baseOffset: 6 });
    await reopened.close();
  });

  it('scans segments after the recovery point and drops every segment after a corrupt one', async () => {
    const log = openLog({ segmentBytes: 600 });
    fill(log, 20);
    const bases = log.segmentInfos().map((s) => s.baseOffset);
    expect(bases.length).toBeGreaterThan(3);
    await log.close();
    // Pretend the last clean shutdown never happened: nothing is known to be flushed.
    fs.rmSync(path.join(partDir, RECOVERY_POINT_CHECKPOINT));
    const victim = bases[1] as number;
    const bytes = fs.readFileSync(logFile(victim));
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    fs.writeFileSync(logFile(victim), bytes);

    const reopened = openLog({ segmentBytes: 600 });
    expect(reopened.segmentInfos().map((s) => s.baseOffset)).toEqual([bases[0], victim]);
    expect(reopened.logEndOffset).toBeLessThan(bases[2] as number);
    for (const base of bases.slice(2)) expect(fs.existsSync(logFile(base))).toBe(false);
    expect(captured.lines.filter((line) => line.msg === 'deleting a segment during recovery').length).toBe(bases.length - 2);
    await reopened.close();
  });

  it('rebuilds a missing or torn offset index and time index from the log', async () => {
    const log = openLog({ segmentBytes: 2000, indexIntervalBytes: 100 });
    fill(log, 40);
    const before = log.segmentInfos();
    const firstBase = (before[0] as { baseOffset: number }).baseOffset;
    expect(before.length).toBeGreaterThan(2);
    await log.close();
    // The first segment is below the recovery point, so only a bad index forces it to be rescanned.
    fs.rmSync(path.join(partDir, segmentFileName(firstBase, INDEX_FILE_SUFFIX)));
    fs.appendFileSync(path.join(partDir, segmentFileName(firstBase, TIME_INDEX_FILE_SUFFIX)), Buffer.alloc(5));

    const reopened = openLog({ segmentBytes: 2000, indexIntervalBytes: 100 });
    expect(reopened.segmentInfos()).toEqual(before);
    expect(captured.lines.some((line) => line.msg === 'recovering a segment below the recovery point: its indexes do not fit its log')).toBe(true);
    const read = reopened.read(13, 1 << 20);
    if (!read.ok) throw read.error;
    expect(read.firstBatchOffset).toBe(12);
    await reopened.close();
  });

  it('deletes leftover checkpoint temp files and index files without a log', async () => {
    const log = openLog();
    fill(log, 2);
    await log.close();
    fs.writeFileSync(path.join(partDir, `${RECOVERY_POINT_CHECKPOINT}.tmp`), 'half');
    fs.writeFileSync(path.join(partDir, segmentFileName(500, INDEX_FILE_SUFFIX)), Buffer.alloc(8));
    const reopened = openLog();
    expect(reopened.logEndOffset).toBe(4);
    expect(fs.readdirSync(partDir).filter((name) => name.endsWith('.tmp') || name.startsWith(segmentFileName(500, '')))).toEqual([]);
    await reopened.close();
  });
});
