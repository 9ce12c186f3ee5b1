// The Kafka quickstart on a real 3-node combined cluster, through the client library users embed:
// a topic with 3 partitions × RF 3, 100,000 keyed records produced with acks=all, and a checker that
// every acknowledged record is read back exactly once, in order per partition, each key on the
// partition murmur2 gives (Kafka's default partitioner), by the shared acknowledged-records checker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import { AckChecker, formatAckCheckReport, readBack } from '@runnel/cli';
import { partitionForKey } from '@runnel/protocol';
import { ELECTION_WAIT_MS, pollUntil, startCluster } from './harness/cluster.js';
import type { LocalCluster } from './harness/cluster.js';

const TOPIC = 'quickstart';
const PARTITIONS = 3;
const RECORDS = 100_000;
const KEYS = 1_000;
/** Records per send() call; the producer batches them per partition. */
const SEND_CHUNK = 500;
const CONSUME_TIMEOUT_MS = 120_000;

describe('quickstart: 100,000 keyed records through a 3-node cluster', () => {
  let cluster: LocalCluster;
  let runnel: Runnel;

  beforeAll(async () => {
    ({ cluster } = await startCluster({ basePort: 31_093 }));
    runnel = new Runnel({ brokers: cluster.nodeIds.map((id) => cluster.brokerEndpoint(id)), clientId: 'e2e-quickstart' });
  });

  afterAll(async () => {
    runnel?.close();
    await cluster?.stopAll();
  });

  it('every acknowledged record is read back once, in order per partition, on its murmur2 partition', async () => {
    const admin = runnel.admin();
    await pollUntil('three registered, unfenced brokers', async () => {
      const description = await admin.describeCluster().catch(() => undefined);
      return description !== undefined && description.brokers.length === 3 && description.brokers.every((b) => !b.fenced) ? true : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
    const { topics } = await admin.describeTopics({ topics: [TOPIC] });
    expect(topics[0]?.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);

    // Produce: value i carries its global index; key k = i % KEYS.
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    const checker = new AckChecker();
    const sends: Promise<void>[] = [];
    for (let start = 0; start < RECORDS; start += SEND_CHUNK) {
      const messages = Array.from({ length: Math.min(SEND_CHUNK, RECORDS - start) }, (_, j) => ({ key: `key-${(start + j) % KEYS}`, value: String(start + j) }));
      sends.push(producer.send({ topic: TOPIC, messages }).then((results) => {
        results.forEach((r, j) => {
          const index = start + j;
          // Each key on the partition murmur2 gives it, as Kafka's default partitioner would.
          expect(r.partition).toBe(partitionForKey(Buffer.from(`key-${index % KEYS}`), PARTITIONS));
          checker.recordAcked({ topic: TOPIC, partition: r.partition, offset: r.offset, key: messages[j]!.key, value: messages[j]!.value, producer: 'quickstart', order: index });
        });
      }));
    }
    await Promise.all(sends);
    await producer.disconnect();
    expect(checker.acknowledged).toBe(RECORDS);

    // The checker: exactly the acknowledged records, once each, at their acknowledged offsets, in
    // offset order per partition and in production order per partition (so per key).
    const report = checker.check(await readBack(runnel, [TOPIC], { timeoutMs: CONSUME_TIMEOUT_MS }));
    expect(report.ok, formatAckCheckReport(report)).toBe(true);
    expect(report.read).toBe(RECORDS);
  });
});
