// Drives one consumer's membership in a group: finds the coordinator, heartbeats on the interval the
// coordinator asks for (and at once after a join or a finished revocation), turns the answers into
// calls on the consumer's hooks, and commits offsets with the member's current epoch. The rules of
// the protocol live in membership.ts; this file owns only timing, I/O and error handling.

import { RunnelError, errorInfo } from '@runnel/protocol';
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse } from '@runnel/protocol';
import { Notifier } from '../notifier.js';
import type { Clock, Logger } from '../logger.js';
import { backoffMs, resolveRetryOptions } from '../retry.js';
import type { RetryOptions } from '../retry.js';
import { Membership } from './membership.js';
import type { MembershipAction, MembershipConfig, Subscription, TopicPartition } from './membership.js';

/** How the member reaches the group's coordinator; the Cluster implements it over gRPC. */
export interface GroupTransport {
  /** The address ("host:port") of the coordinator of `groupId`; rejects with a retriable RunnelError while unknown. */
  findCoordinator(groupId: string): Promise<string>;
  heartbeat(address: string, request: ConsumerGroupHeartbeatRequest, timeoutMs: number): Promise<ConsumerGroupHeartbeatResponse>;
  offsetCommit(address: string, request: OffsetCommitRequest, timeoutMs: number): Promise<OffsetCommitResponse>;
  offsetFetch(address: string, request: OffsetFetchRequest, timeoutMs: number): Promise<OffsetFetchResponse>;
}

/** What the consumer does when the group moves partitions. */
export interface GroupMemberHooks {
  /** Start fetching these partitions (from their committed offsets). */
  assigned(partitions: TopicPartition[]): void;
  /** Stop fetching these, let processing in flight finish and commit it; resolve when done. */
  revoked(partitions: TopicPartition[]): Promise<void>;
  /** Stop processing these at once and commit nothing for them: another member may own them already. */
  lost(partitions: TopicPartition[], reason: string): void;
  /** The membership cannot continue (e.g. an invalid group id). */
  failed(error: RunnelError): void;
}

export interface GroupMemberOptions extends MembershipConfig {
  requestTimeoutMs: number;
  retry?: RetryOptions;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export interface CommitOffset {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch?: number;
  metadata?: string;
}

export class GroupMember {
  readonly membership: Membership;
  private readonly wake = new Notifier();
  private readonly retryOptions;
  private coordinator: string | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private heartbeatNow = true;
  private nextHeartbeatAtMs = 0;
  private failures = 0;
  private readonly revocations = new Set<Promise<void>>();
  /**
   * Fires at the session deadline independently of the heartbeat loop, which may be waiting on a
   * call to a dead coordinator: partitions must be dropped by then, however long that call takes.
   */
  private sessionTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: GroupMemberOptions,
    private readonly transport: GroupTransport,
    private readonly hooks: GroupMemberHooks,
  ) {
    this.membership = new Membership(options);
    this.retryOptions = resolveRetryOptions({ retries: Number.MAX_SAFE_INTEGER, maxRetryTimeMs: 2_000, ...options.retry });
  }

  get memberId(): string {
    return this.membership.memberId;
  }

  get memberEpoch(): number {
    return this.membership.memberEpoch;
  }

