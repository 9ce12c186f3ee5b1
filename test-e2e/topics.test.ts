// A 3-node combined-mode cluster (each node a controller voter and a broker) serving a replicated
// topic end to end over raw runnel.v1.Broker calls: admin forwarded to the active controller,
// metadata from every broker, acks=all produce to each partition leader, fetch below the high watermark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createBrokerClient, decodeRecordBatch, encodeRecordBatch, unaryCall } from '@runnel/protocol';
import type { BrokerClient, MetadataResponse, PartitionMetadata } from '@runnel/protocol';
import { ELECTION_WAIT_MS, pollUntil, startCluster } from './harness/cluster.js';
import type { LocalCluster } from './harness/cluster.js';

const TOPIC = 'e2e-orders';
const PARTITIONS = 3;
const REPLICATION_FACTOR = 3;
const BATCHES_PER_PARTITION = 4;
const RECORDS_PER_BATCH = 25;
const CALL_MS = 10_000;

describe('a 3-node combined cluster serves a replicated topic', () => {
  let cluster: LocalCluster;
  const clients = new Map<number, BrokerClient>();
  const client = (id: number): BrokerClient => {
    let found = clients.get(id);
    if (found === undefined) {
      found = createBrokerClient(cluster.brokerEndpoint(id));
      clients.set(id, found);
    }
    return found;
  };
  const metadata = (id: number): Promise<MetadataResponse> => unaryCall(client(id), 'metadata', { topics: [TOPIC], allTopics: false }, CALL_MS);

  beforeAll(async () => {
    ({ cluster } = await startCluster({ basePort: 30_093 }));
  });

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await cluster?.stopAll();
  });

  it('registers and unfences every broker', async () => {
    const brokers = await pollUntil('three unfenced brokers in the metadata of every node', async () => {
      const answers = await Promise.all(cluster.nodeIds.map((id) => metadata(id).catch(() => undefined)));
      const ready = answers.every((answer) => answer !== undefined && answer.brokers.length === 3 && answer.brokers.every((b) => !b.fenced));
      return ready ? answers[0]?.brokers : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
    expect(brokers?.map((b) => [b.id, `${b.host}:${b.port}`])).toEqual(cluster.nodeIds.map((id) => [id, cluster.brokerEndpoint(id)]));
  });

  it('creates a topic through any broker, and every broker serves its metadata', async () => {
    // Node 3 is asked on purpose: whichever node leads, the broker forwards to the active controller.
    const created = await unaryCall(client(3), 'createTopics', {
      topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR, configs: [{ name: 'min.insync.replicas', value: '2' }] }],
      timeoutMs: 10_000,
      validateOnly: false,
    }, CALL_MS + 10_000);
    expect(created.topics).toHaveLength(1);
    expect(created.topics[0]).toMatchObject({ name: TOPIC, errorCode: ErrorCode.NONE, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR });

    const again = await unaryCall(client(1), 'createTopics', {
      topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, configs: [] }], timeoutMs: 10_000, validateOnly: false,
    }, CALL_MS + 10_000);
    expect(again.topics[0]?.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);

    for (const id of cluster.nodeIds) {
      const partitions = await pollUntil(`broker ${id} to serve ${TOPIC} with full ISRs`, async () => {
        const topic = (await metadata(id)).topics[0];
        if (topic?.errorCode !== ErrorCode.NONE || topic.partitions.length !== PARTITIONS) return undefined;
        return topic.partitions.every((p) => p.leaderId > 0 && p.isr.length === REPLICATION_FACTOR) ? topic.partitions : undefined;
      }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
      expect(partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      for (const p of partitions) {
        expect([...p.replicas].sort()).toEqual([1, 2, 3]);
        expect([...p.isr].sort()).toEqual([1, 2, 3]);
      }
      // Leaders spread: each broker leads one of the three partitions.
      expect(new Set(partitions.map((p) => p.leaderId)).size).toBe(PARTITIONS);
    }
  });

  it('produces with acks=all to each leader and fetches every record back below the high watermark', async () => {
    const partitions: PartitionMetadata[] = (await metadata(1)).topics[0]?.partitions ?? [];
    expect(partitions).toHaveLength(PARTITIONS);
    for (const p of partitions) {
      const leader = client(p.leaderId);
      const expected: string[] = [];
      for (let b = 0; b < BATCHES_PER_PARTITION; b++) {
        const values = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => `p${p.partition}-b${b}-r${i}`);
        expected.push(...values);
        const nowMs = Date.now();
        const records = encodeRecordBatch({ baseTimestamp: nowMs, records: values.map((value, i) => ({ key: null, value: Buffer.from(value), timestamp: nowMs + i })) });
        const produced = await unaryCall(leader, 'produce', { acks: -1, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ partition: p.partition, records }] }] }, CALL_MS + 10_000);
        const answer = produced.topics[0]?.partitions[0];
        expect(answer?.errorCode, answer?.errorMessage).toBe(ErrorCode.NONE);
        // Offsets are consecutive per partition: each batch starts where the previous one ended.
        expect(answer?.baseOffset).toBe(b * RECORDS_PER_BATCH);
      }
      const fetched = await unaryCall(leader, 'fetch', {
        replicaId: -1, replicaEpoch: -1, isolationLevel: 0, maxWaitMs: 0, minBytes: 0, maxBytes: 0,
        topics: [{ name: TOPIC, partitions: [{ partition: p.partition, currentLeaderEpoch: p.leaderEpoch, fetchOffset: 0, lastFetchedEpoch: -1, flushedOffset: 0, logStartOffset: 0, partitionMaxBytes: 0 }] }],
      }, CALL_MS);
      const data = fetched.topics[0]?.partitions[0];
      expect(data?.errorCode).toBe(ErrorCode.NONE);
      // acks=all answered only once the high watermark covered each batch.
      expect(data?.highWatermark).toBe(expected.length);
      const values: string[] = [];
      const offsets: number[] = [];
      const bytes = data?.records ?? Buffer.alloc(0);
      for (let position = 0; position < bytes.length;) {
        const batch = decodeRecordBatch(bytes, position);
        for (const record of batch.records) {
          values.push(Buffer.from(record.value ?? []).toString());
          offsets.push(record.offset);
        }
        position += batch.header.sizeBytes;
      }
      expect(values).toEqual(expected);
      expect(offsets).toEqual(expected.map((_, i) => i));
    }
  });

  it('hands out distinct producer ids from every broker', async () => {
    const answers = [];
    for (const id of [...cluster.nodeIds, ...cluster.nodeIds]) {
      answers.push(await unaryCall(client(id), 'initProducerId', { transactionTimeoutMs: 0 }, CALL_MS + 10_000));
    }
    for (const answer of answers) expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    const ids = answers.map((answer) => answer.producerId);
    expect(ids.every((id) => id >= 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
