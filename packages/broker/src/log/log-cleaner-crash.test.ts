// Crash safety of the compaction swap: a crash between any two steps of replacing old segments by
// a cleaned one must reopen to exactly the old records or exactly the compacted ones — none lost,
// none twice. The crash is a throw from the swap's step hook: the files stay as that step left them,
// the log object is abandoned, and a new one recovers the directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, capturingLogger, makeKeyedBatch, makeTempDir, readAllRecords, removeDir } from './log-test-kit.js';
import type { CapturedLog, StoredRecord } from './log-test-kit.js';
import { PartitionLog } from './partition-log.js';
import type { SwapStep } from './log-cleaner.js';
import type { LogConfig } from './config.js';

const T0 = 1_700_000_000_000;
let root: string;
let captured: CapturedLog;

beforeEach(async () => {
  root = await makeTempDir();
  captured = capturingLogger();
});

afterEach(async () => {
  await removeDir(root);
});

const CONFIG: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 400, indexIntervalBytes: 60 };

function openLog(logDir: string, config: Partial<LogConfig> = CONFIG): PartitionLog {
  return PartitionLog.open({ logDir, topic: 'kv', partition: 0, config, clock: new ManualClock(T0), logger: captured.logger });
}

/**
 * Four rounds over five keys and a tombstone, in several 400-byte segments; then segment.bytes is
 * raised so the pass groups every cleanable segment into one swap with several old segments.
 */
async function buildLog(logDir: string): Promise<void> {
  const log = openLog(logDir);
  for (let round = 0; round < 4; round++) {
    for (let k = 0; k < 5; k++) {
      const result = log.append(makeKeyedBatch([[`k${k}`, round === 3 && k === 1 ? null : `r${round}-k${k}`]], { timestampMs: T0 }), { leaderEpoch: 0 });
      if (!result.ok) throw result.error;
    }
  }
  log.roll();
  expect(log.segmentInfos().length).toBeGreaterThan(3);
  await log.close();
}

const GROUPED: Partial<LogConfig> = { ...CONFIG, segmentBytes: 1 << 20 };

async function compactedRecords(): Promise<StoredRecord[]> {
  const dir = path.join(root, 'reference');
  await buildLog(dir);
  const log = openLog(dir, GROUPED);
  const result = await log.clean({ highWatermark: log.logEndOffset });
  expect(result).toMatchObject({ segmentsCleaned: 4, segmentsWritten: 1 });
  const records = readAllRecords(log);
  await log.close();
  return records;
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'));
}

const STEPS_BEFORE_COMMIT: SwapStep[] = ['cleaned-written', 'swap-indexes-renamed'];
const STEPS_AFTER_COMMIT: SwapStep[] = ['swap-committed', 'old-segment-deleted', 'old-segments-deleted', 'indexes-in-place', 'swapped'];

describe('a crash during the compaction swap', () => {
  it.each([...STEPS_BEFORE_COMMIT.map((step) => [step, 'old'] as const), ...STEPS_AFTER_COMMIT.map((step) => [step, 'compacted'] as const)])(
    'after step %s recovers to the %s segments',
    async (crashStep, expected) => {
      const compacted = await compactedRecords();
      const dir = path.join(root, 'crashed');
      await buildLog(dir);
      const log = openLog(dir, GROUPED);
      const original = readAllRecords(log);
      expect(compacted.length).toBeLessThan(original.length);

      const crash = new Error(`crash after ${crashStep}`);
      const pass = log.clean({
        highWatermark: log.logEndOffset,
        onSwapStep: (step) => {
          if (step === crashStep) throw crash;
        },
      });
      await expect(pass).rejects.toMatchObject({ codeName: 'KAFKA_STORAGE_ERROR' });
      // The failed log refuses further use, as after an I/O error; closing only releases descriptors.
      expect(log.append(makeKeyedBatch([['x', 'y']]), { leaderEpoch: 0 })).toMatchObject({ ok: false, error: { codeName: 'KAFKA_STORAGE_ERROR' } });
      await log.close();

      const recovered = openLog(dir, GROUPED);
      expect(readAllRecords(recovered)).toEqual(expected === 'old' ? original : compacted);
      expect(leftovers(path.join(dir, 'kv-0'))).toEqual([]);
      expect(recovered.logEndOffset).toBe(20);
      // The recovered log works: it takes appends and compacts again.
      expect(recovered.append(makeKeyedBatch([['k0', 'after']]), { leaderEpoch: 0 })).toMatchObject({ ok: true, baseOffset: 20 });
      recovered.roll();
      await recovered.clean({ highWatermark: recovered.logEndOffset });
      const latest = readAllRecords(recovered);
      expect(latest.filter((r) => r.key === 'k0')).toEqual([{ offset: 20, key: 'k0', value: 'after' }]);
      expect(new Set(latest.map((r) => r.key)).size).toBe(latest.length);
      await recovered.close();
    },
  );

  it('recovery deletes every old segment a committed swap replaces, even when the crash kept them all', async () => {
    const compacted = await compactedRecords();
    const dir = path.join(root, 'crashed');
    await buildLog(dir);
    const log = openLog(dir, GROUPED);
    await expect(
      log.clean({
        highWatermark: log.logEndOffset,
        onSwapStep: (step) => {
          if (step === 'swap-committed') throw new Error('crash');
        },
      }),
    ).rejects.toThrow();
    await log.close();
    const partitionDir = path.join(dir, 'kv-0');
    expect(leftovers(partitionDir).sort()).toEqual(['00000000000000000000.index.swap', '00000000000000000000.log.swap', '00000000000000000000.timeindex.swap']);

    const recovered = openLog(dir, GROUPED);
    expect(readAllRecords(recovered)).toEqual(compacted);
    expect(captured.lines.filter((line) => line.msg === 'completed an interrupted compaction swap')).toEqual([
      expect.objectContaining({ segment: 0, replacedSegments: expect.arrayContaining([0]) as unknown }),
    ]);
    expect((captured.lines.find((line) => line.msg === 'completed an interrupted compaction swap')?.replacedSegments as number[]).length).toBe(4);
    await recovered.close();
  });
});
