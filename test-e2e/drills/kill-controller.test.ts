// Drill 2: SIGKILL the active controller (the metadata quorum's Raft leader) while producers write.
// Control moves to a new leader in a higher term; a metadata change committed before the kill (a topic,
// with its id and partitions) is still there; the surviving brokers re-home their heartbeats, so they stay
// unfenced well past a session timeout under the new controller; `runnel cluster status --json` shows
// the new controller and the dead broker fenced; the killed node rejoins; and every acknowledged
// record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '@runnel/cli';
import { ELECTION_WAIT_MS, pollUntil, runCli, sleep } from '../harness/cluster.js';
import { createTopic, expectEveryAckReadBackOnce, startTail, logTails, partitionsOf, startDrill, startLoad, waitAllBrokersUnfenced, waitFullIsr } from './drill-kit.js';
import type { Drill } from './drill-kit.js';

const TOPIC = 'drill-kill-controller';
const TOPIC_AFTER = 'drill-created-after-failover';
const PARTITIONS = 3;
const STEADY_ACKS = 200;
const FAILOVER_WAIT_MS = 20_000;
/** The default broker.session.timeout.ms (2 s) plus margin: a broker that had not re-homed its heartbeats would be fenced by then. */
const PAST_SESSION_TIMEOUT_MS = 3_500;

function clusterStatusJson(bootstrap: string): ClusterStatus {
  const result = runCli(['cluster', 'status', '--bootstrap-server', bootstrap, '--json']);
  if (result.status !== 0) throw new Error(`runnel cluster status exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ClusterStatus;
}

describe('drill 2: SIGKILL the active controller', () => {
  let drill: Drill;

  beforeAll(async () => {
    drill = await startDrill({ basePort: 21_593 }, 'drill-kill-controller');
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('moves control, keeps committed metadata, re-homes heartbeats, and loses no acknowledged record', async () => {
    const { cluster, admin } = drill;
    const before = await createTopic(drill, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const topicIdBefore = (await admin.describeTopics({ topics: [TOPIC] })).topics[0]?.topicId;
    const old = await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS });
    const bootstrap = drill.brokers.join(',');
    const statusBefore = clusterStatusJson(bootstrap);
    expect(statusBefore.controllerId).toBe(old.leaderId);
    expect(statusBefore.brokers.map((b) => b.fenced)).toEqual([false, false, false]);

    const tail = await startTail(drill, TOPIC, PARTITIONS);
    const load = await startLoad(drill, { topic: TOPIC, name: 'kc', producers: 2 });
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      cluster.kill(old.leaderId, 'SIGKILL');
      await cluster.waitForExit(old.leaderId);
      const next = await cluster.waitForLeader({ exclude: [old.leaderId], minTermExclusive: old.term, timeoutMs: ELECTION_WAIT_MS });
      expect(next.term).toBeGreaterThan(old.term);

      // Committed before the kill, still there, with the same identity.
      const { topics } = await admin.describeTopics({ topics: [TOPIC] });
      expect(topics[0]?.topicId).toBe(topicIdBefore);
      expect(topics[0]?.partitions).toHaveLength(before.length);
      // And the new controller decides: a new topic can be created.
      await admin.createTopics({ topics: [{ topic: TOPIC_AFTER, numPartitions: 1, replicationFactor: 2 }] });

      // Partitions the dead node led move to the survivors, and writes go on.
      await pollUntil('every partition led by a live node', async () => {
        const list = await partitionsOf(admin, TOPIC).catch(() => []);
        return list.length === PARTITIONS && list.every((p) => p.leader > 0 && p.leader !== old.leaderId) ? true : undefined;
      }, { timeoutMs: FAILOVER_WAIT_MS, intervalMs: 100 });
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);

      // Heartbeats re-homed: past a whole session timeout under the new controller, the survivors are
      // still unfenced and the dead node is fenced.
      await sleep(PAST_SESSION_TIMEOUT_MS);
      const status = clusterStatusJson(bootstrap);
      expect(status.controllerId).toBe(next.leaderId);
      const fenced = Object.fromEntries(status.brokers.map((b) => [b.id, b.fenced]));
      for (const id of cluster.nodeIds) expect(fenced[id], `broker ${id} fenced`).toBe(id === old.leaderId);
      const controllerNode = status.nodes.find((n) => n.activeController);
      expect(controllerNode?.id).toBe(next.leaderId);
      expect(controllerNode?.roles).toEqual(['broker', 'controller']);
      expect(status.partitions.underReplicated).toBeGreaterThan(0);

      cluster.start(old.leaderId);
      await cluster.waitServing(old.leaderId);
      await waitAllBrokersUnfenced(admin, 3, 30_000);
      await waitFullIsr(drill, TOPIC, PARTITIONS, 30_000);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
      const statusAfter = await pollUntil('metadata lag 0 on every node', async () => {
        const s = clusterStatusJson(bootstrap);
        return s.nodes.every((n) => n.metadataLag === 0) && s.partitions.underReplicated === 0 ? s : undefined;
      }, { timeoutMs: 20_000, intervalMs: 500 });
      expect(statusAfter.brokers.map((b) => b.fenced)).toEqual([false, false, false]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(cluster)}`, { cause: error });
    } finally {
      await load.stop();
    }
    await expectEveryAckReadBackOnce(drill, [TOPIC], tail);
  });
});
