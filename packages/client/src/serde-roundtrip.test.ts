import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { startHarness, waitFor } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';
import { Serdes } from './serde.js';
import type { ConsumedMessage } from './consumer.js';

interface Order {
  id: number;
  items: string[];
}

describe('serdes through a producer and a consumer', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('JSON values and string keys go out as bytes and come back as values; null stays null; per-topic overrides apply', async () => {
    h = await startHarness();
    h.fake.createTopic('orders', 1);
    h.fake.createTopic('audit', 1);
    const producer = h.runnel.producer<string, Order | string>({ lingerMs: 0, serde: { key: Serdes.string, value: Serdes.json<Order>(), topics: { audit: { value: Serdes.string } } } });
    await producer.send({ topic: 'orders', messages: [{ key: 'alice', value: { id: 1, items: ['book'] } }, { key: 'bob', value: null }] });
    await producer.send({ topic: 'audit', messages: [{ key: 'k', value: 'plain text' }] });
    await producer.disconnect();
    // On the wire: UTF-8 JSON, as any Kafka tool would read it.
    expect(h.fake.records('orders', 0)[0]?.value?.toString()).toBe('{"id":1,"items":["book"]}');
    expect(h.fake.records('audit', 0)[0]?.value?.toString()).toBe('plain text');

    const consumer = h.runnel.consumer<string, Order>({ maxWaitMs: 50, serde: { key: Serdes.string, value: Serdes.json<Order>() } });
    consumer.assign([{ topic: 'orders', partition: 0 }], { fromBeginning: true });
    const seen: ConsumedMessage<string, Order>[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await waitFor(() => seen.length >= 2, 5_000, 'two messages');
    await consumer.stop();
    expect(seen[0]?.key).toBe('alice');
    expect(seen[0]?.value).toEqual({ id: 1, items: ['book'] });
    expect(seen[1]?.value).toBeNull();
  });

  it('a record the serde refuses stops the consumer with a typed error', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const raw = h.runnel.producer({ lingerMs: 0 });
    await raw.send({ topic: 't', messages: [{ value: 'not json' }] });
    await raw.disconnect();
    const consumer = h.runnel.consumer({ maxWaitMs: 50, serde: { value: Serdes.json() } });
    consumer.assign([{ topic: 't', partition: 0 }], { fromBeginning: true });
    let crashed: unknown;
    consumer.on('crash', (err: unknown) => {
      crashed = err;
    });
    await consumer.run({ eachMessage: async () => undefined });
    await waitFor(() => crashed !== undefined, 5_000, 'the crash');
    expect(crashed).toBeInstanceOf(RunnelError);
    expect((crashed as RunnelError).codeName).toBe('CORRUPT_MESSAGE');
    await consumer.stop();
  });
});
