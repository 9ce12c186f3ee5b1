// Durable Raft state in LevelDB: the hard state (term, vote, commit), the latest snapshot and the log
// entries after it. Every change is one atomic LevelDB batch written with `sync: true`, so once
// `persist` resolves the state survives a power loss, and a crash mid-write leaves either the old
// state or the new one, never a mix (a truncated log with an old hard state, say).
//
// Layout (keys are bytes, so LevelDB's bytewise order is index order and the log can be scanned and
// trimmed as a range):
//   0x01                      -> hardState (codec.ts)
//   0x02                      -> snapshot (metadata + state machine bytes)
//   0x03 ++ index:u64 BE      -> entry
// Invariant kept by every write: stored entries are exactly the indexes (snapshotIndex, lastIndex].

import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import type { Entry, HardState, PersistedState, Snapshot } from '../core/types.js';
import { EMPTY_PERSISTED_STATE } from '../core/types.js';
import { decodeEntry, decodeHardState, decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot } from './codec.js';

const HARD_STATE_KEY = Buffer.from([0x01]);
const SNAPSHOT_KEY = Buffer.from([0x02]);
const ENTRY_PREFIX = 0x03;
const ENTRY_KEY_BYTES = 9;
const ENTRY_RANGE_END = Buffer.from([ENTRY_PREFIX + 1]);

type Db = Level<Buffer, Buffer>;
type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** The parts of a Ready that go to disk. */
export interface PersistUpdate {
  readonly snapshot?: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState | undefined;
}

/** The metadata directory holds something this code cannot trust: refuse to start rather than guess. */
export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError';
}

export function entryKey(index: number): Buffer {
  const key = Buffer.alloc(ENTRY_KEY_BYTES);
  key[0] = ENTRY_PREFIX;
  key.writeUInt32BE(Math.floor(index / 2 ** 32), 1);
  key.writeUInt32BE(index >>> 0, 5);
  return key;
}

function indexFromEntryKey(key: Buffer): number {
  if (key.length !== ENTRY_KEY_BYTES || key[0] !== ENTRY_PREFIX) throw new StorageCorruptionError(`bad entry key ${key.toString('hex')}`);
  return key.readUInt32BE(1) * 2 ** 32 + key.readUInt32BE(5);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function assertContiguous(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const previous = entries[i - 1];
    const current = entries[i];
    if (previous === undefined || current === undefined || current.index !== previous.index + 1) {
      throw new Error(`entries to persist are not contiguous at position ${i}`);
    }
  }
}

export class LevelStorage {
  private snapshotIndex = 0;
  private lastIndex = 0;
  /** Term and vote as last written with sync: a change to either must be durable before anyone hears of it. */
  private durableTerm = 0;
  private durableVotedFor = 0;
  /** Writes are chained so the in-memory bounds always describe what is on disk. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly db: Db,
    readonly directory: string,
  ) {}

  static async open(directory: string): Promise<LevelStorage> {
    await mkdir(directory, { recursive: true });
    const db: Db = new Level<Buffer, Buffer>(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    return new LevelStorage(db, directory);
  }

  /** Reads everything back and checks the log's shape; also primes the bounds later writes rely on. */
  load(): Promise<PersistedState> {
    return this.serialize(async () => {
      const hardStateBytes = await this.db.get(HARD_STATE_KEY);
      const snapshotBytes = await this.db.get(SNAPSHOT_KEY);
      const hardState = hardStateBytes === undefined ? EMPTY_PERSISTED_STATE.hardState : decodeHardState(hardStateBytes);
      const snapshot = snapshotBytes === undefined ? undefined : decodeSnapshot(snapshotBytes);
      const snapshotIndex = snapshot?.metadata.index ?? 0;
      const entries: Entry[] = [];
      for await (const [key, value] of this.db.iterator({ gte: entryKey(0), lt: ENTRY_RANGE_END })) {
        const index = indexFromEntryKey(key);
        const entry = decodeEntry(value);
        const expected = snapshotIndex + entries.length + 1;
        if (entry.index !== index || index !== expected) {
          throw new StorageCorruptionError(
            `log in ${this.directory} is not contiguous: found entry ${entry.index} under key ${index}, expected ${expected}`,
          );
        }
        entries.push(entry);
      }
      this.snapshotIndex = snapshotIndex;
      this.lastIndex = snapshotIndex + entries.length;
      this.durableTerm = hardState.term;
      this.durableVotedFor = hardState.votedFor;
      return { hardState, snapshot, entries };
    });
  }

