// `runnel bench produce|consume`: throughput and latency against a running cluster, in the spirit of
// kafka-producer-perf-test and kafka-consumer-perf-test. Figures are printed, never asserted.
import { SingleBar } from 'cli-progress';
import { Runnel } from '@runnel/client';
import type { Acks } from '@runnel/client';
import { CliError } from './errors.js';

export interface ProduceBenchOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly numRecords: number;
  readonly recordSizeBytes: number;
  readonly acks: Acks;
  /** Records per second to aim for; 0 means as fast as possible. */
  readonly throughput: number;
  /** Records per send() call; latency is measured per call and counted for each of its records. */
  readonly recordsPerSend: number;
  /**
   * Records sent first, at the same rate, and left out of every figure: JIT compilation and the
   * first requests of fresh channels otherwise land in the latency tail of a short run.
   */
  readonly warmupRecords?: number;
  readonly lingerMs: number;
  readonly batchSizeBytes: number;
  /** Bound on the whole run; a run that hits it reports what it did. */
  readonly maxDurationMs: number;
  readonly progress: boolean;
}

export interface ProduceBenchResult {
  readonly records: number;
  readonly failed: number;
  readonly durationMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyMs: { readonly avg: number; readonly p50: number; readonly p99: number; readonly max: number };
}

/** Sends in flight at once; past it the loop waits, so memory stays bounded whatever the target rate. */
const SENDS_IN_FLIGHT_MAX = 512;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function progressBar(enabled: boolean, total: number): SingleBar | undefined {
  if (!enabled) return undefined;
  const bar = new SingleBar({ format: '{bar} {percentage}% | {value}/{total} records | {eta}s left', stream: process.stderr, hideCursor: true });
  bar.start(total, 0);
  return bar;
}

export async function runProduceBench(options: ProduceBenchOptions): Promise<ProduceBenchResult> {
  if (options.numRecords < 1 || options.recordSizeBytes < 1 || options.recordsPerSend < 1) throw new CliError('records, record size and records per send must be positive');
  const runnel = new Runnel({ brokers: [...options.brokers], clientId: 'runnel-bench' });
  const producer = runnel.producer({
    acks: options.acks,
    idempotent: options.acks === 'all',
    lingerMs: options.lingerMs,
    batchSize: options.batchSizeBytes,
  });
  const value = Buffer.alloc(options.recordSizeBytes, 0x61);
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let acknowledged = 0;
  let failed = 0;
  let firstError: unknown;
  const bar = progressBar(options.progress, options.numRecords);
  try {
    // Warm-up outside the clock: learn the topic's leaders and open a channel to each, so the
    // first sends do not pay channel setup and the figures describe the steady state.
    await producer.connect({ topics: [options.topic] });
    const warmup = options.warmupRecords ?? 0;
    if (warmup > 0) {
      const warmStartMs = performance.now();
      const inFlight = new Set<Promise<unknown>>();
      for (let done = 0; done < warmup; ) {
        if (options.throughput > 0) {
          const aheadMs = warmStartMs + (done / options.throughput) * 1000 - performance.now();
          if (aheadMs > 1) await new Promise((resolve) => setTimeout(resolve, aheadMs));
        }
        const count = Math.min(options.recordsPerSend, warmup - done);
        const send: Promise<unknown> = producer.send({ topic: options.topic, messages: Array.from({ length: count }, () => ({ value })) }).finally(() => inFlight.delete(send));
        inFlight.add(send);
        done += count;
        if (inFlight.size >= SENDS_IN_FLIGHT_MAX) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    }
    const startMs = performance.now();
    const deadlineMs = startMs + options.maxDurationMs;
    while (sent < options.numRecords && performance.now() < deadlineMs) {
      if (options.throughput > 0) {
        // Pace by the schedule, not by sleeping a fixed time, so slow sends do not lower the target.
        const dueMs = startMs + (sent / options.throughput) * 1000;
        const aheadMs = dueMs - performance.now();
        if (aheadMs > 1) await new Promise((resolve) => setTimeout(resolve, aheadMs));
      }
      const count = Math.min(options.recordsPerSend, options.numRecords - sent);
      const messages = Array.from({ length: count }, () => ({ value }));
      const sentAtMs = performance.now();
      const delivery: Promise<void> = producer.send({ topic: options.topic, messages }).then(
        () => {
          const latencyMs = performance.now() - sentAtMs;
          for (let i = 0; i < count; i++) latencies.push(latencyMs);
          acknowledged += count;
          bar?.update(acknowledged);
        },
        (error: unknown) => {
          failed += count;
          firstError ??= error;
        },
      ).finally(() => pending.delete(delivery));
      pending.add(delivery);
      sent += count;
      if (pending.size >= SENDS_IN_FLIGHT_MAX) await Promise.race(pending);
    }
    await Promise.all(pending);
    const durationMs = performance.now() - startMs;
    latencies.sort((a, b) => a - b);
    const total = latencies.reduce((sum, v) => sum + v, 0);
    if (acknowledged === 0 && firstError !== undefined) throw firstError;
    return {
      records: acknowledged,
      failed,
      durationMs: round(durationMs, 0),
      recordsPerSec: round((acknowledged / durationMs) * 1000, 0),
      mbPerSec: round(((acknowledged * options.recordSizeBytes) / durationMs) * 1000 / (1024 * 1024)),
      latencyMs: {
        avg: round(latencies.length === 0 ? 0 : total / latencies.length),
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies[latencies.length - 1] ?? 0),
      },
    };
  } finally {
    bar?.stop();
    await producer.disconnect().catch(() => undefined);
    runnel.close();
  }
}

