// One partition replica on one broker: Kafka's Partition + the replica-facing half of ReplicaManager,
// as a pure state machine. The driver feeds it facts (metadata from the controller, local appends and
// flushes, follower fetches, time) and collects a PartitionReady outbox: the new high watermark, the
// ISR change to send to the controller, and acks=all requests that can be answered.
//
// The rules it enforces, and why:
// - High watermark = min over the maximal ISR of what each member has (flushed, under the default
//   'durable' policy), never moving back: a record below it survives the loss of any set of replicas,
//   including a power loss of all of them, because every replica the controller may elect has it on disk.
// - Maximal ISR (Kafka KIP-497): while an expansion is pending the new member already counts for the
//   high watermark (the controller may commit it and then elect it before we hear back); while a shrink
//   is pending the old, larger ISR still counts (the controller may still elect the member being removed).
// - A follower joins the ISR only when it has everything the high watermark and the current leader
//   epoch can cover (Kafka's isFollowerInSync); under 'durable' it must also have FLUSHED that far,
//   or a later power loss could leave an elected ISR member without an acknowledged record.

import { RunnelError } from '@runnel/protocol';
import type { ErrorCodeName } from '@runnel/protocol';
import { assert, isOffset } from './assert.js';
import { FollowerReplica } from './follower-replica.js';
import { ProducePurgatory, afterAppendError } from './produce-purgatory.js';
import {
  DEFAULT_PENDING_PRODUCES_MAX,
  DEFAULT_REPLICA_LAG_TIME_MAX_MS,
  NO_LEADER,
  UNKNOWN_OFFSET,
} from './types.js';
import type {
  FetchAdmission,
  FlushPolicy,
  FollowerAssignment,
  IsrChangeRequest,
  LocalLogState,
  PartitionAssignment,
  PartitionReady,
  PartitionSnapshot,
  PartitionStateConfig,
  PendingIsrChangeSnapshot,
  ProduceCompletion,
  ReplicaRole,
  RoleChange,
} from './types.js';

/** retryAtMs: with status 'retry', not resent before this time, so a controller that keeps refusing is not flooded. */
type PendingIsrChange = PendingIsrChangeSnapshot;

/** Pause before resending an ISR change the controller could not take (Kafka backs off similarly). */
export const ISR_CHANGE_RETRY_BACKOFF_MS = 250;

/** Answers after which the controller surely did not apply the change (Kafka resets to the committed ISR). */
const REJECTED_NOT_APPLIED: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>(['OPERATION_NOT_ATTEMPTED', 'INELIGIBLE_REPLICA']);
/** Answers that do not say whether an earlier copy was applied: keep the maximal ISR until metadata arrives. */
const REJECTED_AWAIT_METADATA: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>([
  'FENCED_LEADER_EPOCH',
  'INVALID_UPDATE_VERSION',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_REQUEST',
  'NEW_LEADER_ELECTED',
  'NOT_LEADER_OR_FOLLOWER',
]);

export class PartitionState {
  readonly localBrokerId: number;
  readonly flushPolicy: FlushPolicy;
  readonly replicaLagTimeMaxMs: number;

  private roleValue: ReplicaRole = 'none';
  private leaderIdValue = NO_LEADER;
  private leaderEpochValue = -1;
  private partitionEpochValue = -1;
  private replicasValue: readonly number[] = [];
  private isrValue: readonly number[] = [];
  private pendingIsr: PendingIsrChange | undefined;
  private nextIsrRequestId = 1;

  private logEndOffsetValue: number;
  private flushedOffsetValue: number;
  private highWatermarkValue: number;
  private leaderEpochStartOffsetValue = UNKNOWN_OFFSET;
  private readonly followers = new Map<number, FollowerReplica>();
  private readonly purgatory: ProducePurgatory;
  private clockMs = 0;

  private readyHighWatermark: number | undefined;
  private readyCompletions: ProduceCompletion[] = [];

