import { ErrorCode } from '@runnel/protocol';
import type {
  CommittedOffset,
  DescribeGroupResponse,
  ErrorResult,
  ExpiredMember,
  ExpiryReason,
  GroupListing,
  HeartbeatRequest,
  HeartbeatResponse,
  OffsetCommitRequest,
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetToCommit,
  ResetOffsetsRequest,
} from './api.js';
import { JOIN_GROUP_MEMBER_EPOCH, LEAVE_GROUP_MEMBER_EPOCH } from './api.js';
import { assert } from './assert.js';
import { assignPartitions } from './assignor.js';
import { EMPTY_ASSIGNMENT, assignmentEquals, assignmentFromList, assignmentIsSubset, assignmentToList, type Assignment } from './assignment.js';
import { applyGroupRecord, type GroupsState } from './group-state.js';
import { allOffsets, committedOffset, describeGroupEntry, groupState, snapshotOf, type ShardSnapshot } from './group-views.js';
import { compareIds, sortedKeys } from './ordering.js';
import { memberAssignmentEquals, reconcile } from './reconciliation.js';
import type { GroupRecord } from './records.js';
import { answer, checkGroupId, checkMemberId, checkOffsets, checkOwned, checkSubscription, errorResult, fail, ok } from './request-checks.js';
import type { GroupEntry, MemberAssignment, MemberSubscription } from './types.js';

// The group coordinator of one `__consumer_offsets` partition (a "shard"): every group whose id
// hashes to that partition. A synchronous state machine in the style of KIP-848's coordinator:
//
// - Members heartbeat. A join (epoch 0), a leave (epoch -1), an expired session, a changed
//   subscription or changed partition counts of a subscribed topic bump the group epoch; the target
//   assignment is recomputed at once (so the assignment epoch always equals the group epoch).
// - Each heartbeat moves the member one step towards its target (reconciliation.ts): partitions are
//   revoked first, at the old epoch; new ones are handed out only once nobody else holds them.
// - Every change is a record (records.ts) applied to the state and queued in an outbox. The driver
//   drains the outbox, appends it to the partition, and answers the request once the append is
//   committed. If the append fails, the driver must drop this instance and replay the log: the
//   in-memory state is ahead of the durable one.
//
// Time is a parameter (`nowMs`) of every call; session and rebalance deadlines are not persisted —
// a coordinator that loads the log gives every member a fresh session, as Kafka does.

export interface GroupCoordinatorConfig {
  heartbeatIntervalMs: number;
  sessionTimeoutMinMs: number;
  sessionTimeoutMaxMs: number;
  rebalanceTimeoutDefaultMs: number;
  rebalanceTimeoutMaxMs: number;
  groupMaxSize: number;
  /** Kafka's offset.metadata.max.bytes. */
  offsetMetadataBytesMax: number;
  offsetsPerCommitMax: number;
  subscribedTopicsMax: number;
  /** Bytes of UTF-8: group ids, member ids and topic names are record keys. */
  idBytesMax: number;
  /** Member ids for joins that bring none; the driver passes a UUID source. */
  generateMemberId: () => string;
}

export const GROUP_COORDINATOR_DEFAULTS: Omit<GroupCoordinatorConfig, 'generateMemberId'> = {
  heartbeatIntervalMs: 3_000,
  sessionTimeoutMinMs: 1_000,
  sessionTimeoutMaxMs: 300_000,
  rebalanceTimeoutDefaultMs: 300_000,
  rebalanceTimeoutMaxMs: 1_800_000,
  groupMaxSize: 1_000,
  offsetMetadataBytesMax: 4_096,
  offsetsPerCommitMax: 10_000,
  subscribedTopicsMax: 10_000,
  idBytesMax: 255,
};

export interface GroupCoordinatorOptions {
  config: GroupCoordinatorConfig;
  /** Partition count of every topic (from the metadata image). */
  partitionCounts: ReadonlyMap<string, number>;
  nowMs: number;
}

interface MemberTimers {
  sessionDeadlineMs: number;
  /** Set while the member has partitions to give up. */
  revocationDeadlineMs: number | undefined;
}

