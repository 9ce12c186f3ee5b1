// Per-partition queues of producer batches. Records are appended to the open batch of their
// partition until it reaches batchSize; the sender takes whole batches from the queue, oldest first,
// several of them on the wire at once. Memory is bounded: appends wait while the buffered bytes
// would exceed bufferMemoryBytes. send() appends synchronously while memory is free, so the per-record
// cost is a few property writes, not a promise.

import { RunnelError } from '@runnel/protocol';
import type { RecordInput } from '@runnel/protocol';

/** Fixed RecordBatch v2 header bytes, counted so batchSize bounds the encoded size. */
export const BATCH_OVERHEAD_BYTES = 61;
/** Upper bound of a record's framing (length, attributes, deltas, key/value lengths, header count). */
const RECORD_OVERHEAD_BYTES = 21;

/** Estimated encoded bytes of one record before compression. */
export function estimateRecordBytes(record: RecordInput): number {
  let size = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers !== undefined) for (const header of headers) size += 10 + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
  return size;
}

/** One batch of records for one partition; state moves open -> sealed (encoded) -> done. */
export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: RecordInput[] = [];
  readonly createdMs: number;
  sizeBytes = BATCH_OVERHEAD_BYTES;
  /** Set when the sender first takes the batch; from then on it is resent byte for byte (unless re-sequenced). */
  encoded: Buffer | null = null;
  baseSequence = -1;
  attempts = 0;
  retryAtMs = 0;
  /** Whether a Produce request carrying this batch is on the wire now. */
  inFlight = false;
  /**
   * Whether some attempt may have been appended by a broker (no answer, a timeout, or an answer
   * saying it was written but not replicated). Such a batch's sequence numbers are spent for good.
   */
  mayBeAppended = false;
  /**
   * Sequence numbers to move this batch back by once its in-flight attempt returns: an earlier
   * batch failed without being written, so the broker will refuse this one as out of order.
   */
  pendingSequenceShift = 0;
  lastError: RunnelError | null = null;
  /** Resolves with the base offset (-1 for acks=0) once the batch is acknowledged. */
  readonly result: Promise<number>;
  private settle: { resolve: (baseOffset: number) => void; reject: (error: RunnelError) => void } | null;

  /** An empty open batch; `createdMs` starts its linger and delivery timeout. */
  constructor(topic: string, partition: number, createdMs: number) {
    this.topic = topic;
    this.partition = partition;
    this.createdMs = createdMs;
    let settle: { resolve: (baseOffset: number) => void; reject: (error: RunnelError) => void } | null = null;
    this.result = new Promise<number>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.settle = settle;
    // Every record's send() awaits this promise; the catch keeps a failure with no listener left
    // (all callers gone) from becoming an unhandled rejection.
    this.result.catch(() => undefined);
  }

  /** Whether the batch no longer takes records. */
  get closed(): boolean {
    return this.encoded !== null;
  }

  /** Whether the batch is settled. */
  get done(): boolean {
    return this.settle === null;
  }

  /** Settles every send() waiting on this batch with its base offset. */
  complete(baseOffset: number): void {
    this.settle?.resolve(baseOffset);
    this.settle = null;
  }

  /** Rejects every send() waiting on this batch. */
  fail(error: RunnelError): void {
    this.settle?.reject(error);
    this.settle = null;
  }
}

/** The batches of one partition from its oldest unsettled one on, oldest (lowest sequence) first. */
export interface PartitionQueue {
  topic: string;
  partition: number;
  batches: ProducerBatch[];
  /** Produce requests carrying batches of this partition on the wire now. */
  inFlight: number;
  /** Estimated bytes of this partition's batches on the wire now. */
  inFlightBytes: number;
  /** Next idempotent sequence number of this partition. */
  nextSequence: number;
}

interface MemoryWaiter {
  sizeBytes: number;
  wake: () => void;
}

/** Where an appended record went: its batch and its index in it. */
export interface AppendResult {
  batch: ProducerBatch;
  index: number;
}

/** Batching and memory accounting of a producer. */
export class RecordAccumulator {
  /** Queues by topic, indexed by partition: no string key built per record. */
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  private readonly allQueues: PartitionQueue[] = [];
  private bufferedBytes = 0;
  private readonly memoryWaiters: MemoryWaiter[] = [];
  readonly batchSizeBytes: number;
  readonly bufferMemoryBytes: number;

  /** Batches up to `batchSizeBytes`; at most `bufferMemoryBytes` buffered in all. */
  constructor(batchSizeBytes: number, bufferMemoryBytes: number) {
    this.batchSizeBytes = batchSizeBytes;
    this.bufferMemoryBytes = bufferMemoryBytes;
  }

  /** Every partition queue. */
  queues(): readonly PartitionQueue[] {
    return this.allQueues;
  }

  /** Whether appends are waiting for memory: the sender then treats every batch as ready. */
  get exhausted(): boolean {
    return this.memoryWaiters.length > 0;
  }

  /** Whether nothing is buffered or in flight. */
  get empty(): boolean {
    for (const queue of this.allQueues) if (queue.batches.length > 0) return false;
    return true;
  }

