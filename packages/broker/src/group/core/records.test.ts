import { ErrorCode, RunnelError } from '@runnel/protocol';
import { Prng } from '@runnel/protocol/prng';
import { describe, expect, it } from 'vitest';
import type { TopicPartitions } from './assignment.js';
import { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator, type GroupCoordinatorConfig } from './group-coordinator.js';
import {
  compactGroupRecords,
  decodeGroupRecord,
  encodeGroupRecord,
  javaStringHashCode,
  partitionForGroup,
  replay,
  replayGroupRecords,
  type EncodedGroupRecord,
  type GroupRecord,
} from './records.js';
import { MEMBER_STATES } from './types.js';

const SEEDS = 120;

function name(prng: Prng): string {
  const alphabet = ['a', 'b', 'z', '-', '.', '_', 'é', '😀', '0'];
  return Array.from({ length: prng.intBetween(1, 8) }, () => prng.pick(alphabet)).join('');
}

function partitions(prng: Prng): TopicPartitions[] {
  return Array.from({ length: prng.int(4) }, () => ({ topic: name(prng), partitions: Array.from({ length: prng.int(5) }, () => prng.int(1_000)) }));
}

function randomRecord(prng: Prng): GroupRecord {
  const groupId = name(prng);
  const memberId = name(prng);
  const tombstone = prng.chance(0.2);
  switch (prng.int(7)) {
    case 0:
      return {
        type: 'OffsetCommit',
        groupId,
        topic: name(prng),
        partition: prng.int(100),
        value: tombstone ? null : { offset: prng.int(2 ** 32) * 2 ** 20, leaderEpoch: prng.int(50) - 1, metadata: name(prng), commitTimestampMs: 1_700_000_000_000 + prng.int(2 ** 30) },
      };
    case 1:
      return { type: 'GroupMetadata', groupId, value: tombstone ? null : { groupEpoch: prng.int(2 ** 31) } };
    case 2:
      return { type: 'GroupPartitionMetadata', groupId, value: tombstone ? null : { topics: Array.from({ length: prng.int(4) }, () => ({ topic: name(prng), numPartitions: prng.intBetween(1, 100) })) } };
    case 3:
      return {
        type: 'MemberSubscription',
        groupId,
        memberId,
        value: tombstone ? null : { subscribedTopics: Array.from({ length: prng.int(4) }, () => name(prng)), rebalanceTimeoutMs: prng.intBetween(1, 10 ** 6), sessionTimeoutMs: prng.intBetween(1, 10 ** 6) },
      };
    case 4:
      return { type: 'TargetAssignmentMetadata', groupId, value: tombstone ? null : { assignmentEpoch: prng.int(1000) } };
    case 5:
      return { type: 'TargetAssignmentMember', groupId, memberId, value: tombstone ? null : { partitions: partitions(prng) } };
    default:
      return {
        type: 'CurrentMemberAssignment',
        groupId,
        memberId,
        value: tombstone
          ? null
          : { memberEpoch: prng.int(1000), previousMemberEpoch: prng.int(1000), state: prng.pick(MEMBER_STATES), assigned: partitions(prng), pendingRevocation: partitions(prng) },
      };
  }
}

