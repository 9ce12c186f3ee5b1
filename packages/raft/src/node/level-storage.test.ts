import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Entry, Snapshot } from '../core/types.js';
import { EMPTY_PERSISTED_STATE } from '../core/types.js';
import { decodeEntry, decodeHardState, decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot } from './codec.js';
import { LevelStorage, entryKey } from './level-storage.js';

function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function snapshot(index: number, term: number, text = `state@${index}`): Snapshot {
  return { metadata: { index, term, voters: [1, 2, 3] }, data: new TextEncoder().encode(text) };
}

describe('codec', () => {
  it('round-trips entries of both types, including empty and large payloads', () => {
    const big = new Uint8Array(4096).map((_, i) => i % 251);
    for (const original of [entry(1, 1), { index: 2 ** 40, term: 7, type: 'noop' as const, data: new Uint8Array(0) }, { ...entry(3, 2), data: big }]) {
      expect(decodeEntry(encodeEntry(original))).toEqual(original);
    }
  });

  it('round-trips hard state and snapshots', () => {
    const hardState = { term: 2 ** 33 + 5, votedFor: 3, commitIndex: 99 };
    expect(decodeHardState(encodeHardState(hardState))).toEqual(hardState);
    const withoutVoters: Snapshot = { metadata: { index: 5, term: 2, voters: [] }, data: new Uint8Array([1, 2]) };
    for (const original of [snapshot(10, 3), withoutVoters]) expect(decodeSnapshot(encodeSnapshot(original))).toEqual(original);
  });

  it('refuses an unknown codec version and truncated values', () => {
    const bytes = encodeEntry(entry(1, 1));
    bytes[0] = 9;
    expect(() => decodeEntry(bytes)).toThrow(/version 9/);
    expect(() => decodeHardState(encodeHardState({ term: 1, votedFor: 0, commitIndex: 0 }).slice(0, 5))).toThrow(/need at least/);
  });

  it('entry keys sort bytewise in index order', () => {
    const indexes = [1, 2, 255, 256, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40];
    const sorted = indexes.map(entryKey).sort(Buffer.compare);
    expect(sorted).toEqual(indexes.map(entryKey));
  });
});