  constructor(config: PartitionStateConfig, local: LocalLogState) {
    assert(Number.isSafeInteger(config.localBrokerId) && config.localBrokerId >= 0, `localBrokerId must be a non-negative integer, got ${config.localBrokerId}`);
    const lagMs = config.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_LAG_TIME_MAX_MS;
    assert(Number.isSafeInteger(lagMs) && lagMs > 0, `replicaLagTimeMaxMs must be a positive integer, got ${lagMs}`);
    assert(isOffset(local.logEndOffset) && isOffset(local.flushedOffset) && isOffset(local.highWatermark), 'local log offsets must be non-negative integers');
    assert(local.flushedOffset <= local.logEndOffset, `flushed offset ${local.flushedOffset} beyond log end ${local.logEndOffset}`);
    assert(local.highWatermark <= local.logEndOffset, `high watermark ${local.highWatermark} beyond log end ${local.logEndOffset}: cap it after recovery`);
    this.localBrokerId = config.localBrokerId;
    this.flushPolicy = config.flushPolicy ?? 'durable';
    this.replicaLagTimeMaxMs = lagMs;
    this.purgatory = new ProducePurgatory(config.pendingProducesMax ?? DEFAULT_PENDING_PRODUCES_MAX);
    this.logEndOffsetValue = local.logEndOffset;
    this.flushedOffsetValue = local.flushedOffset;
    this.highWatermarkValue = local.highWatermark;
  }

  get role(): ReplicaRole {
    return this.roleValue;
  }
  get leaderId(): number {
    return this.leaderIdValue;
  }
  get leaderEpoch(): number {
    return this.leaderEpochValue;
  }
  get partitionEpoch(): number {
    return this.partitionEpochValue;
  }
  get isr(): readonly number[] {
    return this.isrValue;
  }
  get highWatermark(): number {
    return this.highWatermarkValue;
  }
  get logEndOffset(): number {
    return this.logEndOffsetValue;
  }
  get flushedOffset(): number {
    return this.flushedOffsetValue;
  }
  get leaderEpochStartOffset(): number {
    return this.leaderEpochStartOffsetValue;
  }

  /** The committed ISR plus any member a pending change adds: the set the high watermark waits for. */
  maximalIsr(): readonly number[] {
    const pending = this.pendingIsr;
    if (pending === undefined) return this.isrValue;
    const union = [...this.isrValue];
    for (const id of pending.proposedIsr) if (!union.includes(id)) union.push(id);
    return union;
  }

  // ---- role transitions (metadata from the controller) ---------------------------------------------

  becomeLeader(assignment: PartitionAssignment, localLogEndOffset: number, nowMs: number): RoleChange {
    this.observeTime(nowMs);
    validateAssignment(assignment, this.localBrokerId);
    assert(assignment.isr.includes(this.localBrokerId), `broker ${this.localBrokerId} made leader but not in ISR [${assignment.isr.join(',')}]`);
    const order = this.compareEpochs(assignment);
    if (order.kind === 'stale' || order.kind === 'unchanged') return order;
    if (order.kind === 'metadata-update') {
      assert(this.roleValue === 'leader', `epoch ${assignment.leaderEpoch}: broker ${this.localBrokerId} was ${this.roleValue}, now leader in the same epoch`);
      this.applyMetadata(assignment, nowMs);
      this.onIsrMaybeChanged();
      return order;
    }
    assert(isOffset(localLogEndOffset), `log end offset must be a non-negative integer, got ${localLogEndOffset}`);
    assert(localLogEndOffset >= this.highWatermarkValue, `new leader's log end ${localLogEndOffset} below its high watermark ${this.highWatermarkValue}`);
    // Pending acks=all requests of an earlier epoch of ours stay: their records are still in our log and
    // the new epoch's high watermark covers them exactly as the old one would have.
    this.roleValue = 'leader';
    this.leaderIdValue = this.localBrokerId;
    this.leaderEpochValue = assignment.leaderEpoch;
    this.logEndOffsetValue = localLogEndOffset;
    this.flushedOffsetValue = Math.min(this.flushedOffsetValue, localLogEndOffset);
    this.leaderEpochStartOffsetValue = localLogEndOffset;
    this.pendingIsr = undefined;
    this.followers.clear();
    this.applyMetadata(assignment, nowMs);
    this.onIsrMaybeChanged();
    return order;
  }

