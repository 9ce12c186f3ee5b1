// ISR shrink and expand on a real 3-node combined cluster (issue 3 drill): a follower paused with
// SIGSTOP for less than the broker session timeout is not fenced, but it stops fetching, so after
// replica.lag.time.max.ms the partition leader drops it from the ISR and acks=all writes go on with
// ISR 2 >= min.insync.replicas 2. Once woken it catches up and rejoins the ISR, and every acknowledged
// record is read back exactly once, in offset order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import type { Admin, PartitionMetadataView } from '@runnel/client';
import { AckChecker, formatAckCheckReport, readBack } from '@runnel/cli';
import { ELECTION_WAIT_MS, pollUntil, sleep, startCluster } from './harness/cluster.js';
import type { LocalCluster } from './harness/cluster.js';

const TOPIC = 'isr-drill';
const PARTITIONS = 3;
const REPLICATION_FACTOR = 3;
const MIN_INSYNC_REPLICAS = 2;
/** Lowered from the 30 s default so the drill is short. */
const REPLICA_LAG_TIME_MAX_MS = 2_000;
/** Raised from the 2 s default so the pause below stays well under it (no fencing). */
const BROKER_SESSION_TIMEOUT_MS = 9_000;
/** Long enough for the ISR to shrink, well under the broker session timeout above (no fencing). */
const PAUSE_MS = 5_000;
const SHRINK_WAIT_MS = 10_000;
const EXPAND_WAIT_MS = 20_000;
const RECORDS_PER_SEND = 10;
/** Records produced before the pause and after the ISR is whole again. */
const STEADY_SENDS = 20;
/** Short, so a metadata call that lands on the paused node fails over to another broker quickly. */
const ADMIN_REQUEST_TIMEOUT_MS = 2_000;
const CONSUME_TIMEOUT_MS = 60_000;

interface Ack {
  readonly offset: number;
  readonly value: string;
  /** Whether node X was paused when this record was acknowledged. */
  readonly whilePaused: boolean;
}

