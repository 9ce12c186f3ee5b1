// The member's side of the KIP-848 consumer group protocol, as a synchronous state machine: what to
// put in the next heartbeat, and what the consumer must do with an answer (stop fetching some
// partitions, start others, or drop everything). No timers and no I/O here: the driver
// (group-member.ts) sends the heartbeats and runs the callbacks, so every rule below is unit-tested
// with plain values.
//
// Two rules keep a partition from being processed by two live members at once:
// - a revoked partition is reported as no longer owned only after the consumer finished with it
//   (its in-flight processing done and its offsets committed): the coordinator hands it to the next
//   owner only after that report;
// - a member that has not had a heartbeat acknowledged for a whole session stops processing
//   everything (the partitions are "lost"): the coordinator has expired it by then and may have
//   given its partitions away. The deadline runs from when the last acknowledged heartbeat was
//   SENT, which is no later than when the coordinator received it.

import { ErrorCode, errorInfo } from '@runnel/protocol';
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions } from '@runnel/protocol';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface MembershipConfig {
  groupId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

export interface Subscription {
  topics: readonly string[];
  /** RegExp source; undefined: topics only. */
  regex?: string;
}

/** What the consumer must do after a heartbeat answer. */
export type MembershipAction =
  /** Stop fetching `revoke` (finish and commit them, then call revoked()); start fetching `assign`. */
  | { kind: 'reconcile'; revoke: TopicPartition[]; assign: TopicPartition[] }
  /** Stop processing `lost` at once and do not commit for them: the member was fenced or expired. */
  | { kind: 'lost'; lost: TopicPartition[]; reason: string }
  /** The coordinator moved or is not ready: find it again and retry after a backoff. */
  | { kind: 'find-coordinator'; reason: string }
  /** Retry the same heartbeat after a backoff. */
  | { kind: 'retry'; reason: string }
  /** Give up: the error is not something a heartbeat can fix (e.g. an invalid group id). */
  | { kind: 'fatal'; errorCode: number; message: string };

export type MembershipPhase = 'unsubscribed' | 'joining' | 'member' | 'leaving' | 'left';

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function tpFromKey(key: string): TopicPartition {
  const at = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

function sortedTps(keys: Iterable<string>): TopicPartition[] {
  return [...keys].sort().map(tpFromKey);
}

/** Groups partitions per topic, sorted, in the wire shape. */
export function toTopicPartitions(keys: Iterable<string>): TopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of sortedTps(keys)) {
    let list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, (list = []));
    list.push(partition);
  }
  return [...byTopic.entries()].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
}

export class Membership {
  memberId = '';
  memberEpoch = 0;
  phase: MembershipPhase = 'unsubscribed';
  heartbeatIntervalMs = 3_000;
  /** Partitions the consumer processes now (assigned and not yet revoked). */
  private readonly owned = new Set<string>();
  /** Revoked but not yet finished by the consumer: still reported as owned. */
  private readonly revoking = new Set<string>();
  private subscription: Subscription = { topics: [] };
  /** When the last heartbeat that the coordinator acknowledged was sent; undefined before the first. */
  private lastAckedSentAtMs: number | undefined;

  constructor(private readonly config: MembershipConfig) {}

  subscribe(subscription: Subscription, nowMs: number): void {
    this.subscription = { topics: [...new Set(subscription.topics)].sort(), ...(subscription.regex === undefined ? {} : { regex: subscription.regex }) };
    if (this.phase === 'unsubscribed' || this.phase === 'left') {
      this.phase = 'joining';
      this.memberEpoch = 0;
      this.lastAckedSentAtMs = nowMs;
    }
  }

  /** Partitions being processed now, sorted. */
  ownedPartitions(): TopicPartition[] {
    return sortedTps(this.owned);
  }

  /** The next heartbeat: owned partitions include those still being revoked. */
  heartbeatRequest(): ConsumerGroupHeartbeatRequest {
    const reported = new Set([...this.owned, ...this.revoking]);
    return {
      groupId: this.config.groupId,
      memberId: this.memberId,
      memberEpoch: this.phase === 'leaving' ? -1 : this.memberEpoch,
      rebalanceTimeoutMs: this.config.rebalanceTimeoutMs,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      subscribedTopicNames: [...this.subscription.topics],
      subscribedTopicRegex: this.subscription.regex ?? '',
      ownedPartitions: toTopicPartitions(reported),
      clientId: this.config.clientId,
      clientHost: this.config.clientHost,
    };
  }

