// Idempotent produce through the ReplicaManager across a leader change: the follower that takes over
// learned the producer state by replicating, so a client's retry is answered with the first write's
// offsets and written once, and a gap is refused (notes/api2.md "Idempotent producer").
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, decodeRecordBatch, encodeRecordBatch, iterateBatches } from '@runnel/protocol';
import type { ProducePartitionResponse, ProduceResponse } from './messages.js';
import { InProcessCluster, TOPIC, buildImage, isPending, waitFor } from './manager-test-kit.js';

const PRODUCER_ID = 4_000;

/** A batch from the idempotent producer, one record per value, sequences from `sequence`. */
function produced(values: readonly string[], sequence: number, producerEpoch = 0): Buffer {
  const timestampMs = Date.now();
  return encodeRecordBatch({
    baseTimestamp: timestampMs,
    producerId: PRODUCER_ID,
    producerEpoch,
    baseSequence: sequence,
    records: values.map((value) => ({ key: null, value: Buffer.from(value), timestamp: timestampMs })),
  });
}

function produceRequest(acks: number, records: Buffer) {
  return { acks, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records }] }] };
}

function part(response: ProduceResponse): ProducePartitionResponse {
  const found = response.topics[0]?.partitions[0];
  if (found === undefined) throw new Error('empty produce response');
  return found;
}

function logValues(cluster: InProcessCluster, brokerId: number): string[] {
  const read = cluster.manager(brokerId).partitionLog(TOPIC, 0)?.read(0, 1 << 20);
  if (read?.ok !== true) throw new Error(`cannot read broker ${brokerId}'s log`);
  const out: string[] = [];
  for (const entry of iterateBatches(read.records)) {
    if (!('header' in entry)) break;
    for (const record of decodeRecordBatch(read.records, entry.position).records) out.push(Buffer.from(record.value ?? []).toString());
  }
  return out;
}

describe('idempotent produce across a leader change', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  /** Broker 1 leads epoch 1 and replicates the producer's first two batches to 2 and 3; then broker 2 takes over. */
  async function failedOverCluster(): Promise<{ c: InProcessCluster; secondBaseOffset: number }> {
    const c = new InProcessCluster();
    cluster = c;
    await c.start([1, 2, 3]);
    const configs = { 'min.insync.replicas': '2' };
    await c.applyAll(buildImage({ brokers: [1, 2, 3], partitions: [{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1 }], topicConfigs: configs }));
    expect(part(await c.manager(1).produce(produceRequest(-1, produced(['a0', 'a1'], 0))))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    const second = part(await c.manager(1).produce(produceRequest(-1, produced(['b2', 'b3', 'b4'], 2))));
    expect(second).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    await waitFor(() => c.view(2).logEndOffset === 5 && c.view(3).logEndOffset === 5, 'followers to replicate');
    // Broker 1 is gone; broker 2, a follower until now, leads epoch 2.
    c.pause(1);
    await c.applyAll(buildImage({ brokers: [1, 2, 3], partitions: [{ replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 2, partitionEpoch: 1 }], topicConfigs: configs }));
    return { c, secondBaseOffset: second.baseOffset };
  }

  it('answers a batch retried on the new leader with its original offsets and writes it once', async () => {
    const { c, secondBaseOffset } = await failedOverCluster();
    // The client never saw the ack for its second batch (say the old leader died first) and retries it.
    const retry = part(await c.manager(2).produce(produceRequest(-1, produced(['b2', 'b3', 'b4'], 2))));
    expect(retry).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: secondBaseOffset, currentLeaderId: 2, currentLeaderEpoch: 2 });
    expect(c.view(2).logEndOffset).toBe(5);
    const next = part(await c.manager(2).produce(produceRequest(-1, produced(['c5'], 5))));
    expect(next).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 5 });
    await waitFor(() => c.view(3).logEndOffset === 6, 'broker 3 to replicate');
    for (const brokerId of [2, 3]) expect(logValues(c, brokerId)).toEqual(['a0', 'a1', 'b2', 'b3', 'b4', 'c5']);
  });

  it('refuses a gap on the new leader with OUT_OF_ORDER_SEQUENCE_NUMBER and a fenced epoch with INVALID_PRODUCER_EPOCH, writing nothing', async () => {
    const { c } = await failedOverCluster();
    const gap = part(await c.manager(2).produce(produceRequest(-1, produced(['d9'], 9))));
    expect(gap).toMatchObject({ errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, baseOffset: -1 });
    expect(gap.errorMessage).toMatch(/expected 5/);
    await c.manager(2).produce(produceRequest(-1, produced(['e0'], 0, 1)));
    const fenced = part(await c.manager(2).produce(produceRequest(-1, produced(['c5'], 5, 0))));
    expect(fenced.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(logValues(c, 2)).toEqual(['a0', 'a1', 'b2', 'b3', 'b4', 'e0']);
  });

  it('holds an acks=all retry until the first write of the batch is committed, then answers with its offsets', async () => {
    const { c } = await failedOverCluster();
    c.pause(3);
    // The first attempt reaches the leader but not the ISR; the client times out and retries.
    expect(part(await c.manager(2).produce(produceRequest(1, produced(['c5'], 5))))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 5 });
    const retry = c.manager(2).produce(produceRequest(-1, produced(['c5'], 5)));
    expect(await isPending(retry)).toBe(true);
    expect(c.view(2).highWatermark).toBe(5);
    c.resume(3);
    expect(part(await retry)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 5 });
    expect(c.view(2).highWatermark).toBe(6);
    expect(logValues(c, 2)).toEqual(['a0', 'a1', 'b2', 'b3', 'b4', 'c5']);
  });
});
