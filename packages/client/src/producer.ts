// The producer: send() appends records to the accumulator; the sender drains ready batches,
// grouped into Produce requests per leader broker (one entry per partition per request), and
// settles each batch from its partition's result. A partition's entry carries up to
// maxInFlightRequests ready batches back to back: the broker appends a partition's data at once,
// at consecutive offsets, so one request moves as much as several.
//
// Order per partition. Produce requests to one broker travel in order on one pipelined stream
// (cluster.produce), and the broker starts them in arrival order; but when the stream breaks, every
// request on it fails at once and a resend can land after a later request on the new stream (and a
// broker without the stream gets unary calls, which HTTP/2 flow control may reorder). So a
// non-idempotent producer keeps one request per partition on the wire. An idempotent producer may
// put up to maxInFlightRequests requests of a partition on the wire, which is what keeps latency low
// at moderate rates; and if one is overtaken anyway, the sequence numbers keep order: the broker appends a batch only right
// after its predecessor, so when one batch fails retriably or arrives late the later ones come back
// OUT_OF_ORDER_SEQUENCE_NUMBER and are resent after it, in order, with the same sequences. A
// resent batch goes alone, once nothing else of its partition is on the wire.

import { RunnelError, encodeRecordBatch } from '@runnel/protocol';
import type { ErrorCodeName } from '@runnel/protocol';
import type { RecordHeaderInput, RecordInput } from '@runnel/protocol';
import type { Cluster } from './cluster.js';
import { DefaultPartitioner } from './partitioner.js';
import { BATCH_OVERHEAD_BYTES, RecordAccumulator, estimateRecordBytes } from './record-accumulator.js';
import type { PartitionQueue, ProducerBatch } from './record-accumulator.js';
import { asRunnelError, backoffMs } from './retry.js';
import { SerdeRegistry } from './serde.js';
import type { SerdeConfig } from './serde.js';

/** Acknowledgement level: 'all' (or -1) waits for the in-sync replicas, 1 for the leader, 0 for nothing. */
export type Acks = 'all' | -1 | 1 | 0;

/** Producer settings, KafkaJS and Kafka names. */
export interface ProducerOptions<K = RawValue, V = RawValue> {
  /**
   * Serdes for keys and values (defaults and per topic): send() then takes K and V and the serdes
   * turn them into bytes. Without, keys and values are Buffers or strings (UTF-8).
   */
  serde?: SerdeConfig<K, V>;
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
  /**
   * Produce requests on the wire per broker; also the most batches one request carries per
   * partition, and, when idempotent, the most requests of one partition on the wire while they are
   * small (a non-idempotent producer keeps one per partition). Default 5, Kafka's bound for
   * idempotent producers: the broker remembers the last 5 batches of each producer.
   */
  maxInFlightRequests?: number;
  /** Bound on the time from send() to acknowledgement, retries included. Default 120 000 ms. */
  deliveryTimeoutMs?: number;
  /** Bound on buffered, unacknowledged record bytes; send() waits when full. Default 32 MiB. */
  bufferMemoryBytes?: number;
  /**
   * Kafka's max.block.ms: how long send() may wait for buffer memory before it fails with a typed
   * REQUEST_TIMED_OUT. 0: never wait — a send() whose messages do not all fit at once fails before
   * any of them is buffered, so the caller can shed load and retry the whole send. Default: deliveryTimeoutMs.
   */
  maxBlockMs?: number;
  /** Server-side wait for acks=all. Default: the client's requestTimeoutMs. */
  ackTimeoutMs?: number;
}

/** Headers as KafkaJS takes them: a value may be repeated. */
export type MessageHeaders = Record<string, Buffer | string | null | undefined | Array<Buffer | string>>;

/** What a producer without serdes sends as keys and values: bytes, or strings as UTF-8. */
export type RawValue = Buffer | string;

/** One message to send; K and V are the application types when the producer has serdes. */
export interface Message<K = RawValue, V = RawValue> {
  key?: K | null;
  value: V | null;
  headers?: MessageHeaders;
  /** Explicit partition; otherwise keyed by murmur2, keyless sticky. */
  partition?: number;
  /** Milliseconds since the epoch (number or numeric string). Default: now. */
  timestamp?: number | string;
}

