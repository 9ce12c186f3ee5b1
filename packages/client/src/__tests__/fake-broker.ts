// An in-process fake of a Runnel cluster for client tests: N real grpc-js servers on 127.0.0.1
// (port 0) implementing runnel.v1.Broker over one shared in-memory state. Each partition has a
// leader; non-leaders answer NOT_LEADER_OR_FOLLOWER with the current leader, so clients must route
// by metadata. Logs hold RecordBatch v2 bytes stamped with offsets like a real leader's. Tests
// inject errors, move leaders and drop log prefixes to exercise the client's recovery paths.
// Idempotent batches are checked like the real broker does (docs: notes/api2.md): per producer id,
// its epoch and its last 5 batches; a retry of one of them is answered with its original offsets;
// a gap or a new epoch not starting at 0 is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is
// INVALID_PRODUCER_EPOCH; one refused batch refuses the partition's whole request data.

import * as grpc from '@grpc/grpc-js';
import { BROKER_SERVICE, ErrorCode, pipelineHandler, decodeRecordBatch, errorInfo, iterateBatches, serverOptions, stampBatch } from '@runnel/protocol';
import type { BrokerServiceHandlers, DecodedRecord, ErrorCodeName, FetchPartitionResponse, MetadataResponse, ProducePartitionResponse } from '@runnel/protocol';

interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: Buffer;
}

/** What the fake remembers of one appended idempotent batch. */
interface CachedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

/** Per producer id: its epoch and its last PRODUCER_BATCHES_RETAINED batches, oldest first. */
export interface ProducerState {
  epoch: number;
  batches: CachedBatch[];
}

/** Batches per producer the broker remembers for duplicate detection (Kafka's 5). */
const PRODUCER_BATCHES_RETAINED = 5;
const SEQUENCE_MODULUS = 2 ** 31;

/** One partition's replica set and log. */
export interface FakePartition {
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  batches: StoredBatch[];
  logStartOffset: number;
  logEndOffset: number;
  producers: Map<number, ProducerState>;
}

/** A Produce request as the fake received it (bytes copied before stamping). */
export interface ProduceCall {
  brokerId: number;
  acks: number;
  partitions: Array<{ topic: string; partition: number; records: Buffer }>;
  /** Error code name per partition entry, in order, once answered ('NONE' for success). */
  answers: string[];
}

/** A Fetch request as the fake received it. */
export interface FetchCall {
  brokerId: number;
  maxWaitMs: number;
  partitions: Array<{ topic: string; partition: number; fetchOffset: number }>;
  /** What ended the call: data already there, an append during the long poll, or maxWaitMs. */
  answeredBy: 'immediate' | 'append' | 'timeout' | 'pending';
}

interface InjectedError {
  topic: string;
  partition: number;
  codeName: ErrorCodeName;
  remaining: number;
  /** Append first, then answer with the error: a lost acknowledgement. */
  afterAppend: boolean;
}

interface FakeBrokerServer {
  id: number;
  port: number;
  server: grpc.Server;
}

/** Longest a long-poll fetch may wait in the fake, whatever the client asks. */
const FETCH_WAIT_MS_MAX = 5_000;

/** The fake cluster. Start with FakeCluster.start(); always stop() it. */
export class FakeCluster {
  readonly clusterId = 'fake-cluster';
  readonly controllerId = 1;
  readonly topics = new Map<string, FakePartition[]>();
  readonly produceCalls: ProduceCall[] = [];
  readonly fetchCalls: FetchCall[] = [];
  metadataCalls = 0;
  initProducerIdCalls = 0;
  /** Pipelined streams the clients opened (Produce and Fetch otherwise arrive as unary calls). */
  readonly streamsOpened = { produce: 0, fetch: 0 };
  private readonly servers: FakeBrokerServer[] = [];
  private readonly injected: InjectedError[] = [];
  private readonly appendWaiters = new Set<() => void>();
  private nextProducerId = 1000;
  /** While set, produce requests are processed on arrival but answered only at releaseProduces(). */
  private heldAnswers: Array<() => void> | null = null;

  private constructor() {}

