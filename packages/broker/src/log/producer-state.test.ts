// One test per rule of notes/api2.md "Idempotent producer: broker behaviour", against the pure state.
import { describe, expect, it } from 'vitest';
import { PRODUCER_BATCHES_RETAINED, ProducerStateManager, checkBatch, incrementSequence } from './producer-state.js';
import type { ProducerBatch, SequenceVerdict } from './producer-state.js';

const INT32_MAX = 0x7fffffff;
const T0 = 1_700_000_000_000;

/** A batch of `count` records from producer `producerId`, sequences from `firstSeq`. */
function batch(producerId: number, producerEpoch: number, firstSeq: number, count = 5): ProducerBatch {
  return { producerId, producerEpoch, baseSequence: firstSeq, lastOffsetDelta: count - 1 };
}

/** Leader-style appends one request at a time, placing batches at consecutive offsets. */
class Leader {
  readonly state = new ProducerStateManager();
  logEndOffset = 0;

  /** Appends the request's batches if all pass; returns each batch's verdict (or the refusal). */
  append(...batches: ProducerBatch[]): SequenceVerdict[] {
    const append = this.state.beginAppend();
    const verdicts: SequenceVerdict[] = [];
    let next = this.logEndOffset;
    for (const b of batches) {
      const verdict = append.check(b);
      verdicts.push(verdict);
      if (verdict.kind === 'refused') return verdicts;
      if (verdict.kind === 'duplicate') continue;
      const placement = { baseOffset: next, lastOffset: next + b.lastOffsetDelta, maxTimestampMs: T0 };
      if (verdict.kind === 'append') append.record(b, placement);
      next = placement.lastOffset + 1;
    }
    append.commit();
    this.logEndOffset = next;
    return verdicts;
  }
}

function kinds(verdicts: SequenceVerdict[]): string[] {
  return verdicts.map((v) => (v.kind === 'refused' ? v.codeName : v.kind));
}

