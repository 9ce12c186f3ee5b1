// A three-voter metadata quorum in one process, over real gRPC on 127.0.0.1, each node with its own
// LevelDB directory: election, replication to every state machine, leader loss, restart and catch-up
// (through a snapshot), leadership transfer, and the transport's cluster-id check.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { RAFT_SERVICE, RunnelError, createRaftClient, serverOptions, unaryCall } from '@runnel/protocol';
import type { RaftBatch, RaftBatchAck } from '@runnel/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeId } from '../core/types.js';
import { RaftNode } from './raft-node.js';
import type { RaftNodeOptions } from './raft-node.js';
import { RecordingStateMachine, text, waitFor } from './__tests__/support.js';
import { messageToProto } from './wire.js';

const WAIT_MS = 10_000;
const CLUSTER_ID = 'quorum-test-cluster';
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

interface Member {
  readonly id: NodeId;
  readonly metadataDir: string;
  port: number;
  server: grpc.Server | undefined;
  node: RaftNode | undefined;
  machine: RecordingStateMachine;
}

async function bind(server: grpc.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error !== null) reject(error);
      else resolve(boundPort);
    });
  });
}

class TestQuorum {
  readonly members: Member[] = [];
  voters = new Map<NodeId, string>();

  constructor(
    private readonly dir: string,
    private readonly nodeOptions: Partial<RaftNodeOptions>,
  ) {}

  /** Binds every server first (port 0 picks a free port), so the voter map is known before any node opens. */
  async start(ids: NodeId[], observerIds: NodeId[] = []): Promise<void> {
    for (const id of [...ids, ...observerIds]) {
      const member: Member = {
        id, metadataDir: path.join(this.dir, `node-${id}`, '__cluster_metadata'), port: 0, server: undefined, node: undefined,
        machine: new RecordingStateMachine(),
      };
      member.port = await this.serve(member);
      this.members.push(member);
    }
    this.voters = new Map(this.members.filter((m) => ids.includes(m.id)).map((m) => [m.id, `127.0.0.1:${m.port}`]));
    for (const member of this.members) await this.open(member);
  }

  /** The server forwards to whichever node incarnation currently runs, so a restart keeps its port. */
  private async serve(member: Member): Promise<number> {
    const server = new grpc.Server(serverOptions());
    let handlers: { node: RaftNode; deliver: grpc.handleUnaryCall<RaftBatch, RaftBatchAck> } | undefined;
    server.addService(RAFT_SERVICE, {
      Deliver: (call: grpc.ServerUnaryCall<RaftBatch, RaftBatchAck>, callback: grpc.sendUnaryData<RaftBatchAck>) => {
        const node = member.node;
        if (node === undefined) {
          callback({ code: grpc.status.UNAVAILABLE, details: `node ${member.id} is down` });
          return;
        }
        if (handlers?.node !== node) {
          handlers = { node, deliver: node.raftServiceHandlers()['Deliver'] as grpc.handleUnaryCall<RaftBatch, RaftBatchAck> };
        }
        handlers.deliver(call, callback);
      },
    });
    member.server = server;
    const port = await bind(server, member.port);
    member.node = undefined;
    return port;
  }

  async open(member: Member): Promise<void> {
    const node = await RaftNode.open({
      id: member.id, clusterId: CLUSTER_ID, voters: this.voters, metadataDir: member.metadataDir, stateMachine: member.machine, logger,
      advertisedEndpoint: `127.0.0.1:${member.port}`,
      // Elections after 500-1000 ms of silence (the production default) keep leadership stable even when
      // the test machine is busy running other test files in parallel.
      tickMs: 50, electionTicks: 10, rpcTimeoutMs: 500, ...this.nodeOptions,
    });
    member.node = node;
    node.start();
  }

  /** Stops the node and its listener, as a crashed process would vanish from the network. */
  async kill(member: Member): Promise<void> {
    const node = member.node;
    member.node = undefined;
    member.server?.forceShutdown();
    member.server = undefined;
    await node?.stop();
  }

  /** Restarts from the same metadata dir with a fresh (empty) state machine. */
  async restart(member: Member): Promise<void> {
    member.machine = new RecordingStateMachine();
    await this.serve(member);
    await this.open(member);
  }

  running(): Member[] {
    return this.members.filter((m) => m.node !== undefined);
  }