  becomeFollower(assignment: FollowerAssignment): RoleChange {
    validateAssignment(assignment, this.localBrokerId);
    assert(assignment.leaderId !== this.localBrokerId, `becomeFollower names the local broker ${this.localBrokerId} as leader`);
    assert(assignment.leaderId === NO_LEADER || assignment.replicas.includes(assignment.leaderId), `leader ${assignment.leaderId} is not a replica`);
    const order = this.compareEpochs(assignment);
    if (order.kind === 'stale' || order.kind === 'unchanged') return order;
    if (order.kind === 'metadata-update') {
      assert(this.roleValue === 'follower' && this.leaderIdValue === assignment.leaderId, `epoch ${assignment.leaderEpoch}: leader changed from ${this.leaderIdValue} to ${assignment.leaderId} without an epoch bump`);
      this.partitionEpochValue = assignment.partitionEpoch;
      this.replicasValue = [...assignment.replicas];
      this.isrValue = [...assignment.isr];
      return order;
    }
    this.failPendingProduces(`broker ${this.localBrokerId} is no longer the leader (leader epoch ${assignment.leaderEpoch})`);
    this.roleValue = 'follower';
    this.leaderIdValue = assignment.leaderId;
    this.leaderEpochValue = assignment.leaderEpoch;
    this.partitionEpochValue = assignment.partitionEpoch;
    this.replicasValue = [...assignment.replicas];
    this.isrValue = [...assignment.isr];
    this.leaderEpochStartOffsetValue = UNKNOWN_OFFSET;
    this.pendingIsr = undefined;
    this.followers.clear();
    return order;
  }

  /** The partition left this broker (deleted or reassigned away). */
  stop(): void {
    this.failPendingProduces(`broker ${this.localBrokerId} no longer hosts this partition`);
    this.roleValue = 'none';
    this.leaderIdValue = NO_LEADER;
    this.pendingIsr = undefined;
    this.followers.clear();
  }

  // ---- local log facts -----------------------------------------------------------------------------

  onLocalAppend(logEndOffset: number): void {
    assert(isOffset(logEndOffset), `log end offset must be a non-negative integer, got ${logEndOffset}`);
    assert(logEndOffset >= this.logEndOffsetValue, `append moved the log end back from ${this.logEndOffsetValue} to ${logEndOffset}: truncation goes through onLocalTruncate`);
    this.logEndOffsetValue = logEndOffset;
    if (this.roleValue === 'leader') this.maybeAdvanceHighWatermark();
  }

  onLocalFlush(flushedOffset: number): void {
    assert(isOffset(flushedOffset), `flushed offset must be a non-negative integer, got ${flushedOffset}`);
    assert(flushedOffset <= this.logEndOffsetValue, `flushed offset ${flushedOffset} beyond log end ${this.logEndOffsetValue}`);
    // fsyncs may complete out of order in a driver; an older one says nothing new.
    if (flushedOffset <= this.flushedOffsetValue) return;
    this.flushedOffsetValue = flushedOffset;
    if (this.roleValue === 'leader') this.maybeAdvanceHighWatermark();
  }

  /**
   * The follower truncated its log to the divergence point (see leader-epoch.ts). A truncation below
   * the local high watermark lowers it, as in Kafka: it only happens when committed data was lost
   * (the 'lazy' policy after a power loss, or an unclean election), and the replica must not serve
   * records it no longer has.
   */
  onLocalTruncate(logEndOffset: number): void {
    assert(this.roleValue !== 'leader', `leader ${this.localBrokerId} must never truncate its own log`);
    assert(isOffset(logEndOffset), `truncation offset must be a non-negative integer, got ${logEndOffset}`);
    if (logEndOffset >= this.logEndOffsetValue) return;
    this.logEndOffsetValue = logEndOffset;
    this.flushedOffsetValue = Math.min(this.flushedOffsetValue, logEndOffset);
    if (this.highWatermarkValue > logEndOffset) {
      this.highWatermarkValue = logEndOffset;
      this.readyHighWatermark = logEndOffset;
    }
  }

