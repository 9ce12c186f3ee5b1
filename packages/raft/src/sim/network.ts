// An in-memory network with a manual clock counted in simulation steps. Every fault it injects
// (loss, delay and therefore reordering, duplication, partitions, overflow) is drawn from a seeded
// Prng, so a run is a pure function of its seed.

import type { Message, NodeId } from '../core/types.js';
import type { Prng } from './prng.js';

export interface NetworkFaults {
  /** Probability that a message is lost on send. */
  readonly dropProbability: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicateProbability: number;
  /** Delivery delay is uniform in [minDelaySteps, maxDelaySteps]; a spread reorders messages. */
  readonly minDelaySteps: number;
  readonly maxDelaySteps: number;
}

export const PERFECT_NETWORK: NetworkFaults = {
  dropProbability: 0,
  duplicateProbability: 0,
  minDelaySteps: 1,
  maxDelaySteps: 1,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  droppedRandom: number;
  droppedPartition: number;
  /** Messages evicted because the in-flight queue was at its cap (oldest first). */
  droppedOverflow: number;
  duplicated: number;
}

interface InFlight {
  readonly message: Message;
  readonly deliverAtStep: number;
  /** Send order; breaks ties between messages due at the same step so delivery order is stable. */
  readonly seq: number;
}

export class SimNetwork {
  private nowStep = 0;
  private seq = 0;
  private inFlight: InFlight[] = [];
  /** node -> partition group; nodes absent from the map share the implicit group -1. */
  private groupOf = new Map<NodeId, number>();
  private faults: NetworkFaults = PERFECT_NETWORK;
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, droppedRandom: 0, droppedPartition: 0, droppedOverflow: 0, duplicated: 0,
  };

  constructor(
    private readonly random: Prng,
    /** Bound on messages in flight; a leader blasting a dead peer must not grow memory without limit. */
    readonly maxInFlightMessages = 10_000,
  ) {
    if (maxInFlightMessages < 1) throw new Error('maxInFlightMessages must be >= 1');
  }

  get step(): number {
    return this.nowStep;
  }

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  setFaults(faults: NetworkFaults): void {
    if (faults.minDelaySteps < 1 || faults.maxDelaySteps < faults.minDelaySteps) {
      throw new Error(`bad delay range [${faults.minDelaySteps}, ${faults.maxDelaySteps}]`);
    }
    this.faults = faults;
  }

  /** Split the nodes into groups that cannot talk to each other. Unlisted nodes form one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.groupOf.clear();
    groups.forEach((group, i) => {
      for (const id of group) {
        if (this.groupOf.has(id)) throw new Error(`node ${id} listed in two partition groups`);
        this.groupOf.set(id, i);
      }
    });
  }

  heal(): void {
    this.groupOf.clear();
  }

  get partitioned(): boolean {
    return this.groupOf.size > 0;
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return (this.groupOf.get(from) ?? -1) === (this.groupOf.get(to) ?? -1);
  }

  send(message: Message): void {
    this.stats.sent++;
    if (this.random.chance(this.faults.dropProbability)) {
      this.stats.droppedRandom++;
      return;
    }
    this.enqueue(message);
    if (this.random.chance(this.faults.duplicateProbability)) {
      this.stats.duplicated++;
      this.enqueue(message);
    }
  }

  /**
   * Advance the clock one step and return the messages due now, in (due step, send order). A
   * partition is checked at delivery too: a partition that forms while a message is on the wire cuts it.
   */
  advance(): Message[] {
    this.nowStep++;
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const m of this.inFlight) (m.deliverAtStep <= this.nowStep ? due : later).push(m);
    this.inFlight = later;
    due.sort((x, y) => x.deliverAtStep - y.deliverAtStep || x.seq - y.seq);
    const out: Message[] = [];
    for (const m of due) {
      if (!this.canReach(m.message.from, m.message.to)) {
        this.stats.droppedPartition++;
        continue;
      }
      this.stats.delivered++;
      out.push(m.message);
    }
    return out;
  }

  /** Forget everything addressed to or sent by a node, e.g. when the simulation drops it. */
  dropAllFor(id: NodeId): void {
    this.inFlight = this.inFlight.filter((m) => m.message.to !== id && m.message.from !== id);
  }

  private enqueue(message: Message): void {
    if (!this.canReach(message.from, message.to)) {
      this.stats.droppedPartition++;
      return;
    }
    const { minDelaySteps, maxDelaySteps } = this.faults;
    const delay = minDelaySteps + this.random.int(maxDelaySteps - minDelaySteps + 1);
    this.inFlight.push({ message, deliverAtStep: this.nowStep + delay, seq: this.seq++ });
    if (this.inFlight.length > this.maxInFlightMessages) {
      // Oldest by send order is at the front: pushes are in seq order and advance() keeps that order.
      this.inFlight.shift();
      this.stats.droppedOverflow++;
    }
  }
}
