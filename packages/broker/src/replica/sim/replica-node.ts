// The simulated broker's driver for one partition: it owns the log and the network side, feeds facts
// to the pure PartitionState and acts on its outbox, exactly as the real driver will (leader: answer
// fetches and OffsetsForLeaderEpoch, append produce batches, send AlterPartition; follower: truncate
// by leader epoch, then fetch and report the flushed offset).

import type { ErrorCodeName } from '@runnel/protocol';
import { endOffsetForEpoch, truncationStep } from '../core/leader-epoch.js';
import { PartitionState } from '../core/partition-state.js';
import type { FlushPolicy } from '../core/types.js';
import { NO_LEADER } from '../core/types.js';
import { CONTROLLER_ID, PRODUCER_ID } from './messages.js';
import type { Envelope, PartitionMetadata, SimMessage } from './messages.js';
import type { Prng } from './prng.js';
import { SimLog } from './sim-log.js';
import type { CrashOutcome } from './sim-log.js';

export interface NodeTimings {
  replicaLagTimeMaxMs: number;
  fetchTimeoutMs: number;
  longPollMs: number;
  retryBackoffMs: number;
  alterPartitionTimeoutMs: number;
  produceTimeoutMs: number;
  fetchRecordsMax: number;
}

export interface NodeContext {
  nowMs(): number;
  send(from: number, fromIncarnation: number, to: number, message: SimMessage): void;
  /** The leader of `leaderEpoch` published a new high watermark over its log. */
  onLeaderHighWatermark(nodeId: number, leaderEpoch: number, highWatermark: number, log: SimLog): void;
  trace(line: string): void;
  readonly flushPolicy: FlushPolicy;
  readonly minInsyncReplicas: number;
  readonly timings: NodeTimings;
  readonly stats: { truncatedRecords: number; epochRounds: number; outOfRangeFetches: number };
}

type FollowerPhase = 'idle' | 'truncating' | 'fetching';

export class ReplicaNode {
  readonly log = new SimLog();
  incarnation = 0;
  up = true;
  core: PartitionState;

  private phase: FollowerPhase = 'idle';
  private nextRequestId = 1;
  private fetchInFlight: { fetchId: number; sentAtMs: number } | undefined;
  private epochRequestInFlight: { requestId: number; sentAtMs: number } | undefined;
  private nextAttemptAtMs = 0;
  private alterInFlight: { requestId: number; sentAtMs: number } | undefined;
  private readonly produces = new Map<number, { produceId: number; payload: string; offset: number }>();
  private nextProduceRequestId = 1;

