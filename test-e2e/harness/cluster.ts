// The e2e harness: real `runnel` processes (built dist, through packages/cli/bin/runnel.mjs) on
// loopback ports, with temp data dirs. LocalCluster lives in @runnel/cli because the benchmark drives
// the same processes; this file adds what only tests need.
import { LocalCluster, RUNNEL_BIN, pollUntil, runCli, sleep } from '@runnel/cli';
import type { LeaderInfo, LocalClusterOptions } from '@runnel/cli';

export { LocalCluster, RUNNEL_BIN, pollUntil, runCli, sleep };
export type { LeaderInfo, LocalClusterOptions };

export const ELECTION_WAIT_MS = 20_000;

/** Formats and starts a cluster, and waits for its first leader. */
export async function startCluster(options: LocalClusterOptions): Promise<{ cluster: LocalCluster; leader: LeaderInfo }> {
  const cluster = LocalCluster.create(options);
  cluster.startAll();
  try {
    const leader = await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS });
    return { cluster, leader };
  } catch (error) {
    const logs = cluster.nodeIds.map((id) => `--- node ${id}\n${cluster.logTail(id)}`).join('\n');
    await cluster.stopAll();
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  }
}

export interface Acknowledged {
  readonly index: number;
  readonly term: number;
}

/** Proposes `count` records to node `id`, one at a time, and returns what it acknowledged. */
export async function proposeMany(cluster: LocalCluster, id: number, count: number, tag: string): Promise<Acknowledged[]> {
  const acknowledged: Acknowledged[] = [];
  for (let i = 0; i < count; i++) {
    const response = await cluster.propose(id, Buffer.from(`${tag}-${i}`));
    if (response.errorCode !== 0) {
      throw new Error(`node ${id} refused proposal ${tag}-${i}: error ${response.errorCode} ${response.errorMessage}`);
    }
    acknowledged.push({ index: response.index, term: response.term });
  }
  return acknowledged;
}

/** Waits until `followerId` has caught up with the leader: its row shows lag 0 and its own commit index matches. */
export async function waitCaughtUp(cluster: LocalCluster, followerId: number, timeoutMs = ELECTION_WAIT_MS): Promise<{ leaderCommit: number; followerCommit: number }> {
  return pollUntil(`node ${followerId} to catch up with the leader`, async () => {
    const leader = await cluster.waitForLeader({ timeoutMs: 5_000 });
    const row = leader.view.voters.find((voter) => voter.id === followerId);
    if (row === undefined || row.lag !== 0 || row.logEndIndex < leader.view.commitIndex) return undefined;
    const own = await cluster.describe(followerId);
    if (own.commitIndex < leader.view.commitIndex || own.leaderId !== leader.leaderId) return undefined;
    return { leaderCommit: leader.view.commitIndex, followerCommit: own.commitIndex };
  }, { timeoutMs, intervalMs: 100 });
}