describe('LevelStorage', () => {
  let dir: string;
  let storage: LevelStorage;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runnel-level-storage-'));
    storage = await LevelStorage.open(path.join(dir, '__cluster_metadata'));
  });

  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function reopen(): Promise<LevelStorage> {
    await storage.close();
    storage = await LevelStorage.open(path.join(dir, '__cluster_metadata'));
    return storage;
  }

  it('a fresh directory loads as the empty state', async () => {
    expect(await storage.load()).toEqual(EMPTY_PERSISTED_STATE);
  });

  it('persisted entries and hard state survive a reopen', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 3, 1), hardState: { term: 1, votedFor: 2, commitIndex: 0 } });
    await storage.persist({ entries: entries(4, 5, 1), hardState: { term: 1, votedFor: 2, commitIndex: 4 } });
    const loaded = await (await reopen()).load();
    expect(loaded.hardState).toEqual({ term: 1, votedFor: 2, commitIndex: 4 });
    expect(loaded.snapshot).toBeUndefined();
    expect(loaded.entries).toEqual(entries(1, 5, 1));
  });

  it('entries starting inside the stored log replace the conflicting suffix (Raft §5.3)', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 6, 1) });
    await storage.persist({ entries: entries(3, 4, 2), hardState: { term: 2, votedFor: 0, commitIndex: 2 } });
    const loaded = await (await reopen()).load();
    expect(loaded.entries).toEqual([...entries(1, 2, 1), ...entries(3, 4, 2)]);
    expect(storage.bounds()).toEqual({ snapshotIndex: 0, lastIndex: 4 });
  });

  it('refuses entries that would leave a gap in the log', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 2, 1) });
    await expect(storage.persist({ entries: entries(4, 5, 1) })).rejects.toThrow(/do not attach/);
    expect((await storage.load()).entries).toEqual(entries(1, 2, 1));
  });

  it('compact stores the snapshot and drops the entries it covers', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 10, 1), hardState: { term: 1, votedFor: 1, commitIndex: 10 } });
    await storage.compact(snapshot(6, 1));
    const loaded = await (await reopen()).load();
    expect(loaded.snapshot).toEqual(snapshot(6, 1));
    expect(loaded.entries).toEqual(entries(7, 10, 1));
    expect(storage.bounds()).toEqual({ snapshotIndex: 6, lastIndex: 10 });
  });

  it('compact with an older snapshot changes nothing', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 10, 1) });
    await storage.compact(snapshot(6, 1));
    await storage.compact(snapshot(4, 1, 'older'));
    expect((await storage.load()).snapshot).toEqual(snapshot(6, 1));
  });

  it('an installed snapshot matching a stored entry keeps the log after it (Figure 13 step 6)', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 8, 2) });
    await storage.persist({ snapshot: snapshot(5, 2), entries: [], hardState: { term: 2, votedFor: 0, commitIndex: 5 } });
    const loaded = await (await reopen()).load();
    expect(loaded.snapshot).toEqual(snapshot(5, 2));
    expect(loaded.entries).toEqual(entries(6, 8, 2));
  });

  it('an installed snapshot that conflicts with the log discards the whole log (Figure 13 step 7)', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 8, 1) });
    await storage.persist({ snapshot: snapshot(5, 3), entries: entries(6, 7, 3), hardState: { term: 3, votedFor: 0, commitIndex: 6 } });
    const loaded = await (await reopen()).load();
    expect(loaded.snapshot).toEqual(snapshot(5, 3));
    expect(loaded.entries).toEqual(entries(6, 7, 3));
    expect(loaded.hardState).toEqual({ term: 3, votedFor: 0, commitIndex: 6 });
  });

  it('an installed snapshot beyond the log end leaves an empty log that new entries attach to', async () => {
    await storage.load();
    await storage.persist({ entries: entries(1, 3, 1) });
    await storage.persist({ snapshot: snapshot(20, 4), entries: [] });
    expect(storage.bounds()).toEqual({ snapshotIndex: 20, lastIndex: 20 });
    await storage.persist({ entries: entries(21, 22, 4) });
    const loaded = await (await reopen()).load();
    expect(loaded.snapshot?.metadata.index).toBe(20);
    expect(loaded.entries).toEqual(entries(21, 22, 4));
  });

  it('writes issued back to back apply in order', async () => {
    await storage.load();
    const writes = [];
    for (let i = 1; i <= 50; i++) writes.push(storage.persist({ entries: [entry(i, 1)], hardState: { term: 1, votedFor: 1, commitIndex: i - 1 } }));
    await Promise.all(writes);
    const loaded = await (await reopen()).load();
    expect(loaded.entries).toEqual(entries(1, 50, 1));
    expect(loaded.hardState.commitIndex).toBe(49);
  });

  it('fsyncs entries, snapshots and term or vote changes, but not a write that only moves the commit index', async () => {
    await storage.load();
    const batch = vi.spyOn(Level.prototype, 'batch');
    try {
      const syncOf = (): unknown => (batch.mock.calls.at(-1)?.[1] as { sync?: boolean } | undefined)?.sync;
      await storage.persist({ snapshot: undefined, entries: entries(1, 2, 1), hardState: { term: 1, votedFor: 1, commitIndex: 0 } });
      expect(syncOf()).toBe(true);
      await storage.persist({ snapshot: undefined, entries: [], hardState: { term: 1, votedFor: 1, commitIndex: 2 } });
      expect(syncOf()).toBe(false);
      await storage.persist({ snapshot: undefined, entries: [], hardState: { term: 2, votedFor: 0, commitIndex: 2 } });
      expect(syncOf()).toBe(true);
      await storage.persist({ snapshot: undefined, entries: [], hardState: { term: 2, votedFor: 3, commitIndex: 2 } });
      expect(syncOf()).toBe(true);
      await storage.persist({ snapshot: snapshot(2, 1), entries: [], hardState: undefined });
      expect(syncOf()).toBe(true);
      expect(batch).toHaveBeenCalledTimes(5);
    } finally {
      batch.mockRestore();
    }
    expect((await storage.load()).hardState).toEqual({ term: 2, votedFor: 3, commitIndex: 2 });
  });
});
