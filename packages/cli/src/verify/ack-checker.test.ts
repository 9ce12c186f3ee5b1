import { describe, expect, it } from 'vitest';
import { AckChecker, formatAckCheckReport } from './ack-checker.js';
import type { ReadRecord } from './ack-checker.js';

const T = 'orders';

/** Three records acknowledged on partition 0 at offsets 0..2 by producer "p", in send order. */
function ledger(): AckChecker {
  const checker = new AckChecker();
  for (let i = 0; i < 3; i++) checker.recordAcked({ topic: T, partition: 0, offset: i, key: 'k', value: `v${i}`, producer: 'p', order: i });
  return checker;
}

function read(partition: number, offset: number, value: string | null): ReadRecord {
  return { topic: T, partition, offset, key: 'k', value };
}

const clean = [read(0, 0, 'v0'), read(0, 1, 'v1'), read(0, 2, 'v2')];

describe('the acknowledged-records checker', () => {
  it('passes a read-back that holds every acknowledged record once, in order, where acknowledged', () => {
    const report = ledger().check(clean);
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ acknowledged: 3, read: 3, lost: 0, duplicates: 0, outOfOrder: 0 });
  });

  it('reports an acknowledged record that is not read back as lost', () => {
    const report = ledger().check([clean[0]!, clean[2]!]);
    expect(report.ok).toBe(false);
    expect(report.lost).toBe(1);
    expect(report.violations[0]).toMatchObject({ kind: 'lost', value: 'v1', offset: 1 });
  });

  it('reports an acknowledged record read back twice as a duplicate', () => {
    const report = ledger().check([...clean, read(0, 3, 'v1')]);
    expect(report.duplicates).toBe(1);
    expect(report.violations.map((v) => v.kind)).toEqual(['duplicate']);
  });

  it('reports offsets of a partition that do not increase as out of order', () => {
    const report = ledger().check([clean[0]!, clean[2]!, clean[1]!]);
    expect(report.outOfOrder).toBeGreaterThan(0);
    expect(report.violations.some((v) => v.kind === 'out-of-order' && v.offset === 1)).toBe(true);
  });

  it('reports records of one producer read back in another order than sent as out of order', () => {
    const checker = new AckChecker();
    // Sent a then b, but the partition holds b before a (the acks agree with the log, so nothing moved).
    checker.recordAcked({ topic: T, partition: 0, offset: 1, key: 'k', value: 'a', producer: 'p', order: 0 });
    checker.recordAcked({ topic: T, partition: 0, offset: 0, key: 'k', value: 'b', producer: 'p', order: 1 });
    const report = checker.check([read(0, 0, 'b'), read(0, 1, 'a')]);
    expect(report.outOfOrder).toBe(1);
    expect(report.moved).toBe(0);
  });

  it('allows an unacknowledged record once but reports it written twice', () => {
    const once = ledger();
    once.recordUnacked({ topic: T, key: 'k', value: 'u' });
    const onceReport = once.check([...clean, read(0, 3, 'u')]);
    expect(onceReport.ok).toBe(true);
    expect(onceReport.unackedWritten).toBe(1);

    const twice = ledger();
    twice.recordUnacked({ topic: T, key: 'k', value: 'u' });
    const twiceReport = twice.check([...clean, read(0, 3, 'u'), read(0, 4, 'u')]);
    expect(twiceReport.unackedDuplicates).toBe(1);
    expect(twiceReport.ok).toBe(false);
  });

  it('reports an acknowledged record read at another offset than acknowledged as moved', () => {
    const report = ledger().check([read(0, 0, 'v0'), read(0, 1, 'v2'), read(0, 2, 'v1')]);
    expect(report.moved).toBe(2);
    expect(report.violations.filter((v) => v.kind === 'moved').map((v) => v.value)).toEqual(['v2', 'v1']);
  });

  it('reports an acknowledged record read on another partition as moved', () => {
    const report = ledger().check([clean[0]!, clean[1]!, read(1, 2, 'v2')]);
    expect(report.moved).toBe(1);
  });

  it('reports a value acknowledged at two positions', () => {
    const checker = ledger();
    checker.recordAcked({ topic: T, partition: 0, offset: 7, key: 'k', value: 'v1' });
    expect(checker.check(clean).ackedTwice).toBe(1);
    // The same acknowledgement repeated is not a conflict.
    const repeated = ledger();
    repeated.recordAcked({ topic: T, partition: 0, offset: 1, key: 'k', value: 'v1' });
    expect(repeated.check(clean).ok).toBe(true);
  });

  it('reports records nobody attempted as unexpected', () => {
    const report = ledger().check([...clean, read(0, 3, 'stray'), read(0, 4, null)]);
    expect(report.unexpected).toBe(2);
  });

  it('an acknowledgement after an unknown outcome turns the attempt into an acknowledged one', () => {
    const checker = new AckChecker();
    checker.recordUnacked({ topic: T, key: 'k', value: 'x' });
    checker.recordAcked({ topic: T, partition: 0, offset: 0, key: 'k', value: 'x' });
    expect(checker.acknowledged).toBe(1);
    expect(checker.check([]).lost).toBe(1);
  });

  it('formats counts and each violation on its own line', () => {
    const text = formatAckCheckReport(ledger().check([clean[0]!]));
    expect(text.split('\n')[0]).toMatch(/^VIOLATIONS: acknowledged 3, .* lost 2,/);
    expect(text.split('\n')).toHaveLength(3);
  });
});
