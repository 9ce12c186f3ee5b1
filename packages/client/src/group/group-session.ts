// A consumer's life in a group: subscribe, get partitions from the coordinator, start them at their
// committed offsets, commit what the handlers finished (auto-commit on an interval, on revocation and
// on close; or manually), and give revoked partitions back only after their in-flight handler
// returned and their offsets are committed. The fetching itself stays in the Consumer, reached
// through the small GroupConsumerHost interface.

import { RunnelError } from '@runnel/protocol';
import type { Cluster } from '../cluster.js';
import { GroupMember } from './group-member.js';
import type { CommitOffset, GroupTransport } from './group-member.js';
import { tpKey } from './membership.js';
import type { TopicPartition } from './membership.js';

/** What the session needs of the Consumer that fetches for it. */
export interface GroupConsumerHost {
  /** Starts fetching these partitions at the given offsets (undefined: the reset policy). */
  addPartitions(partitions: Array<TopicPartition & { offset?: number }>): void;
  /** Stops fetching these, drops their buffered messages, and resolves once no handler runs on them. */
  removePartitions(partitions: readonly TopicPartition[]): Promise<void>;
  /** Stops the consumer with this error. */
  fail(error: RunnelError): void;
  emit(event: string, payload: unknown): void;
}

export interface GroupSessionOptions {
  groupId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  /** Called (and awaited) before revoked partitions' offsets are committed. */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => Promise<void> | void;
  onPartitionsAssigned?: (partitions: TopicPartition[]) => Promise<void> | void;
}

export interface Subscription {
  topics: Array<string | RegExp>;
}

