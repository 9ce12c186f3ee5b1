// Focused, readable simulation scenarios: each drives a small cluster through one protocol situation
// on a reliable network, with the SafetyChecker watching every step as in the randomized runs.

import { describe, expect, it } from 'vitest';
import { SimCluster } from './cluster.js';

const ELECTION_TICKS = 10;

/** A cluster where node 1 has just won an election and every node follows it. */
function clusterLedBy1(options: { voterCount: number; observerCount?: number; seed?: number }): SimCluster {
  const cluster = new SimCluster({
    seed: options.seed ?? 7,
    voterCount: options.voterCount,
    observerCount: options.observerCount ?? 0,
    electionTicks: ELECTION_TICKS,
    snapshotEveryEntries: 20,
  });
  cluster.campaign(1);
  const ready = cluster.runUntil(
    () => cluster.leader()?.id === 1 && cluster.voterIds.every((id) => cluster.node(id).core?.leaderId === 1 && cluster.node(id).sm!.appliedIndex >= 1),
    5 * ELECTION_TICKS,
  );
  expect(ready, 'node 1 should win the first election').toBe(true);
  return cluster;
}

function proposeMany(cluster: SimCluster, nodeId: number, count: number): number {
  let lastIndex = 0;
  for (let i = 0; i < count; i++) {
    const result = cluster.propose(nodeId);
    expect(result.ok).toBe(true);
    if (result.ok) lastIndex = result.index;
    if (i % 5 === 4) cluster.runStep();
  }
  return lastIndex;
}

function appliedEverywhere(cluster: SimCluster, index: number): boolean {
  return cluster.nodes.every((n) => n.sm !== undefined && n.sm.appliedIndex >= index);
}

