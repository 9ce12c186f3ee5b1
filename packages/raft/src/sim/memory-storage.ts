// What a driver would have on disk for one node: exactly the state the Ready contract tells it to
// persist. A simulated crash keeps this object and drops everything else, so a restart sees only
// what a real process would find after fsync.

import type { Entry, HardState, PersistedState, Snapshot } from '../core/types.js';
import { EMPTY_PERSISTED_STATE } from '../core/types.js';

export class MemoryStorage {
  hardState: HardState = EMPTY_PERSISTED_STATE.hardState;
  snapshot: Snapshot | undefined = undefined;
  /** Contiguous entries after the snapshot (or from index 1). */
  entries: Entry[] = [];

  get snapshotIndex(): number {
    return this.snapshot?.metadata.index ?? 0;
  }

  get snapshotTerm(): number {
    return this.snapshot?.metadata.term ?? 0;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  /** The stored entry at `index`, or undefined if compacted away or past the end. */
  entry(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1];
  }

  /** Term at `index`: the snapshot's term at its own index, 0 for index 0, undefined if unknown. */
  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entry(index)?.term;
  }

  /** Ready.entries: replace everything from entries[0].index onwards (Raft §5.3 truncation). */
  appendEntries(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.snapshotIndex) {
      throw new Error(`persist entries from ${first.index} at or below snapshot index ${this.snapshotIndex}`);
    }
    if (first.index > this.lastIndex + 1) {
      throw new Error(`persist entries from ${first.index} leaves a gap after last index ${this.lastIndex}`);
    }
    this.entries.length = first.index - this.snapshotIndex - 1;
    entries.forEach((e, i) => {
      if (e.index !== first.index + i) throw new Error(`Ready.entries not contiguous at ${e.index}`);
      this.entries.push(e);
    });
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /**
   * Ready.snapshot (InstallSnapshot): the snapshot replaces the whole log, mirroring the core, which
   * discards its own log when it installs a leader's snapshot. A restart then loads exactly the log the
   * core had in memory.
   */
  installSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.entries = [];
  }

  /** The app's own snapshot at an applied index: drop the log prefix it covers. */
  compact(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.snapshotIndex) return;
    const storedTerm = this.termAt(index);
    if (storedTerm !== term) {
      throw new Error(`compact at ${index}: stored term ${storedTerm} differs from snapshot term ${term}`);
    }
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshot = snapshot;
  }

  /** What a restarting driver loads. Copies, so the new core cannot alias the stored arrays. */
  load(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}