export class GroupCoordinator {
  private readonly config: GroupCoordinatorConfig;
  private readonly groups: GroupsState = new Map();
  private readonly timers = new Map<string, Map<string, MemberTimers>>();
  private partitionCounts: Map<string, number>;
  private outbox: GroupRecord[] = [];
  /**
   * Union of the members' subscriptions per group, rebuilt after any subscription record: every
   * heartbeat compares it with the metadata image, and recomputing it walked every member.
   */
  private readonly subscribedTopicsCache = new Map<string, readonly string[]>();
  private nowMs: number;

  /** A coordinator with no groups; use `replayGroupRecords` to load one from the log. */
  constructor(options: GroupCoordinatorOptions, loaded?: GroupsState) {
    this.config = options.config;
    this.partitionCounts = new Map(options.partitionCounts);
    this.nowMs = options.nowMs;
    if (loaded === undefined) return;
    for (const [groupId, group] of loaded) {
      this.groups.set(groupId, group);
      for (const [memberId, member] of group.members) {
        assert(member.subscription !== undefined && member.current !== undefined, `loaded member ${groupId}/${memberId} lacks its subscription or assignment`);
        this.startTimers(groupId, memberId, member.subscription, member.current);
      }
      this.checkGroup(group);
    }
  }

  // ---------------------------------------------------------------- heartbeat

  heartbeat(request: HeartbeatRequest, nowMs: number): HeartbeatResponse {
    this.advanceTo(nowMs);
    return answer(
      () => this.handleHeartbeat(request),
      (e) => ({
        errorCode: ErrorCode[e.code],
        errorMessage: e.message,
        memberId: request.memberId,
        memberEpoch: -1,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        assignment: null,
      }),
    );
  }

  private handleHeartbeat(request: HeartbeatRequest): HeartbeatResponse {
    const { groupId, memberEpoch } = request;
    checkGroupId(groupId, this.config);
    if (memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) return this.leave(groupId, request.memberId);
    if (!Number.isSafeInteger(memberEpoch) || memberEpoch < 0) fail('INVALID_REQUEST', `member epoch ${memberEpoch} is invalid`);
    const subscription = checkSubscription(request, this.config);
    const owned = checkOwned(request.ownedPartitions);

    let memberId = request.memberId;
    let group = this.groups.get(groupId);
    let bump = false;
    if (memberEpoch === JOIN_GROUP_MEMBER_EPOCH) {
      if (memberId === '') memberId = this.newMemberId(group);
      else checkMemberId(memberId, this.config);
      if (group !== undefined && group.members.has(memberId)) {
        // Epoch 0 from a known member: it lost its state (fenced, or the join answer was lost) and
        // owns nothing, so whatever it held is free again.
        this.removeMember(group, memberId);
      } else if (group !== undefined && group.members.size >= this.config.groupMaxSize) {
        fail('GROUP_MAX_SIZE_REACHED', `group ${groupId} already has ${group.members.size} members`);
      }
      group = group ?? this.createGroup(groupId);
      this.write({ type: 'MemberSubscription', groupId, memberId, value: subscription });
      this.write({
        type: 'CurrentMemberAssignment',
        groupId,
        memberId,
        value: { memberEpoch: 0, previousMemberEpoch: 0, state: 'stable', assigned: [], pendingRevocation: [] },
      });
      this.startTimers(groupId, memberId, subscription, this.member(group, memberId).current);
      bump = true;
    } else {
      if (group === undefined || !group.members.has(memberId)) fail('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${groupId}`);
      const { current, subscription: before } = this.member(group, memberId);
      if (memberEpoch !== current.memberEpoch) {
        // A lost answer leaves the member one epoch behind; it may resume if it claims nothing it
        // was not given (Kafka's rule). Anything else is a zombie and must rejoin.
        const resumable = memberEpoch === current.previousMemberEpoch && assignmentIsSubset(owned, current.assigned);
        if (!resumable) fail('FENCED_MEMBER_EPOCH', `member ${memberId} sent epoch ${memberEpoch}, the coordinator has ${current.memberEpoch}`);
      }
      if (!subscriptionEquals(before, subscription)) {
        this.write({ type: 'MemberSubscription', groupId, memberId, value: subscription });
        // Only the topics matter to the assignment; new timeouts are just remembered.
        bump = !sameTopics(before.subscribedTopics, subscription.subscribedTopics);
      }
    }
    this.touchSession(groupId, memberId, subscription.sessionTimeoutMs);
    if (bump || this.partitionMetadataChanged(group)) this.bumpAndAssign(group);
    const current = this.reconcileMember(group, memberId, owned);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: current.memberEpoch,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      assignment: assignmentToList(current.assigned),
    };
  }

