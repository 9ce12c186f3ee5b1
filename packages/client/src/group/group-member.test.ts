import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, RunnelError } from '@runnel/protocol';
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, OffsetCommitRequest } from '@runnel/protocol';
import { SILENT_LOGGER, SYSTEM_CLOCK } from '../logger.js';
import { GroupMember } from './group-member.js';
import type { GroupMemberHooks, GroupTransport } from './group-member.js';
import type { TopicPartition } from './membership.js';

const PARTITIONS = 4;
const HEARTBEAT_MS = 20;
const SESSION_MS = 400;

/**
 * A small coordinator for one topic: partitions spread round-robin over the members in join order,
 * and a partition goes to its new owner only once no other member reports owning it.
 */
class FakeCoordinator implements GroupTransport {
  private readonly members = new Map<string, { epoch: number; owned: Set<number>; granted: Set<number>; lastSeenMs: number }>();
  private nextId = 1;
  reachable = true;
  /** While set, heartbeats never answer (a coordinator that accepts the call and dies). */
  hang = false;
  readonly commits: OffsetCommitRequest[] = [];
  /** Every (member -> owned) report in order, to check no partition had two owners. */
  readonly ownershipLog: Array<Map<string, Set<number>>> = [];

  async findCoordinator(): Promise<string> {
    if (!this.reachable) throw new RunnelError('COORDINATOR_NOT_AVAILABLE', 'down');
    return 'fake:1';
  }

  async heartbeat(_address: string, request: ConsumerGroupHeartbeatRequest): Promise<ConsumerGroupHeartbeatResponse> {
    if (!this.reachable) throw new RunnelError('NETWORK_EXCEPTION', 'unreachable');
    if (this.hang) return new Promise<ConsumerGroupHeartbeatResponse>(() => undefined);
    const now = Date.now();
    for (const [id, m] of this.members) if (now - m.lastSeenMs > SESSION_MS) this.members.delete(id);
    let id = request.memberId;
    if (request.memberEpoch === -1) {
      this.members.delete(id);
      return this.answer(id, -1, undefined);
    }
    if (request.memberEpoch === 0) {
      if (id === '') id = `m${this.nextId++}`;
      this.members.set(id, { epoch: 1, owned: new Set(), granted: new Set(), lastSeenMs: now });
    }
    const member = this.members.get(id);
    if (member === undefined) return { ...this.answer(id, 0, undefined), errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
    member.lastSeenMs = now;
    member.owned = new Set(request.ownedPartitions.flatMap((tp) => tp.partitions));
    this.ownershipLog.push(new Map([...this.members].map(([k, v]) => [k, new Set(v.owned)])));
    const ids = [...this.members.keys()];
    const target = new Set<number>();
    for (let p = 0; p < PARTITIONS; p++) if (ids[p % ids.length] === id) target.add(p);
    // Hand over only partitions nobody else owns or was given (the answer may still be on its way).
    const grant = [...target].filter((p) => [...this.members].every(([other, m]) => other === id || (!m.owned.has(p) && !m.granted.has(p))));
    member.granted = new Set(grant);
    return this.answer(id, member.epoch, grant);
  }

  private answer(memberId: string, memberEpoch: number, partitions: number[] | undefined): ConsumerGroupHeartbeatResponse {
    return {
      errorCode: 0,
      errorMessage: '',
      memberId,
      memberEpoch,
      heartbeatIntervalMs: HEARTBEAT_MS,
      hasAssignment: partitions !== undefined,
      assignment: partitions === undefined ? [] : [{ topic: 't', partitions: partitions.sort() }],
    };
  }

  async offsetCommit(_address: string, request: OffsetCommitRequest) {
    this.commits.push(request);
    const known = this.members.get(request.memberId);
    const errorCode = known !== undefined && known.epoch === request.memberEpoch ? 0 : ErrorCode.FENCED_MEMBER_EPOCH;
    return { errorCode: 0, errorMessage: '', topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })) })) };
  }

  async offsetFetch() {
    return { errorCode: 0, errorMessage: '', topics: [{ name: 't', partitions: [{ partition: 0, committedOffset: 42, committedLeaderEpoch: -1, metadata: '', errorCode: 0 }] }] };
  }
}

/** Which Recorder processes each partition right now, across all members of a test. */
const processing = new Map<number, Recorder>();
const doubleOwnership: string[] = [];

class Recorder implements GroupMemberHooks {
  readonly owned = new Set<number>();
  readonly events: string[] = [];
  failure: RunnelError | undefined;
  constructor(private readonly revokeDelayMs = 0) {}
  assigned(partitions: TopicPartition[]): void {
    for (const { partition } of partitions) {
      const other = processing.get(partition);
      if (other !== undefined && other !== this) doubleOwnership.push(`partition ${partition} assigned while another member still processes it`);
      processing.set(partition, this);
      this.owned.add(partition);
    }
    this.events.push(`assigned ${partitions.map((p) => p.partition).join(',')}`);
  }
  async revoked(partitions: TopicPartition[]): Promise<void> {
    await new Promise((r) => setTimeout(r, this.revokeDelayMs));
    for (const { partition } of partitions) this.release(partition);
    this.events.push(`revoked ${partitions.map((p) => p.partition).join(',')}`);
  }
  private release(partition: number): void {
    this.owned.delete(partition);
    if (processing.get(partition) === this) processing.delete(partition);
  }
  lost(partitions: TopicPartition[]): void {
    for (const { partition } of partitions) this.release(partition);
    this.events.push(`lost ${partitions.map((p) => p.partition).join(',')}`);
  }
  failed(error: RunnelError): void {
    this.failure = error;
  }
}

