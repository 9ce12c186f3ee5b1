// A consumer of partitions, assigned by hand (assign) or by a consumer group (subscribe with a
// groupId). One fetch loop long-polls the leaders of the assigned partitions, decodes whole batches,
// drops records below the requested offset, and fills a bounded buffer that run() handlers or
// `for await` drain in order. In a group, what a handler finished is what gets committed, and a
// revoked partition is handed back only after its handler returned (group/group-session.ts).

import { EventEmitter } from 'node:events';
import { RunnelError, decodeRecordBatch, iterateBatches } from '@runnel/protocol';
import type { DecodedRecord } from '@runnel/protocol';
import type { Cluster } from './cluster.js';
import { Notifier } from './notifier.js';
import { asRunnelError, backoffMs } from './retry.js';
import { GroupSession } from './group/group-session.js';
import type { GroupConsumerHost } from './group/group-session.js';
import { GrpcGroupTransport } from './group/group-transport.js';
import { SerdeRegistry } from './serde.js';
import type { SerdeConfig } from './serde.js';
import type { TopicPartition } from './group/membership.js';

/** Consumer settings. */
export interface ConsumerOptions<K = Buffer, V = Buffer> {
  /**
   * Serdes for keys and values (defaults and per topic): messages then carry K and V. A record the
   * serde refuses stops the consumer with that error ('crash'). Without, keys and values are Buffers.
   */
  serde?: SerdeConfig<K, V>;
  /** Joins this consumer group on subscribe(): the coordinator assigns partitions and keeps the committed offsets. */
  groupId?: string;
  /** In a group: where a partition without a committed offset starts (true: the beginning). Default false (autoOffsetReset). */
  fromBeginning?: boolean;
  /** In a group: commit what handlers finished every autoCommitIntervalMs, on revocation and on close. Default true. */
  autoCommit?: boolean;
  /** Default 5 000 ms. */
  autoCommitIntervalMs?: number;
  /** In a group: a member silent this long loses its partitions to the others. Default 10 000 ms. */
  sessionTimeoutMs?: number;
  /** In a group: how long this member may take to give back a revoked partition. Default 60 000 ms. */
  rebalanceTimeoutMs?: number;
  /** In a group: called, and awaited, before revoked partitions are committed and handed over. */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** In a group: called once newly assigned partitions start fetching. */
  onPartitionsAssigned?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Long-poll bound of one fetch. Default 500 ms. */
  maxWaitMs?: number;
  /** The broker answers once this many bytes are available (or maxWaitMs passed). Default 1. */
  minBytes?: number;
  /** Bound on one fetch response. Default 10 MiB. */
  maxBytes?: number;
  /** Bound per partition in one fetch. Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Where to go when the position is unknown or out of range. Default 'latest'. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** The fetch loop pauses while this many messages wait for the handler. Default 10 000. */
  maxBufferedMessages?: number;
  /**
   * How long one partition may keep failing with retriable errors (its leader moved or died, lost
   * connections, timeouts) while the consumer refreshes metadata and backs off, before it stops with
   * a typed REQUEST_TIMED_OUT naming the partition and the last error. Default 120 000 ms, the
   * producer's deliveryTimeoutMs: a failover takes seconds, so this only ends a consumer whose
   * partition stays unreachable.
   */
  retryTimeoutMs?: number;
}

/** A partition to read and where to start. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** First offset to read; default: per `fromBeginning`, else autoOffsetReset. */
  offset?: number;
}

/** Header values as received; a repeated key gives an array. */
export type ConsumedHeaders = Record<string, Buffer | null | Array<Buffer | null>>;

/** A record as the consumer delivers it; K and V are Buffers unless the consumer has serdes. */
export interface ConsumedMessage<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  offset: number;
  key: K | null;
  value: V | null;
  headers: ConsumedHeaders;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** What eachMessage receives. */
export interface EachMessagePayload<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  message: ConsumedMessage<K, V>;
}

/** What eachBatch receives: consecutive messages of one partition. */
export interface EachBatchPayload<K = Buffer, V = Buffer> {
  batch: { topic: string; partition: number; highWatermark: number; messages: ConsumedMessage<K, V>[] };
}

