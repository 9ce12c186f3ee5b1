import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { BROKER_SERVICE, createBrokerClient, serverOptions, unaryCall } from './grpc-clients.js';
import type { BrokerClient } from './grpc-clients.js';
import type { FetchRequest, FetchResponse } from './broker-messages.js';
import { Pipeline, pipelineHandler } from './pipeline.js';
import type { Reply } from './pipeline.js';
import { RunnelError } from './errors.js';

// The test's Fetch handler is a long poll in miniature: it answers after request.maxWaitMs, echoing
// request.replicaId as the topic name, and ends early when its caller goes away ('cancelled').
// replicaId -7 is refused with INVALID_ARGUMENT.
const REFUSED_REPLICA_ID = -7;

function fetchRequest(replicaId: number, maxWaitMs: number): FetchRequest {
  return { replicaId, replicaEpoch: 0, maxWaitMs, minBytes: 1, maxBytes: 1024, isolationLevel: 0, topics: [] };
}

function echoOf(response: FetchResponse): number {
  return Number(response.topics[0]?.name);
}

async function rejection(promise: Promise<unknown>): Promise<RunnelError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(RunnelError);
  return error as RunnelError;
}

interface ServerStats {
  streamsOpened: number;
  cancelled: number[];
  unaryFetches: number;
}

async function startServer(withStreams: boolean, inFlightMax?: number): Promise<{ server: grpc.Server; address: string; stats: ServerStats }> {
  const stats: ServerStats = { streamsOpened: 0, cancelled: [], unaryFetches: 0 };
  const fetch: grpc.handleUnaryCall<FetchRequest, FetchResponse> = (call, callback) => {
    const { replicaId, maxWaitMs } = call.request;
    if (replicaId === REFUSED_REPLICA_ID) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Fetch: replica id -7 is refused' }, null);
      return;
    }
    const timer = setTimeout(() => callback(null, { errorCode: 0, topics: [{ name: String(replicaId), partitions: [] }] }), maxWaitMs);
    call.on('cancelled', () => {
      clearTimeout(timer);
      stats.cancelled.push(replicaId);
    });
  };
  const unaryOnly = {
    fetch: (call: grpc.ServerUnaryCall<FetchRequest, FetchResponse>, callback: grpc.sendUnaryData<FetchResponse>) => {
      stats.unaryFetches += 1;
      fetch(call, callback);
    },
  };
  const streamed = pipelineHandler(fetch, inFlightMax);
  const handlers = withStreams
    ? {
        ...unaryOnly,
        fetchStream: (stream: Parameters<typeof streamed>[0]) => {
          stats.streamsOpened += 1;
          streamed(stream);
        },
      }
    : unaryOnly;
  const server = new grpc.Server(serverOptions());
  server.addService(BROKER_SERVICE, handlers as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err)));
  });
  return { server, address: `127.0.0.1:${port}`, stats };
}

function pipelineTo(client: BrokerClient, address: string): Pipeline<FetchRequest, FetchResponse> {
  return new Pipeline<FetchRequest, FetchResponse>({
    open: () => client.fetchStream(),
    unary: (request, timeoutMs, signal) => unaryCall(client, 'fetch', request, timeoutMs, signal),
    method: 'fetch',
    target: address,
  });
}

