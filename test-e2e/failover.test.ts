import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTION_WAIT_MS, proposeMany, startCluster, waitCaughtUp } from './harness/cluster.js';
import type { LeaderInfo, LocalCluster } from './harness/cluster.js';

describe('three voters survive losing their leader (SIGKILL)', () => {
  let cluster: LocalCluster;
  let first: LeaderInfo;

  beforeAll(async () => {
    ({ cluster, leader: first } = await startCluster({ basePort: 29_093 }));
  });

  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('elects a leader that every voter recognises and that commits proposals', async () => {
    expect(cluster.nodeIds).toContain(first.leaderId);
    expect(first.view.voters.map((voter) => voter.id).sort()).toEqual([1, 2, 3]);
    const acknowledged = await proposeMany(cluster, first.leaderId, 20, 'before-kill');
    const indexes = acknowledged.map((ack) => ack.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(20);
  });

  it('elects a new leader in a higher term after SIGKILL of the leader, which then commits', async () => {
    const before = await cluster.waitForLeader();
    cluster.kill(before.leaderId, 'SIGKILL');
    const exit = await cluster.waitForExit(before.leaderId);
    expect(exit.signal).toBe('SIGKILL');
    const after = await cluster.waitForLeader({ exclude: [before.leaderId], minTermExclusive: before.term, timeoutMs: ELECTION_WAIT_MS });
    expect(after.leaderId).not.toBe(before.leaderId);
    expect(after.term).toBeGreaterThan(before.term);
    const acknowledged = await proposeMany(cluster, after.leaderId, 20, 'after-kill');
    expect(acknowledged[0]?.index).toBeGreaterThan(before.view.commitIndex);
    expect(acknowledged.every((ack) => ack.term === after.term)).toBe(true);

    await cluster.restart(before.leaderId);
    const caughtUp = await waitCaughtUp(cluster, before.leaderId);
    expect(caughtUp.followerCommit).toBeGreaterThanOrEqual(acknowledged.at(-1)?.index ?? Number.POSITIVE_INFINITY);
  });

  it('a follower refuses proposals and names the leader', async () => {
    const leader = await cluster.waitForLeader();
    const followerId = cluster.nodeIds.find((id) => id !== leader.leaderId) ?? 0;
    const response = await cluster.propose(followerId, Buffer.from('to-a-follower'));
    expect(response.errorCode).toBe(41);
    expect(response.leaderId).toBe(leader.leaderId);
    expect(response.leaderEndpoint).toBe(cluster.endpoint(leader.leaderId));
  });

  it('SIGTERM on the leader hands leadership over and exits 0', async () => {
    const before = await cluster.waitForLeader();
    cluster.kill(before.leaderId, 'SIGTERM');
    const exit = await cluster.waitForExit(before.leaderId, 10_000);
    expect(exit.code).toBe(0);
    const after = await cluster.waitForLeader({ exclude: [before.leaderId], minTermExclusive: before.term });
    expect(after.leaderId).not.toBe(before.leaderId);
    await cluster.restart(before.leaderId);
    await waitCaughtUp(cluster, before.leaderId);
  });
});