/** Handlers of {@link Consumer.run}; give exactly one. */
export interface RunOptions<K = Buffer, V = Buffer> {
  eachMessage?: (payload: EachMessagePayload<K, V>) => Promise<void>;
  eachBatch?: (payload: EachBatchPayload<K, V>) => Promise<void>;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to fetch; -1 while it must be looked up with `reset`. */
  fetchOffset: number;
  reset: 'earliest' | 'latest';
  paused: boolean;
  /** Bumped by seek/pause so fetch answers for an older position are dropped. */
  generation: number;
  retryAtMs: number;
  attempts: number;
  highWatermark: number;
  /** When the current run of retriable failures began; -1 while the partition is healthy. */
  failingSinceMs: number;
  lastError: RunnelError | null;
}

const DEFAULTS = {
  maxWaitMs: 500,
  minBytes: 1,
  maxBytes: 10 * 1024 * 1024,
  maxBytesPerPartition: 1024 * 1024,
  maxBufferedMessages: 10_000,
  retryTimeoutMs: 120_000,
  autoCommitIntervalMs: 5_000,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 60_000,
};

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * A KafkaJS-like consumer, of a group or of partitions assigned by hand. Obtain one with
 * `runnel.consumer(options)`. Events: 'connect', 'disconnect', 'crash' (error: a handler threw or a
 * non-retriable error stopped it), and in a group 'group.assigned', 'group.revoked', 'group.lost'
 * ({ groupId, partitions }) and 'group.commit' ({ groupId, offsets }).
 */
export class Consumer<K = Buffer, V = Buffer> extends EventEmitter {
  private readonly cluster: Cluster;
  private readonly maxWaitMs: number;
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly maxBytesPerPartition: number;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private readonly maxBufferedMessages: number;
  private readonly retryTimeoutMs: number;
  private readonly partitions = new Map<string, PartitionState>();
  private buffer: ConsumedMessage[] = [];
  private readonly dataArrived = new Notifier();
  /** One fetch at most per leader broker; each runs on its own, so a leader with nothing new (a long poll) never holds up the others. */
  private readonly fetchesInFlight = new Map<number, Promise<void>>();
  /** Partitions inside a fetch in flight: never asked for twice at once. */
  private readonly partitionsInFlight = new Set<PartitionState>();
  private readonly spaceFreed = new Notifier();
  private fetchLoop: Promise<void> | null = null;
  private deliveryLoop: Promise<void> | null = null;
  private running = false;
  private metadataRefresh: Promise<void> | null = null;
  private abort = new AbortController();
  /** The error that stopped the consumer, if any. */
  crashError: Error | null = null;
  private readonly options: ConsumerOptions<K, V>;
  private readonly serdes: SerdeRegistry | undefined;
  private group: { session: GroupSession; transport: GrpcGroupTransport } | undefined;
  /** The partition whose message (or batch) a handler is processing, and when it is done. */
  private delivering: { key: string; done: Promise<void> } | undefined;