  member(id: NodeId): Member {
    const member = this.members.find((m) => m.id === id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  /** A leader every running member agrees on (and not `excluding`). */
  async agreedLeader(excluding?: NodeId): Promise<Member> {
    const leaderId = await waitFor('a leader all running members agree on', WAIT_MS, () => {
      const views = this.running().map((m) => m.node!.status()).filter((s) => s.voters.includes(s.id));
      const leader = views.find((s) => s.role === 'leader');
      if (leader === undefined || leader.id === excluding) return undefined;
      return views.every((s) => s.leaderId === leader.id && s.term === leader.term) ? leader.id : undefined;
    });
    return this.member(leaderId);
  }

  async everyoneApplied(expected: string[]): Promise<void> {
    await waitFor(`every running member to apply ${expected.length} values`, WAIT_MS, () =>
      this.running().every((m) => m.machine.values.length >= expected.length) ? true : undefined,
    );
    for (const m of this.running()) expect(m.machine.values, `state machine of node ${m.id}`).toEqual(expected);
  }

  /**
   * Proposes through whichever member leads now, as a client would: a refusal that guarantees the
   * entry was not written (NOT_CONTROLLER without outcomeUnknown) is retried on the new leader.
   */
  async propose(values: string[]): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (const value of values) {
      for (;;) {
        const leader = this.running().find((m) => m.node!.status().role === 'leader');
        try {
          if (leader !== undefined) {
            await leader.node!.propose(text(value));
            break;
          }
        } catch (error) {
          const retriable = error instanceof RunnelError && error.codeName === 'NOT_CONTROLLER' && error.details['outcomeUnknown'] !== true;
          if (!retriable) throw error;
        }
        if (Date.now() > deadline) throw new Error(`no leader accepted ${JSON.stringify(value)} within ${WAIT_MS} ms`);
        await sleep(20);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
  }
}

describe('RaftNode quorum over gRPC', () => {
  let dir: string;
  let quorum: TestQuorum | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runnel-quorum-'));
  });

  afterEach(async () => {
    await quorum?.stop();
    quorum = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function startQuorum(options: Partial<RaftNodeOptions> = {}, observerIds: NodeId[] = []): Promise<TestQuorum> {
    quorum = new TestQuorum(dir, options);
    await quorum.start([1, 2, 3], observerIds);
    return quorum;
  }

  it('elects one leader and applies its proposals on every state machine in order', async () => {
    const q = await startQuorum();
    const leader = await q.agreedLeader();
    const values = Array.from({ length: 20 }, (_, i) => `record-${i}`);
    await q.propose(values);
    await q.everyoneApplied(values);

    const readIndex = await leader.node!.readIndex();
    expect(readIndex).toBe(leader.node!.status().commitIndex);

    const view = await waitFor('followers to report no lag', WAIT_MS, () => {
      const v = leader.node!.describe();
      return v.voters.every((row) => row.lag === 0) ? v : undefined;
    });
    expect(view.voters.map((row) => row.id)).toEqual([1, 2, 3]);
    expect(view).toMatchObject({ leaderId: leader.id, answeredBy: leader.id, leaderEndpoint: q.voters.get(leader.id) });
    for (const row of view.voters) {
      expect(row.endpoint).toBe(q.voters.get(row.id));
      expect(row.logEndIndex).toBe(view.commitIndex);
      expect(row.lastContactMs).toBeLessThan(1_000);
    }
  });

  it('a follower refuses proposals and names the leader and its endpoint', async () => {
    const q = await startQuorum();
    const leader = await q.agreedLeader();
    const follower = q.members.find((m) => m.id !== leader.id)!;
    const error = await follower.node!.propose(text('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect(error).toMatchObject({ codeName: 'NOT_CONTROLLER', retriable: true, details: { leaderId: leader.id, leaderEndpoint: q.voters.get(leader.id) } });
    expect(follower.node!.describe()).toMatchObject({ leaderId: leader.id, answeredBy: follower.id, voters: [], observers: [] });
  });

  it('survives losing the leader, and the restarted leader catches up from its LevelDB dir through a snapshot', async () => {
    const q = await startQuorum({ snapshotEveryEntries: 8 });
    const first = await q.agreedLeader();
    const before = Array.from({ length: 10 }, (_, i) => `before-${i}`);
    await q.propose(before);
    await q.everyoneApplied(before);

    const stoppedLastIndex = first.node!.status().lastIndex;
    await q.kill(first);
    const second = await q.agreedLeader(first.id);
    expect(second.id).not.toBe(first.id);
    const during = Array.from({ length: 20 }, (_, i) => `during-${i}`);
    await q.propose(during);
    // The new leader compacted past what the stopped node holds, so catching up needs InstallSnapshot.
    expect(second.node!.status().firstIndex).toBeGreaterThan(stoppedLastIndex + 1);

    await q.restart(first);
    await q.agreedLeader();
    const after = ['after-restart'];
    await q.propose(after);
    await q.everyoneApplied([...before, ...during, ...after]);
    // Once from its own snapshot at start-up, once from the leader's InstallSnapshot.
    expect(first.machine.restores).toBe(2);
  });

  it('transfers leadership to the most up-to-date voter, and to a chosen one', async () => {
    const q = await startQuorum();
    const leader = await q.agreedLeader();
    await q.propose(['a']);
    const changes: Array<[NodeId, number]> = [];
    leader.node!.on('leader-change', (leaderId, term) => changes.push([leaderId, term]));

    const newLeaderId = await leader.node!.transferLeadership();
    expect(newLeaderId).not.toBe(leader.id);
    expect((await q.agreedLeader()).id).toBe(newLeaderId);
    expect(changes.some(([id]) => id === newLeaderId)).toBe(true);

    const current = q.member(newLeaderId);
    const target = q.members.find((m) => m.id !== newLeaderId)!.id;
    await expect(current.node!.transferLeadership(target)).resolves.toBe(target);
    const final = await q.agreedLeader();
    expect(final.id).toBe(target);
    await q.propose(['b']);
    await q.everyoneApplied(['a', 'b']);
  });

  it('a proposal the leader cannot commit (followers gone) rejects after its timeout', async () => {
    // A long election timeout keeps the isolated leader in office (CheckQuorum) for the whole wait.
    const q = await startQuorum({ electionTicks: 50, tickMs: 20 });
    const leader = await q.agreedLeader();
    await q.propose(['committed']);
    for (const m of q.members) if (m.id !== leader.id) await q.kill(m);
    await expect(leader.node!.propose(text('stranded'), 200)).rejects.toMatchObject({ codeName: 'REQUEST_TIMED_OUT' });
    expect(leader.machine.values).toEqual(['committed']);
  });

  it('a batch from another cluster is refused with INCONSISTENT_CLUSTER_ID and not delivered', async () => {
    const q = await startQuorum();
    const leader = await q.agreedLeader();
    const follower = q.members.find((m) => m.id !== leader.id)!;
    const termBefore = follower.node!.status().term;
    const client = createRaftClient(`127.0.0.1:${follower.port}`);
    try {
      const hostile: RaftBatch = {
        clusterId: 'some-other-cluster',
        messages: [messageToProto({ type: 'timeout-now', from: leader.id, to: follower.id, term: termBefore + 5 })],
        senderEndpoint: '',
      };
      const ack = await unaryCall(client, 'deliver', hostile, 2_000);
      expect(ack.errorCode).toBe(104);
      expect(ack.errorMessage).toMatch(/some-other-cluster/);
      expect(follower.node!.status().term).toBe(termBefore);
    } finally {
      client.close();
    }
  });

  it('an observer learns the log over gRPC from its announcement, and never counts toward a quorum', async () => {
    const q = await startQuorum({}, [4]);
    const leader = await q.agreedLeader();
    const values = ['x', 'y', 'z'];
    await q.propose(values);
    const observer = q.member(4);
    await waitFor('the observer to apply the committed log', WAIT_MS, () => (observer.machine.values.length === values.length ? true : undefined));
    expect(observer.machine.values).toEqual(values);
    expect(observer.node!.status()).toMatchObject({ role: 'observer', leaderId: leader.id });
    const view = await waitFor('the leader to list the observer', WAIT_MS, () => {
      const v = leader.node!.describe();
      return v.observers.some((row) => row.id === 4) ? v : undefined;
    });
    expect(view.observers.find((row) => row.id === 4)).toMatchObject({ voter: false, endpoint: `127.0.0.1:${observer.port}` });
    expect(view.voters.map((row) => row.id)).toEqual([1, 2, 3]);

    // With both other voters gone, the observer does not make a quorum: nothing more commits.
    for (const m of q.members) if (m.id !== leader.id && m.id !== 4) await q.kill(m);
    await expect(leader.node!.propose(text('stranded'), 300)).rejects.toMatchObject({ codeName: 'REQUEST_TIMED_OUT' });
    expect(observer.machine.values).toEqual(values);
  });
});
