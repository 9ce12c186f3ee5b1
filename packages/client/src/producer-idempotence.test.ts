import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError, encodeRecordBatch, readBatchHeader } from '@runnel/protocol';
import { startHarness, waitFor } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';
import type { Producer } from './producer.js';

/** `count` distinct values, each ~100 bytes, so a small batchSize splits them into many batches. */
function values(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`.padEnd(100, '.'));
}

/** Every produce attempt of a partition, by base sequence, in the order the fake received them. */
function attemptsBySequence(h: Harness, topic: string, partition: number): Map<number, Buffer[]> {
  const attempts = new Map<number, Buffer[]>();
  for (const call of h.fake.produceCalls) {
    for (const p of call.partitions) {
      if (p.topic !== topic || p.partition !== partition) continue;
      const sequence = readBatchHeader(p.records).baseSequence;
      attempts.set(sequence, [...(attempts.get(sequence) ?? []), p.records]);
    }
  }
  return attempts;
}

function storedValues(h: Harness, topic: string, partition: number): string[] {
  return h.fake.records(topic, partition).map((r) => r.value?.toString() ?? '');
}

function storedSequences(h: Harness, topic: string, partition: number): number[] {
  return h.fake.partition(topic, partition).batches.map((b) => readBatchHeader(b.bytes).baseSequence);
}

/** Sequences are gapless from 0: each batch starts right after the previous one. */
function expectGapless(h: Harness, topic: string, partition: number): void {
  let expected = 0;
  for (const b of h.fake.partition(topic, partition).batches) {
    const header = readBatchHeader(b.bytes);
    expect(header.baseSequence).toBe(expected);
    expected += header.lastOffsetDelta + 1;
  }
}

describe('the fake broker checks sequences like the real one (api2.md)', () => {
  let h: Harness;
  afterEach(async () => h.close());

  const batch = (producerId: number, producerEpoch: number, baseSequence: number, count: number): Buffer =>
    encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${baseSequence + i}`) })), producerId, producerEpoch, baseSequence, baseTimestamp: 1 });

  it('answers a retry with the original offsets, refuses gaps, old epochs and a new epoch not at 0, all or nothing', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    expect(h.fake.appendRaw('t', 0, batch(7, 0, 0, 3))).toBe(0);
    expect(h.fake.appendRaw('t', 0, batch(7, 0, 3, 2))).toBe(3);
    expect(h.fake.appendRaw('t', 0, batch(7, 0, 0, 3))).toBe(0);
    expect(h.fake.partition('t', 0).logEndOffset).toBe(5);
    expect(() => h.fake.appendRaw('t', 0, batch(7, 0, 6, 1))).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(() => h.fake.appendRaw('t', 0, Buffer.concat([batch(7, 0, 5, 1), batch(7, 0, 7, 1)]))).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(h.fake.partition('t', 0).logEndOffset).toBe(5);
    expect(() => h.fake.appendRaw('t', 0, batch(7, 1, 4, 1))).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(h.fake.appendRaw('t', 0, batch(7, 1, 0, 1))).toBe(5);
    expect(() => h.fake.appendRaw('t', 0, batch(7, 0, 5, 1))).toThrow(/INVALID_PRODUCER_EPOCH/);
    expect(() => h.fake.appendRaw('t', 0, batch(8, 0, 1, 1))).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(h.fake.partition('t', 0).logEndOffset).toBe(6);
  });
});

/** Sends one message per send() call, each once the previous one's request is on the wire (held), so each is its own request. */
async function sendOneByOne(h: Harness, producer: Producer, sent: string[], heldBefore = 0): Promise<Array<Promise<unknown>>> {
  const deliveries: Array<Promise<unknown>> = [];
  for (const [i, value] of sent.entries()) {
    deliveries.push(producer.send({ topic: 't', messages: [{ value, partition: 0 }] }).then((r) => r[0]?.offset, (e: unknown) => e));
    await waitFor(() => h.fake.heldProduceCount === heldBefore + i + 1, 5_000, `request ${i + 1} on the wire`);
  }
  return deliveries;
}

describe('Producer.connect({ topics }) warm-up', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('learns the topics\' leaders up front, so the first send asks no metadata', async () => {
    h = await startHarness({ brokerCount: 3 });
    h.fake.createTopic('t', 3, 3);
    const producer = h.runnel.producer();
    await producer.connect({ topics: ['t'] });
    const metadataCalls = h.fake.metadataCalls;
    const results = await producer.send({ topic: 't', messages: [0, 1, 2].map((partition) => ({ value: `v${partition}`, partition })) });
    expect(results.map((r) => r.offset)).toEqual([0, 0, 0]);
    expect(h.fake.metadataCalls).toBe(metadataCalls);
    expect(new Set(h.fake.produceCalls.map((c) => c.brokerId))).toEqual(new Set([1, 2, 3]));
  });
});

