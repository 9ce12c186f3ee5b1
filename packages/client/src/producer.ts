// The producer: send() appends records to the accumulator; the sender drains ready batches,
// grouped into one Produce request per leader broker, and settles each batch from its partition's
// result. Order per partition holds because a partition has at most one batch on the wire.

import { RunnelError, encodeRecordBatch } from '@runnel/protocol';
import type { RecordHeaderInput, RecordInput } from '@runnel/protocol';
import type { Cluster } from './cluster.js';
import { DefaultPartitioner } from './partitioner.js';
import { RecordAccumulator } from './record-accumulator.js';
import type { PartitionQueue, ProducerBatch } from './record-accumulator.js';
import { asRunnelError, backoffMs } from './retry.js';

/** Acknowledgement level: 'all' (or -1) waits for the in-sync replicas, 1 for the leader, 0 for nothing. */
export type Acks = 'all' | -1 | 1 | 0;

/** Producer settings, KafkaJS and Kafka names. */
export interface ProducerOptions {
  /** Default 'all'. */
  acks?: Acks;
  /** How long a batch waits for more records before it is sent. Default 5 ms. */
  lingerMs?: number;
  /** Target batch size in bytes before compression. Default 16 384. */
  batchSize?: number;
  /** Default 'none'. */
  compression?: 'none' | 'gzip';
  /** Producer id and per-partition sequence numbers so retries never duplicate. Default true (with acks 'all'). */
  idempotent?: boolean;
  /** Produce requests on the wire per broker. Default 5. */
  maxInFlightRequests?: number;
  /** Bound on the time from send() to acknowledgement, retries included. Default 120 000 ms. */
  deliveryTimeoutMs?: number;
  /** Bound on buffered, unacknowledged record bytes; send() waits when full. Default 32 MiB. */
  bufferMemoryBytes?: number;
  /** Server-side wait for acks=all. Default: the client's requestTimeoutMs. */
  ackTimeoutMs?: number;
}

/** Headers as KafkaJS takes them: a value may be repeated. */
export type MessageHeaders = Record<string, Buffer | string | null | undefined | Array<Buffer | string>>;

/** One message to send. */
export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: MessageHeaders;
  /** Explicit partition; otherwise keyed by murmur2, keyless sticky. */
  partition?: number;
  /** Milliseconds since the epoch (number or numeric string). Default: now. */
  timestamp?: number | string;
}

/** Arguments of {@link Producer.send}. */
export interface ProducerRecord {
  topic: string;
  messages: Message[];
}

/** Where one sent message was written. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0 (the broker does not say). */
  offset: number;
}

const DEFAULTS = {
  lingerMs: 5,
  batchSize: 16_384,
  maxInFlightRequests: 5,
  deliveryTimeoutMs: 120_000,
  bufferMemoryBytes: 32 * 1024 * 1024,
};

function acksToWire(acks: Acks): number {
  return acks === 'all' ? -1 : acks;
}

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function toHeaders(headers: MessageHeaders | undefined): RecordHeaderInput[] {
  const out: RecordHeaderInput[] = [];
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (Array.isArray(value)) for (const v of value) out.push({ key, value: toBuffer(v) });
    else if (value !== undefined) out.push({ key, value: toBuffer(value) });
  }
  return out;
}

/** A KafkaJS-like producer. Obtain one with `runnel.producer(options)`. */
export class Producer {
  private readonly cluster: Cluster;
  private readonly acks: number;
  private readonly lingerMs: number;
  private readonly compression: 'none' | 'gzip';
  private readonly idempotent: boolean;
  private readonly maxInFlightRequests: number;
  private readonly deliveryTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly accumulator: RecordAccumulator;
  private readonly partitioner: DefaultPartitioner;
  private readonly inFlightByBroker = new Map<number, number>();
  private producerId = -1;
  private producerEpoch = -1;
  private connecting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private flushing = 0;
  private closed = false;
  private metadataRefresh: Promise<void> | null = null;
  private readonly idleWaiters: Array<() => void> = [];