  /** A follower learned the leader's high watermark from a fetch response. */
  onLeaderHighWatermark(leaderHighWatermark: number): void {
    assert(this.roleValue === 'follower', `broker ${this.localBrokerId} is ${this.roleValue}, not a follower`);
    assert(isOffset(leaderHighWatermark), `high watermark must be a non-negative integer, got ${leaderHighWatermark}`);
    const next = Math.min(leaderHighWatermark, this.logEndOffsetValue);
    if (next <= this.highWatermarkValue) return;
    this.highWatermarkValue = next;
    this.readyHighWatermark = next;
  }

  // ---- leader: requests from followers, producers and the controller -------------------------------

  /**
   * Kafka's checkCurrentLeaderEpoch then "require leader": an older epoch is fenced (the sender must
   * refresh metadata), a newer one means this broker has not yet heard of it.
   */
  checkLeaderRequest(requestLeaderEpoch: number): RunnelError | undefined {
    if (this.roleValue === 'none') return notLeader(this.localBrokerId, 'does not host this partition');
    if (requestLeaderEpoch < this.leaderEpochValue) {
      return new RunnelError('FENCED_LEADER_EPOCH', `request leader epoch ${requestLeaderEpoch} is older than the current ${this.leaderEpochValue}`, {
        details: { requestLeaderEpoch, leaderEpoch: this.leaderEpochValue },
      });
    }
    if (requestLeaderEpoch > this.leaderEpochValue) {
      return new RunnelError('UNKNOWN_LEADER_EPOCH', `request leader epoch ${requestLeaderEpoch} is newer than this broker's ${this.leaderEpochValue}`, {
        details: { requestLeaderEpoch, leaderEpoch: this.leaderEpochValue },
      });
    }
    if (this.roleValue !== 'leader') return notLeader(this.localBrokerId, `is a follower of ${this.leaderIdValue}`);
    return undefined;
  }

  /**
   * A follower fetched at `fetchOffset`: under the current epoch that proves it holds every record
   * below it (it truncated to the divergence point before fetching and only appends from us since).
   */
  onFollowerFetch(followerId: number, fetchOffset: number, followerFlushedOffset: number, followerLeaderEpoch: number, nowMs: number): FetchAdmission {
    this.observeTime(nowMs);
    const epochError = this.checkLeaderRequest(followerLeaderEpoch);
    if (epochError !== undefined) return { ok: false, error: epochError };
    const follower = this.followers.get(followerId);
    if (follower === undefined) {
      return { ok: false, error: notLeader(this.localBrokerId, `has no follower ${followerId} (replicas ${this.replicasValue.join(',')})`) };
    }
    if (!Number.isSafeInteger(fetchOffset) || !Number.isSafeInteger(followerFlushedOffset) || followerFlushedOffset < 0 || followerFlushedOffset > fetchOffset) {
      return { ok: false, error: new RunnelError('INVALID_REQUEST', `fetch offset ${fetchOffset} with flushed offset ${followerFlushedOffset} from follower ${followerId} is inconsistent`) };
    }
    if (fetchOffset < 0 || fetchOffset > this.logEndOffsetValue) {
      return {
        ok: false,
        error: new RunnelError('OFFSET_OUT_OF_RANGE', `follower ${followerId} fetch offset ${fetchOffset} is outside [0, ${this.logEndOffsetValue}]`, {
          details: { fetchOffset, logEndOffset: this.logEndOffsetValue },
        }),
      };
    }
    follower.updateFetchState(fetchOffset, followerFlushedOffset, this.clockMs, this.logEndOffsetValue);
    this.maybeExpandIsr(follower);
    this.maybeAdvanceHighWatermark();
    return { ok: true, highWatermark: this.highWatermarkValue, leaderLogEndOffset: this.logEndOffsetValue };
  }