  /** The answer to a heartbeat that was sent at `sentAtMs`. */
  onHeartbeatResponse(response: ConsumerGroupHeartbeatResponse, sentAtMs: number): MembershipAction {
    if (response.errorCode !== ErrorCode.NONE) return this.onError(response.errorCode, response.errorMessage);
    this.lastAckedSentAtMs = Math.max(this.lastAckedSentAtMs ?? sentAtMs, sentAtMs);
    if (this.phase === 'leaving') {
      this.phase = 'left';
      return { kind: 'reconcile', revoke: [], assign: [] };
    }
    if (response.memberId !== '') this.memberId = response.memberId;
    this.memberEpoch = response.memberEpoch;
    if (response.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = response.heartbeatIntervalMs;
    this.phase = 'member';
    if (!response.hasAssignment) return { kind: 'reconcile', revoke: [], assign: [] };
    const target = new Set<string>();
    for (const { topic, partitions } of response.assignment) for (const partition of partitions) target.add(tpKey(topic, partition));
    const revoke = [...this.owned].filter((key) => !target.has(key));
    const assign = [...target].filter((key) => !this.owned.has(key) && !this.revoking.has(key));
    for (const key of revoke) {
      this.owned.delete(key);
      this.revoking.add(key);
    }
    // A partition given back while its revocation is still running stays being revoked: the
    // consumer re-assigns it after revoked() (the next heartbeat answer lists it again).
    for (const key of assign) this.owned.add(key);
    return { kind: 'reconcile', revoke: sortedTps(revoke), assign: sortedTps(assign) };
  }

  /** The consumer finished with these revoked partitions (processing done, offsets committed). */
  revoked(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.revoking.delete(tpKey(topic, partition));
  }

  /** True while some revoked partition is still being finished by the consumer. */
  hasPendingRevocations(): boolean {
    return this.revoking.size > 0;
  }

  /**
   * Called by the driver on every timer tick: after a whole session without an acknowledged
   * heartbeat the coordinator has expired this member, so its partitions must be dropped now.
   */
  checkSession(nowMs: number): MembershipAction | undefined {
    if (this.phase !== 'member' || this.lastAckedSentAtMs === undefined) return undefined;
    if (nowMs - this.lastAckedSentAtMs < this.config.sessionTimeoutMs) return undefined;
    return this.loseAll(`no heartbeat acknowledged for ${nowMs - this.lastAckedSentAtMs} ms (session ${this.config.sessionTimeoutMs} ms)`, true);
  }

  /** When checkSession() will drop everything unless a heartbeat is acknowledged first; undefined while not a member. */
  sessionDeadlineMs(): number | undefined {
    if (this.phase !== 'member' || this.lastAckedSentAtMs === undefined) return undefined;
    return this.lastAckedSentAtMs + this.config.sessionTimeoutMs;
  }

  /** Starts leaving: the next heartbeat carries epoch -1. Partitions must be finished first. */
  leave(): TopicPartition[] {
    const all = sortedTps(new Set([...this.owned, ...this.revoking]));
    this.owned.clear();
    this.revoking.clear();
    this.phase = this.memberId === '' ? 'left' : 'leaving';
    return all;
  }

  private onError(code: number, message: string): MembershipAction {
    const info = errorInfo(code);
    switch (info.name) {
      case 'FENCED_MEMBER_EPOCH':
        // Same member id, new epoch: rejoin, but everything owned may already be elsewhere.
        return this.loseAll(`fenced: ${message || info.description}`, true);
      case 'UNKNOWN_MEMBER_ID':
        return this.loseAll(`unknown member: ${message || info.description}`, false);
      case 'NOT_COORDINATOR':
      case 'COORDINATOR_NOT_AVAILABLE':
      case 'COORDINATOR_LOAD_IN_PROGRESS':
        return { kind: 'find-coordinator', reason: info.name };
      case 'STALE_MEMBER_EPOCH':
      case 'REQUEST_TIMED_OUT':
      case 'NETWORK_EXCEPTION':
        return { kind: 'retry', reason: info.name };
      default:
        if (info.retriable) return { kind: 'retry', reason: info.name };
        return { kind: 'fatal', errorCode: code, message: message || info.description };
    }
  }

  private loseAll(reason: string, keepMemberId: boolean): MembershipAction {
    const lost = sortedTps(new Set([...this.owned, ...this.revoking]));
    this.owned.clear();
    this.revoking.clear();
    if (!keepMemberId) this.memberId = '';
    this.memberEpoch = 0;
    this.phase = 'joining';
    this.lastAckedSentAtMs = undefined;
    return { kind: 'lost', lost, reason };
  }
}
