// Container drill 4: stop a node's container (SIGTERM: controlled shutdown), remove it, and start a
// NEW container on the same volume while producers keep writing with acks=all. The new container
// recovers the node from its volume (same node id and cluster id, no re-format), catches up on what was
// written while it was gone, rejoins every ISR, and ends with the leader's log (same end offset, same
// batches); every acknowledged record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, expectEveryAckReadBackOnce, partitionsOf, startLoad, startTail, waitAllBrokersUnfenced, waitFullIsr } from '../drills/drill-kit.js';
import { DOCKER_UNAVAILABLE, FAILOVER_WAIT_MS, failureReport, pollUntil, startContainerDrill, waitReady, waitReplicasIdentical } from './container-drill-kit.js';
import type { PartitionMetadataView } from '@runnel/client';
import type { ContainerDrill } from './container-drill-kit.js';

const TOPIC = 'ct-replace';
const PARTITIONS = 3;
const STEADY_ACKS = 300;

describe.skipIf(DOCKER_UNAVAILABLE !== '')('container drill 4: a new container on a stopped node\'s volume', () => {
  let drill: ContainerDrill | undefined;

  beforeAll(async () => {
    drill = await startContainerDrill({ name: 'replace' });
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('catches up from the volume, rejoins every ISR and ends with the leader\'s log', async () => {
    const { cluster, admin } = drill!;
    const initial = await createTopic(drill!, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const controller = (await admin.describeCluster()).controller;
    // A broker that leads a partition, not the active controller.
    const replaced = initial.map((p) => p.leader).find((leader) => leader !== controller)!;
    expect(replaced).toBeGreaterThan(0);
    const oldContainerId = cluster.container(replaced).getId();

    const tail = await startTail(drill!, TOPIC, PARTITIONS);
    const load = await startLoad(drill!, { topic: TOPIC, name: 'crn', producers: 2 });
    let ackedWhileGone = 0;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      await cluster.stop(replaced);
      await cluster.remove(replaced);
      const ackedAtStop = load.acknowledged;
      await load.waitForMoreAcks(STEADY_ACKS * 2, FAILOVER_WAIT_MS);
      ackedWhileGone = load.acknowledged - ackedAtStop;
      const shrunk = await waitNodeOutOfIsr(drill!, replaced);
      expect(shrunk.every((p) => !p.isr.includes(replaced))).toBe(true);

      const fresh = await cluster.start(replaced);
      expect(fresh.getId()).not.toBe(oldContainerId);
      await waitReady(cluster, replaced);
      await waitAllBrokersUnfenced(admin, cluster.nodeIds.length, FAILOVER_WAIT_MS);
      const rejoined = await waitFullIsr(drill!, TOPIC, PARTITIONS, FAILOVER_WAIT_MS);
      expect(rejoined.every((p) => p.isr.includes(replaced))).toBe(true);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw await failureReport(drill!, error, TOPIC, PARTITIONS);
    } finally {
      await load.stop();
    }
    expect(ackedWhileGone).toBeGreaterThan(0);
    await expectEveryAckReadBackOnce(drill!, [TOPIC], tail);
    const digests = await waitReplicasIdentical(drill!, TOPIC, PARTITIONS);
    // The replaced node holds what was written while it was gone: its logs end where the leaders' do.
    for (const digest of digests.values()) expect(digest.endOffset).toBeGreaterThan(0);
  });
});

async function waitNodeOutOfIsr(drill: ContainerDrill, nodeId: number): Promise<PartitionMetadataView[]> {
  return pollUntil(`node ${nodeId} to leave every ISR of ${TOPIC}`, async () => {
    const list = await partitionsOf(drill.admin, TOPIC).catch(() => []);
    return list.length === PARTITIONS && list.every((p) => p.leader > 0 && !p.isr.includes(nodeId)) ? list : undefined;
  }, { timeoutMs: FAILOVER_WAIT_MS, intervalMs: 200 });
}