  /** @internal Use `runnel.producer()`. */
  constructor(cluster: Cluster, options: ProducerOptions = {}) {
    this.cluster = cluster;
    const acks = options.acks ?? 'all';
    if (acks !== 'all' && acks !== -1 && acks !== 1 && acks !== 0) throw new RangeError(`acks must be 'all', -1, 1 or 0, got ${String(acks)}`);
    this.acks = acksToWire(acks);
    if (options.idempotent === true && this.acks !== -1) {
      throw new RangeError("idempotent: true needs acks 'all': without it a leader change can lose acknowledged sequence numbers");
    }
    this.idempotent = options.idempotent ?? this.acks === -1;
    this.lingerMs = positiveOrZero('lingerMs', options.lingerMs ?? DEFAULTS.lingerMs);
    this.compression = options.compression ?? 'none';
    if (this.compression !== 'none' && this.compression !== 'gzip') throw new RangeError(`compression must be 'none' or 'gzip', got ${String(this.compression)}`);
    this.maxInFlightRequests = positiveInteger('maxInFlightRequests', options.maxInFlightRequests ?? DEFAULTS.maxInFlightRequests);
    this.deliveryTimeoutMs = positiveInteger('deliveryTimeoutMs', options.deliveryTimeoutMs ?? DEFAULTS.deliveryTimeoutMs);
    this.ackTimeoutMs = positiveInteger('ackTimeoutMs', options.ackTimeoutMs ?? cluster.options.requestTimeoutMs);
    const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULTS.batchSize);
    const bufferMemoryBytes = positiveInteger('bufferMemoryBytes', options.bufferMemoryBytes ?? DEFAULTS.bufferMemoryBytes);
    if (bufferMemoryBytes < batchSize) throw new RangeError('bufferMemoryBytes must be at least batchSize');
    this.accumulator = new RecordAccumulator(batchSize, bufferMemoryBytes);
    this.partitioner = new DefaultPartitioner(cluster.options.random);
  }

  /** Discovers the cluster and, when idempotent, obtains a producer id. Called by send() if needed. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new RunnelError('NETWORK_EXCEPTION', 'the producer is disconnected'));
    this.connecting ??= this.initialize().catch((error: unknown) => {
      this.connecting = null;
      throw error;
    });
    return this.connecting;
  }

  private async initialize(): Promise<void> {
    await this.cluster.retry(() => this.cluster.refreshMetadata(), { operation: 'connect' });
    if (!this.idempotent) return;
    const response = await this.cluster.retry(
      async () => {
        const r = await this.cluster.callAny('initProducerId', { transactionTimeoutMs: 0 });
        if (r.errorCode !== 0) throw RunnelError.fromCode(r.errorCode, r.errorMessage || undefined);
        return r;
      },
      { operation: 'initProducerId' },
    );
    this.producerId = response.producerId;
    this.producerEpoch = response.producerEpoch;
    this.cluster.logger.info({ producerId: this.producerId, producerEpoch: this.producerEpoch }, 'idempotent producer initialised');
  }

  /** The producer id and epoch in use (-1 before connect or when not idempotent). */
  get producerIdentity(): { producerId: number; producerEpoch: number } {
    return { producerId: this.producerId, producerEpoch: this.producerEpoch };
  }

  /**
   * Sends messages to one topic. Resolves with one {topic, partition, offset} per message, in the
   * order given, once every message is acknowledged; rejects with a RunnelError if any is not
   * (after retries within deliveryTimeoutMs).
   */
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    await this.connect();
    if (this.closed) throw new RunnelError('NETWORK_EXCEPTION', 'the producer is disconnected');
    const { topic, messages } = record;
    let info = this.cluster.topic(topic);
    if (info === undefined) info = (await this.cluster.ensureTopics([topic])).get(topic);
    const numPartitions = info?.partitions.length ?? 0;
    if (numPartitions === 0) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partitions`, { details: { topic } });

    const appended: Array<{ partition: number; batch: ProducerBatch; index: number }> = [];
    const nowMs = (): number => this.cluster.options.clock.nowMs();
    for (const message of messages) {
      const input: RecordInput = {
        key: toBuffer(message.key),
        value: toBuffer(message.value),
        headers: toHeaders(message.headers),
        timestamp: message.timestamp === undefined ? nowMs() : Number(message.timestamp),
      };
      const partition =
        message.partition ??
        this.partitioner.partition(topic, input.key, numPartitions, 0, (p, size) => this.accumulator.hasOpenBatch(topic, p, size));
      if (!(Number.isInteger(partition) && partition >= 0 && partition < numPartitions)) {
        throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partition ${partition} (it has ${numPartitions})`, { details: { topic, partition } });
      }
      const { batch, index } = await this.accumulator.append(topic, partition, input, nowMs, this.deliveryTimeoutMs);
      appended.push({ partition, batch, index });
      this.schedule(this.accumulator.isFull(batch) ? 0 : this.lingerMs);
    }
    const results: RecordMetadata[] = [];
    for (const { partition, batch, index } of appended) {
      const baseOffset = await batch.result;
      results.push({ topic, partition, offset: baseOffset < 0 ? -1 : baseOffset + index });
    }
    return results;
  }

  /** Sends everything buffered now, without waiting for lingerMs, and resolves when it is settled. */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.schedule(0);
      await this.whenIdle();
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then stops the producer. Records still failing at deliveryTimeoutMs fail their send(). */
  async disconnect(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private get idle(): boolean {
    if (!this.accumulator.empty) return false;
    for (const count of this.inFlightByBroker.values()) if (count > 0) return false;
    return true;
  }

  private whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIfIdle(): void {
    if (!this.idle) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Makes the sender run within `delayMs`, keeping the earliest of the requested times. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    const atMs = this.cluster.options.clock.nowMs() + Math.max(0, delayMs);
    if (this.timer !== null && this.timerAtMs <= atMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      this.drain();
    }, Math.max(0, delayMs));
  }

  /** One pass of the sender: expire, collect ready heads by leader, send, and plan the next pass. */
  private drain(): void {
    const nowMs = this.cluster.options.clock.nowMs();
    let nextWakeMs = Number.POSITIVE_INFINITY;
    let needMetadata = false;
    const readyByBroker = new Map<number, PartitionQueue[]>();
    for (const queue of this.accumulator.queues()) {
      const head = queue.batches[0];
      if (head === undefined || queue.inFlight) continue;
      if (nowMs - head.createdMs >= this.deliveryTimeoutMs) {
        this.failBatch(queue, head, this.deliveryTimeoutError(head, nowMs));
        nextWakeMs = nowMs;
        continue;
      }
      if (head.retryAtMs > nowMs) {
        nextWakeMs = Math.min(nextWakeMs, head.retryAtMs);
        continue;
      }
      const ready = head.closed || queue.batches.length > 1 || this.accumulator.isFull(head) || this.flushing > 0 || this.accumulator.exhausted || nowMs >= head.createdMs + this.lingerMs;
      if (!ready) {
        nextWakeMs = Math.min(nextWakeMs, head.createdMs + this.lingerMs);
        continue;
      }
      const leader = this.cluster.leaderOf(queue.topic, queue.partition);
      if (leader < 0) {
        needMetadata = true;
        head.lastError = new RunnelError('LEADER_NOT_AVAILABLE', `no known leader for ${queue.topic}-${queue.partition}`, { details: { topic: queue.topic, partition: queue.partition } });
        head.attempts++;
        head.retryAtMs = nowMs + backoffMs(this.cluster.options.retry, head.attempts - 1, this.cluster.options.random);
        nextWakeMs = Math.min(nextWakeMs, head.retryAtMs);
        continue;
      }
      const list = readyByBroker.get(leader) ?? [];
      list.push(queue);
      readyByBroker.set(leader, list);
    }
    for (const [brokerId, queues] of readyByBroker) {
      if ((this.inFlightByBroker.get(brokerId) ?? 0) >= this.maxInFlightRequests) continue; // a response re-runs drain
      this.sendTo(brokerId, queues);
    }
    if (needMetadata) this.refreshMetadataInBackground();
    if (nextWakeMs !== Number.POSITIVE_INFINITY) this.schedule(nextWakeMs - nowMs);
    this.notifyIfIdle();
  }

  private refreshMetadataInBackground(): void {
    if (this.metadataRefresh !== null) return;
    this.metadataRefresh = this.cluster
      .refreshMetadata()
      .catch((error: unknown) => {
        this.cluster.logger.warn({ codeName: asRunnelError(error).codeName }, 'producer metadata refresh failed; retrying with backoff');
      })
      .finally(() => {
        this.metadataRefresh = null;
        this.schedule(0);
      });
  }

  /** Closes (encodes) a batch on its first send; retries reuse the same bytes and sequence. */
  private encode(queue: PartitionQueue, batch: ProducerBatch): Buffer {
    if (batch.encoded !== null) return batch.encoded;
    if (this.idempotent) {
      batch.baseSequence = queue.nextSequence;
      queue.nextSequence = (queue.nextSequence + batch.records.length) % 2 ** 31;
    }
    batch.encoded = encodeRecordBatch({
      records: batch.records,
      compression: this.compression,
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      baseSequence: batch.baseSequence,
    });
    return batch.encoded;
  }

  private sendTo(brokerId: number, queues: PartitionQueue[]): void {
    const byTopic = new Map<string, Array<{ partition: number; records: Buffer }>>();
    const sent: Array<{ queue: PartitionQueue; batch: ProducerBatch }> = [];
    for (const queue of queues) {
      const batch = queue.batches[0] as ProducerBatch;
      const records = this.encode(queue, batch);
      queue.inFlight = true;
      batch.attempts++;
      sent.push({ queue, batch });
      const list = byTopic.get(queue.topic) ?? [];
      list.push({ partition: queue.partition, records });
      byTopic.set(queue.topic, list);
    }
    this.inFlightByBroker.set(brokerId, (this.inFlightByBroker.get(brokerId) ?? 0) + 1);
    const request = {
      acks: this.acks,
      timeoutMs: this.ackTimeoutMs,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    if (this.acks === 0) {
      // Kafka semantics: with acks=0 nothing comes back worth waiting for, so sends resolve at once
      // with offset -1; the request still counts against in-flight until gRPC completes it.
      for (const { queue, batch } of sent) this.completeBatch(queue, batch, -1);
    }
    // Through a promise so that a synchronous throw (channel closed, broker gone from metadata)
    // fails these batches like any other request error instead of escaping the timer callback.
    Promise.resolve()
      .then(() => this.cluster.callBroker(brokerId, 'produce', request, this.ackTimeoutMs + this.cluster.options.requestTimeoutMs))
      .then(
        (response) => {
          const results = new Map<string, { errorCode: number; errorMessage: string; baseOffset: number }>();
          for (const topic of response.topics) for (const p of topic.partitions) results.set(`${topic.name}\u0000${p.partition}`, p);
          for (const { queue, batch } of sent) {
            const result = results.get(`${queue.topic}\u0000${queue.partition}`);
            if (result === undefined) this.onBatchError(queue, batch, new RunnelError('UNKNOWN_SERVER_ERROR', `broker ${brokerId} did not answer for ${queue.topic}-${queue.partition}`));
            else if (result.errorCode === 0) this.completeBatch(queue, batch, result.baseOffset);
            else this.onBatchError(queue, batch, RunnelError.fromCode(result.errorCode, result.errorMessage || undefined, { details: { topic: queue.topic, partition: queue.partition, brokerId } }));
          }
        },
        (error: unknown) => {
          const failure = asRunnelError(error);
          for (const { queue, batch } of sent) this.onBatchError(queue, batch, failure);
        },
      )
      .finally(() => {
        this.inFlightByBroker.set(brokerId, (this.inFlightByBroker.get(brokerId) ?? 1) - 1);
        this.schedule(0);
        this.notifyIfIdle();
      });
  }

  private completeBatch(queue: PartitionQueue, batch: ProducerBatch, baseOffset: number): void {
    if (batch.done) return;
    queue.inFlight = false;
    batch.complete(this.acks === 0 ? -1 : baseOffset);
    this.accumulator.removeHead(queue, batch);
  }

  private onBatchError(queue: PartitionQueue, batch: ProducerBatch, error: RunnelError): void {
    if (batch.done) return;
    queue.inFlight = false;
    batch.lastError = error;
    const nowMs = this.cluster.options.clock.nowMs();
    if (!error.retriable) {
      this.failBatch(queue, batch, error);
      return;
    }
    // A lost connection or timeout may mean the leader moved: refresh like for NOT_LEADER.
    if (error.staleMetadata || error.codeName === 'NETWORK_EXCEPTION' || error.codeName === 'REQUEST_TIMED_OUT') this.refreshMetadataInBackground();
    const waitMs = backoffMs(this.cluster.options.retry, Math.max(0, batch.attempts - 1), this.cluster.options.random);
    if (nowMs + waitMs - batch.createdMs >= this.deliveryTimeoutMs) {
      this.failBatch(queue, batch, this.deliveryTimeoutError(batch, nowMs));
      return;
    }
    this.cluster.logger.debug({ topic: queue.topic, partition: queue.partition, codeName: error.codeName, attempts: batch.attempts, waitMs }, 'retrying produce');
    batch.retryAtMs = nowMs + waitMs;
  }

  private deliveryTimeoutError(batch: ProducerBatch, nowMs: number): RunnelError {
    const last = batch.lastError;
    return new RunnelError(
      'REQUEST_TIMED_OUT',
      `${batch.records.length} record(s) for ${batch.topic}-${batch.partition} expired: ${nowMs - batch.createdMs} ms since send, deliveryTimeoutMs ${this.deliveryTimeoutMs}` +
        (last === null ? '' : `; last error ${last.codeName}: ${last.message}`),
      { cause: last ?? undefined, details: { topic: batch.topic, partition: batch.partition, attempts: batch.attempts, lastErrorCode: last?.codeName ?? null } },
    );
  }

  private failBatch(queue: PartitionQueue, batch: ProducerBatch, error: RunnelError): void {
    if (batch.encoded !== null && this.idempotent && queue.nextSequence === (batch.baseSequence + batch.records.length) % 2 ** 31) {
      // The failed batch's sequence range is handed to the next batch so the partition's
      // sequence stays gapless; the broker would otherwise refuse everything after it.
      queue.nextSequence = batch.baseSequence;
    }
    this.cluster.logger.warn({ topic: queue.topic, partition: queue.partition, codeName: error.codeName, attempts: batch.attempts }, 'produce failed');
    queue.inFlight = false;
    batch.fail(error);
    this.accumulator.removeHead(queue, batch);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function positiveOrZero(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  return value;
}
