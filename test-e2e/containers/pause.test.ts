// Container drill 2: `docker pause` (a frozen process: cgroup freezer) a partition leader's container
// for longer than broker.session.timeout.ms. The controller fences it and moves its leaderships while
// host producers keep writing with acks=all; unpaused, it learns it was replaced, catches up and
// rejoins the ISR, unfenced; every acknowledged record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, expectEveryAckReadBackOnce, startLoad, startTail, waitAllBrokersUnfenced, waitFullIsr } from '../drills/drill-kit.js';
import { DOCKER_UNAVAILABLE, FAILOVER_WAIT_MS, failureReport, partitionLedByNonController, waitFencedPerMajority, startContainerDrill, waitLeaderMoved, waitReady, waitReplicasIdentical } from './container-drill-kit.js';
import type { ContainerDrill } from './container-drill-kit.js';

const TOPIC = 'ct-pause';
const PARTITIONS = 3;
const STEADY_ACKS = 300;

describe.skipIf(DOCKER_UNAVAILABLE !== '')('container drill 2: docker pause a node past its session', () => {
  let drill: ContainerDrill | undefined;

  beforeAll(async () => {
    drill = await startContainerDrill({ name: 'pause' });
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('fences the paused node, moves its leaderships, and lets it rejoin once unpaused', async () => {
    const { cluster, admin } = drill!;
    const initial = await createTopic(drill!, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const target = await partitionLedByNonController(admin, initial);
    const paused = target.leader;
    const majority = cluster.nodeIds.filter((id) => id !== paused);
    const majorityAdmin = drill!.adminOf(majority);

    const tail = await startTail(drill!, TOPIC, PARTITIONS);
    const load = await startLoad(drill!, { topic: TOPIC, name: 'cps', producers: 2 });
    let ackedWhilePaused = 0;
    let fencedWhilePaused: boolean | undefined;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      await cluster.pause(paused);
      try {
        const moved = await waitLeaderMoved(majorityAdmin, TOPIC, target.partitionId, paused);
        expect(moved.leaderEpoch).toBeGreaterThan(target.leaderEpoch);
        fencedWhilePaused = await waitFencedPerMajority(cluster, majority, paused);
        const ackedAtMove = load.acknowledged;
        await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
        ackedWhilePaused = load.acknowledged - ackedAtMove;
      } finally {
        await cluster.unpause(paused);
      }
      await waitReady(cluster, paused);
      await waitAllBrokersUnfenced(admin, cluster.nodeIds.length, FAILOVER_WAIT_MS);
      const rejoined = await waitFullIsr(drill!, TOPIC, PARTITIONS, FAILOVER_WAIT_MS);
      expect(rejoined.find((p) => p.partitionId === target.partitionId)?.isr).toContain(paused);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw await failureReport(drill!, error, TOPIC, PARTITIONS);
    } finally {
      await load.stop();
    }
    expect(fencedWhilePaused).toBe(true);
    expect(ackedWhilePaused).toBeGreaterThan(0);
    await expectEveryAckReadBackOnce(drill!, [TOPIC], tail);
    await waitReplicasIdentical(drill!, TOPIC, PARTITIONS);
  });
});
