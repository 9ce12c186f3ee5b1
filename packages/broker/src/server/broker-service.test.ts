import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_SERVICE, ErrorCode, Pipeline, createBrokerClient, decodeRecordBatch, serverOptions } from '@runnel/protocol';
import type { BrokerClient, FetchRequest, FetchResponse, MetadataResponse, ProduceRequest, ProduceResponse } from '@runnel/protocol';
import { ReplicaManager } from '../manager/replica-manager.js';
import type { AlterPartitionSender } from '../manager/replica-manager.js';
import { CommittingController, TOPIC, batch, buildImage, quietLogger, tempDir, waitFor } from '../manager/manager-test-kit.js';
import { brokerServiceHandlers } from './broker-service.js';
import { GrpcFetchTransport } from './grpc-fetch-transport.js';

const CALL_DEADLINE_MS = 10_000;

function call<Req, Res>(client: BrokerClient, method: 'produce' | 'fetch' | 'metadata', request: Req): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const fn = client[method] as unknown as (r: Req, o: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void;
    fn.call(client, request, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => (err !== null || res === undefined ? reject(err ?? new Error('empty response')) : resolve(res)));
  });
}

async function listen(handlers: grpc.UntypedServiceImplementation): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server(serverOptions());
  server.addService(BROKER_SERVICE, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err !== null ? reject(err) : resolve(bound)));
  });
  return { server, port };
}

