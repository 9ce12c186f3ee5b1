import { assert } from './assert.js';
import type { Entry, PersistedState, Snapshot } from './types.js';

/**
 * The node's log as the core sees it: an optional snapshot covering [1, snapshotIndex], then the
 * entries after it. It also tracks which suffix has not yet been handed to the driver for persistence
 * (`stableIndex`): a vote or an append ack may only promise what is at or below it.
 */
export class RaftLog {
  private snapshotValue: Snapshot | undefined;
  private entries: Entry[];
  /** Entries at or below this index are on disk (as far as the driver has told us via advance). */
  private stableIndex: number;
  commitIndex: number;
  appliedIndex: number;

  constructor(persisted: PersistedState) {
    this.snapshotValue = persisted.snapshot;
    this.entries = [...persisted.entries];
    const snapshotIndex = this.snapshotIndex;
    this.entries.forEach((entry, i) => {
      assert(entry.index === snapshotIndex + 1 + i, `persisted log is not contiguous at index ${entry.index}`);
    });
    this.stableIndex = this.lastIndex;
    this.commitIndex = Math.max(persisted.hardState.commitIndex, snapshotIndex);
    assert(this.commitIndex <= this.lastIndex, `persisted commit ${this.commitIndex} beyond last index ${this.lastIndex}`);
    // The driver restores the state machine from the snapshot, so everything it covers counts as applied.
    this.appliedIndex = snapshotIndex;
  }

  get snapshot(): Snapshot | undefined {
    return this.snapshotValue;
  }

  get snapshotIndex(): number {
    return this.snapshotValue?.metadata.index ?? 0;
  }

  get snapshotTerm(): number {
    return this.snapshotValue?.metadata.term ?? 0;
  }

  get firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.termAt(this.lastIndex) ?? 0;
  }

  get stable(): number {
    return this.stableIndex;
  }

  /** Term of the entry at `index`; undefined when compacted away or beyond the end. */
  termAt(index: number): number | undefined {
    // Index 0 is the empty log's sentinel (term 0) only while nothing is compacted; after a
    // snapshot it is as gone as any other compacted index, and a peer that needs it gets the snapshot.
    const snapshotIndex = this.snapshotIndex;
    if (index === snapshotIndex) return this.snapshotTerm;
    if (index < snapshotIndex || index > this.lastIndex) return undefined;
    return this.entryAt(index).term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  entryAt(index: number): Entry {
    const entry = this.entries[index - this.snapshotIndex - 1];
    assert(entry !== undefined && entry.index === index, `no entry at index ${index}`);
    return entry;
  }

  /** Entries in [fromIndex, toIndex], at most `maxCount` of them. */
  slice(fromIndex: number, toIndex: number, maxCount: number): Entry[] {
    assert(fromIndex > this.snapshotIndex, `slice from compacted index ${fromIndex}`);
    const last = Math.min(toIndex, this.lastIndex, fromIndex + maxCount - 1);
    if (last < fromIndex) return [];
    const offset = this.snapshotIndex + 1;
    return this.entries.slice(fromIndex - offset, last - offset + 1);
  }

  /** Entries not yet handed to the driver for persistence. */
  unstableEntries(): Entry[] {
    return this.slice(this.stableIndex + 1, this.lastIndex, Number.MAX_SAFE_INTEGER);
  }

  /** The driver persisted entries up to (index, term); ignore it if the log changed under it since. */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.matchTerm(index, term)) {
      this.stableIndex = index;
    }
  }

  /** Leader-side append of new entries at the end. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex + 1, `append at ${entry.index} but last index is ${this.lastIndex}`);
      this.entries.push(entry);
    }
  }

  /**
   * Follower-side merge of a leader's entries (Figure 2, AppendEntries rules 3 and 4): skip entries
   * already present with the same term, truncate at the first conflict, append the rest. Entries that
   * match are never truncated, so a delayed, reordered AppendEntries cannot erase newer entries.
   */
  merge(entries: readonly Entry[]): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.index <= this.snapshotIndex) continue;
      const existingTerm = this.termAt(entry.index);
      if (existingTerm === entry.term) continue;
      if (existingTerm !== undefined) {
        assert(entry.index > this.commitIndex, `conflict at committed index ${entry.index}`);
        this.entries.length = entry.index - this.snapshotIndex - 1;
        this.stableIndex = Math.min(this.stableIndex, entry.index - 1);
      }
      this.append(entries.slice(i));
      return;
    }
  }

  /** First index of the term of the entry at `index`, scanning back no further than the snapshot. */
  firstIndexOfTermAt(index: number): number {
    const term = this.termAt(index);
    assert(term !== undefined, `no term at index ${index}`);
    let first = index;
    while (first - 1 > this.snapshotIndex && this.termAt(first - 1) === term) first--;
    return first;
  }

  /** Last index holding `term`, or 0 when the log has no entry of that term. */
  lastIndexOfTerm(term: number): number {
    for (let index = this.lastIndex; index > this.snapshotIndex; index--) {
      const t = this.entryAt(index).term;
      if (t === term) return index;
      if (t < term) return 0;
    }
    return this.snapshotTerm === term ? this.snapshotIndex : 0;
  }

  commitTo(index: number): void {
    if (index <= this.commitIndex) return;
    assert(index <= this.lastIndex, `commit ${index} beyond last index ${this.lastIndex}`);
    this.commitIndex = index;
  }

  /** Committed entries not yet applied. */
  entriesToApply(): Entry[] {
    const from = Math.max(this.appliedIndex, this.snapshotIndex) + 1;
    return this.slice(from, this.commitIndex, Number.MAX_SAFE_INTEGER);
  }

  appliedTo(index: number): void {
    assert(index <= this.commitIndex, `applied ${index} beyond commit ${this.commitIndex}`);
    if (index > this.appliedIndex) this.appliedIndex = index;
  }

  /** Replace the whole log with a leader's snapshot (InstallSnapshot, Figure 13 rules 6-8, simplified). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.commitIndex, 'restore of a snapshot at or below commit');
    this.snapshotValue = snapshot;
    this.entries = [];
    this.stableIndex = snapshot.metadata.index;
    this.commitIndex = snapshot.metadata.index;
  }

  /** The application snapshotted at `snapshot.metadata.index`: drop the log prefix it covers. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.snapshotIndex) return;
    assert(index <= this.appliedIndex, `compaction at ${index} beyond applied ${this.appliedIndex}`);
    assert(index <= this.stableIndex, `compaction at ${index} beyond stable ${this.stableIndex}`);
    assert(this.termAt(index) === snapshot.metadata.term, `snapshot term mismatch at ${index}`);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotValue = snapshot;
  }
}
