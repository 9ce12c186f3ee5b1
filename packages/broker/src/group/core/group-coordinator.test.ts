import { ErrorCode } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import type { HeartbeatResponse } from './api.js';
import type { TopicPartitions } from './assignment.js';
import { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator, type GroupCoordinatorConfig } from './group-coordinator.js';
import { compactGroupRecords, encodeGroupRecord, replay } from './records.js';

const SESSION_MS = 10_000;

function config(overrides: Partial<GroupCoordinatorConfig> = {}): GroupCoordinatorConfig {
  let next = 0;
  return { ...GROUP_COORDINATOR_DEFAULTS, generateMemberId: () => `member-${++next}`, ...overrides };
}

function coordinator(topics: Record<string, number> = { orders: 6 }, overrides: Partial<GroupCoordinatorConfig> = {}): GroupCoordinator {
  return new GroupCoordinator({ config: config(overrides), partitionCounts: new Map(Object.entries(topics)), nowMs: 0 });
}

interface Beat {
  memberId: string;
  memberEpoch: number;
  topics?: string[];
  owned?: TopicPartitions[];
  nowMs?: number;
  groupId?: string;
}

function beat(c: GroupCoordinator, b: Beat): HeartbeatResponse {
  return c.heartbeat(
    {
      groupId: b.groupId ?? 'g',
      memberId: b.memberId,
      memberEpoch: b.memberEpoch,
      subscribedTopics: b.topics ?? ['orders'],
      ownedPartitions: b.owned ?? [],
      sessionTimeoutMs: SESSION_MS,
      rebalanceTimeoutMs: 2 * SESSION_MS,
    },
    b.nowMs ?? 0,
  );
}

function partitionsOf(r: HeartbeatResponse): number[] {
  return (r.assignment ?? []).flatMap((tp) => tp.partitions);
}

function owned(partitions: number[], topic = 'orders'): TopicPartitions[] {
  return partitions.length === 0 ? [] : [{ topic, partitions }];
}

