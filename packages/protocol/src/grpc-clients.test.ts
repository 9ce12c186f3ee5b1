import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import {
  createQuorumClient,
  createRaftClient,
  PEER_CHANNEL_OPTIONS,
  QUORUM_SERVICE,
  RAFT_SERVICE,
  serverOptions,
  unaryCall,
} from './grpc-clients.js';
import { RunnelError } from './errors.js';
import type { QuorumClient, RaftClient } from './grpc-clients.js';
import type { DescribeQuorumResponse, ProposeRequest, ProposeResponse } from './quorum-messages.js';
import type { RaftBatch, RaftBatchAck } from './raft-messages.js';

const SLOW_HANDLER_DELAY_MS = 3_000;

const describeResponse: DescribeQuorumResponse = {
  errorCode: 0,
  errorMessage: '',
  leaderId: 1,
  term: 7,
  commitIndex: 2 ** 40, // beyond 32 bits: proves uint64 survives as a JS number
  answeredBy: 1,
  leaderEndpoint: '127.0.0.1:9093',
  voters: [
    { id: 1, voter: true, endpoint: '127.0.0.1:9093', logEndIndex: 12, lag: 0, lastContactMs: 0 },
    { id: 2, voter: true, endpoint: '127.0.0.1:9094', logEndIndex: 10, lag: 2, lastContactMs: -1 },
  ],
  observers: [],
  highWatermark: 11,
};