  private leave(groupId: string, memberId: string): HeartbeatResponse {
    const group = this.groups.get(groupId);
    if (group === undefined || !group.members.has(memberId)) fail('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${groupId}`);
    this.removeMember(group, memberId);
    this.bumpAndAssign(group);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: LEAVE_GROUP_MEMBER_EPOCH,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      assignment: [],
    };
  }

  private reconcileMember(group: GroupEntry, memberId: string, owned: Assignment): MemberAssignment {
    const current = this.member(group, memberId).current;
    const owners = group.owners;
    const next = reconcile({
      current,
      target: group.target.get(memberId) ?? EMPTY_ASSIGNMENT,
      targetEpoch: group.assignmentEpoch ?? 0,
      owned,
      isFree: (topic, p) => {
        const holder = owners.get(topic)?.get(p);
        return holder === undefined || holder === memberId;
      },
    });
    if (memberAssignmentEquals(next, current)) return current;
    this.write({
      type: 'CurrentMemberAssignment',
      groupId: group.groupId,
      memberId,
      value: {
        memberEpoch: next.memberEpoch,
        previousMemberEpoch: next.previousMemberEpoch,
        state: next.state,
        assigned: assignmentToList(next.assigned),
        pendingRevocation: assignmentToList(next.pendingRevocation),
      },
    });
    const timers = this.timers.get(group.groupId)?.get(memberId);
    assert(timers !== undefined, `no timers for ${group.groupId}/${memberId}`);
    if (next.state !== 'unrevoked_partitions') {
      timers.revocationDeadlineMs = undefined;
    } else if (current.state !== 'unrevoked_partitions' || !assignmentEquals(current.pendingRevocation, next.pendingRevocation)) {
      // Each new revocation gets the full rebalance timeout, also when it follows another at once.
      timers.revocationDeadlineMs = this.nowMs + this.member(group, memberId).subscription.rebalanceTimeoutMs;
    }
    return next;
  }

  // ---------------------------------------------------------------- time

  /** Removes members whose session or rebalance deadline has passed; the driver logs the result. */
  tick(nowMs: number): ExpiredMember[] {
    this.advanceTo(nowMs);
    const expired: ExpiredMember[] = [];
    for (const groupId of sortedKeys(this.timers)) {
      const byMember = this.timers.get(groupId) as Map<string, MemberTimers>;
      const group = this.groups.get(groupId);
      assert(group !== undefined, `timers for unknown group ${groupId}`);
      let removed = false;
      for (const memberId of sortedKeys(byMember)) {
        const t = byMember.get(memberId) as MemberTimers;
        let reason: ExpiryReason | undefined;
        if (t.sessionDeadlineMs <= this.nowMs) reason = 'session_timeout';
        else if (t.revocationDeadlineMs !== undefined && t.revocationDeadlineMs <= this.nowMs) reason = 'rebalance_timeout';
        if (reason === undefined) continue;
        this.removeMember(group, memberId);
        expired.push({ groupId, memberId, reason });
        removed = true;
      }
      if (removed) this.bumpAndAssign(group);
    }
    return expired;
  }

  /** The earliest deadline of any member, so the driver can schedule its next tick. */
  nextDeadlineMs(): number | undefined {
    let next: number | undefined;
    for (const byMember of this.timers.values()) {
      for (const t of byMember.values()) {
        const d = t.revocationDeadlineMs === undefined ? t.sessionDeadlineMs : Math.min(t.sessionDeadlineMs, t.revocationDeadlineMs);
        if (next === undefined || d < next) next = d;
      }
    }
    return next;
  }

  /** Clocks may step back (wall clock adjustments); deadlines must not, so time never goes backwards here. */
  private advanceTo(nowMs: number): void {
    assert(Number.isFinite(nowMs), `nowMs must be finite, got ${nowMs}`);
    if (nowMs > this.nowMs) this.nowMs = nowMs;
  }

