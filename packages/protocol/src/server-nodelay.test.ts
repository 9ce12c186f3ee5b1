import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { enableServerNoDelay } from './server-nodelay.js';

describe('enableServerNoDelay', () => {
  it('makes HTTP/2 servers (as grpc-js creates them) accept sockets with Nagle off, keeping their options', async () => {
    enableServerNoDelay();
    enableServerNoDelay(); // idempotent: one wrapper, not two
    const seen: net.Socket[] = [];
    const server = http2.createServer({ maxSessionMemory: 123 });
    server.on('connection', (socket: net.Socket) => seen.push(socket));
    // net.Server keeps the option it was built with; Node applies it to every accepted socket.
    expect((server as unknown as { noDelay: boolean }).noDelay).toBe(true);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.length).toBe(1);
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