  /** Starts `brokerCount` brokers with ids 1..N. */
  static async start(options: { brokerCount?: number } = {}): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let id = 1; id <= (options.brokerCount ?? 1); id++) {
      const server = new grpc.Server(serverOptions());
      server.addService(BROKER_SERVICE, cluster.withPipelines(cluster.handlers(id)));
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error === null ? resolve(boundPort) : reject(error)));
      });
      cluster.servers.push({ id, port, server });
    }
    return cluster;
  }

  /** "127.0.0.1:port" of every broker. */
  get bootstrap(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  /** Stops every server now (in-flight long polls are cut). */
  async stop(): Promise<void> {
    this.releaseProduces();
    for (const waiter of this.appendWaiters) waiter();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.server.tryShutdown(() => resolve()))));
    for (const s of this.servers) s.server.forceShutdown();
  }

  /** Kills one broker's server at once, like a crashed process: its clients see connection errors. */
  killBroker(id: number): void {
    const broker = this.servers.find((s) => s.id === id);
    if (broker === undefined) throw new Error(`fake: no broker ${id}`);
    broker.server.forceShutdown();
  }

  /** Creates a topic directly (bypassing the client). Leaders rotate over brokers. */
  createTopic(name: string, numPartitions: number, replicationFactor = 1): void {
    const partitions: FakePartition[] = [];
    for (let p = 0; p < numPartitions; p++) partitions.push(this.newPartition(p, replicationFactor));
    this.topics.set(name, partitions);
  }

  private newPartition(index: number, replicationFactor: number): FakePartition {
    const n = this.servers.length;
    const replicas = Array.from({ length: Math.min(replicationFactor, n) }, (_, r) => ((index + r) % n) + 1);
    return { leaderId: replicas[0] as number, leaderEpoch: 0, replicas, isr: [...replicas], batches: [], logStartOffset: 0, logEndOffset: 0, producers: new Map() };
  }

  /** The state of one partition; throws when it does not exist. */
  partition(topic: string, partition: number): FakePartition {
    const p = this.topics.get(topic)?.[partition];
    if (p === undefined) throw new Error(`fake: no ${topic}-${partition}`);
    return p;
  }

  /** Makes `leaderId` the leader with a new epoch, like a controller-driven election. */
  moveLeader(topic: string, partition: number, leaderId: number): void {
    const p = this.partition(topic, partition);
    p.leaderId = leaderId;
    p.leaderEpoch++;
  }

  /** The next `count` produce attempts on the partition answer `codeName`. */
  injectProduceError(topic: string, partition: number, codeName: ErrorCodeName, count = 1, options: { afterAppend?: boolean } = {}): void {
    this.injected.push({ topic, partition, codeName, remaining: count, afterAppend: options.afterAppend ?? false });
  }

  /**
   * From now on produce requests are processed (appended or refused) as they arrive, but their
   * answers are held until releaseProduces(): the client sees several requests on the wire at once.
   */
  holdProduces(): void {
    this.heldAnswers ??= [];
  }

  /** Sends the held answers in arrival order and stops holding. */
  releaseProduces(): void {
    const held = this.heldAnswers ?? [];
    this.heldAnswers = null;
    for (const answer of held) answer();
  }

  /** Produce requests whose answers are held now. */
  get heldProduceCount(): number {
    return this.heldAnswers?.length ?? 0;
  }

  /** Drops whole batches below `offset` (retention), moving the log start offset. */
  deleteRecordsBefore(topic: string, partition: number, offset: number): void {
    const p = this.partition(topic, partition);
    p.batches = p.batches.filter((b) => b.lastOffset >= offset);
    p.logStartOffset = p.batches[0]?.baseOffset ?? p.logEndOffset;
  }

  /** Every stored record of a partition, decoded. */
  records(topic: string, partition: number): DecodedRecord[] {
    return this.partition(topic, partition).batches.flatMap((b) => decodeRecordBatch(b.bytes).records);
  }

  /** Appends already-encoded batches as a leader would (tests that seed data without a producer). */
  appendRaw(topic: string, partition: number, records: Buffer): number {
    const result = this.appendBatches(this.partition(topic, partition), records);
    if (typeof result === 'string') throw new Error(`fake: append refused with ${result}`);
    return result;
  }

  private takeInjected(topic: string, partition: number, afterAppend: boolean): ErrorCodeName | null {
    const found = this.injected.find((e) => e.topic === topic && e.partition === partition && e.afterAppend === afterAppend && e.remaining > 0);
    if (found === undefined) return null;
    found.remaining--;
    return found.codeName;
  }

  /**
   * Validates, checks sequences and stamps; returns the base offset or an error code name. All or
   * nothing: when one batch is refused, none of `records` is appended. A batch that repeats one of
   * its producer's last 5 is not appended again; its original base offset is answered instead.
   */
  private appendBatches(p: FakePartition, records: Buffer): number | ErrorCodeName {
    const planned: Array<{ position: number; sizeBytes: number; producerId: number; lastOffsetDelta: number; duplicateOf: number | null; firstSeq: number; lastSeq: number; epoch: number }> = [];
    // Scratch copies so that later batches of the request are checked against the earlier ones.
    const scratch = new Map<number, ProducerState>();
    for (const entry of iterateBatches(records)) {
      if (entry.kind !== 'batch') return 'CORRUPT_MESSAGE';
      const header = entry.header;
      const item = { position: entry.position, sizeBytes: entry.sizeBytes, producerId: header.producerId, lastOffsetDelta: header.lastOffsetDelta, duplicateOf: null as number | null, firstSeq: header.baseSequence, lastSeq: (header.baseSequence + header.lastOffsetDelta) % SEQUENCE_MODULUS, epoch: header.producerEpoch };
      if (header.producerId >= 0) {
        const known = scratch.get(header.producerId) ?? p.producers.get(header.producerId);
        const state: ProducerState = known === undefined ? { epoch: header.producerEpoch, batches: [] } : { epoch: known.epoch, batches: [...known.batches] };
        if (known !== undefined && header.producerEpoch < known.epoch) return 'INVALID_PRODUCER_EPOCH';
        if (known === undefined || header.producerEpoch > known.epoch) {
          if (item.firstSeq !== 0) return 'OUT_OF_ORDER_SEQUENCE_NUMBER';
          state.epoch = header.producerEpoch;
          state.batches = [];
        } else {
          const original = state.batches.find((b) => b.firstSeq === item.firstSeq && b.lastSeq === item.lastSeq);
          if (original !== undefined) {
            item.duplicateOf = original.baseOffset;
          } else {
            const last = state.batches[state.batches.length - 1];
            const expected = last === undefined ? 0 : (last.lastSeq + 1) % SEQUENCE_MODULUS;
            if (item.firstSeq !== expected) return 'OUT_OF_ORDER_SEQUENCE_NUMBER';
          }
        }
        if (item.duplicateOf === null) state.batches = [...state.batches, { firstSeq: item.firstSeq, lastSeq: item.lastSeq, baseOffset: -1 }].slice(-PRODUCER_BATCHES_RETAINED);
        scratch.set(header.producerId, state);
      }
      planned.push(item);
    }
    let firstBaseOffset = -1;
    for (const item of planned) {
      if (item.duplicateOf !== null) {
        if (firstBaseOffset < 0) firstBaseOffset = item.duplicateOf;
        continue;
      }
      const bytes = Buffer.from(records.subarray(item.position, item.position + item.sizeBytes));
      const baseOffset = p.logEndOffset;
      stampBatch(bytes, 0, baseOffset, p.leaderEpoch);
      const lastOffset = baseOffset + item.lastOffsetDelta;
      p.batches.push({ baseOffset, lastOffset, bytes });
      p.logEndOffset = lastOffset + 1;
      if (item.producerId >= 0) {
        const known = p.producers.get(item.producerId);
        const kept = known === undefined || known.epoch !== item.epoch ? [] : known.batches;
        p.producers.set(item.producerId, { epoch: item.epoch, batches: [...kept, { firstSeq: item.firstSeq, lastSeq: item.lastSeq, baseOffset }].slice(-PRODUCER_BATCHES_RETAINED) });
      }
      if (firstBaseOffset < 0) firstBaseOffset = baseOffset;
    }
    for (const waiter of this.appendWaiters) waiter();
    return firstBaseOffset;
  }

  private brokerInfos(): MetadataResponse['brokers'] {
    return this.servers.map((s) => ({ id: s.id, host: '127.0.0.1', port: s.port, rack: '', fenced: false }));
  }

  /** Produce and Fetch also served pipelined on their streams, as a real broker does. */
  private withPipelines(handlers: Omit<BrokerServiceHandlers, 'produceStream' | 'fetchStream'>): grpc.UntypedServiceImplementation {
    const produce = pipelineHandler(handlers.produce);
    const fetch = pipelineHandler(handlers.fetch);
    const produceStream: typeof produce = (stream) => {
      this.streamsOpened.produce += 1;
      produce(stream);
    };
    const fetchStream: typeof fetch = (stream) => {
      this.streamsOpened.fetch += 1;
      fetch(stream);
    };
    return { ...handlers, produceStream, fetchStream } as grpc.UntypedServiceImplementation;
  }

  private handlers(brokerId: number): Omit<BrokerServiceHandlers, 'produceStream' | 'fetchStream'> {
    const code = (name: ErrorCodeName): number => ErrorCode[name];
    return {
      metadata: (call, callback) => {
        this.metadataCalls++;
        const names = call.request.topics.length > 0 ? call.request.topics : call.request.allTopics ? [...this.topics.keys()] : [];
        callback(null, {
          clusterId: this.clusterId,
          controllerId: this.controllerId,
          brokers: this.brokerInfos(),
          metadataOffset: 0,
          topics: names.map((name) => {
            const partitions = this.topics.get(name);
            return {
              errorCode: partitions === undefined ? code('UNKNOWN_TOPIC_OR_PARTITION') : 0,
              name,
              topicId: `id-${name}`,
              isInternal: false,
              configs: [],
              partitions: (partitions ?? []).map((p, index) => ({
                errorCode: 0,
                partition: index,
                leaderId: p.leaderId,
                leaderEpoch: p.leaderEpoch,
                replicas: p.replicas,
                isr: p.isr,
                offlineReplicas: [],
              })),
            };
          }),
        });
      },
      produce: (call, callback) => {
        const produceCall: ProduceCall = {
          brokerId,
          acks: call.request.acks,
          partitions: call.request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, records: Buffer.from(p.records) }))),
          answers: [],
        };
        this.produceCalls.push(produceCall);
        const response = {
          topics: call.request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((data): ProducePartitionResponse => {
              const base = { partition: data.partition, errorMessage: '', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, currentLeaderId: -1, currentLeaderEpoch: -1 };
              const p = this.topics.get(t.name)?.[data.partition];
              if (p === undefined) return { ...base, errorCode: code('UNKNOWN_TOPIC_OR_PARTITION') };
              const leader = { currentLeaderId: p.leaderId, currentLeaderEpoch: p.leaderEpoch };
              const before = this.takeInjected(t.name, data.partition, false);
              if (before !== null) return { ...base, ...leader, errorCode: code(before) };
              if (p.leaderId !== brokerId) return { ...base, ...leader, errorCode: code('NOT_LEADER_OR_FOLLOWER') };
              const result = this.appendBatches(p, data.records);
              if (typeof result === 'string') return { ...base, errorCode: code(result) };
              const after = this.takeInjected(t.name, data.partition, true);
              if (after !== null) return { ...base, ...leader, errorCode: code(after) };
              return { ...base, errorCode: 0, baseOffset: result, logStartOffset: p.logStartOffset };
            }),
          })),
        };
        const answer = (): void => {
          for (const t of response.topics) for (const p of t.partitions) produceCall.answers.push(p.errorCode === 0 ? 'NONE' : errorInfo(p.errorCode).name);
          callback(null, response);
        };
        if (this.heldAnswers !== null) this.heldAnswers.push(answer);
        else answer();
      },
      fetch: (call, callback) => {
        const request = call.request;
        const record: FetchCall = {
          brokerId,
          answeredBy: 'pending',
          maxWaitMs: request.maxWaitMs,
          partitions: request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, fetchOffset: p.fetchOffset }))),
        };
        this.fetchCalls.push(record);
        const answer = (): { bytes: number; response: ReturnType<typeof build> } => {
          const response = build();
          const bytes = response.topics.reduce((sum, t) => sum + t.partitions.reduce((s, p) => s + p.records.length + (p.errorCode === 0 ? 0 : 1), 0), 0);
          return { bytes, response };
        };
        const build = () => ({
          errorCode: 0,
          topics: request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((fp): FetchPartitionResponse => {
              const base = { partition: fp.partition, errorMessage: '', highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, divergingEpoch: null, currentLeaderId: -1, currentLeaderEpoch: -1, records: Buffer.alloc(0) };
              const p = this.topics.get(t.name)?.[fp.partition];
              if (p === undefined) return { ...base, errorCode: code('UNKNOWN_TOPIC_OR_PARTITION') };
              if (p.leaderId !== brokerId) return { ...base, currentLeaderId: p.leaderId, currentLeaderEpoch: p.leaderEpoch, errorCode: code('NOT_LEADER_OR_FOLLOWER') };
              const offsets = { highWatermark: p.logEndOffset, lastStableOffset: p.logEndOffset, logStartOffset: p.logStartOffset };
              if (fp.fetchOffset < p.logStartOffset || fp.fetchOffset > p.logEndOffset) return { ...base, ...offsets, errorCode: code('OFFSET_OUT_OF_RANGE') };
              const chosen: Buffer[] = [];
              let size = 0;
              for (const b of p.batches) {
                if (b.lastOffset < fp.fetchOffset) continue;
                if (chosen.length > 0 && size + b.bytes.length > fp.partitionMaxBytes) break;
                chosen.push(b.bytes);
                size += b.bytes.length;
              }
              return { ...base, ...offsets, errorCode: 0, records: Buffer.concat(chosen) };
            }),
          })),
        });
        const first = answer();
        if (first.bytes >= Math.max(1, request.minBytes) || request.maxWaitMs === 0) {
          record.answeredBy = 'immediate';
          callback(null, first.response);
          return;
        }
        // Long poll: answer on the next append (or at maxWaitMs) with whatever is there then.
        const waitMs = Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX);
        let settled = false;
        const finish = (reason: 'append' | 'timeout'): void => {
          if (settled) return;
          settled = true;
          record.answeredBy = reason;
          clearTimeout(timer);
          this.appendWaiters.delete(onAppend);
          callback(null, answer().response);
        };
        const onAppend = (): void => finish('append');
        const timer = setTimeout(() => finish('timeout'), waitMs);
        this.appendWaiters.add(onAppend);
      },
      listOffsets: (call, callback) => {
        callback(null, {
          topics: call.request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((lp) => {
              const p = this.topics.get(t.name)?.[lp.partition];
              const base = { partition: lp.partition, errorMessage: '', timestamp: -1, offset: -1, leaderEpoch: -1 };
              if (p === undefined) return { ...base, errorCode: code('UNKNOWN_TOPIC_OR_PARTITION') };
              if (p.leaderId !== brokerId) return { ...base, errorCode: code('NOT_LEADER_OR_FOLLOWER') };
              if (lp.timestamp !== -1 && lp.timestamp !== -2) return { ...base, errorCode: code('UNSUPPORTED_VERSION') };
              return { ...base, errorCode: 0, offset: lp.timestamp === -2 ? p.logStartOffset : p.logEndOffset, leaderEpoch: p.leaderEpoch };
            }),
          })),
        });
      },
      offsetsForLeaderEpoch: (_call, callback) => {
        callback({ code: grpc.status.UNIMPLEMENTED, details: 'fake broker: OffsetsForLeaderEpoch' });
      },
      initProducerId: (_call, callback) => {
        this.initProducerIdCalls++;
        callback(null, { errorCode: 0, errorMessage: '', producerId: this.nextProducerId++, producerEpoch: 0 });
      },
      describeCluster: (_call, callback) => {
        callback(null, { errorCode: 0, errorMessage: '', clusterId: this.clusterId, controllerId: this.controllerId, brokers: this.brokerInfos() });
      },
      createTopics: (call, callback) => {
        callback(null, {
          controller: null,
          topics: call.request.topics.map((t) => {
            const numPartitions = t.numPartitions < 0 ? 1 : t.numPartitions;
            const replicationFactor = t.replicationFactor < 0 ? Math.min(3, this.servers.length) : t.replicationFactor;
            const base = { name: t.name, errorMessage: '', topicId: `id-${t.name}`, numPartitions, replicationFactor };
            if (this.topics.has(t.name)) return { ...base, errorCode: code('TOPIC_ALREADY_EXISTS'), errorMessage: `topic ${t.name} already exists` };
            if (numPartitions === 0) return { ...base, errorCode: code('INVALID_PARTITIONS') };
            if (replicationFactor > this.servers.length) return { ...base, errorCode: code('INVALID_REPLICATION_FACTOR') };
            if (!call.request.validateOnly) this.createTopic(t.name, numPartitions, replicationFactor);
            return { ...base, errorCode: 0 };
          }),
        });
      },
      deleteTopics: (call, callback) => {
        callback(null, {
          controller: null,
          topics: call.request.names.map((name) => ({ name, errorMessage: '', errorCode: this.topics.delete(name) ? 0 : code('UNKNOWN_TOPIC_OR_PARTITION') })),
        });
      },
      createPartitions: (call, callback) => {
        callback(null, {
          controller: null,
          topics: call.request.topics.map((t) => {
            const partitions = this.topics.get(t.name);
            if (partitions === undefined) return { name: t.name, errorMessage: '', errorCode: code('UNKNOWN_TOPIC_OR_PARTITION') };
            if (t.count <= partitions.length) return { name: t.name, errorMessage: `already has ${partitions.length}`, errorCode: code('INVALID_PARTITIONS') };
            if (!call.request.validateOnly) {
              const replicationFactor = partitions[0]?.replicas.length ?? 1;
              for (let p = partitions.length; p < t.count; p++) partitions.push(this.newPartition(p, replicationFactor));
            }
            return { name: t.name, errorMessage: '', errorCode: 0 };
          }),
        });
      },
      alterConfigs: (_call, callback) => {
        callback({ code: grpc.status.UNIMPLEMENTED, details: 'fake broker: AlterConfigs' });
      },
    };
  }
}