describe('Producer: several batches per partition in flight', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('an idempotent producer keeps up to 5 small requests of one partition on the wire, and no batch beyond the fifth unacknowledged one', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.connect();
    h.fake.holdProduces();
    const sent = values('v', 5);
    const deliveries = await sendOneByOne(h, producer, sent);
    const sixth = producer.send({ topic: 't', messages: [{ value: 'sixth', partition: 0 }] });
    // Give the producer every chance to overstep its bound before checking it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.fake.heldProduceCount).toBe(5);
    // Processed on arrival: five batches written, in sequence order, before any answer went back.
    expect(storedSequences(h, 't', 0)).toEqual([0, 1, 2, 3, 4]);
    h.fake.releaseProduces();
    expect(await Promise.all(deliveries)).toEqual([0, 1, 2, 3, 4]);
    expect((await sixth)[0]?.offset).toBe(5);
    expect(storedValues(h, 't', 0)).toEqual([...sent, 'sixth']);
    expectGapless(h, 't', 0);
  });

  it('small batches ready together go back to back, at most 5 after the oldest unacknowledged one', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0, batchSize: 400 });
    await producer.connect();
    h.fake.holdProduces();
    const sent = values('v', 40);
    const delivery = producer.send({ topic: 't', messages: sent.map((value) => ({ value, partition: 0 })) });
    await waitFor(() => h.fake.heldProduceCount === 1, 5_000, 'the first request');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.fake.heldProduceCount).toBe(1);
    expect(storedSequences(h, 't', 0)).toHaveLength(5);
    h.fake.releaseProduces();
    expect((await delivery).map((r) => r.offset)).toEqual(sent.map((_, i) => i));
    expect(storedValues(h, 't', 0)).toEqual(sent);
    expectGapless(h, 't', 0);
  });

  it('does not put a second request of a partition on the wire when together they would pass the 64 KiB flow-control window', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0, batchSize: 100_000 });
    await producer.connect();
    h.fake.holdProduces();
    const big = (tag: string): string => tag.padEnd(40_000, '.');
    const first = producer.send({ topic: 't', messages: [{ value: big('a'), partition: 0 }] });
    await waitFor(() => h.fake.heldProduceCount === 1, 5_000, 'the first request');
    const second = producer.send({ topic: 't', messages: [{ value: big('b'), partition: 0 }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.fake.heldProduceCount).toBe(1);
    h.fake.releaseProduces();
    expect([(await first)[0]?.offset, (await second)[0]?.offset]).toEqual([0, 1]);
  });

  it('large batches go one request per partition at a time, up to 5 of them back to back in it', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0, batchSize: 20_000 });
    await producer.connect();
    h.fake.holdProduces();
    const sent = Array.from({ length: 200 }, (_, i) => `${i}`.padEnd(1_000, '.'));
    const delivery = producer.send({ topic: 't', messages: sent.map((value) => ({ value, partition: 0 })) });
    await waitFor(() => h.fake.heldProduceCount === 1, 5_000, 'the first request');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.fake.heldProduceCount).toBe(1);
    expect(storedSequences(h, 't', 0)).toHaveLength(5);
    h.fake.releaseProduces();
    expect((await delivery).map((r) => r.offset)).toEqual(sent.map((_, i) => i));
    expect(storedValues(h, 't', 0)).toEqual(sent);
    expectGapless(h, 't', 0);
  });

  it('a non-idempotent producer keeps one request per partition on the wire, its ready batches back to back', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ acks: 1, lingerMs: 0, batchSize: 400 });
    await producer.connect();
    h.fake.holdProduces();
    const first = producer.send({ topic: 't', messages: [{ value: 'first', partition: 0 }] });
    await waitFor(() => h.fake.heldProduceCount === 1, 5_000, 'the first request');
    const sent = values('v', 30);
    const rest = producer.send({ topic: 't', messages: sent.map((value) => ({ value, partition: 0 })) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.fake.heldProduceCount).toBe(1);
    h.fake.releaseProduces();
    expect((await first)[0]?.offset).toBe(0);
    const results = await rest;
    expect(results.map((r) => r.offset)).toEqual(sent.map((_, i) => i + 1));
    expect(storedValues(h, 't', 0)).toEqual(['first', ...sent]);
    const second = h.fake.produceCalls[1]?.partitions[0]?.records as Buffer;
    // Several batches in one partition entry: its first batch is shorter than the whole entry.
    expect(readBatchHeader(second).sizeBytes).toBeLessThan(second.length);
  });
});

