import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { RAFT_SERVICE, createRaftClient, serverOptions, unaryCall } from '@runnel/protocol';
import type { RaftBatch, RaftBatchAck, RaftMessage } from '@runnel/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../core/types.js';
import { GrpcTransport, createRaftServiceHandlers } from './grpc-transport.js';
import { waitFor } from './__tests__/support.js';
import { messageFromProto, messageToProto } from './wire.js';

const WAIT_MS = 5_000;
const logger = pino({ level: 'silent' });

function heartbeat(from: NodeId, to: NodeId, leaderCommit: number): Message {
  return { type: 'append-request', from, to, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit, readSeq: 0 };
}

/** A Raft endpoint that records each Deliver call; with `hold`, it answers only when released. */
class FakePeer {
  readonly calls: Message[][] = [];
  private held: Array<() => void> = [];
  hold = false;
  port = 0;
  private readonly server = new grpc.Server(serverOptions());

  async listen(): Promise<void> {
    this.server.addService(RAFT_SERVICE, {
      Deliver: (call: grpc.ServerUnaryCall<RaftBatch, RaftBatchAck>, callback: grpc.sendUnaryData<RaftBatchAck>) => {
        this.calls.push(call.request.messages.map(messageFromProto));
        const answer = (): void => callback(null, { errorCode: 0, errorMessage: '' });
        if (this.hold) this.held.push(answer);
        else answer();
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  }

  release(): void {
    this.hold = false;
    for (const answer of this.held.splice(0)) answer();
  }

  close(): void {
    this.release();
    this.server.forceShutdown();
  }
}

describe('GrpcTransport', () => {
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function peer(): Promise<FakePeer> {
    const fake = new FakePeer();
    await fake.listen();
    cleanups.push(() => fake.close());
    return fake;
  }

  function transport(peers: Map<NodeId, string>, overrides: Partial<ConstructorParameters<typeof GrpcTransport>[0]> = {}): GrpcTransport {
    const t = new GrpcTransport({ selfId: 1, clusterId: 'c', peers, rpcTimeoutMs: 1_000, logger, ...overrides });
    cleanups.push(() => t.close());
    return t;
  }

  it("sends one Ready's messages for each peer as one call, in order", async () => {
    const [p2, p3] = [await peer(), await peer()];
    const t = transport(new Map([[2, `127.0.0.1:${p2.port}`], [3, `127.0.0.1:${p3.port}`]]));
    t.send([heartbeat(1, 2, 1), heartbeat(1, 3, 1), heartbeat(1, 2, 2), heartbeat(1, 2, 3)]);
    await waitFor('both peers to receive their batch', WAIT_MS, () => (p2.calls.length === 1 && p3.calls.length === 1 ? true : undefined));
    expect(p2.calls[0]).toEqual([heartbeat(1, 2, 1), heartbeat(1, 2, 2), heartbeat(1, 2, 3)]);
    expect(p3.calls[0]).toEqual([heartbeat(1, 3, 1)]);
  });

  it('coalesces batches queued behind a call in flight into the next call', async () => {
    const p2 = await peer();
    const t = transport(new Map([[2, `127.0.0.1:${p2.port}`]]), { maxInflightCallsPerPeer: 1 });
    p2.hold = true;
    t.send([heartbeat(1, 2, 0)]);
    await waitFor('the first call to arrive', WAIT_MS, () => (p2.calls.length === 1 ? true : undefined));
    for (let commit = 1; commit <= 5; commit++) t.send([heartbeat(1, 2, commit)]);
    expect(t.stats(2)).toMatchObject({ queuedBatches: 5, inflightCalls: 1 });
    p2.release();
    await waitFor('the coalesced call', WAIT_MS, () => (p2.calls.length === 2 ? true : undefined));
    expect(p2.calls[1]?.map((m) => (m.type === 'append-request' ? m.leaderCommit : -1))).toEqual([1, 2, 3, 4, 5]);
  });

  it('drops the oldest batches beyond the per-peer queue bound', async () => {
    const p2 = await peer();
    const t = transport(new Map([[2, `127.0.0.1:${p2.port}`]]), { maxInflightCallsPerPeer: 1, maxQueuedBatchesPerPeer: 3 });
    p2.hold = true;
    t.send([heartbeat(1, 2, 0)]);
    await waitFor('the first call to arrive', WAIT_MS, () => (p2.calls.length === 1 ? true : undefined));
    for (let commit = 1; commit <= 10; commit++) t.send([heartbeat(1, 2, commit)]);
    expect(t.stats(2)).toMatchObject({ queuedBatches: 3, droppedBatches: 7 });
    p2.release();
    await waitFor('the queued batches', WAIT_MS, () => (p2.calls.length === 2 ? true : undefined));
    expect(p2.calls[1]?.map((m) => (m.type === 'append-request' ? m.leaderCommit : -1))).toEqual([8, 9, 10]);
  });

  it('a dead peer costs failed calls, never an exception, and its messages are not retried', async () => {
    const p2 = await peer();
    const deadAddress = `127.0.0.1:${p2.port}`;
    p2.close();
    const t = transport(new Map([[2, deadAddress]]), { rpcTimeoutMs: 300 });
    t.send([heartbeat(1, 2, 1)]);
    t.send([heartbeat(1, 2, 2)]);
    const stats = await waitFor('both calls to fail', WAIT_MS, () => {
      const s = t.stats(2);
      return s !== undefined && s.failedCalls === 2 && s.inflightCalls === 0 ? s : undefined;
    });
    expect(stats).toMatchObject({ sentCalls: 2, queuedBatches: 0 });
  });

  it('messages for a node without an endpoint are dropped', async () => {
    const p2 = await peer();
    const t = transport(new Map([[2, `127.0.0.1:${p2.port}`]]));
    t.send([heartbeat(1, 9, 1), heartbeat(1, 2, 1)]);
    await waitFor('peer 2 to receive its message', WAIT_MS, () => (p2.calls.length === 1 ? true : undefined));
    expect(p2.calls[0]).toEqual([heartbeat(1, 2, 1)]);
    expect(t.stats(9)).toBeUndefined();
  });
});

describe('createRaftServiceHandlers', () => {
  const cleanups: Array<() => void> = [];

  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function serve(delivered: Message[][]): Promise<(batch: RaftBatch) => Promise<RaftBatchAck>> {
    const server = new grpc.Server(serverOptions());
    server.addService(RAFT_SERVICE, createRaftServiceHandlers({ selfId: 2, clusterId: 'c', logger, deliver: (m) => delivered.push([...m]) }));
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error === null ? resolve(p) : reject(error)));
    });
    const client = createRaftClient(`127.0.0.1:${port}`);
    cleanups.push(() => {
      client.close();
      server.forceShutdown();
    });
    return (batch) => unaryCall(client, 'deliver', batch, 2_000);
  }

