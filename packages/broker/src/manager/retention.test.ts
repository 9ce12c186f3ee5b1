import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@runnel/protocol';
import { ManualClock } from '../log/log-test-kit.js';
import type { FetchRequest, FetchResponse } from './messages.js';
import { ReplicaManager } from './replica-manager.js';
import { GatedFileOps, TOPIC, batch, buildImage, quietLogger, tempDir, waitFor } from './manager-test-kit.js';

const T0 = 1_700_000_000_000;
const SEGMENT_BYTES = 1024;
const RETENTION_MS = 60_000;
const VALUE = 'v'.repeat(200);

function consumerFetch(fetchOffset: number): FetchRequest {
  return {
    replicaId: -1,
    replicaEpoch: 0,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 0,
    isolationLevel: 0,
    topics: [
      {
        name: TOPIC,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 0, flushedOffset: 0 }],
      },
    ],
  };
}

function fetched(response: FetchResponse) {
  const found = response.topics[0]?.partitions[0];
  if (found === undefined) throw new Error('empty fetch response');
  return found;
}

describe('ReplicaManager retention pass', () => {
  let manager: ReplicaManager | undefined;
  let fileOps: GatedFileOps | undefined;
  let logDir = '';
  const clock = new ManualClock(T0);

  afterEach(async () => {
    fileOps?.open();
    await manager?.close();
    manager = undefined;
    if (logDir !== '') await fs.promises.rm(logDir, { recursive: true, force: true });
  });

  function image(configs: Record<string, string>) {
    return buildImage({ brokers: [1], partitions: [{ replicas: [1], isr: [1], leader: 1, leaderEpoch: 1 }], topicConfigs: { 'segment.bytes': String(SEGMENT_BYTES), ...configs } });
  }

  async function single(configs: Record<string, string>): Promise<ReplicaManager> {
    logDir = await tempDir();
    fileOps = new GatedFileOps();
    manager = new ReplicaManager({ brokerId: 1, logDir, logger: quietLogger(), alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) }, clock, fileOps, tickMs: 0, retentionCheckIntervalMs: 0 });
    await manager.applyMetadata(image(configs));
    return manager;
  }

  function view(m: ReplicaManager) {
    const found = m.describe().find((v) => v.topic === TOPIC && v.partition === 0);
    if (found === undefined) throw new Error('partition not hosted');
    return found;
  }

  function segments(m: ReplicaManager) {
    const log = m.partitionLog(TOPIC, 0);
    if (log === undefined) throw new Error('partition not hosted');
    return log.segmentInfos();
  }

  /** Appends until the log has at least `segmentCount` segments; batches are stamped with the clock's time. */
  async function fillSegments(m: ReplicaManager, segmentCount: number): Promise<void> {
    for (let i = 0; segments(m).length < segmentCount; i++) {
      if (i > segmentCount * 50) throw new Error(`log did not reach ${segmentCount} segments`);
      const response = await m.produce({ acks: 1, timeoutMs: 5_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: batch([VALUE], clock.nowMs()) }] }] });
      expect(response.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    }
  }

  async function settled(m: ReplicaManager): Promise<void> {
    await waitFor(() => view(m).highWatermark === view(m).logEndOffset, 'high watermark to reach the log end');
  }

  it('retention.ms deletes expired segments below the high watermark, never the active one', async () => {
    const m = await single({ 'retention.ms': String(RETENTION_MS) });
    await fillSegments(m, 5);
    await settled(m);
    const before = segments(m);
    const active = before[before.length - 1];
    if (active === undefined) throw new Error('no segments');

    expect((await m.enforceRetention()).deletedSegments).toBe(0);
    expect(view(m).logStartOffset).toBe(0);

    clock.advance(RETENTION_MS + 1);
    const pass = await m.enforceRetention();
    expect(pass.deletedSegments).toBe(before.length - 1);
    expect(pass.deletedBytes).toBe(before.slice(0, -1).reduce((sum, s) => sum + s.sizeBytes, 0));
    expect(segments(m).map((s) => s.baseOffset)).toEqual([active.baseOffset]);
    expect(view(m).logStartOffset).toBe(active.baseOffset);
    expect(view(m).logEndOffset).toBe(active.nextOffset);

    const below = fetched(await m.fetch(consumerFetch(0)));
    expect(below.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(below.logStartOffset).toBe(active.baseOffset);
    const atStart = fetched(await m.fetch(consumerFetch(active.baseOffset)));
    expect(atStart.errorCode).toBe(ErrorCode.NONE);
    expect(atStart.records.length).toBeGreaterThan(0);
  });

  it('keeps segments at or above the high watermark until it passes them', async () => {
    const m = await single({ 'retention.ms': String(RETENTION_MS) });
    await fillSegments(m, 3);
    await settled(m);
    const highWatermark = view(m).highWatermark;
    // Hold fsyncs: appends land but the durable high watermark cannot move past them.
    fileOps?.close();
    await fillSegments(m, 7);
    expect(view(m).highWatermark).toBe(highWatermark);

    clock.advance(RETENTION_MS + 1);
    const pass = await m.enforceRetention();
    expect(pass.deletedSegments).toBeGreaterThan(0);
    const remaining = segments(m);
    expect(view(m).logStartOffset).toBeLessThanOrEqual(highWatermark);
    // Every segment holding offsets at or above the watermark is still there.
    for (const segment of remaining.slice(1)) expect(segment.nextOffset).toBeGreaterThan(highWatermark);

    fileOps?.open();
    await settled(m);
    await m.enforceRetention();
    expect(segments(m)).toHaveLength(1);
  });

  it('retention.bytes deletes the oldest segments while the log stays at or above the limit', async () => {
    const retentionBytes = SEGMENT_BYTES * 2;
    const m = await single({ 'retention.bytes': String(retentionBytes), 'retention.ms': '-1' });
    await fillSegments(m, 6);
    await settled(m);
    const before = segments(m);
    const totalBefore = before.reduce((sum, s) => sum + s.sizeBytes, 0);
    expect(totalBefore).toBeGreaterThan(retentionBytes);

    const pass = await m.enforceRetention();
    const after = segments(m);
    const totalAfter = after.reduce((sum, s) => sum + s.sizeBytes, 0);
    expect(pass.deletedSegments).toBe(before.length - after.length);
    expect(pass.deletedSegments).toBeGreaterThan(0);
    expect(pass.deletedBytes).toBe(totalBefore - totalAfter);
    expect(totalAfter).toBeGreaterThanOrEqual(retentionBytes);
    // One more deletion would have dropped below the limit.
    expect(totalAfter - (after[0]?.sizeBytes ?? 0)).toBeLessThan(retentionBytes);
    expect(after[after.length - 1]?.baseOffset).toBe(before[before.length - 1]?.baseOffset);
    expect(view(m).logStartOffset).toBe(after[0]?.baseOffset);
    expect(fetched(await m.fetch(consumerFetch(0))).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('takes retention config changes from new metadata images, and reverts when an override is removed', async () => {
    const m = await single({ 'retention.ms': '-1' });
    await fillSegments(m, 4);
    await settled(m);
    clock.advance(RETENTION_MS + 1);
    expect((await m.enforceRetention()).deletedSegments).toBe(0);

    await m.applyMetadata(image({ 'retention.ms': String(RETENTION_MS) }));
    expect((await m.enforceRetention()).deletedSegments).toBeGreaterThan(0);
    expect(segments(m)).toHaveLength(1);

    // Without the override the default (days) applies again, so minutes-old segments stay.
    await m.applyMetadata(image({}));
    await fillSegments(m, 4);
    await settled(m);
    clock.advance(RETENTION_MS + 1);
    expect((await m.enforceRetention()).deletedSegments).toBe(0);
    expect(segments(m).length).toBeGreaterThanOrEqual(4);
  });

  it('the retention.check.interval timer runs the pass on its own', async () => {
    logDir = await tempDir();
    fileOps = new GatedFileOps();
    const m = new ReplicaManager({ brokerId: 1, logDir, logger: quietLogger(), alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) }, clock, fileOps, tickMs: 0, retentionCheckIntervalMs: 10 });
    manager = m;
    await m.applyMetadata(image({ 'retention.ms': String(RETENTION_MS) }));
    await fillSegments(m, 3);
    await settled(m);
    expect(view(m).logStartOffset).toBe(0);
    clock.advance(RETENTION_MS + 1);
    await waitFor(() => segments(m).length === 1, 'the timer to delete expired segments');
    expect(view(m).logStartOffset).toBeGreaterThan(0);
  });

  it('a pass over a closed manager deletes nothing and does not throw', async () => {
    const m = await single({ 'retention.ms': String(RETENTION_MS) });
    await fillSegments(m, 3);
    await settled(m);
    await m.close();
    clock.advance(RETENTION_MS + 1);
    await expect(m.enforceRetention()).resolves.toEqual({ partitionsChecked: 0, deletedSegments: 0, deletedBytes: 0 });
  });
});
