import { RunnelError } from '@runnel/protocol';
import type { ErrorCodeName } from '@runnel/protocol';
import { assert } from './assert.js';
import type { ProduceCompletion } from './types.js';

interface PendingProduce {
  requestId: number;
  lastOffset: number;
  minInsyncReplicas: number;
  deadlineMs: number | undefined;
}

/**
 * acks=all produce requests appended to the leader's log and waiting for the high watermark to
 * cover them (Kafka's DelayedProduce purgatory, reduced to its decision). Bounded: the driver asks
 * hasRoom() before appending, so a flood of producers gets back-pressure instead of unbounded memory.
 */
export class ProducePurgatory {
  private readonly pending = new Map<number, PendingProduce>();

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, `produce purgatory capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.pending.size;
  }

  hasRoom(): boolean {
    return this.pending.size < this.capacity;
  }

  add(requestId: number, lastOffset: number, minInsyncReplicas: number, deadlineMs: number | undefined): void {
    assert(!this.pending.has(requestId), `produce request ${requestId} registered twice`);
    assert(this.hasRoom(), 'produce purgatory is full');
    this.pending.set(requestId, { requestId, lastOffset, minInsyncReplicas, deadlineMs });
  }

  /**
   * Completes every request the high watermark now covers. Like Kafka, a request covered while the
   * ISR is below its min.insync.replicas is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND: the record is
   * in the log, but on fewer replicas than the producer asked for.
   */
  completeCovered(highWatermark: number, isrSize: number): ProduceCompletion[] {
    const done: ProduceCompletion[] = [];
    for (const request of this.pending.values()) {
      if (request.lastOffset >= highWatermark) continue;
      this.pending.delete(request.requestId);
      done.push({ requestId: request.requestId, lastOffset: request.lastOffset, error: afterAppendError(request, isrSize) });
    }
    return done;
  }

  expire(nowMs: number): ProduceCompletion[] {
    return this.failWhere(
      (request) => request.deadlineMs !== undefined && nowMs >= request.deadlineMs,
      'REQUEST_TIMED_OUT',
      (request) => `record at offset ${request.lastOffset} was appended but not replicated to the ISR before the request deadline`,
    );
  }

  failAll(codeName: ErrorCodeName, message: string): ProduceCompletion[] {
    return this.failWhere(() => true, codeName, () => message);
  }

  private failWhere(
    predicate: (request: PendingProduce) => boolean,
    codeName: ErrorCodeName,
    message: (request: PendingProduce) => string,
  ): ProduceCompletion[] {
    const done: ProduceCompletion[] = [];
    for (const request of this.pending.values()) {
      if (!predicate(request)) continue;
      this.pending.delete(request.requestId);
      done.push({
        requestId: request.requestId,
        lastOffset: request.lastOffset,
        error: new RunnelError(codeName, message(request), { details: { lastOffset: request.lastOffset } }),
      });
    }
    return done;
  }
}

export function afterAppendError(request: { lastOffset: number; minInsyncReplicas: number }, isrSize: number): RunnelError | undefined {
  if (isrSize >= request.minInsyncReplicas) return undefined;
  return new RunnelError(
    'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
    `record at offset ${request.lastOffset} is written, but the ISR shrank to ${isrSize} replica(s), below min.insync.replicas=${request.minInsyncReplicas}`,
    { details: { lastOffset: request.lastOffset, isrSize, minInsyncReplicas: request.minInsyncReplicas } },
  );
}
