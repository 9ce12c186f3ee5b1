import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { scanBatches } from './batch-scanner.js';
import type { ScanOutcome } from './batch-scanner.js';
import { CheckpointFile } from './checkpoint-file.js';
import { DEFAULT_LOG_CONFIG, resolveLogConfig } from './config.js';
import { nodeFileOps } from './file-ops.js';
import { LEADER_EPOCH_CHECKPOINT } from './leader-epoch-cache.js';
import { capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import { retentionDeletions } from './log-retention.js';
import { partitionDirName } from './log-types.js';
import { HIGH_WATERMARK_CHECKPOINT, PartitionLog, RECOVERY_POINT_CHECKPOINT } from './partition-log.js';
import { OffsetIndex, TimeIndex } from './sparse-index.js';

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(async () => {
  await removeDir(dir);
});

describe('log config', () => {
  it('defaults to Kafka topic defaults', () => {
    expect(DEFAULT_LOG_CONFIG).toMatchObject({
      segmentBytes: 1024 ** 3,
      segmentMs: 7 * 24 * 3600 * 1000,
      retentionMs: 7 * 24 * 3600 * 1000,
      retentionBytes: -1,
      indexIntervalBytes: 4096,
      maxMessageBytes: 1048588,
    });
  });

  it('rejects invalid values with INVALID_CONFIG naming every problem', () => {
    let error: unknown;
    try {
      resolveLogConfig({ segmentBytes: 10, retentionMs: -2, indexIntervalBytes: 1.5 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('INVALID_CONFIG');
    expect((error as RunnelError).details.problems).toHaveLength(3);
  });

  it('validates topic names and partitions for the directory name', () => {
    expect(partitionDirName('orders.v1_x-y', 7)).toBe('orders.v1_x-y-7');
    for (const topic of ['', '.', '..', 'a/b', 'x'.repeat(250)]) expect(() => partitionDirName(topic, 0)).toThrow(RunnelError);
    expect(() => partitionDirName('t', -1)).toThrow(RunnelError);
  });
});

describe('sparse indexes', () => {
  it('OffsetIndex finds the last entry at or below an offset and survives a reload', () => {
    const indexPath = path.join(dir, 'a.index');
    const index = new OffsetIndex(indexPath, 100, nodeFileOps);
    index.append(110, 4096);
    index.append(125, 8200);
    index.append(140, 12300);
    expect(index.lookup(99)).toEqual({ offset: 100, position: 0 });
    expect(index.lookup(124)).toEqual({ offset: 110, position: 4096 });
    expect(index.lookup(125)).toEqual({ offset: 125, position: 8200 });
    expect(() => index.append(130, 9000)).toThrow(/does not follow/);
    index.truncateTo(125);
    expect(index.entryCount).toBe(1);
    index.close();
    const reloaded = new OffsetIndex(indexPath, 100, nodeFileOps);
    expect(reloaded.load()).toBeUndefined();
    expect(reloaded.lastEntry()).toEqual({ offset: 110, position: 4096 });
    reloaded.close();
    fs.appendFileSync(indexPath, Buffer.alloc(3));
    const torn = new OffsetIndex(indexPath, 100, nodeFileOps);
    expect(torn.load()).toMatch(/not a multiple/);
    torn.close();
  });

  it('TimeIndex keeps only increasing timestamps and looks up the last one at or below', () => {
    const index = new TimeIndex(path.join(dir, 'a.timeindex'), 0, nodeFileOps);
    index.maybeAppend(1000, 5);
    index.maybeAppend(1000, 9);
    index.maybeAppend(900, 12);
    index.maybeAppend(2000, 20);
    expect(index.entryCount).toBe(2);
    expect(index.lookup(999)).toEqual({ timestampMs: -1, offset: 0 });
    expect(index.lookup(1500)).toEqual({ timestampMs: 1000, offset: 5 });
    expect(index.lookup(2000)).toEqual({ timestampMs: 2000, offset: 20 });
    index.close();
  });
});

describe('checkpoint files', () => {
  it('round-trip entries in Kafka checkpoint format', () => {
    const file = new CheckpointFile(dir, 'cp', 2, nodeFileOps);
    expect(file.read()).toBeUndefined();
    file.write([
      [1, 10],
      [3, 42],
    ]);
    expect(fs.readFileSync(file.path, 'utf8')).toBe('0\n2\n1 10\n3 42\n');
    expect(file.read()).toEqual([
      [1, 10],
      [3, 42],
    ]);
    expect(fs.existsSync(`${file.path}.tmp`)).toBe(false);
    fs.writeFileSync(file.path, '0\n3\n1 10\n');
    expect(() => file.read()).toThrow(/malformed/);
  });

  it('an unreadable checkpoint does not stop the log from opening', async () => {
    const logger = capturingLogger().logger;
    const log = PartitionLog.open({ logDir: dir, topic: 'cp', partition: 0, logger });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 3 });
    log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 5 });
    log.checkpointHighWatermark(4);
    await log.close();
    const partDir = path.join(dir, 'cp-0');
    for (const name of [LEADER_EPOCH_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, HIGH_WATERMARK_CHECKPOINT]) {
      fs.writeFileSync(path.join(partDir, name), 'garbage\n');
    }
    const reopened = PartitionLog.open({ logDir: dir, topic: 'cp', partition: 0, logger });
    expect(reopened.logEndOffset).toBe(4);
    // The epochs are rebuilt from the partitionLeaderEpoch stamped in each batch.
    expect(reopened.leaderEpochEntries()).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 2 },
    ]);
    expect(reopened.readHighWatermark()).toBe(0);
    await reopened.close();
  });
});