  /**
   * Writes a Ready's snapshot, entries and hard state in one synced batch. Stored entries at or after
   * `entries[0].index` are replaced (a follower's conflicting suffix, Raft §5.3); a snapshot drops
   * the entries it covers, and the rest of the log too unless the log already holds the snapshot's
   * last entry (Figure 13, InstallSnapshot steps 6-7).
   */
  persist(update: PersistUpdate): Promise<void> {
    return this.serialize(async () => {
      const ops: BatchOp[] = [];
      let snapshotIndex = this.snapshotIndex;
      let lastIndex = this.lastIndex;

      const { snapshot } = update;
      if (snapshot !== undefined && snapshot.metadata.index > snapshotIndex) {
        const { index, term } = snapshot.metadata;
        const keepSuffix = index <= lastIndex && (await this.termAt(index)) === term;
        const deleteThrough = keepSuffix ? index : lastIndex;
        for (let i = snapshotIndex + 1; i <= deleteThrough; i++) ops.push({ type: 'del', key: entryKey(i) });
        ops.push({ type: 'put', key: SNAPSHOT_KEY, value: asBuffer(encodeSnapshot(snapshot)) });
        snapshotIndex = index;
        lastIndex = keepSuffix ? lastIndex : index;
      }

      const first = update.entries[0];
      const last = update.entries[update.entries.length - 1];
      if (first !== undefined && last !== undefined) {
        assertContiguous(update.entries);
        if (first.index <= snapshotIndex || first.index > lastIndex + 1) {
          throw new Error(`entries from ${first.index} do not attach to the stored log (${snapshotIndex}, ${lastIndex}]`);
        }
        for (let i = last.index + 1; i <= lastIndex; i++) ops.push({ type: 'del', key: entryKey(i) });
        for (const entry of update.entries) ops.push({ type: 'put', key: entryKey(entry.index), value: asBuffer(encodeEntry(entry)) });
        lastIndex = last.index;
      }

      if (update.hardState !== undefined) {
        ops.push({ type: 'put', key: HARD_STATE_KEY, value: asBuffer(encodeHardState(update.hardState)) });
      }

      if (ops.length === 0) return;
      // Log entries, snapshots, terms and votes are promises to peers and must be on disk first. A
      // hard state that only moves the commit index is not (a restarted node relearns its commit
      // index from the leader, Raft §5.3), so it skips the fsync that would otherwise sit on every
      // commit's critical path. LevelDB applies writes in order, so whatever survives a crash of such
      // a write never refers to entries that did not survive.
      const hardState = update.hardState;
      const termOrVoteChanged = hardState !== undefined && (hardState.term !== this.durableTerm || hardState.votedFor !== this.durableVotedFor);
      const sync = snapshot !== undefined || update.entries.length > 0 || termOrVoteChanged;
      await this.db.batch(ops, { sync });
      if (sync && hardState !== undefined) {
        this.durableTerm = hardState.term;
        this.durableVotedFor = hardState.votedFor;
      }
      this.snapshotIndex = snapshotIndex;
      this.lastIndex = lastIndex;
    });
  }

  /** Stores a snapshot the local state machine took and drops the log prefix it covers. */
  compact(snapshot: Snapshot): Promise<void> {
    return this.serialize(async () => {
      const { index } = snapshot.metadata;
      if (index <= this.snapshotIndex) return;
      if (index > this.lastIndex) throw new Error(`cannot compact through ${index}: the log ends at ${this.lastIndex}`);
      const ops: BatchOp[] = [{ type: 'put', key: SNAPSHOT_KEY, value: asBuffer(encodeSnapshot(snapshot)) }];
      for (let i = this.snapshotIndex + 1; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) });
      await this.db.batch(ops, { sync: true });
      this.snapshotIndex = index;
    });
  }

  /** Stored log bounds: entries are exactly (snapshotIndex, lastIndex]. */
  bounds(): { snapshotIndex: number; lastIndex: number } {
    return { snapshotIndex: this.snapshotIndex, lastIndex: this.lastIndex };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let queued writes land first: closing under them would turn a clean stop into lost writes.
    await this.tail.catch(() => undefined);
    await this.db.close();
  }

  private async termAt(index: number): Promise<number | undefined> {
    const bytes = await this.db.get(entryKey(index));
    return bytes === undefined ? undefined : decodeEntry(bytes).term;
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`storage ${this.directory} is closed`));
    const result = this.tail.then(operation);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