describe('gRPC clients against a real server on 127.0.0.1', () => {
  let server: grpc.Server;
  let address: string;
  let quorum: QuorumClient;
  let raft: RaftClient;
  const received: RaftBatch[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    server = new grpc.Server(serverOptions());
    server.addService(QUORUM_SERVICE, {
      describe: (_call: grpc.ServerUnaryCall<unknown, DescribeQuorumResponse>, callback: grpc.sendUnaryData<DescribeQuorumResponse>) => {
        callback(null, describeResponse);
      },
      // Answers only after the caller's deadline, to prove the deadline is what ends the call.
      propose: (call: grpc.ServerUnaryCall<ProposeRequest, ProposeResponse>, callback: grpc.sendUnaryData<ProposeResponse>) => {
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          callback(null, { errorCode: 0, errorMessage: '', index: call.request.data.length, term: 1, leaderId: 1, leaderEndpoint: '' });
        }, SLOW_HANDLER_DELAY_MS);
        pendingTimers.add(timer);
      },
      transferLeadership: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });
      },
    });
    server.addService(RAFT_SERVICE, {
      deliver: (call: grpc.ServerUnaryCall<RaftBatch, RaftBatchAck>, callback: grpc.sendUnaryData<RaftBatchAck>) => {
        received.push(call.request);
        callback(null, { errorCode: 0, errorMessage: '' });
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    address = `127.0.0.1:${port}`;
    quorum = createQuorumClient(address);
    raft = createRaftClient(address);
  });

  afterAll(() => {
    for (const timer of pendingTimers) clearTimeout(timer);
    quorum?.close();
    raft?.close();
    server?.forceShutdown();
  });

  it('Quorum.Describe round-trips every field, including 64-bit and negative values', async () => {
    const response = await unaryCall(quorum, 'describe', {}, 2_000);
    expect(response).toEqual(describeResponse);
  });

  it('Raft.Deliver carries the oneof body, enums as names and bytes as Buffers', async () => {
    const batch: RaftBatch = {
      clusterId: 'cluster-a',
      messages: [
        {
          from: 1,
          to: 2,
          term: 3,
          appendRequest: {
            prevLogIndex: 4,
            prevLogTerm: 2,
            entries: [
              { index: 5, term: 3, type: 'ENTRY_TYPE_NOOP', data: Buffer.alloc(0) },
              { index: 6, term: 3, type: 'ENTRY_TYPE_NORMAL', data: Buffer.from([0, 1, 255]) },
            ],
            leaderCommit: 4,
            readSeq: 9,
          },
        },
        { from: 1, to: 2, term: 3, voteResponse: { preVote: true, granted: false } },
      ],
      senderEndpoint: '127.0.0.1:9094',
    };
    received.length = 0;
    const ack = await unaryCall(raft, 'deliver', batch, 2_000);
    expect(ack).toEqual({ errorCode: 0, errorMessage: '' });
    expect(received).toHaveLength(1);
    const [append, vote] = received[0]?.messages ?? [];
    expect(append?.body).toBe('appendRequest');
    expect(append?.voteResponse).toBeUndefined();
    expect(append?.appendRequest?.entries.map((e) => e.type)).toEqual(['ENTRY_TYPE_NOOP', 'ENTRY_TYPE_NORMAL']);
    expect(Buffer.isBuffer(append?.appendRequest?.entries[1]?.data)).toBe(true);
    expect([...(append?.appendRequest?.entries[1]?.data ?? [])]).toEqual([0, 1, 255]);
    expect(vote?.body).toBe('voteResponse');
    expect(vote?.voteResponse).toEqual({ preVote: true, granted: false });
  });

  it('a call that outlives its deadline rejects with a retriable REQUEST_TIMED_OUT', async () => {
    const deadlineMs = 200;
    const startedMs = performance.now();
    const error = await unaryCall(quorum, 'propose', { data: Buffer.from('x') }, deadlineMs).catch((e: unknown) => e);
    const elapsedMs = performance.now() - startedMs;
    expect(error).toBeInstanceOf(RunnelError);
    const runnelError = error as RunnelError;
    expect(runnelError.codeName).toBe('REQUEST_TIMED_OUT');
    expect(runnelError.retriable).toBe(true);
    expect(runnelError.details).toMatchObject({ method: 'propose', grpcCode: grpc.status.DEADLINE_EXCEEDED });
    expect(elapsedMs).toBeGreaterThanOrEqual(deadlineMs - 20);
    expect(elapsedMs).toBeLessThan(SLOW_HANDLER_DELAY_MS);
  });

  it('an aborted call is cancelled at once and rejects with a retriable NETWORK_EXCEPTION', async () => {
    const controller = new AbortController();
    const pending = unaryCall(quorum, 'propose', { data: Buffer.from('x') }, 10_000, controller.signal).catch((e: unknown) => e);
    controller.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(RunnelError);
    expect(error).toMatchObject({ codeName: 'NETWORK_EXCEPTION', retriable: true, details: { grpcCode: grpc.status.CANCELLED } });
    const already = await unaryCall(quorum, 'describe', {}, 1_000, controller.signal).catch((e: unknown) => e);
    expect(already).toMatchObject({ codeName: 'NETWORK_EXCEPTION' });
  });

  it('a method the server does not implement maps to UNSUPPORTED_VERSION', async () => {
    const error = await unaryCall(quorum, 'transferLeadership', { targetId: 0 }, 2_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('UNSUPPORTED_VERSION');
  });

  it('refuses to call without a positive deadline', async () => {
    await expect(unaryCall(quorum, 'describe', {}, 0)).rejects.toThrow(RangeError);
    await expect(unaryCall(quorum, 'describe', {}, Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
  });
});

describe('calling a closed port', () => {
  it('rejects promptly with a retriable NETWORK_EXCEPTION naming the target', async () => {
    // Bind then shut down a server so the port is known to have nothing listening.
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    server.forceShutdown();
    const target = `127.0.0.1:${port}`;
    const client = createQuorumClient(target);
    try {
      const error = await unaryCall(client, 'describe', {}, 5_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RunnelError);
      const runnelError = error as RunnelError;
      expect(runnelError.codeName).toBe('NETWORK_EXCEPTION');
      expect(runnelError.retriable).toBe(true);
      expect(runnelError.message).toContain(target);
      expect(runnelError.message).toContain('UNAVAILABLE');
      expect(runnelError.cause).toBeDefined();
    } finally {
      client.close();
    }
  });
});

describe('channel and server options', () => {
  it('keep long-lived peer channels alive and reconnect within about a second', () => {
    expect(PEER_CHANNEL_OPTIONS['grpc.keepalive_time_ms']).toBe(10_000);
    expect(PEER_CHANNEL_OPTIONS['grpc.keepalive_permit_without_calls']).toBe(1);
    expect(PEER_CHANNEL_OPTIONS['grpc.max_reconnect_backoff_ms']).toBeLessThanOrEqual(1_000);
    expect(serverOptions()['grpc.keepalive_permit_without_calls']).toBe(1);
    expect(serverOptions({ 'grpc.keepalive_time_ms': 1 })['grpc.keepalive_time_ms']).toBe(1);
  });
});
