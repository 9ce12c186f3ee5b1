// Drill 4: a rolling restart of all three nodes with SIGTERM while producers write. Each node's
// controlled shutdown moves its leaderships away before it exits (exit code 0), so producers re-home
// without waiting out a session timeout and no send fails; after the restart, with
// auto.leader.rebalance.enable at its default (on), every partition's preferred replica leads again,
// as `runnel topics describe` shows; and every acknowledged record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionMetadataView } from '@runnel/client';
import { pollUntil, runCli } from '../harness/cluster.js';
import { createTopic, expectEveryAckReadBackOnce, startTail, logTails, partitionsOf, startDrill, startLoad, waitFullIsr } from './drill-kit.js';
import type { Drill } from './drill-kit.js';

const TOPIC = 'drill-rolling-restart';
const PARTITIONS = 3;
const STEADY_ACKS = 150;
const STEP_WAIT_MS = 20_000;
/** Lowered from the 30 s default only so the drill does not wait out the interval. */
const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS = 2;

/** `runnel topics describe` lines, parsed: partition -> { leader, replicas }. */
function describedLeaders(bootstrap: string): Map<number, { leader: number; replicas: number[] }> {
  const result = runCli(['topics', 'describe', '--bootstrap-server', bootstrap, '--topic', TOPIC]);
  if (result.status !== 0) throw new Error(`runnel topics describe exited ${result.status}: ${result.stderr}`);
  const out = new Map<number, { leader: number; replicas: number[] }>();
  for (const match of result.stdout.matchAll(/Partition: (\d+) Leader: (\w+) Replicas: ([\d,]+) Isr: ([\d,]*)/g)) {
    out.set(Number(match[1]), { leader: match[2] === 'none' ? -1 : Number(match[2]), replicas: match[3]!.split(',').map(Number) });
  }
  return out;
}

describe('drill 4: rolling restart of every node with SIGTERM', () => {
  let drill: Drill;

  beforeAll(async () => {
    drill = await startDrill({ basePort: 22_593, env: { RUNNEL_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS: String(LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS) } }, 'drill-rolling');
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('moves leaderships away before each exit, fails no send, loses nothing, and gives preferred leaders their partitions back', async () => {
    const { cluster, admin } = drill;
    await createTopic(drill, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const tail = await startTail(drill, TOPIC, PARTITIONS);
    const load = await startLoad(drill, { topic: TOPIC, name: 'rr', producers: 2 });
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      for (const id of cluster.nodeIds) {
        cluster.kill(id, 'SIGTERM');
        const exit = await cluster.waitForExit(id, 15_000);
        expect(exit.code, `node ${id} exit code after SIGTERM`).toBe(0);
        // Controlled shutdown: before it exited, the controller committed its leaderships away (the
        // node logs that confirmation only once the controller answered). Brokers apply that commit a
        // moment later, so the metadata check waits for them rather than reading one broker's image,
        // which may trail the committed log by a few entries.
        expect(cluster.logTail(id, 50_000), `node ${id} logged a confirmed controlled shutdown`).toMatch(/"confirmed":true,"msg":"controlled shutdown finished"/);
        const led = await pollUntil('metadata without the stopped node as a leader', async () => {
          const list = await partitionsOf(admin, TOPIC).catch(() => undefined);
          return list?.length === PARTITIONS && list.every((p: PartitionMetadataView) => p.leader !== id) ? list : undefined;
        }, { timeoutMs: STEP_WAIT_MS, intervalMs: 100 });
        expect(led.filter((p: PartitionMetadataView) => p.leader === id), `partitions still led by stopped node ${id}`).toEqual([]);
        await load.waitForMoreAcks(STEADY_ACKS, STEP_WAIT_MS);
        cluster.start(id);
        await cluster.waitServing(id);
        await waitFullIsr(drill, TOPIC, PARTITIONS, 30_000);
      }
      const preferred = await pollUntil('every partition led by its preferred replica', async () => {
        const described = describedLeaders(drill.brokers.join(','));
        return described.size === PARTITIONS && [...described.values()].every((p) => p.leader === p.replicas[0]) ? described : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(preferred.size).toBe(PARTITIONS);
      await load.waitForMoreAcks(STEADY_ACKS, STEP_WAIT_MS);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(cluster)}`, { cause: error });
    } finally {
      await load.stop();
    }
    const summary = load.summary();
    expect(summary.failuresByCode, 'sends that failed during the rolling restart').toEqual({});
    await expectEveryAckReadBackOnce(drill, [TOPIC], tail);
  });
});
