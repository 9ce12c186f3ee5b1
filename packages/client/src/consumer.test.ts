import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError, encodeRecordBatch } from '@runnel/protocol';
import type { Consumer, ConsumedMessage } from './consumer.js';
import { startHarness, waitFor } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';

/** Seeds a partition with batches of `perBatch` records valued "v<offset>". */
function seed(h: Harness, topic: string, partition: number, batches: number, perBatch: number): void {
  for (let b = 0; b < batches; b++) {
    const first = h.fake.partition(topic, partition).logEndOffset;
    const records = Array.from({ length: perBatch }, (_, i) => ({ key: Buffer.from(`k${first + i}`), value: Buffer.from(`v${first + i}`), timestamp: 1_700_000_000_000 + first + i }));
    h.fake.appendRaw(topic, partition, encodeRecordBatch({ records }));
  }
}

/** Collects messages with run({ eachMessage }) until `count` arrived, then stops the consumer. */
async function collect(consumer: Consumer, count: number, timeoutMs = 5_000): Promise<ConsumedMessage[]> {
  const seen: ConsumedMessage[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(message);
    },
  });
  await waitFor(() => seen.length >= count, timeoutMs, `${count} messages`);
  await consumer.stop();
  return seen;
}

describe('Consumer against the fake cluster', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('reads everything from the beginning, in order, across partitions', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 2, 2);
    seed(h, 't', 0, 3, 4);
    seed(h, 't', 1, 2, 5);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }], { fromBeginning: true });
    const seen = await collect(consumer, 22);
    expect(seen).toHaveLength(22);
    for (const partition of [0, 1]) {
      const mine = seen.filter((m) => m.partition === partition);
      expect(mine.map((m) => m.offset)).toEqual(mine.map((_, i) => i));
      expect(mine.map((m) => m.value?.toString())).toEqual(mine.map((_, i) => `v${i}`));
      expect(mine[0]?.timestamp).toBe(1_700_000_000_000);
      expect(mine[0]?.key?.toString()).toBe('k0');
    }
    // Every fetch to a broker was pipelined on one stream to it.
    const fetchedFrom = new Set(h.fake.fetchCalls.map((call) => call.brokerId));
    expect(h.fake.streamsOpened.fetch).toBe(fetchedFrom.size);
    expect(h.fake.fetchCalls.length).toBeGreaterThan(fetchedFrom.size);
  });

  it('reads what the producer wrote: keys, values and headers', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ compression: 'gzip' });
    await producer.send({ topic: 't', messages: [{ key: 'a', value: '1', headers: { h: 'x' } }, { key: null, value: null, headers: { h: ['y', 'z'] } }] });
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen = await collect(consumer, 2);
    expect(seen[0]).toMatchObject({ topic: 't', partition: 0, offset: 0 });
    expect(seen[0]?.key?.toString()).toBe('a');
    expect(seen[0]?.headers['h']?.toString()).toBe('x');
    expect(seen[1]?.key).toBeNull();
    expect(seen[1]?.value).toBeNull();
    expect((seen[1]?.headers['h'] as Buffer[]).map((b) => b.toString())).toEqual(['y', 'z']);
  });

  it('starts at a given offset in the middle of a batch, skipping the records before it', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    seed(h, 't', 0, 2, 10);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 4 }]);
    const seen = await collect(consumer, 16);
    expect(seen.map((m) => m.offset)).toEqual(Array.from({ length: 16 }, (_, i) => i + 4));
    expect(h.fake.fetchCalls[0]?.partitions[0]?.fetchOffset).toBe(4);
  });

  it('a long poll wakes up when new data arrives', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const consumer = h.runnel.consumer({ maxWaitMs: 4_000 });
    consumer.assign([{ topic: 't', partition: 0 }]);
    const iterator = consumer[Symbol.asyncIterator]();
    const next = iterator.next();
    await waitFor(() => h.fake.fetchCalls.length === 1, 5_000, 'the first fetch');
    const [sent] = await h.runnel.producer().send({ topic: 't', messages: [{ value: 'wake' }] });
    const result = await next;
    expect(result.done).toBe(false);
    expect(result.value?.value?.toString()).toBe('wake');
    expect(result.value?.offset).toBe(sent?.offset);
    expect(h.fake.fetchCalls[0]?.answeredBy).toBe('append');
    await consumer.stop();
    expect((await iterator.next()).done).toBe(true);
  });

  it('resets an out-of-range position to the earliest offset', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    seed(h, 't', 0, 3, 5);
    h.fake.deleteRecordsBefore('t', 0, 5);
    const consumer = h.runnel.consumer({ maxWaitMs: 50, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen = await collect(consumer, 10);
    expect(seen.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i + 5));
  });

  it('resets an out-of-range position to the latest offset and reads only new data', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    seed(h, 't', 0, 1, 5);
    const consumer = h.runnel.consumer({ maxWaitMs: 50, autoOffsetReset: 'latest' });
    consumer.assign([{ topic: 't', partition: 0, offset: 1_000 }]);
    const seen: ConsumedMessage[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => h.fake.fetchCalls.some((c) => c.partitions[0]?.fetchOffset === 5), 5_000, 'a fetch at the log end');
    seed(h, 't', 0, 1, 2);
    await waitFor(() => seen.length >= 2, 5_000, 'the new records');
    await consumer.stop();
    expect(seen.map((m) => m.offset)).toEqual([5, 6]);
  });

  it('follows a leader change: refreshes metadata and fetches from the new leader', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    seed(h, 't', 0, 1, 3);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen: ConsumedMessage[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= 3, 5_000, 'the first records');
    h.fake.moveLeader('t', 0, 2);
    seed(h, 't', 0, 1, 3);
    await waitFor(() => seen.length >= 6, 5_000, 'records after the leader change');
    await consumer.stop();
    expect(seen.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(h.fake.fetchCalls.at(-1)?.brokerId).toBe(2);
  });

  it('rides through a crashed leader: lost connections, then the new leader, without gaps or repeats', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    seed(h, 't', 0, 1, 3);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen: ConsumedMessage[] = [];
    const crashes: Error[] = [];
    consumer.on('crash', (error: Error) => crashes.push(error));
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= 3, 5_000, 'the first records');
    const fetchesBefore = h.fake.fetchCalls.length;
    h.fake.killBroker(1);
    // Fetches to the dead leader fail for a while before the metadata names the new one.
    await new Promise((resolve) => setTimeout(resolve, 200));
    h.fake.moveLeader('t', 0, 2);
    seed(h, 't', 0, 1, 3);
    await waitFor(() => seen.length >= 6, 5_000, 'records from the new leader');
    await consumer.stop();
    expect(crashes).toEqual([]);
    expect(seen.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(h.fake.fetchCalls.slice(fetchesBefore).some((c) => c.brokerId === 2)).toBe(true);
  });

  it('stops with a typed REQUEST_TIMED_OUT naming the partition when its leader stays unreachable past retryTimeoutMs', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    seed(h, 't', 0, 1, 3);
    const consumer = h.runnel.consumer({ maxWaitMs: 50, retryTimeoutMs: 500 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen: ConsumedMessage[] = [];
    const crashed = new Promise<Error>((resolve) => consumer.once('crash', resolve));
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= 3, 5_000, 'the first records');
    h.fake.killBroker(1);
    const error = (await crashed) as RunnelError;
    await consumer.stop();
    expect(error).toBeInstanceOf(RunnelError);
    expect(error.codeName).toBe('REQUEST_TIMED_OUT');
    expect(error.details).toMatchObject({ topic: 't', partition: 0 });
    expect(error.message).toMatch(/t-0 kept failing for \d+ ms .* last error NETWORK_EXCEPTION/);
    expect(error.cause).toBeInstanceOf(RunnelError);
  });

  it('seek moves the position; pause stops and resume restarts a partition', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 2);
    seed(h, 't', 0, 1, 5);
    seed(h, 't', 1, 1, 5);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }, { topic: 't', partition: 1, offset: 0 }]);
    consumer.pause([{ topic: 't', partitions: [1] }]);
    const seen: ConsumedMessage[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= 5, 5_000, 'partition 0');
    consumer.seek({ topic: 't', partition: 0, offset: 3 });
    await waitFor(() => seen.length >= 7, 5_000, 'partition 0 again after seek');
    expect(seen.every((m) => m.partition === 0)).toBe(true);
    expect(seen.slice(5).map((m) => m.offset)).toEqual([3, 4]);
    expect(consumer.paused()).toEqual([{ topic: 't', partition: 1 }]);
    consumer.resume([{ topic: 't' }]);
    await waitFor(() => seen.length >= 12, 5_000, 'partition 1 after resume');
    await consumer.stop();
    expect(seen.filter((m) => m.partition === 1).map((m) => m.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it('eachBatch receives consecutive messages of one partition', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    seed(h, 't', 0, 2, 3);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0 }], { fromBeginning: true });
    const offsets: number[] = [];
    await consumer.run({
      eachBatch: async ({ batch }) => {
        expect(batch.highWatermark).toBe(6);
        for (const m of batch.messages) offsets.push(m.offset);
      },
    });
    await waitFor(() => offsets.length >= 6, 5_000, 'six messages');
    await consumer.stop();
    expect(offsets).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a throwing handler stops the consumer and reports a crash', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    seed(h, 't', 0, 1, 3);
    const consumer = h.runnel.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const crashed = new Promise<Error>((resolve) => consumer.once('crash', resolve));
    await consumer.run({
      eachMessage: async () => {
        throw new Error('handler bug');
      },
    });
    expect((await crashed).message).toBe('handler bug');
    await consumer.stop();
  });
});
