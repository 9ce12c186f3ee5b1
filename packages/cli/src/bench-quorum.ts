// `runnel bench quorum`: a 3-voter loopback quorum of real processes; prints figures, asserts nothing.
// Latency is measured as a client sees it: one Propose RPC to the leader, answered once the record is
// committed by a majority (fsynced) and applied on the leader.
import { cpus, platform, release, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { LocalCluster, pollUntil, sleep } from './local-cluster.js';

export interface QuorumBenchOptions {
  readonly basePort: number;
  readonly sequentialProposals: number;
  readonly recordBytes: number;
  readonly pipelinedInflight: number;
  readonly pipelinedProposalsMax: number;
  readonly pipelinedDurationMs: number;
  readonly failoverTrials: number;
  readonly dataRoot?: string;
}

export const DEFAULT_QUORUM_BENCH: QuorumBenchOptions = {
  basePort: 19_093,
  sequentialProposals: 2_000,
  recordBytes: 1_024,
  pipelinedInflight: 64,
  pipelinedProposalsMax: 50_000,
  pipelinedDurationMs: 10_000,
  failoverTrials: 20,
};

export interface QuorumBenchResult {
  machine: { platform: string; release: string; cpuModel: string; cpus: number; memoryGiB: number; node: string };
  sequential: { proposals: number; recordBytes: number; p50Ms: number; p99Ms: number; maxMs: number; meanMs: number };
  pipelined: { inflight: number; proposals: number; durationMs: number; proposalsPerSec: number };
  failover: { trials: number; medianMs: number; maxMs: number; samplesMs: number[] };
}

function percentile(sortedMs: readonly number[], fraction: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil(fraction * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)] ?? Number.NaN;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

async function proposeOk(cluster: LocalCluster, leaderId: number, data: Buffer): Promise<void> {
  const response = await cluster.propose(leaderId, data);
  if (response.errorCode !== 0) throw new Error(`proposal refused by node ${leaderId}: ${response.errorCode} ${response.errorMessage}`);
}

async function measureSequential(cluster: LocalCluster, leaderId: number, options: QuorumBenchOptions): Promise<QuorumBenchResult['sequential']> {
  const data = Buffer.alloc(options.recordBytes, 0x61);
  // Warm the channel and the JIT so the first samples measure Raft, not connection setup.
  for (let i = 0; i < 50; i++) await proposeOk(cluster, leaderId, data);
  const samplesMs: number[] = [];
  for (let i = 0; i < options.sequentialProposals; i++) {
    const started = performance.now();
    await proposeOk(cluster, leaderId, data);
    samplesMs.push(performance.now() - started);
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const meanMs = samplesMs.reduce((sum, ms) => sum + ms, 0) / samplesMs.length;
  return {
    proposals: samplesMs.length, recordBytes: options.recordBytes,
    p50Ms: round(percentile(sorted, 0.5)), p99Ms: round(percentile(sorted, 0.99)), maxMs: round(sorted.at(-1) ?? Number.NaN), meanMs: round(meanMs),
  };
}

async function measurePipelined(cluster: LocalCluster, leaderId: number, options: QuorumBenchOptions): Promise<QuorumBenchResult['pipelined']> {
  const data = Buffer.alloc(options.recordBytes, 0x62);
  let issued = 0;
  let completed = 0;
  const started = performance.now();
  const deadline = started + options.pipelinedDurationMs;
  const worker = async (): Promise<void> => {
    while (issued < options.pipelinedProposalsMax && performance.now() < deadline) {
      issued += 1;
      await proposeOk(cluster, leaderId, data);
      completed += 1;
    }
  };
  await Promise.all(Array.from({ length: options.pipelinedInflight }, () => worker()));
  const durationMs = performance.now() - started;
  return { inflight: options.pipelinedInflight, proposals: completed, durationMs: Math.round(durationMs), proposalsPerSec: Math.round((completed * 1000) / durationMs) };
}

async function measureFailover(cluster: LocalCluster, options: QuorumBenchOptions, log: (line: string) => void): Promise<QuorumBenchResult['failover']> {
  const samplesMs: number[] = [];
  for (let trial = 0; trial < options.failoverTrials; trial++) {
    const before = await cluster.waitForLeader();
    const survivors = cluster.nodeIds.filter((id) => id !== before.leaderId);
    cluster.kill(before.leaderId, 'SIGKILL');
    const killedAt = performance.now();
    await pollUntil('a new leader after SIGKILL', async () => {
      for (const id of survivors) {
        const view = await cluster.describe(id, 200).catch(() => undefined);
        if (view !== undefined && view.leaderId !== 0 && view.leaderId !== before.leaderId && view.term > before.term) return true;
      }
      return undefined;
    }, { timeoutMs: 15_000, intervalMs: 20 });
    samplesMs.push(Math.round(performance.now() - killedAt));
    await cluster.waitForExit(before.leaderId);
    await cluster.restart(before.leaderId);
    // Let the restarted node rejoin and catch up, so every trial starts from a healthy 3-voter quorum.
    await pollUntil(`node ${before.leaderId} to catch up`, async () => {
      const leader = await cluster.waitForLeader({ timeoutMs: 5_000 });
      const row = leader.view.voters.find((voter) => voter.id === before.leaderId);
      return row !== undefined && row.lag === 0 && row.lastContactMs >= 0 && row.lastContactMs < 1_000 ? true : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    log(`  failover trial ${trial + 1}/${options.failoverTrials}: killed leader ${before.leaderId} (term ${before.term}), new leader in ${samplesMs.at(-1)} ms`);
    await sleep(200);
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { trials: samplesMs.length, medianMs: percentile(sorted, 0.5), maxMs: sorted.at(-1) ?? Number.NaN, samplesMs };
}

export async function runQuorumBench(options: QuorumBenchOptions, log: (line: string) => void): Promise<QuorumBenchResult> {
  const cpuList = cpus();
  const machine = {
    platform: platform(), release: release(), cpuModel: cpuList[0]?.model ?? 'unknown', cpus: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version,
  };
  log(`machine: ${machine.platform} ${machine.release}, ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}`);
  const cluster = LocalCluster.create({ basePort: options.basePort, logLevel: 'warn', ...(options.dataRoot === undefined ? {} : { dataRoot: options.dataRoot }) });
  try {
    cluster.startAll();
    const { leaderId } = await cluster.waitForLeader({ timeoutMs: 20_000 });
    log(`quorum up: leader ${leaderId}; ${options.sequentialProposals} sequential proposals of ${options.recordBytes} B...`);
    const sequential = await measureSequential(cluster, leaderId, options);
    log(`pipelined: ${options.pipelinedInflight} in flight, up to ${options.pipelinedProposalsMax} proposals or ${options.pipelinedDurationMs} ms...`);
    const pipelined = await measurePipelined(cluster, leaderId, options);
    log(`failover: ${options.failoverTrials} trials of SIGKILL leader -> new leader (polling survivors every 20 ms)...`);
    const failover = await measureFailover(cluster, options, log);
    return { machine, sequential, pipelined, failover };
  } finally {
    await cluster.stopAll();
  }
}

export function formatQuorumBench(result: QuorumBenchResult): string {
  const { sequential: s, pipelined: p, failover: f } = result;
  return [
    'runnel bench quorum (3 voters, loopback, real processes, default Raft timeouts)',
    `  commit latency, ${s.recordBytes} B, one at a time (n=${s.proposals}): p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, mean ${s.meanMs} ms, max ${s.maxMs} ms`,
    `  pipelined throughput (${p.inflight} in flight): ${p.proposalsPerSec} proposals/s (${p.proposals} in ${p.durationMs} ms)`,
    `  SIGKILL leader -> new leader (n=${f.trials}): median ${f.medianMs} ms, max ${f.maxMs} ms`,
  ].join('\n');
}