/** Arguments of {@link Producer.send}. */
export interface ProducerRecord<K = RawValue, V = RawValue> {
  topic: string;
  messages: Message<K, V>[];
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

/** Sequence numbers are int32 and wrap to 0 after 2^31 - 1 (Kafka's rule). */
const SEQUENCE_MODULUS = 2 ** 31;

/**
 * Bytes of a partition's requests that may be on the wire together. HTTP/2's default flow-control
 * window is 64 KiB: below it nothing holds a message back, so requests arrive in the order sent even
 * as unary calls (a broker without the pipelined stream); on the stream it also bounds what one
 * broken stream sends back for resending.
 */
const PIPELINE_BYTES_MAX = 64 * 1024;

/** Errors after which the broker may have written the batch: its sequence numbers are spent. */
const MAY_HAVE_APPENDED: ReadonlySet<ErrorCodeName> = new Set(['REQUEST_TIMED_OUT', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'NETWORK_EXCEPTION', 'UNKNOWN_SERVER_ERROR']);

/** Errors after which the producer cannot keep its ordering promise: every later send fails too. */
const FATAL_FOR_PRODUCER: ReadonlySet<ErrorCodeName> = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID']);

/** A partition's entry in one Produce request: one batch, or for a non-idempotent producer several, back to back. */
interface Planned {
  queue: PartitionQueue;
  batches: ProducerBatch[];
}

function acksToWire(acks: Acks): number {
  return acks === 'all' ? -1 : acks;
}

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Shared by every record without headers: no array allocated per record. */
const NO_HEADERS: readonly RecordHeaderInput[] = Object.freeze([]);

function toHeaders(headers: MessageHeaders | undefined): readonly RecordHeaderInput[] {
  if (headers === undefined) return NO_HEADERS;
  const out: RecordHeaderInput[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) out.push({ key, value: toBuffer(v) });
    else if (value !== undefined) out.push({ key, value: toBuffer(value) });
  }
  return out;
}

/** A KafkaJS-like producer. Obtain one with `runnel.producer(options)`. */
export class Producer<K = RawValue, V = RawValue> {
  private readonly cluster: Cluster;
  /** Turns keys and values into bytes when the options gave serdes. */
  private readonly serdes: SerdeRegistry | undefined;
  private readonly acks: number;
  private readonly lingerMs: number;
  private readonly compression: 'none' | 'gzip';
  private readonly idempotent: boolean;
  private readonly maxInFlightRequests: number;
  /** Requests carrying a partition's batches on the wire at once. */
  private readonly maxRequestsPerPartition: number;
  private readonly deliveryTimeoutMs: number;
  private readonly maxBlockMs: number;
  private readonly ackTimeoutMs: number;
  private readonly accumulator: RecordAccumulator;
  private readonly partitioner: DefaultPartitioner;
  private readonly inFlightByBroker = new Map<number, number>();
  private producerId = -1;
  private producerEpoch = -1;
  private connecting: Promise<void> | null = null;
  private connected = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private flushing = 0;
  private closed = false;
  /** Set once the broker refused this producer's sequence or epoch: it can no longer keep order. */
  private fatalError: RunnelError | null = null;
  private metadataRefresh: Promise<void> | null = null;
  private readonly idleWaiters: Array<() => void> = [];

