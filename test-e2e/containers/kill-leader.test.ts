// Container drill 1: `docker kill` (SIGKILL) the container of a busy partition's leader while host
// producers write with acks=all. The controller fences it after the broker session timeout and elects
// a new leader from the ISR; producers carry on; the same container started again recovers its log,
// catches up and rejoins the ISR; every acknowledged record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, expectEveryAckReadBackOnce, startLoad, startTail, waitFullIsr } from '../drills/drill-kit.js';
import { DOCKER_UNAVAILABLE, FAILOVER_WAIT_MS, failureReport, partitionLedByNonController, startContainerDrill, waitLeaderMoved, waitReady, waitReplicasIdentical } from './container-drill-kit.js';
import type { ContainerDrill } from './container-drill-kit.js';

const TOPIC = 'ct-kill-leader';
const PARTITIONS = 3;
const STEADY_ACKS = 300;

describe.skipIf(DOCKER_UNAVAILABLE !== '')('container drill 1: docker kill the partition leader', () => {
  let drill: ContainerDrill | undefined;

  beforeAll(async () => {
    drill = await startContainerDrill({ name: 'kill' });
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('elects a new leader from the ISR, loses no acknowledged record, and the restarted container rejoins', async () => {
    const { cluster, admin } = drill!;
    const initial = await createTopic(drill!, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const target = await partitionLedByNonController(admin, initial);
    const victim = target.leader;

    const tail = await startTail(drill!, TOPIC, PARTITIONS);
    const load = await startLoad(drill!, { topic: TOPIC, name: 'ckl', producers: 2 });
    let ackedWhileDown = 0;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      await cluster.kill(victim);
      const moved = await waitLeaderMoved(admin, TOPIC, target.partitionId, victim);
      expect(moved.leaderEpoch).toBeGreaterThan(target.leaderEpoch);
      expect(moved.isr).not.toContain(victim);
      expect(target.isr).toContain(moved.leader);

      const ackedAtMove = load.acknowledged;
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
      ackedWhileDown = load.acknowledged - ackedAtMove;

      await cluster.restart(victim);
      await waitReady(cluster, victim);
      const rejoined = await waitFullIsr(drill!, TOPIC, PARTITIONS, FAILOVER_WAIT_MS);
      expect(rejoined.find((p) => p.partitionId === target.partitionId)?.isr).toContain(victim);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw await failureReport(drill!, error, TOPIC, PARTITIONS);
    } finally {
      await load.stop();
    }
    expect(ackedWhileDown).toBeGreaterThan(0);
    await expectEveryAckReadBackOnce(drill!, [TOPIC], tail);
    await waitReplicasIdentical(drill!, TOPIC, PARTITIONS);
  });
});
