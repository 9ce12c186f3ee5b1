// Consumer groups on a real 3-node cluster, with members as separate processes (group-worker.mjs)
// so a member can be SIGKILLed like a crashed service:
// (1) three members split a 6-partition topic 2/2/2; a fourth joins and one is SIGKILLed while
//     records keep arriving: every record is processed, no partition by two live members at once,
//     duplicates only for records after the killed member's last commit;
// (2) a second group reads the same topic independently;
// (3) the coordinator's broker is SIGKILLed mid-stream: the group resumes from its committed offsets
//     on the new coordinator;
// (4) reset-offsets to the earliest, then a member re-reads everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import { ELECTION_WAIT_MS, pollUntil, runCli, startCluster } from '../harness/cluster.js';
import type { LocalCluster } from '../harness/cluster.js';
import { Worker, overlappingOwnership, sleep, waitFor } from './worker-kit.js';

const TOPIC = 'work';
const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 6_000;
const BATCH = 200;

describe('consumer groups on a 3-node cluster', () => {
  let cluster: LocalCluster;
  let runnel: Runnel;
  let brokers: string[];
  const workers: Worker[] = [];
  /** value -> partition, for every acknowledged record. */
  const acked = new Map<string, { partition: number; offset: number }>();
  let produced = 0;

  async function produce(count: number): Promise<void> {
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    try {
      for (let sent = 0; sent < count; sent += BATCH) {
        const messages = Array.from({ length: Math.min(BATCH, count - sent) }, () => {
          const value = `r${produced++}`;
          return { key: value, value };
        });
        const results = await producer.send({ topic: TOPIC, messages });
        results.forEach((r, i) => acked.set(messages[i]!.value, { partition: r.partition, offset: r.offset }));
      }
    } finally {
      await producer.disconnect();
    }
  }

  function spawnWorker(name: string, groupId: string): Worker {
    const worker = new Worker(name, { brokers, groupId, topics: [TOPIC], sessionTimeoutMs: SESSION_TIMEOUT_MS, autoCommitIntervalMs: 300, processingDelayMs: 1 });
    workers.push(worker);
    return worker;
  }

  function processedValues(ws: readonly Worker[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const w of ws) for (const r of w.records()) if (r.v !== null) counts.set(r.v, (counts.get(r.v) ?? 0) + 1);
    return counts;
  }

  const describeWorkers = (): string => workers.map((w) => w.describe()).join('\n');

  beforeAll(async () => {
    ({ cluster } = await startCluster({ basePort: 24_093 }));
    brokers = cluster.nodeIds.map((id) => cluster.brokerEndpoint(id));
    runnel = new Runnel({ brokers, clientId: 'e2e-groups' });
    const admin = runnel.admin();
    await pollUntil('three unfenced brokers', async () => {
      const d = await admin.describeCluster().catch(() => undefined);
      return d !== undefined && d.brokers.length === 3 && d.brokers.every((b) => !b.fenced) ? true : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    runnel?.close();
    await cluster?.stopAll();
  });

  it('splits 2/2/2, rebalances on join and on a SIGKILLed member, processes everything, never twice at once', async () => {
    await produce(1_000);
    const [a, b, c] = [spawnWorker('a', 'g1'), spawnWorker('b', 'g1'), spawnWorker('c', 'g1')];
    await waitFor('a 2/2/2 split', () => [a, b, c].every((w) => w.owned().size === 2), 45_000, describeWorkers);
    expect(new Set([a, b, c].flatMap((w) => [...w.owned()])).size).toBe(PARTITIONS);

    const more = produce(2_000);
    const d = spawnWorker('d', 'g1');
    await waitFor('the fourth member to get partitions', () => d.owned().size > 0, 30_000, describeWorkers);
    expect([a, b, c, d].map((w) => w.owned().size).sort()).toEqual([1, 1, 2, 2]);
    await sleep(500);
    b.kill('SIGKILL');
    await more;
    await produce(1_000);
    const live = [a, c, d];
    await waitFor('every partition owned by a live member', () => new Set(live.flatMap((w) => [...w.owned()])).size === PARTITIONS, SESSION_TIMEOUT_MS + 20_000, describeWorkers);
    await waitFor('every acknowledged record processed', () => {
      const seen = processedValues(workers);
      return [...acked.keys()].every((v) => seen.has(v));
    }, 60_000, describeWorkers);

    expect(overlappingOwnership(workers)).toEqual([]);
    // Duplicates: only records the killed member processed after its last commit of that partition.
    const bCommits = b.lastCommits();
    const bRecords = new Set(b.records().filter((r) => r.o >= (bCommits.get(r.p) ?? 0)).map((r) => r.v));
    const duplicates = [...processedValues(workers)].filter(([, n]) => n > 1).map(([v]) => v);
    const unexplained = duplicates.filter((v) => !bRecords.has(v));
    const who = (v: string): string => workers.map((w) => `${w.name}:${w.records().filter((r) => r.v === v).map((r) => `p${r.p}@${r.o}`).join(',')}`).join(' ');
    expect(unexplained.map((v) => `${v} ${who(v)}`), describeWorkers()).toEqual([]);
    for (const [value, n] of processedValues(live)) expect(n, `${value} processed ${n} times by live members`).toBe(1);
  }, 180_000);

  it('a second group reads the same topic independently', async () => {
    const other = spawnWorker('other', 'g2');
    await waitFor('the second group to read everything', () => {
      const seen = processedValues([other]);
      return [...acked.keys()].every((v) => seen.has(v));
    }, 60_000, describeWorkers);
    expect(processedValues([other]).size).toBe(acked.size);
    await other.stop();
    expect(other.events.some((e) => e.e === 'closed')).toBe(true);
  }, 90_000);

  it('resumes from committed offsets on a new coordinator after the coordinator broker is SIGKILLed', async () => {
    const coordinator = await runnel.admin().describeGroup('g1');
    const coordinatorId = coordinator.coordinatorId;
    expect(coordinatorId).toBeGreaterThan(0);
    const before = processedValues(workers);
    cluster.kill(coordinatorId, 'SIGKILL');
    await produce(1_000);
    await waitFor('every record produced after the failover processed', () => {
      const seen = processedValues(workers);
      return [...acked.keys()].every((v) => seen.has(v));
    }, 90_000, describeWorkers);
    const after = await pollUntil('the group described by its new coordinator', async () => {
      const d = await runnel.admin().describeGroup('g1').catch(() => undefined);
      return d !== undefined && d.coordinatorId !== coordinatorId ? d : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(after.coordinatorId).not.toBe(coordinatorId);
    // Resumed from committed offsets: records finished before the kill are not all re-processed.
    const again = [...before.keys()].filter((v) => (processedValues(workers).get(v) ?? 0) > (before.get(v) ?? 0));
    expect(again.length).toBeLessThan(before.size / 2);
    cluster.start(coordinatorId);
  }, 150_000);

  it('reset-offsets --to-earliest on an idle group, then a member re-reads everything', async () => {
    await Promise.all(workers.map((w) => w.stop()));
    const bootstrap = brokers.join(',');
    const dry = runCli(['groups', 'reset-offsets', '--bootstrap-server', bootstrap, '--group', 'g2', '--topic', TOPIC, '--to-earliest']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('NEW-OFFSET');
    const executed = runCli(['groups', 'reset-offsets', '--bootstrap-server', bootstrap, '--group', 'g2', '--topic', TOPIC, '--to-earliest', '--execute', '--json']);
    expect(executed.status, executed.stderr).toBe(0);
    const plan = JSON.parse(executed.stdout) as { offsets: Array<{ newOffset: number }> };
    expect(plan.offsets.every((o) => o.newOffset === 0)).toBe(true);
    const reread = spawnWorker('reread', 'g2');
    await waitFor('the reset group to re-read everything', () => processedValues([reread]).size === acked.size, 90_000, describeWorkers);
    const described = runCli(['groups', 'describe', '--bootstrap-server', bootstrap, '--group', 'g2', '--json']);
    expect(described.status, described.stderr).toBe(0);
    await reread.stop();
  }, 150_000);
});