  /** @internal Use `runnel.producer()`. */
  constructor(cluster: Cluster, options: ProducerOptions<K, V> = {}) {
    this.cluster = cluster;
    this.serdes = options.serde === undefined ? undefined : new SerdeRegistry(options.serde as SerdeConfig);
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
    this.maxRequestsPerPartition = this.idempotent ? this.maxInFlightRequests : 1;
    this.deliveryTimeoutMs = positiveInteger('deliveryTimeoutMs', options.deliveryTimeoutMs ?? DEFAULTS.deliveryTimeoutMs);
    this.ackTimeoutMs = positiveInteger('ackTimeoutMs', options.ackTimeoutMs ?? cluster.options.requestTimeoutMs);
    this.maxBlockMs = positiveOrZero('maxBlockMs', options.maxBlockMs ?? this.deliveryTimeoutMs);
    const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULTS.batchSize);
    const bufferMemoryBytes = positiveInteger('bufferMemoryBytes', options.bufferMemoryBytes ?? DEFAULTS.bufferMemoryBytes);
    if (bufferMemoryBytes < batchSize) throw new RangeError('bufferMemoryBytes must be at least batchSize');
    this.accumulator = new RecordAccumulator(batchSize, bufferMemoryBytes);
    this.partitioner = new DefaultPartitioner(cluster.options.random);
  }

  /**
   * Discovers the cluster and, when idempotent, obtains a producer id. Called by send() if needed.
   * With `topics`, also learns their partitions' leaders and opens a channel to each, so that the
   * first sends do not pay for channel setup (a benchmark's warm-up); a leader that cannot be reached
   * within the request timeout is left for send() to retry.
   */
  async connect(options: { topics?: readonly string[] } = {}): Promise<void> {
    await this.connectOnce();
    const topics = options.topics ?? [];
    if (topics.length === 0) return;
    const infos = await this.cluster.ensureTopics(topics);
    const leaders = new Set<number>();
    for (const [topic, info] of infos) for (const p of info.partitions) if (this.cluster.leaderOf(topic, p.partition) >= 0) leaders.add(p.leaderId);
    const deadline = Date.now() + this.cluster.options.requestTimeoutMs;
    await Promise.all(
      [...leaders].map(
        (brokerId) =>
          new Promise<void>((resolve) => {
            this.cluster.client(this.cluster.addressOf(brokerId)).waitForReady(deadline, (error) => {
              if (error !== undefined) this.cluster.logger.debug({ brokerId, err: error.message }, 'producer warm-up: leader channel not ready');
              resolve();
            });
          }),
      ),
    );
  }

  private connectOnce(): Promise<void> {
    if (this.closed) return Promise.reject(new RunnelError('NETWORK_EXCEPTION', 'the producer is disconnected'));
    this.connecting ??= this.initialize().then(
      () => {
        this.connected = true;
      },
      (error: unknown) => {
        this.connecting = null;
        throw error;
      },
    );
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
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    if (!this.connected) await this.connectOnce();
    if (this.closed) throw new RunnelError('NETWORK_EXCEPTION', 'the producer is disconnected');
    if (this.fatalError !== null) throw this.fatalError;
    const { topic, messages } = record;
    let info = this.cluster.topic(topic);
    if (info === undefined) info = (await this.cluster.ensureTopics([topic])).get(topic);
    const numPartitions = info?.partitions.length ?? 0;
    if (numPartitions === 0) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partitions`, { details: { topic } });

    // Per message only what must be: one RecordInput, a partition, a synchronous append. The
    // batch and index of each message are kept in parallel arrays, and each batch's result is
    // awaited once for all of its messages.
    const count = messages.length;
    if (this.maxBlockMs === 0) this.refuseIfNoRoom(topic, messages);
    const batches = new Array<ProducerBatch>(count);
    const indexes = new Int32Array(count);
    const partitions = new Int32Array(count);
    const clock = this.cluster.options.clock;
    let nowMs = clock.nowMs();
    let sendNow = false;
    try {
      for (let i = 0; i < count; i++) {
        const message = messages[i] as Message<K, V>;
        const input: RecordInput = {
          key: this.keyBytes(topic, message.key),
          value: this.valueBytes(topic, message.value),
          headers: toHeaders(message.headers),
          timestamp: message.timestamp === undefined ? nowMs : Number(message.timestamp),
        };
        const partition =
          message.partition ??
          this.partitioner.partition(topic, input.key, numPartitions, 0, (p, size) => this.accumulator.hasOpenBatch(topic, p, size));
        if (!(Number.isInteger(partition) && partition >= 0 && partition < numPartitions)) {
          throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" has no partition ${partition} (it has ${numPartitions})`, { details: { topic, partition } });
        }
        let appended = this.accumulator.tryAppend(topic, partition, input, nowMs);
        if (appended === null) {
          const waiting = this.accumulator.append(topic, partition, input, () => clock.nowMs(), Math.max(1, this.maxBlockMs));
          // A waiting append makes every batch ready; the sender must run to free memory.
          this.schedule(0);
          appended = await waiting;
          nowMs = clock.nowMs();
        }
        batches[i] = appended.batch;
        indexes[i] = appended.index;
        partitions[i] = partition;
        if (!sendNow && this.accumulator.isFull(appended.batch)) sendNow = true;
      }
    } finally {
      if (count > 0) this.schedule(sendNow ? 0 : this.lingerMs);
    }
    const results = new Array<RecordMetadata>(count);
    let batch: ProducerBatch | undefined;
    let baseOffset = -1;
    for (let i = 0; i < count; i++) {
      if (batches[i] !== batch) {
        batch = batches[i] as ProducerBatch;
        baseOffset = await batch.result;
      }
      results[i] = { topic, partition: partitions[i] as number, offset: baseOffset < 0 ? -1 : baseOffset + (indexes[i] as number) };
    }
    return results;
  }

  /** With maxBlockMs 0: fails the whole send, before buffering any of it, when it does not fit. */
  private keyBytes(topic: string, key: K | null | undefined): Buffer | null {
    return this.serdes === undefined ? toBuffer(key as RawValue | null | undefined) : this.serdes.serializeKey(topic, key);
  }

  private valueBytes(topic: string, value: V | null): Buffer | null {
    return this.serdes === undefined ? toBuffer(value as RawValue | null) : this.serdes.serializeValue(topic, value);
  }

  private refuseIfNoRoom(topic: string, messages: readonly Message<K, V>[]): void {
    let needed = 0;
    for (const message of messages) {
      needed += estimateRecordBytes({ key: this.keyBytes(topic, message.key), value: this.valueBytes(topic, message.value), headers: toHeaders(message.headers) }) + BATCH_OVERHEAD_BYTES;
    }
    const free = this.accumulator.freeBytes();
    if (needed > free) {
      throw new RunnelError(
        'REQUEST_TIMED_OUT',
        `producer buffer full: this send needs ~${needed} bytes, ${free} of bufferMemoryBytes ${this.accumulator.bufferMemoryBytes} are free (maxBlockMs 0); nothing was sent`,
        { details: { topic, neededBytes: needed, freeBytes: free } },
      );
    }
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
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
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
    if (this.idleWaiters.length === 0 || !this.idle) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Makes the sender run within `delayMs`, keeping the earliest of the requested times. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) {
      // setTimeout(0) waits at least a millisecond; a response or a full batch should not.
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.drain();
      });
      return;
    }
    const atMs = this.cluster.options.clock.nowMs() + delayMs;
    if (this.timer !== null && this.timerAtMs <= atMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      this.drain();
    }, delayMs);
  }

  /**
   * One pass of the sender: expire, then per partition take the ready batches in order, as many as
   * the partition and its leader may have on the wire, and send them.
   */
  private drain(): void {
    const nowMs = this.cluster.options.clock.nowMs();
    let nextWakeMs = Number.POSITIVE_INFINITY;
    let needMetadata = false;
    // requestsByBroker.get(b)[k] is the k-th request to broker b of this pass, with at most one
    // entry per partition: a partition's entries go out as slots 0, 1, 2... in sequence order.
    const requestsByBroker = new Map<number, Planned[][]>();
    for (const queue of this.accumulator.queues()) {
      if (queue.batches.length === 0) continue;
      this.expire(queue, nowMs);
      let leader: number | undefined;
      let slot = 0;
      let entry: Planned | undefined;
      let plannedBytes = 0;
      for (let b = 0; b < queue.batches.length; b++) {
        const batch = queue.batches[b] as ProducerBatch;
        if (batch.done || batch.inFlight) continue;
        // The broker remembers a producer's last 5 batches per partition, and a retry is only
        // recognised as one if its original is among them: nothing goes out beyond the fifth batch
        // after the oldest unacknowledged one.
        if (this.idempotent && b >= this.maxInFlightRequests) break;
        if (batch.retryAtMs > nowMs) {
          nextWakeMs = Math.min(nextWakeMs, batch.retryAtMs);
          break;
        }
        // A resent batch goes alone once nothing else of its partition is on the wire, so the
        // broker sees the partition's sequences in order again.
        if (batch.attempts > 0 && (queue.inFlight > 0 || slot > 0 || entry !== undefined)) break;
        const isLast = b === queue.batches.length - 1;
        const ready = batch.closed || !isLast || this.accumulator.isFull(batch) || this.flushing > 0 || this.accumulator.exhausted || nowMs >= batch.createdMs + this.lingerMs;
        if (!ready) {
          nextWakeMs = Math.min(nextWakeMs, batch.createdMs + this.lingerMs);
          break;
        }
        if (entry !== undefined && entry.batches.length >= this.maxInFlightRequests) {
          entry = undefined;
          slot++;
        }
        if (entry === undefined) {
          const onTheWire = queue.inFlight + slot;
          if (onTheWire >= this.maxRequestsPerPartition) break;
          if (onTheWire > 0 && queue.inFlightBytes + plannedBytes + batch.sizeBytes > PIPELINE_BYTES_MAX) break;
          leader ??= this.cluster.leaderOf(queue.topic, queue.partition);
          if (leader < 0) {
            needMetadata = true;
            batch.lastError = new RunnelError('LEADER_NOT_AVAILABLE', `no known leader for ${queue.topic}-${queue.partition}`, { details: { topic: queue.topic, partition: queue.partition } });
            batch.retryAtMs = nowMs + backoffMs(this.cluster.options.retry, batch.attempts, this.cluster.options.random);
            nextWakeMs = Math.min(nextWakeMs, batch.retryAtMs);
            break;
          }
          // A full broker is re-tried when one of its responses comes back.
          if ((this.inFlightByBroker.get(leader) ?? 0) + slot >= this.maxInFlightRequests) break;
          let requests = requestsByBroker.get(leader);
          if (requests === undefined) {
            requests = [];
            requestsByBroker.set(leader, requests);
          }
          let request = requests[slot];
          if (request === undefined) {
            request = [];
            requests[slot] = request;
          }
          entry = { queue, batches: [] };
          request.push(entry);
        } else if (queue.inFlight + slot > 0 && queue.inFlightBytes + plannedBytes + batch.sizeBytes > PIPELINE_BYTES_MAX) {
          // A pipelined entry stays small: a large one could overtake, or be overtaken by, its neighbours.
          break;
        }
        entry.batches.push(batch);
        plannedBytes += batch.sizeBytes;
        if (batch.attempts > 0) break;
      }
    }
    for (const [brokerId, requests] of requestsByBroker) for (const planned of requests) this.sendTo(brokerId, planned);
    if (needMetadata) this.refreshMetadataInBackground();
    if (nextWakeMs !== Number.POSITIVE_INFINITY) this.schedule(nextWakeMs - nowMs);
    this.notifyIfIdle();
  }

  /** Fails what is past deliveryTimeoutMs (or everything, once the producer hit a fatal error); on-the-wire batches settle with their answers. */
  private expire(queue: PartitionQueue, nowMs: number): void {
    for (let b = 0; b < queue.batches.length; ) {
      const batch = queue.batches[b] as ProducerBatch;
      if (batch.done) {
        b++;
      } else if (!batch.inFlight && this.fatalError !== null) {
        this.failBatch(queue, batch, this.fatalError);
      } else if (!batch.inFlight && nowMs - batch.createdMs >= this.deliveryTimeoutMs) {
        this.failBatch(queue, batch, this.deliveryTimeoutError(batch, nowMs));
      } else {
        b++;
      }
    }
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

  /** Seals (encodes) a batch on its first send, taking the partition's next sequence numbers; retries reuse the bytes. */
  private encode(queue: PartitionQueue, batch: ProducerBatch): Buffer {
    if (batch.encoded !== null) return batch.encoded;
    if (this.idempotent) {
      batch.baseSequence = queue.nextSequence;
      queue.nextSequence = (queue.nextSequence + batch.records.length) % SEQUENCE_MODULUS;
    }
    batch.encoded = this.encodeWith(batch, batch.baseSequence);
    return batch.encoded;
  }

  private encodeWith(batch: ProducerBatch, baseSequence: number): Buffer {
    return encodeRecordBatch({
      records: batch.records,
      compression: this.compression,
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      baseSequence,
    });
  }

  private sendTo(brokerId: number, planned: Planned[]): void {
    const byTopic = new Map<string, Array<{ partition: number; records: Buffer }>>();
    for (const { queue, batches } of planned) {
      const encoded = batches.map((batch) => this.encode(queue, batch));
      for (const batch of batches) {
        batch.attempts++;
        batch.inFlight = this.acks !== 0;
      }
      if (this.acks !== 0) {
        queue.inFlight++;
        for (const batch of batches) queue.inFlightBytes += batch.sizeBytes;
      }
      let list = byTopic.get(queue.topic);
      if (list === undefined) {
        list = [];
        byTopic.set(queue.topic, list);
      }
      list.push({ partition: queue.partition, records: encoded.length === 1 ? (encoded[0] as Buffer) : Buffer.concat(encoded) });
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
      for (const { queue, batches } of planned) for (const batch of batches) this.completeBatch(queue, batch, -1);
    }
    const endAttempts = (): void => {
      if (this.acks === 0) return;
      for (const { queue, batches } of planned) {
        queue.inFlight--;
        for (const batch of batches) {
          batch.inFlight = false;
          queue.inFlightBytes -= batch.sizeBytes;
        }
      }
    };
    // Through a promise so that a synchronous throw (channel closed, broker gone from metadata)
    // fails these batches like any other request error instead of escaping the timer callback.
    Promise.resolve()
      .then(() => this.cluster.produce(brokerId, request, this.ackTimeoutMs + this.cluster.options.requestTimeoutMs))
      .then(
        (response) => {
          endAttempts();
          const results = new Map<string, { errorCode: number; errorMessage: string; baseOffset: number }>();
          for (const topic of response.topics) for (const p of topic.partitions) results.set(`${topic.name}\u0000${p.partition}`, p);
          for (const { queue, batches } of planned) {
            const result = results.get(`${queue.topic}\u0000${queue.partition}`);
            // Batches sent back to back were appended back to back: each starts where the previous ended.
            let baseOffset = result?.baseOffset ?? -1;
            for (const batch of batches) {
              if (result === undefined) this.onBatchError(queue, batch, new RunnelError('UNKNOWN_SERVER_ERROR', `broker ${brokerId} did not answer for ${queue.topic}-${queue.partition}`));
              else if (result.errorCode === 0) this.completeBatch(queue, batch, baseOffset);
              else this.onBatchError(queue, batch, this.produceError(queue, batch, brokerId, result.errorCode, result.errorMessage));
              baseOffset += batch.records.length;
            }
          }
        },
        (error: unknown) => {
          endAttempts();
          const failure = asRunnelError(error);
          for (const { queue, batches } of planned) for (const batch of batches) this.onBatchError(queue, batch, failure, true);
        },
      )
      .finally(() => {
        this.inFlightByBroker.set(brokerId, (this.inFlightByBroker.get(brokerId) ?? 1) - 1);
        this.schedule(0);
        this.notifyIfIdle();
      });
  }

  /** A partition's error answer as a RunnelError naming the partition, broker and, when idempotent, the sequence range. */
  private produceError(queue: PartitionQueue, batch: ProducerBatch, brokerId: number, errorCode: number, errorMessage: string): RunnelError {
    const details: Record<string, unknown> = { topic: queue.topic, partition: queue.partition, brokerId };
    if (this.idempotent) {
      details['producerId'] = this.producerId;
      details['producerEpoch'] = this.producerEpoch;
      details['baseSequence'] = batch.baseSequence;
      details['lastSequence'] = (batch.baseSequence + batch.records.length - 1) % SEQUENCE_MODULUS;
    }
    return RunnelError.fromCode(errorCode, errorMessage || undefined, { details });
  }

  private completeBatch(queue: PartitionQueue, batch: ProducerBatch, baseOffset: number): void {
    if (batch.done) return;
    if (batch.pendingSequenceShift > 0) {
      // Cannot happen with a broker that checks sequences: it refuses a batch after a gap.
      this.cluster.logger.warn({ topic: queue.topic, partition: queue.partition, baseSequence: batch.baseSequence }, 'a batch sent after a failed one was accepted');
      batch.pendingSequenceShift = 0;
    }
    batch.complete(this.acks === 0 ? -1 : baseOffset);
    this.accumulator.remove(queue, batch);
  }

  private onBatchError(queue: PartitionQueue, batch: ProducerBatch, error: RunnelError, outcomeUnknown = false): void {
    if (batch.done) return;
    batch.lastError = error;
    if (outcomeUnknown || MAY_HAVE_APPENDED.has(error.codeName)) batch.mayBeAppended = true;
    const nowMs = this.cluster.options.clock.nowMs();
    if (batch.pendingSequenceShift > 0) {
      // An earlier batch failed unwritten after this one was sent: it was refused for the gap,
      // and goes again with the sequence numbers moved back.
      this.resequence(batch);
      this.retryNow(queue, batch, nowMs);
      return;
    }
    if (this.idempotent && error.codeName === 'OUT_OF_ORDER_SEQUENCE_NUMBER' && this.earlierUnacknowledged(queue, batch)) {
      // Refused only because an earlier batch is not written yet: resend after it.
      this.cluster.logger.debug({ topic: queue.topic, partition: queue.partition, codeName: error.codeName, baseSequence: batch.baseSequence }, 'resending produce after an earlier batch');
      this.retryNow(queue, batch, nowMs);
      return;
    }
    if (this.idempotent && FATAL_FOR_PRODUCER.has(error.codeName)) {
      this.fatalError ??= new RunnelError(
        error.codeName,
        `producer ${this.producerId} (epoch ${this.producerEpoch}) can no longer keep order: ${queue.topic}-${queue.partition} refused sequences ` +
          `${batch.baseSequence}..${(batch.baseSequence + batch.records.length - 1) % SEQUENCE_MODULUS} with ${error.codeName}: ${error.message}. Create a new producer.`,
        { cause: error, details: error.details },
      );
      this.failBatch(queue, batch, this.fatalError);
      this.schedule(0);
      return;
    }
    if (this.fatalError !== null || !error.retriable) {
      this.failBatch(queue, batch, this.fatalError ?? error);
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

  private retryNow(queue: PartitionQueue, batch: ProducerBatch, nowMs: number): void {
    if (nowMs - batch.createdMs >= this.deliveryTimeoutMs) {
      this.failBatch(queue, batch, this.deliveryTimeoutError(batch, nowMs));
      return;
    }
    batch.retryAtMs = nowMs;
  }

  /** Whether a batch queued before `batch` (a lower sequence) is still unacknowledged. */
  private earlierUnacknowledged(queue: PartitionQueue, batch: ProducerBatch): boolean {
    for (const other of queue.batches) {
      if (other === batch) return false;
      if (!other.done) return true;
    }
    return false;
  }

  /** Moves a sealed batch's sequence numbers back by its pending shift and re-encodes it. */
  private resequence(batch: ProducerBatch): void {
    batch.baseSequence = (batch.baseSequence - batch.pendingSequenceShift + SEQUENCE_MODULUS) % SEQUENCE_MODULUS;
    batch.pendingSequenceShift = 0;
    batch.encoded = this.encodeWith(batch, batch.baseSequence);
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
    if (batch.encoded !== null && this.idempotent && !batch.mayBeAppended && this.fatalError === null) {
      // The broker never wrote this batch, so its sequence numbers go to the batches after it:
      // otherwise the broker would refuse every one of them for the gap.
      const shift = batch.records.length;
      let after = false;
      for (const other of queue.batches) {
        if (other === batch) {
          after = true;
          continue;
        }
        if (!after || other.done || other.encoded === null) continue;
        other.pendingSequenceShift += shift;
        if (!other.inFlight) this.resequence(other);
      }
      queue.nextSequence = (queue.nextSequence - shift + SEQUENCE_MODULUS) % SEQUENCE_MODULUS;
    }
    this.cluster.logger.warn({ topic: queue.topic, partition: queue.partition, codeName: error.codeName, attempts: batch.attempts }, 'produce failed');
    batch.fail(error);
    this.accumulator.remove(queue, batch);
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
