import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTROLLER_SERVICE, ErrorCode, serverOptions } from '@runnel/protocol';
import type { AllocateProducerIdsRequest, ControllerHint, CreateTopicsRequest } from '@runnel/protocol';
import { quietLogger } from '../manager/manager-test-kit.js';
import { ControllerChannel } from './controller-channel.js';
import { ProducerIdAllocator } from './producer-ids.js';

/** A stand-in controller: answers NOT_CONTROLLER with `hint` unless it is the active one. */
interface FakeController {
  readonly address: string;
  readonly calls: string[];
  active: boolean;
  hint: ControllerHint;
  nextProducerId: number;
}

const BLOCK_SIZE = 2;

async function fakeController(servers: grpc.Server[]): Promise<FakeController> {
  const server = new grpc.Server(serverOptions());
  const fake: FakeController = { address: '', calls: [], active: false, hint: { leaderId: 0, leaderEndpoint: '' }, nextProducerId: 1_000 };
  const refused = { errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'not the active controller' };
  server.addService(CONTROLLER_SERVICE, {
    CreateTopics: (call: grpc.ServerUnaryCall<CreateTopicsRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      fake.calls.push('CreateTopics');
      const error = fake.active ? { errorCode: ErrorCode.NONE, errorMessage: '' } : refused;
      callback(null, { topics: call.request.topics.map((t) => ({ name: t.name, ...error, topicId: fake.active ? 'id-1' : '', numPartitions: t.numPartitions, replicationFactor: 1 })), controller: fake.hint });
    },
    AllocateProducerIds: (_call: grpc.ServerUnaryCall<AllocateProducerIdsRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      fake.calls.push('AllocateProducerIds');
      const first = fake.nextProducerId;
      fake.nextProducerId += 100;
      callback(null, fake.active ? { errorCode: ErrorCode.NONE, errorMessage: '', firstProducerId: first, count: BLOCK_SIZE, controller: fake.hint } : { ...refused, firstProducerId: 0, count: 0, controller: fake.hint });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err !== null ? reject(err) : resolve(bound)));
  });
  servers.push(server);
  return Object.assign(fake, { address: `127.0.0.1:${port}` });
}

const createRequest = (name: string): CreateTopicsRequest => ({ topics: [{ name, numPartitions: 3, replicationFactor: 1, configs: [] }], validateOnly: false, timeoutMs: 0 });

describe('ControllerChannel', () => {
  const servers: grpc.Server[] = [];
  const channels: ControllerChannel[] = [];
  afterEach(() => {
    for (const channel of channels.splice(0)) channel.close();
    for (const server of servers.splice(0)) server.forceShutdown();
  });

  it('follows a NOT_CONTROLLER hint to the active controller and keeps talking to it', async () => {
    const follower = await fakeController(servers);
    const leader = await fakeController(servers);
    leader.active = true;
    follower.hint = { leaderId: 2, leaderEndpoint: leader.address };
    const channel = new ControllerChannel({ voters: new Map([[1, follower.address]]), logger: quietLogger() });
    channels.push(channel);
    const first = await channel.call('createTopics', createRequest('a'), 5_000);
    expect(first.topics[0]).toMatchObject({ name: 'a', errorCode: ErrorCode.NONE, topicId: 'id-1' });
    await channel.call('createTopics', createRequest('b'), 5_000);
    expect(follower.calls).toEqual(['CreateTopics']);
    expect(leader.calls).toEqual(['CreateTopics', 'CreateTopics']);
  });

  it('tries the next voter when one is unreachable', async () => {
    const leader = await fakeController(servers);
    leader.active = true;
    const channel = new ControllerChannel({ voters: new Map([[1, '127.0.0.1:1'], [2, leader.address]]), logger: quietLogger(), callTimeoutMs: 500, retryBackoffMs: 10 });
    channels.push(channel);
    const answer = await channel.call('createTopics', createRequest('c'), 5_000);
    expect(answer.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('returns the refusal when no controller becomes active in time', async () => {
    const follower = await fakeController(servers);
    const channel = new ControllerChannel({ voters: new Map([[1, follower.address]]), logger: quietLogger(), retryBackoffMs: 20 });
    channels.push(channel);
    const answer = await channel.call('createTopics', createRequest('d'), 300);
    expect(answer.topics[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(follower.calls.length).toBeGreaterThan(1);
  });
});

describe('ProducerIdAllocator', () => {
  const servers: grpc.Server[] = [];
  const channels: ControllerChannel[] = [];
  afterEach(() => {
    for (const channel of channels.splice(0)) channel.close();
    for (const server of servers.splice(0)) server.forceShutdown();
  });

  it('hands out ids from controller blocks, sharing one block request between concurrent callers', async () => {
    const leader = await fakeController(servers);
    leader.active = true;
    const channel = new ControllerChannel({ voters: new Map([[1, leader.address]]), logger: quietLogger() });
    channels.push(channel);
    const allocator = new ProducerIdAllocator({ controller: channel, brokerId: 1, brokerEpoch: () => 5, requestTimeoutMs: 5_000 });
    const concurrent = await Promise.all([allocator.next(), allocator.next()]);
    expect(concurrent.sort()).toEqual([1_000, 1_001]);
    expect(await allocator.next()).toBe(1_100);
    expect(leader.calls).toEqual(['AllocateProducerIds', 'AllocateProducerIds']);
  });

  it('refuses before the broker is registered', async () => {
    const leader = await fakeController(servers);
    leader.active = true;
    const channel = new ControllerChannel({ voters: new Map([[1, leader.address]]), logger: quietLogger() });
    channels.push(channel);
    const allocator = new ProducerIdAllocator({ controller: channel, brokerId: 1, brokerEpoch: () => 0, requestTimeoutMs: 5_000 });
    await expect(allocator.next()).rejects.toMatchObject({ codeName: 'COORDINATOR_LOAD_IN_PROGRESS' });
    expect(leader.calls).toEqual([]);
  });
});