  /** Joins (or changes the subscription) and keeps heartbeating until stop(). */
  start(subscription: Subscription): void {
    this.membership.subscribe(subscription, this.options.clock.nowMs());
    this.heartbeatNow = true;
    this.wake.notify();
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Leaves the group cleanly: every owned partition goes through `revoked` (so its offsets are
   * committed), then one heartbeat with epoch -1 tells the coordinator to hand them out now rather
   * than after the session timeout. Bounded by the request timeout.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.sessionTimer !== undefined) clearTimeout(this.sessionTimer);
    this.wake.notify();
    await this.loop;
    await Promise.allSettled([...this.revocations]);
    const owned = this.membership.leave();
    if (owned.length > 0) await this.hooks.revoked(owned).catch((err: unknown) => this.options.logger.warn({ err }, 'revoking partitions on leave failed'));
    if (this.membership.phase !== 'leaving' || this.coordinator === undefined) return;
    try {
      const request = this.membership.heartbeatRequest();
      await this.transport.heartbeat(this.coordinator, request, this.options.requestTimeoutMs);
    } catch (err) {
      // The session timeout hands the partitions out anyway; leaving early is only an optimisation.
      this.options.logger.warn({ err, groupId: this.options.groupId }, 'leave-group heartbeat failed');
    }
  }

  /** Commits offsets (the next offset to read, Kafka's convention) under the current member epoch. */
  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const byTopic = new Map<string, OffsetCommitRequest['topics'][number]>();
    for (const o of offsets) {
      let topic = byTopic.get(o.topic);
      if (topic === undefined) byTopic.set(o.topic, (topic = { name: o.topic, partitions: [] }));
      topic.partitions.push({ partition: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch ?? -1, metadata: o.metadata ?? '' });
    }
    const request: OffsetCommitRequest = {
      groupId: this.options.groupId,
      memberId: this.membership.memberId,
      memberEpoch: this.membership.memberEpoch,
      topics: [...byTopic.values()],
    };
    const response = await this.transport.offsetCommit(await this.coordinatorAddress(), request, this.options.requestTimeoutMs);
    const failed = this.firstCommitError(response);
    if (failed !== undefined) {
      if (errorInfo(failed.code).name === 'NOT_COORDINATOR' || errorInfo(failed.code).name === 'COORDINATOR_NOT_AVAILABLE') this.coordinator = undefined;
      throw new RunnelError(errorInfo(failed.code).name, `offset commit for group ${this.options.groupId} refused${failed.where}: ${failed.message}`);
    }
  }

  /** The committed offsets of `partitions`; -1 where nothing is committed. */
  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      list.push(partition);
    }
    const response = await this.transport.offsetFetch(
      await this.coordinatorAddress(),
      { groupId: this.options.groupId, topics: [...byTopic.entries()].map(([topic, parts]) => ({ topic, partitions: parts })), memberId: this.membership.memberId, memberEpoch: -1 },
      this.options.requestTimeoutMs,
    );
    if (response.errorCode !== 0) {
      const name = errorInfo(response.errorCode).name;
      if (name === 'NOT_COORDINATOR' || name === 'COORDINATOR_NOT_AVAILABLE') this.coordinator = undefined;
      throw new RunnelError(name, `offset fetch for group ${this.options.groupId} refused: ${response.errorMessage || errorInfo(response.errorCode).description}`);
    }
    const out = new Map<string, number>();
    for (const topic of response.topics) for (const p of topic.partitions) out.set(`${topic.name}\u0000${p.partition}`, p.errorCode === 0 ? p.committedOffset : -1);
    return out;
  }

  private firstCommitError(response: OffsetCommitResponse): { code: number; where: string; message: string } | undefined {
    if (response.errorCode !== 0) return { code: response.errorCode, where: '', message: response.errorMessage || errorInfo(response.errorCode).description };
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        if (p.errorCode !== 0) return { code: p.errorCode, where: ` for ${topic.name}-${p.partition}`, message: errorInfo(p.errorCode).description };
      }
    }
    return undefined;
  }

  private async coordinatorAddress(): Promise<string> {
    this.coordinator ??= await this.transport.findCoordinator(this.options.groupId);
    return this.coordinator;
  }

  private async run(): Promise<void> {
    const { clock } = this.options;
    while (this.running) {
      const now = clock.nowMs();
      const expired = this.membership.checkSession(now);
      if (expired !== undefined) this.apply(expired);
      if (!this.heartbeatNow && now < this.nextHeartbeatAtMs) {
        await this.wake.wait(Math.min(this.nextHeartbeatAtMs - now, this.options.sessionTimeoutMs / 4));
        continue;
      }
      this.heartbeatNow = false;
      const sentAtMs = clock.nowMs();
      let action: MembershipAction;
      try {
        const address = await this.coordinatorAddress();
        // Bounded by half a session too: an answer later than that cannot keep the session alive anyway.
        const timeoutMs = Math.max(1, Math.min(this.options.requestTimeoutMs, Math.floor(this.options.sessionTimeoutMs / 2)));
        const response = await this.transport.heartbeat(address, this.membership.heartbeatRequest(), timeoutMs);
        if (!this.running) break;
        action = this.membership.onHeartbeatResponse(response, sentAtMs);
      } catch (err) {
        const error = err instanceof RunnelError ? err : new RunnelError('NETWORK_EXCEPTION', String(err), { cause: err });
        // A lost connection may mean the coordinator died: look it up again before the next try.
        action = { kind: 'find-coordinator', reason: `${error.codeName}: ${error.message}` };
      }
      this.apply(action);
    }
  }

  private armSessionTimer(): void {
    if (this.sessionTimer !== undefined) clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
    const deadline = this.membership.sessionDeadlineMs();
    if (deadline === undefined || !this.running) return;
    this.sessionTimer = setTimeout(() => {
      this.sessionTimer = undefined;
      const expired = this.membership.checkSession(this.options.clock.nowMs());
      if (expired !== undefined) this.apply(expired);
      else this.armSessionTimer();
    }, Math.max(1, deadline - this.options.clock.nowMs()));
    this.sessionTimer.unref();
  }

  private apply(action: MembershipAction): void {
    const { clock, logger } = this.options;
    switch (action.kind) {
      case 'reconcile': {
        this.failures = 0;
        this.armSessionTimer();
        this.nextHeartbeatAtMs = clock.nowMs() + this.membership.heartbeatIntervalMs;
        if (action.assign.length > 0) this.hooks.assigned(action.assign);
        if (action.revoke.length > 0) {
          const revocation = this.hooks
            .revoked(action.revoke)
            .catch((err: unknown) => logger.warn({ err, partitions: action.revoke }, 'revoking partitions failed; handing them back anyway'))
            .then(() => {
              this.membership.revoked(action.revoke);
              // Tell the coordinator at once: the next owner is waiting for these partitions.
              this.heartbeatNow = true;
              this.wake.notify();
            });
          this.revocations.add(revocation);
          void revocation.finally(() => this.revocations.delete(revocation));
        }
        return;
      }
      case 'lost':
        logger.warn({ groupId: this.options.groupId, partitions: action.lost, reason: action.reason }, 'partitions lost; rejoining the group');
        if (action.lost.length > 0) this.hooks.lost(action.lost, action.reason);
        this.heartbeatNow = true;
        return;
      case 'find-coordinator':
        this.coordinator = undefined;
        this.backoff(action.reason);
        return;
      case 'retry':
        this.backoff(action.reason);
        return;
      case 'fatal':
        this.running = false;
        this.hooks.failed(new RunnelError(errorInfo(action.errorCode).name, `group ${this.options.groupId}: ${action.message}`));
        return;
    }
  }

  private backoff(reason: string): void {
    const waitMs = backoffMs(this.retryOptions, this.failures++, this.options.random ?? Math.random);
    if (this.failures === 1) this.options.logger.info({ groupId: this.options.groupId, reason, waitMs }, 'group heartbeat failed; retrying');
    this.nextHeartbeatAtMs = this.options.clock.nowMs() + waitMs;
  }
}