  /** Checked before appending an acks=all batch, so a refused request leaves nothing half-written. */
  canAcceptAcksAll(minInsyncReplicas: number): RunnelError | undefined {
    assert(Number.isSafeInteger(minInsyncReplicas) && minInsyncReplicas >= 1, `min.insync.replicas must be a positive integer, got ${minInsyncReplicas}`);
    if (this.roleValue !== 'leader') return notLeader(this.localBrokerId, 'is not the leader');
    if (this.isrValue.length < minInsyncReplicas) {
      return new RunnelError('NOT_ENOUGH_REPLICAS', `ISR [${this.isrValue.join(',')}] has ${this.isrValue.length} replica(s), below min.insync.replicas=${minInsyncReplicas}`, {
        details: { isr: [...this.isrValue], minInsyncReplicas },
      });
    }
    if (!this.purgatory.hasRoom()) {
      return new RunnelError('THROTTLING_QUOTA_EXCEEDED', `${this.purgatory.size} acks=all requests already wait for replication on this partition (limit ${this.purgatory.capacity}); retry after a backoff`, {
        details: { pendingProducesMax: this.purgatory.capacity },
      });
    }
    return undefined;
  }

  /**
   * An acks=all batch ending at `lastOffset` was appended. Returns the completion when it can be
   * answered at once; otherwise it arrives through ready() when the high watermark passes
   * `lastOffset`, when leadership is lost, or at `deadlineMs` (checked by tick).
   */
  registerProduce(requestId: number, lastOffset: number, minInsyncReplicas: number, deadlineMs?: number): ProduceCompletion | undefined {
    assert(isOffset(lastOffset), `last offset must be a non-negative integer, got ${lastOffset}`);
    assert(Number.isSafeInteger(minInsyncReplicas) && minInsyncReplicas >= 1, `min.insync.replicas must be a positive integer, got ${minInsyncReplicas}`);
    if (this.roleValue !== 'leader') {
      return { requestId, lastOffset, error: notLeader(this.localBrokerId, 'lost leadership before the request could be registered') };
    }
    assert(lastOffset < this.logEndOffsetValue, `produce request ${requestId} ends at ${lastOffset}, beyond the log end ${this.logEndOffsetValue}: register after appending`);
    if (lastOffset < this.highWatermarkValue) {
      return { requestId, lastOffset, error: afterAppendError({ lastOffset, minInsyncReplicas }, this.maximalIsr().length) };
    }
    if (!this.purgatory.hasRoom()) {
      // Appended but we cannot wait for it: the producer sees what a Kafka timeout means (may be written).
      return {
        requestId,
        lastOffset,
        error: new RunnelError('REQUEST_TIMED_OUT', `record at offset ${lastOffset} was appended, but ${this.purgatory.capacity} acks=all requests already wait on this partition`),
      };
    }
    this.purgatory.add(requestId, lastOffset, minInsyncReplicas, deadlineMs);
    return undefined;
  }

  onIsrChangeCommitted(newIsr: readonly number[], partitionEpoch: number): boolean {
    if (this.roleValue !== 'leader' || partitionEpoch <= this.partitionEpochValue) return false;
    assert(newIsr.length > 0 && newIsr.every((id) => this.replicasValue.includes(id)), `committed ISR [${newIsr.join(',')}] is not within replicas [${this.replicasValue.join(',')}]`);
    this.isrValue = [...newIsr];
    this.partitionEpochValue = partitionEpoch;
    this.pendingIsr = undefined;
    this.onIsrMaybeChanged();
    return true;
  }

  /** Kafka's Partition.handleAlterPartitionError. Returns false for an answer to a request no longer in flight. */
  onIsrChangeRejected(codeName: ErrorCodeName, requestId: number): boolean {
    const pending = this.pendingIsr;
    if (this.roleValue !== 'leader' || pending === undefined || pending.requestId !== requestId || pending.status !== 'in-flight') return false;
    if (REJECTED_NOT_APPLIED.has(codeName)) {
      this.pendingIsr = undefined;
      this.onIsrMaybeChanged();
    } else if (REJECTED_AWAIT_METADATA.has(codeName)) {
      pending.status = 'awaiting-metadata';
    } else {
      pending.status = 'retry';
      pending.retryAtMs = this.clockMs + ISR_CHANGE_RETRY_BACKOFF_MS;
    }
    return true;
  }

