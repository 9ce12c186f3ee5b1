// Keyed producer load for failover drills and `runnel bench failover`: a few producers (idempotent,
// acks=all by default), each sending small chunks of keyed records in a loop at a paced rate, and
// telling an AckChecker what was acknowledged and what was attempted without an acknowledgement.
// A failed send is recorded and the loop goes on, so a fault shows up as a gap, not as a stop.
import { RunnelError } from '@runnel/client';
import type { Producer, ProducerOptions, Runnel } from '@runnel/client';
import type { AckChecker } from './ack-checker.js';

export interface ProducerLoadOptions {
  readonly runnel: Runnel;
  readonly topic: string;
  readonly checker: AckChecker;
  /** Prefix of every value, unique per load so values never repeat across loads. */
  readonly name: string;
  /** Concurrent producers, each its own Producer (own producer id). Default 2. */
  readonly producers?: number;
  /** Records per send(). Default 5. */
  readonly recordsPerSend?: number;
  /** Distinct keys, spread over the partitions by murmur2. Default 64. */
  readonly keys?: number;
  /** Writes every record to this partition instead of partitioning by key. */
  readonly partition?: number;
  /** Pause between one producer's sends. Default 10 ms. */
  readonly sendIntervalMs?: number;
  /** Pause after a failed send before the next one. Default 100 ms. */
  readonly failurePauseMs?: number;
  readonly producerOptions?: ProducerOptions;
  /** Time source for the acknowledgement timeline. Default Date.now. */
  readonly nowMs?: () => number;
}

export interface ProducerLoadSummary {
  readonly sends: number;
  readonly acknowledged: number;
  readonly failedSends: number;
  /** Failures by error code name. */
  readonly failuresByCode: Readonly<Record<string, number>>;
  /** The failures themselves (the first few), typed. */
  readonly failures: readonly RunnelError[];
  /** Producers replaced after an error that ends a producer (see PRODUCER_FATAL_CODES). */
  readonly producerResets: number;
}

/**
 * Errors after which an idempotent producer refuses every later send ("create a new producer"): a
 * batch whose outcome was unknown was not written after all, so the broker sees a sequence gap. An
 * application replaces the producer, and so does the load.
 */
export const PRODUCER_FATAL_CODES: ReadonlySet<string> = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID']);

const FAILURES_KEPT_MAX = 20;

/** A running load; stop() waits for the sends in flight and returns the summary. */
export class ProducerLoad {
  private readonly options: ProducerLoadOptions;
  private readonly nowMs: () => number;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly producers: Producer[] = [];
  private sends = 0;
  private failedSends = 0;
  private readonly failuresByCode: Record<string, number> = {};
  private readonly failures: RunnelError[] = [];
  private producerResets = 0;
  /** When each acknowledgement arrived (one entry per acknowledged send). */
  readonly ackTimesMs: number[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private ackedRecords = 0;

  constructor(options: ProducerLoadOptions) {
    this.options = options;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get acknowledged(): number {
    return this.ackedRecords;
  }

  /** Connects the producers (bounded by the client's retries) and starts sending. */
  async start(): Promise<void> {
    if (this.running) throw new Error('the load is already running');
    const count = this.options.producers ?? 2;
    for (let i = 0; i < count; i++) {
      const producer = this.options.runnel.producer({ acks: 'all', ...this.options.producerOptions });
      await producer.connect();
      this.producers.push(producer);
    }
    this.running = true;
    this.loops = this.producers.map((_, i) => this.loop(i));
  }

  /** Resolves once `count` more records than now are acknowledged, or rejects after `timeoutMs`. */
  waitForMoreAcks(count: number, timeoutMs: number): Promise<void> {
    const target = this.ackedRecords + count;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new RunnelError('REQUEST_TIMED_OUT', `${this.ackedRecords - (target - count)} of ${count} more acknowledgements in ${timeoutMs} ms; failures: ${JSON.stringify(this.failuresByCode)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ count: target, resolve: done });
      this.notify();
    });
  }

  async stop(): Promise<ProducerLoadSummary> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.producers.map((p) => p.disconnect().catch(() => undefined)));
    return this.summary();
  }

  summary(): ProducerLoadSummary {
    return {
      sends: this.sends,
      acknowledged: this.ackedRecords,
      failedSends: this.failedSends,
      failuresByCode: { ...this.failuresByCode },
      failures: [...this.failures],
      producerResets: this.producerResets,
    };
  }

  /** The longest time without an acknowledgement between `fromMs` and `toMs`, from the timeline. */
  longestAckGapMs(fromMs: number, toMs: number): number {
    let previous = fromMs;
    let longest = 0;
    for (const at of this.ackTimesMs) {
      if (at < fromMs) continue;
      if (at > toMs) break;
      longest = Math.max(longest, at - previous);
      previous = at;
    }
    return Math.max(longest, toMs - previous);
  }

  private async replaceProducer(index: number): Promise<void> {
    const old = this.producers[index]!;
    await old.disconnect().catch(() => undefined);
    const fresh = this.options.runnel.producer({ acks: 'all', ...this.options.producerOptions });
    this.producers[index] = fresh;
    this.producerResets++;
    // connect() retries within the client's bounds; a failure here surfaces on the next send.
    await fresh.connect().catch(() => undefined);
  }

  private notify(): void {
    const due = this.waiters.filter((w) => w.count <= this.ackedRecords);
    this.waiters = this.waiters.filter((w) => w.count > this.ackedRecords);
    for (const w of due) w.resolve();
  }

  private async loop(index: number): Promise<void> {
    const { topic, checker, name } = this.options;
    const perSend = this.options.recordsPerSend ?? 5;
    const keys = this.options.keys ?? 64;
    const intervalMs = this.options.sendIntervalMs ?? 10;
    const failurePauseMs = this.options.failurePauseMs ?? 100;
    const producerName = `${name}-${index}`;
    let n = 0;
    while (this.running) {
      const batch = Array.from({ length: perSend }, (_, j) => {
        const order = n + j;
        return { order, key: `k${(index * 7919 + order) % keys}`, value: `${producerName}-${order}` };
      });
      n += perSend;
      this.sends++;
      try {
        const results = await this.producers[index]!.send({
          topic,
          messages: batch.map((r) => ({ key: r.key, value: r.value, ...(this.options.partition === undefined ? {} : { partition: this.options.partition }) })),
        });
        this.ackTimesMs.push(this.nowMs());
        results.forEach((meta, j) => {
          const r = batch[j]!;
          checker.recordAcked({ topic, partition: meta.partition, offset: meta.offset, key: r.key, value: r.value, producer: producerName, order: r.order });
        });
        this.ackedRecords += results.length;
        this.notify();
        if (intervalMs > 0) await sleep(intervalMs);
      } catch (thrown) {
        const error = thrown instanceof RunnelError ? thrown : new RunnelError('UNKNOWN_SERVER_ERROR', String(thrown), { cause: thrown });
        for (const r of batch) checker.recordUnacked({ topic, key: r.key, value: r.value });
        this.failedSends++;
        this.failuresByCode[error.codeName] = (this.failuresByCode[error.codeName] ?? 0) + 1;
        if (this.failures.length < FAILURES_KEPT_MAX) this.failures.push(error);
        if (!this.running) break;
        if (PRODUCER_FATAL_CODES.has(error.codeName)) await this.replaceProducer(index);
        await sleep(failurePauseMs);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