  constructor(
    readonly id: number,
    private readonly ctx: NodeContext,
  ) {
    this.core = this.openPartition();
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  crash(prng: Prng): CrashOutcome {
    const outcome = this.log.crash(prng);
    this.up = false;
    this.resetVolatile();
    this.ctx.trace(`node ${this.id}: CRASH (lost ${outcome.lostRecords} unflushed, torn=${outcome.torn}), log end ${this.log.readableLength()}`);
    return outcome;
  }

  restart(): void {
    this.log.recover();
    this.incarnation++;
    this.up = true;
    this.resetVolatile();
    this.core = this.openPartition();
    this.ctx.trace(`node ${this.id}: restart #${this.incarnation}, log end ${this.log.logEndOffset}, hw ${this.core.highWatermark}`);
  }

  flush(): void {
    this.log.flush(this.core.highWatermark);
    this.core.onLocalFlush(this.log.logEndOffset);
    this.drain();
  }

  tick(): void {
    const now = this.ctx.nowMs();
    const t = this.ctx.timings;
    this.core.tick(now);
    if (this.alterInFlight !== undefined && now - this.alterInFlight.sentAtMs > t.alterPartitionTimeoutMs) {
      const requestId = this.alterInFlight.requestId;
      this.alterInFlight = undefined;
      this.core.onIsrChangeRejected('REQUEST_TIMED_OUT', requestId);
    }
    if (this.phase === 'truncating') {
      const timedOut = this.epochRequestInFlight !== undefined && now - this.epochRequestInFlight.sentAtMs > t.fetchTimeoutMs;
      if (timedOut || (this.epochRequestInFlight === undefined && now >= this.nextAttemptAtMs)) this.sendEpochRequest(this.log.latestEpoch());
    } else if (this.phase === 'fetching') {
      const timedOut = this.fetchInFlight !== undefined && now - this.fetchInFlight.sentAtMs > t.fetchTimeoutMs;
      if (timedOut || (this.fetchInFlight === undefined && now >= this.nextAttemptAtMs)) this.sendFetch();
    }
    this.drain();
  }

  // ---- inbound -----------------------------------------------------------------------------------

  receive(envelope: Envelope): void {
    const message = envelope.message;
    switch (message.type) {
      case 'metadata':
        return this.applyMetadata(message.metadata);
      case 'epoch-request':
        return this.answerEpochRequest(envelope.from, message);
      case 'epoch-response':
        return this.onEpochResponse(message);
      case 'fetch':
        return this.answerFetch(envelope.from, message);
      case 'fetch-response':
        return this.onFetchResponse(message);
      case 'alter-isr-response':
        return this.onAlterPartitionResponse(message);
      case 'produce':
        return this.onProduce(message);
      case 'alter-isr':
      case 'produce-response':
        throw new Error(`node ${this.id} received ${message.type}, which only the controller or producer handles`);
      default: {
        const unhandled: never = message;
        throw new Error(`unhandled message ${JSON.stringify(unhandled)}`);
      }
    }
  }

  private applyMetadata(metadata: PartitionMetadata): void {
    const now = this.ctx.nowMs();
    if (metadata.leaderId === this.id) {
      if (metadata.leaderEpoch > this.core.leaderEpoch || this.core.role === 'none') {
        // Leading an epoch this log already holds would let a restarted broker rewrite offsets its
        // followers have under the same epoch: the controller's re-registration fencing must prevent it.
        if (metadata.leaderEpoch <= this.log.latestEpoch()) {
          throw new Error(`node ${this.id} asked to lead epoch ${metadata.leaderEpoch}, but its log already has epoch ${this.log.latestEpoch()}`);
        }
      }
      const change = this.core.becomeLeader(metadata, this.log.logEndOffset, now);
      if (change.kind === 'new-epoch') {
        this.log.assignLeaderEpoch(metadata.leaderEpoch);
        this.phase = 'idle';
        this.fetchInFlight = undefined;
        this.epochRequestInFlight = undefined;
        this.ctx.trace(`node ${this.id}: LEADER epoch ${metadata.leaderEpoch}, log end ${this.log.logEndOffset}, hw ${this.core.highWatermark}, ISR [${metadata.isr.join(',')}]`);
      }
    } else {
      const change = this.core.becomeFollower(metadata);
      if (change.kind === 'new-epoch') {
        this.alterInFlight = undefined;
        this.fetchInFlight = undefined;
        this.epochRequestInFlight = undefined;
        this.phase = metadata.leaderId === NO_LEADER ? 'idle' : 'truncating';
        this.nextAttemptAtMs = now;
        if (this.phase === 'truncating') this.sendEpochRequest(this.log.latestEpoch());
      }
    }
    this.drain();
  }

  private answerEpochRequest(from: number, message: Extract<SimMessage, { type: 'epoch-request' }>): void {
    const error = this.core.checkLeaderRequest(message.leaderEpoch);
    const answer = error === undefined ? endOffsetForEpoch(this.log.epochCache(), message.requestedEpoch) : { epoch: -1, endOffset: -1 };
    this.reply(from, { type: 'epoch-response', requestId: message.requestId, leaderEpoch: message.leaderEpoch, error: error?.codeName, answer });
  }

  private onEpochResponse(message: Extract<SimMessage, { type: 'epoch-response' }>): void {
    const inFlight = this.epochRequestInFlight;
    if (this.phase !== 'truncating' || inFlight === undefined || inFlight.requestId !== message.requestId) return;
    if (message.leaderEpoch !== this.core.leaderEpoch) return;
    this.epochRequestInFlight = undefined;
    if (message.error !== undefined) {
      this.nextAttemptAtMs = this.ctx.nowMs() + this.ctx.timings.retryBackoffMs;
      return;
    }
    this.ctx.stats.epochRounds++;
    const step = truncationStep(this.log.epochCache(), message.answer, this.core.highWatermark);
    const before = this.log.logEndOffset;
    this.log.truncateTo(step.truncateTo);
    this.core.onLocalTruncate(this.log.logEndOffset);
    if (before > this.log.logEndOffset) {
      this.ctx.stats.truncatedRecords += before - this.log.logEndOffset;
      this.ctx.trace(`node ${this.id}: truncated ${before} -> ${this.log.logEndOffset} (leader answer epoch ${message.answer.epoch} end ${message.answer.endOffset})`);
    }
    if (step.kind === 'done') {
      this.phase = 'fetching';
      this.sendFetch();
    } else {
      this.sendEpochRequest(step.nextEpochToAsk);
    }
    this.drain();
  }

  private answerFetch(from: number, message: Extract<SimMessage, { type: 'fetch' }>): void {
    const admission = this.core.onFollowerFetch(message.replicaId, message.fetchOffset, message.flushedOffset, message.leaderEpoch, this.ctx.nowMs());
    // Record the new high watermark before the follower can learn it.
    this.drain();
    if (!admission.ok) {
      this.reply(from, { type: 'fetch-response', fetchId: message.fetchId, leaderEpoch: message.leaderEpoch, fetchOffset: message.fetchOffset, error: admission.error.codeName, records: [], highWatermark: 0 });
      return;
    }
    const records = this.log.slice(message.fetchOffset, message.fetchOffset + this.ctx.timings.fetchRecordsMax);
    this.reply(from, { type: 'fetch-response', fetchId: message.fetchId, leaderEpoch: message.leaderEpoch, fetchOffset: message.fetchOffset, error: undefined, records, highWatermark: admission.highWatermark });
  }

  private onFetchResponse(message: Extract<SimMessage, { type: 'fetch-response' }>): void {
    const inFlight = this.fetchInFlight;
    if (this.phase !== 'fetching' || inFlight === undefined || inFlight.fetchId !== message.fetchId) return;
    this.fetchInFlight = undefined;
    const now = this.ctx.nowMs();
    if (message.leaderEpoch !== this.core.leaderEpoch) return;
    if (message.error !== undefined) {
      this.onFetchError(message.error);
      return;
    }
    if (message.fetchOffset !== this.log.logEndOffset) return;
    for (const record of message.records) this.log.append(record);
    if (message.records.length > 0) this.core.onLocalAppend(this.log.logEndOffset);
    this.core.onLeaderHighWatermark(message.highWatermark);
    this.nextAttemptAtMs = message.records.length > 0 ? now : now + this.ctx.timings.longPollMs;
    this.drain();
  }

  private onFetchError(error: ErrorCodeName): void {
    this.nextAttemptAtMs = this.ctx.nowMs() + this.ctx.timings.retryBackoffMs;
    if (error === 'OFFSET_OUT_OF_RANGE') {
      // Our log is longer than the leader's in the same epoch: find the divergence point again.
      this.ctx.stats.outOfRangeFetches++;
      this.phase = 'truncating';
    }
  }

  private onAlterPartitionResponse(message: Extract<SimMessage, { type: 'alter-isr-response' }>): void {
    if (this.alterInFlight?.requestId === message.requestId) this.alterInFlight = undefined;
    if (message.error === undefined) this.core.onIsrChangeCommitted(message.isr, message.partitionEpoch);
    else this.core.onIsrChangeRejected(message.error, message.requestId);
    this.drain();
  }

  private onProduce(message: Extract<SimMessage, { type: 'produce' }>): void {
    const refuse = (error: ErrorCodeName) =>
      this.reply(PRODUCER_ID, { type: 'produce-response', produceId: message.produceId, error, offset: -1, payload: message.payload });
    const error = this.core.canAcceptAcksAll(this.ctx.minInsyncReplicas);
    if (error !== undefined) return refuse(error.codeName);
    const offset = this.log.logEndOffset;
    this.log.append({ offset, epoch: this.core.leaderEpoch, payload: message.payload });
    this.core.onLocalAppend(this.log.logEndOffset);
    const requestId = this.nextProduceRequestId++;
    this.produces.set(requestId, { produceId: message.produceId, payload: message.payload, offset });
    const completion = this.core.registerProduce(requestId, offset, this.ctx.minInsyncReplicas, this.ctx.nowMs() + this.ctx.timings.produceTimeoutMs);
    if (completion !== undefined) this.answerProduce(completion.requestId, completion.error?.codeName);
    this.drain();
  }

  // ---- outbound ----------------------------------------------------------------------------------

  private drain(): void {
    if (!this.up) return;
    const ready = this.core.ready();
    if (ready.highWatermark !== undefined && this.core.role === 'leader') {
      this.ctx.onLeaderHighWatermark(this.id, this.core.leaderEpoch, ready.highWatermark, this.log);
    }
    if (ready.isrChangeRequest !== undefined) {
      this.alterInFlight = { requestId: ready.isrChangeRequest.requestId, sentAtMs: this.ctx.nowMs() };
      this.ctx.send(this.id, this.incarnation, CONTROLLER_ID, { type: 'alter-isr', request: ready.isrChangeRequest });
    }
    for (const completion of ready.produceCompletions) this.answerProduce(completion.requestId, completion.error?.codeName);
  }

  private answerProduce(requestId: number, error: ErrorCodeName | undefined): void {
    const produce = this.produces.get(requestId);
    if (produce === undefined) throw new Error(`node ${this.id}: completion for unknown produce request ${requestId}`);
    this.produces.delete(requestId);
    this.reply(PRODUCER_ID, { type: 'produce-response', produceId: produce.produceId, error, offset: produce.offset, payload: produce.payload });
  }

  private sendEpochRequest(requestedEpoch: number): void {
    const requestId = this.nextRequestId++;
    this.epochRequestInFlight = { requestId, sentAtMs: this.ctx.nowMs() };
    this.ctx.send(this.id, this.incarnation, this.core.leaderId, { type: 'epoch-request', requestId, requestedEpoch, leaderEpoch: this.core.leaderEpoch });
  }

  private sendFetch(): void {
    const fetchId = this.nextRequestId++;
    this.fetchInFlight = { fetchId, sentAtMs: this.ctx.nowMs() };
    this.ctx.send(this.id, this.incarnation, this.core.leaderId, {
      type: 'fetch',
      fetchId,
      replicaId: this.id,
      fetchOffset: this.log.logEndOffset,
      flushedOffset: this.log.flushedOffset,
      leaderEpoch: this.core.leaderEpoch,
    });
  }

  private reply(to: number, message: SimMessage): void {
    this.ctx.send(this.id, this.incarnation, to, message);
  }

  private resetVolatile(): void {
    this.phase = 'idle';
    this.fetchInFlight = undefined;
    this.epochRequestInFlight = undefined;
    this.alterInFlight = undefined;
    this.produces.clear();
  }

  private openPartition(): PartitionState {
    return new PartitionState(
      { localBrokerId: this.id, flushPolicy: this.ctx.flushPolicy, replicaLagTimeMaxMs: this.ctx.timings.replicaLagTimeMaxMs },
      { logEndOffset: this.log.logEndOffset, flushedOffset: this.log.flushedOffset, highWatermark: this.log.checkpointedHighWatermark },
    );
  }
}
