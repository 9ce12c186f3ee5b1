// The toy replicated state machine of the simulator: a small key/value map plus a running digest of
// every entry applied so far. Two replicas that applied the same log prefix have the same digest, so
// comparing digests at an index compares whole histories in O(1). Its snapshot is its serialised state.

import type { Entry } from '../core/types.js';

/** A client write: a unique id (so the checker can match it), a key, and the value to store. */
export interface KvWrite {
  readonly id: number;
  readonly key: string;
  readonly value: number;
}

export interface KvCell {
  readonly value: number;
  /** Log index of the write that set this value. */
  readonly index: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeWrite(write: KvWrite): Uint8Array {
  return encoder.encode(`${write.id}|${write.key}|${write.value}`);
}

export function decodeWrite(data: Uint8Array): KvWrite {
  const [id, key, value] = decoder.decode(data).split('|');
  if (id === undefined || key === undefined || value === undefined) {
    throw new Error(`malformed write payload ${JSON.stringify(decoder.decode(data))}`);
  }
  return { id: Number(id), key, value: Number(value) };
}

// Entry objects travel by reference between simulated nodes, so one decode serves every replica.
const keyCache = new WeakMap<Entry, string>();

/** A comparable identity of an entry's content: the write id for normal entries, 'noop' for noops. */
export function entryKey(entry: Entry): string {
  let key = keyCache.get(entry);
  if (key === undefined) {
    key = entry.type === 'noop' ? 'noop' : `w${decodeWrite(entry.data).id}`;
    keyCache.set(entry, key);
  }
  return key;
}

const FNV_PRIME = 0x01000193;
const FNV_OFFSET = 0x811c9dc5;

function mix(hash: number, value: number): number {
  let h = hash;
  for (let shift = 0; shift < 32; shift += 8) {
    h ^= (value >>> shift) & 0xff;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

interface KvSnapshotData {
  appliedIndex: number;
  appliedTerm: number;
  digest: number;
  cells: [string, KvCell][];
}

export class KvStateMachine {
  appliedIndex = 0;
  /** Term of the entry at appliedIndex: the app needs it to label its own snapshots. */
  appliedTerm = 0;
  digest = FNV_OFFSET;
  private readonly cells = new Map<string, KvCell>();

  /** Applies every committed entry in index order; noops advance the index but change no cell. */
  apply(entry: Entry): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`apply out of order: index ${entry.index} after applied ${this.appliedIndex}`);
    }
    let h = mix(mix(this.digest, entry.index), entry.term);
    if (entry.type === 'normal') {
      const write = decodeWrite(entry.data);
      this.cells.set(write.key, { value: write.value, index: entry.index });
      h = mix(mix(h, write.id), write.value);
    }
    this.digest = h;
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
  }

  read(key: string): KvCell | undefined {
    return this.cells.get(key);
  }

  snapshot(): Uint8Array {
    const data: KvSnapshotData = {
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      digest: this.digest,
      cells: [...this.cells.entries()],
    };
    return encoder.encode(JSON.stringify(data));
  }

  restore(bytes: Uint8Array): void {
    const data = KvStateMachine.parse(bytes);
    this.appliedIndex = data.appliedIndex;
    this.appliedTerm = data.appliedTerm;
    this.digest = data.digest;
    this.cells.clear();
    for (const [key, cell] of data.cells) this.cells.set(key, cell);
  }

  static parse(bytes: Uint8Array): KvSnapshotData {
    return JSON.parse(decoder.decode(bytes)) as KvSnapshotData;
  }

  /** The digest of the empty history, for snapshots that cover nothing. */
  static readonly EMPTY_DIGEST = FNV_OFFSET;
}
