// A tiny stand-in for the quorum controller, with the rules that matter to replication safety:
// - a broker it cannot see for longer than the session timeout is fenced: removed from the ISR (unless
//   it is the last member, which Kafka keeps so the partition can come back cleanly) and, if it led
//   the partition, replaced by another ISR member with a bumped leader epoch (clean election only);
// - a broker that comes back with a new incarnation (it restarted) is fenced first, so it never
//   resumes leadership in an epoch whose records it may have lost;
// - AlterPartition is applied only from the current leader, in the current leader epoch, on the
//   current partition epoch, from the broker's current incarnation (KIP-903), and only adds unfenced
//   brokers.

import type { ErrorCodeName } from '@runnel/protocol';
import type { IsrChangeRequest } from '../core/types.js';
import { NO_LEADER } from '../core/types.js';
import type { PartitionMetadata } from './messages.js';

export interface ControllerOptions {
  sessionTimeoutMs: number;
  metadataPushIntervalMs: number;
}

export interface BrokerVisibility {
  id: number;
  /** Up and reachable from the controller right now. */
  visible: boolean;
  incarnation: number;
}

export interface ControllerEffects {
  pushMetadata(to: number, incarnation: number, metadata: PartitionMetadata): void;
  trace(line: string): void;
}

export type AlterPartitionAnswer = { error: ErrorCodeName } | { error: undefined; isr: readonly number[]; partitionEpoch: number };

export class StandInController {
  private state: PartitionMetadata;
  private readonly fenced = new Set<number>();
  private readonly lastSeenMs = new Map<number, number>();
  private readonly incarnations = new Map<number, number>();
  private lastPushMs = 0;
  elections = 0;

  constructor(
    replicas: readonly number[],
    private readonly options: ControllerOptions,
    private readonly effects: ControllerEffects,
  ) {
    const leaderId = replicas[0] ?? NO_LEADER;
    this.state = { leaderId, leaderEpoch: 0, partitionEpoch: 0, replicas: [...replicas], isr: [...replicas] };
    for (const id of replicas) {
      this.lastSeenMs.set(id, 0);
      this.incarnations.set(id, 0);
    }
  }

  get metadata(): PartitionMetadata {
    return this.state;
  }

  isFenced(id: number): boolean {
    return this.fenced.has(id);
  }

  tick(nowMs: number, brokers: readonly BrokerVisibility[]): void {
    for (const broker of brokers) {
      if (broker.visible) {
        this.lastSeenMs.set(broker.id, nowMs);
        if (broker.incarnation !== this.incarnations.get(broker.id)) {
          // Re-registration after a restart.
          this.fence(broker.id, `broker ${broker.id} re-registered (incarnation ${broker.incarnation})`);
          this.incarnations.set(broker.id, broker.incarnation);
        }
        if (this.fenced.has(broker.id)) this.unfence(broker.id);
      } else if (!this.fenced.has(broker.id) && nowMs - (this.lastSeenMs.get(broker.id) ?? 0) > this.options.sessionTimeoutMs) {
        this.fence(broker.id, `broker ${broker.id} missed its session timeout`);
      }
    }
    if (nowMs - this.lastPushMs >= this.options.metadataPushIntervalMs) {
      this.lastPushMs = nowMs;
      this.pushAll();
    }
  }

  alterPartition(from: number, fromIncarnation: number, request: IsrChangeRequest): AlterPartitionAnswer {
    const state = this.state;
    if (fromIncarnation !== this.incarnations.get(from)) return { error: 'STALE_BROKER_EPOCH' };
    if (from !== state.leaderId) return { error: 'NOT_LEADER_OR_FOLLOWER' };
    if (request.leaderEpoch !== state.leaderEpoch) return { error: 'FENCED_LEADER_EPOCH' };
    if (request.partitionEpoch !== state.partitionEpoch) return { error: 'INVALID_UPDATE_VERSION' };
    const newIsr = request.newIsr;
    if (!newIsr.includes(state.leaderId) || !newIsr.every((id) => state.replicas.includes(id)) || new Set(newIsr).size !== newIsr.length) {
      return { error: 'INVALID_REQUEST' };
    }
    if (newIsr.some((id) => !state.isr.includes(id) && this.fenced.has(id))) return { error: 'INELIGIBLE_REPLICA' };
    this.state = { ...state, isr: [...newIsr], partitionEpoch: state.partitionEpoch + 1 };
    this.effects.trace(`controller: ISR -> [${newIsr.join(',')}] (partition epoch ${this.state.partitionEpoch})`);
    this.pushAll();
    return { error: undefined, isr: this.state.isr, partitionEpoch: this.state.partitionEpoch };
  }

  /**
   * Moves leadership to another unfenced ISR member, keeping the ISR (Kafka's preferred-leader
   * election and controlled shutdown). Unlike a failover, the old leader stays in the ISR, so the new
   * leader starts with a high watermark that may lag what the old one published.
   */
  moveLeadership(pickIndex: (count: number) => number): boolean {
    const state = this.state;
    const candidates = state.isr.filter((id) => id !== state.leaderId && !this.fenced.has(id));
    if (state.leaderId === NO_LEADER || candidates.length === 0) return false;
    const leaderId = candidates[pickIndex(candidates.length)] as number;
    this.state = { ...state, leaderId, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1 };
    this.elections++;
    this.effects.trace(`controller: leadership moved to ${leaderId} epoch ${this.state.leaderEpoch} ISR [${state.isr.join(',')}]`);
    this.pushAll();
    return true;
  }

  private fence(id: number, why: string): void {
    if (this.fenced.has(id)) return;
    this.fenced.add(id);
    const state = this.state;
    const isr = state.isr.length > 1 ? state.isr.filter((member) => member !== id) : state.isr;
    if (state.leaderId === id) {
      this.elect({ ...state, isr }, why);
    } else if (isr.length !== state.isr.length) {
      this.state = { ...state, isr, partitionEpoch: state.partitionEpoch + 1 };
      this.effects.trace(`controller: ${why}; ISR -> [${isr.join(',')}]`);
      this.pushAll();
    }
  }

  private unfence(id: number): void {
    this.fenced.delete(id);
    if (this.state.leaderId === NO_LEADER && this.state.isr.includes(id)) {
      this.elect(this.state, `broker ${id} is back and in the ISR`);
    } else {
      this.push(id);
    }
  }

  /** Clean election: only an unfenced ISR member may lead. */
  private elect(base: PartitionMetadata, why: string): void {
    const leaderId = base.isr.find((id) => !this.fenced.has(id)) ?? NO_LEADER;
    this.state = { ...base, leaderId, leaderEpoch: base.leaderEpoch + 1, partitionEpoch: base.partitionEpoch + 1 };
    this.elections++;
    this.effects.trace(`controller: ${why}; leader ${leaderId} epoch ${this.state.leaderEpoch} ISR [${this.state.isr.join(',')}]`);
    this.pushAll();
  }

  pushAll(): void {
    for (const id of this.state.replicas) if (!this.fenced.has(id)) this.push(id);
  }

  private push(id: number): void {
    this.effects.pushMetadata(id, this.incarnations.get(id) ?? 0, this.state);
  }
}