const until = async (condition: () => boolean, timeoutMs = 2_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('Pipeline: requests pipelined on one stream, against a real server on 127.0.0.1', () => {
  let server: grpc.Server;
  let address: string;
  let stats: ServerStats;
  let client: BrokerClient;

  beforeAll(async () => {
    ({ server, address, stats } = await startServer(true));
    client = createBrokerClient(address);
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  it('answers each request with its own response, as each is ready, on a single stream', async () => {
    const pipeline = pipelineTo(client, address);
    const opened = stats.streamsOpened;
    const finished: number[] = [];
    const calls = [[1, 400], [2, 10], [3, 150]].map(([id, waitMs]) =>
      pipeline.call(fetchRequest(id as number, waitMs as number), 5_000).then((response) => {
        finished.push(echoOf(response));
        return echoOf(response);
      }),
    );
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    // No head-of-line blocking: the 10 ms request was answered before the 400 ms one.
    expect(finished).toEqual([2, 3, 1]);
    expect(stats.streamsOpened - opened).toBe(1);
    expect(stats.unaryFetches).toBe(0);
    expect(pipeline.inFlight).toBe(0);
    pipeline.close();
  });

  it('fails a refused request alone, with the mapped error, and keeps the stream', async () => {
    const pipeline = pipelineTo(client, address);
    const opened = stats.streamsOpened;
    const ok = pipeline.call(fetchRequest(11, 50), 5_000);
    const refused = await rejection(pipeline.call(fetchRequest(REFUSED_REPLICA_ID, 0), 5_000));
    expect(refused.codeName).toBe('INVALID_REQUEST');
    expect(refused.message).toContain('replica id -7 is refused');
    expect(echoOf(await ok)).toBe(11);
    expect(echoOf(await pipeline.call(fetchRequest(12, 0), 5_000))).toBe(12);
    expect(stats.streamsOpened - opened).toBe(1);
    pipeline.close();
  });

  it('closes the stream when a request times out: the others in flight fail, the server sees them cancelled, the next call reconnects', async () => {
    const pipeline = pipelineTo(client, address);
    const opened = stats.streamsOpened;
    const slow = pipeline.call(fetchRequest(21, 3_000), 200);
    const other = pipeline.call(fetchRequest(22, 3_000), 10_000);
    const timedOut = await rejection(slow);
    expect(timedOut.codeName).toBe('REQUEST_TIMED_OUT');
    const failed = await rejection(other);
    expect(failed.codeName).toBe('NETWORK_EXCEPTION');
    await until(() => stats.cancelled.includes(21) && stats.cancelled.includes(22));
    expect(echoOf(await pipeline.call(fetchRequest(23, 0), 5_000))).toBe(23);
    expect(stats.streamsOpened - opened).toBe(2);
    pipeline.close();
  });

  it('drops an aborted call at once and leaves the others running', async () => {
    const pipeline = pipelineTo(client, address);
    const abort = new AbortController();
    const startedAt = Date.now();
    const aborted = pipeline.call(fetchRequest(31, 3_000), 10_000, abort.signal);
    const kept = pipeline.call(fetchRequest(32, 100), 10_000);
    setTimeout(() => abort.abort(), 50);
    const error = await rejection(aborted);
    expect(error.codeName).toBe('NETWORK_EXCEPTION');
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(echoOf(await kept)).toBe(32);
    const alreadyAborted = await rejection(pipeline.call(fetchRequest(33, 0), 10_000, abort.signal));
    expect(alreadyAborted.message).toContain('cancelled before it started');
    pipeline.close();
  });

  it('close() fails what is in flight, cancels it on the server, and refuses later calls', async () => {
    const pipeline = pipelineTo(client, address);
    const inFlight = pipeline.call(fetchRequest(41, 3_000), 10_000);
    await until(() => stats.streamsOpened > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    pipeline.close();
    expect((await rejection(inFlight)).codeName).toBe('NETWORK_EXCEPTION');
    await until(() => stats.cancelled.includes(41));
    expect((await rejection(pipeline.call(fetchRequest(42, 0), 1_000))).message).toContain('the connection is closed');
  });

  it('answers an envelope without a request with INVALID_ARGUMENT, and ends the stream after the last answer once the client half-closes', async () => {
    const stream = client.fetchStream();
    const replies: Reply<FetchResponse>[] = [];
    stream.on('data', (reply: Reply<FetchResponse>) => replies.push(reply));
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.write({ correlationId: 7, request: null });
    stream.write({ correlationId: 8, request: fetchRequest(51, 100) });
    stream.end();
    const status = await ended;
    expect(status.code).toBe(grpc.status.OK);
    expect(replies.map((reply) => [reply.correlationId, reply.status])).toEqual([
      [7, grpc.status.INVALID_ARGUMENT],
      [8, grpc.status.OK],
    ]);
    expect(replies[1]?.response?.topics[0]?.name).toBe('51');
  });

  it('rejects a timeout that is not a positive finite number', async () => {
    const pipeline = pipelineTo(client, address);
    await expect(pipeline.call(fetchRequest(61, 0), 0)).rejects.toThrow(RangeError);
    pipeline.close();
  });
});

describe('Pipeline against a peer without the stream method (an older version)', () => {
  it('falls back to unary calls, for the request that found out and every later one', async () => {
    const { server, address, stats } = await startServer(false);
    const client = createBrokerClient(address);
    try {
      const pipeline = pipelineTo(client, address);
      const first = await Promise.all([pipeline.call(fetchRequest(71, 20), 5_000), pipeline.call(fetchRequest(72, 0), 5_000)]);
      expect(first.map(echoOf)).toEqual([71, 72]);
      expect(pipeline.usesUnary).toBe(true);
      expect(echoOf(await pipeline.call(fetchRequest(73, 0), 5_000))).toBe(73);
      expect(stats.unaryFetches).toBe(3);
      const refused = await rejection(pipeline.call(fetchRequest(REFUSED_REPLICA_ID, 0), 5_000));
      expect(refused.codeName).toBe('INVALID_REQUEST');
      pipeline.close();
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

describe('pipelineHandler bounds the requests in flight on one stream', () => {
  it('refuses a request beyond the bound with a retriable error and serves the others', async () => {
    const { server, address } = await startServer(true, 2);
    const client = createBrokerClient(address);
    try {
      const pipeline = pipelineTo(client, address);
      const first = pipeline.call(fetchRequest(81, 200), 5_000);
      const second = pipeline.call(fetchRequest(82, 200), 5_000);
      const refused = await rejection(pipeline.call(fetchRequest(83, 0), 5_000));
      expect(refused.codeName).toBe('NETWORK_EXCEPTION');
      expect(refused.retriable).toBe(true);
      expect(refused.message).toContain('2 requests already in flight on this stream');
      expect((await Promise.all([first, second])).map(echoOf)).toEqual([81, 82]);
      // Once they are answered there is room again, on the same stream.
      expect(echoOf(await pipeline.call(fetchRequest(84, 0), 5_000))).toBe(84);
      pipeline.close();
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
