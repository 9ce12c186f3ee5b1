// RaftNode on its own (a one-voter quorum): the Ready loop, waits, bounds, snapshots and restart,
// without a network in the way. The three-node behaviour over gRPC is in quorum.test.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { RunnelError } from '@runnel/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_NODE } from '../core/types.js';
import { LevelStorage } from './level-storage.js';
import { RaftNode } from './raft-node.js';
import type { RaftNodeOptions } from './raft-node.js';
import { RecordingStateMachine, text, waitFor } from './__tests__/support.js';

const WAIT_MS = 5_000;
const logger = pino({ level: 'silent' });

describe('RaftNode (single voter)', () => {
  let dir: string;
  let metadataDir: string;
  const nodes: RaftNode[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runnel-raft-node-'));
    metadataDir = path.join(dir, '__cluster_metadata');
  });

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function startNode(stateMachine = new RecordingStateMachine(), overrides: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
    const node = await RaftNode.open({
      id: 1,
      clusterId: 'cluster-a',
      voters: new Map([[1, '127.0.0.1:1']]),
      metadataDir,
      stateMachine,
      logger,
      tickMs: 10,
      ...overrides,
    });
    nodes.push(node);
    node.start();
    return node;
  }

  async function leaderOf(node: RaftNode): Promise<void> {
    await waitFor('node 1 to lead', WAIT_MS, () => (node.status().role === 'leader' ? true : undefined));
  }

  it('elects itself, emits leader-change and applies proposals in order', async () => {
    const machine = new RecordingStateMachine();
    const node = await startNode(machine);
    const changes: Array<[number, number]> = [];
    node.on('leader-change', (leaderId, term) => changes.push([leaderId, term]));
    await leaderOf(node);
    const results = await Promise.all(['a', 'b', 'c'].map((value) => node.propose(text(value))));
    expect(machine.values).toEqual(['a', 'b', 'c']);
    // The leader's no-op comes first, so proposals get consecutive indexes after it, all in its term.
    const term = node.status().term;
    expect(results.map((r) => r.term)).toEqual([term, term, term]);
    expect(results.map((r) => r.index)).toEqual([results[0]!.index, results[0]!.index + 1, results[0]!.index + 2]);
    expect(changes).toContainEqual([1, term]);
  });

  it('a read barrier resolves at an index the state machine has applied', async () => {
    const machine = new RecordingStateMachine();
    const node = await startNode(machine);
    await leaderOf(node);
    const { index } = await node.propose(text('x'));
    const readIndex = await node.readIndex();
    expect(readIndex).toBeGreaterThanOrEqual(index);
    expect(node.status().appliedIndex).toBeGreaterThanOrEqual(readIndex);
  });

  it('refuses proposals beyond maxPendingProposals with a retriable error', async () => {
    const node = await startNode(new RecordingStateMachine(), { maxPendingProposals: 2 });
    await leaderOf(node);
    const first = node.propose(text('1'));
    const second = node.propose(text('2'));
    const third = node.propose(text('3'));
    await expect(third).rejects.toMatchObject({ codeName: 'THROTTLING_QUOTA_EXCEEDED', retriable: true });
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
  });

  it('takes a snapshot every snapshotEveryEntries applied entries and compacts the log on disk', async () => {
    const node = await startNode(new RecordingStateMachine(), { snapshotEveryEntries: 5 });
    await leaderOf(node);
    for (let i = 0; i < 12; i++) await node.propose(text(`v${i}`));
    expect(node.status().firstIndex).toBeGreaterThan(1);
    await node.stop();
    const storage = await LevelStorage.open(metadataDir);
    try {
      const persisted = await storage.load();
      const snapshotIndex = persisted.snapshot?.metadata.index ?? 0;
      expect(snapshotIndex).toBeGreaterThanOrEqual(10);
      expect(persisted.entries[0]?.index ?? snapshotIndex + 1).toBe(snapshotIndex + 1);
    } finally {
      await storage.close();
    }
  });

  it('restarts from its metadata dir with the snapshot restored and the committed log re-applied', async () => {
    const first = await startNode(new RecordingStateMachine(), { snapshotEveryEntries: 4 });
    await leaderOf(first);
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    for (const value of values) await first.propose(text(value));
    const { term } = first.status();
    await first.stop();

    const machine = new RecordingStateMachine();
    const second = await startNode(machine, { snapshotEveryEntries: 4 });
    expect(machine.restores).toBe(1);
    await leaderOf(second);
    await waitFor('the restarted node to re-apply its log', WAIT_MS, () => (machine.values.length === values.length ? true : undefined));
    expect(machine.values).toEqual(values);
    expect(second.status().term).toBeGreaterThan(term);
    await second.propose(text('after-restart'));
    expect(machine.values.at(-1)).toBe('after-restart');
  });

  it('describe on the leader reports itself as the only voter with no lag', async () => {
    const node = await startNode();
    await leaderOf(node);
    await node.propose(text('x'));
    const view = node.describe();
    expect(view).toMatchObject({ leaderId: 1, answeredBy: 1, leaderEndpoint: '127.0.0.1:1', observers: [] });
    expect(view.voters).toEqual([{ id: 1, voter: true, endpoint: '127.0.0.1:1', logEndIndex: view.commitIndex, lag: 0, lastContactMs: 0 }]);
  });

  it('transferLeadership without another voter is refused', async () => {
    const node = await startNode();
    await leaderOf(node);
    await expect(node.transferLeadership()).rejects.toMatchObject({ codeName: 'VOTER_NOT_FOUND' });
  });

  it('after stop, every call is refused with NOT_CONTROLLER', async () => {
    const node = await startNode();
    await leaderOf(node);
    await node.stop();
    const error = await node.propose(text('late')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunnelError);
    expect(error).toMatchObject({ codeName: 'NOT_CONTROLLER', details: { leaderId: NO_NODE } });
    await expect(node.readIndex()).rejects.toMatchObject({ codeName: 'NOT_CONTROLLER' });
  });
});