describe('group coordinator: membership', () => {
  it('a first member joins with epoch 0 and gets every partition at epoch 1', () => {
    const c = coordinator();
    const r = beat(c, { memberId: '', memberEpoch: 0 });
    expect(r).toMatchObject({ errorCode: 0, memberId: 'member-1', memberEpoch: 1, heartbeatIntervalMs: GROUP_COORDINATOR_DEFAULTS.heartbeatIntervalMs });
    expect(partitionsOf(r)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(c.describeGroup('g').group).toMatchObject({ state: 'stable', groupEpoch: 1, assignmentEpoch: 1 });
  });

  it('a client-chosen member id is kept', () => {
    const c = coordinator();
    expect(beat(c, { memberId: 'mine', memberEpoch: 0 }).memberId).toBe('mine');
  });

  it('a joining member gets revoked partitions only after their owner heartbeats without them', () => {
    const c = coordinator();
    const a1 = beat(c, { memberId: 'a', memberEpoch: 0 });
    expect(partitionsOf(a1)).toEqual([0, 1, 2, 3, 4, 5]);
    const b1 = beat(c, { memberId: 'b', memberEpoch: 0 });
    // Everything is still a's: b is at the new epoch but waits.
    expect(b1.memberEpoch).toBe(2);
    expect(partitionsOf(b1)).toEqual([]);
    expect(c.describeGroup('g').group?.members.find((m) => m.memberId === 'b')?.state).toBe('unreleased_partitions');
    // a is told to give up half, and stays at its epoch until it has.
    const a2 = beat(c, { memberId: 'a', memberEpoch: 1, owned: owned([0, 1, 2, 3, 4, 5]) });
    expect(a2.memberEpoch).toBe(1);
    expect(partitionsOf(a2).length).toBe(3);
    // b heartbeats again before a released anything: still nothing.
    expect(partitionsOf(beat(c, { memberId: 'b', memberEpoch: 2 }))).toEqual([]);
    // a heartbeats still listing a revoked partition: nothing changes.
    expect(beat(c, { memberId: 'a', memberEpoch: 1, owned: owned([0, 1, 2, 3, 4, 5]) }).memberEpoch).toBe(1);
    expect(partitionsOf(beat(c, { memberId: 'b', memberEpoch: 2 }))).toEqual([]);
    // a lets go; it moves to epoch 2, and b gets what a released.
    const a3 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a2.assignment ?? [] });
    expect(a3.memberEpoch).toBe(2);
    const b2 = beat(c, { memberId: 'b', memberEpoch: 2 });
    expect(partitionsOf(b2).length).toBe(3);
    expect([...partitionsOf(a3), ...partitionsOf(b2)].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(c.describeGroup('g').group?.state).toBe('stable');
  });

  it('splits six partitions 2/2/2 among three members', () => {
    const c = coordinator();
    const ids = ['a', 'b', 'c'];
    const state = new Map(ids.map((id) => [id, { epoch: 0, owned: [] as TopicPartitions[] }]));
    for (let round = 0; round < 5; round++) {
      for (const id of ids) {
        const s = state.get(id) as { epoch: number; owned: TopicPartitions[] };
        const r = beat(c, { memberId: id, memberEpoch: s.epoch, owned: s.owned });
        expect(r.errorCode).toBe(0);
        s.epoch = r.memberEpoch;
        s.owned = r.assignment ?? [];
      }
    }
    expect(ids.map((id) => (state.get(id)?.owned ?? []).flatMap((tp) => tp.partitions).length)).toEqual([2, 2, 2]);
  });

  it('a member leaving with epoch -1 frees its partitions for the others', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0 });
    const a2 = beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, owned: a.assignment ?? [] });
    const a3 = beat(c, { memberId: 'a', memberEpoch: a2.memberEpoch, owned: a2.assignment ?? [] });
    expect(beat(c, { memberId: 'a', memberEpoch: -1 })).toMatchObject({ errorCode: 0, memberEpoch: -1, assignment: [] });
    const b = beat(c, { memberId: 'b', memberEpoch: a3.memberEpoch });
    expect(b.errorCode).toBe(0);
    expect(partitionsOf(beat(c, { memberId: 'b', memberEpoch: b.memberEpoch, owned: b.assignment ?? [] }))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('an expired session removes the member and frees its partitions without its consent', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0, nowMs: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0, nowMs: 1_000 });
    expect(c.tick(SESSION_MS - 1)).toEqual([]);
    expect(c.nextDeadlineMs()).toBe(SESSION_MS);
    expect(c.tick(SESSION_MS)).toEqual([{ groupId: 'g', memberId: 'a', reason: 'session_timeout' }]);
    expect(partitionsOf(beat(c, { memberId: 'b', memberEpoch: 2, nowMs: SESSION_MS }))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, nowMs: SESSION_MS }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a member that does not release revoked partitions within the rebalance timeout is removed', () => {
    const c = coordinator();
    beat(c, { memberId: 'a', memberEpoch: 0, nowMs: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0, nowMs: 0 });
    // a keeps heartbeating (its session stays alive) but never lets go.
    for (let t = 1_000; t < 2 * SESSION_MS; t += 1_000) {
      expect(beat(c, { memberId: 'a', memberEpoch: 1, owned: owned([0, 1, 2, 3, 4, 5]), nowMs: t }).errorCode).toBe(0);
      beat(c, { memberId: 'b', memberEpoch: 2, nowMs: t });
      expect(c.tick(t)).toEqual([]);
    }
    expect(c.tick(2 * SESSION_MS + 1_000)).toEqual([{ groupId: 'g', memberId: 'a', reason: 'rebalance_timeout' }]);
  });

  it('a revocation that follows another at once gets a fresh rebalance timeout', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0, nowMs: 0 });
    const epochs = new Map([['b', beat(c, { memberId: 'b', memberEpoch: 0, nowMs: 0 }).memberEpoch]]);
    const first = beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, owned: a.assignment ?? [], nowMs: 0 });
    expect(partitionsOf(first).length).toBe(3);
    epochs.set('c', beat(c, { memberId: 'c', memberEpoch: 0, nowMs: 1_000 }).memberEpoch);
    const keepAlive = (t: number, aOwned: TopicPartitions[]) => {
      for (const id of ['b', 'c']) {
        const r = beat(c, { memberId: id, memberEpoch: epochs.get(id) ?? 0, nowMs: t });
        expect(r.errorCode).toBe(0);
        epochs.set(id, r.memberEpoch);
      }
      const r = beat(c, { memberId: 'a', memberEpoch: 1, owned: aOwned, nowMs: t });
      expect(r.errorCode).toBe(0);
      return r;
    };
    keepAlive(5_000, a.assignment ?? []);
    keepAlive(10_000, a.assignment ?? []);
    // a releases the first batch 15 s in; its target shrank meanwhile, so a second revocation starts.
    const second = keepAlive(15_000, first.assignment ?? []);
    expect(partitionsOf(second).length).toBe(2);
    expect(c.describeGroup('g').group?.members.find((m) => m.memberId === 'a')?.state).toBe('unrevoked_partitions');
    for (const t of [20_000, 25_000, 30_000]) {
      keepAlive(t, first.assignment ?? []);
      expect(c.tick(t)).toEqual([]);
    }
    expect(c.tick(35_000)).toEqual([{ groupId: 'g', memberId: 'a', reason: 'rebalance_timeout' }]);
  });

  it('members beyond the partition count stay idle and take over when another leaves', () => {
    const c = coordinator({ orders: 1 });
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    const b = beat(c, { memberId: 'b', memberEpoch: 0 });
    expect(partitionsOf(a)).toEqual([0]);
    expect(partitionsOf(b)).toEqual([]);
    expect(c.describeGroup('g').group?.members.find((m) => m.memberId === 'b')?.state).toBe('stable');
    beat(c, { memberId: 'a', memberEpoch: -1 });
    expect(partitionsOf(beat(c, { memberId: 'b', memberEpoch: b.memberEpoch }))).toEqual([0]);
  });

  it('a rejoin with epoch 0 of a known member resets it (one new group epoch)', () => {
    const c = coordinator();
    beat(c, { memberId: 'a', memberEpoch: 0 });
    const again = beat(c, { memberId: 'a', memberEpoch: 0 });
    expect(again).toMatchObject({ errorCode: 0, memberEpoch: 2 });
    expect(partitionsOf(again)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('answers FENCED_MEMBER_EPOCH to a member ahead of the coordinator or too far behind', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    expect(beat(c, { memberId: 'a', memberEpoch: a.memberEpoch + 1, owned: a.assignment ?? [] }).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    beat(c, { memberId: 'b', memberEpoch: 0 });
    beat(c, { memberId: 'c', memberEpoch: 0 });
    const a2 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a.assignment ?? [] });
    const a3 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a2.assignment ?? [] });
    expect(a3.memberEpoch).toBe(3);
    // Epoch 2 is neither a's epoch (3) nor its previous one (1).
    expect(beat(c, { memberId: 'a', memberEpoch: 2, owned: a3.assignment ?? [] }).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
  });

  it('a member whose answer was lost resumes with its previous epoch if it claims nothing new', () => {
    const c = coordinator();
    const a1 = beat(c, { memberId: 'a', memberEpoch: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0 });
    const a2 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a1.assignment ?? [] });
    const a3 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a2.assignment ?? [] });
    expect(a3.memberEpoch).toBe(2);
    // The answer with epoch 2 was lost: the member still says epoch 1 and owns a2's partitions.
    const again = beat(c, { memberId: 'a', memberEpoch: 1, owned: a2.assignment ?? [] });
    expect(again).toMatchObject({ errorCode: 0, memberEpoch: 2 });
    // Claiming a partition it was not given is a zombie's heartbeat.
    expect(beat(c, { memberId: 'a', memberEpoch: 1, owned: a1.assignment ?? [] }).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
  });

  it('answers UNKNOWN_MEMBER_ID, INVALID_SESSION_TIMEOUT, INVALID_GROUP_ID and GROUP_MAX_SIZE_REACHED', () => {
    const c = coordinator({ orders: 6 }, { groupMaxSize: 2 });
    expect(beat(c, { memberId: 'x', memberEpoch: 3 }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(beat(c, { memberId: 'x', memberEpoch: -1 }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(beat(c, { memberId: 'x', memberEpoch: -2 }).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(beat(c, { memberId: 'x', memberEpoch: 0, groupId: '' }).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    const tooShort = c.heartbeat({ groupId: 'g', memberId: 'x', memberEpoch: 0, subscribedTopics: [], ownedPartitions: [], sessionTimeoutMs: 1 }, 0);
    expect(tooShort.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    beat(c, { memberId: 'a', memberEpoch: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0 });
    expect(beat(c, { memberId: 'c', memberEpoch: 0 }).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect(c.drainRecords().every((r) => r.groupId === 'g')).toBe(true);
  });

  it('a subscription change moves partitions of the dropped topic away', () => {
    const c = coordinator({ orders: 2, audit: 2 });
    const a = beat(c, { memberId: 'a', memberEpoch: 0, topics: ['orders', 'audit'] });
    expect(a.assignment).toEqual([{ topic: 'audit', partitions: [0, 1] }, { topic: 'orders', partitions: [0, 1] }]);
    const a2 = beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, topics: ['orders'], owned: a.assignment ?? [] });
    expect(a2.assignment).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    expect(c.describeGroup('g').group?.members[0]?.state).toBe('unrevoked_partitions');
  });
});

describe('group coordinator: topic metadata', () => {
  it('added partitions are assigned and a deleted topic is revoked, with its offsets deleted', () => {
    const c = coordinator({ orders: 2, audit: 1 });
    const a = beat(c, { memberId: 'a', memberEpoch: 0, topics: ['orders', 'audit'] });
    expect(c.commitOffsets({ groupId: 'g', memberId: 'a', memberEpoch: a.memberEpoch, offsets: [{ topic: 'audit', partition: 0, offset: 7 }] }, 0).errorCode).toBe(0);
    c.updateTopics(new Map([['orders', 4]]), 1);
    const group = c.describeGroup('g').group;
    expect(group?.groupEpoch).toBe(2);
    expect(group?.offsets).toEqual([]);
    expect(group?.members[0]?.targetAssignment).toEqual([{ topic: 'orders', partitions: [0, 1, 2, 3] }]);
    const a2 = beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, topics: ['orders', 'audit'], owned: a.assignment ?? [] });
    expect(a2.assignment).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    const a3 = beat(c, { memberId: 'a', memberEpoch: a2.memberEpoch, topics: ['orders', 'audit'], owned: a2.assignment ?? [] });
    expect(a3).toMatchObject({ memberEpoch: 2, assignment: [{ topic: 'orders', partitions: [0, 1, 2, 3] }] });
  });

  it('an unchanged image does not bump the epoch', () => {
    const c = coordinator();
    beat(c, { memberId: 'a', memberEpoch: 0 });
    c.updateTopics(new Map([['orders', 6], ['other', 3]]), 1);
    expect(c.describeGroup('g').group?.groupEpoch).toBe(1);
  });
});

describe('group coordinator: offsets', () => {
  it('accepts commits at the member epoch and answers STALE/FENCED/UNKNOWN otherwise', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    const commit = (memberId: string, memberEpoch: number) =>
      c.commitOffsets({ groupId: 'g', memberId, memberEpoch, offsets: [{ topic: 'orders', partition: 0, offset: 5, metadata: 'm' }] }, 42).errorCode;
    expect(commit('a', a.memberEpoch)).toBe(0);
    expect(commit('a', a.memberEpoch + 1)).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    beat(c, { memberId: 'b', memberEpoch: 0 });
    const a2 = beat(c, { memberId: 'a', memberEpoch: 1, owned: a.assignment ?? [] });
    beat(c, { memberId: 'a', memberEpoch: 1, owned: a2.assignment ?? [] });
    expect(commit('a', 1)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(commit('zz', 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(commit('', -1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(c.fetchOffsets({ groupId: 'g', partitions: [{ topic: 'orders', partitions: [0, 1] }] }).offsets).toEqual([
      { topic: 'orders', partition: 0, offset: 5, leaderEpoch: -1, metadata: 'm', commitTimestampMs: 42 },
      { topic: 'orders', partition: 1, offset: -1, leaderEpoch: -1, metadata: '', commitTimestampMs: -1 },
    ]);
    expect(c.fetchOffsets({ groupId: 'g', memberId: 'a', memberEpoch: 1 }).errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
  });

  it('a revoking member can still commit what it processed before letting go', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0 });
    const a2 = beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, owned: a.assignment ?? [] });
    const revoked = [0, 1, 2, 3, 4, 5].filter((p) => !partitionsOf(a2).includes(p));
    const offsets = revoked.map((partition) => ({ topic: 'orders', partition, offset: 10 }));
    expect(c.commitOffsets({ groupId: 'g', memberId: 'a', memberEpoch: a2.memberEpoch, offsets }, 0).errorCode).toBe(0);
  });

  it('simple commits create a member-less group; fetch of an unknown group finds nothing', () => {
    const c = coordinator();
    expect(c.commitOffsets({ groupId: 'admin', memberId: '', memberEpoch: -1, offsets: [{ topic: 'orders', partition: 3, offset: 9 }] }, 5).errorCode).toBe(0);
    expect(c.listGroups()).toEqual([{ groupId: 'admin', state: 'empty', memberCount: 0 }]);
    expect(c.fetchOffsets({ groupId: 'admin' }).offsets.map((o) => [o.partition, o.offset])).toEqual([[3, 9]]);
    expect(c.fetchOffsets({ groupId: 'nobody' })).toEqual({ errorCode: 0, errorMessage: null, offsets: [] });
  });

  it('rejects a whole commit with an unknown partition, a negative offset or oversized metadata', () => {
    const c = coordinator({ orders: 2 }, { offsetMetadataBytesMax: 4 });
    const commit = (offsets: { topic: string; partition: number; offset: number; metadata?: string }[]) =>
      c.commitOffsets({ groupId: 'g', memberId: '', memberEpoch: -1, offsets }, 0).errorCode;
    expect(commit([{ topic: 'orders', partition: 0, offset: 1 }, { topic: 'orders', partition: 2, offset: 1 }])).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(commit([{ topic: 'nope', partition: 0, offset: 1 }])).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(commit([{ topic: 'orders', partition: 0, offset: -5 }])).toBe(ErrorCode.INVALID_REQUEST);
    expect(commit([{ topic: 'orders', partition: 0, offset: 1, metadata: 'too long' }])).toBe(ErrorCode.OFFSET_METADATA_TOO_LARGE);
    expect(c.listGroups()).toEqual([]);
    expect(c.drainRecords()).toEqual([]);
  });
});

describe('group coordinator: admin', () => {
  it('describes members, assignments and committed offsets', () => {
    const c = coordinator({ orders: 2 });
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    c.commitOffsets({ groupId: 'g', memberId: 'a', memberEpoch: a.memberEpoch, offsets: [{ topic: 'orders', partition: 1, offset: 3, leaderEpoch: 4 }] }, 77);
    expect(c.describeGroup('g')).toEqual({
      errorCode: 0,
      errorMessage: null,
      group: {
        groupId: 'g',
        state: 'stable',
        groupEpoch: 1,
        assignmentEpoch: 1,
        members: [
          {
            memberId: 'a',
            memberEpoch: 1,
            state: 'stable',
            subscribedTopics: ['orders'],
            assignment: [{ topic: 'orders', partitions: [0, 1] }],
            pendingRevocation: [],
            targetAssignment: [{ topic: 'orders', partitions: [0, 1] }],
            sessionTimeoutMs: SESSION_MS,
            rebalanceTimeoutMs: 2 * SESSION_MS,
          },
        ],
        offsets: [{ topic: 'orders', partition: 1, offset: 3, leaderEpoch: 4, metadata: '', commitTimestampMs: 77 }],
      },
    });
    expect(c.describeGroup('missing').errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('deletes and resets offsets only for a group without active members', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0 });
    expect(c.deleteGroup('g').errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
    expect(c.resetOffsets({ groupId: 'g', offsets: [{ topic: 'orders', partition: 0, offset: 0 }] }, 0).errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
    c.commitOffsets({ groupId: 'g', memberId: 'a', memberEpoch: a.memberEpoch, offsets: [{ topic: 'orders', partition: 0, offset: 50 }] }, 0);
    beat(c, { memberId: 'a', memberEpoch: -1 });
    expect(c.resetOffsets({ groupId: 'g', offsets: [{ topic: 'orders', partition: 0, offset: 10 }] }, 0).errorCode).toBe(0);
    expect(c.fetchOffsets({ groupId: 'g' }).offsets[0]?.offset).toBe(10);
    expect(c.deleteGroup('g').errorCode).toBe(0);
    expect(c.listGroups()).toEqual([]);
    expect(c.deleteGroup('g').errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    // Deleting leaves nothing behind in the log either.
    const log = compactGroupRecords(c.drainRecords().map(encodeGroupRecord), true);
    expect(log).toEqual([]);
  });

  it('a coordinator rebuilt from the log has the same groups and gives members fresh sessions', () => {
    const c = coordinator();
    const a = beat(c, { memberId: 'a', memberEpoch: 0, nowMs: 0 });
    beat(c, { memberId: 'b', memberEpoch: 0, nowMs: 0 });
    beat(c, { memberId: 'a', memberEpoch: a.memberEpoch, owned: a.assignment ?? [], nowMs: 0 });
    const log = c.drainRecords().map(encodeGroupRecord);
    const loaded = replay(log, { config: config(), partitionCounts: new Map([['orders', 6]]), nowMs: 50_000 });
    expect(loaded.snapshot()).toEqual(c.snapshot());
    expect(loaded.nextDeadlineMs()).toBe(50_000 + SESSION_MS);
    expect(loaded.describeGroup('g').group?.members.map((m) => m.state)).toEqual(['unrevoked_partitions', 'unreleased_partitions']);
  });
});
