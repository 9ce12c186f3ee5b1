// The controller driver end to end, in one process: RaftNodes over real gRPC on 127.0.0.1 with
// their own LevelDB directories, a ControllerServer on each, and BrokerLifecycles registering and
// heartbeating over runnel.v1.Controller.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { CONTROLLER_SERVICE, ErrorCode, RAFT_SERVICE, createControllerClient, serverOptions, unaryCall } from '@runnel/protocol';
import type { ControllerClient } from '@runnel/protocol';
import { RaftNode } from '@runnel/raft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataImage, PartitionState } from '../core/metadata-image.js';
import { seededRandom } from '../core/random.js';
import { BrokerLifecycle } from './broker-lifecycle.js';
import { ControllerServer } from './controller-server.js';
import { MetadataStateMachine } from './metadata-state-machine.js';

const WAIT_MS = 15_000;
const CALL_MS = 5_000;
const SESSION_TIMEOUT_MS = 1_500;
const CLUSTER_ID = 'controller-test-cluster';
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function bind(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error === null ? resolve(port) : reject(error)));
  });
}

interface Member {
  readonly id: number;
  port: number;
  server: grpc.Server;
  machine: MetadataStateMachine;
  node: RaftNode | undefined;
  controller: ControllerServer | undefined;
}

class Cluster {
  readonly members: Member[] = [];
  readonly brokers = new Map<number, BrokerLifecycle>();
  private readonly admins: ControllerClient[] = [];
  voters = new Map<number, string>();

  constructor(private readonly dir: string) {}

  async start(ids: number[]): Promise<void> {
    for (const id of ids) {
      const server = new grpc.Server(serverOptions());
      const member: Member = { id, port: 0, server, machine: new MetadataStateMachine(logger), node: undefined, controller: undefined };
      // Handlers forward to whatever runs now, so the port (and the voter map) exists before the node opens.
      server.addService(RAFT_SERVICE, {
        Deliver: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (member.node === undefined) callback({ code: grpc.status.UNAVAILABLE, details: `node ${id} is down` });
          else (member.node.raftServiceHandlers()['Deliver'] as grpc.handleUnaryCall<unknown, unknown>)(call, callback);
        },
      });
      const forward = Object.fromEntries(
        Object.values(CONTROLLER_SERVICE).map((method) => [
          method.originalName as string,
          (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
            const handlers = member.controller?.handlers() as Record<string, grpc.handleUnaryCall<unknown, unknown>> | undefined;
            const handler = handlers?.[method.originalName as string];
            if (handler === undefined) callback({ code: grpc.status.UNAVAILABLE, details: `controller ${id} is down` });
            else handler(call, callback);
          },
        ]),
      );
      server.addService(CONTROLLER_SERVICE, forward);
      member.port = await bind(server);
      this.members.push(member);
    }
    this.voters = new Map(this.members.map((m) => [m.id, `127.0.0.1:${m.port}`]));
    for (const member of this.members) {
      const node = await RaftNode.open({
        id: member.id, clusterId: CLUSTER_ID, voters: this.voters, metadataDir: path.join(this.dir, `node-${member.id}`), stateMachine: member.machine,
        logger, tickMs: 50, electionTicks: 10, rpcTimeoutMs: 500,
      });
      const controller = new ControllerServer({
        node, stateMachine: member.machine, clusterId: CLUSTER_ID, logger, random: seededRandom(member.id),
        config: { brokerSessionTimeoutMs: SESSION_TIMEOUT_MS }, tickIntervalMs: 100, requestTimeoutMs: 3_000,
      });
      member.node = node;
      member.controller = controller;
      controller.start();
      node.start();
    }
  }

  member(id: number): Member {
    const member = this.members.find((m) => m.id === id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  /** The one running member whose controller is active. */
  async activeController(excluding?: number): Promise<Member> {
    return waitFor('an active controller', () => {
      const active = this.members.filter((m) => m.controller?.active === true && m.id !== excluding);
      return active.length === 1 ? active[0] : undefined;
    });
  }

  /** Brokers in combined mode: broker N reports what node N's state machine has applied. */
  startBroker(id: number, offsetOf: () => number): BrokerLifecycle {
    const broker = new BrokerLifecycle({
      clusterId: CLUSTER_ID, brokerId: id, endpoints: [{ name: 'CLIENT', host: '127.0.0.1', port: 19_000 + id }], rack: null,
      controllers: this.voters, metadataOffset: offsetOf, logger, heartbeatIntervalMs: 200, requestTimeoutMs: 1_000,
    });
    this.brokers.set(id, broker);
    broker.start();
    return broker;
  }

  admin(memberId: number): ControllerClient {
    const client = createControllerClient(`127.0.0.1:${this.member(memberId).port}`);
    this.admins.push(client);
    return client;
  }

  /** A crashed process: its controller, node and listener vanish together. */
  async kill(id: number): Promise<void> {
    const member = this.member(id);
    const { node, controller } = member;
    member.node = undefined;
    member.controller = undefined;
    member.server.forceShutdown();
    await controller?.stop();
    await node?.stop();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.brokers.values()].map((b) => b.stop()));
    for (const client of this.admins) client.close();
    await Promise.all(this.members.map((m) => this.kill(m.id)));
  }
}

