// Shared steps of the failover drills: a 3-node combined cluster on loopback, a topic with RF 3, a
// keyed acks=all idempotent producer load during the fault, and the acknowledged-records checker over
// everything the producers were told at the end.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Runnel } from '@runnel/client';
import type { Admin, Logger, PartitionMetadataView } from '@runnel/client';
import { AckChecker, ProducerLoad, formatAckCheckReport, readBack } from '@runnel/cli';
import type { AckCheckReport, ProducerLoadOptions, ReadRecord } from '@runnel/cli';
import { ELECTION_WAIT_MS, pollUntil, startCluster } from '../harness/cluster.js';
import type { LocalCluster, LocalClusterOptions } from '../harness/cluster.js';

export const REPLICATION_FACTOR = 3;

/** The drill's client log, next to the nodes' logs (debug level: retries and metadata refreshes). */
export function clientLogger(path: string): Logger {
  const write = (level: string) => (fields: Record<string, unknown>, msg: string): void => {
    appendFileSync(path, `${JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg }, (_k, v: unknown) => (v instanceof Error ? { message: v.message } : v))}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
/** Short so a metadata call that lands on a dead or paused node moves on to another broker quickly. */
const ADMIN_REQUEST_TIMEOUT_MS = 2_000;

export interface Drill {
  readonly cluster: LocalCluster;
  readonly brokers: string[];
  /** For producers and the read-back. */
  readonly runnel: Runnel;
  /** For polling metadata during faults. */
  readonly admin: Admin;
  readonly checker: AckChecker;
  close(): Promise<void>;
}

/** What the shared steps below need: the clients and the checker (process and container drills alike). */
export type DrillClients = Pick<Drill, 'runnel' | 'admin' | 'checker'>;

export async function startDrill(options: LocalClusterOptions, clientId: string): Promise<Drill> {
  const { cluster } = await startCluster(options);
  const brokers = cluster.nodeIds.map((id) => cluster.brokerEndpoint(id));
  const runnel = new Runnel({ brokers, clientId, logger: clientLogger(join(cluster.dataRoot, 'client.log')) });
  const adminRunnel = new Runnel({
    brokers,
    clientId: `${clientId}-admin`,
    requestTimeoutMs: ADMIN_REQUEST_TIMEOUT_MS,
    retry: { retries: 3, initialRetryTimeMs: 50, maxRetryTimeMs: 200 },
  });
  const admin = adminRunnel.admin();
  try {
    await waitAllBrokersUnfenced(admin, cluster.nodeIds.length);
  } catch (error) {
    // The caller never gets a Drill to close: stop the nodes here, or they outlive the test and
    // hold its ports against every later run.
    const logs = cluster.nodeIds.map((id) => `--- node ${id}\n${cluster.logTail(id)}`).join('\n');
    runnel.close();
    adminRunnel.close();
    await cluster.stopAll();
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  }
  return {
    cluster,
    brokers,
    runnel,
    admin,
    checker: new AckChecker(),
    close: async () => {
      runnel.close();
      adminRunnel.close();
      await cluster.stopAll();
    },
  };
}

export async function waitAllBrokersUnfenced(admin: Admin, count: number, timeoutMs = ELECTION_WAIT_MS): Promise<void> {
  await pollUntil(`${count} registered, unfenced brokers`, async () => {
    const description = await admin.describeCluster().catch(() => undefined);
    return description !== undefined && description.brokers.length === count && description.brokers.every((b) => !b.fenced) ? true : undefined;
  }, { timeoutMs, intervalMs: 200 });
}

export async function createTopic(drill: DrillClients, topic: string, partitions: number, configs: Record<string, string> = {}): Promise<PartitionMetadataView[]> {
  await drill.admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: REPLICATION_FACTOR, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
  });
  return waitFullIsr(drill, topic, partitions);
}

/** Waits until every partition of `topic` has a leader and all replicas in its ISR. */
export async function waitFullIsr(drill: DrillClients, topic: string, partitions: number, timeoutMs = ELECTION_WAIT_MS): Promise<PartitionMetadataView[]> {
  return pollUntil(`every partition of ${topic} led, with a full ISR`, async () => {
    const list = await partitionsOf(drill.admin, topic).catch(() => []);
    return list.length === partitions && list.every((p) => p.leader > 0 && p.isr.length === REPLICATION_FACTOR) ? list : undefined;
  }, { timeoutMs, intervalMs: 200 });
}

export async function partitionsOf(admin: Admin, topic: string): Promise<PartitionMetadataView[]> {
  const { topics } = await admin.describeTopics({ topics: [topic] });
  return [...(topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId);
}

/** Starts a keyed, acks=all, idempotent load that reports to the drill's checker. */
export async function startLoad(drill: DrillClients, options: Omit<ProducerLoadOptions, 'runnel' | 'checker'>): Promise<ProducerLoad> {
  const load = new ProducerLoad({ runnel: drill.runnel, checker: drill.checker, ...options });
  await load.start();
  return load;
}

/** A consumer reading every partition of a topic from the beginning, through the fault. */
export interface Tail {
  readonly records: ReadRecord[];
  readonly crashes: Error[];
  stop(): Promise<void>;
}

export async function startTail(drill: DrillClients, topic: string, partitions: number): Promise<Tail> {
  const consumer = drill.runnel.consumer({ autoOffsetReset: 'earliest' });
  await consumer.connect();
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })), { fromBeginning: true });
  const records: ReadRecord[] = [];
  const crashes: Error[] = [];
  consumer.on('crash', (error: Error) => crashes.push(error));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) records.push({ topic, partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? null, value: m.value?.toString('utf8') ?? null });
    },
  });
  return { records, crashes, stop: () => consumer.disconnect() };
}

/**
 * Reads every partition of `topics` back and asserts the checker finds nothing wrong; with `tail`,
 * also that the consumer which read through the fault saw the same log, without crashing.
 */
export async function expectEveryAckReadBackOnce(drill: DrillClients, topics: readonly string[], tail?: Tail): Promise<AckCheckReport> {
  const records = await readBack(drill.runnel, topics, { timeoutMs: 60_000 });
  const report = drill.checker.check(records);
  expect(report.ok, formatAckCheckReport(report)).toBe(true);
  expect(report.acknowledged).toBeGreaterThan(0);
  if (tail !== undefined) {
    try {
      await pollUntil('the tail consumer to reach the log end', async () => {
        if (tail.crashes.length > 0) throw tail.crashes[0]!;
        return tail.records.length >= records.length ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
    } finally {
      await tail.stop();
    }
    expect(tail.crashes).toEqual([]);
    const tailReport = drill.checker.check(tail.records.slice(0, records.length));
    expect(tailReport.ok, `tail consumer: ${formatAckCheckReport(tailReport)}`).toBe(true);
  }
  return report;
}

/** The log tails of every node, for a failure message. */
export function logTails(cluster: LocalCluster): string {
  const nodes = cluster.nodeIds.map((id) => `--- node ${id}\n${cluster.logTail(id, 3_000)}`).join('\n');
  let client = '(no client log)';
  try {
    client = readFileSync(join(cluster.dataRoot, 'client.log'), 'utf8').slice(-4_000);
  } catch {
    // The client logged nothing.
  }
  return `${nodes}\n--- client\n${client}`;
}
