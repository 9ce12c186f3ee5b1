import { RunnelError } from '@runnel/protocol';
import { unreachable } from './assert.js';
import type { TopicPartitions } from './assignment.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './group-coordinator.js';
import { applyGroupRecord, type GroupsState } from './group-state.js';
import { ByteReader, ByteWriter } from './record-codec.js';
import { MEMBER_STATES, type MemberState, type MemberSubscription, type OffsetAndMetadata } from './types.js';

// The durable form of a coordinator shard: records of the compacted topic `__consumer_offsets`.
// Every state change the coordinator makes is one of these records (the coordinator applies the
// record to itself, see group-state.ts), so the log is the state: compaction keeps the latest value
// per key, a null value (tombstone) deletes the key, and replaying the log — compacted or not —
// rebuilds the shard.
//
// Key grammar:   key   = type:int16 fields...      (type numbers are Kafka's key versions)
//   1 OffsetCommit              groupId:string topic:string partition:int32
//   3 GroupMetadata             groupId:string
//   4 GroupPartitionMetadata    groupId:string
//   5 MemberSubscription        groupId:string memberId:string
//   6 TargetAssignmentMetadata  groupId:string
//   7 TargetAssignmentMember    groupId:string memberId:string
//   8 CurrentMemberAssignment   groupId:string memberId:string
// Value grammar: value = version:int16 fields...   (version 0 everywhere; null = tombstone)
//   OffsetCommit              offset:int64 leaderEpoch:int32 metadata:string commitTimestampMs:int64
//   GroupMetadata             groupEpoch:int32
//   GroupPartitionMetadata    n:int32 { topic:string numPartitions:int32 }*n
//   MemberSubscription        rebalanceTimeoutMs:int32 sessionTimeoutMs:int32 n:int32 { topic:string }*n
//   TargetAssignmentMetadata  assignmentEpoch:int32
//   TargetAssignmentMember    partitions
//   CurrentMemberAssignment   memberEpoch:int32 previousMemberEpoch:int32 state:int8 assigned:partitions pendingRevocation:partitions
//   partitions =              n:int32 { topic:string m:int32 { partition:int32 }*m }*n
// Integers are big-endian, strings are UTF-8 with an unsigned 16-bit length. The key type numbers
// follow Kafka's, but the byte layouts are Runnel's own: a Kafka broker cannot read this topic.

export interface TopicPartitionCount {
  topic: string;
  numPartitions: number;
}

export interface CurrentMemberAssignmentValue {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assigned: TopicPartitions[];
  pendingRevocation: TopicPartitions[];
}

export type GroupRecord =
  | { type: 'OffsetCommit'; groupId: string; topic: string; partition: number; value: OffsetAndMetadata | null }
  | { type: 'GroupMetadata'; groupId: string; value: { groupEpoch: number } | null }
  | { type: 'GroupPartitionMetadata'; groupId: string; value: { topics: TopicPartitionCount[] } | null }
  | { type: 'MemberSubscription'; groupId: string; memberId: string; value: MemberSubscription | null }
  | { type: 'TargetAssignmentMetadata'; groupId: string; value: { assignmentEpoch: number } | null }
  | { type: 'TargetAssignmentMember'; groupId: string; memberId: string; value: { partitions: TopicPartitions[] } | null }
  | { type: 'CurrentMemberAssignment'; groupId: string; memberId: string; value: CurrentMemberAssignmentValue | null };

export type GroupRecordType = GroupRecord['type'];

/** A record as stored in `__consumer_offsets`: key bytes and value bytes (null is a tombstone). */
export interface EncodedGroupRecord {
  key: Uint8Array;
  value: Uint8Array | null;
}

const KEY_TYPE: { readonly [T in GroupRecordType]: number } = {
  OffsetCommit: 1,
  GroupMetadata: 3,
  GroupPartitionMetadata: 4,
  MemberSubscription: 5,
  TargetAssignmentMetadata: 6,
  TargetAssignmentMember: 7,
  CurrentMemberAssignment: 8,
};

const VALUE_VERSION = 0;

function writePartitions(w: ByteWriter, list: readonly TopicPartitions[]): void {
  w.int32(list.length);
  for (const { topic, partitions } of list) {
    w.string(topic).int32(partitions.length);
    for (const p of partitions) w.int32(p);
  }
}

