// Drill 1: SIGKILL the leader of a busy partition. The active controller fences it after the broker
// session timeout and elects a new leader from the ISR with a higher leader epoch; producers re-home
// and carry on; the restarted node recovers its log, catches up and rejoins the ISR; and every
// acknowledged record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTION_WAIT_MS, pollUntil } from '../harness/cluster.js';
import { createTopic, expectEveryAckReadBackOnce, startTail, logTails, partitionsOf, startDrill, startLoad, waitFullIsr } from './drill-kit.js';
import type { Drill } from './drill-kit.js';

const TOPIC = 'drill-kill-leader';
const PARTITIONS = 3;
const STEADY_ACKS = 300;
const FAILOVER_WAIT_MS = 20_000;

describe('drill 1: SIGKILL the leader of a busy partition', () => {
  let drill: Drill;

  beforeAll(async () => {
    drill = await startDrill({ basePort: 21_093 }, 'drill-kill-leader');
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('elects a new leader from the ISR, loses no acknowledged record, and the restarted node rejoins the ISR', async () => {
    const { cluster, admin } = drill;
    const initial = await createTopic(drill, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    // A partition led by a node that is not the metadata leader: this drill is about broker failover only.
    const raftLeader = (await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS })).leaderId;
    const target = initial.find((p) => p.leader !== raftLeader);
    expect(target, 'a partition led by a non-controller node').toBeDefined();
    const victim = target!.leader;

    const tail = await startTail(drill, TOPIC, PARTITIONS);
    const load = await startLoad(drill, { topic: TOPIC, name: 'kl', producers: 2 });
    let ackedWhileDown = 0;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      cluster.kill(victim, 'SIGKILL');
      await cluster.waitForExit(victim);
      const moved = await pollUntil(`partition ${target!.partitionId} to get a leader other than node ${victim}`, async () => {
        const p = (await partitionsOf(admin, TOPIC).catch(() => [])).find((q) => q.partitionId === target!.partitionId);
        return p !== undefined && p.leader > 0 && p.leader !== victim ? p : undefined;
      }, { timeoutMs: FAILOVER_WAIT_MS, intervalMs: 100 });
      expect(moved.leaderEpoch).toBeGreaterThan(target!.leaderEpoch);
      expect(moved.isr).not.toContain(victim);
      expect(target!.isr).toContain(moved.leader);

      const ackedAtMove = load.acknowledged;
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
      ackedWhileDown = load.acknowledged - ackedAtMove;

      cluster.start(victim);
      await cluster.waitServing(victim);
      const rejoined = await waitFullIsr(drill, TOPIC, PARTITIONS, 30_000);
      expect(rejoined.find((p) => p.partitionId === target!.partitionId)?.isr).toContain(victim);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(cluster)}`, { cause: error });
    } finally {
      await load.stop();
    }
    expect(ackedWhileDown).toBeGreaterThan(0);
    await expectEveryAckReadBackOnce(drill, [TOPIC], tail);
  });
});