  /** @internal Use `runnel.consumer()`. */
  constructor(cluster: Cluster, options: ConsumerOptions<K, V> = {}) {
    super();
    this.cluster = cluster;
    this.options = options;
    this.serdes = options.serde === undefined ? undefined : new SerdeRegistry(options.serde as SerdeConfig);
    this.maxWaitMs = options.maxWaitMs ?? DEFAULTS.maxWaitMs;
    this.minBytes = options.minBytes ?? DEFAULTS.minBytes;
    this.maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
    this.maxBytesPerPartition = options.maxBytesPerPartition ?? DEFAULTS.maxBytesPerPartition;
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    this.maxBufferedMessages = options.maxBufferedMessages ?? DEFAULTS.maxBufferedMessages;
    this.retryTimeoutMs = options.retryTimeoutMs ?? DEFAULTS.retryTimeoutMs;
    for (const [name, value] of Object.entries({ maxWaitMs: this.maxWaitMs, minBytes: this.minBytes, maxBytes: this.maxBytes, maxBytesPerPartition: this.maxBytesPerPartition, maxBufferedMessages: this.maxBufferedMessages, retryTimeoutMs: this.retryTimeoutMs })) {
      if (!Number.isInteger(value) || value < 0 || (name !== 'maxWaitMs' && value === 0)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    if (this.autoOffsetReset !== 'earliest' && this.autoOffsetReset !== 'latest') throw new RangeError(`autoOffsetReset must be 'earliest' or 'latest'`);
    for (const name of ['autoCommitIntervalMs', 'sessionTimeoutMs', 'rebalanceTimeoutMs'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    if (options.groupId !== undefined && (typeof options.groupId !== 'string' || options.groupId === '')) throw new RangeError('groupId must be a non-empty string');
  }

  /**
   * Joins the consumer group (the `groupId` option) with these topics: names, or RegExps matched
   * against every topic (also topics created later). The coordinator assigns partitions; each starts
   * at the group's committed offset, or per `fromBeginning` / autoOffsetReset when none.
   */
  subscribe(subscription: { topics: Array<string | RegExp>; fromBeginning?: boolean }): void {
    const groupId = this.options.groupId;
    if (groupId === undefined) throw new RangeError('subscribe() needs the groupId option; without a group, use assign()');
    if (this.group === undefined) {
      const transport = new GrpcGroupTransport(this.cluster);
      const host: GroupConsumerHost = {
        addPartitions: (partitions) => this.addPartitions(partitions, subscription.fromBeginning ?? this.options.fromBeginning === true),
        removePartitions: (partitions) => this.removePartitions(partitions),
        fail: (error) => this.crash(error),
        emit: (event, payload) => {
          this.emit(event, payload);
        },
      };
      const session = new GroupSession(this.cluster, transport, host, {
        groupId,
        clientId: this.cluster.options.clientId,
        sessionTimeoutMs: this.options.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs ?? DEFAULTS.rebalanceTimeoutMs,
        autoCommit: this.options.autoCommit ?? true,
        autoCommitIntervalMs: this.options.autoCommitIntervalMs ?? DEFAULTS.autoCommitIntervalMs,
        ...(this.options.onPartitionsRevoked === undefined ? {} : { onPartitionsRevoked: this.options.onPartitionsRevoked }),
        ...(this.options.onPartitionsAssigned === undefined ? {} : { onPartitionsAssigned: this.options.onPartitionsAssigned }),
      });
      this.group = { session, transport };
    }
    this.group.session.subscribe({ topics: subscription.topics });
  }

  /**
   * Commits offsets to the group: the given ones (the next offset to read, as in Kafka), or by
   * default everything handlers have finished. Needs a group.
   */
  async commitOffsets(offsets?: Array<{ topic: string; partition: number; offset: number | string }>): Promise<void> {
    if (this.group === undefined) throw new RangeError('commitOffsets() needs a group: give groupId and subscribe()');
    await this.group.session.commitOffsets(offsets?.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })));
  }

  /** The member id the group coordinator gave this consumer ('' before joining or without a group). */
  get memberId(): string {
    return this.group?.session.member.memberId ?? '';
  }

  private addPartitions(partitions: Array<TopicPartition & { offset?: number }>, fromBeginning: boolean): void {
    const reset = fromBeginning ? 'earliest' : this.autoOffsetReset;
    for (const p of partitions) {
      const key = partitionKey(p.topic, p.partition);
      if (this.partitions.has(key)) continue;
      this.partitions.set(key, newPartitionState(p.topic, p.partition, p.offset ?? -1, reset));
    }
    this.dataArrived.notify();
  }

  /** Stops fetching `partitions`, drops what is buffered of them, and waits for a handler still on one. */
  private async removePartitions(partitions: readonly TopicPartition[]): Promise<void> {
    const keys = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)));
    for (const key of keys) {
      const state = this.partitions.get(key);
      if (state === undefined) continue;
      this.dropBuffered(state);
      this.partitions.delete(key);
    }
    const current = this.delivering;
    if (current !== undefined && keys.has(current.key)) await current.done;
  }

  /** Discovers the cluster. */
  async connect(): Promise<void> {
    await this.cluster.retry(() => this.cluster.refreshMetadata(), { operation: 'connect' });
    this.emit('connect');
  }

  /**
   * Replaces the assignment. Partitions without an offset start at the beginning with
   * `fromBeginning`, otherwise where autoOffsetReset says.
   */
  assign(assignments: TopicPartitionOffset[], options: { fromBeginning?: boolean } = {}): void {
    if (this.group !== undefined) throw new RangeError('assign() cannot be used by a consumer that subscribed to a group');
    const reset = options.fromBeginning === true ? 'earliest' : this.autoOffsetReset;
    this.partitions.clear();
    this.buffer = [];
    for (const a of assignments) {
      if (!(Number.isInteger(a.partition) && a.partition >= 0)) throw new RangeError(`partition must be a non-negative integer, got ${a.partition}`);
      if (a.offset !== undefined && !(Number.isInteger(a.offset) && a.offset >= 0)) throw new RangeError(`offset must be a non-negative integer, got ${a.offset}`);
      this.partitions.set(partitionKey(a.topic, a.partition), newPartitionState(a.topic, a.partition, a.offset ?? -1, reset));
    }
    this.dataArrived.notify();
  }

  /** The current assignment. */
  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.partitions.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /** Moves an assigned partition's position; buffered messages of it are dropped. */
  seek(target: { topic: string; partition: number; offset: number | string }): void {
    const state = this.requireAssigned(target.topic, target.partition);
    const offset = Number(target.offset);
    if (!(Number.isInteger(offset) && offset >= 0)) throw new RangeError(`offset must be a non-negative integer, got ${String(target.offset)}`);
    this.dropBuffered(state);
    state.fetchOffset = offset;
    this.dataArrived.notify();
  }

  /** Stops fetching the given partitions (all of a topic when `partitions` is omitted). */
  pause(topics: Array<{ topic: string; partitions?: number[] }>): void {
    for (const state of this.matching(topics)) {
      if (state.paused) continue;
      state.paused = true;
      // Rewind to the first undelivered message so resume() continues exactly there.
      const firstBuffered = this.buffer.find((m) => m.topic === state.topic && m.partition === state.partition);
      this.dropBuffered(state);
      if (firstBuffered !== undefined) state.fetchOffset = firstBuffered.offset;
    }
  }

  /** Resumes paused partitions. */
  resume(topics: Array<{ topic: string; partitions?: number[] }>): void {
    for (const state of this.matching(topics)) state.paused = false;
    this.dataArrived.notify();
  }

  /** Paused partitions. */
  paused(): Array<{ topic: string; partition: number }> {
    return [...this.partitions.values()].filter((p) => p.paused).map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  private matching(topics: Array<{ topic: string; partitions?: number[] }>): PartitionState[] {
    const out: PartitionState[] = [];
    for (const t of topics) {
      for (const state of this.partitions.values()) {
        if (state.topic === t.topic && (t.partitions === undefined || t.partitions.includes(state.partition))) out.push(state);
      }
    }
    return out;
  }

  private requireAssigned(topic: string, partition: number): PartitionState {
    const state = this.partitions.get(partitionKey(topic, partition));
    if (state === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} is not assigned to this consumer`, { details: { topic, partition } });
    return state;
  }

  private dropBuffered(state: PartitionState): void {
    state.generation++;
    this.buffer = this.buffer.filter((m) => m.topic !== state.topic || m.partition !== state.partition);
    this.spaceFreed.notify();
  }

  /**
   * Starts fetching and delivering to the handler; resolves once started (like KafkaJS). A
   * handler that throws stops the consumer and is reported with the 'crash' event.
   */
  async run(options: RunOptions<K, V>): Promise<void> {
    if ((options.eachMessage === undefined) === (options.eachBatch === undefined)) throw new TypeError('run() needs exactly one of eachMessage and eachBatch');
    if (this.deliveryLoop !== null) throw new Error('the consumer is already running');
    this.start();
    this.deliveryLoop = this.deliver(options).catch((error: unknown) => this.crash(error));
  }

  /** The message as the application sees it: through the serdes, if any. */
  private decoded(message: ConsumedMessage): ConsumedMessage<K, V> {
    if (this.serdes === undefined) return message as unknown as ConsumedMessage<K, V>;
    return {
      ...message,
      key: this.serdes.deserializeKey(message.topic, message.key) as K | null,
      value: this.serdes.deserializeValue(message.topic, message.value) as V | null,
    };
  }

  private async deliver(options: RunOptions<K, V>): Promise<void> {
    while (this.running) {
      const first = this.buffer[0];
      if (first === undefined) {
        await this.dataArrived.wait(this.maxWaitMs);
        continue;
      }
      if (options.eachBatch !== undefined) {
        let count = 0;
        while (count < this.buffer.length && this.buffer[count]?.topic === first.topic && this.buffer[count]?.partition === first.partition) count++;
        const messages = this.buffer.splice(0, count);
        this.spaceFreed.notify();
        const state = this.partitions.get(partitionKey(first.topic, first.partition));
        const last = messages[messages.length - 1] as ConsumedMessage;
        await this.handle(first, last.offset + 1, () =>
          options.eachBatch?.({ batch: { topic: first.topic, partition: first.partition, highWatermark: state?.highWatermark ?? -1, messages: messages.map((m) => this.decoded(m)) } }));
      } else if (options.eachMessage !== undefined) {
        this.buffer.shift();
        this.spaceFreed.notify();
        await this.handle(first, first.offset + 1, () => options.eachMessage?.({ topic: first.topic, partition: first.partition, message: this.decoded(first) }));
      }
    }
  }

  /**
   * Runs one handler call for `message`'s partition; while it runs, a revocation of that partition
   * waits for it. Once it returns, messages below `nextOffset` count as processed (committable).
   */
  private async handle(message: ConsumedMessage, nextOffset: number, run: () => Promise<void> | undefined): Promise<void> {
    const key = partitionKey(message.topic, message.partition);
    let finish: () => void = () => undefined;
    this.delivering = { key, done: new Promise<void>((resolve) => (finish = resolve)) };
    try {
      await run();
      // Also when a revocation is waiting for this handler: it commits only after we return. (The
      // session ignores partitions it lost: another member may own them already.)
      this.group?.session.markProcessed(message.topic, message.partition, nextOffset);
    } finally {
      this.delivering = undefined;
      finish();
    }
  }

  /**
   * Reads messages with `for await`; the loop ends when the consumer is stopped. A message counts
   * as processed (committable in a group) when the loop asks for the next one.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedMessage<K, V>, void, undefined> {
    this.start();
    while (this.running) {
      const message = this.buffer.shift();
      if (message === undefined) {
        await this.dataArrived.wait(this.maxWaitMs);
        continue;
      }
      this.spaceFreed.notify();
      const key = partitionKey(message.topic, message.partition);
      let finish: () => void = () => undefined;
      this.delivering = { key, done: new Promise<void>((resolve) => (finish = resolve)) };
      try {
        yield this.decoded(message);
        this.group?.session.markProcessed(message.topic, message.partition, message.offset + 1);
      } finally {
        this.delivering = undefined;
        finish();
      }
    }
    if (this.crashError !== null) throw this.crashError;
  }

  private start(): void {
    if (this.running) return;
    if (this.crashError !== null) throw this.crashError;
    this.running = true;
    this.abort = new AbortController();
    this.fetchLoop = this.fetchForever().catch((error: unknown) => this.crash(error));
  }

  private crash(error: unknown): void {
    const failure = error instanceof Error ? error : asRunnelError(error);
    this.crashError ??= failure;
    this.running = false;
    this.abort.abort();
    this.dataArrived.notify();
    this.spaceFreed.notify();
    this.cluster.logger.error({ err: failure }, 'consumer stopped by an error');
    this.emit('crash', failure);
  }

  /** Stops fetching and delivery; resolves when both loops have ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.dataArrived.notify();
    this.spaceFreed.notify();
    await Promise.all([this.fetchLoop, this.deliveryLoop]);
    this.fetchLoop = null;
    this.deliveryLoop = null;
  }

  /**
   * Stops the consumer. In a group it first finishes the handler in flight, commits what was
   * processed (with autoCommit) and leaves the group, so its partitions move to the other members
   * at once. Channels belong to the Runnel instance.
   */
  async close(): Promise<void> {
    const group = this.group;
    if (group !== undefined) {
      try {
        await group.session.close();
      } finally {
        group.transport.close();
      }
    }
    await this.stop();
    this.emit('disconnect');
  }

  /** The same as close(), named as in KafkaJS. */
  async disconnect(): Promise<void> {
    await this.close();
  }

  private async fetchForever(): Promise<void> {
    while (this.running) {
      if (this.buffer.length >= this.maxBufferedMessages) {
        await this.spaceFreed.wait(this.maxWaitMs);
        continue;
      }
      await this.resolveOffsets();
      const nowMs = this.cluster.options.clock.nowMs();
      const byLeader = new Map<number, PartitionState[]>();
      let needMetadata = false;
      let nextRetryMs = Number.POSITIVE_INFINITY;
      for (const state of this.partitions.values()) {
        if (state.paused || this.partitionsInFlight.has(state)) continue;
        if (state.fetchOffset < 0) {
          // Still to be looked up: wake in time for its retry rather than a whole maxWaitMs later.
          nextRetryMs = Math.min(nextRetryMs, Math.max(state.retryAtMs, nowMs));
          continue;
        }
        if (state.retryAtMs > nowMs) {
          nextRetryMs = Math.min(nextRetryMs, state.retryAtMs);
          continue;
        }
        const leader = this.cluster.leaderOf(state.topic, state.partition);
        if (leader < 0) {
          needMetadata = true;
          this.onPartitionError(state, leaderUnknown(state));
          continue;
        }
        const list = byLeader.get(leader) ?? [];
        list.push(state);
        byLeader.set(leader, list);
      }
      if (needMetadata) await this.refreshMetadata();
      for (const [leader, states] of byLeader) {
        if (this.fetchesInFlight.has(leader)) continue;
        for (const state of states) this.partitionsInFlight.add(state);
        const fetch = this.fetchFrom(leader, states).finally(() => {
          this.fetchesInFlight.delete(leader);
          for (const state of states) this.partitionsInFlight.delete(state);
        });
        this.fetchesInFlight.set(leader, fetch);
      }
      const waitMs = Math.min(this.maxWaitMs, Math.max(1, nextRetryMs - nowMs));
      // Loop again as soon as any leader's fetch finishes (to send it the next one), or on a seek,
      // assignment or resume, or when a partition's retry is due.
      await Promise.race([...this.fetchesInFlight.values(), this.dataArrived.wait(waitMs)]);
    }
    await Promise.allSettled([...this.fetchesInFlight.values()]);
  }

  private backOff(state: PartitionState, nowMs: number): void {
    state.attempts++;
    state.retryAtMs = nowMs + backoffMs(this.cluster.options.retry, Math.min(state.attempts - 1, 20), this.cluster.options.random);
  }

  private async refreshMetadata(): Promise<void> {
    this.metadataRefresh ??= this.cluster
      .refreshMetadata([...new Set([...this.partitions.values()].map((p) => p.topic))])
      .catch((error: unknown) => {
        this.cluster.logger.warn({ codeName: asRunnelError(error).codeName }, 'consumer metadata refresh failed; retrying with backoff');
      })
      .finally(() => {
        this.metadataRefresh = null;
      });
    await this.metadataRefresh;
  }

  /** Looks up positions that are unknown (new assignment or out of range) with ListOffsets. */
  private async resolveOffsets(): Promise<void> {
    const unresolved = [...this.partitions.values()].filter((p) => p.fetchOffset < 0 && !p.paused);
    if (unresolved.length === 0) return;
    const nowMs = this.cluster.options.clock.nowMs();
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of unresolved) {
      if (state.retryAtMs > nowMs) continue;
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader < 0) {
        this.onPartitionError(state, leaderUnknown(state));
        await this.refreshMetadata();
        continue;
      }
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), state]);
    }
    await Promise.all([...byLeader].map(([leader, states]) => this.listOffsetsFrom(leader, states)));
  }

  private async listOffsetsFrom(leader: number, states: PartitionState[]): Promise<void> {
    const generations = states.map((s) => s.generation);
    const topics = groupByTopic(states, (s) => ({ partition: s.partition, currentLeaderEpoch: this.cluster.leaderEpochOf(s.topic, s.partition), timestamp: s.reset === 'earliest' ? -2 : -1 }));
    try {
      const response = await this.cluster.callBroker(leader, 'listOffsets', { replicaId: -1, isolationLevel: 0, topics });
      const results = indexResults(response.topics);
      states.forEach((state, i) => {
        if (state.generation !== generations[i] || state.fetchOffset >= 0) return;
        const result = results.get(partitionKey(state.topic, state.partition));
        if (result === undefined) return this.backOff(state, this.cluster.options.clock.nowMs());
        if (result.errorCode !== 0) return this.onPartitionError(state, RunnelError.fromCode(result.errorCode, result.errorMessage || undefined));
        state.fetchOffset = result.offset;
        this.recovered(state);
        this.cluster.logger.debug({ topic: state.topic, partition: state.partition, offset: result.offset, reset: state.reset }, 'consumer position reset');
      });
    } catch (error) {
      const failure = asRunnelError(error);
      for (const state of states) this.onPartitionError(state, failure);
    }
  }

  private async fetchFrom(leader: number, states: PartitionState[]): Promise<void> {
    const requested = states.map((s) => ({ state: s, offset: s.fetchOffset, generation: s.generation }));
    const topics = groupByTopic(states, (s) => ({
      partition: s.partition,
      // The epoch this consumer believes current (KIP-320): a deposed leader that has not heard yet
      // answers FENCED_LEADER_EPOCH, and a broker behind on metadata UNKNOWN_LEADER_EPOCH, so the
      // consumer refreshes instead of reading from whoever still answers.
      currentLeaderEpoch: this.cluster.leaderEpochOf(s.topic, s.partition),
      fetchOffset: s.fetchOffset,
      lastFetchedEpoch: -1,
      logStartOffset: -1,
      partitionMaxBytes: this.maxBytesPerPartition,
      flushedOffset: -1,
    }));
    const request = { replicaId: -1, replicaEpoch: 0, maxWaitMs: this.maxWaitMs, minBytes: this.minBytes, maxBytes: this.maxBytes, isolationLevel: 0, topics };
    let response;
    try {
      response = await this.cluster.fetch(leader, request, this.maxWaitMs + this.cluster.options.requestTimeoutMs, this.abort.signal);
    } catch (error) {
      if (!this.running) return;
      const failure = asRunnelError(error);
      for (const { state } of requested) this.onPartitionError(state, failure);
      return;
    }
    if (response.errorCode !== 0) {
      const failure = RunnelError.fromCode(response.errorCode);
      for (const { state } of requested) this.onPartitionError(state, failure);
      return;
    }
    const results = indexResults(response.topics);
    for (const { state, offset, generation } of requested) {
      // A seek, pause or reassignment since the request makes its answer stale.
      if (state.generation !== generation || state.fetchOffset !== offset || this.partitions.get(partitionKey(state.topic, state.partition)) !== state) continue;
      const result = results.get(partitionKey(state.topic, state.partition));
      if (result === undefined) continue;
      if (result.errorCode !== 0) {
        this.onPartitionError(state, RunnelError.fromCode(result.errorCode, result.errorMessage || undefined, { details: { topic: state.topic, partition: state.partition, fetchOffset: offset } }));
        continue;
      }
      this.recovered(state);
      state.highWatermark = result.highWatermark;
      this.appendRecords(state, result.records);
    }
  }

  private appendRecords(state: PartitionState, records: Buffer): void {
    let delivered = 0;
    for (const entry of iterateBatches(records, { verifyCrc: false })) {
      // A response may end with a batch cut by maxBytes: the next fetch starts at its offset.
      if (entry.kind !== 'batch') break;
      const lastOffset = entry.header.baseOffset + entry.header.lastOffsetDelta;
      if (lastOffset < state.fetchOffset) continue;
      const batch = decodeRecordBatch(records, entry.position);
      if (!batch.header.attributes.control) {
        for (const record of batch.records) {
          // A fetch returns whole batches, so the first one may start before the position.
          if (record.offset < state.fetchOffset) continue;
          this.buffer.push(toMessage(state, record));
          delivered++;
        }
      }
      state.fetchOffset = lastOffset + 1;
    }
    if (delivered > 0) this.dataArrived.notify();
  }

  private recovered(state: PartitionState): void {
    if (state.failingSinceMs >= 0) {
      this.cluster.logger.info({ topic: state.topic, partition: state.partition, failedForMs: this.cluster.options.clock.nowMs() - state.failingSinceMs, attempts: state.attempts }, 'partition fetching again');
    }
    state.attempts = 0;
    state.failingSinceMs = -1;
    state.lastError = null;
  }

  private onPartitionError(state: PartitionState, error: RunnelError): void {
    if (!this.running) return;
    const nowMs = this.cluster.options.clock.nowMs();
    if (state.failingSinceMs < 0) state.failingSinceMs = nowMs;
    state.lastError = error;
    if (error.codeName === 'OFFSET_OUT_OF_RANGE') {
      this.cluster.logger.info({ topic: state.topic, partition: state.partition, fetchOffset: state.fetchOffset, reset: this.autoOffsetReset }, 'offset out of range; resetting');
      state.fetchOffset = -1;
      state.reset = this.autoOffsetReset;
      return;
    }
    if (!error.retriable) {
      this.crash(error);
      return;
    }
    if (nowMs - state.failingSinceMs >= this.retryTimeoutMs) {
      this.crash(new RunnelError(
        'REQUEST_TIMED_OUT',
        `${state.topic}-${state.partition} kept failing for ${nowMs - state.failingSinceMs} ms (retryTimeoutMs ${this.retryTimeoutMs}, ${state.attempts + 1} attempts); last error ${error.codeName}: ${error.message}`,
        { cause: error, details: { topic: state.topic, partition: state.partition, attempts: state.attempts + 1, lastErrorCode: error.codeName } },
      ));
      return;
    }
    if (error.staleMetadata || error.codeName === 'NETWORK_EXCEPTION' || error.codeName === 'REQUEST_TIMED_OUT') {
      void this.refreshMetadata();
    }
    this.backOff(state, nowMs);
    this.cluster.logger.debug({ topic: state.topic, partition: state.partition, codeName: error.codeName, attempts: state.attempts }, 'fetch failed; backing off');
  }
}

function leaderUnknown(state: PartitionState): RunnelError {
  return new RunnelError('LEADER_NOT_AVAILABLE', `no known leader for ${state.topic}-${state.partition}`, { details: { topic: state.topic, partition: state.partition } });
}

function toMessage(state: PartitionState, record: DecodedRecord): ConsumedMessage {
  const headers: ConsumedHeaders = {};
  for (const header of record.headers) {
    const existing = headers[header.key];
    if (existing === undefined) headers[header.key] = header.value;
    else if (Array.isArray(existing)) existing.push(header.value);
    else headers[header.key] = [existing, header.value];
  }
  return { topic: state.topic, partition: state.partition, offset: record.offset, key: record.key, value: record.value, headers, timestamp: record.timestamp };
}

function groupByTopic<T>(states: PartitionState[], toPartition: (s: PartitionState) => T): Array<{ name: string; partitions: T[] }> {
  const byTopic = new Map<string, T[]>();
  for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), toPartition(s)]);
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}

function indexResults<P extends { partition: number }>(topics: ReadonlyArray<{ name: string; partitions: P[] }>): Map<string, P> {
  const out = new Map<string, P>();
  for (const topic of topics) for (const p of topic.partitions) out.set(partitionKey(topic.name, p.partition), p);
  return out;
}

function newPartitionState(topic: string, partition: number, fetchOffset: number, reset: 'earliest' | 'latest'): PartitionState {
  return {
    topic,
    partition,
    fetchOffset,
    reset,
    paused: false,
    generation: 0,
    retryAtMs: 0,
    attempts: 0,
    highWatermark: -1,
    failingSinceMs: -1,
    lastError: null,
  };
}
