// Drill 3: SIGSTOP a partition leader for longer than broker.session.timeout.ms, then SIGCONT it. The
// controller fences it and moves leadership with a higher leader epoch while it sleeps. Woken, it
// still holds its old epoch for a moment: a produce sent straight to it (raw gRPC, acks=all, stamped
// with the old epoch) must be refused, never acknowledged, and must not survive in the log; a fetch
// naming the old epoch is fenced by the new leader. It then rejoins the ISR, and every acknowledged
// record is read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createBrokerClient, encodeRecordBatch, errorInfo, unaryCall } from '@runnel/protocol';
import type { ProduceResponse } from '@runnel/protocol';
import { readBack } from '@runnel/cli';
import { ELECTION_WAIT_MS, pollUntil } from '../harness/cluster.js';
import { createTopic, expectEveryAckReadBackOnce, startTail, logTails, partitionsOf, startDrill, startLoad, waitFullIsr } from './drill-kit.js';
import type { Drill } from './drill-kit.js';

const TOPIC = 'drill-stale-leader';
const PARTITIONS = 3;
const STEADY_ACKS = 200;
const FAILOVER_WAIT_MS = 20_000;
const STALE_VALUE = 'stale-leader-write';
/** Long enough for the stale leader to learn the new metadata and refuse, short enough to keep the drill quick. */
const STALE_PRODUCE_TIMEOUT_MS = 5_000;

describe('drill 3: SIGSTOP a partition leader past the session timeout, then SIGCONT', () => {
  let drill: Drill;

  beforeAll(async () => {
    // Default client settings: requests already on the wire to the paused leader must not hold the
    // producers for their whole deadline (client keepalive ends them).
    drill = await startDrill({ basePort: 22_093 }, 'drill-stale-leader');
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('fences the paused leader, refuses writes it is sent with its stale epoch, and lets it rejoin', async () => {
    const { cluster, admin } = drill;
    const initial = await createTopic(drill, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const raftLeader = (await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS })).leaderId;
    const target = initial.find((p) => p.leader !== raftLeader);
    expect(target, 'a partition led by a non-controller node').toBeDefined();
    const stale = target!.leader;
    const partition = target!.partitionId;
    const staleEpoch = target!.leaderEpoch;

    const tail = await startTail(drill, TOPIC, PARTITIONS);
    const load = await startLoad(drill, { topic: TOPIC, name: 'sl', producers: 2 });
    let staleProduce: ProduceResponse | undefined;
    let fencedFetchCode = -1;
    const staleClient = createBrokerClient(cluster.brokerEndpoint(stale));
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      cluster.kill(stale, 'SIGSTOP');
      let moved;
      try {
        moved = await pollUntil(`partition ${partition} to move off the paused node ${stale}`, async () => {
          const p = (await partitionsOf(admin, TOPIC).catch(() => [])).find((q) => q.partitionId === partition);
          return p !== undefined && p.leader > 0 && p.leader !== stale ? p : undefined;
        }, { timeoutMs: FAILOVER_WAIT_MS, intervalMs: 100 });
        const fenced = await admin.describeCluster();
        expect(fenced.brokers.find((b) => b.nodeId === stale)?.fenced).toBe(true);
        expect(moved.leaderEpoch).toBeGreaterThan(staleEpoch);
        await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);

        // The new leader fences a request that names the old epoch.
        const newLeaderClient = createBrokerClient(cluster.brokerEndpoint(moved.leader));
        try {
          const fetched = await unaryCall(newLeaderClient, 'fetch', {
            replicaId: -1, replicaEpoch: 0, maxWaitMs: 0, minBytes: 1, maxBytes: 1_024, isolationLevel: 0,
            topics: [{ name: TOPIC, partitions: [{ partition, currentLeaderEpoch: staleEpoch, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1_024, flushedOffset: -1 }] }],
          }, 5_000);
          fencedFetchCode = fetched.topics[0]?.partitions[0]?.errorCode ?? -1;
        } finally {
          newLeaderClient.close();
        }
      } finally {
        cluster.kill(stale, 'SIGCONT');
      }
      // Straight to the woken node, before anything tells it that it was replaced.
      const records = encodeRecordBatch({ records: [{ key: Buffer.from('stale'), value: Buffer.from(STALE_VALUE), timestamp: Date.now() }], partitionLeaderEpoch: staleEpoch });
      drill.checker.recordUnacked({ topic: TOPIC, key: 'stale', value: STALE_VALUE });
      staleProduce = await unaryCall(staleClient, 'produce', { acks: -1, timeoutMs: STALE_PRODUCE_TIMEOUT_MS, topics: [{ name: TOPIC, partitions: [{ partition, records }] }] }, STALE_PRODUCE_TIMEOUT_MS + 5_000);

      const rejoined = await waitFullIsr(drill, TOPIC, PARTITIONS, 30_000);
      expect(rejoined.find((p) => p.partitionId === partition)?.isr).toContain(stale);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(cluster)}`, { cause: error });
    } finally {
      staleClient.close();
      await load.stop();
    }
    expect(errorInfo(fencedFetchCode).name).toBe('FENCED_LEADER_EPOCH');
    const staleResult = staleProduce?.topics[0]?.partitions[0];
    expect(staleResult, 'the stale leader answered the produce').toBeDefined();
    expect(['NOT_LEADER_OR_FOLLOWER', 'FENCED_LEADER_EPOCH']).toContain(errorInfo(staleResult!.errorCode).name);
    expect(staleResult!.errorCode).not.toBe(ErrorCode.NONE);

    await expectEveryAckReadBackOnce(drill, [TOPIC], tail);
    // Refused means not written: the stale leader's log suffix, if it appended at all, was truncated.
    const all = await readBack(drill.runnel, [TOPIC]);
    expect(all.filter((r) => r.value === STALE_VALUE)).toEqual([]);
  });
});
