import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capturingLogger, makeBatch, makeTempDir, removeDir } from './log-test-kit.js';
import { CheckpointFile } from './checkpoint-file.js';
import { nodeFileOps } from './file-ops.js';
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochFileCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.js';
import { PartitionLog } from './partition-log.js';

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(async () => {
  await removeDir(dir);
});

function openCache(): LeaderEpochFileCache {
  return LeaderEpochFileCache.open(dir, nodeFileOps, capturingLogger().logger);
}

describe('LeaderEpochFileCache', () => {
  it('ignores a repeated epoch at a later offset and keeps the first start offset', () => {
    const cache = openCache();
    cache.assign(2, 10);
    cache.assign(2, 15);
    expect(cache.entries()).toEqual([{ epoch: 2, startOffset: 10 }]);
  });

  it('removes entries that a new assignment makes non-monotonic', () => {
    const cache = openCache();
    cache.assign(1, 0);
    cache.assign(3, 10);
    cache.assign(4, 20);
    cache.assign(2, 15);
    expect(cache.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 15 },
    ]);
  });

  it('answers OffsetsForLeaderEpoch as Kafka does', () => {
    const cache = openCache();
    cache.assign(2, 5);
    cache.assign(4, 12);
    cache.assign(7, 30);
    const logEndOffset = 42;
    // The latest epoch ends at the log end offset.
    expect(cache.endOffsetFor(7, logEndOffset)).toEqual({ epoch: 7, endOffset: 42 });
    // A known earlier epoch ends where the next one starts.
    expect(cache.endOffsetFor(4, logEndOffset)).toEqual({ epoch: 4, endOffset: 30 });
    // An unknown epoch between known ones answers with the largest known epoch below it.
    expect(cache.endOffsetFor(5, logEndOffset)).toEqual({ epoch: 4, endOffset: 30 });
    // An epoch older than all known ones ended where the first known epoch began.
    expect(cache.endOffsetFor(1, logEndOffset)).toEqual({ epoch: 1, endOffset: 5 });
    // A newer epoch than any known, or the undefined epoch, is undefined.
    expect(cache.endOffsetFor(8, logEndOffset)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
    expect(cache.endOffsetFor(UNDEFINED_EPOCH, logEndOffset)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
  });

  it('truncateFromEnd drops epochs starting at or after the offset', () => {
    const cache = openCache();
    cache.assign(1, 0);
    cache.assign(2, 10);
    cache.assign(3, 20);
    cache.truncateFromEnd(10);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 0 }]);
  });

  it('truncateFromStart keeps the epoch in force at the new start', () => {
    const cache = openCache();
    cache.assign(1, 0);
    cache.assign(2, 10);
    cache.assign(3, 20);
    cache.truncateFromStart(15);
    expect(cache.entries()).toEqual([
      { epoch: 2, startOffset: 15 },
      { epoch: 3, startOffset: 20 },
    ]);
  });

  it('is checkpointed on every change and restored from the file', () => {
    const cache = openCache();
    cache.assign(1, 0);
    cache.assign(5, 8);
    expect(new CheckpointFile(dir, LEADER_EPOCH_CHECKPOINT, 2, nodeFileOps).read()).toEqual([
      [1, 0],
      [5, 8],
    ]);
    expect(openCache().entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 5, startOffset: 8 },
    ]);
  });
});

describe('PartitionLog checkpoints', () => {
  it('restore the high watermark, recovery point and leader epochs on reopen', async () => {
    const logger = capturingLogger().logger;
    const log = PartitionLog.open({ logDir: dir, topic: 't', partition: 2, logger });
    log.append(makeBatch({ recordCount: 3 }), { leaderEpoch: 1 });
    log.assignEpochStartOffset(2, log.logEndOffset);
    log.append(makeBatch({ recordCount: 3 }), { leaderEpoch: 2 });
    log.checkpointHighWatermark(3);
    await log.flush();
    expect(log.flushedOffset).toBe(6);
    await log.close();

    const reopened = PartitionLog.open({ logDir: dir, topic: 't', partition: 2, logger });
    expect(reopened.readHighWatermark()).toBe(3);
    expect(reopened.flushedOffset).toBe(6);
    expect(reopened.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 3 });
    expect(reopened.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 6 });
    expect(() => reopened.checkpointHighWatermark(7)).toThrow(RangeError);
    await reopened.close();
  });

  it('drop leader epochs beyond a log end offset that recovery cut back', async () => {
    const logger = capturingLogger().logger;
    const log = PartitionLog.open({ logDir: dir, topic: 't', partition: 0, logger });
    log.append(makeBatch({ recordCount: 3 }), { leaderEpoch: 1 });
    // A leader recorded where its epoch starts but no batch of that epoch exists: as in Kafka's
    // LogLoader, epochs starting at or after the recovered log end are dropped.
    log.assignEpochStartOffset(2, 3);
    await log.close();
    const reopened = PartitionLog.open({ logDir: dir, topic: 't', partition: 0, logger });
    expect(reopened.leaderEpochEntries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    await reopened.close();
  });
});
