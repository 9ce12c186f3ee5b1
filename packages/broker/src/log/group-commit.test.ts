import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capturingLogger, countingFileOps, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import { GroupCommit } from './group-commit.js';
import { PartitionLog } from './partition-log.js';

let logDir: string;

beforeEach(async () => {
  logDir = await makeTempDir();
});

afterEach(async () => {
  await removeDir(logDir);
});

describe('GroupCommit', () => {
  it('runs one sync for requests made in the same turn, and one more for those made during it', async () => {
    let syncs = 0;
    let release: (() => void) | undefined;
    const commit = new GroupCommit(async () => {
      syncs += 1;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const first = Array.from({ length: 10 }, () => commit.request());
    await vi.waitFor(() => expect(syncs).toBe(1));
    const second = Array.from({ length: 10 }, () => commit.request());
    release?.();
    await Promise.all(first);
    // The requests made while the first sync ran are not covered by it: they wait for a second.
    await vi.waitFor(() => expect(syncs).toBe(2));
    release?.();
    await Promise.all(second);
    expect(commit.syncCount).toBe(2);
  });

  it('rejects every waiter of a failed sync', async () => {
    const commit = new GroupCommit(() => Promise.reject(new Error('EIO')));
    const results = await Promise.allSettled([commit.request(), commit.request()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('PartitionLog group commit', () => {
  it('covers many concurrent flush requests with far fewer fsyncs and advances flushedOffset', async () => {
    const ops = countingFileOps();
    ops.delayMs = 5;
    const log = PartitionLog.open({ logDir, topic: 'acks', partition: 0, fileOps: ops, logger: capturingLogger().logger });
    const requests = 50;
    const fsyncsBefore = ops.asyncFsyncs;
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < requests; i++) {
      const appended = log.append(makeBatch(), { leaderEpoch: 0 });
      if (!appended.ok) throw appended.error;
      waits.push(log.flushUpTo(appended.lastOffset + 1));
      // Half the producers arrive while the first fsync is in flight.
      if (i === requests / 2) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(waits);
    expect(log.flushedOffset).toBe(requests);
    expect(log.flushCount).toBeLessThanOrEqual(3);
    // Each sync fsyncs only the active segment's .log: its indexes are rebuilt on open anyway.
    expect(ops.asyncFsyncs - fsyncsBefore).toBe(log.flushCount);
    await log.close();
  });

  it('a request for an offset the fsync in flight already covers rides on it', async () => {
    const ops = countingFileOps();
    ops.delayMs = 20;
    const log = PartitionLog.open({ logDir, topic: 'acks', partition: 0, fileOps: ops, logger: capturingLogger().logger });
    log.append(makeBatch(), { leaderEpoch: 0 });
    const first = log.flushUpTo(1);
    await vi.waitFor(() => expect(ops.asyncFsyncs).toBeGreaterThan(0));
    const second = log.flushUpTo(1);
    await Promise.all([first, second]);
    expect(log.flushCount).toBe(1);
    await log.close();
  });

  it('does not fsync again for an offset that is already durable', async () => {
    const ops = countingFileOps();
    const log = PartitionLog.open({ logDir, topic: 'acks', partition: 0, fileOps: ops, logger: capturingLogger().logger });
    log.append(makeBatch(), { leaderEpoch: 0 });
    await log.flushUpTo(1);
    const count = log.flushCount;
    await log.flushUpTo(1);
    expect(log.flushCount).toBe(count);
    await log.close();
  });

  it('turns an fsync failure into KAFKA_STORAGE_ERROR for every waiter and takes the log offline', async () => {
    const ops = countingFileOps();
    const log = PartitionLog.open({ logDir, topic: 'acks', partition: 0, fileOps: ops, logger: capturingLogger().logger });
    log.append(makeBatch(), { leaderEpoch: 0 });
    ops.failWith = new Error('EIO: simulated disk failure');
    const results = await Promise.allSettled([log.flush(), log.flush(), log.flush()]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      if (result.status === 'rejected') expect((result.reason as { codeName: string }).codeName).toBe('KAFKA_STORAGE_ERROR');
    }
    expect(log.flushedOffset).toBe(0);
    const append = log.append(makeBatch(), { leaderEpoch: 0 });
    if (append.ok) throw new Error('an offline log accepted an append');
    expect(append.error.codeName).toBe('KAFKA_STORAGE_ERROR');
    await log.close();
  });

  it('a roll is made durable by the next flush, which also checkpoints the recovery point', async () => {
    const ops = countingFileOps();
    const batchBytes = makeBatch().length;
    const log = PartitionLog.open({ logDir, topic: 'acks', partition: 0, fileOps: ops, config: { segmentBytes: batchBytes }, logger: capturingLogger().logger });
    log.append(makeBatch(), { leaderEpoch: 0 });
    log.append(makeBatch(), { leaderEpoch: 0 });
    expect(log.segmentInfos().length).toBe(2);
    const asyncBefore = ops.asyncFsyncs;
    await log.flush();
    // The rolled segment (log + 2 indexes, before the recovery point may pass it), the active
    // segment's log, and the directory entry of the new segment.
    expect(ops.asyncFsyncs - asyncBefore).toBe(5);
    expect(log.flushedOffset).toBe(2);
    await log.close();
  });
});
