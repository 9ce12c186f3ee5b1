import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBrokerClient, unaryCall } from './grpc-clients.js';
import type { BrokerClient } from './grpc-clients.js';
import { PeerChannel } from './peer-channel.js';

/**
 * A loopback peer that accepts TCP connections but never speaks HTTP/2: grpc-js waits for the
 * server's SETTINGS frame with no deadline, so its channel stays CONNECTING, as it does behind a
 * network partition that drops SYNs.
 */
async function silentPeer(): Promise<{ address: string; accepted: () => number; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    accepted: () => sockets.length,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function failingCall(client: BrokerClient): Promise<void> {
  await expect(unaryCall(client, 'metadata', { topics: [], allTopics: true }, 200)).rejects.toMatchObject({ codeName: 'REQUEST_TIMED_OUT' });
}

describe('PeerChannel', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('replaces a client whose channel stays CONNECTING past the connect timeout, and the new one opens a new connection', async () => {
    const peer = await silentPeer();
    cleanups.push(peer.close);
    let nowMs = 0;
    const replaced: number[] = [];
    const channel = new PeerChannel<BrokerClient>({
      address: peer.address,
      create: (address, options) => createBrokerClient(address, options),
      nowMs: () => nowMs,
      connectTimeoutMs: 1_000,
      onReplaced: ({ connectingForMs }) => replaced.push(connectingForMs),
    });
    cleanups.push(() => channel.close());
    const first = channel.client;

    await failingCall(first);
    expect(channel.noteFailure(), 'first failure while connecting starts the clock').toBe(false);
    nowMs = 999;
    await failingCall(first);
    expect(channel.noteFailure(), 'still within the connect timeout').toBe(false);
    expect(channel.client).toBe(first);
    expect(peer.accepted()).toBe(1);

    nowMs = 1_000;
    await failingCall(first);
    expect(channel.noteFailure()).toBe(true);
    expect(replaced).toEqual([1_000]);
    expect(channel.replaced).toBe(1);
    expect(channel.client).not.toBe(first);

    await failingCall(channel.client);
    expect(peer.accepted(), 'the replacement made its own connection attempt').toBe(2);
  });

  it('does not replace a client whose connects are refused (the channel is not stuck, only failing)', async () => {
    const peer = await silentPeer();
    const address = peer.address;
    await peer.close();
    let nowMs = 0;
    const channel = new PeerChannel<BrokerClient>({ address, create: (a, o) => createBrokerClient(a, o), nowMs: () => nowMs, connectTimeoutMs: 1 });
    cleanups.push(() => channel.close());
    const first = channel.client;
    // Nothing listens: connects are refused at once, so the channel sits in TRANSIENT_FAILURE, not CONNECTING.
    await expect(unaryCall(first, 'metadata', { topics: [], allTopics: true }, 200)).rejects.toMatchObject({ retriable: true });
    nowMs = 10_000;
    expect(channel.noteFailure()).toBe(false);
    await expect(unaryCall(first, 'metadata', { topics: [], allTopics: true }, 200)).rejects.toMatchObject({ retriable: true });
    nowMs = 20_000;
    expect(channel.noteFailure(), 'a refused peer is retried on the same channel (its backoff applies)').toBe(false);
    expect(channel.client).toBe(first);
    expect(channel.replaced).toBe(0);
  });
});