  it('delivers the messages addressed to this node, in order, and drops the rest', async () => {
    const delivered: Message[][] = [];
    const deliver = await serve(delivered);
    const ack = await deliver({ clusterId: 'c', messages: [heartbeat(1, 2, 1), heartbeat(1, 3, 1), heartbeat(1, 2, 2)].map(messageToProto) });
    expect(ack).toEqual({ errorCode: 0, errorMessage: '' });
    expect(delivered).toEqual([[heartbeat(1, 2, 1), heartbeat(1, 2, 2)]]);
  });

  it('refuses a batch of another cluster with INCONSISTENT_CLUSTER_ID (104)', async () => {
    const delivered: Message[][] = [];
    const deliver = await serve(delivered);
    const ack = await deliver({ clusterId: 'other', messages: [messageToProto(heartbeat(1, 2, 1))] });
    expect(ack.errorCode).toBe(104);
    expect(ack.errorMessage).toMatch(/"other".*"c"/);
    expect(delivered).toEqual([]);
  });

  it('refuses a malformed batch as a whole with INVALID_REQUEST (42)', async () => {
    const delivered: Message[][] = [];
    const deliver = await serve(delivered);
    const bodiless: RaftMessage = { from: 1, to: 2, term: 1 };
    const ack = await deliver({ clusterId: 'c', messages: [messageToProto(heartbeat(1, 2, 1)), bodiless] });
    expect(ack.errorCode).toBe(42);
    expect(delivered).toEqual([]);
  });
});