export class GroupSession {
  readonly member: GroupMember;
  /** Next offset to read per partition, as far as handlers have finished: what a commit sends. */
  private readonly processed = new Map<string, { topic: string; partition: number; offset: number; leaderEpoch: number }>();
  /** Last offset committed per partition, so unchanged partitions are not committed again. */
  private readonly committedOffsets = new Map<string, number>();
  private readonly owned = new Set<string>();
  private autoCommitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    transport: GroupTransport,
    private readonly host: GroupConsumerHost,
    private readonly options: GroupSessionOptions,
  ) {
    this.member = new GroupMember(
      {
        groupId: options.groupId,
        clientId: options.clientId,
        clientHost: '',
        sessionTimeoutMs: options.sessionTimeoutMs,
        rebalanceTimeoutMs: options.rebalanceTimeoutMs,
        requestTimeoutMs: cluster.options.requestTimeoutMs,
        clock: cluster.options.clock,
        logger: cluster.logger,
        random: cluster.options.random,
      },
      transport,
      {
        assigned: (partitions) => this.onAssigned(partitions),
        revoked: (partitions) => this.onRevoked(partitions),
        lost: (partitions, reason) => this.onLost(partitions, reason),
        failed: (error) => host.fail(error),
      },
    );
  }

  subscribe(subscription: Subscription): void {
    if (subscription.topics.length === 0) throw new RangeError('subscribe() needs at least one topic or RegExp');
    const names: string[] = [];
    const patterns: string[] = [];
    for (const t of subscription.topics) {
      if (typeof t === 'string') names.push(t);
      else if (t instanceof RegExp) patterns.push(`(?:${t.source})`);
      else throw new TypeError('topics must be strings or RegExps');
    }
    this.member.start({ topics: names, ...(patterns.length > 0 ? { regex: `^(?:${patterns.join('|')})$` } : {}) });
    if (this.options.autoCommit && this.autoCommitTimer === undefined) {
      this.autoCommitTimer = setInterval(() => {
        this.commitProcessed(undefined).catch((err: unknown) => this.cluster.logger.warn({ err, groupId: this.options.groupId }, 'auto-commit failed; retrying on the next interval'));
      }, this.options.autoCommitIntervalMs);
      this.autoCommitTimer.unref();
    }
  }

  /** The handler finished every message of this partition below `nextOffset`. */
  markProcessed(topic: string, partition: number, nextOffset: number, leaderEpoch = -1): void {
    const key = tpKey(topic, partition);
    if (!this.owned.has(key)) return;
    const previous = this.processed.get(key);
    if (previous === undefined || nextOffset > previous.offset) this.processed.set(key, { topic, partition, offset: nextOffset, leaderEpoch });
  }

  /** Partitions this member processes now. */
  assignment(): TopicPartition[] {
    return this.member.membership.ownedPartitions();
  }

  /**
   * Commits `offsets` (next offset to read), or everything processed and not yet committed.
   * Commits run one at a time so an older commit never lands after a newer one.
   */
  commitOffsets(offsets?: readonly CommitOffset[]): Promise<void> {
    return this.commitProcessed(offsets);
  }

  private commitProcessed(explicit: readonly CommitOffset[] | undefined, only?: ReadonlySet<string>): Promise<void> {
    const run = async (): Promise<void> => {
      const toCommit: CommitOffset[] = [];
      if (explicit !== undefined) {
        toCommit.push(...explicit);
      } else {
        for (const [key, p] of this.processed) {
          if (only !== undefined && !only.has(key)) continue;
          if (this.committedOffsets.get(key) === p.offset) continue;
          toCommit.push({ topic: p.topic, partition: p.partition, offset: p.offset, leaderEpoch: p.leaderEpoch });
        }
      }
      if (toCommit.length === 0) return;
      await this.member.commit(toCommit);
      for (const c of toCommit) this.committedOffsets.set(tpKey(c.topic, c.partition), c.offset);
      this.host.emit('group.commit', { groupId: this.options.groupId, offsets: toCommit });
    };
    const next = this.committing.then(run, run);
    this.committing = next.catch(() => undefined);
    return next;
  }

  private onAssigned(partitions: TopicPartition[]): void {
    for (const p of partitions) this.owned.add(tpKey(p.topic, p.partition));
    void (async () => {
      let committed = new Map<string, number>();
      try {
        committed = await this.cluster.retry(() => this.member.committed(partitions), { operation: `fetch committed offsets of group ${this.options.groupId}` });
      } catch (err) {
        this.host.fail(err instanceof RunnelError ? err : new RunnelError('UNKNOWN_SERVER_ERROR', String(err), { cause: err }));
        return;
      }
      // A partition revoked while its offsets were being fetched must not start.
      const still = partitions.filter((p) => this.owned.has(tpKey(p.topic, p.partition)));
      this.host.addPartitions(
        still.map((p) => {
          const offset = committed.get(tpKey(p.topic, p.partition)) ?? -1;
          if (offset >= 0) this.committedOffsets.set(tpKey(p.topic, p.partition), offset);
          return offset >= 0 ? { ...p, offset } : { ...p };
        }),
      );
      this.host.emit('group.assigned', { groupId: this.options.groupId, partitions: still });
      await this.options.onPartitionsAssigned?.(still);
    })().catch((err: unknown) => this.cluster.logger.warn({ err }, 'onPartitionsAssigned failed'));
  }

  private async onRevoked(partitions: TopicPartition[]): Promise<void> {
    const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
    await this.host.removePartitions(partitions);
    try {
      await this.options.onPartitionsRevoked?.(partitions);
      if (this.options.autoCommit) await this.commitProcessed(undefined, keys);
    } finally {
      for (const key of keys) {
        this.owned.delete(key);
        this.processed.delete(key);
        this.committedOffsets.delete(key);
      }
      this.host.emit('group.revoked', { groupId: this.options.groupId, partitions });
    }
  }

  private onLost(partitions: TopicPartition[], reason: string): void {
    for (const p of partitions) {
      const key = tpKey(p.topic, p.partition);
      this.owned.delete(key);
      this.processed.delete(key);
      this.committedOffsets.delete(key);
    }
    // Fire and forget: another member may already own these, so nothing of them is committed.
    void this.host.removePartitions(partitions);
    this.host.emit('group.lost', { groupId: this.options.groupId, partitions, reason });
  }

  /** Commits what was processed, leaves the group, stops heartbeating. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.autoCommitTimer !== undefined) clearInterval(this.autoCommitTimer);
    await this.member.stop();
  }
}
