// The benchmark commands against the client's in-process fake broker: they must move every record
// and report figures computed from what happened (nothing here checks a speed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCluster } from '../../client/src/__tests__/fake-broker.js';
import { runConsumeBench, runProduceBench } from './bench-client.js';

describe('bench produce and consume', () => {
  let fake: FakeCluster;

  beforeEach(async () => {
    fake = await FakeCluster.start({ brokerCount: 1 });
    fake.createTopic('bench', 3);
  });

  afterEach(async () => {
    await fake.stop();
  });

  it('produce sends every record and reports rate and latency from the acknowledgements', async () => {
    const result = await runProduceBench({
      brokers: fake.bootstrap, topic: 'bench', numRecords: 2_000, recordSizeBytes: 100, acks: 'all', throughput: 0,
      recordsPerSend: 100, lingerMs: 1, batchSizeBytes: 65_536, maxDurationMs: 30_000, progress: false,
    });
    expect(result.records).toBe(2_000);
    expect(result.failed).toBe(0);
    expect(result.recordsPerSec).toBeGreaterThan(0);
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99);
    expect(result.latencyMs.p99).toBeLessThanOrEqual(result.latencyMs.max);
    const stored = [0, 1, 2].reduce((sum, p) => sum + fake.records('bench', p).length, 0);
    expect(stored).toBe(2_000);

    const consumed = await runConsumeBench({ brokers: fake.bootstrap, topic: 'bench', numRecords: 2_000, maxDurationMs: 30_000, progress: false });
    expect(consumed.records).toBe(2_000);
    expect(consumed.bytes).toBe(2_000 * 100);
  });

  it('warm-up records are sent but left out of every figure', async () => {
    const result = await runProduceBench({
      brokers: fake.bootstrap, topic: 'bench', numRecords: 500, recordSizeBytes: 10, acks: 1, throughput: 0,
      recordsPerSend: 50, lingerMs: 0, batchSizeBytes: 16_384, maxDurationMs: 30_000, progress: false, warmupRecords: 300,
    });
    expect(result.records).toBe(500);
    const stored = [0, 1, 2].reduce((sum, p) => sum + fake.records('bench', p).length, 0);
    expect(stored).toBe(800);
  });

  it('produce paces to --throughput', async () => {
    const result = await runProduceBench({
      brokers: fake.bootstrap, topic: 'bench', numRecords: 300, recordSizeBytes: 10, acks: 1, throughput: 1_000,
      recordsPerSend: 10, lingerMs: 0, batchSizeBytes: 16_384, maxDurationMs: 30_000, progress: false,
    });
    expect(result.records).toBe(300);
    // 300 records at 1,000/s cannot finish sooner than the schedule's last send at ~290 ms.
    expect(result.durationMs).toBeGreaterThanOrEqual(280);
  });
});
