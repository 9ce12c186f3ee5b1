// The acknowledged-records checker of the failover drills and `runnel bench failover`. Producers tell
// it what they were told (acknowledged topic/partition/offset/key/value) and what they attempted
// without an acknowledgement (failed or unknown outcome); a read of every partition from the
// beginning is then checked against that ledger. Every value handed to it must be unique: the value
// is how a record read back is matched to the attempt that wrote it.
//
// What counts as a violation (issue 4's checker):
// - lost: an acknowledged record that is not read back at all;
// - duplicate: an acknowledged record read back more than once (anywhere in its topic);
// - out of order: offsets of a partition read back not strictly increasing, or two records acknowledged
//   to one partition by one producer read back in an order other than the one they were sent in;
// - unacknowledged duplicate: an attempted but unacknowledged record read back more than once (a retry
//   that was written twice; it may appear once, since an unknown outcome may have been written);
// - moved: an acknowledged record read back at another partition or offset than it was acknowledged at;
// - acknowledged twice: the producer side reported two different positions for one value;
// - unexpected: a record read back that no producer attempted (the log holds something it should not).

/** An acknowledgement a producer received. */
export interface AckedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string;
  /** Which producer sent it; with `order`, used to check that a partition keeps send order. */
  readonly producer?: string;
  /** Position in that producer's send order (increasing), if order is to be checked. */
  readonly order?: number;
}

/** A record that was attempted but not acknowledged (the send failed or its outcome is unknown). */
export interface UnackedRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: string;
}

/** A record as read back. */
export interface ReadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

export type ViolationKind = 'lost' | 'duplicate' | 'out-of-order' | 'unacked-duplicate' | 'moved' | 'acked-twice' | 'unexpected';

export interface Violation {
  readonly kind: ViolationKind;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string | null;
  readonly detail: string;
}

export interface AckCheckReport {
  readonly ok: boolean;
  readonly acknowledged: number;
  readonly unacknowledged: number;
  readonly read: number;
  /** Unacknowledged records that were nevertheless written once (allowed: outcome unknown). */
  readonly unackedWritten: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly unackedDuplicates: number;
  readonly moved: number;
  readonly ackedTwice: number;
  readonly unexpected: number;
  /** The first violations, up to the report's bound. */
  readonly violations: readonly Violation[];
}

/** Violations kept in a report; the counts above are complete either way. */
export const VIOLATIONS_REPORTED_MAX = 50;

interface Attempt {
  readonly topic: string;
  readonly key: string | null;
  acked: AckedRecord | undefined;
  /** Set when an acknowledgement for this value came twice with different positions. */
  conflictingAck: AckedRecord | undefined;
}

/** The ledger of what producers were told, and the check of a read-back against it. */
export class AckChecker {
  private readonly attempts = new Map<string, Attempt>();
  private ackedCount = 0;

  /** Records an acknowledgement. A value acknowledged twice at one position counts once. */
  recordAcked(record: AckedRecord): void {
    const attempt = this.attempts.get(record.value);
    if (attempt === undefined) {
      this.attempts.set(record.value, { topic: record.topic, key: record.key, acked: record, conflictingAck: undefined });
      this.ackedCount++;
      return;
    }
    if (attempt.acked === undefined) {
      attempt.acked = record;
      this.ackedCount++;
      return;
    }
    if (attempt.acked.partition !== record.partition || attempt.acked.offset !== record.offset || attempt.acked.topic !== record.topic) {
      attempt.conflictingAck ??= record;
    }
  }

  /** Records an attempt without an acknowledgement. Ignored if the value is already acknowledged. */
  recordUnacked(record: UnackedRecord): void {
    if (this.attempts.has(record.value)) return;
    this.attempts.set(record.value, { topic: record.topic, key: record.key, acked: undefined, conflictingAck: undefined });
  }

  get acknowledged(): number {
    return this.ackedCount;
  }

  get attempted(): number {
    return this.attempts.size;
  }

  /** Topics anything was attempted on. */
  topics(): string[] {
    return [...new Set([...this.attempts.values()].map((a) => a.topic))].sort();
  }

  /** The key `value` was attempted with; undefined when it was never attempted. */
  keyOf(value: string): string | null | undefined {
    return this.attempts.get(value)?.key;
  }

  /** Whether `value` was acknowledged. */
  isAcked(value: string): boolean {
    return this.attempts.get(value)?.acked !== undefined;
  }