describe('broker-service over gRPC', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  });

  async function broker(id: number, alterPartition: AlterPartitionSender, transport?: GrpcFetchTransport): Promise<ReplicaManager> {
    const logDir = await tempDir();
    cleanups.push(() => fs.promises.rm(logDir, { recursive: true, force: true }));
    const manager = new ReplicaManager({
      brokerId: id,
      logDir,
      logger: quietLogger(),
      alterPartition,
      ...(transport === undefined ? {} : { fetchTransport: transport }),
      replicaFetchWaitMaxMs: 200,
      replicaFetchBackoffMs: 20,
    });
    cleanups.push(() => manager.close());
    return manager;
  }

  it('serves produce, fetch and metadata, and replicates acks=all to a follower fetching over gRPC', async () => {
    const controller = new CommittingController();
    const leader = await broker(1, controller);
    const { server, port } = await listen(brokerServiceHandlers({ replicaManager: leader, logger: quietLogger(), clusterId: 'test-cluster', controllerId: () => 1, metadataOffset: () => 7 }));
    cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
    const ports = new Map([
      [1, port],
      [2, 1],
    ]);
    const image = buildImage({ brokers: [1, 2], partitions: [{ replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 4 }], ports, topicConfigs: { 'min.insync.replicas': '2' } });
    const transport = new GrpcFetchTransport((id) => (ports.has(id) ? `127.0.0.1:${ports.get(id)}` : undefined));
    cleanups.push(() => transport.close());
    const follower = await broker(2, controller, transport);
    await leader.applyMetadata(image);
    await follower.applyMetadata(image);

    const client = createBrokerClient(`127.0.0.1:${port}`);
    cleanups.push(() => client.close());
    const produced = await call<unknown, ProduceResponse>(client, 'produce', { acks: -1, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: batch(['hello', 'grpc']) }] }] });
    expect(produced.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0, currentLeaderEpoch: 4 });
    expect(follower.describe()[0]?.flushedOffset).toBe(2);

    const fetchRequest = {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 0,
      topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 4, fetchOffset: 0, lastFetchedEpoch: -1, partitionMaxBytes: 0 }] }],
    };
    const fetched = await call<unknown, FetchResponse>(client, 'fetch', fetchRequest);
    const partition = fetched.topics[0]?.partitions[0];
    expect(partition).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2 });
    const decoded = decodeRecordBatch(partition?.records ?? Buffer.alloc(0), 0);
    expect(decoded.records.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(['hello', 'grpc']);
    await waitFor(() => follower.describe()[0]?.highWatermark === 2, 'the follower to learn the high watermark');

    const metadata = await call<unknown, MetadataResponse>(client, 'metadata', { topics: [TOPIC, 'missing'] });
    expect(metadata).toMatchObject({ clusterId: 'test-cluster', controllerId: 1, metadataOffset: 7 });
    expect(metadata.brokers.map((b) => [b.id, b.host, b.port])).toEqual([
      [1, '127.0.0.1', port],
      [2, '127.0.0.1', 1],
    ]);
    expect(metadata.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 1, leaderEpoch: 4, replicas: [1, 2], isr: [1, 2] });
    expect(metadata.topics[1]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    // A stale epoch from a consumer is fenced per partition; a malformed request is refused whole.
    const stale = await call<unknown, FetchResponse>(client, 'fetch', { ...fetchRequest, topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 3, fetchOffset: 0 }] }] });
    expect(stale.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    await expect(call(client, 'produce', { acks: 5, topics: [] })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 0x01;
    const refused = await call<unknown, ProduceResponse>(client, 'produce', { acks: 1, timeoutMs: 1000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: corrupt }] }] });
    expect(refused.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(leader.describe()[0]?.logEndOffset).toBe(2);
  });

  it('serves produce and fetch pipelined on ProduceStream and FetchStream with the same checks as the unary calls', async () => {
    const controller = new CommittingController();
    const leader = await broker(1, controller);
    const { server, port } = await listen(brokerServiceHandlers({ replicaManager: leader, logger: quietLogger(), clusterId: 'test-cluster', controllerId: () => 1, metadataOffset: () => 7 }));
    cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
    await leader.applyMetadata(buildImage({ brokers: [1], partitions: [{ replicas: [1], isr: [1], leader: 1, leaderEpoch: 2 }], ports: new Map([[1, port]]) }));
    const client = createBrokerClient(`127.0.0.1:${port}`);
    cleanups.push(() => client.close());
    const target = `127.0.0.1:${port}`;
    const produce = new Pipeline<ProduceRequest, ProduceResponse>({ open: () => client.produceStream(), unary: () => Promise.reject(new Error('unary not expected')), method: 'produce', target });
    const fetch = new Pipeline<FetchRequest, FetchResponse>({ open: () => client.fetchStream(), unary: () => Promise.reject(new Error('unary not expected')), method: 'fetch', target });
    cleanups.push(() => produce.close());
    cleanups.push(() => fetch.close());

    // A long poll waiting for data, then three produce requests in flight together on one stream.
    const longPoll = fetch.call({ replicaId: -1, replicaEpoch: 0, maxWaitMs: 5_000, minBytes: 1, maxBytes: 0, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 2, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 0, flushedOffset: -1 }] }] }, 10_000);
    const sends = ['a', 'b', 'c'].map((value) => produce.call({ acks: 1, timeoutMs: 1_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: batch([value]) }] }] }, 10_000));
    const answers = await Promise.all(sends);
    expect(answers.map((answer) => answer.topics[0]?.partitions[0]?.baseOffset)).toEqual([0, 1, 2]);
    const polled = (await longPoll).topics[0]?.partitions[0];
    expect(polled?.errorCode).toBe(ErrorCode.NONE);
    expect(decodeRecordBatch(polled?.records ?? Buffer.alloc(0), 0).records.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(['a']);

    // A malformed request fails alone with the unary call's status; a corrupt batch gets its Kafka code; the stream goes on.
    await expect(produce.call({ acks: 5, timeoutMs: 1_000, topics: [] }, 10_000)).rejects.toMatchObject({ codeName: 'INVALID_REQUEST' });
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 0x01;
    const refused = await produce.call({ acks: 1, timeoutMs: 1_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records: corrupt }] }] }, 10_000);
    expect(refused.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const stale = await fetch.call({ replicaId: -1, replicaEpoch: 0, maxWaitMs: 0, minBytes: 0, maxBytes: 0, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 0, flushedOffset: -1 }] }] }, 10_000);
    expect(stale.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(leader.describe()[0]?.logEndOffset).toBe(3);
    expect([produce.usesUnary, fetch.usesUnary]).toEqual([false, false]);
  });
});
