// Container drill 3: a NETWORK PARTITION. The container of a busy partition's leader is disconnected
// from the cluster network (its peers and the controller quorum), while it stays reachable from the
// host, where producers keep writing with acks=all (min.insync.replicas=2):
// - the isolated leader acknowledges nothing from then on: its followers cannot fetch, so no acks=all
//   write reaches min.insync.replicas, and it cannot shrink its ISR without the controller; a write
//   sent straight to it is refused or times out, never acknowledged;
// - the majority fences it (no heartbeats), elects a new leader from the ISR and carries on;
// - reconnected, the old leader learns the new epoch, truncates the suffix it alone appended (the
//   straight write with it) and rejoins the ISR: every replica ends with the same log;
// - the checker finds every acknowledged record read back exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createBrokerClient, encodeRecordBatch, errorInfo, unaryCall } from '@runnel/protocol';
import { readBack } from '@runnel/cli';
import { createTopic, expectEveryAckReadBackOnce, startLoad, startTail, waitAllBrokersUnfenced, waitFullIsr } from '../drills/drill-kit.js';
import { DOCKER_UNAVAILABLE, FAILOVER_WAIT_MS, failureReport, partitionLedByNonController, waitFencedPerMajority, startContainerDrill, waitLeaderMoved, waitReady, waitReplicasIdentical } from './container-drill-kit.js';
import type { ContainerDrill } from './container-drill-kit.js';

const TOPIC = 'ct-partition';
const PARTITIONS = 3;
const STEADY_ACKS = 300;
const ISOLATED_VALUE = 'written-to-the-isolated-leader';
/** Longer than the broker session timeout (2 s): the majority has fenced the isolated node by then. */
const ISOLATED_PRODUCE_TIMEOUT_MS = 5_000;
/**
 * How long the reconnected node may take to rejoin every ISR. Connections its fetchers began while cut
 * off (SYNs silently dropped between Docker networks) would stay CONNECTING for the kernel's SYN retry
 * budget (~127 s), since grpc-js puts no deadline on connection setup; PeerChannel replaces such a
 * channel once it has been connecting for 5 s, so the rejoin takes seconds. The time is printed on
 * every run.
 */
const REJOIN_WAIT_MS = 30_000;

describe.skipIf(DOCKER_UNAVAILABLE !== '')('container drill 3: network partition of the partition leader', () => {
  let drill: ContainerDrill | undefined;

  beforeAll(async () => {
    drill = await startContainerDrill({ name: 'netsplit' });
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('the isolated leader acknowledges nothing, the majority carries on, and the old leader truncates and rejoins', async () => {
    const { cluster, admin } = drill!;
    const initial = await createTopic(drill!, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const target = await partitionLedByNonController(admin, initial);
    const isolated = target.leader;
    const partition = target.partitionId;
    const majority = cluster.nodeIds.filter((id) => id !== isolated);
    const majorityAdmin = drill!.adminOf(majority);

    const tail = await startTail(drill!, TOPIC, PARTITIONS);
    const load = await startLoad(drill!, { topic: TOPIC, name: 'cnp', producers: 2 });
    const isolatedClient = createBrokerClient(cluster.externalEndpoint(isolated));
    let isolatedAnswer: { errorCode: number } | { callError: string } | undefined;
    let fencedWhileIsolated: boolean | undefined;
    let ackedWhileIsolated = 0;
    let rejoinMs = -1;
    let reconnectedAtMs = 0;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      await cluster.disconnect(isolated);
      try {
        // Straight to the isolated leader over the host's path, stamped with the epoch it still
        // believes in: it may append, but must never acknowledge.
        drill!.checker.recordUnacked({ topic: TOPIC, key: 'isolated', value: ISOLATED_VALUE });
        const records = encodeRecordBatch({ records: [{ key: Buffer.from('isolated'), value: Buffer.from(ISOLATED_VALUE), timestamp: Date.now() }], partitionLeaderEpoch: target.leaderEpoch });
        const isolatedWrite = unaryCall(isolatedClient, 'produce', { acks: -1, timeoutMs: ISOLATED_PRODUCE_TIMEOUT_MS, topics: [{ name: TOPIC, partitions: [{ partition, records }] }] }, ISOLATED_PRODUCE_TIMEOUT_MS + 5_000)
          .then((response) => ({ errorCode: response.topics[0]?.partitions[0]?.errorCode ?? -1 }), (error: Error) => ({ callError: error.message }));

        const moved = await waitLeaderMoved(majorityAdmin, TOPIC, partition, isolated);
        expect(moved.leaderEpoch).toBeGreaterThan(target.leaderEpoch);
        expect(majority).toContain(moved.leader);
        fencedWhileIsolated = await waitFencedPerMajority(cluster, majority, isolated);
        const ackedAtMove = load.acknowledged;
        await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
        ackedWhileIsolated = load.acknowledged - ackedAtMove;
        isolatedAnswer = await isolatedWrite;
      } finally {
        reconnectedAtMs = Date.now();
        await cluster.reconnect(isolated);
      }
      await waitReady(cluster, isolated);
      await waitAllBrokersUnfenced(admin, cluster.nodeIds.length, FAILOVER_WAIT_MS);
      const rejoined = await waitFullIsr(drill!, TOPIC, PARTITIONS, REJOIN_WAIT_MS);
      rejoinMs = Date.now() - reconnectedAtMs;
      expect(rejoined.find((p) => p.partitionId === partition)?.isr).toContain(isolated);
      await load.waitForMoreAcks(STEADY_ACKS, FAILOVER_WAIT_MS);
    } catch (error) {
      throw await failureReport(drill!, error, TOPIC, PARTITIONS);
    } finally {
      isolatedClient.close();
      await load.stop();
    }
    process.stderr.write(`[containers] network partition: the old leader rejoined every ISR ${rejoinMs} ms after reconnecting\n`);
    expect(fencedWhileIsolated).toBe(true);
    expect(ackedWhileIsolated).toBeGreaterThan(0);
    // Refused (NOT_ENOUGH_REPLICAS*, REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER, ...) or no answer: never NONE.
    expect(isolatedAnswer, 'the straight write to the isolated leader settled').toBeDefined();
    if ('errorCode' in isolatedAnswer!) {
      expect(isolatedAnswer.errorCode, `isolated leader answered ${errorInfo(isolatedAnswer.errorCode).name}`).not.toBe(ErrorCode.NONE);
    }

    await expectEveryAckReadBackOnce(drill!, [TOPIC], tail);
    const all = await readBack(drill!.runnel, [TOPIC]);
    expect(all.filter((r) => r.value === ISOLATED_VALUE), 'the isolated leader\'s unacknowledged suffix was truncated').toEqual([]);
    await waitReplicasIdentical(drill!, TOPIC, PARTITIONS);
  });
});