describe('crash without close', () => {
  it('a copy of the directory taken mid-run (no clean shutdown) reopens with every written batch', async () => {
    const logger = capturingLogger().logger;
    const log = PartitionLog.open({ logDir: dir, topic: 'live', partition: 0, config: { segmentBytes: 1024, indexIntervalBytes: 100 }, logger });
    for (let i = 0; i < 30; i++) log.append(makeBatch({ recordCount: 2, tag: `c${i}` }), { leaderEpoch: 1 });
    await log.flush();
    for (let i = 0; i < 5; i++) log.append(makeBatch({ recordCount: 2 }), { leaderEpoch: 2 });
    const crashDir = path.join(dir, 'crash');
    fs.cpSync(path.join(dir, 'live-0'), path.join(crashDir, 'live-0'), { recursive: true });
    await log.close();

    const recovered = PartitionLog.open({ logDir: crashDir, topic: 'live', partition: 0, config: { segmentBytes: 1024, indexIntervalBytes: 100 }, logger });
    expect(recovered.logEndOffset).toBe(70);
    expect(recovered.segmentInfos()).toEqual(log.segmentInfos());
    expect(recovered.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 60 });
    await recovered.close();
  });
});

describe('retentionDeletions', () => {
  const HOUR_MS = 3_600_000;
  const segment = (sizeBytes: number, largestTimestampMs: number, upperBoundOffset: number | undefined) => ({ sizeBytes, largestTimestampMs, upperBoundOffset });

  it('deletes an expired prefix only, stopping at the first segment still within retention.ms', () => {
    const segments = [segment(10, 0, 10), segment(10, 5 * HOUR_MS, 20), segment(10, 0, 30), segment(10, 0, undefined)];
    expect(retentionDeletions(segments, { retentionMs: 2 * HOUR_MS, retentionBytes: -1 }, 6 * HOUR_MS, 30)).toEqual(['retention.ms']);
  });

  it('combines time and size, never touching the active segment or offsets at the high watermark', () => {
    const segments = [segment(10, 0, 10), segment(10, 9 * HOUR_MS, 20), segment(10, 9 * HOUR_MS, 30), segment(10, 9 * HOUR_MS, undefined)];
    const config = { retentionMs: HOUR_MS, retentionBytes: 15 };
    expect(retentionDeletions(segments, config, 9 * HOUR_MS, 100)).toEqual(['retention.ms', 'retention.bytes']);
    expect(retentionDeletions(segments, config, 9 * HOUR_MS, 19)).toEqual(['retention.ms']);
    expect(retentionDeletions([segment(50, 0, undefined)], { retentionMs: 0, retentionBytes: 0 }, HOUR_MS, 100)).toEqual([]);
  });
});

describe('batch scanner', () => {
  it('a header-only scan skipping large bodies sees the same batches as a chunked scan, and the same torn tail', () => {
    const file = path.join(dir, 'mixed.log');
    const batches = Array.from({ length: 24 }, (_, i) => makeBatch({ recordCount: i % 3 === 0 ? 60 : 1, valueBytes: i % 3 === 0 ? 300 : 10, tag: `b${i}` }));
    const whole = Buffer.concat(batches);
    // A torn tail: the next batch's header and half its body.
    const torn = makeBatch({ recordCount: 60, valueBytes: 300 });
    fs.writeFileSync(file, Buffer.concat([whole, torn.subarray(0, torn.length / 2)]));
    const fd = fs.openSync(file, 'r');
    try {
      const scan = (bodySkipMinBytes: number | undefined): { sizes: number[]; outcome: ScanOutcome } => {
        const sizes: number[] = [];
        const options = { verifyCrc: false, chunkBytes: 4096, ...(bodySkipMinBytes === undefined ? {} : { bodySkipMinBytes }) };
        const outcome = scanBatches(fd, 0, fs.fstatSync(fd).size, options, ({ frame }) => {
          sizes.push(frame.sizeBytes);
          return true;
        });
        return { sizes, outcome };
      };
      const chunked = scan(undefined);
      const headersOnly = scan(1024);
      expect(chunked.sizes).toEqual(batches.map((b) => b.length));
      expect(headersOnly).toEqual(chunked);
      expect(headersOnly.outcome.validEndPosition).toBe(whole.length);
      expect(headersOnly.outcome.problem).toMatch(/bytes left/);
    } finally {
      fs.closeSync(fd);
    }
  });
});