const started: GroupMember[] = [];
function startMember(coordinator: FakeCoordinator, hooks: Recorder): GroupMember {
  const member = new GroupMember(
    { groupId: 'g', clientId: 'c', clientHost: 'h', sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 5_000, requestTimeoutMs: 1_000, clock: SYSTEM_CLOCK, logger: SILENT_LOGGER, retry: { initialRetryTimeMs: 10, maxRetryTimeMs: 50 } },
    coordinator,
    hooks,
  );
  member.start({ topics: ['t'] });
  started.push(member);
  return member;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((m) => m.stop()));
  processing.clear();
  // Checked after every test: no partition was ever handed to a member while another processed it.
  expect(doubleOwnership.splice(0)).toEqual([]);
});

describe('GroupMember against a fake coordinator', () => {
  it('joins, gets every partition, and on a second member hands over half only after revoking them', async () => {
    const coordinator = new FakeCoordinator();
    const a = new Recorder(30);
    startMember(coordinator, a);
    await until(() => a.owned.size === PARTITIONS, 'the first member to own everything');
    const b = new Recorder();
    startMember(coordinator, b);
    await until(() => a.owned.size === 2 && b.owned.size === 2, 'a 2/2 split');
    expect(a.events).toContain('revoked 1,3');
    for (const snapshot of coordinator.ownershipLog) {
      const seen = new Set<number>();
      for (const owned of snapshot.values()) {
        for (const p of owned) {
          expect(seen.has(p), `partition ${p} reported by two members: ${JSON.stringify([...snapshot].map(([k, v]) => [k, [...v]]))} events ${a.events.join(";")}`).toBe(false);
          seen.add(p);
        }
      }
    }
  });

  it('drops its partitions when the coordinator stays unreachable for a session, then rejoins', async () => {
    const coordinator = new FakeCoordinator();
    const a = new Recorder();
    startMember(coordinator, a);
    await until(() => a.owned.size === PARTITIONS, 'ownership');
    coordinator.reachable = false;
    await until(() => a.owned.size === 0, 'partitions lost after the session', 3_000);
    expect(a.events.some((e) => e.startsWith('lost'))).toBe(true);
    coordinator.reachable = true;
    await until(() => a.owned.size === PARTITIONS, 'rejoined with everything');
  });

  it('drops its partitions at the session deadline even while a heartbeat call hangs', async () => {
    const coordinator = new FakeCoordinator();
    const a = new Recorder();
    const member = new GroupMember(
      { groupId: 'g', clientId: 'c', clientHost: 'h', sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 5_000, requestTimeoutMs: 60_000, clock: SYSTEM_CLOCK, logger: SILENT_LOGGER },
      coordinator,
      a,
    );
    member.start({ topics: ['t'] });
    await until(() => a.owned.size === PARTITIONS, 'ownership');
    coordinator.hang = true;
    const hungAt = Date.now();
    await until(() => a.owned.size === 0, 'partitions dropped', SESSION_MS * 3);
    expect(Date.now() - hungAt).toBeLessThan(SESSION_MS + 200);
    // Not stopped through stop(): its loop is stuck in the hung call, which is what this test is about.
    coordinator.hang = false;
  });

  it('stop() revokes (commits) what it owns and leaves with epoch -1, so the others take over at once', async () => {
    const coordinator = new FakeCoordinator();
    const a = new Recorder();
    const b = new Recorder();
    const memberA = startMember(coordinator, a);
    startMember(coordinator, b);
    await until(() => a.owned.size === 2 && b.owned.size === 2, 'a 2/2 split');
    await memberA.stop();
    expect(a.owned.size).toBe(0);
    await until(() => b.owned.size === PARTITIONS, 'the survivor to own everything', SESSION_MS / 2);
  });

  it('commits carry the member id and epoch; a refused commit is a typed error', async () => {
    const coordinator = new FakeCoordinator();
    const a = new Recorder();
    const member = startMember(coordinator, a);
    await until(() => a.owned.size === PARTITIONS, 'ownership');
    await member.commit([{ topic: 't', partition: 0, offset: 10 }]);
    expect(coordinator.commits[0]).toMatchObject({ groupId: 'g', memberId: member.memberId, memberEpoch: 1 });
    const stale = new GroupMember(
      { groupId: 'g', clientId: 'c', clientHost: 'h', sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 5_000, requestTimeoutMs: 1_000, clock: SYSTEM_CLOCK, logger: SILENT_LOGGER },
      coordinator,
      new Recorder(),
    );
    await expect(stale.commit([{ topic: 't', partition: 0, offset: 11 }])).rejects.toMatchObject({ codeName: 'FENCED_MEMBER_EPOCH' });
    expect((await member.committed([{ topic: 't', partition: 0 }])).get('t\u00000')).toBe(42);
  });
});
