// `runnel bench failover`: a local 3-node cluster (real processes, default settings unless told
// otherwise), one producer at a steady rate with acks=all on a partition with RF 3 and
// min.insync.replicas 2, and per trial a SIGKILL of that partition's leader (restarted before the
// next trial). Prints the longest gap between acknowledgements around each kill (median, max) and
// what the acknowledged-records checker finds at the end (lost and duplicated records must be 0).
// Figures only; nothing is asserted.
import { cpus } from 'node:os';
import { Runnel } from '@runnel/client';
import type { Admin, PartitionMetadataView } from '@runnel/client';
import { LocalCluster, pollUntil, sleep } from './local-cluster.js';
import { AckChecker } from './verify/ack-checker.js';
import type { AckCheckReport } from './verify/ack-checker.js';
import { ProducerLoad } from './verify/producer-load.js';
import { readBack } from './verify/read-back.js';

export interface FailoverBenchOptions {
  readonly basePort: number;
  readonly trials: number;
  /** Records per second the producer offers (sends of `recordsPerSend` paced to this). */
  readonly recordsPerSec: number;
  readonly recordsPerSend: number;
  /** Steady acknowledgements before each kill and after each recovery. */
  readonly settleMs: number;
  /** Bound on one trial's recovery (new leader serving) and rejoin (full ISR). */
  readonly trialTimeoutMs: number;
  /** Extra `server start` flags for every node (e.g. --broker-session-timeout-ms 3000). */
  readonly serverArgs: readonly string[];
  readonly dataRoot?: string;
}

export const DEFAULT_FAILOVER_BENCH: FailoverBenchOptions = {
  basePort: 36_093,
  trials: 10,
  recordsPerSec: 500,
  recordsPerSend: 5,
  settleMs: 1_000,
  trialTimeoutMs: 60_000,
  serverArgs: [],
};

export interface FailoverTrial {
  readonly trial: number;
  readonly killedNode: number;
  /** The killed node was also the active controller (Raft leader): the gap includes controller failover. */
  readonly wasController: boolean;
  readonly newLeader: number;
  readonly longestGapMs: number;
}

export interface FailoverBenchResult {
  readonly machine: { cpus: number; node: string };
  readonly serverArgs: readonly string[];
  readonly trials: FailoverTrial[];
  readonly gapMedianMs: number;
  readonly gapMaxMs: number;
  readonly acknowledged: number;
  readonly failedSends: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly checkerOk: boolean;
  readonly check: AckCheckReport;
}

const TOPIC = 'bench-failover';
const TARGET_PARTITION = 0;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function partitionState(admin: Admin): Promise<PartitionMetadataView | undefined> {
  const { topics } = await admin.describeTopics({ topics: [TOPIC] });
  return topics[0]?.partitions.find((p) => p.partitionId === TARGET_PARTITION);
}

