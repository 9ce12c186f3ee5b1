// Safety invariants of replication, checked after every simulation step:
// - the high watermark never moves back on a leader within an epoch;
// - "committed" = every record below any high watermark a leader ever published; a committed record
//   never changes, and every member of the controller's ISR holds all of them at the same offsets
//   (so ISR members never diverge below the high watermark and none truncates a committed record);
// - an acknowledged record was committed when the producer heard of it, and (final check) is still in
//   the log at the same offset after the cluster recovered from everything the run did to it.

import type { LogRecord, SimLog } from './sim-log.js';

export type ViolationKind = 'hw-regressed' | 'committed-changed' | 'committed-missing-on-isr-member' | 'ack-not-committed' | 'ack-lost' | 'no-convergence' | 'exception';

export interface Violation {
  kind: ViolationKind;
  step: number;
  message: string;
}

export interface NodeView {
  id: number;
  up: boolean;
  log: SimLog;
}

/** Per kind: a broken run repeats the same violation every step; the first few tell the story. */
const VIOLATIONS_KEPT_PER_KIND = 5;

export class ReplicationInvariants {
  readonly committed: LogRecord[] = [];
  readonly acked = new Map<number, string>();
  readonly violations: Violation[] = [];
  private readonly leaderHighWatermarks = new Map<number, number>();
  /** Per node: length of the prefix of `committed` its log is known to match. */
  private readonly verified = new Map<number, number>();
  step = 0;

  onLeaderHighWatermark(nodeId: number, leaderEpoch: number, highWatermark: number, log: SimLog): void {
    const previous = this.leaderHighWatermarks.get(leaderEpoch);
    if (previous !== undefined && highWatermark < previous) {
      this.report('hw-regressed', `leader ${nodeId} epoch ${leaderEpoch}: high watermark ${previous} -> ${highWatermark}`);
    }
    this.leaderHighWatermarks.set(leaderEpoch, Math.max(previous ?? 0, highWatermark));
    for (let offset = previous ?? 0; offset < highWatermark; offset++) {
      const record = log.recordAt(offset);
      if (record === undefined) {
        this.report('committed-missing-on-isr-member', `leader ${nodeId} epoch ${leaderEpoch} published high watermark ${highWatermark} beyond its log end ${log.logEndOffset}`);
        return;
      }
      const known = this.committed[offset];
      if (known === undefined) {
        if (offset === this.committed.length) this.committed.push(record);
      } else if (known !== record) {
        this.report('committed-changed', `leader ${nodeId} epoch ${leaderEpoch} committed ${describe(record)} where ${describe(known)} was committed`);
        return;
      }
    }
  }

  onAck(offset: number, payload: string): void {
    const earlier = this.acked.get(offset);
    if (earlier !== undefined && earlier !== payload) this.report('ack-lost', `offset ${offset} acknowledged twice: ${earlier} then ${payload}`);
    this.acked.set(offset, payload);
    const record = this.committed[offset];
    if (record === undefined || record.payload !== payload) {
      this.report('ack-not-committed', `ack of ${payload} at offset ${offset}, but committed there: ${record === undefined ? 'nothing' : describe(record)}`);
    }
  }

  checkStep(nodes: readonly NodeView[], controllerIsr: readonly number[]): void {
    for (const node of nodes) {
      const log = node.log;
      let matched = Math.min(this.verified.get(node.id) ?? 0, log.changedFrom);
      log.changedFrom = Number.POSITIVE_INFINITY;
      const readable = log.readableLength();
      while (matched < this.committed.length && matched < readable && log.recordAt(matched) === this.committed[matched]) matched++;
      this.verified.set(node.id, matched);
      if (controllerIsr.includes(node.id) && matched < this.committed.length) {
        const have = log.recordAt(matched);
        const lostAck = [...this.acked.keys()].some((offset) => offset >= matched && offset < this.committed.length);
        this.report(
          'committed-missing-on-isr-member',
          `ISR member ${node.id} (${node.up ? 'up' : 'down'}) lacks committed ${describe(this.committed[matched] as LogRecord)}; has ${have === undefined || matched >= readable ? 'nothing' : describe(have)}${lostAck ? ' (an acknowledged record is among them)' : ''}`,
        );
      }
    }
  }

  /** After the cluster has healed and converged: every acknowledged record is in the leader's log. */
  checkFinal(leaderLog: SimLog): void {
    for (const [offset, payload] of this.acked) {
      const record = leaderLog.recordAt(offset);
      if (record === undefined || record.payload !== payload) {
        this.report('ack-lost', `acknowledged ${payload} at offset ${offset} is gone after recovery; the log has ${record === undefined ? 'nothing' : describe(record)} there`);
      }
    }
  }

  report(kind: ViolationKind, message: string): void {
    const kept = this.violations.filter((violation) => violation.kind === kind).length;
    if (kept < VIOLATIONS_KEPT_PER_KIND) this.violations.push({ kind, step: this.step, message });
  }
}

function describe(record: LogRecord): string {
  return `${record.payload}@${record.offset}(epoch ${record.epoch})`;
}
