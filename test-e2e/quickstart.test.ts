// The Kafka quickstart on a real 3-node combined cluster, through the client library users embed:
// a topic with 3 partitions × RF 3, 100,000 keyed records produced with acks=all, and a checker that
// every acknowledged record is read back exactly once, in order per partition, each key on the
// partition murmur2 gives (Kafka's default partitioner).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import type { RecordMetadata } from '@runnel/client';
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
    const acknowledged: Array<RecordMetadata & { index: number }> = [];
    const sends: Promise<void>[] = [];
    for (let start = 0; start < RECORDS; start += SEND_CHUNK) {
      const messages = Array.from({ length: Math.min(SEND_CHUNK, RECORDS - start) }, (_, j) => ({ key: `key-${(start + j) % KEYS}`, value: String(start + j) }));
      sends.push(producer.send({ topic: TOPIC, messages }).then((results) => {
        results.forEach((r, j) => acknowledged.push({ ...r, index: start + j }));
      }));
    }
    await Promise.all(sends);
    await producer.disconnect();
    expect(acknowledged).toHaveLength(RECORDS);

    // Acknowledged offsets: unique per partition, and each key on its murmur2 partition.
    const expectedByPartition = new Map<number, Map<number, number>>();
    for (const ack of acknowledged) {
      expect(ack.partition).toBe(partitionForKey(Buffer.from(`key-${ack.index % KEYS}`), PARTITIONS));
      const offsets = expectedByPartition.get(ack.partition) ?? new Map<number, number>();
      expect(offsets.has(ack.offset)).toBe(false);
      offsets.set(ack.offset, ack.index);
      expectedByPartition.set(ack.partition, offsets);
    }

    // Consume everything from the beginning.
    const consumer = runnel.consumer({ autoOffsetReset: 'earliest' });
    await consumer.connect();
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition })), { fromBeginning: true });
    const seen = new Map<number, Array<{ offset: number; index: number; key: string }>>();
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${total} of ${RECORDS} records in ${CONSUME_TIMEOUT_MS} ms`)), CONSUME_TIMEOUT_MS);
      consumer.once('crash', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const list = seen.get(batch.partition) ?? [];
          for (const m of batch.messages) list.push({ offset: m.offset, index: Number(m.value?.toString()), key: m.key?.toString() ?? '' });
          seen.set(batch.partition, list);
          total += batch.messages.length;
          if (total >= RECORDS) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();

    // The checker: exactly the acknowledged records, once each, in offset order per partition, and in
    // production order per key (a key lives on one partition).
    expect(total).toBe(RECORDS);
    for (const [partition, records] of seen) {
      const expected = expectedByPartition.get(partition);
      expect(expected, `partition ${partition} was produced to`).toBeDefined();
      expect(records).toHaveLength(expected!.size);
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        if (i > 0) expect(record.offset).toBeGreaterThan(records[i - 1]!.offset);
        expect(expected!.get(record.offset), `partition ${partition} offset ${record.offset}`).toBe(record.index);
        expect(record.key).toBe(`key-${record.index % KEYS}`);
      }
      const lastIndexOfKey = new Map<string, number>();
      for (const record of records) {
        expect(record.index).toBeGreaterThan(lastIndexOfKey.get(record.key) ?? -1);
        lastIndexOfKey.set(record.key, record.index);
      }
    }
  });
});