  /** Time passes: ISR shrink, resend of a failed ISR change, acks=all deadlines. */
  tick(nowMs: number): void {
    this.observeTime(nowMs);
    if (this.roleValue !== 'leader') return;
    if (this.pendingIsr?.status === 'retry' && this.clockMs >= this.pendingIsr.retryAtMs) this.pendingIsr.status = 'unsent';
    this.maybeShrinkIsr();
    this.readyCompletions.push(...this.purgatory.expire(this.clockMs));
  }

  hasReady(): boolean {
    return this.readyHighWatermark !== undefined || this.readyCompletions.length > 0 || this.pendingIsr?.status === 'unsent';
  }

  /** Takes the outbox. Emitting an ISR change marks it in flight: at most one is outstanding. */
  ready(): PartitionReady {
    let isrChangeRequest: IsrChangeRequest | undefined;
    const pending = this.pendingIsr;
    if (pending !== undefined && pending.status === 'unsent' && this.roleValue === 'leader') {
      pending.status = 'in-flight';
      isrChangeRequest = {
        requestId: pending.requestId,
        leaderEpoch: this.leaderEpochValue,
        partitionEpoch: pending.basePartitionEpoch,
        newIsr: [...pending.proposedIsr],
      };
    }
    const out: PartitionReady = { highWatermark: this.readyHighWatermark, isrChangeRequest, produceCompletions: this.readyCompletions };
    this.readyHighWatermark = undefined;
    this.readyCompletions = [];
    return out;
  }

  snapshot(): PartitionSnapshot {
    const pending = this.pendingIsr;
    return {
      role: this.roleValue,
      leaderId: this.leaderIdValue,
      leaderEpoch: this.leaderEpochValue,
      partitionEpoch: this.partitionEpochValue,
      replicas: [...this.replicasValue],
      isr: [...this.isrValue],
      maximalIsr: [...this.maximalIsr()],
      pendingIsrChange: pending === undefined ? undefined : { ...pending, proposedIsr: [...pending.proposedIsr] },
      logEndOffset: this.logEndOffsetValue,
      flushedOffset: this.flushedOffsetValue,
      highWatermark: this.highWatermarkValue,
      leaderEpochStartOffset: this.leaderEpochStartOffsetValue,
      followers: [...this.followers.values()].map((follower) => follower.snapshot()),
      pendingProduces: this.purgatory.size,
    };
  }

  // ---- internals -----------------------------------------------------------------------------------

  private observeTime(nowMs: number): void {
    assert(Number.isFinite(nowMs), `nowMs must be finite, got ${nowMs}`);
    // A wall clock stepping back must not make followers look caught up in the future or lagging less.
    this.clockMs = Math.max(this.clockMs, nowMs);
  }

  private compareEpochs(assignment: PartitionAssignment): RoleChange {
    const stale: RoleChange = { kind: 'stale', currentLeaderEpoch: this.leaderEpochValue, currentPartitionEpoch: this.partitionEpochValue };
    if (assignment.leaderEpoch < this.leaderEpochValue) return stale;
    if (assignment.leaderEpoch > this.leaderEpochValue || this.roleValue === 'none') return { kind: 'new-epoch' };
    if (assignment.partitionEpoch < this.partitionEpochValue) return stale;
    if (assignment.partitionEpoch === this.partitionEpochValue) return { kind: 'unchanged' };
    return { kind: 'metadata-update' };
  }

  /** Leader only: takes the controller's ISR and replica set; a newer partition epoch settles any pending change. */
  private applyMetadata(assignment: PartitionAssignment, nowMs: number): void {
    this.partitionEpochValue = assignment.partitionEpoch;
    this.replicasValue = [...assignment.replicas];
    this.isrValue = [...assignment.isr];
    this.pendingIsr = undefined;
    for (const id of [...this.followers.keys()]) if (!assignment.replicas.includes(id)) this.followers.delete(id);
    for (const id of assignment.replicas) {
      if (id === this.localBrokerId || this.followers.has(id)) continue;
      this.followers.set(id, new FollowerReplica(id, assignment.isr.includes(id) ? Math.max(nowMs, this.clockMs) : 0));
    }
  }