  /**
   * Checks a read-back of every partition of the ledger's topics, from the beginning, in the order
   * each partition was read (records of different partitions may interleave).
   */
  check(read: readonly ReadRecord[]): AckCheckReport {
    const violations: Violation[] = [];
    const counts: Record<ViolationKind, number> = { lost: 0, duplicate: 0, 'out-of-order': 0, 'unacked-duplicate': 0, moved: 0, 'acked-twice': 0, unexpected: 0 };
    const report = (violation: Violation): void => {
      counts[violation.kind]++;
      if (violations.length < VIOLATIONS_REPORTED_MAX) violations.push(violation);
    };
    const timesRead = new Map<string, number>();
    const lastOffsetOf = new Map<string, number>();
    const lastOrderOf = new Map<string, { order: number; value: string }>();
    for (const record of read) {
      const where = `${record.topic}-${record.partition}`;
      const previousOffset = lastOffsetOf.get(where);
      if (previousOffset !== undefined && record.offset <= previousOffset) {
        report({ kind: 'out-of-order', ...position(record), detail: `offset ${record.offset} read after offset ${previousOffset}` });
      }
      lastOffsetOf.set(where, record.offset);
      const attempt = record.value === null ? undefined : this.attempts.get(record.value);
      if (attempt === undefined || attempt.topic !== record.topic) {
        report({ kind: 'unexpected', ...position(record), detail: 'no producer attempted this record' });
        continue;
      }
      const value = record.value as string;
      const count = (timesRead.get(value) ?? 0) + 1;
      timesRead.set(value, count);
      const acked = attempt.acked;
      if (acked === undefined) {
        if (count === 2) report({ kind: 'unacked-duplicate', ...position(record), detail: 'an unacknowledged record was written more than once' });
        continue;
      }
      if (count === 2) report({ kind: 'duplicate', ...position(record), detail: `acknowledged at ${acked.partition}/${acked.offset}, read again` });
      if (count > 1) continue;
      if (acked.partition !== record.partition || acked.offset !== record.offset) {
        report({ kind: 'moved', ...position(record), detail: `acknowledged at partition ${acked.partition} offset ${acked.offset}` });
      }
      if (acked.producer !== undefined && acked.order !== undefined) {
        const stream = `${where}\u0000${acked.producer}`;
        const previous = lastOrderOf.get(stream);
        if (previous !== undefined && acked.order < previous.order) {
          report({ kind: 'out-of-order', ...position(record), detail: `producer ${acked.producer} sent it before "${previous.value}", which was read earlier` });
        }
        if (previous === undefined || acked.order > previous.order) lastOrderOf.set(stream, { order: acked.order, value });
      }
    }
    let unackedWritten = 0;
    for (const [value, attempt] of this.attempts) {
      const acked = attempt.acked;
      if (acked === undefined) {
        if ((timesRead.get(value) ?? 0) > 0) unackedWritten++;
        continue;
      }
      if (attempt.conflictingAck !== undefined) {
        const other = attempt.conflictingAck;
        report({ kind: 'acked-twice', topic: acked.topic, partition: acked.partition, offset: acked.offset, value, detail: `also acknowledged at partition ${other.partition} offset ${other.offset}` });
      }
      if ((timesRead.get(value) ?? 0) === 0) {
        report({ kind: 'lost', topic: acked.topic, partition: acked.partition, offset: acked.offset, value, detail: 'acknowledged but not read back' });
      }
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      ok: total === 0,
      acknowledged: this.ackedCount,
      unacknowledged: this.attempts.size - this.ackedCount,
      read: read.length,
      unackedWritten,
      lost: counts.lost,
      duplicates: counts.duplicate,
      outOfOrder: counts['out-of-order'],
      unackedDuplicates: counts['unacked-duplicate'],
      moved: counts.moved,
      ackedTwice: counts['acked-twice'],
      unexpected: counts.unexpected,
      violations,
    };
  }
}

function position(record: ReadRecord): { topic: string; partition: number; offset: number; value: string | null } {
  return { topic: record.topic, partition: record.partition, offset: record.offset, value: record.value };
}

/** One line of counts, then one line per reported violation. */
export function formatAckCheckReport(report: AckCheckReport): string {
  const head = `${report.ok ? 'OK' : 'VIOLATIONS'}: acknowledged ${report.acknowledged}, unacknowledged ${report.unacknowledged} ` +
    `(${report.unackedWritten} written anyway), read ${report.read}; lost ${report.lost}, duplicates ${report.duplicates}, ` +
    `out of order ${report.outOfOrder}, unacknowledged duplicates ${report.unackedDuplicates}, moved ${report.moved}, ` +
    `acknowledged twice ${report.ackedTwice}, unexpected ${report.unexpected}`;
  const lines = report.violations.map((v) => `  ${v.kind} ${v.topic}-${v.partition}@${v.offset} ${JSON.stringify(v.value)}: ${v.detail}`);
  return [head, ...lines].join('\n');
}
