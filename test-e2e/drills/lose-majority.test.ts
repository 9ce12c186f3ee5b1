// Drill 5: SIGKILL two of three nodes. With acks=all and min.insync.replicas=2 no write can be
// acknowledged any more: every send ends with a typed error (NOT_ENOUGH_REPLICAS, or REQUEST_TIMED_OUT
// naming the last error, since the metadata quorum is gone too and nothing can shrink the ISR), and
// nothing is half-written (a failed send's records are in the log all together or not at all). Once
// both nodes are back everything resumes, and every acknowledged record is read back exactly once, in
// order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/client';
import { partitionForKey } from '@runnel/protocol';
import { readBack } from '@runnel/cli';
import { ELECTION_WAIT_MS, sleep } from '../harness/cluster.js';
import { createTopic, expectEveryAckReadBackOnce, logTails, startDrill, startLoad, waitAllBrokersUnfenced, waitFullIsr } from './drill-kit.js';
import type { Drill } from './drill-kit.js';

const TOPIC = 'drill-lose-majority';
const PARTITIONS = 3;
const RECORDS_PER_SEND = 5;
const STEADY_ACKS = 150;
/** Bounded so refused sends surface within the drill; the defaults (120 s / 30 s) would be the slow path. */
const DELIVERY_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 2_000;
/** Long enough for every producer to give up on a send at least once. */
const OUTAGE_MS = DELIVERY_TIMEOUT_MS + 4_000;
const REFUSED_CODES = ['NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'REQUEST_TIMED_OUT'];
/**
 * A send whose outcome was unknown (timed out) but which the survivor's log then lost by truncation
 * leaves a sequence gap: the idempotent producer fails the next send with this and must be replaced
 * (the load does so). Typed and expected after an outage, never a loss.
 */
const PRODUCER_ENDED_CODES = ['OUT_OF_ORDER_SEQUENCE_NUMBER'];

describe('drill 5: SIGKILL two of three nodes', () => {
  let drill: Drill;

  beforeAll(async () => {
    drill = await startDrill({ basePort: 23_093 }, 'drill-lose-majority');
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('refuses acks=all writes with a typed error, half-writes nothing, and resumes once the nodes are back', async () => {
    const { cluster, admin } = drill;
    await createTopic(drill, TOPIC, PARTITIONS, { 'min.insync.replicas': '2' });
    const load = await startLoad(drill, {
      topic: TOPIC,
      name: 'lm',
      producers: 2,
      recordsPerSend: RECORDS_PER_SEND,
      producerOptions: { deliveryTimeoutMs: DELIVERY_TIMEOUT_MS, ackTimeoutMs: ACK_TIMEOUT_MS },
    });
    const survivor = cluster.nodeIds[0]!;
    const killed = cluster.nodeIds.filter((id) => id !== survivor);
    let ackedDuringOutage = 0;
    try {
      await load.waitForMoreAcks(STEADY_ACKS, 20_000);
      for (const id of killed) cluster.kill(id, 'SIGKILL');
      for (const id of killed) await cluster.waitForExit(id);
      // Sends already on the wire before the kill may still be acknowledged by then; after that, none.
      await sleep(ACK_TIMEOUT_MS);
      const ackedAfterKill = load.acknowledged;
      await sleep(OUTAGE_MS);
      ackedDuringOutage = load.acknowledged - ackedAfterKill;

      for (const id of killed) cluster.start(id);
      for (const id of killed) await cluster.waitServing(id);
      await cluster.waitForLeader({ timeoutMs: ELECTION_WAIT_MS });
      await waitAllBrokersUnfenced(admin, 3, 30_000);
      await waitFullIsr(drill, TOPIC, PARTITIONS, 30_000);
      await load.waitForMoreAcks(STEADY_ACKS, 30_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(cluster)}`, { cause: error });
    } finally {
      await load.stop();
    }
    expect(ackedDuringOutage, 'records acknowledged with two of three nodes dead').toBe(0);
    const summary = load.summary();
    expect(summary.failedSends).toBeGreaterThan(0);
    // The first failure of each producer is the refusal itself, not a consequence of an earlier one.
    expect(REFUSED_CODES).toContain(summary.failures[0]?.codeName);
    // Sends that ended a producer are at most one per replacement.
    expect(summary.failures.filter((f) => PRODUCER_ENDED_CODES.includes(f.codeName)).length).toBeLessThanOrEqual(summary.producerResets);
    for (const failure of summary.failures) {
      expect(failure).toBeInstanceOf(RunnelError);
      expect([...REFUSED_CODES, ...PRODUCER_ENDED_CODES], `${failure.codeName}: ${failure.message}`).toContain(failure.codeName);
    }

    await expectEveryAckReadBackOnce(drill, [TOPIC]);
    // Nothing half-written: a send is one batch per partition, so of a failed send's records that
    // belong on one partition (by murmur2 of the key), either all are in the log or none is.
    const records = await readBack(drill.runnel, [TOPIC]);
    const present = new Set(records.map((r) => r.value));
    for (const r of records) {
      const match = /^(lm-\d+)-(\d+)$/.exec(r.value ?? '');
      if (match === null || drill.checker.isAcked(r.value!)) continue;
      const firstOrder = Math.floor(Number(match[2]) / RECORDS_PER_SEND) * RECORDS_PER_SEND;
      for (let order = firstOrder; order < firstOrder + RECORDS_PER_SEND; order++) {
        const sibling = `${match[1]}-${order}`;
        const key = drill.checker.keyOf(sibling);
        if (key === undefined || key === null || partitionForKey(Buffer.from(key), PARTITIONS) !== r.partition) continue;
        expect(present.has(sibling), `${sibling} belongs to the same batch as ${r.value} on partition ${r.partition}`).toBe(true);
      }
    }
  });
});