  private onIsrMaybeChanged(): void {
    if (this.roleValue !== 'leader') return;
    this.maybeAdvanceHighWatermark();
    // The ISR size matters for requests already covered too: re-evaluate even if the watermark held.
    this.readyCompletions.push(...this.purgatory.completeCovered(this.highWatermarkValue, this.maximalIsr().length));
  }

  private maybeAdvanceHighWatermark(): void {
    assert(this.roleValue === 'leader', 'only a leader computes the high watermark');
    let candidate = this.flushPolicy === 'durable' ? this.flushedOffsetValue : this.logEndOffsetValue;
    for (const id of this.maximalIsr()) {
      if (id === this.localBrokerId) continue;
      const follower = this.followers.get(id);
      assert(follower !== undefined, `ISR member ${id} has no follower state`);
      // A member that has not fetched in this epoch reports UNKNOWN_OFFSET and holds the watermark.
      candidate = Math.min(candidate, follower.replicatedOffset(this.flushPolicy));
    }
    if (candidate <= this.highWatermarkValue) return;
    assert(candidate <= this.logEndOffsetValue, `high watermark ${candidate} would pass the leader's log end ${this.logEndOffsetValue}`);
    this.highWatermarkValue = candidate;
    this.readyHighWatermark = candidate;
    this.readyCompletions.push(...this.purgatory.completeCovered(candidate, this.maximalIsr().length));
  }

  private maybeExpandIsr(follower: FollowerReplica): void {
    if (this.pendingIsr !== undefined || this.isrValue.includes(follower.brokerId)) return;
    const requiredOffset = Math.max(this.highWatermarkValue, this.leaderEpochStartOffsetValue);
    if (follower.logEndOffset < requiredOffset) return;
    if (this.flushPolicy === 'durable' && follower.flushedOffset < requiredOffset) return;
    this.propose('expand', [...this.isrValue, follower.brokerId]);
  }

  private maybeShrinkIsr(): void {
    if (this.pendingIsr !== undefined) return;
    const outOfSync = this.isrValue.filter((id) => {
      if (id === this.localBrokerId) return false;
      const follower = this.followers.get(id);
      return follower === undefined || follower.isOutOfSync(this.logEndOffsetValue, this.clockMs, this.replicaLagTimeMaxMs);
    });
    if (outOfSync.length === 0) return;
    this.propose('shrink', this.isrValue.filter((id) => !outOfSync.includes(id)));
  }

  private propose(kind: 'expand' | 'shrink', proposedIsr: number[]): void {
    assert(proposedIsr.includes(this.localBrokerId), 'a leader never proposes an ISR without itself');
    this.pendingIsr = { requestId: this.nextIsrRequestId++, kind, proposedIsr, basePartitionEpoch: this.partitionEpochValue, status: 'unsent', retryAtMs: 0 };
  }

  private failPendingProduces(message: string): void {
    this.readyCompletions.push(...this.purgatory.failAll('NOT_LEADER_OR_FOLLOWER', message));
  }
}

function notLeader(brokerId: number, why: string): RunnelError {
  return new RunnelError('NOT_LEADER_OR_FOLLOWER', `broker ${brokerId} ${why}`, { details: { brokerId } });
}

function validateAssignment(assignment: PartitionAssignment, localBrokerId: number): void {
  const { leaderEpoch, partitionEpoch, replicas, isr } = assignment;
  assert(Number.isSafeInteger(leaderEpoch) && leaderEpoch >= 0, `leader epoch must be a non-negative integer, got ${leaderEpoch}`);
  assert(Number.isSafeInteger(partitionEpoch) && partitionEpoch >= 0, `partition epoch must be a non-negative integer, got ${partitionEpoch}`);
  assert(new Set(replicas).size === replicas.length && new Set(isr).size === isr.length, 'replicas and ISR must not repeat a broker');
  assert(replicas.includes(localBrokerId), `broker ${localBrokerId} is not a replica [${replicas.join(',')}]`);
  assert(isr.length > 0 && isr.every((id) => replicas.includes(id)), `ISR [${isr.join(',')}] must be a non-empty subset of replicas [${replicas.join(',')}]`);
}
