import { describe, expect, it } from 'vitest';
import type { Entry } from '@runnel/raft';
import { MetadataStateMachine } from './metadata-state-machine.js';

function entry(index: number, term: number, text: string): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

describe('metadata state machine', () => {
  it('counts applied records and tracks the last applied position', () => {
    const machine = new MetadataStateMachine();
    machine.apply(entry(2, 1, 'a'));
    machine.apply(entry(5, 2, 'b'));
    expect(machine.view()).toMatchObject({ appliedCount: 2, lastAppliedIndex: 5, lastAppliedTerm: 2 });
  });

  it('gives replicas that applied the same log the same digest, and different logs different digests', () => {
    const a = new MetadataStateMachine();
    const b = new MetadataStateMachine();
    const c = new MetadataStateMachine();
    for (const machine of [a, b, c]) machine.apply(entry(1, 1, 'x'));
    a.apply(entry(2, 1, 'y'));
    b.apply(entry(2, 1, 'y'));
    c.apply(entry(2, 2, 'y'));
    expect(a.view().digest).toBe(b.view().digest);
    expect(c.view().digest).not.toBe(a.view().digest);
  });

  it('refuses an entry at or below the last applied index', () => {
    const machine = new MetadataStateMachine();
    machine.apply(entry(3, 1, 'a'));
    expect(() => machine.apply(entry(3, 1, 'a'))).toThrow(/entry 3 applied after 3/);
  });

  it('restores exactly the state it snapshotted, then keeps applying identically', () => {
    const original = new MetadataStateMachine();
    original.apply(entry(1, 1, 'a'));
    original.apply(entry(2, 1, 'b'));
    const copy = new MetadataStateMachine();
    copy.restore(original.snapshot());
    expect(copy.view()).toEqual(original.view());
    original.apply(entry(3, 2, 'c'));
    copy.apply(entry(3, 2, 'c'));
    expect(copy.view()).toEqual(original.view());
  });

  it('rejects a snapshot it does not understand and keeps its state', () => {
    const machine = new MetadataStateMachine();
    machine.apply(entry(1, 1, 'a'));
    const before = machine.view();
    expect(() => machine.restore(new TextEncoder().encode('{"version":9}'))).toThrow(/unknown or inconsistent layout/);
    expect(() => machine.restore(new Uint8Array([0xff]))).toThrow(/not valid JSON/);
    expect(machine.view()).toEqual(before);
  });
});
