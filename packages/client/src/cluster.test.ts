import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { CONNECT_TIMEOUT_MS, Cluster } from './cluster.js';
import { SILENT_LOGGER, SYSTEM_CLOCK } from './logger.js';
import { realSleep, resolveRetryOptions } from './retry.js';
import { FakeCluster } from './__tests__/fake-broker.js';

/** A TCP listener that accepts and never answers: what a paused (SIGSTOPped) broker looks like. */
async function silentListener(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

function cluster(bootstrapBrokers: string[]): Cluster {
  return new Cluster({
    bootstrapBrokers,
    clientId: 'cluster-test',
    logger: SILENT_LOGGER,
    retry: resolveRetryOptions(),
    requestTimeoutMs: 30_000,
    clock: SYSTEM_CLOCK,
    random: () => 0.5,
    sleep: realSleep,
  });
}

describe('Cluster connections', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fails a call to a broker that accepts TCP but never answers within CONNECT_TIMEOUT_MS, not the request timeout', async () => {
    const silent = await silentListener();
    cleanups.push(() => silent.close());
    const c = cluster([silent.address]);
    cleanups.push(() => c.close());
    const startedMs = Date.now();
    const error = await c.call(silent.address, 'metadata', { topics: [], allTopics: true }).catch((e: unknown) => e);
    const tookMs = Date.now() - startedMs;
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('NETWORK_EXCEPTION');
    expect((error as RunnelError).retriable).toBe(true);
    expect(tookMs).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
    expect(tookMs).toBeLessThan(CONNECT_TIMEOUT_MS + 2_000);
  });

  it('fails at once on a broker that refuses connections', async () => {
    const silent = await silentListener();
    const address = silent.address;
    await silent.close();
    const c = cluster([address]);
    cleanups.push(() => c.close());
    const startedMs = Date.now();
    const error = await c.call(address, 'metadata', { topics: [], allTopics: true }).catch((e: unknown) => e);
    expect((error as RunnelError).codeName).toBe('NETWORK_EXCEPTION');
    expect(Date.now() - startedMs).toBeLessThan(CONNECT_TIMEOUT_MS);
  });

  it('asks a broker whose call just failed last, so a metadata refresh does not wait on it again', async () => {
    const silent = await silentListener();
    cleanups.push(() => silent.close());
    const fake = await FakeCluster.start({ brokerCount: 1 });
    cleanups.push(() => fake.stop());
    const c = cluster([silent.address, ...fake.bootstrap]);
    cleanups.push(() => c.close());
    const firstStartedMs = Date.now();
    await c.callAny('metadata', { topics: [], allTopics: true });
    expect(Date.now() - firstStartedMs).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
    for (let i = 0; i < 3; i++) {
      const startedMs = Date.now();
      await c.callAny('metadata', { topics: [], allTopics: true });
      expect(Date.now() - startedMs).toBeLessThan(1_000);
    }
  });
});