function partitionsOf(image: MetadataImage, topic: string): readonly PartitionState[] {
  return image.topic(topic)?.partitions ?? [];
}

describe('ControllerServer with BrokerLifecycle over gRPC', () => {
  let dir: string;
  let cluster: Cluster | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runnel-controller-'));
  });

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('registers brokers, creates balanced topics, validates, changes ISRs, allocates producer ids and fences a silent broker', async () => {
    cluster = new Cluster(dir);
    await cluster.start([1]);
    const member = await cluster.activeController();
    const brokers = [1, 2, 3].map((id) => cluster!.startBroker(id, () => member.machine.appliedOffset));
    for (const broker of brokers) {
      expect(await broker.waitFor((s) => s.registered && !s.fenced, WAIT_MS), `broker ${broker.state.controllerId}`).toBe(true);
    }
    expect(brokers.map((b) => b.state.brokerEpoch).sort()).toEqual([...new Set(brokers.map((b) => b.state.brokerEpoch))].sort());
    expect([...member.machine.image.brokers.values()].every((b) => !b.fenced)).toBe(true);

    const admin = cluster.admin(1);
    const created = await unaryCall(admin, 'createTopics', {
      topics: [{ name: 'orders', numPartitions: 3, replicationFactor: 3, configs: [] }], validateOnly: false, timeoutMs: 0,
    }, CALL_MS);
    expect(created.topics[0]).toMatchObject({ name: 'orders', errorCode: ErrorCode.NONE, numPartitions: 3, replicationFactor: 3 });
    // Answered after commit and apply: the image already holds the topic.
    const orders = partitionsOf(member.machine.image, 'orders');
    expect(orders).toHaveLength(3);
    expect(new Set(orders.map((p) => p.leader))).toEqual(new Set([1, 2, 3]));
    for (const p of orders) expect([...p.isr].sort()).toEqual([1, 2, 3]);

    const invalid = await unaryCall(admin, 'createTopics', {
      topics: [
        { name: 'bad name!', numPartitions: 1, replicationFactor: 1, configs: [] },
        { name: 'orders', numPartitions: 1, replicationFactor: 1, configs: [] },
        { name: 'wide', numPartitions: 1, replicationFactor: 4, configs: [] },
      ],
      validateOnly: false, timeoutMs: 0,
    }, CALL_MS);
    expect(invalid.topics.map((t) => t.errorCode)).toEqual([
      ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.INVALID_REPLICATION_FACTOR,
    ]);
    expect(member.machine.image.topic('wide')).toBeUndefined();

    // AlterPartition: the leader of partition 0 drops one follower, then takes it back.
    const p0 = orders[0]!;
    const leaderBroker = brokers[p0.leader - 1]!;
    const dropped = p0.isr.find((id) => id !== p0.leader)!;
    const shrunk = await unaryCall(admin, 'alterPartition', {
      brokerId: p0.leader, brokerEpoch: leaderBroker.state.brokerEpoch, topicId: p0.topicId, partition: 0,
      leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch, newIsr: p0.isr.filter((id) => id !== dropped), leaderRecovered: false,
    }, CALL_MS);
    expect(shrunk).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: p0.leader, leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch + 1 });
    expect(shrunk.isr).not.toContain(dropped);
    const stale = await unaryCall(admin, 'alterPartition', {
      brokerId: p0.leader, brokerEpoch: leaderBroker.state.brokerEpoch, topicId: p0.topicId, partition: 0,
      leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch, newIsr: [...p0.isr], leaderRecovered: false,
    }, CALL_MS);
    expect(stale.errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    const expanded = await unaryCall(admin, 'alterPartition', {
      brokerId: p0.leader, brokerEpoch: leaderBroker.state.brokerEpoch, topicId: p0.topicId, partition: 0,
      leaderEpoch: shrunk.leaderEpoch, partitionEpoch: shrunk.partitionEpoch, newIsr: [...shrunk.isr, dropped], leaderRecovered: false,
    }, CALL_MS);
    expect(expanded.errorCode).toBe(ErrorCode.NONE);
    expect([...expanded.isr].sort()).toEqual([1, 2, 3]);
    expect(member.machine.image.partition(p0.topicId, 0)?.partitionEpoch).toBe(expanded.partitionEpoch);

    const blocks = [];
    for (const [i, broker] of brokers.entries()) {
      const block = await unaryCall(admin, 'allocateProducerIds', { brokerId: i + 1, brokerEpoch: broker.state.brokerEpoch }, CALL_MS);
      expect(block.errorCode).toBe(ErrorCode.NONE);
      expect(block.count).toBeGreaterThan(0);
      blocks.push(block);
    }
    blocks.sort((a, b) => a.firstProducerId - b.firstProducerId);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]!.firstProducerId).toBeGreaterThanOrEqual(blocks[i - 1]!.firstProducerId + blocks[i - 1]!.count);
    const staleEpoch = await unaryCall(admin, 'allocateProducerIds', { brokerId: 1, brokerEpoch: brokers[0]!.state.brokerEpoch + 100 }, CALL_MS);
    expect(staleEpoch.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);

    // Broker 3 goes silent: after its session timeout it is fenced and leads nothing, with bumped epochs.
    const ledBy3 = partitionsOf(member.machine.image, 'orders').filter((p) => p.leader === 3);
    expect(ledBy3.length).toBeGreaterThan(0);
    await brokers[2]!.stop();
    await waitFor('broker 3 fenced and its leaderships moved', () => {
      const image = member.machine.image;
      return image.broker(3)?.fenced === true && partitionsOf(image, 'orders').every((p) => p.leader !== 3 && !p.isr.includes(3));
    });
    for (const before of ledBy3) {
      const after = member.machine.image.partition(before.topicId, before.partition)!;
      expect([1, 2]).toContain(after.leader);
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    }
    expect(brokers[0]!.state.fenced).toBe(false);

    // A restarted broker 3 (new incarnation) registers with a new epoch and is unfenced once caught up.
    const restarted = cluster.startBroker(3, () => member.machine.appliedOffset);
    expect(await restarted.waitFor((s) => s.registered && !s.fenced, WAIT_MS)).toBe(true);
    expect(restarted.state.brokerEpoch).toBeGreaterThan(brokers[2]!.state.brokerEpoch);

    // Controlled shutdown: broker 2 may exit once it leads nothing and sits in no ISR.
    expect(await brokers[1]!.controlledShutdown(WAIT_MS)).toBe(true);
    const afterShutdown = member.machine.image;
    expect(afterShutdown.broker(2)?.inControlledShutdown).toBe(true);
    expect(afterShutdown.partitionsLedBy(2)).toEqual([]);
  }, 60_000);

  it('serves CreatePartitions, AlterConfigs and DeleteTopics after commit, and validate-only writes nothing', async () => {
    cluster = new Cluster(dir);
    await cluster.start([1]);
    const member = await cluster.activeController();
    const brokers = [1, 2].map((id) => cluster!.startBroker(id, () => member.machine.appliedOffset));
    for (const broker of brokers) expect(await broker.waitFor((s) => !s.fenced, WAIT_MS)).toBe(true);
    const admin = cluster.admin(1);
    const create = (name: string, validateOnly: boolean) => unaryCall(admin, 'createTopics', {
      topics: [{ name, numPartitions: -1, replicationFactor: 2, configs: [{ name: 'retention.ms', value: '60000' }] }], validateOnly, timeoutMs: 2_000,
    }, CALL_MS);

    expect((await create('dry', true)).topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(member.machine.image.topic('dry')).toBeUndefined();
    expect((await create('events', false)).topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(partitionsOf(member.machine.image, 'events')).toHaveLength(1);
    expect(member.machine.image.config('topic', 'events', 'retention.ms')).toBe('60000');

    const grown = await unaryCall(admin, 'createPartitions', { topics: [{ name: 'events', count: 3 }, { name: 'events-missing', count: 2 }], validateOnly: false, timeoutMs: 0 }, CALL_MS);
    expect(grown.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(partitionsOf(member.machine.image, 'events')).toHaveLength(3);
    const shrink = await unaryCall(admin, 'createPartitions', { topics: [{ name: 'events', count: 2 }], validateOnly: false, timeoutMs: 0 }, CALL_MS);
    expect(shrink.topics[0]?.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);

    const altered = await unaryCall(admin, 'alterConfigs', {
      resourceType: 'topic', resourceName: 'events', set: [{ name: 'cleanup.policy', value: 'delete' }], delete: ['retention.ms'], validateOnly: false,
    }, CALL_MS);
    expect(altered.errorCode).toBe(ErrorCode.NONE);
    expect(member.machine.image.config('topic', 'events', 'retention.ms')).toBeUndefined();
    expect(member.machine.image.config('topic', 'events', 'cleanup.policy')).toBe('delete');
    const badType = await unaryCall(admin, 'alterConfigs', { resourceType: 'queue', resourceName: 'x', set: [], delete: [], validateOnly: false }, CALL_MS);
    expect(badType.errorCode).toBe(ErrorCode.INVALID_REQUEST);

    const deleted = await unaryCall(admin, 'deleteTopics', { names: ['events', 'never-was'], timeoutMs: 0 }, CALL_MS);
    expect(deleted.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(member.machine.image.topic('events')).toBeUndefined();

    const wrongCluster = await unaryCall(admin, 'registerBroker', { clusterId: 'other', brokerId: 9, incarnationId: 'x', endpoints: [], rack: '' }, CALL_MS);
    expect(wrongCluster.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    const unknown = await unaryCall(admin, 'brokerHeartbeat', { brokerId: 9, brokerEpoch: 1, metadataOffset: 0, wantFence: false, wantShutdown: false }, CALL_MS);
    expect(unknown.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
  }, 60_000);

  it('answers a request it cannot commit with REQUEST_TIMED_OUT or NOT_CONTROLLER within its timeout when the quorum is lost', async () => {
    cluster = new Cluster(dir);
    await cluster.start([1, 2, 3]);
    const leader = await cluster.activeController();
    for (const m of cluster.members.filter((x) => x.id !== leader.id)) await cluster.kill(m.id);
    // A cluster config change needs no live brokers, so only the missing quorum can stop it.
    const answer = await unaryCall(cluster.admin(leader.id), 'alterConfigs', {
      resourceType: 'cluster', resourceName: '', set: [{ name: 'auto.leader.rebalance.enable', value: 'false' }], delete: [], validateOnly: false,
    }, CALL_MS);
    // Which one depends on whether check-quorum deposes the leader before the 3 s request timeout.
    expect([ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_CONTROLLER]).toContain(answer.errorCode);
    expect(leader.machine.image.config('cluster', '', 'auto.leader.rebalance.enable')).toBeUndefined();
  }, 60_000);

  it('moves control to a new leader when the active controller dies; brokers re-home and committed topics survive', async () => {
    cluster = new Cluster(dir);
    await cluster.start([1, 2, 3]);
    const first = await cluster.activeController();
    for (const id of [1, 2, 3]) cluster.startBroker(id, () => cluster!.member(id).machine.appliedOffset);
    for (const broker of cluster.brokers.values()) expect(await broker.waitFor((s) => s.registered && !s.fenced, WAIT_MS)).toBe(true);

    const follower = cluster.members.find((m) => m.id !== first.id)!;
    const refused = await unaryCall(cluster.admin(follower.id), 'createTopics', {
      topics: [{ name: 'refused', numPartitions: 1, replicationFactor: 1, configs: [] }], validateOnly: false, timeoutMs: 0,
    }, CALL_MS);
    expect(refused.topics[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(refused.controller).toEqual({ leaderId: first.id, leaderEndpoint: cluster.voters.get(first.id) });

    const admin = cluster.admin(first.id);
    for (const name of ['alpha', 'beta']) {
      const created = await unaryCall(admin, 'createTopics', {
        topics: [{ name, numPartitions: 3, replicationFactor: 3, configs: [] }], validateOnly: false, timeoutMs: 0,
      }, CALL_MS);
      expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    }
    const committed = first.machine.image;

    await cluster.brokers.get(first.id)!.stop();
    await cluster.kill(first.id);
    const second = await cluster.activeController(first.id);
    expect(second.id).not.toBe(first.id);
    for (const name of ['alpha', 'beta']) expect(second.machine.image.topic(name)).toEqual(committed.topic(name));

    const survivors = [...cluster.brokers.entries()].filter(([id]) => id !== first.id).map(([, b]) => b);
    for (const broker of survivors) {
      expect(await broker.waitFor((s) => s.controllerId === second.id && s.registered && !s.fenced, WAIT_MS)).toBe(true);
    }
    // The dead combined node's broker is fenced by the new controller once its fresh session runs out.
    await waitFor('the dead broker fenced by the new controller', () => {
      const image = second.machine.image;
      return image.broker(first.id)?.fenced === true && partitionsOf(image, 'alpha').every((p) => p.leader !== first.id);
    });
    const created = await unaryCall(cluster.admin(second.id), 'createTopics', {
      topics: [{ name: 'gamma', numPartitions: 2, replicationFactor: 2, configs: [] }], validateOnly: false, timeoutMs: 0,
    }, CALL_MS);
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(partitionsOf(second.machine.image, 'gamma').every((p) => p.replicas.every((id) => id !== first.id))).toBe(true);
  }, 60_000);
});