export async function runFailoverBench(options: FailoverBenchOptions, progress: (line: string) => void): Promise<FailoverBenchResult> {
  const cluster = LocalCluster.create({
    basePort: options.basePort,
    extraArgs: options.serverArgs,
    ...(options.dataRoot === undefined ? {} : { dataRoot: options.dataRoot }),
  });
  cluster.startAll();
  const brokers = cluster.nodeIds.map((id) => cluster.brokerEndpoint(id));
  const runnel = new Runnel({ brokers, clientId: 'bench-failover' });
  const adminRunnel = new Runnel({ brokers, clientId: 'bench-failover-admin', requestTimeoutMs: 2_000, retry: { retries: 3, initialRetryTimeMs: 50, maxRetryTimeMs: 200 } });
  const admin = adminRunnel.admin();
  const checker = new AckChecker();
  let load: ProducerLoad | undefined;
  try {
    await cluster.waitForLeader({ timeoutMs: 30_000 });
    await pollUntil('three unfenced brokers', async () => {
      const d = await admin.describeCluster().catch(() => undefined);
      return d !== undefined && d.brokers.length === 3 && d.brokers.every((b) => !b.fenced) ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    const sendIntervalMs = Math.max(0, Math.round((1_000 * options.recordsPerSend) / options.recordsPerSec));
    load = new ProducerLoad({ runnel, checker, topic: TOPIC, name: 'bf', producers: 1, recordsPerSend: options.recordsPerSend, partition: TARGET_PARTITION, sendIntervalMs, failurePauseMs: 0 });
    await load.start();
    const trials: FailoverTrial[] = [];
    for (let trial = 1; trial <= options.trials; trial++) {
      const before = await pollUntil('a full ISR on the benchmark partition', async () => {
        const p = await partitionState(admin).catch(() => undefined);
        return p !== undefined && p.leader > 0 && p.isr.length === 3 ? p : undefined;
      }, { timeoutMs: options.trialTimeoutMs, intervalMs: 100 });
      await sleep(options.settleMs);
      // Only to label the trial: a busy machine that answers slowly must not end the benchmark.
      const controllerId = await cluster.waitForLeader({ timeoutMs: 30_000 }).then((l) => l.leaderId, () => -1);
      const victim = before.leader;
      const killedAtMs = Date.now();
      cluster.kill(victim, 'SIGKILL');
      await cluster.waitForExit(victim);
      const after = await pollUntil(`a new leader after killing node ${victim}`, async () => {
        const p = await partitionState(admin).catch(() => undefined);
        return p !== undefined && p.leader > 0 && p.leader !== victim ? p : undefined;
      }, { timeoutMs: options.trialTimeoutMs, intervalMs: 100 });
      // Recovered once acknowledgements flow again for a while on the new leader.
      await load.waitForMoreAcks(options.recordsPerSend * 10, options.trialTimeoutMs);
      await sleep(options.settleMs);
      const longestGapMs = load.longestAckGapMs(killedAtMs, Date.now());
      const result: FailoverTrial = { trial, killedNode: victim, wasController: controllerId === victim, newLeader: after.leader, longestGapMs };
      trials.push(result);
      progress(`trial ${trial}: killed node ${victim}${result.wasController ? ' (also the active controller)' : ''}, new leader ${after.leader}, longest gap ${longestGapMs} ms`);
      cluster.start(victim);
      await cluster.waitServing(victim, { timeoutMs: options.trialTimeoutMs });
    }
    const summary = await load.stop();
    load = undefined;
    const check = checker.check(await readBack(runnel, [TOPIC], { timeoutMs: 120_000 }));
    const gaps = trials.map((t) => t.longestGapMs);
    return {
      machine: { cpus: cpus().length, node: process.version },
      serverArgs: options.serverArgs,
      trials,
      gapMedianMs: median(gaps),
      gapMaxMs: Math.max(...gaps),
      acknowledged: summary.acknowledged,
      failedSends: summary.failedSends,
      lost: check.lost,
      duplicates: check.duplicates + check.unackedDuplicates,
      checkerOk: check.ok,
      check,
    };
  } finally {
    await load?.stop().catch(() => undefined);
    runnel.close();
    adminRunnel.close();
    await cluster.stopAll();
  }
}

export function formatFailoverBench(result: FailoverBenchResult): string {
  const lines = [
    `failover: ${result.trials.length} trials of SIGKILL on the partition leader (acks=all, RF 3, min.insync.replicas 2)${result.serverArgs.length > 0 ? `, server args: ${result.serverArgs.join(' ')}` : ', default settings'}`,
    `  longest gap between acknowledgements: median ${result.gapMedianMs} ms, max ${result.gapMaxMs} ms`,
    `  per trial (ms): ${result.trials.map((t) => `${t.longestGapMs}${t.wasController ? '*' : ''}`).join(', ')}  (* killed node was also the active controller)`,
    `  acknowledged ${result.acknowledged} records, failed sends ${result.failedSends}`,
    `  checker: lost ${result.lost}, duplicates ${result.duplicates}, ${result.checkerOk ? 'no violations' : `VIOLATIONS (out of order ${result.check.outOfOrder}, moved ${result.check.moved}, unexpected ${result.check.unexpected})`}`,
    `  machine: ${result.machine.cpus} CPUs, node ${result.machine.node}`,
  ];
  return lines.join('\n');
}