function readPartitions(r: ByteReader): TopicPartitions[] {
  const n = r.count(6);
  const out: TopicPartitions[] = [];
  for (let i = 0; i < n; i++) {
    const topic = r.string();
    const m = r.count(4);
    const partitions: number[] = [];
    for (let j = 0; j < m; j++) partitions.push(r.int32());
    out.push({ topic, partitions });
  }
  return out;
}

export function encodeGroupRecordKey(record: GroupRecord): Uint8Array {
  const w = new ByteWriter().int16(KEY_TYPE[record.type]).string(record.groupId);
  switch (record.type) {
    case 'OffsetCommit':
      w.string(record.topic).int32(record.partition);
      break;
    case 'MemberSubscription':
    case 'TargetAssignmentMember':
    case 'CurrentMemberAssignment':
      w.string(record.memberId);
      break;
    case 'GroupMetadata':
    case 'GroupPartitionMetadata':
    case 'TargetAssignmentMetadata':
      break;
    default:
      unreachable(record);
  }
  return w.finish();
}

function encodeValue(record: GroupRecord): Uint8Array | null {
  if (record.value === null) return null;
  const w = new ByteWriter().int16(VALUE_VERSION);
  switch (record.type) {
    case 'OffsetCommit': {
      const v = record.value as OffsetAndMetadata;
      w.int64(v.offset).int32(v.leaderEpoch).string(v.metadata).int64(v.commitTimestampMs);
      break;
    }
    case 'GroupMetadata':
      w.int32((record.value as { groupEpoch: number }).groupEpoch);
      break;
    case 'GroupPartitionMetadata': {
      const topics = (record.value as { topics: TopicPartitionCount[] }).topics;
      w.int32(topics.length);
      for (const t of topics) w.string(t.topic).int32(t.numPartitions);
      break;
    }
    case 'MemberSubscription': {
      const v = record.value as MemberSubscription;
      w.int32(v.rebalanceTimeoutMs).int32(v.sessionTimeoutMs).int32(v.subscribedTopics.length);
      for (const t of v.subscribedTopics) w.string(t);
      break;
    }
    case 'TargetAssignmentMetadata':
      w.int32((record.value as { assignmentEpoch: number }).assignmentEpoch);
      break;
    case 'TargetAssignmentMember':
      writePartitions(w, (record.value as { partitions: TopicPartitions[] }).partitions);
      break;
    case 'CurrentMemberAssignment': {
      const v = record.value as CurrentMemberAssignmentValue;
      w.int32(v.memberEpoch).int32(v.previousMemberEpoch).int8(MEMBER_STATES.indexOf(v.state));
      writePartitions(w, v.assigned);
      writePartitions(w, v.pendingRevocation);
      break;
    }
    default:
      unreachable(record);
  }
  return w.finish();
}

export function encodeGroupRecord(record: GroupRecord): EncodedGroupRecord {
  return { key: encodeGroupRecordKey(record), value: encodeValue(record) };
}