describe('producer state: sequence rules', () => {
  it('accepts an unknown producer starting at sequence 0 and then each next sequence', () => {
    const leader = new Leader();
    expect(kinds(leader.append(batch(7, 0, 0)))).toEqual(['append']);
    expect(kinds(leader.append(batch(7, 0, 5)))).toEqual(['append']);
    expect(leader.state.entry(7)?.batches.map((b) => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset])).toEqual([
      [0, 4, 0, 4],
      [5, 9, 5, 9],
    ]);
  });

  it('refuses an unknown producer whose first batch does not start at sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER)', () => {
    const leader = new Leader();
    const [verdict] = leader.append(batch(7, 0, 5));
    expect(verdict).toMatchObject({ kind: 'refused', codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(leader.state.entry(7)).toBeUndefined();
  });

  it.each(Array.from({ length: PRODUCER_BATCHES_RETAINED }, (_, i) => i))(
    'answers a retry of the batch %i places back among the last five as a duplicate with its original offsets',
    (back) => {
      const leader = new Leader();
      for (let i = 0; i < 8; i++) leader.append(batch(7, 0, i * 5));
      // Another producer interleaves, so original offsets differ from what a new write would get.
      leader.append(batch(9, 0, 0, 3));
      const seq = (7 - back) * 5;
      const [verdict] = leader.append(batch(7, 0, seq));
      expect(verdict).toEqual({ kind: 'duplicate', original: { firstSeq: seq, lastSeq: seq + 4, baseOffset: seq, lastOffset: seq + 4, maxTimestampMs: T0 } });
      expect(leader.logEndOffset).toBe(43);
    },
  );

  it('refuses a retry of a batch older than the last five (it can no longer be told from a gap)', () => {
    const leader = new Leader();
    for (let i = 0; i < PRODUCER_BATCHES_RETAINED + 1; i++) leader.append(batch(7, 0, i * 5));
    expect(kinds(leader.append(batch(7, 0, 0)))).toEqual(['OUT_OF_ORDER_SEQUENCE_NUMBER']);
  });

  it('does not take a batch that only overlaps a cached one for a duplicate', () => {
    const leader = new Leader();
    leader.append(batch(7, 0, 0, 5));
    expect(kinds(leader.append(batch(7, 0, 0, 3)))).toEqual(['OUT_OF_ORDER_SEQUENCE_NUMBER']);
  });

  it('refuses a gap in the same epoch with OUT_OF_ORDER_SEQUENCE_NUMBER and says which sequence it expected', () => {
    const leader = new Leader();
    leader.append(batch(7, 0, 0));
    const [verdict] = leader.append(batch(7, 0, 10));
    expect(verdict).toMatchObject({ kind: 'refused', codeName: 'OUT_OF_ORDER_SEQUENCE_NUMBER', details: { expectedSequence: 5 } });
    expect(leader.state.entry(7)?.batches).toHaveLength(1);
  });

  it('accepts an epoch bump only at sequence 0, and forgets the old epoch\'s batches', () => {
    const leader = new Leader();
    leader.append(batch(7, 0, 0));
    leader.append(batch(7, 0, 5));
    expect(kinds(leader.append(batch(7, 1, 10)))).toEqual(['OUT_OF_ORDER_SEQUENCE_NUMBER']);
    expect(kinds(leader.append(batch(7, 1, 0)))).toEqual(['append']);
    expect(leader.state.entry(7)).toMatchObject({ producerEpoch: 1, batches: [{ firstSeq: 0, baseOffset: 10 }] });
  });

  it('refuses a stale epoch with INVALID_PRODUCER_EPOCH, even for a batch that was a duplicate under that epoch', () => {
    const leader = new Leader();
    leader.append(batch(7, 3, 0));
    leader.append(batch(7, 4, 0));
    expect(kinds(leader.append(batch(7, 3, 5)))).toEqual(['INVALID_PRODUCER_EPOCH']);
    expect(kinds(leader.append(batch(7, 3, 0)))).toEqual(['INVALID_PRODUCER_EPOCH']);
  });

  it('wraps sequences: after 2^31-1 comes 0', () => {
    expect(incrementSequence(INT32_MAX - 4, 4)).toBe(INT32_MAX);
    expect(incrementSequence(INT32_MAX - 1, 4)).toBe(2);
    expect(incrementSequence(INT32_MAX, 1)).toBe(0);
    const leader = new Leader();
    leader.state.update(batch(7, 0, INT32_MAX - 9), { baseOffset: 0, lastOffset: 4, maxTimestampMs: T0 });
    leader.logEndOffset = 5;
    // A batch straddling the wrap: sequences 2^31-5 .. 2^31-1, 0 .. 2 (lastSeq 2).
    const straddling = batch(7, 0, INT32_MAX - 4, 8);
    expect(kinds(leader.append(straddling))).toEqual(['append']);
    expect(leader.state.entry(7)?.batches.at(-1)).toMatchObject({ firstSeq: INT32_MAX - 4, lastSeq: 2 });
    expect(kinds(leader.append(straddling))).toEqual(['duplicate']);
    expect(kinds(leader.append(batch(7, 0, 4)))).toEqual(['OUT_OF_ORDER_SEQUENCE_NUMBER']);
    expect(kinds(leader.append(batch(7, 0, 3)))).toEqual(['append']);
  });

  it('checks several batches of one producer in one request against the earlier ones of that request', () => {
    const leader = new Leader();
    expect(kinds(leader.append(batch(7, 0, 0), batch(7, 0, 5), batch(7, 0, 10)))).toEqual(['append', 'append', 'append']);
    expect(leader.state.entry(7)?.batches.map((b) => b.baseOffset)).toEqual([0, 5, 10]);
    // The same batch twice in one request: the second is a duplicate of the first.
    expect(kinds(leader.append(batch(7, 0, 15), batch(7, 0, 15)))).toEqual(['append', 'duplicate']);
  });

  it('applies nothing of a request when a later batch of it is refused', () => {
    const leader = new Leader();
    leader.append(batch(7, 0, 0));
    expect(kinds(leader.append(batch(7, 0, 5), batch(8, 0, 0), batch(7, 0, 20)))).toEqual(['append', 'append', 'OUT_OF_ORDER_SEQUENCE_NUMBER']);
    expect(leader.state.entry(7)?.batches).toHaveLength(1);
    expect(leader.state.entry(8)).toBeUndefined();
    expect(kinds(leader.append(batch(7, 0, 5)))).toEqual(['append']);
  });

  it('keeps producers apart: one producer\'s sequences say nothing about another\'s', () => {
    const leader = new Leader();
    expect(kinds(leader.append(batch(7, 0, 0), batch(8, 2, 0), batch(7, 0, 5), batch(8, 2, 5)))).toEqual(['append', 'append', 'append', 'append']);
    expect(kinds(leader.append(batch(8, 2, 10)))).toEqual(['append']);
    expect(kinds(leader.append(batch(7, 0, 5)))).toEqual(['duplicate']);
    expect(kinds(leader.append(batch(8, 1, 0)))).toEqual(['INVALID_PRODUCER_EPOCH']);
    expect(leader.state.entry(7)?.producerEpoch).toBe(0);
  });

  it('never checks or tracks producerId -1', () => {
    const leader = new Leader();
    const plain = { producerId: -1, producerEpoch: -1, baseSequence: -1, lastOffsetDelta: 4 };
    expect(kinds(leader.append(plain, plain, plain))).toEqual(['unchecked', 'unchecked', 'unchecked']);
    expect(leader.logEndOffset).toBe(15);
    expect(leader.state.producerCount).toBe(0);
  });

  it('refuses an idempotent batch without a sequence as INVALID_RECORD', () => {
    expect(checkBatch(undefined, batch(7, 0, -1))).toMatchObject({ kind: 'refused', codeName: 'INVALID_RECORD' });
  });

  it('caches at most the last five batches of a producer', () => {
    const leader = new Leader();
    for (let i = 0; i < 12; i++) leader.append(batch(7, 0, i * 5));
    expect(leader.state.entry(7)?.batches.map((b) => b.firstSeq)).toEqual([35, 40, 45, 50, 55]);
  });
});

describe('producer state: followers and expiry', () => {
  it('records replicated batches without checks, including an epoch bump mid-sequence', () => {
    const state = new ProducerStateManager();
    state.update(batch(7, 0, 40), { baseOffset: 100, lastOffset: 104, maxTimestampMs: T0 });
    state.update(batch(7, 2, 3), { baseOffset: 105, lastOffset: 109, maxTimestampMs: T0 });
    expect(state.entry(7)).toEqual({
      producerId: 7,
      producerEpoch: 2,
      batches: [{ firstSeq: 3, lastSeq: 7, baseOffset: 105, lastOffset: 109, maxTimestampMs: T0 }],
      lastTimestampMs: T0,
    });
  });

  it('forgets a producer once its latest batch timestamp is producer.id.expiration.ms old', () => {
    const state = new ProducerStateManager();
    state.update(batch(7, 0, 0), { baseOffset: 0, lastOffset: 4, maxTimestampMs: T0 });
    state.update(batch(8, 0, 0), { baseOffset: 5, lastOffset: 9, maxTimestampMs: T0 + 500 });
    expect(state.removeExpired(T0 + 1_499, 1_000)).toBe(1);
    expect(state.entry(7)).toBeUndefined();
    expect(state.entry(8)).toBeDefined();
    expect(state.removeExpired(T0 + 1_500, 1_000)).toBe(1);
    expect(state.producerCount).toBe(0);
  });

  it('measures expiry from the broker\'s append time when the producer\'s clock lags behind it', () => {
    const state = new ProducerStateManager();
    const lagging = { baseOffset: 0, lastOffset: 4, maxTimestampMs: T0 - 5_000 };
    state.update(batch(7, 0, 0), lagging, T0);
    expect(state.removeExpired(T0 + 999, 1_000)).toBe(0);
    expect(state.removeExpired(T0 + 1_000, 1_000)).toBe(1);
  });
});
