// Kafka's ProducerStateManager for one partition, without transactions: what an idempotent producer
// has written, so a retried batch is recognised and a gap or a fenced producer is refused. Pure and
// synchronous; the log feeds it batch headers and offsets, and rebuilds it from its own batches.
//
// Rules (docs: notes/api2.md "Idempotent producer: broker behaviour"; Kafka's ProducerAppendInfo):
//   producerId -1                                   never checked, never tracked
//   epoch < known epoch                             INVALID_PRODUCER_EPOCH
//   epoch > known epoch, or unknown producer        first sequence must be 0
//   same epoch, (firstSeq, lastSeq) of a cached batch   duplicate: answered with that batch's offsets
//   same epoch otherwise                            firstSeq must be lastSeq + 1 (after 2^31-1 comes 0)
import { assert } from '@runnel/protocol/invariants';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: matches max.in.flight.requests.per.connection (5). */
export const PRODUCER_BATCHES_RETAINED = 5;
export const NO_PRODUCER_ID = -1;
const INT32_MAX = 0x7fffffff;

/** The producer fields of a batch header (what the log reads; records are never decoded). */
export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
  /** Transaction markers carry no sequence: never checked, never tracked. */
  control?: boolean;
}

/** Where a batch landed in the log, and its sequence range. */
export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
  /** The batch's max timestamp as stored (the log append time on LogAppendTime topics). */
  maxTimestampMs: number;
}

export type BatchPlacement = Omit<BatchMetadata, 'firstSeq' | 'lastSeq'>;

export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** The producer's latest batches in this epoch, oldest first, at most PRODUCER_BATCHES_RETAINED. */
  readonly batches: readonly BatchMetadata[];
  /** What producer.id.expiration.ms measures from: the latest batch's timestamp, or when it was appended if later. */
  readonly lastTimestampMs: number;
}

export type ProducerErrorCodeName = 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_RECORD';

export type SequenceVerdict =
  /** producerId -1: the producer is not idempotent. */
  | { kind: 'unchecked' }
  | { kind: 'append' }
  | { kind: 'duplicate'; original: BatchMetadata }
  | { kind: 'refused'; codeName: ProducerErrorCodeName; message: string; details: Record<string, unknown> };

/** Kafka's DefaultRecordBatch.incrementSequence: sequences are int32 and wrap to 0 after 2^31-1. */
export function incrementSequence(sequence: number, increment: number): number {
  return sequence > INT32_MAX - increment ? increment - (INT32_MAX - sequence) - 1 : sequence + increment;
}

export function lastSequenceOf(batch: Pick<ProducerBatch, 'baseSequence' | 'lastOffsetDelta'>): number {
  return incrementSequence(batch.baseSequence, batch.lastOffsetDelta);
}

export function lastBatchOf(entry: ProducerEntry): BatchMetadata | undefined {
  return entry.batches[entry.batches.length - 1];
}

/** The rules above for one batch against what is known of its producer. Pure. */
export function checkBatch(entry: ProducerEntry | undefined, batch: ProducerBatch): SequenceVerdict {
  if (batch.producerId === NO_PRODUCER_ID || batch.control === true) return { kind: 'unchecked' };
  const { producerId, producerEpoch, baseSequence } = batch;
  const lastSeq = lastSequenceOf(batch);
  if (producerId < 0 || producerEpoch < 0 || baseSequence < 0 || baseSequence > INT32_MAX) {
    return refused('INVALID_RECORD', `batch of producer ${producerId} has producer epoch ${producerEpoch} and base sequence ${baseSequence}: both must be set`, batchDetails(batch, lastSeq));
  }
  if (entry !== undefined && producerEpoch < entry.producerEpoch) {
    return refused('INVALID_PRODUCER_EPOCH', `producer ${producerId} wrote with epoch ${producerEpoch}, but epoch ${entry.producerEpoch} has fenced it`, {
      ...batchDetails(batch, lastSeq),
      currentEpoch: entry.producerEpoch,
    });
  }
  if (entry === undefined || producerEpoch > entry.producerEpoch) {
    if (baseSequence === 0) return { kind: 'append' };
    // A new producer or epoch whose first batch is missing: appending this one would let the missing
    // one land after it, so the client must resend from sequence 0 first.
    const what = entry === undefined ? `unknown producer ${producerId}` : `new epoch ${producerEpoch} of producer ${producerId} (was ${entry.producerEpoch})`;
    return refused('OUT_OF_ORDER_SEQUENCE_NUMBER', `${what} must start at sequence 0, got ${baseSequence}`, batchDetails(batch, lastSeq));
  }
  const original = entry.batches.find((cached) => cached.firstSeq === baseSequence && cached.lastSeq === lastSeq);
  if (original !== undefined) return { kind: 'duplicate', original };
  const last = lastBatchOf(entry);
  assert(last !== undefined, `producer ${producerId} is tracked without a batch`);
  const expected = incrementSequence(last.lastSeq, 1);
  if (baseSequence !== expected) {
    return refused('OUT_OF_ORDER_SEQUENCE_NUMBER', `producer ${producerId} epoch ${producerEpoch} sent sequence ${baseSequence}, expected ${expected}`, {
      ...batchDetails(batch, lastSeq),
      expectedSequence: expected,
    });
  }
  return { kind: 'append' };
}