describe('raft simulation scenarios', () => {
  it('a lagging follower catches up through InstallSnapshot after the leader compacted its log', () => {
    const cluster = clusterLedBy1({ voterCount: 3 });
    cluster.partition([[1, 2], [3]]);
    const last = proposeMany(cluster, 1, 70);
    expect(cluster.runUntil(() => cluster.node(1).sm!.appliedIndex >= last, 50)).toBe(true);
    // The leader no longer holds the entries node 3 is missing: only a snapshot can bring it up to date.
    expect(cluster.node(1).storage.snapshotIndex).toBeGreaterThan(cluster.node(3).storage.lastIndex + 1);

    cluster.heal();
    expect(cluster.runUntil(() => appliedEverywhere(cluster, last), 10 * ELECTION_TICKS)).toBe(true);
    expect(cluster.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    expect(cluster.node(3).storage.snapshotIndex).toBeGreaterThan(0);
    expect(cluster.node(3).sm!.digest).toBe(cluster.node(1).sm!.digest);
  });

  it('a late InstallSnapshot does not erase entries the follower already acknowledged (Figure 13, rule 6)', () => {
    const cluster = clusterLedBy1({ voterCount: 3 });
    cluster.partition([[1, 2], [3]]);
    for (let i = 0; i < 25; i++) expect(cluster.propose(1).ok).toBe(true);
    const leader = cluster.node(1);
    const follower = cluster.node(2);
    // Wait for the moment a snapshot covers entries node 2 holds (and acknowledged) but has not yet
    // learned are committed: what a duplicated or delayed InstallSnapshot from the leader meets.
    const window = cluster.runUntil(
      () => leader.storage.snapshotIndex > follower.core!.commitIndex && leader.storage.snapshotIndex < follower.storage.lastIndex,
      20,
    );
    expect(window, 'setup: leader snapshot above follower commit and below its last index').toBe(true);
    const snapshot = leader.storage.snapshot!;
    const followerLastIndex = follower.storage.lastIndex;
    cluster.deliver({
      type: 'snapshot-request', from: 1, to: 2, term: leader.core!.term, snapshot, leaderCommit: snapshot.metadata.index,
    });
    expect(follower.storage.lastIndex).toBeGreaterThanOrEqual(followerLastIndex);
    expect(follower.core!.status().lastIndex).toBeGreaterThanOrEqual(followerLastIndex);
    cluster.heal();
    const write = cluster.propose(1);
    expect(write.ok).toBe(true);
    if (write.ok) expect(cluster.runUntil(() => appliedEverywhere(cluster, write.index), 10 * ELECTION_TICKS)).toBe(true);
  });

  it('a node that was down from the start catches up through InstallSnapshot when it boots', () => {
    const cluster = new SimCluster({ seed: 11, voterCount: 3, electionTicks: ELECTION_TICKS, snapshotEveryEntries: 20 });
    cluster.crash(3);
    cluster.campaign(1);
    expect(cluster.runUntil(() => cluster.leader()?.id === 1, 5 * ELECTION_TICKS)).toBe(true);
    const last = proposeMany(cluster, 1, 70);
    // Heartbeats keep going to the dead node while the leader compacts past everything it could send.
    expect(cluster.runUntil(() => cluster.node(1).storage.snapshotIndex >= 60, 100)).toBe(true);
    cluster.runSteps(3 * ELECTION_TICKS);

    cluster.restart(3);
    expect(cluster.runUntil(() => appliedEverywhere(cluster, last), 10 * ELECTION_TICKS)).toBe(true);
    expect(cluster.node(3).storage.snapshotIndex).toBeGreaterThan(0);
  });

  it('an observer receives the committed log but never votes and never counts toward a commit', () => {
    const cluster = clusterLedBy1({ voterCount: 3, observerCount: 1 });
    const observer = cluster.node(4);
    const last = proposeMany(cluster, 1, 10);
    // The observer announces itself to the voters until the leader replicates to it.
    expect(cluster.runUntil(() => appliedEverywhere(cluster, last), 5 * ELECTION_TICKS), 'observer should apply the committed log').toBe(true);
    expect(observer.core!.role).toBe('observer');
    expect(observer.core!.leaderId).toBe(1);

    // Leader plus observer is not a majority of the three voters: nothing may commit on that side.
    cluster.partition([[1, 4], [2, 3]]);
    const commitBefore = cluster.node(1).core!.commitIndex;
    const stranded = cluster.propose(1);
    expect(stranded.ok).toBe(true);
    cluster.runSteps(ELECTION_TICKS / 2);
    expect(cluster.node(1).core!.commitIndex).toBe(commitBefore);
    expect(observer.sm!.appliedIndex).toBeLessThanOrEqual(commitBefore);

    // Elections happen among voters only; the observer keeps following (the checker fails on any
    // observer vote request or granted vote).
    cluster.runSteps(4 * ELECTION_TICKS);
    const newLeader = cluster.leader();
    expect(newLeader === undefined ? undefined : [2, 3].includes(newLeader.id)).toBe(true);
    expect(observer.core!.role).toBe('observer');
    cluster.heal();
    const final = cluster.propose(cluster.leader()!.id);
    expect(final.ok).toBe(true);
    if (final.ok) expect(cluster.runUntil(() => appliedEverywhere(cluster, final.index), 10 * ELECTION_TICKS)).toBe(true);
    expect(observer.core!.role).toBe('observer');
  });

  it('leadership transfer hands over to the chosen follower, and the old leader refuses writes meanwhile', () => {
    const cluster = clusterLedBy1({ voterCount: 3 });
    const last = proposeMany(cluster, 1, 5);
    const termBefore = cluster.node(1).core!.term;

    expect(cluster.transferLeadership(1, 3)).toEqual({ ok: true });
    const during = cluster.propose(1);
    expect(during.ok).toBe(false);
    if (!during.ok) expect(during.reason).toBe('transferring');

    expect(cluster.runUntil(() => cluster.leader()?.id === 3, ELECTION_TICKS)).toBe(true);
    expect(cluster.node(3).core!.term).toBe(termBefore + 1);
    expect(cluster.node(1).core!.role).toBe('follower');
    // Nothing acknowledged before the transfer is lost, and the new leader takes writes.
    const after = cluster.propose(3);
    expect(after.ok).toBe(true);
    if (after.ok) {
      expect(after.index).toBeGreaterThan(last);
      expect(cluster.runUntil(() => appliedEverywhere(cluster, after.index), 5 * ELECTION_TICKS)).toBe(true);
    }
  });

  it('a leader cut off from the majority steps down through CheckQuorum and commits nothing', () => {
    const cluster = clusterLedBy1({ voterCount: 5 });
    proposeMany(cluster, 1, 5);
    cluster.runSteps(5);
    const commitBefore = cluster.node(1).core!.commitIndex;

    cluster.partition([[1, 2], [3, 4, 5]]);
    const stranded = cluster.propose(1);
    expect(stranded.ok).toBe(true);
    // One election timeout without hearing from a quorum (plus one for the round in progress).
    expect(cluster.runUntil(() => cluster.node(1).core!.role !== 'leader', 2 * ELECTION_TICKS + 1)).toBe(true);
    expect(cluster.node(1).core!.commitIndex).toBe(commitBefore);
    expect(cluster.runUntil(() => [3, 4, 5].includes(cluster.leader()?.id ?? 0), 5 * ELECTION_TICKS)).toBe(true);

    cluster.heal();
    const final = cluster.propose(cluster.leader()!.id);
    expect(final.ok).toBe(true);
    if (final.ok) expect(cluster.runUntil(() => appliedEverywhere(cluster, final.index), 10 * ELECTION_TICKS)).toBe(true);
    // The write the old leader accepted in the minority never committed anywhere.
    if (stranded.ok) expect(cluster.checker.committedKeyAt(stranded.index)).not.toBe(`w${stranded.write.id}`);
  });

  it('a deposed leader in a minority never confirms a ReadIndex that would miss newer writes', () => {
    // Without CheckQuorum the old leader keeps believing it leads, which widens the window for a stale read.
    const cluster = new SimCluster({ seed: 5, voterCount: 3, electionTicks: ELECTION_TICKS, checkQuorum: false });
    cluster.campaign(1);
    expect(cluster.runUntil(() => cluster.leader()?.id === 1 && cluster.node(1).core!.commitIndex >= 1, 5 * ELECTION_TICKS)).toBe(true);
    proposeMany(cluster, 1, 3);
    cluster.runSteps(5);

    cluster.partition([[1], [2, 3]]);
    expect(cluster.runUntil(() => [2, 3].includes(cluster.leader()?.id ?? 0), 10 * ELECTION_TICKS)).toBe(true);
    const newLeader = cluster.leader()!.id;
    const write = cluster.propose(newLeader);
    expect(write.ok).toBe(true);
    if (write.ok) expect(cluster.runUntil(() => cluster.checker.maxCommittedIndex >= write.index, 5 * ELECTION_TICKS)).toBe(true);
    expect(cluster.node(1).core!.role).toBe('leader');

    // The checker fails the run if node 1 confirms this read below the index just committed.
    const read = cluster.readIndex(1);
    expect(read.ok).toBe(true);
    const servedBefore = cluster.checker.readsServed;
    cluster.runSteps(3 * ELECTION_TICKS);
    expect(cluster.checker.readsServed).toBe(servedBefore);
    cluster.heal();
    cluster.runSteps(3 * ELECTION_TICKS);
    expect(cluster.node(1).core!.role).toBe('follower');
    expect(cluster.stats.readsFailed).toBeGreaterThanOrEqual(1);
  });

  it('PreVote keeps a rejoining partitioned node from bumping the cluster term', () => {
    const cluster = clusterLedBy1({ voterCount: 3 });
    const term = cluster.node(1).core!.term;
    cluster.partition([[1, 2], [3]]);
    // Many election timeouts: without PreVote node 3 would campaign in ever higher terms.
    cluster.runSteps(10 * ELECTION_TICKS);
    expect(cluster.node(3).core!.term).toBe(term);
    expect(cluster.node(3).core!.role).toBe('pre-candidate');

    cluster.heal();
    cluster.runSteps(5 * ELECTION_TICKS);
    expect(cluster.leader()?.id).toBe(1);
    for (const node of cluster.nodes) expect(node.core!.term).toBe(term);
    const write = cluster.propose(1);
    expect(write.ok).toBe(true);
    if (write.ok) expect(cluster.runUntil(() => appliedEverywhere(cluster, write.index), 5 * ELECTION_TICKS)).toBe(true);
  });
});
