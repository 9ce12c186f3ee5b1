import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { startHarness } from './__tests__/harness.js';
import type { Harness } from './__tests__/harness.js';

const VALUE = 'x'.repeat(1_000);

describe('producer back-pressure (bufferMemoryBytes, maxBlockMs)', () => {
  let h: Harness;
  afterEach(async () => h.close());

  it('maxBlockMs 0: a send that does not fit fails at once with a typed error and buffers none of its messages', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0, batchSize: 16 * 1024, bufferMemoryBytes: 16 * 1024, maxBlockMs: 0 });
    await producer.connect();
    h.fake.holdProduces();
    const first = producer.send({ topic: 't', messages: Array.from({ length: 12 }, () => ({ value: VALUE })) });
    let refused: unknown;
    try {
      await producer.send({ topic: 't', messages: Array.from({ length: 12 }, (_, i) => ({ value: `second-${i}`.padEnd(1_000, '.') })) });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RunnelError);
    expect((refused as RunnelError).codeName).toBe('REQUEST_TIMED_OUT');
    expect((refused as RunnelError).message).toContain('nothing was sent');
    h.fake.releaseProduces();
    await first;
    await producer.flush();
    const stored = h.fake.records('t', 0).map((r) => r.value?.toString() ?? '');
    expect(stored.length).toBe(12);
    expect(stored.some((v) => v.startsWith('second-'))).toBe(false);
    await producer.disconnect();
  });

  it('by default a send waits for buffer memory and completes once earlier batches are acknowledged', async () => {
    h = await startHarness();
    h.fake.createTopic('t', 1);
    const producer = h.runnel.producer({ lingerMs: 0, batchSize: 16 * 1024, bufferMemoryBytes: 16 * 1024 });
    await producer.connect();
    h.fake.holdProduces();
    const first = producer.send({ topic: 't', messages: Array.from({ length: 12 }, () => ({ value: VALUE })) });
    let secondDone = false;
    const second = producer.send({ topic: 't', messages: Array.from({ length: 12 }, () => ({ value: VALUE })) }).then((r) => {
      secondDone = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(secondDone).toBe(false);
    h.fake.releaseProduces();
    await first;
    // Held answers again would stall: let the rest flow.
    await second;
    expect(h.fake.records('t', 0).length).toBe(24);
    await producer.disconnect();
  });
});