/** Decodes a stored record; an unknown key type or value version, or malformed bytes, is CORRUPT_MESSAGE. */
export function decodeGroupRecord(encoded: EncodedGroupRecord): GroupRecord {
  const k = new ByteReader(encoded.key, '__consumer_offsets key');
  const keyType = k.int16();
  const groupId = k.string();
  const v = encoded.value === null ? undefined : new ByteReader(encoded.value, `__consumer_offsets value (key type ${keyType})`);
  if (v !== undefined) {
    const version = v.int16();
    if (version !== VALUE_VERSION) throw new RunnelError('CORRUPT_MESSAGE', `__consumer_offsets value version ${version} is not supported (key type ${keyType})`);
  }
  let record: GroupRecord;
  switch (keyType) {
    case KEY_TYPE.OffsetCommit: {
      const topic = k.string();
      const partition = k.int32();
      const value = v === undefined ? null : { offset: v.int64(), leaderEpoch: v.int32(), metadata: v.string(), commitTimestampMs: v.int64() };
      record = { type: 'OffsetCommit', groupId, topic, partition, value };
      break;
    }
    case KEY_TYPE.GroupMetadata:
      record = { type: 'GroupMetadata', groupId, value: v === undefined ? null : { groupEpoch: v.int32() } };
      break;
    case KEY_TYPE.GroupPartitionMetadata: {
      let value: { topics: TopicPartitionCount[] } | null = null;
      if (v !== undefined) {
        const n = v.count(6);
        const topics: TopicPartitionCount[] = [];
        for (let i = 0; i < n; i++) topics.push({ topic: v.string(), numPartitions: v.int32() });
        value = { topics };
      }
      record = { type: 'GroupPartitionMetadata', groupId, value };
      break;
    }
    case KEY_TYPE.MemberSubscription: {
      const memberId = k.string();
      let value: MemberSubscription | null = null;
      if (v !== undefined) {
        const rebalanceTimeoutMs = v.int32();
        const sessionTimeoutMs = v.int32();
        const n = v.count(2);
        const subscribedTopics: string[] = [];
        for (let i = 0; i < n; i++) subscribedTopics.push(v.string());
        value = { subscribedTopics, rebalanceTimeoutMs, sessionTimeoutMs };
      }
      record = { type: 'MemberSubscription', groupId, memberId, value };
      break;
    }
    case KEY_TYPE.TargetAssignmentMetadata:
      record = { type: 'TargetAssignmentMetadata', groupId, value: v === undefined ? null : { assignmentEpoch: v.int32() } };
      break;
    case KEY_TYPE.TargetAssignmentMember: {
      const memberId = k.string();
      record = { type: 'TargetAssignmentMember', groupId, memberId, value: v === undefined ? null : { partitions: readPartitions(v) } };
      break;
    }
    case KEY_TYPE.CurrentMemberAssignment: {
      const memberId = k.string();
      let value: CurrentMemberAssignmentValue | null = null;
      if (v !== undefined) {
        const memberEpoch = v.int32();
        const previousMemberEpoch = v.int32();
        const stateIndex = v.int8();
        const state = MEMBER_STATES[stateIndex];
        if (state === undefined) throw new RunnelError('CORRUPT_MESSAGE', `__consumer_offsets: unknown member state ${stateIndex}`);
        value = { memberEpoch, previousMemberEpoch, state, assigned: readPartitions(v), pendingRevocation: readPartitions(v) };
      }
      record = { type: 'CurrentMemberAssignment', groupId, memberId, value };
      break;
    }
    default:
      throw new RunnelError('CORRUPT_MESSAGE', `__consumer_offsets key type ${keyType} is not supported`);
  }
  k.end();
  v?.end();
  return record;
}

function keyString(key: Uint8Array): string {
  let s = '';
  for (const b of key) s += String.fromCharCode(b);
  return s;
}

/**
 * What log compaction leaves: the latest record of every key, in log order. Tombstones are kept
 * unless `dropTombstones` (Kafka drops them only after `delete.retention.ms`, so a reader that saw
 * the older value also sees the delete).
 */
export function compactGroupRecords(records: readonly EncodedGroupRecord[], dropTombstones = false): EncodedGroupRecord[] {
  const latest = new Map<string, number>();
  records.forEach((r, i) => latest.set(keyString(r.key), i));
  return records.filter((r, i) => latest.get(keyString(r.key)) === i && !(dropTombstones && r.value === null));
}

/** Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1] over UTF-16 code units, in int32 arithmetic. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The `__consumer_offsets` partition of a group: Kafka's `Utils.abs(groupId.hashCode) % N`, where
 * Utils.abs maps Integer.MIN_VALUE to 0 (Math.abs would leave it negative).
 */
export function partitionForGroup(groupId: string, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  const h = javaStringHashCode(groupId);
  const abs = h === -0x8000_0000 ? 0 : Math.abs(h);
  return abs % numPartitions;
}

/** Rebuilds a coordinator shard from its decoded records (full or compacted log, in log order). */
export function replayGroupRecords(records: Iterable<GroupRecord>, options: GroupCoordinatorOptions): GroupCoordinator {
  const groups: GroupsState = new Map();
  for (const record of records) applyGroupRecord(groups, record);
  return new GroupCoordinator(options, groups);
}

/**
 * Rebuilds a coordinator shard from the stored records of its `__consumer_offsets` partition: what
 * a broker does when it becomes the partition's leader. Members get fresh sessions from `nowMs`.
 */
export function replay(records: Iterable<EncodedGroupRecord>, options: GroupCoordinatorOptions): GroupCoordinator {
  const decoded: GroupRecord[] = [];
  for (const r of records) decoded.push(decodeGroupRecord(r));
  return replayGroupRecords(decoded, options);
}
