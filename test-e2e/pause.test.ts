import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTION_WAIT_MS, pollUntil, proposeMany, startCluster, waitCaughtUp } from './harness/cluster.js';
import type { LeaderInfo, LocalCluster } from './harness/cluster.js';

const NOT_CONTROLLER = 41;
const REQUEST_TIMED_OUT = 7;

describe('a paused leader (SIGSTOP) cannot commit anything when it wakes up', () => {
  let cluster: LocalCluster;
  let first: LeaderInfo;

  beforeAll(async () => {
    ({ cluster, leader: first } = await startCluster({ basePort: 29_493 }));
  });

  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('the majority moves on, and the old leader steps down and converges to the majority log', async () => {
    const oldLeader = first.leaderId;
    const ackedByOldLeader = await proposeMany(cluster, oldLeader, 10, 'old-leader');

    cluster.kill(oldLeader, 'SIGSTOP');
    const newLeader = await cluster.waitForLeader({ exclude: [oldLeader], minTermExclusive: first.term, timeoutMs: ELECTION_WAIT_MS });
    const ackedByNewLeader = await proposeMany(cluster, newLeader.leaderId, 10, 'new-leader');
    const majority = await cluster.describe(newLeader.leaderId);

    cluster.kill(oldLeader, 'SIGCONT');
    // The woken node still believes it leads term `first.term`; whatever it does with a proposal now,
    // it must not report it committed: that would need a majority in a term the majority has left.
    const probe = await cluster.propose(oldLeader, Buffer.from('after-sigcont'), 5_000).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    if (probe instanceof Error) {
      expect(probe.message).toMatch(/REQUEST_TIMED_OUT|DEADLINE_EXCEEDED/);
    } else if (probe.errorCode === 0) {
      // Only possible if it legitimately won a later election and committed through a majority.
      expect(probe.term).toBeGreaterThan(first.term);
    } else {
      expect([NOT_CONTROLLER, REQUEST_TIMED_OUT]).toContain(probe.errorCode);
    }

    // Whatever the woken node now calls committed is a prefix of what the majority committed.
    const wokenNow = await cluster.describe(oldLeader, 2_000);
    const majorityNow = await cluster.describe(newLeader.leaderId, 2_000);
    expect(wokenNow.commitIndex).toBeLessThanOrEqual(majorityNow.commitIndex);

    const woken = await pollUntil('the old leader to step down', async () => {
      const view = await cluster.describe(oldLeader);
      return view.leaderId !== oldLeader && view.leaderId !== 0 && view.term >= newLeader.term ? view : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS });
    expect(woken.term).toBeGreaterThanOrEqual(majority.term);

    const caughtUp = await waitCaughtUp(cluster, oldLeader);
    const leaderNow = await cluster.waitForLeader();
    const oldRow = leaderNow.view.voters.find((voter) => voter.id === oldLeader);
    expect(oldRow?.logEndIndex).toBe(leaderNow.view.voters.find((voter) => voter.id === leaderNow.leaderId)?.logEndIndex);
    expect(caughtUp.followerCommit).toBe(leaderNow.view.commitIndex);

    // Everything either leader acknowledged is inside the majority's committed prefix.
    for (const ack of [...ackedByOldLeader, ...ackedByNewLeader]) {
      expect(ack.index).toBeLessThanOrEqual(leaderNow.view.commitIndex);
    }
    expect(ackedByNewLeader.every((ack) => ack.index > (ackedByOldLeader.at(-1)?.index ?? 0))).toBe(true);
  });
});