export function formatProduceBench(options: ProduceBenchOptions, r: ProduceBenchResult): string {
  return `${r.records} records sent (${r.failed} failed), ${r.recordsPerSec} records/sec (${r.mbPerSec} MB/sec), ` +
    `${r.latencyMs.avg} ms avg latency, ${r.latencyMs.p50} ms p50, ${r.latencyMs.p99} ms p99, ${r.latencyMs.max} ms max ` +
    `(acks=${options.acks}, ${options.recordSizeBytes} B records, ${options.recordsPerSend} per send)`;
}

export interface ConsumeBenchOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly numRecords: number;
  readonly maxDurationMs: number;
  readonly progress: boolean;
}

export interface ConsumeBenchResult {
  readonly records: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
}

export async function runConsumeBench(options: ConsumeBenchOptions): Promise<ConsumeBenchResult> {
  const runnel = new Runnel({ brokers: [...options.brokers], clientId: 'runnel-bench' });
  const consumer = runnel.consumer({ autoOffsetReset: 'earliest' });
  const bar = progressBar(options.progress, options.numRecords);
  let records = 0;
  let bytes = 0;
  try {
    const { topics } = await runnel.admin().describeTopics({ topics: [options.topic] });
    const partitions = topics[0]?.partitions.map((p) => p.partitionId) ?? [];
    if (partitions.length === 0) throw new CliError(`topic "${options.topic}" has no partitions`);
    await consumer.connect();
    consumer.assign(partitions.map((partition) => ({ topic: options.topic, partition })), { fromBeginning: true });
    const startMs = performance.now();
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.maxDurationMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
          records += batch.messages.length;
          bar?.update(Math.min(records, options.numRecords));
          if (records >= options.numRecords) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await done;
    const durationMs = performance.now() - startMs;
    return {
      records,
      bytes,
      durationMs: round(durationMs, 0),
      recordsPerSec: round((records / durationMs) * 1000, 0),
      mbPerSec: round((bytes / durationMs) * 1000 / (1024 * 1024)),
    };
  } finally {
    bar?.stop();
    await consumer.disconnect().catch(() => undefined);
    runnel.close();
  }
}

export function formatConsumeBench(r: ConsumeBenchResult): string {
  return `${r.records} records consumed in ${r.durationMs} ms: ${r.recordsPerSec} records/sec (${r.mbPerSec} MB/sec)`;
}