describe('__consumer_offsets record codec', () => {
  it('round-trips every record type, tombstones included', () => {
    const prng = new Prng(7);
    for (let i = 0; i < 2_000; i++) {
      const record = randomRecord(prng);
      const encoded = encodeGroupRecord(record);
      expect(encoded.value === null).toBe(record.value === null);
      expect(decodeGroupRecord(encoded)).toEqual(record);
    }
  });

  it('lays keys out as type:int16 then length-prefixed strings (golden bytes)', () => {
    const encoded = encodeGroupRecord({ type: 'OffsetCommit', groupId: 'g', topic: 't', partition: 3, value: { offset: 258, leaderEpoch: -1, metadata: '', commitTimestampMs: 1 } });
    expect([...encoded.key]).toEqual([0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 3]);
    expect([...(encoded.value ?? [])]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('rejects truncated, trailing, unknown-type and unknown-version bytes as CORRUPT_MESSAGE', () => {
    const good = encodeGroupRecord({ type: 'GroupMetadata', groupId: 'g', value: { groupEpoch: 4 } });
    const value = good.value as Uint8Array;
    const corrupt: EncodedGroupRecord[] = [
      { key: good.key, value: value.subarray(0, value.length - 1) },
      { key: good.key, value: new Uint8Array([...value, 0]) },
      { key: new Uint8Array([0, 99, 0, 1, 0x67]), value },
      { key: good.key, value: new Uint8Array([0, 1, ...value.subarray(2)]) },
      { key: good.key.subarray(0, 3), value },
      { key: new Uint8Array([0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 3]), value: new Uint8Array([0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
    ];
    for (const record of corrupt) {
      let error: unknown;
      try {
        decodeGroupRecord(record);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RunnelError);
      expect((error as RunnelError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    }
  });

  it('compaction keeps the latest record of each key, in log order', () => {
    const r = (epoch: number | null, groupId = 'g'): EncodedGroupRecord => encodeGroupRecord({ type: 'GroupMetadata', groupId, value: epoch === null ? null : { groupEpoch: epoch } });
    const log = [r(1), r(1, 'h'), r(2), r(null, 'h'), r(3)];
    expect(compactGroupRecords(log).map(decodeGroupRecord)).toEqual([
      { type: 'GroupMetadata', groupId: 'h', value: null },
      { type: 'GroupMetadata', groupId: 'g', value: { groupEpoch: 3 } },
    ]);
    expect(compactGroupRecords(log, true).map(decodeGroupRecord)).toEqual([{ type: 'GroupMetadata', groupId: 'g', value: { groupEpoch: 3 } }]);
  });
});

describe('partitionForGroup', () => {
  it("matches Java's String.hashCode", () => {
    const vectors: [string, number][] = [
      ['', 0],
      ['hello', 99162322],
      ['abc', 96354],
      ['Aa', 2112],
      ['BB', 2112],
      ['Hello World', -862545276],
      ['polygenelubricants', -2147483648],
      ['é', 233],
      ['😀', 1772899],
    ];
    for (const [s, hash] of vectors) expect(javaStringHashCode(s), s).toBe(hash);
  });

  it("is Kafka's Utils.abs(hashCode) % N, with abs(Integer.MIN_VALUE) = 0", () => {
    expect(partitionForGroup('hello', 50)).toBe(22);
    expect(partitionForGroup('Hello World', 50)).toBe(26);
    expect(partitionForGroup('polygenelubricants', 50)).toBe(0);
    expect(partitionForGroup('my-group', 50)).toBe(1906497762 % 50);
    expect(() => partitionForGroup('g', 0)).toThrow(RangeError);
  });
});

// Random, often nonsensical requests against a coordinator: it must never break an invariant, and
// the log it writes must rebuild exactly its state (full log, compacted log, tombstones dropped).

function testConfig(): GroupCoordinatorConfig {
  let next = 0;
  return { ...GROUP_COORDINATOR_DEFAULTS, groupMaxSize: 4, generateMemberId: () => `gen-${++next}` };
}

const GROUPS = ['g1', 'g2', 'g3'];
const MEMBERS = ['m1', 'm2', 'm3', 'm4', 'm5'];
const SESSION_MS = 5_000;

function randomTopics(prng: Prng): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of ['a', 'b', 'c']) if (prng.chance(0.8)) counts.set(t, prng.intBetween(1, 5));
  return counts;
}

function randomOwned(prng: Prng): TopicPartitions[] {
  return ['a', 'b', 'c'].filter(() => prng.chance(0.4)).map((topic) => ({ topic, partitions: [0, 1, 2, 3].filter(() => prng.chance(0.4)) }));
}

function randomOperation(prng: Prng, c: GroupCoordinator, nowMs: number, knownEpochs: Map<string, number>): void {
  const groupId = prng.pick(GROUPS);
  const memberId = prng.pick(MEMBERS);
  const key = `${groupId}/${memberId}`;
  switch (prng.int(9)) {
    case 0:
    case 1:
    case 2: {
      const epoch = prng.chance(0.15) ? prng.int(20) - 1 : (knownEpochs.get(key) ?? 0);
      const r = c.heartbeat(
        { groupId, memberId, memberEpoch: epoch, subscribedTopics: ['a', 'b', 'c'].filter(() => prng.chance(0.6)), ownedPartitions: randomOwned(prng), sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 3 * SESSION_MS },
        nowMs,
      );
      if (r.errorCode === 0) knownEpochs.set(key, r.memberEpoch < 0 ? 0 : r.memberEpoch);
      else knownEpochs.set(key, 0);
      return;
    }
    case 3:
      c.commitOffsets(
        {
          groupId,
          memberId: prng.chance(0.3) ? '' : memberId,
          memberEpoch: prng.chance(0.3) ? -1 : (knownEpochs.get(key) ?? 0),
          offsets: Array.from({ length: prng.int(3) }, () => ({ topic: prng.pick(['a', 'b', 'c']), partition: prng.int(4), offset: prng.int(1000), metadata: prng.chance(0.5) ? 'meta' : undefined })),
        },
        nowMs,
      );
      return;
    case 4:
      c.tick(nowMs);
      return;
    case 5:
      if (prng.chance(0.3)) c.updateTopics(randomTopics(prng), nowMs);
      return;
    case 6:
      if (prng.chance(0.3)) c.deleteGroup(groupId);
      return;
    case 7:
      c.resetOffsets({ groupId, offsets: [{ topic: prng.pick(['a', 'b', 'c']), partition: prng.int(4), offset: prng.int(100) }] }, nowMs);
      return;
    default:
      c.heartbeat({ groupId, memberId, memberEpoch: -1, subscribedTopics: [], ownedPartitions: [], sessionTimeoutMs: SESSION_MS }, nowMs);
      knownEpochs.set(key, 0);
  }
}

describe('replay', () => {
  it('rebuilds the exact state from the full log, the compacted log and the log without tombstones', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const topics = randomTopics(prng);
      const c = new GroupCoordinator({ config: testConfig(), partitionCounts: topics, nowMs: 0 });
      const log: EncodedGroupRecord[] = [];
      const epochs = new Map<string, number>();
      let nowMs = 0;
      const steps = prng.intBetween(1, 150);
      for (let step = 0; step < steps; step++) {
        nowMs += prng.int(2_000);
        randomOperation(prng, c, nowMs, epochs);
        log.push(...c.drainRecords().map(encodeGroupRecord));
        if (prng.chance(0.1) || step === steps - 1) {
          const options = { config: testConfig(), partitionCounts: topics, nowMs };
          const expected = c.snapshot();
          expect(replay(log, options).snapshot(), `seed ${seed} step ${step}: full log`).toEqual(expected);
          expect(replay(compactGroupRecords(log), options).snapshot(), `seed ${seed} step ${step}: compacted`).toEqual(expected);
          expect(replay(compactGroupRecords(log, true), options).snapshot(), `seed ${seed} step ${step}: no tombstones`).toEqual(expected);
        }
      }
    }
  });

  it('a replayed coordinator answers the next requests as the original would', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const prng = new Prng(seed);
      const topics = new Map([['a', 3], ['b', 2]]);
      const original = new GroupCoordinator({ config: testConfig(), partitionCounts: topics, nowMs: 0 });
      const epochs = new Map<string, number>();
      const log: GroupRecord[] = [];
      for (let step = 0; step < 60; step++) {
        const r = original.heartbeat(
          { groupId: 'g1', memberId: prng.pick(MEMBERS), memberEpoch: 0, subscribedTopics: ['a', 'b'], ownedPartitions: [], sessionTimeoutMs: SESSION_MS },
          step,
        );
        if (r.errorCode === 0) epochs.set(r.memberId, r.memberEpoch);
        log.push(...original.drainRecords());
      }
      const copy = replayGroupRecords(log, { config: testConfig(), partitionCounts: topics, nowMs: 60 });
      for (const memberId of [...epochs.keys()].sort()) {
        const describe = original.describeGroup('g1').group?.members.find((m) => m.memberId === memberId);
        const request = { groupId: 'g1', memberId, memberEpoch: describe?.memberEpoch ?? 0, subscribedTopics: ['a', 'b'], ownedPartitions: describe?.assignment ?? [], sessionTimeoutMs: SESSION_MS };
        expect(copy.heartbeat(request, 61), `seed ${seed}`).toEqual(original.heartbeat(request, 61));
        expect(copy.drainRecords()).toEqual(original.drainRecords());
      }
    }
  });
});
