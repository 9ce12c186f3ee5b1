import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError, decodeRecordBatch, partitionForKey, readBatchHeader } from '@runnel/protocol';
import { startHarness } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';

describe('Producer against the fake cluster', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('resolves one {topic, partition, offset} per message, in order', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer();
    const first = await producer.send({ topic: 't', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    const second = await producer.send({ topic: 't', messages: [{ value: 'd' }] });
    expect(first).toEqual([0, 1, 2].map((offset) => ({ topic: 't', partition: 0, offset })));
    expect(second).toEqual([{ topic: 't', partition: 0, offset: 3 }]);
    expect(h.fake.records('t', 0).map((r) => r.value?.toString())).toEqual(['a', 'b', 'c', 'd']);
    // Both requests were pipelined on one stream, not a unary call each.
    expect(h.fake.produceCalls).toHaveLength(2);
    expect(h.fake.streamsOpened.produce).toBe(1);
    await producer.disconnect();
  });

  it('batches many records into one request, and splits them by batchSize', async () => {
    h = await startHarness();
    h.fake.createTopic('big', 1);
    h.fake.createTopic('small', 1);
    const messages = Array.from({ length: 40 }, (_, i) => ({ value: `value-${i}`.padEnd(50, '.') }));
    const roomy = h.runnel.producer({ lingerMs: 20, batchSize: 16_384 });
    await roomy.send({ topic: 'big', messages });
    const bigCalls = h.fake.produceCalls.filter((c) => c.partitions.some((p) => p.topic === 'big'));
    expect(bigCalls).toHaveLength(1);
    expect(h.fake.partition('big', 0).batches).toHaveLength(1);

    const tight = h.runnel.producer({ lingerMs: 20, batchSize: 400 });
    await tight.send({ topic: 'small', messages });
    const batches = h.fake.partition('small', 0).batches;
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.length).toBeLessThan(messages.length);
    for (const b of batches) expect(b.bytes.length).toBeLessThanOrEqual(400 + 100);
    expect(h.fake.records('small', 0).map((r) => r.value?.toString())).toEqual(messages.map((m) => m.value));
  });

  it('puts keyed messages on the murmur2 partition of their key', async () => {
    h = await startHarness({ brokerCount: 3 });
    h.fake.createTopic('keyed', 6, 3);
    const producer = h.runnel.producer();
    const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const results = await producer.send({ topic: 'keyed', messages: keys.map((key) => ({ key, value: key })) });
    results.forEach((r, i) => expect(r.partition).toBe(partitionForKey(Buffer.from(keys[i] as string), 6)));
    for (let p = 0; p < 6; p++) {
      for (const record of h.fake.records('keyed', p)) expect(partitionForKey(record.key as Buffer, 6)).toBe(p);
    }
    expect(new Set(results.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('honours an explicit partition and refuses one the topic does not have', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 3);
    const producer = h.runnel.producer();
    const [result] = await producer.send({ topic: 't', messages: [{ key: 'k', value: 'v', partition: 2 }] });
    expect(result?.partition).toBe(2);
    const error = await producer.send({ topic: 't', messages: [{ value: 'v', partition: 3 }] }).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('keeps keyless messages on one sticky partition per batch and moves on for the next batch', async () => {
    h = await startHarness({ seed: 7 });
    h.fake.createTopic('sticky', 4);
    const producer = h.runnel.producer({ lingerMs: 10 });
    const first = await producer.send({ topic: 'sticky', messages: Array.from({ length: 10 }, (_, i) => ({ value: `a${i}` })) });
    const second = await producer.send({ topic: 'sticky', messages: Array.from({ length: 10 }, (_, i) => ({ value: `b${i}` })) });
    expect(new Set(first.map((r) => r.partition)).size).toBe(1);
    expect(new Set(second.map((r) => r.partition)).size).toBe(1);
    expect(second[0]?.partition).not.toBe(first[0]?.partition);
  });

  it.each([
    ['all', -1],
    [-1, -1],
    [1, 1],
  ] as const)('acks=%s sends wire acks %i and returns real offsets', async (acks, wire) => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ acks });
    const results = await producer.send({ topic: 't', messages: [{ value: 'x' }, { value: 'y' }] });
    expect(results.map((r) => r.offset)).toEqual([0, 1]);
    expect(h.fake.produceCalls.map((c) => c.acks)).toEqual([wire]);
  });

  it('acks=0 resolves with offset -1 and is not idempotent', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ acks: 0 });
    const results = await producer.send({ topic: 't', messages: [{ value: 'x' }, { value: 'y' }] });
    expect(results).toEqual([0, 1].map(() => ({ topic: 't', partition: 0, offset: -1 })));
    await producer.disconnect();
    expect(h.fake.produceCalls[0]?.acks).toBe(0);
    expect(h.fake.initProducerIdCalls).toBe(0);
    expect(readBatchHeader(h.fake.produceCalls[0]?.partitions[0]?.records as Buffer).producerId).toBe(-1);
    expect(() => h.runnel.producer({ acks: 1, idempotent: true })).toThrow(RangeError);
  });

  it('compresses batches with gzip and the records survive the round trip', async () => {
    h = await startHarness();
    h.fake.createTopic('z', 1);
    const producer = h.runnel.producer({ compression: 'gzip' });
    const messages = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'repetitive payload '.repeat(20), headers: { trace: `id-${i}` } }));
    await producer.send({ topic: 'z', messages });
    const stored = h.fake.partition('z', 0).batches;
    for (const b of stored) expect(readBatchHeader(b.bytes).attributes.compression).toBe('gzip');
    const sentBytes = h.fake.produceCalls.reduce((sum, c) => sum + (c.partitions[0]?.records.length ?? 0), 0);
    expect(sentBytes).toBeLessThan(messages.length * messages[0]!.value.length);
    const records = h.fake.records('z', 0);
    expect(records.map((r) => r.key?.toString())).toEqual(messages.map((m) => m.key));
    expect(records.map((r) => r.headers[0]?.value?.toString())).toEqual(messages.map((m) => m.headers.trace));
  });

  it('idempotence: one producer id, sequence numbers advancing per partition', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 2);
    const producer = h.runnel.producer();
    await producer.send({ topic: 't', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }] });
    await producer.send({ topic: 't', messages: [{ value: 'c', partition: 1 }] });
    await producer.send({ topic: 't', messages: [{ value: 'd', partition: 0 }, { value: 'e', partition: 1 }, { value: 'f', partition: 1 }] });
    expect(h.fake.initProducerIdCalls).toBe(1);
    const { producerId } = producer.producerIdentity;
    expect(producerId).toBeGreaterThanOrEqual(0);
    const sequences = (partition: number): number[] => h.fake.partition('t', partition).batches.map((b) => readBatchHeader(b.bytes).baseSequence);
    expect(sequences(0)).toEqual([0, 2]);
    expect(sequences(1)).toEqual([0, 1]);
    for (const p of [0, 1]) for (const b of h.fake.partition('t', p).batches) expect(readBatchHeader(b.bytes).producerId).toBe(producerId);
  });

  it('resends a batch whose acknowledgement was lost byte for byte, and the broker keeps one copy', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    h.fake.injectProduceError('t', 0, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 1, { afterAppend: true });
    const producer = h.runnel.producer();
    const results = await producer.send({ topic: 't', messages: [{ value: 'once' }, { value: 'only' }] });
    expect(results.map((r) => r.offset)).toEqual([0, 1]);
    const attempts = h.fake.produceCalls.map((c) => c.partitions[0]?.records as Buffer);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.equals(attempts[0] as Buffer)).toBe(true);
    expect(h.fake.records('t', 0).map((r) => r.value?.toString())).toEqual(['once', 'only']);
  });

  it('on NOT_LEADER_OR_FOLLOWER refreshes metadata and retries to the new leader, keeping order', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.send({ topic: 't', messages: [{ value: 'v0' }] });
    expect(h.fake.produceCalls.map((c) => c.brokerId)).toEqual([1]);
    h.fake.moveLeader('t', 0, 2);
    const metadataBefore = h.fake.metadataCalls;
    const sends = [1, 2, 3, 4].map((i) => producer.send({ topic: 't', messages: [{ value: `v${i}` }] }));
    const offsets = (await Promise.all(sends)).map((r) => r[0]?.offset);
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(h.fake.metadataCalls).toBeGreaterThan(metadataBefore);
    const brokers = h.fake.produceCalls.map((c) => c.brokerId);
    expect(brokers[1]).toBe(1);
    expect(brokers.at(-1)).toBe(2);
    expect(h.fake.records('t', 0).map((r) => r.value?.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('on FENCED_LEADER_EPOCH refreshes metadata and retries', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer();
    await producer.connect();
    const metadataBefore = h.fake.metadataCalls;
    h.fake.injectProduceError('t', 0, 'FENCED_LEADER_EPOCH', 2);
    const results = await producer.send({ topic: 't', messages: [{ value: 'a' }, { value: 'b' }] });
    expect(results.map((r) => r.offset)).toEqual([0, 1]);
    expect(h.fake.metadataCalls).toBeGreaterThan(metadataBefore);
    expect(h.fake.produceCalls).toHaveLength(3);
  });

  it('when the leader broker dies, finds the new leader through another broker and delivers once', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.send({ topic: 't', messages: [{ value: 'before' }] });
    h.fake.killBroker(1);
    h.fake.moveLeader('t', 0, 2);
    const [after] = await producer.send({ topic: 't', messages: [{ value: 'after' }] });
    expect(after?.offset).toBe(1);
    expect(h.fake.produceCalls.at(-1)?.brokerId).toBe(2);
    expect(h.fake.records('t', 0).map((r) => r.value?.toString())).toEqual(['before', 'after']);
  });

  it('gives up at deliveryTimeoutMs with a typed error naming the last failure', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    h.fake.injectProduceError('t', 0, 'NOT_LEADER_OR_FOLLOWER', 1_000);
    const producer = h.runnel.producer({ deliveryTimeoutMs: 300 });
    const error = await producer.send({ topic: 't', messages: [{ value: 'lost' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('REQUEST_TIMED_OUT');
    expect((error as RunnelError).details['lastErrorCode']).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(h.fake.produceCalls.length).toBeGreaterThan(1);
    expect(h.fake.records('t', 0)).toEqual([]);
  });

  it('a partition without a leader expires at deliveryTimeoutMs saying so', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ deliveryTimeoutMs: 200 });
    await producer.send({ topic: 't', messages: [{ value: 'ok' }] });
    h.fake.partition('t', 0).leaderId = -1;
    h.fake.injectProduceError('t', 0, 'NOT_LEADER_OR_FOLLOWER', 1);
    const error = await producer.send({ topic: 't', messages: [{ value: 'stuck' }] }).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('REQUEST_TIMED_OUT');
    expect((error as RunnelError).details['lastErrorCode']).toBe('LEADER_NOT_AVAILABLE');
  });

  it('after a failed batch the partition keeps working with gapless sequences', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    h.fake.injectProduceError('t', 0, 'INVALID_RECORD', 1);
    const producer = h.runnel.producer();
    const error = await producer.send({ topic: 't', messages: [{ value: 'bad' }] }).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('INVALID_RECORD');
    const [ok] = await producer.send({ topic: 't', messages: [{ value: 'good' }] });
    expect(ok?.offset).toBe(0);
    expect(readBatchHeader(h.fake.partition('t', 0).batches[0]?.bytes as Buffer).baseSequence).toBe(0);
  });

  it('applies back-pressure: a small buffer still delivers everything, and an oversized record is refused', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ batchSize: 1_024, bufferMemoryBytes: 2_048, lingerMs: 1 });
    const messages = Array.from({ length: 100 }, (_, i) => ({ value: `${i}`.padEnd(100, '-') }));
    const results = await producer.send({ topic: 't', messages });
    expect(results.map((r) => r.offset)).toEqual(messages.map((_, i) => i));
    const tooBig = await producer.send({ topic: 't', messages: [{ value: Buffer.alloc(4_096) }] }).catch((e: unknown) => e);
    expect((tooBig as RunnelError).codeName).toBe('MESSAGE_TOO_LARGE');
    expect(decodeRecordBatch(h.fake.partition('t', 0).batches[0]?.bytes as Buffer).records.length).toBeGreaterThan(0);
  });

  it('waits for metadata of an unknown topic, then fails with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    h = await startHarness({ config: { retry: { retries: 2, initialRetryTimeMs: 5, maxRetryTimeMs: 10 } } });
    const producer = h.runnel.producer();
    const error = await producer.send({ topic: 'ghost', messages: [{ value: 'x' }] }).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});