  /** The queue of a partition, created on first use. */
  queue(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic);
    if (byPartition === undefined) {
      byPartition = [];
      this.queuesByTopic.set(topic, byPartition);
    }
    let queue = byPartition[partition];
    if (queue === undefined) {
      queue = { topic, partition, batches: [], inFlight: 0, inFlightBytes: 0, nextSequence: 0 };
      byPartition[partition] = queue;
      this.allQueues.push(queue);
    }
    return queue;
  }

  /** Whether partition's open batch has room for `sizeBytes` more. */
  hasOpenBatch(topic: string, partition: number, sizeBytes: number): boolean {
    const batches = this.queuesByTopic.get(topic)?.[partition]?.batches;
    const last = batches?.[batches.length - 1];
    return last !== undefined && !last.closed && last.sizeBytes + sizeBytes <= this.batchSizeBytes;
  }

  /**
   * Appends a record at once if buffer memory is free; null when the caller must wait for memory
   * (then use append()). A record larger than the whole buffer is refused.
   */
  tryAppend(topic: string, partition: number, record: RecordInput, nowMs: number): AppendResult | null {
    const sizeBytes = this.checkSize(topic, partition, record);
    if (!this.tryReserve(sizeBytes + BATCH_OVERHEAD_BYTES)) return null;
    return this.place(topic, partition, record, sizeBytes, nowMs);
  }

  /**
   * Appends a record, waiting for buffer memory first. A record larger than the whole buffer is
   * refused; one larger than batchSize gets a batch of its own.
   */
  async append(topic: string, partition: number, record: RecordInput, nowMs: () => number, waitBudgetMs: number): Promise<AppendResult> {
    const sizeBytes = this.checkSize(topic, partition, record);
    await this.reserve(sizeBytes + BATCH_OVERHEAD_BYTES, waitBudgetMs);
    return this.place(topic, partition, record, sizeBytes, nowMs());
  }

  private checkSize(topic: string, partition: number, record: RecordInput): number {
    const sizeBytes = estimateRecordBytes(record);
    if (sizeBytes + BATCH_OVERHEAD_BYTES > this.bufferMemoryBytes) {
      throw new RunnelError('MESSAGE_TOO_LARGE', `a record of ~${sizeBytes} bytes exceeds bufferMemoryBytes ${this.bufferMemoryBytes}`, { details: { topic, partition } });
    }
    return sizeBytes;
  }

  private place(topic: string, partition: number, record: RecordInput, sizeBytes: number, nowMs: number): AppendResult {
    const queue = this.queue(topic, partition);
    let batch = queue.batches[queue.batches.length - 1];
    if (batch === undefined || batch.closed || (batch.records.length > 0 && batch.sizeBytes + sizeBytes > this.batchSizeBytes)) {
      batch = new ProducerBatch(topic, partition, nowMs);
      queue.batches.push(batch);
    } else {
      // Only a new batch pays the header; give back what was reserved for it.
      this.release(BATCH_OVERHEAD_BYTES);
    }
    batch.records.push(record);
    batch.sizeBytes += sizeBytes;
    return { batch, index: batch.records.length - 1 };
  }

  /** Whether a batch has reached batchSize and should go without waiting for linger. */
  isFull(batch: ProducerBatch): boolean {
    return batch.sizeBytes >= this.batchSizeBytes;
  }

  /**
   * Frees a settled batch's memory. Batches leave the queue from the front only, once settled, so
   * a batch acknowledged before an earlier one stays (done) until that one settles: the queue's
   * head is always the partition's oldest unacknowledged batch.
   */
  remove(queue: PartitionQueue, batch: ProducerBatch): void {
    if (!batch.done) throw new Error(`invariant: ${batch.topic}-${batch.partition} removing a batch that is not settled`);
    if (!queue.batches.includes(batch)) throw new Error(`invariant: ${batch.topic}-${batch.partition} removing a batch that is not queued`);
    this.release(batch.sizeBytes);
    while (queue.batches[0]?.done === true) queue.batches.shift();
  }

  /** Buffer memory not reserved now (0 while appends are waiting for memory). */
  freeBytes(): number {
    return this.memoryWaiters.length > 0 ? 0 : Math.max(0, this.bufferMemoryBytes - this.bufferedBytes);
  }

  private tryReserve(sizeBytes: number): boolean {
    if (this.bufferedBytes + sizeBytes > this.bufferMemoryBytes || this.memoryWaiters.length > 0) return false;
    this.bufferedBytes += sizeBytes;
    return true;
  }

  private async reserve(sizeBytes: number, waitBudgetMs: number): Promise<void> {
    if (this.tryReserve(sizeBytes)) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: MemoryWaiter = {
        sizeBytes,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.memoryWaiters.indexOf(waiter);
        if (index >= 0) this.memoryWaiters.splice(index, 1);
        reject(new RunnelError('REQUEST_TIMED_OUT', `waited ${waitBudgetMs} ms for producer buffer memory (bufferMemoryBytes ${this.bufferMemoryBytes})`));
      }, waitBudgetMs);
      this.memoryWaiters.push(waiter);
    });
  }

  private release(sizeBytes: number): void {
    this.bufferedBytes -= sizeBytes;
    if (this.bufferedBytes < 0) throw new Error('invariant: producer buffered bytes went negative');
    if (this.memoryWaiters.length > 0) this.wakeMemoryWaiters();
  }

  private wakeMemoryWaiters(): void {
    // FIFO: a large waiter at the head is not overtaken by small ones, so nobody starves. Memory
    // is reserved here, before the waiter runs, so two wakers cannot hand out the same bytes.
    for (let head = this.memoryWaiters[0]; head !== undefined && this.bufferedBytes + head.sizeBytes <= this.bufferMemoryBytes; head = this.memoryWaiters[0]) {
      this.memoryWaiters.shift();
      this.bufferedBytes += head.sizeBytes;
      head.wake();
    }
  }
}