/**
 * The entry after `batch` is placed, with no checks (followers, recovery). `appendTimeMs` is the
 * broker's clock for a live append: Kafka measures expiry from the batch timestamp alone, which a
 * producer whose clock lags would see forget it early, and here that fails its next batch. Pure.
 */
export function withBatch(entry: ProducerEntry | undefined, batch: ProducerBatch, placement: BatchPlacement, appendTimeMs = Number.NEGATIVE_INFINITY): ProducerEntry {
  const metadata: BatchMetadata = { firstSeq: batch.baseSequence, lastSeq: lastSequenceOf(batch), ...placement };
  // A new epoch resets the sequences, so batches of the old one can never match a retry again.
  const kept = entry === undefined || entry.producerEpoch !== batch.producerEpoch ? [] : entry.batches.slice(-(PRODUCER_BATCHES_RETAINED - 1));
  return { producerId: batch.producerId, producerEpoch: batch.producerEpoch, batches: [...kept, metadata], lastTimestampMs: Math.max(placement.maxTimestampMs, appendTimeMs) };
}

function batchDetails(batch: ProducerBatch, lastSequence: number): Record<string, unknown> {
  return { producerId: batch.producerId, producerEpoch: batch.producerEpoch, firstSequence: batch.baseSequence, lastSequence };
}

function refused(codeName: ProducerErrorCodeName, message: string, details: Record<string, unknown>): SequenceVerdict {
  return { kind: 'refused', codeName, message, details };
}

/**
 * The producer state of one partition. The leader checks a request's batches through an
 * all-or-nothing ProducerAppend; followers and recovery record batches as they are.
 */
export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();

  get producerCount(): number {
    return this.producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  /** Starts checking one request's batches; nothing changes until `commit`. */
  beginAppend(): ProducerAppend {
    return new ProducerAppend(this);
  }

  /** Records a batch without checks (a follower copies the leader, recovery replays the log). */
  update(batch: ProducerBatch, placement: BatchPlacement, appendTimeMs?: number): void {
    if (batch.producerId < 0 || batch.control === true) return;
    this.producers.set(batch.producerId, withBatch(this.producers.get(batch.producerId), batch, placement, appendTimeMs));
  }

  /** Used by ProducerAppend.commit: entries it already derived from the current ones. */
  put(entry: ProducerEntry): void {
    assert(entry.batches.length <= PRODUCER_BATCHES_RETAINED, `producer ${entry.producerId} caches ${entry.batches.length} batches`);
    this.producers.set(entry.producerId, entry);
  }

  clear(): void {
    this.producers.clear();
  }

  /**
   * Kafka's producer.id.expiration.ms: forgets producers whose latest batch timestamp is that old,
   * which bounds the state by recent producers. Returns how many were removed.
   */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      if (nowMs - entry.lastTimestampMs >= expirationMs) {
        this.producers.delete(producerId);
        removed++;
      }
    }
    return removed;
  }
}

/**
 * Kafka's ProducerAppendInfo: one leader request's batches checked in order, each against the
 * state as the earlier batches of the same request leave it, so a request either applies whole
 * (`commit` after the write) or not at all (dropped).
 */
export class ProducerAppend {
  private readonly pending = new Map<number, ProducerEntry>();
  private committed = false;

  constructor(private readonly state: ProducerStateManager) {}

  private current(producerId: number): ProducerEntry | undefined {
    return this.pending.get(producerId) ?? this.state.entry(producerId);
  }

  check(batch: ProducerBatch): SequenceVerdict {
    return checkBatch(this.current(batch.producerId), batch);
  }

  /** Records a batch the caller checked ('append') and placed at these offsets. */
  record(batch: ProducerBatch, placement: BatchPlacement, appendTimeMs?: number): void {
    assert(!this.committed, 'producer append already committed');
    if (batch.producerId < 0 || batch.control === true) return;
    this.pending.set(batch.producerId, withBatch(this.current(batch.producerId), batch, placement, appendTimeMs));
  }

  commit(): void {
    assert(!this.committed, 'producer append committed twice');
    this.committed = true;
    for (const entry of this.pending.values()) this.state.put(entry);
  }
}
