// In-memory network: every message gets a random delay (so messages overtake each other), some are
// dropped, and links can be cut in both directions. Messages to an earlier incarnation of a process
// are discarded (its connections died with it); messages FROM a dead incarnation may still arrive,
// which is the harsher case.

import type { Envelope, SimMessage } from './messages.js';
import type { Prng } from './prng.js';

export interface NetworkOptions {
  delayMinMs: number;
  delayMaxMs: number;
  dropProbability: number;
  /** Bound on messages in flight; the simulation fails loudly rather than grow without limit. */
  inFlightMax: number;
}

function linkKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export class SimNetwork {
  private inFlight: Envelope[] = [];
  private readonly cut = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly prng: Prng,
    private readonly options: NetworkOptions,
  ) {}

  send(from: number, fromIncarnation: number, to: number, toIncarnation: number, message: SimMessage, nowMs: number): void {
    if (this.inFlight.length >= this.options.inFlightMax) throw new Error(`network: more than ${this.options.inFlightMax} messages in flight`);
    const deliverAtMs = nowMs + this.prng.intBetween(this.options.delayMinMs, this.options.delayMaxMs);
    this.inFlight.push({ from, fromIncarnation, to, toIncarnation, deliverAtMs, message });
  }

  isCut(a: number, b: number): boolean {
    return this.cut.has(linkKey(a, b));
  }

  cutLink(a: number, b: number): void {
    this.cut.add(linkKey(a, b));
  }

  healAll(): void {
    this.cut.clear();
  }

  cutCount(): number {
    return this.cut.size;
  }

  /** Due messages, in random order, minus the ones dropped or sent over a cut link. */
  takeDue(nowMs: number): Envelope[] {
    const due: Envelope[] = [];
    const later: Envelope[] = [];
    for (const envelope of this.inFlight) (envelope.deliverAtMs <= nowMs ? due : later).push(envelope);
    this.inFlight = later;
    this.prng.shuffle(due);
    const out: Envelope[] = [];
    for (const envelope of due) {
      if (this.isCut(envelope.from, envelope.to) || this.prng.chance(this.options.dropProbability)) {
        this.dropped++;
        continue;
      }
      this.delivered++;
      out.push(envelope);
    }
    return out;
  }
}
