import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import {
  BROKER_SERVICE,
  CONTROLLER_SERVICE,
  createBrokerClient,
  createControllerClient,
  serverOptions,
  unaryCall,
} from './grpc-clients.js';
import type { BrokerClient, BrokerServiceHandlers, ControllerClient, ControllerServiceHandlers } from './grpc-clients.js';
import { RunnelError } from './errors.js';
import { decodeRecordBatch, encodeRecordBatch } from './record/index.js';
import type { FetchRequest, ProduceRequest, ProduceResponse } from './broker-messages.js';
import type { RegisterBrokerRequest, RegisterBrokerResponse } from './controller-messages.js';

const CALL_DEADLINE_MS = 2_000;
// Beyond 32 bits: proves uint64/int64 survive as JS numbers rather than being truncated.
const LARGE_OFFSET = 2 ** 40 + 7;

function unimplemented(_call: unknown, callback: grpc.sendUnaryData<never>): void {
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });
}

describe('Controller and Broker clients against a real server on 127.0.0.1', () => {
  let server: grpc.Server;
  let controller: ControllerClient;
  let broker: BrokerClient;
  const produced: ProduceRequest[] = [];
  const fetched: FetchRequest[] = [];
  const registered: RegisterBrokerRequest[] = [];
  // Whatever Produce received is what Fetch returns, so bytes cross the wire twice.
  let storedRecords = Buffer.alloc(0);

  beforeAll(async () => {
    server = new grpc.Server(serverOptions());
    const controllerImpl: ControllerServiceHandlers = {
      registerBroker: (call, callback) => {
        registered.push(call.request);
        callback(null, {
          errorCode: 0,
          errorMessage: '',
          brokerEpoch: LARGE_OFFSET + call.request.brokerId,
          controller: { leaderId: 3, leaderEndpoint: '127.0.0.1:9093' },
        });
      },
      brokerHeartbeat: unimplemented,
      createTopics: unimplemented,
      deleteTopics: unimplemented,
      createPartitions: unimplemented,
      alterPartition: unimplemented,
      allocateProducerIds: unimplemented,
      alterConfigs: unimplemented,
    };
    // Unary methods only: the streams are not part of this test (grpc-js answers UNIMPLEMENTED to them).
    const brokerImpl: Omit<BrokerServiceHandlers, 'produceStream' | 'fetchStream'> = {
      produce: (call, callback) => {
        produced.push(call.request);
        const response: ProduceResponse = {
          topics: call.request.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => {
              storedRecords = Buffer.from(p.records);
              return {
                partition: p.partition,
                errorCode: 0,
                errorMessage: '',
                baseOffset: LARGE_OFFSET,
                logAppendTimeMs: -1,
                logStartOffset: 0,
                currentLeaderId: -1,
                currentLeaderEpoch: -1,
              };
            }),
          })),
        };
        callback(null, response);
      },
      fetch: (call, callback) => {
        fetched.push(call.request);
        callback(null, {
          errorCode: 0,
          topics: call.request.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({
              partition: p.partition,
              errorCode: 0,
              errorMessage: '',
              highWatermark: LARGE_OFFSET + 1,
              lastStableOffset: -1,
              logStartOffset: -1,
              divergingEpoch: p.lastFetchedEpoch === -1 ? null : { epoch: p.lastFetchedEpoch, endOffset: -1 },
              currentLeaderId: -1,
              currentLeaderEpoch: -1,
              records: storedRecords,
            })),
          })),
        });
      },
      metadata: unimplemented,
      listOffsets: unimplemented,
      offsetsForLeaderEpoch: unimplemented,
      initProducerId: unimplemented,
      describeCluster: unimplemented,
      createTopics: unimplemented,
      deleteTopics: unimplemented,
      createPartitions: unimplemented,
      alterConfigs: unimplemented,
    };
    server.addService(CONTROLLER_SERVICE, controllerImpl);
    server.addService(BROKER_SERVICE, brokerImpl);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    const address = `127.0.0.1:${port}`;
    controller = createControllerClient(address);
    broker = createBrokerClient(address);
  });

  afterAll(() => {
    controller?.close();
    broker?.close();
    server?.forceShutdown();
  });

  it('the service definitions name every rpc of the .proto files', () => {
    expect(Object.keys(CONTROLLER_SERVICE).sort()).toEqual(
      ['AllocateProducerIds', 'AlterConfigs', 'AlterPartition', 'BrokerHeartbeat', 'CreatePartitions', 'CreateTopics', 'DeleteTopics', 'RegisterBroker'].sort(),
    );
    expect(Object.keys(BROKER_SERVICE).sort()).toEqual(
      ['AlterConfigs', 'CreatePartitions', 'CreateTopics', 'DeleteTopics', 'DescribeCluster', 'Fetch', 'InitProducerId', 'ListOffsets', 'Metadata', 'OffsetsForLeaderEpoch', 'Produce', 'ProduceStream', 'FetchStream'].sort(),
    );
    expect(CONTROLLER_SERVICE['RegisterBroker']?.path).toBe('/runnel.v1.Controller/RegisterBroker');
    expect(BROKER_SERVICE['Produce']?.path).toBe('/runnel.v1.Broker/Produce');
    for (const method of ['ProduceStream', 'FetchStream']) {
      expect([BROKER_SERVICE[method]?.requestStream, BROKER_SERVICE[method]?.responseStream]).toEqual([true, true]);
    }
  });

  it('Controller.RegisterBroker round-trips repeated sub-messages, uint64 and the controller hint', async () => {
    registered.length = 0;
    const request: RegisterBrokerRequest = {
      clusterId: 'cluster-a',
      brokerId: 2,
      incarnationId: 'inc-1',
      endpoints: [
        { name: 'CLIENT', host: '127.0.0.1', port: 9092 },
        { name: 'REPLICATION', host: '127.0.0.1', port: 9192 },
      ],
      rack: '',
    };
    const response: RegisterBrokerResponse = await unaryCall(controller, 'registerBroker', request, CALL_DEADLINE_MS);
    expect(registered).toEqual([request]);
    expect(response).toEqual({
      errorCode: 0,
      errorMessage: '',
      brokerEpoch: LARGE_OFFSET + 2,
      controller: { leaderId: 3, leaderEndpoint: '127.0.0.1:9093' },
    });
  });

  it('Broker.Produce then Broker.Fetch carry RecordBatch bytes intact and int64 -1 values', async () => {
    const batch = encodeRecordBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 4,
      records: [
        { key: Buffer.from('k1'), value: Buffer.from([0, 255, 128, 1]), timestamp: 1_700_000_000_000 },
        { key: null, value: Buffer.alloc(300, 0xab), timestamp: 1_700_000_000_001 },
      ],
    });
    produced.length = 0;
    const produceResponse = await unaryCall(
      broker,
      'produce',
      { acks: -1, timeoutMs: 1_000, topics: [{ name: 't', partitions: [{ partition: 5, records: batch }] }] },
      CALL_DEADLINE_MS,
    );
    expect(produced[0]?.acks).toBe(-1);
    const receivedRecords = produced[0]?.topics[0]?.partitions[0]?.records;
    expect(Buffer.isBuffer(receivedRecords)).toBe(true);
    expect(receivedRecords?.equals(batch)).toBe(true);
    expect(produceResponse.topics[0]?.partitions[0]).toEqual({
      partition: 5,
      errorCode: 0,
      errorMessage: '',
      baseOffset: LARGE_OFFSET,
      logAppendTimeMs: -1,
      logStartOffset: 0,
      currentLeaderId: -1,
      currentLeaderEpoch: -1,
    });

    fetched.length = 0;
    const fetchRequest: FetchRequest = {
      replicaId: -1,
      replicaEpoch: 0,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1_048_576,
      isolationLevel: 0,
      topics: [
        {
          name: 't',
          partitions: [
            { partition: 5, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 65_536, flushedOffset: -1 },
            { partition: 6, currentLeaderEpoch: 4, fetchOffset: LARGE_OFFSET, lastFetchedEpoch: 3, logStartOffset: 0, partitionMaxBytes: 65_536, flushedOffset: 0 },
          ],
        },
      ],
    };
    const fetchResponse = await unaryCall(broker, 'fetch', fetchRequest, CALL_DEADLINE_MS);
    expect(fetched).toEqual([fetchRequest]);
    const [first, second] = fetchResponse.topics[0]?.partitions ?? [];
    expect(first?.lastStableOffset).toBe(-1);
    expect(first?.logStartOffset).toBe(-1);
    expect(first?.highWatermark).toBe(LARGE_OFFSET + 1);
    // An unset sub-message decodes as null; a set one carries its int64 -1 intact.
    expect(first?.divergingEpoch).toBeNull();
    expect(second?.divergingEpoch).toEqual({ epoch: 3, endOffset: -1 });
    expect(Buffer.isBuffer(first?.records)).toBe(true);
    expect(first?.records.equals(batch)).toBe(true);
    const decoded = decodeRecordBatch(first?.records ?? Buffer.alloc(0));
    expect(decoded.records.map((r) => r.value?.length)).toEqual([4, 300]);
    expect([...(decoded.records[0]?.value ?? [])]).toEqual([0, 255, 128, 1]);
  });

  it('an rpc the server leaves unimplemented maps to UNSUPPORTED_VERSION', async () => {
    const error = await unaryCall(broker, 'describeCluster', {}, CALL_DEADLINE_MS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect((error as RunnelError).codeName).toBe('UNSUPPORTED_VERSION');
  });
});