describe('a paused follower leaves the ISR and rejoins it, without losing acks=all writes', () => {
  let cluster: LocalCluster;
  let runnel: Runnel;
  let adminRunnel: Runnel;

  beforeAll(async () => {
    ({ cluster } = await startCluster({ basePort: 32_093, env: { RUNNEL_REPLICA_LAG_TIME_MAX_MS: String(REPLICA_LAG_TIME_MAX_MS), RUNNEL_BROKER_SESSION_TIMEOUT_MS: String(BROKER_SESSION_TIMEOUT_MS) } }));
    const brokers = cluster.nodeIds.map((id) => cluster.brokerEndpoint(id));
    runnel = new Runnel({ brokers, clientId: 'e2e-isr' });
    adminRunnel = new Runnel({ brokers, clientId: 'e2e-isr-admin', requestTimeoutMs: ADMIN_REQUEST_TIMEOUT_MS, retry: { retries: 2, initialRetryTimeMs: 50, maxRetryTimeMs: 200 } });
  });

  afterAll(async () => {
    runnel?.close();
    adminRunnel?.close();
    await cluster?.stopAll();
  });

  it('shrinks the ISR past a SIGSTOPped follower, keeps acks=all writes going, and expands it after SIGCONT', async () => {
    const admin = adminRunnel.admin();
    await pollUntil('three registered, unfenced brokers', async () => {
      const description = await admin.describeCluster().catch(() => undefined);
      return description !== undefined && description.brokers.length === 3 && description.brokers.every((b) => !b.fenced) ? true : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR, configEntries: [{ name: 'min.insync.replicas', value: String(MIN_INSYNC_REPLICAS) }] }],
    });
    const initial = await pollUntil('every partition led, with a full ISR', async () => {
      const partitions = await partitionsOf(admin);
      return partitions.length === PARTITIONS && partitions.every((p) => p.leader > 0 && p.isr.length === REPLICATION_FACTOR) ? partitions : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });

    // X: a follower that is not the metadata (Raft) leader, so the pause exercises only replication.
    const raftLeader = (await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS })).leaderId;
    const target = initial.find((p) => p.leader !== raftLeader) ?? initial[0]!;
    const paused = cluster.nodeIds.find((id) => id !== raftLeader && id !== target.leader) ?? cluster.nodeIds.find((id) => id !== target.leader)!;
    expect(target.replicas).toContain(paused);
    expect(target.leader).not.toBe(paused);
    const partition = target.partitionId;

    // One sequential acks=all producer loop on the target partition for the whole drill.
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    const acks: Ack[] = [];
    const failures: Error[] = [];
    let isPaused = false;
    let stopProducing = false;
    let sent = 0;
    const producing = (async () => {
      while (!stopProducing) {
        const values = Array.from({ length: RECORDS_PER_SEND }, (_, j) => String(sent + j));
        sent += values.length;
        try {
          const results = await producer.send({ topic: TOPIC, messages: values.map((value) => ({ value, partition })) });
          const whilePaused = isPaused;
          results.forEach((r, j) => {
            expect(r.partition).toBe(partition);
            acks.push({ offset: r.offset, value: values[j]!, whilePaused });
          });
        } catch (error) {
          failures.push(error instanceof Error ? error : new Error(String(error)));
          return;
        }
      }
    })();
    const waitForAcks = (count: number, description: string): Promise<true> =>
      pollUntil(description, async () => {
        if (failures.length > 0) throw failures[0]!;
        return acks.length >= count ? true : undefined;
      }, { timeoutMs: SHRINK_WAIT_MS, intervalMs: 20 });

    let ackedWhilePausedAfterShrink = 0;
    try {
      await waitForAcks(STEADY_SENDS * RECORDS_PER_SEND, 'steady acks=all writes before the pause');

      cluster.kill(paused, 'SIGSTOP');
      isPaused = true;
      const pausedAt = Date.now();
      const shrunk = await pollUntil(`partition ${partition}'s ISR to drop node ${paused}`, async () => {
        const p = (await partitionsOf(admin)).find((q) => q.partitionId === partition);
        return p !== undefined && !p.isr.includes(paused) ? p : undefined;
      }, { timeoutMs: SHRINK_WAIT_MS, intervalMs: 100 });
      expect(shrunk.leader).toBe(target.leader);
      expect([...shrunk.isr].sort()).toEqual(target.replicas.filter((id) => id !== paused).sort());

      // With ISR 2 >= min.insync 2 the writes go on while X is still stopped.
      const ackedAtShrink = acks.length;
      await waitForAcks(ackedAtShrink + STEADY_SENDS * RECORDS_PER_SEND, 'acks=all writes with the shrunk ISR');
      const remainingPauseMs = PAUSE_MS - (Date.now() - pausedAt);
      if (remainingPauseMs > 0) await sleep(remainingPauseMs);
      ackedWhilePausedAfterShrink = acks.filter((a) => a.whilePaused).length;
      // Not fenced: the pause stayed under the broker session timeout.
      const description = await admin.describeCluster();
      expect(description.brokers.find((b) => b.nodeId === paused)?.fenced).toBe(false);
    } finally {
      isPaused = false;
      if (cluster.isRunning(paused)) cluster.kill(paused, 'SIGCONT');
    }

    try {
      const expanded = await pollUntil(`node ${paused} to rejoin partition ${partition}'s ISR`, async () => {
        if (failures.length > 0) throw failures[0]!;
        const p = (await partitionsOf(admin)).find((q) => q.partitionId === partition);
        return p !== undefined && p.isr.length === REPLICATION_FACTOR ? p : undefined;
      }, { timeoutMs: EXPAND_WAIT_MS, intervalMs: 100 });
      expect([...expanded.isr].sort()).toEqual([...target.replicas].sort());
      const ackedAtExpand = acks.length;
      await waitForAcks(ackedAtExpand + STEADY_SENDS * RECORDS_PER_SEND, 'acks=all writes with the full ISR again');
    } finally {
      stopProducing = true;
      await producing;
      await producer.disconnect();
    }
    expect(failures).toEqual([]);
    expect(ackedWhilePausedAfterShrink).toBeGreaterThan(0);

    // The checker: every acknowledged record read back once, at its offset, in send order.
    const checker = new AckChecker();
    acks.forEach((ack) => checker.recordAcked({ topic: TOPIC, partition, offset: ack.offset, key: null, value: ack.value, producer: 'isr', order: Number(ack.value) }));
    const report = checker.check(await readBack(runnel, [TOPIC], { timeoutMs: CONSUME_TIMEOUT_MS }));
    expect(report.ok, formatAckCheckReport(report)).toBe(true);
    expect(report.acknowledged).toBe(acks.length);
  });
});

async function partitionsOf(admin: Admin): Promise<PartitionMetadataView[]> {
  const { topics } = await admin.describeTopics({ topics: [TOPIC] });
  return [...(topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId);
}
