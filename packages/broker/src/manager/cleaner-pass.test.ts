import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, decodeRecordBatch, encodeRecordBatch, iterateBatches } from '@runnel/protocol';
import { ManualClock } from '../log/log-test-kit.js';
import type { FetchRequest } from './messages.js';
import { ReplicaManager } from './replica-manager.js';
import { TOPIC, buildImage, quietLogger, tempDir, waitFor } from './manager-test-kit.js';

const T0 = 1_700_000_000_000;
const KEYS = 10;
const ROUNDS = 30;

function keyed(key: string, value: string, timestampMs: number): Buffer {
  return encodeRecordBatch({ baseTimestamp: timestampMs, records: [{ key: Buffer.from(key), value: Buffer.from(value), timestamp: timestampMs }] });
}

function consumerFetch(fetchOffset: number): FetchRequest {
  return {
    replicaId: -1,
    replicaEpoch: 0,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 * 1024 * 1024,
    isolationLevel: 0,
    topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 10 * 1024 * 1024, flushedOffset: 0 }] }],
  };
}

describe('ReplicaManager log cleaner pass', () => {
  let manager: ReplicaManager | undefined;
  let logDir = '';

  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    if (logDir !== '') await fs.promises.rm(logDir, { recursive: true, force: true });
  });

  async function start(configs: Record<string, string>): Promise<ReplicaManager> {
    logDir = await tempDir();
    const clock = new ManualClock(T0);
    manager = new ReplicaManager({
      brokerId: 1,
      logDir,
      logger: quietLogger(),
      alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) },
      clock,
      tickMs: 0,
      retentionCheckIntervalMs: 0,
      cleanerBackoffMs: 0,
    });
    await manager.applyMetadata(buildImage({ brokers: [1], partitions: [{ replicas: [1], isr: [1], leader: 1, leaderEpoch: 1 }], topicConfigs: { 'segment.bytes': '512', ...configs } }));
    return manager;
  }

  async function fill(m: ReplicaManager): Promise<void> {
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < KEYS; k++) {
        const response = await m.produce({ acks: 1, timeoutMs: 5_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: keyed(`k${k}`, `v${round}`, T0 + round) }] }] });
        expect(response.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
      }
    }
    await waitFor(() => {
      const v = m.describe()[0];
      return v !== undefined && v.highWatermark === v.logEndOffset;
    }, 'high watermark at the log end');
  }

  /** Every record a consumer reads from offset 0 to the log end (a fetch reads one segment at a time). */
  async function readAll(m: ReplicaManager): Promise<Array<{ offset: number; key: string; value: string }>> {
    const out: Array<{ offset: number; key: string; value: string }> = [];
    let next = 0;
    for (let fetches = 0; fetches < 10_000; fetches++) {
      const part = (await m.fetch(consumerFetch(next))).topics[0]?.partitions[0];
      if (part === undefined || part.errorCode !== ErrorCode.NONE) throw new Error(`fetch failed: ${part?.errorCode}`);
      if (part.records.length === 0) return out;
      for (const entry of iterateBatches(part.records)) {
        if (entry.kind !== 'batch') break;
        for (const r of decodeRecordBatch(part.records, entry.position).records) {
          if (r.offset >= next) out.push({ offset: r.offset, key: r.key?.toString() ?? '', value: r.value?.toString() ?? '' });
        }
        next = Math.max(next, entry.header.baseOffset + entry.header.lastOffsetDelta + 1);
      }
    }
    throw new Error('read did not reach the log end');
  }

  it('compacts a cleanup.policy=compact topic to the latest value per key below the high watermark', async () => {
    const m = await start({ 'cleanup.policy': 'compact' });
    await fill(m);
    const before = await readAll(m);
    expect(before.length).toBe(KEYS * ROUNDS);
    const pass = await m.runCleaner();
    expect(pass?.topic).toBe(TOPIC);
    const after = await readAll(m);
    expect(after.length).toBeLessThan(before.length / 2);
    // Every key still reads as its latest value, at its original offset, in offset order.
    const latest = new Map<string, { offset: number; value: string }>();
    for (const r of before) latest.set(r.key, { offset: r.offset, value: r.value });
    const lastPerKey = new Map<string, { offset: number; value: string }>();
    for (const r of after) lastPerKey.set(r.key, { offset: r.offset, value: r.value });
    expect(lastPerKey).toEqual(latest);
    expect(after.map((r) => r.offset)).toEqual([...after.map((r) => r.offset)].sort((a, b) => a - b));
  });

  it('leaves a delete-policy topic alone', async () => {
    const m = await start({});
    await fill(m);
    expect(await m.runCleaner()).toBeUndefined();
    expect((await readAll(m)).length).toBe(KEYS * ROUNDS);
  });
});