describe('Producer: retries with several batches in flight (idempotent)', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('when the first in-flight batch fails retriably, the later ones come back OUT_OF_ORDER and are resent after it, in order, with the same bytes', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.connect();
    h.fake.holdProduces();
    h.fake.injectProduceError('t', 0, 'NOT_ENOUGH_REPLICAS', 1);
    const sent = values('v', 4);
    const deliveries = await sendOneByOne(h, producer, sent);
    h.fake.releaseProduces();
    expect(await Promise.all(deliveries)).toEqual([0, 1, 2, 3]);
    expect(storedValues(h, 't', 0)).toEqual(sent);
    expectGapless(h, 't', 0);
    const answers = h.fake.produceCalls.flatMap((c) => c.answers);
    expect(answers.slice(0, 4)).toEqual(['NOT_ENOUGH_REPLICAS', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'OUT_OF_ORDER_SEQUENCE_NUMBER']);
    // Resent in order, each byte for byte as first sent: same sequence, same records.
    expect(h.fake.produceCalls.slice(4).map((c) => readBatchHeader(c.partitions[0]?.records as Buffer).baseSequence)).toEqual([0, 1, 2, 3]);
    const attempts = attemptsBySequence(h, 't', 0);
    for (const tries of attempts.values()) {
      expect(tries).toHaveLength(2);
      for (const bytes of tries) expect(bytes.equals(tries[0] as Buffer)).toBe(true);
    }
  });

  it('when the first in-flight batch was written but its answer lost, the retry gets the original offsets and nothing is written twice', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.connect();
    h.fake.holdProduces();
    h.fake.injectProduceError('t', 0, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 1, { afterAppend: true });
    const sent = values('v', 5);
    const deliveries = await sendOneByOne(h, producer, sent);
    h.fake.releaseProduces();
    expect(await Promise.all(deliveries)).toEqual([0, 1, 2, 3, 4]);
    expect(storedValues(h, 't', 0)).toEqual(sent);
    expectGapless(h, 't', 0);
    expect(attemptsBySequence(h, 't', 0).get(0)).toHaveLength(2);
  });

  it('keeps order across many sends while the leader moves mid-stream', async () => {
    h = await startHarness({ brokerCount: 2 });
    h.fake.createTopic('t', 1, 2);
    const producer = h.runnel.producer({ lingerMs: 1, batchSize: 600 });
    await producer.connect();
    const sent = values('v', 200);
    const deliveries: Array<Promise<unknown>> = [];
    for (let i = 0; i < sent.length; i += 10) {
      deliveries.push(producer.send({ topic: 't', messages: sent.slice(i, i + 10).map((value) => ({ value, partition: 0 })) }));
      if (i === 100) h.fake.moveLeader('t', 0, 2);
    }
    const results = (await Promise.all(deliveries)) as Array<Array<{ offset: number }>>;
    expect(results.flat().map((r) => r.offset)).toEqual(sent.map((_, i) => i));
    expect(storedValues(h, 't', 0)).toEqual(sent);
    expectGapless(h, 't', 0);
  });

  it('a batch refused for good hands its sequence numbers to the in-flight batches after it, which are then written in order', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.connect();
    h.fake.holdProduces();
    h.fake.injectProduceError('t', 0, 'INVALID_RECORD', 1);
    const [refused, ...rest] = await sendOneByOne(h, producer, ['refused', ...values('v', 3)]);
    h.fake.releaseProduces();
    const error = await refused;
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('INVALID_RECORD');
    expect(await Promise.all(rest)).toEqual([0, 1, 2]);
    expect(storedValues(h, 't', 0)).toEqual(values('v', 3));
    expectGapless(h, 't', 0);
    // The partition keeps working afterwards.
    const [after] = await producer.send({ topic: 't', messages: [{ value: 'after', partition: 0 }] });
    expect(after?.offset).toBe(3);
    expectGapless(h, 't', 0);
  });

  it('OUT_OF_ORDER_SEQUENCE_NUMBER with nothing earlier unacknowledged fails with a typed error, and the producer refuses further sends', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0 });
    await producer.send({ topic: 't', messages: [{ value: 'ok', partition: 0 }] });
    h.fake.injectProduceError('t', 0, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 1);
    const error = await producer.send({ topic: 't', messages: [{ value: 'lost', partition: 0 }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect((error as RunnelError).message).toMatch(/t-0 refused sequences 1\.\.1/);
    expect((error as RunnelError).details['producerId']).toBe(producer.producerIdentity.producerId);
    const next = await producer.send({ topic: 't', messages: [{ value: 'next', partition: 0 }] }).catch((e: unknown) => e);
    expect((next as RunnelError).codeName).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(storedValues(h, 't', 0)).toEqual(['ok']);
  });

  it('INVALID_PRODUCER_EPOCH fails the batch with a typed error naming the producer and is fatal', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer();
    h.fake.injectProduceError('t', 0, 'INVALID_PRODUCER_EPOCH', 1);
    const error = await producer.send({ topic: 't', messages: [{ value: 'fenced', partition: 0 }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('INVALID_PRODUCER_EPOCH');
    expect((error as RunnelError).message).toContain(`producer ${producer.producerIdentity.producerId}`);
    expect(h.fake.produceCalls).toHaveLength(1);
    const next = await producer.send({ topic: 't', messages: [{ value: 'again', partition: 0 }] }).catch((e: unknown) => e);
    expect((next as RunnelError).codeName).toBe('INVALID_PRODUCER_EPOCH');
    expect(h.fake.produceCalls).toHaveLength(1);
  });
});
