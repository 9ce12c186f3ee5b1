import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunnelError, encodeRecordBatch } from '@runnel/protocol';
import type { Admin } from './admin.js';
import { startHarness } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';

describe('Admin against the fake cluster', () => {
  let h: Harness;
  let admin: Admin;
  beforeEach(async () => {
    h = await startHarness({ brokerCount: 3 });
    admin = h.runnel.admin();
    await admin.connect();
  });
  afterEach(async () => h.close());

  it('creates topics, lists them and describes partitions with leader, replicas and ISR', async () => {
    const created = await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 2 }, { topic: 'audit', numPartitions: 1, replicationFactor: 1 }] });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toEqual(['audit', 'orders']);
    const { topics } = await admin.fetchTopicMetadata({ topics: ['orders'] });
    expect(topics).toHaveLength(1);
    const partitions = topics[0]?.partitions ?? [];
    expect(partitions.map((p) => p.partitionId)).toEqual([0, 1, 2]);
    for (const p of partitions) {
      const fake = h.fake.partition('orders', p.partitionId);
      expect(p.leader).toBe(fake.leaderId);
      expect(p.replicas).toEqual(fake.replicas);
      expect(p.isr).toEqual(fake.isr);
      expect(p.replicas).toHaveLength(2);
    }
  });

  it('reports false when a topic already exists, and validateOnly creates nothing', async () => {
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1 }] });
    expect(await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1 }] })).toBe(false);
    await admin.createTopics({ topics: [{ topic: 'dry', numPartitions: 2 }], validateOnly: true });
    expect(await admin.listTopics()).toEqual(['t']);
  });

  it('raises the partition count and deletes topics', async () => {
    await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 4 }] });
    const { topics } = await admin.describeTopics({ topics: ['grow'] });
    expect(topics[0]?.partitions).toHaveLength(4);
    await admin.deleteTopics({ topics: ['grow'] });
    expect(await admin.listTopics()).toEqual([]);
  });

  it('turns per-topic error codes into typed, non-retriable errors', async () => {
    const error = await admin.createTopics({ topics: [{ topic: 'wide', numPartitions: 1, replicationFactor: 9 }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('INVALID_REPLICATION_FACTOR');
    expect((error as RunnelError).retriable).toBe(false);
    const missing = await admin.deleteTopics({ topics: ['nope'] }).catch((e: unknown) => e);
    expect((missing as RunnelError).codeName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('describes the cluster: id, controller and every broker', async () => {
    const description = await admin.describeCluster();
    expect(description.clusterId).toBe(h.fake.clusterId);
    expect(description.controller).toBe(h.fake.controllerId);
    expect(description.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    expect(description.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(h.fake.bootstrap);
  });

  it('finds the cluster through any bootstrap broker when the first is unreachable', async () => {
    const runnel = new (await import('./runnel.js')).Runnel({
      brokers: ['127.0.0.1:1', ...h.fake.bootstrap],
      retry: { retries: 3, initialRetryTimeMs: 10, maxRetryTimeMs: 50 },
      requestTimeoutMs: 2_000,
    });
    try {
      expect((await runnel.admin().describeCluster()).clusterId).toBe(h.fake.clusterId);
    } finally {
      runnel.close();
    }
  });
});

describe('Admin.fetchTopicOffsets', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('reports log start and high watermark per partition, asking each partition\'s leader, after a leader move', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 2, 2);
    for (let i = 0; i < 3; i++) h.fake.appendRaw('t', 0, encodeRecordBatch({ records: [{ key: null, value: Buffer.from(`v${i}`) }] }));
    h.fake.appendRaw('t', 1, encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x') }] }));
    h.fake.deleteRecordsBefore('t', 0, 1);
    const admin = h.runnel.admin();
    expect(await admin.fetchTopicOffsets('t')).toEqual([{ partition: 0, low: 1, high: 3, offset: 3 }, { partition: 1, low: 0, high: 1, offset: 1 }]);
    // A leader that moved after the metadata was cached answers NOT_LEADER_OR_FOLLOWER: refreshed and retried.
    h.fake.moveLeader('t', 0, h.fake.partition('t', 0).replicas[1]!);
    expect((await admin.fetchTopicOffsets('t'))[0]).toEqual({ partition: 0, low: 1, high: 3, offset: 3 });
  });
});
