import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { GROUP_COORDINATOR_SERVICE, createGroupCoordinatorClient, serverOptions, unaryCall } from './grpc-clients.js';
import type { GroupCoordinatorClient, GroupCoordinatorServiceHandlers } from './grpc-clients.js';
import type { ConsumerGroupHeartbeatRequest, OffsetCommitRequest } from './group-messages.js';

const CALL_DEADLINE_MS = 2_000;
// Beyond 32 bits: committed offsets are int64 and must survive as JS numbers.
const LARGE_OFFSET = 2 ** 41 + 3;

function unimplemented(_call: unknown, callback: grpc.sendUnaryData<never>): void {
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });
}

describe('GroupCoordinator client against a real server on 127.0.0.1', () => {
  let server: grpc.Server;
  let client: GroupCoordinatorClient;
  const heartbeats: ConsumerGroupHeartbeatRequest[] = [];
  const commits: OffsetCommitRequest[] = [];

  beforeAll(async () => {
    server = new grpc.Server(serverOptions());
    const impl: GroupCoordinatorServiceHandlers = {
      consumerGroupHeartbeat: (call, callback) => {
        heartbeats.push(call.request);
        callback(null, {
          errorCode: 0,
          errorMessage: '',
          memberId: call.request.memberId === '' ? 'member-1' : call.request.memberId,
          memberEpoch: call.request.memberEpoch + 1,
          heartbeatIntervalMs: 3_000,
          hasAssignment: true,
          assignment: [{ topic: 'orders', partitions: [0, 2] }],
        });
      },
      offsetCommit: (call, callback) => {
        commits.push(call.request);
        callback(null, {
          errorCode: 0,
          errorMessage: '',
          topics: call.request.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((p) => ({ partition: p.partition, errorCode: 0 })) })),
        });
      },
      findCoordinator: unimplemented,
      offsetFetch: unimplemented,
      listGroups: unimplemented,
      describeGroups: unimplemented,
      deleteGroups: unimplemented,
    };
    server.addService(GROUP_COORDINATOR_SERVICE, impl);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    client = createGroupCoordinatorClient(`127.0.0.1:${port}`);
  });

  afterAll(() => {
    client?.close();
    server?.forceShutdown();
  });

  it('the service definition names every rpc of group.proto', () => {
    expect(Object.keys(GROUP_COORDINATOR_SERVICE).sort()).toEqual(
      ['ConsumerGroupHeartbeat', 'DeleteGroups', 'DescribeGroups', 'FindCoordinator', 'ListGroups', 'OffsetCommit', 'OffsetFetch'].sort(),
    );
    expect(GROUP_COORDINATOR_SERVICE['OffsetCommit']?.path).toBe('/runnel.v1.GroupCoordinator/OffsetCommit');
  });

  it('a join heartbeat round-trips its subscription, owned partitions and the assignment', async () => {
    const response = await unaryCall(
      client,
      'consumerGroupHeartbeat',
      {
        groupId: 'g1',
        memberId: '',
        memberEpoch: 0,
        rebalanceTimeoutMs: 60_000,
        sessionTimeoutMs: 45_000,
        subscribedTopicNames: ['orders'],
        subscribedTopicRegex: '',
        ownedPartitions: [{ topic: 'orders', partitions: [1] }],
        clientId: 'c',
        clientHost: '127.0.0.1',
      },
      CALL_DEADLINE_MS,
    );
    expect(response).toMatchObject({ memberId: 'member-1', memberEpoch: 1, hasAssignment: true, assignment: [{ topic: 'orders', partitions: [0, 2] }] });
    expect(heartbeats[0]?.ownedPartitions).toEqual([{ topic: 'orders', partitions: [1] }]);
    expect(heartbeats[0]?.sessionTimeoutMs).toBe(45_000);
  });

  it('int64 committed offsets beyond 32 bits survive the wire', async () => {
    await unaryCall(
      client,
      'offsetCommit',
      { groupId: 'g1', memberId: '', memberEpoch: -1, topics: [{ name: 'orders', partitions: [{ partition: 4, committedOffset: LARGE_OFFSET, committedLeaderEpoch: 7, metadata: 'm' }] }] },
      CALL_DEADLINE_MS,
    );
    expect(commits[0]?.topics[0]?.partitions[0]).toEqual({ partition: 4, committedOffset: LARGE_OFFSET, committedLeaderEpoch: 7, metadata: 'm' });
    expect(commits[0]?.memberEpoch).toBe(-1);
  });

  it('an unimplemented method surfaces as a typed error', async () => {
    await expect(unaryCall(client, 'listGroups', {}, CALL_DEADLINE_MS)).rejects.toMatchObject({ name: 'RunnelError' });
  });
});