  private startTimers(groupId: string, memberId: string, subscription: MemberSubscription, current: MemberAssignment): void {
    let byMember = this.timers.get(groupId);
    if (byMember === undefined) {
      byMember = new Map();
      this.timers.set(groupId, byMember);
    }
    byMember.set(memberId, {
      sessionDeadlineMs: this.nowMs + subscription.sessionTimeoutMs,
      revocationDeadlineMs: current.state === 'unrevoked_partitions' ? this.nowMs + subscription.rebalanceTimeoutMs : undefined,
    });
  }

  private touchSession(groupId: string, memberId: string, sessionTimeoutMs: number): void {
    const t = this.timers.get(groupId)?.get(memberId);
    assert(t !== undefined, `no timers for ${groupId}/${memberId}`);
    t.sessionDeadlineMs = this.nowMs + sessionTimeoutMs;
  }

  // ---------------------------------------------------------------- membership and assignment

  private createGroup(groupId: string): GroupEntry {
    this.write({ type: 'GroupMetadata', groupId, value: { groupEpoch: 0 } });
    const group = this.groups.get(groupId);
    assert(group !== undefined, `group ${groupId} was not created`);
    return group;
  }

  private newMemberId(group: GroupEntry | undefined): string {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = this.config.generateMemberId();
      if (id !== '' && group?.members.has(id) !== true) return id;
    }
    return fail('UNKNOWN_SERVER_ERROR', 'could not generate a unique member id');
  }

  private member(group: GroupEntry, memberId: string): { subscription: MemberSubscription; current: MemberAssignment } {
    const m = group.members.get(memberId);
    assert(m?.subscription !== undefined && m.current !== undefined, `member ${group.groupId}/${memberId} is incomplete`);
    return { subscription: m.subscription, current: m.current };
  }

  private removeMember(group: GroupEntry, memberId: string): void {
    const { groupId } = group;
    this.write({ type: 'CurrentMemberAssignment', groupId, memberId, value: null });
    if (group.target.has(memberId)) this.write({ type: 'TargetAssignmentMember', groupId, memberId, value: null });
    this.write({ type: 'MemberSubscription', groupId, memberId, value: null });
    const byMember = this.timers.get(groupId);
    byMember?.delete(memberId);
    if (byMember?.size === 0) this.timers.delete(groupId);
  }

  /** Partition counts of the topics the group's members subscribe to, as the metadata image has them now. */
  private subscribedPartitionCounts(group: GroupEntry): Map<string, number> {
    let topics = this.subscribedTopicsCache.get(group.groupId);
    if (topics === undefined) {
      const union = new Set<string>();
      for (const m of group.members.values()) for (const t of m.subscription?.subscribedTopics ?? []) union.add(t);
      topics = [...union].sort(compareIds);
      this.subscribedTopicsCache.set(group.groupId, topics);
    }
    const counts = new Map<string, number>();
    for (const t of topics) {
      const n = this.partitionCounts.get(t) ?? 0;
      if (n > 0) counts.set(t, n);
    }
    return counts;
  }

  private partitionMetadataChanged(group: GroupEntry): boolean {
    if (group.members.size === 0) return false;
    return !mapsEqual(this.subscribedPartitionCounts(group), group.partitionMetadata ?? new Map());
  }

  private bumpAndAssign(group: GroupEntry): void {
    const { groupId } = group;
    const groupEpoch = (group.groupEpoch ?? 0) + 1;
    this.write({ type: 'GroupMetadata', groupId, value: { groupEpoch } });
    const counts = this.subscribedPartitionCounts(group);
    if (!mapsEqual(counts, group.partitionMetadata ?? new Map())) {
      this.write({ type: 'GroupPartitionMetadata', groupId, value: { topics: [...counts].map(([topic, numPartitions]) => ({ topic, numPartitions })) } });
    }
    const targets = assignPartitions({
      members: [...group.members].map(([memberId, m]) => ({
        memberId,
        subscribedTopics: m.subscription?.subscribedTopics ?? [],
        assignedPartitions: group.target.get(memberId) ?? EMPTY_ASSIGNMENT,
      })),
      partitionCounts: counts,
    });
    for (const memberId of sortedKeys(targets)) {
      const target = targets.get(memberId) as Assignment;
      const before = group.target.get(memberId);
      if (before !== undefined && assignmentEquals(before, target)) continue;
      this.write({ type: 'TargetAssignmentMember', groupId, memberId, value: { partitions: assignmentToList(target) } });
    }
    this.write({ type: 'TargetAssignmentMetadata', groupId, value: { assignmentEpoch: groupEpoch } });
    this.checkGroup(group);
  }

  // ---------------------------------------------------------------- metadata

  /**
   * The metadata image changed. Groups subscribed to a topic whose partition count changed get a
   * new target assignment; offsets of deleted topics are deleted (as Kafka does).
   */
  updateTopics(partitionCounts: ReadonlyMap<string, number>, nowMs: number): void {
    this.advanceTo(nowMs);
    const before = this.partitionCounts;
    this.partitionCounts = new Map(partitionCounts);
    for (const groupId of sortedKeys(this.groups)) {
      const group = this.groups.get(groupId) as GroupEntry;
      for (const topic of sortedKeys(group.offsets)) {
        // Only topics this coordinator saw shrink or vanish: a topic it never knew may simply be
        // missing from an image that lags behind the commit.
        if (!before.has(topic)) continue;
        const n = this.partitionCounts.get(topic) ?? 0;
        const byPartition = group.offsets.get(topic) as Map<number, unknown>;
        for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
          if (partition >= n) this.write({ type: 'OffsetCommit', groupId, topic, partition, value: null });
        }
      }
      const still = this.groups.get(groupId);
      if (still !== undefined && this.partitionMetadataChanged(still)) this.bumpAndAssign(still);
    }
  }

  // ---------------------------------------------------------------- offsets

  commitOffsets(request: OffsetCommitRequest, nowMs: number): ErrorResult {
    this.advanceTo(nowMs);
    return answer(() => {
      checkGroupId(request.groupId, this.config);
      const group = this.groups.get(request.groupId);
      if (request.memberId === '' && request.memberEpoch < 0) {
        if (group !== undefined && group.members.size > 0) fail('UNKNOWN_MEMBER_ID', `group ${request.groupId} has members: a commit must come from one of them`);
      } else {
        this.checkMemberEpoch(group, request.groupId, request.memberId, request.memberEpoch);
      }
      this.writeOffsets(request.groupId, request.offsets);
      return ok();
    }, errorResult);
  }

  /** Sets offsets of a group without active members (the caller resolved earliest/latest/timestamps). */
  resetOffsets(request: ResetOffsetsRequest, nowMs: number): ErrorResult {
    this.advanceTo(nowMs);
    return answer(() => {
      checkGroupId(request.groupId, this.config);
      const group = this.groups.get(request.groupId);
      if (group !== undefined && group.members.size > 0) fail('NON_EMPTY_GROUP', `group ${request.groupId} has ${group.members.size} active members`);
      this.writeOffsets(request.groupId, request.offsets);
      return ok();
    }, errorResult);
  }

  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResponse {
    return answer(
      () => {
        checkGroupId(request.groupId, this.config);
        const group = this.groups.get(request.groupId);
        if (request.memberId !== undefined && request.memberId !== '' && request.memberEpoch !== undefined && request.memberEpoch >= 0) {
          this.checkMemberEpoch(group, request.groupId, request.memberId, request.memberEpoch);
        }
        const offsets: CommittedOffset[] = [];
        if (request.partitions === undefined || request.partitions === null) {
          if (group !== undefined) offsets.push(...allOffsets(group));
        } else {
          for (const [topic, partitions] of assignmentFromList(request.partitions)) {
            for (const partition of partitions) offsets.push(committedOffset(group, topic, partition));
          }
        }
        return { ...ok(), offsets };
      },
      (e) => ({ ...errorResult(e), offsets: [] }),
    );
  }

  private checkMemberEpoch(group: GroupEntry | undefined, groupId: string, memberId: string, memberEpoch: number): void {
    const current = group?.members.get(memberId)?.current;
    if (current === undefined) fail('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${groupId}`);
    if (memberEpoch > current.memberEpoch) fail('FENCED_MEMBER_EPOCH', `member ${memberId} sent epoch ${memberEpoch}, the coordinator has ${current.memberEpoch}`);
    if (memberEpoch < current.memberEpoch) fail('STALE_MEMBER_EPOCH', `member ${memberId} sent epoch ${memberEpoch}, the coordinator has ${current.memberEpoch}`);
  }

  private writeOffsets(groupId: string, offsets: readonly OffsetToCommit[]): void {
    checkOffsets(offsets, this.partitionCounts, this.config);
    if (!this.groups.has(groupId)) this.createGroup(groupId);
    for (const o of offsets) {
      this.write({
        type: 'OffsetCommit',
        groupId,
        topic: o.topic,
        partition: o.partition,
        value: { offset: o.offset, leaderEpoch: o.leaderEpoch ?? -1, metadata: o.metadata ?? '', commitTimestampMs: this.nowMs },
      });
    }
  }

  // ---------------------------------------------------------------- admin

  listGroups(): GroupListing[] {
    return sortedKeys(this.groups).map((groupId) => {
      const group = this.groups.get(groupId) as GroupEntry;
      return { groupId, state: groupState(group), memberCount: group.members.size };
    });
  }

  describeGroup(groupId: string): DescribeGroupResponse {
    const group = this.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `group ${groupId} does not exist`, group: null };
    return { ...ok(), group: describeGroupEntry(group) };
  }

  /** Deletes a group without active members, with its committed offsets. */
  deleteGroup(groupId: string): ErrorResult {
    const group = this.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `group ${groupId} does not exist` };
    if (group.members.size > 0) return { errorCode: ErrorCode.NON_EMPTY_GROUP, errorMessage: `group ${groupId} has ${group.members.size} active members` };
    for (const o of allOffsets(group)) this.write({ type: 'OffsetCommit', groupId, topic: o.topic, partition: o.partition, value: null });
    for (const memberId of sortedKeys(group.target)) this.write({ type: 'TargetAssignmentMember', groupId, memberId, value: null });
    if (group.partitionMetadata !== undefined) this.write({ type: 'GroupPartitionMetadata', groupId, value: null });
    if (group.assignmentEpoch !== undefined) this.write({ type: 'TargetAssignmentMetadata', groupId, value: null });
    if (group.groupEpoch !== undefined) this.write({ type: 'GroupMetadata', groupId, value: null });
    assert(!this.groups.has(groupId), `group ${groupId} survived its deletion`);
    return ok();
  }

  // ---------------------------------------------------------------- records and state

  /** Records produced since the last call, in the order they must be appended. */
  drainRecords(): GroupRecord[] {
    const records = this.outbox;
    this.outbox = [];
    return records;
  }

  /** The persisted state in canonical form (sorted, plain data): equal states give equal snapshots. */
  snapshot(): ShardSnapshot {
    return snapshotOf(this.groups);
  }

  private write(record: GroupRecord): void {
    if (record.type === 'MemberSubscription') this.subscribedTopicsCache.delete(record.groupId);
    applyGroupRecord(this.groups, record);
    this.outbox.push(record);
  }

  /** Always-on structural checks after every target computation. */
  private checkGroup(group: GroupEntry): void {
    const groupEpoch = group.groupEpoch ?? 0;
    const assignmentEpoch = group.assignmentEpoch ?? 0;
    assert(assignmentEpoch <= groupEpoch, `group ${group.groupId}: assignment epoch ${assignmentEpoch} > group epoch ${groupEpoch}`);
    for (const [memberId, m] of group.members) {
      assert(m.current !== undefined && m.current.memberEpoch <= assignmentEpoch, `group ${group.groupId}: member ${memberId} is ahead of the assignment epoch`);
    }
    for (const memberId of group.target.keys()) assert(group.members.has(memberId), `group ${group.groupId}: target for unknown member ${memberId}`);
  }
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function subscriptionEquals(a: MemberSubscription, b: MemberSubscription): boolean {
  return a.rebalanceTimeoutMs === b.rebalanceTimeoutMs && a.sessionTimeoutMs === b.sessionTimeoutMs && sameTopics(a.subscribedTopics, b.subscribedTopics);
}

function mapsEqual(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

