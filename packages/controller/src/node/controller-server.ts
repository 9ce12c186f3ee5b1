// The active controller: runnel.v1.Controller over the local RaftNode. Only the Raft leader decides;
// every other node answers NOT_CONTROLLER with a hint, so brokers and admin clients re-home.
//
// Decisions are SERIALISED: one at a time, each made by QuorumController against the committed image
// and proposed as one Raft entry; the next decision starts only after that entry is committed and
// applied here. Two decisions therefore never read the same stale image (unique broker epochs, topic
// ids, producer-id blocks) without tracking uncommitted records. Metadata changes are rare and small
// (one Raft round trip each), so the throughput given up is not worth the complexity of pipelining.
//
// A proposal whose outcome is unknown (timed out, leadership lost while in flight) may still commit
// later, so before the next decision the controller proposes a NoOp batch and waits for it: log order
// then guarantees every earlier entry of this term is applied (or gone) before anything reads the image.
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ErrorCode, RunnelError } from '@runnel/protocol';
import type * as wire from '@runnel/protocol';
import { SYSTEM_CLOCK } from '@runnel/raft';
import type { Clock, RaftNode } from '@runnel/raft';
import type { ControllerResult, QuorumControllerConfig } from '../core/controller-types.js';
import type { MetadataImage } from '../core/metadata-image.js';
import { QuorumController } from '../core/quorum-controller.js';
import { seededRandom } from '../core/random.js';
import type { Random } from '../core/random.js';
import { encodeRecordBatch } from '../core/records.js';
import type { ConfigResourceType } from '../core/records.js';
import type { MetadataStateMachine } from './metadata-state-machine.js';

export const CONTROLLER_SERVER_DEFAULTS = Object.freeze({
  /** How often the active controller fences expired sessions and elects missing leaders. */
  tickIntervalMs: 250,
  /** Wait bound of a request that gives none (and upper bound on the ones that do). */
  requestTimeoutMs: 5_000,
  requestTimeoutMsMax: 60_000,
  /** Decisions queued behind the one in flight; past it requests get THROTTLING_QUOTA_EXCEEDED. */
  maxPendingDecisions: 1_024,
  /** Bound on the read barrier that makes a new leader's image complete before it decides. */
  activationTimeoutMs: 5_000,
  activationRetryDelayMs: 200,
});

export interface ControllerServerOptions {
  readonly node: RaftNode;
  readonly stateMachine: MetadataStateMachine;
  readonly clusterId: string;
  readonly logger: Logger;
  readonly config?: Partial<QuorumControllerConfig>;
  readonly clock?: Clock;
  /** Placement randomness; seeded from node:crypto when omitted. */
  readonly random?: Random;
  readonly tickIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly maxPendingDecisions?: number;
  readonly activationTimeoutMs?: number;
  /**
   * The quorum's election timeout. A follower that loses its leader by timing out had not heard from
   * it for at least this long, which lets a new controller count the dead controller's broker session
   * from then rather than from its own activation. 0 (the default) assumes nothing.
   */
  readonly electionTimeoutMs?: number;
}

/** What a decision produced: `propose: false` answers without writing (validate-only requests). */
interface Decision<T> {
  result: ControllerResult<T>;
  propose: boolean;
}

interface Job {
  readonly what: string;
  readonly deadlineAtMs: number;
  settled: boolean;
  run(): Promise<void>;
  fail(error: RunnelError): void;
}

type ErrorFields = { errorCode: number; errorMessage: string };

const NONE: ErrorFields = Object.freeze({ errorCode: ErrorCode.NONE, errorMessage: '' });

function errorFields(error: RunnelError | null): ErrorFields {
  return error === null ? NONE : { errorCode: error.code, errorMessage: error.message };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}

export class ControllerServer {
  private readonly node: RaftNode;
  private readonly machine: MetadataStateMachine;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly tickIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxPendingDecisions: number;
  private readonly activationTimeoutMs: number;

  private controller: QuorumController | undefined;
  /** The Raft term this node is active controller for; undefined when it is not. */
  private activeTerm: number | undefined;
  /** The Raft leader as last announced (0: none). */
  private leaderId = 0;
  /** The last leader this node lost, and the latest time it can have heard from it. */
  private lostLeader: { id: number; lastHeardMs: number } | undefined;
  private activatingTerm: number | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickQueued = false;
  private barrierNeeded = false;
  private readonly queue: Job[] = [];
  private inFlight: Job | undefined;
  private draining = false;
  private drainDone: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private readonly activationTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: ControllerServerOptions) {
    this.node = options.node;
    this.machine = options.stateMachine;
    this.log = options.logger.child({ component: 'controller', nodeId: options.node.id });
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.random = options.random ?? seededRandom(randomInt(0x7fff_ffff));
    this.tickIntervalMs = positive(options.tickIntervalMs ?? CONTROLLER_SERVER_DEFAULTS.tickIntervalMs, 'tickIntervalMs');
    this.requestTimeoutMs = positive(options.requestTimeoutMs ?? CONTROLLER_SERVER_DEFAULTS.requestTimeoutMs, 'requestTimeoutMs');
    this.maxPendingDecisions = positive(options.maxPendingDecisions ?? CONTROLLER_SERVER_DEFAULTS.maxPendingDecisions, 'maxPendingDecisions');
    this.activationTimeoutMs = positive(options.activationTimeoutMs ?? CONTROLLER_SERVER_DEFAULTS.activationTimeoutMs, 'activationTimeoutMs');
  }

  /** Follows the node's leadership: call once, after or before `node.start()`. */
  start(): void {
    if (this.started) throw new Error('controller server already started');
    this.started = true;
    this.node.on('leader-change', this.onLeaderChange);
    const status = this.node.status();
    if (status.role === 'leader') this.activate(status.term);
  }

  /**
   * Stops deciding and fails every queued and in-flight request at once. Does not stop the node; the
   * in-flight proposal is left to it (node.stop() settles it), so a shutdown never waits out a timeout.
   */
  stop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    this.node.off('leader-change', this.onLeaderChange);
    for (const timer of this.activationTimers) clearTimeout(timer);
    this.activationTimers.clear();
    this.deactivate('controller server stopping');
    return Promise.resolve();
  }

  /** Settles once the decision in flight (if any) has finished; bounded by its request timeout. */
  idle(): Promise<void> {
    return this.drainDone;
  }

  /** True while this node is the active controller (Raft leader with its term's image applied). */
  get active(): boolean {
    return this.activeTerm !== undefined;
  }

  /** Add with `server.addService(CONTROLLER_SERVICE, controller.handlers())`. */
  handlers(): wire.ControllerServiceHandlers {
    return {
      registerBroker: this.unary('RegisterBroker', (r: wire.RegisterBrokerRequest) => this.registerBroker(r), (e) => ({ ...e, brokerEpoch: 0 })),
      brokerHeartbeat: this.unary('BrokerHeartbeat', (r: wire.BrokerHeartbeatRequest) => this.brokerHeartbeat(r), (e) => ({
        ...e, isFenced: true, inControlledShutdown: false, shouldShutdown: false,
      })),
      createTopics: this.unary('CreateTopics', (r: wire.CreateTopicsRequest) => this.createTopics(r), (e, r) => ({
        topics: r.topics.map((t) => ({ name: t.name, ...e, topicId: '', numPartitions: -1, replicationFactor: -1 })),
      })),
      deleteTopics: this.unary('DeleteTopics', (r: wire.DeleteTopicsRequest) => this.deleteTopics(r), (e, r) => ({
        topics: r.names.map((name) => ({ name, ...e })),
      })),
      createPartitions: this.unary('CreatePartitions', (r: wire.CreatePartitionsRequest) => this.createPartitions(r), (e, r) => ({
        topics: r.topics.map((t) => ({ name: t.name, ...e })),
      })),
      alterPartition: this.unary('AlterPartition', (r: wire.AlterPartitionRequest) => this.alterPartition(r), (e) => ({
        ...e, leaderId: -1, leaderEpoch: -1, partitionEpoch: -1, isr: [],
      })),
      allocateProducerIds: this.unary('AllocateProducerIds', (r: wire.AllocateProducerIdsRequest) => this.allocateProducerIds(r), (e) => ({
        ...e, firstProducerId: 0, count: 0,
      })),
      alterConfigs: this.unary('AlterConfigs', (r: wire.AlterConfigsRequest) => this.alterConfigs(r), (e) => e),
    };
  }

  // ---- requests ------------------------------------------------------------------------------

  private async registerBroker(request: wire.RegisterBrokerRequest): Promise<Omit<wire.RegisterBrokerResponse, 'controller'>> {
    if (request.clusterId !== this.options.clusterId) {
      throw new RunnelError('INCONSISTENT_CLUSTER_ID', `broker ${request.brokerId} belongs to cluster '${request.clusterId}', this is '${this.options.clusterId}'`);
    }
    if (!Number.isSafeInteger(request.brokerId) || request.brokerId <= 0) throw new RunnelError('INVALID_REQUEST', `broker id must be positive, got ${request.brokerId}`);
    if (request.incarnationId === '') throw new RunnelError('INVALID_REQUEST', 'a registration needs an incarnation id');
    const coreRequest = {
      brokerId: request.brokerId,
      incarnationId: request.incarnationId,
      endpoints: request.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
      rack: request.rack === '' ? null : request.rack,
    };
    const result = await this.submit(`RegisterBroker ${request.brokerId}`, this.requestTimeoutMs, (c, image, nowMs) => c.registerBroker(image, coreRequest, nowMs));
    if (result instanceof RunnelError) return { ...errorFields(result), brokerEpoch: 0 };
    this.log.info({ brokerId: request.brokerId, brokerEpoch: result.brokerEpoch, incarnationId: request.incarnationId }, 'broker registered');
    return { ...NONE, brokerEpoch: result.brokerEpoch };
  }

  private async brokerHeartbeat(request: wire.BrokerHeartbeatRequest): Promise<Omit<wire.BrokerHeartbeatResponse, 'controller'>> {
    const result = await this.submit(`BrokerHeartbeat ${request.brokerId}`, this.requestTimeoutMs, (c, image, nowMs) => c.brokerHeartbeat(image, request, nowMs));
    if (result instanceof RunnelError) return { ...errorFields(result), isFenced: true, inControlledShutdown: false, shouldShutdown: false };
    return { ...NONE, ...result };
  }

  private async createTopics(request: wire.CreateTopicsRequest): Promise<Omit<wire.CreateTopicsResponse, 'controller'>> {
    const topics = request.topics.map((t) => ({
      name: t.name,
      numPartitions: t.numPartitions === -1 ? undefined : t.numPartitions,
      replicationFactor: t.replicationFactor === -1 ? undefined : t.replicationFactor,
      configs: Object.fromEntries(t.configs.map((c) => [c.name, c.value])),
    }));
    const duplicateConfig = request.topics.find((t) => new Set(t.configs.map((c) => c.name)).size !== t.configs.length);
    if (duplicateConfig !== undefined) throw new RunnelError('INVALID_REQUEST', `topic '${duplicateConfig.name}' sets a config more than once`);
    const validateOnly = request.validateOnly;
    const results = await this.submit(`CreateTopics ${topics.map((t) => t.name).join(',')}`, this.timeoutOf(request.timeoutMs), (c, image) =>
      c.createTopics(image, topics, { validateOnly }),
    );
    return {
      topics: results.map((r) => ({
        name: r.name, ...errorFields(r.error), topicId: r.topicId ?? '', numPartitions: r.numPartitions, replicationFactor: r.replicationFactor,
      })),
    };
  }

  private async deleteTopics(request: wire.DeleteTopicsRequest): Promise<Omit<wire.DeleteTopicsResponse, 'controller'>> {
    const results = await this.submit(`DeleteTopics ${request.names.join(',')}`, this.timeoutOf(request.timeoutMs), (c, image) => c.deleteTopics(image, request.names));
    return { topics: results.map((r) => ({ name: r.name, ...errorFields(r.error) })) };
  }

  private async createPartitions(request: wire.CreatePartitionsRequest): Promise<Omit<wire.CreatePartitionsResponse, 'controller'>> {
    const results = await this.submit(
      `CreatePartitions ${request.topics.map((t) => t.name).join(',')}`,
      this.timeoutOf(request.timeoutMs),
      (c, image) => c.createPartitions(image, request.topics),
      !request.validateOnly,
    );
    return { topics: results.map((r) => ({ name: r.name, ...errorFields(r.error) })) };
  }

  private async alterPartition(request: wire.AlterPartitionRequest): Promise<Omit<wire.AlterPartitionResponse, 'controller'>> {
    const coreRequest = {
      topicId: request.topicId,
      partition: request.partition,
      leaderId: request.brokerId,
      brokerEpoch: request.brokerEpoch,
      leaderEpoch: request.leaderEpoch,
      partitionEpoch: request.partitionEpoch,
      newIsr: request.newIsr,
      leaderRecoveryState: request.leaderRecovered ? ('recovered' as const) : undefined,
    };
    const result = await this.submit(`AlterPartition ${request.topicId}-${request.partition}`, this.requestTimeoutMs, (c, image) => c.alterPartition(image, coreRequest));
    if (result instanceof RunnelError) return { ...errorFields(result), leaderId: -1, leaderEpoch: -1, partitionEpoch: -1, isr: [] };
    return { ...NONE, leaderId: result.leader, leaderEpoch: result.leaderEpoch, partitionEpoch: result.partitionEpoch, isr: [...result.isr] };
  }

  private async allocateProducerIds(request: wire.AllocateProducerIdsRequest): Promise<Omit<wire.AllocateProducerIdsResponse, 'controller'>> {
    const result = await this.submit(`AllocateProducerIds ${request.brokerId}`, this.requestTimeoutMs, (c, image) =>
      c.allocateProducerIds(image, request.brokerId, request.brokerEpoch),
    );
    if (result instanceof RunnelError) return { ...errorFields(result), firstProducerId: 0, count: 0 };
    return { ...NONE, firstProducerId: result.firstProducerId, count: result.size };
  }

  private async alterConfigs(request: wire.AlterConfigsRequest): Promise<Omit<wire.AlterConfigsResponse, 'controller'>> {
    const resourceType = request.resourceType;
    if (resourceType !== 'topic' && resourceType !== 'broker' && resourceType !== 'cluster') {
      throw new RunnelError('INVALID_REQUEST', `unknown config resource type '${resourceType}' (topic, broker or cluster)`);
    }
    const configs: Record<string, string | null> = {};
    for (const entry of request.set) configs[entry.name] = entry.value;
    for (const name of request.delete) {
      if (Object.hasOwn(configs, name)) throw new RunnelError('INVALID_REQUEST', `config '${name}' is both set and deleted`);
      configs[name] = null;
    }
    const coreRequest = { resourceType: resourceType as ConfigResourceType, resourceName: request.resourceName, configs };
    const [result] = await this.submit(`AlterConfigs ${resourceType} '${request.resourceName}'`, this.requestTimeoutMs, (c, image) =>
      c.alterConfigs(image, [coreRequest]), !request.validateOnly);
    return errorFields(result?.error ?? null);
  }

  private timeoutOf(requestedMs: number): number {
    return requestedMs > 0 ? Math.min(requestedMs, CONTROLLER_SERVER_DEFAULTS.requestTimeoutMsMax) : this.requestTimeoutMs;
  }

  /** Wraps a handler: every answer carries the controller hint, every failure a Kafka code. */
  private unary<Req, Res>(
    method: string,
    handle: (request: Req) => Promise<Res>,
    failed: (error: ErrorFields, request: Req) => Res,
  ): grpc.handleUnaryCall<Req, Res & { controller: wire.ControllerHint }> {
    return (call, callback) => {
      handle(call.request).then(
        (response) => callback(null, { ...response, controller: this.hint() }),
        (error: unknown) => {
          if (!(error instanceof RunnelError)) this.log.error({ err: error, method }, 'controller request failed unexpectedly');
          const fields = error instanceof RunnelError ? errorFields(error) : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: String(error) };
          callback(null, { ...failed(fields, call.request), controller: this.hint() });
        },
      );
    };
  }

  private hint(): wire.ControllerHint {
    const view = this.node.describe();
    return { leaderId: view.leaderId, leaderEndpoint: view.leaderEndpoint };
  }

  private notController(reason: string): RunnelError {
    const { leaderId, leaderEndpoint } = this.hint();
    return new RunnelError('NOT_CONTROLLER', `node ${this.node.id} is not the active controller: ${reason}`, { details: { leaderId, leaderEndpoint } });
  }

  // ---- the decision queue --------------------------------------------------------------------

  /**
   * Queues one decision; resolves with its response once its records are committed and applied here.
   * Rejects NOT_CONTROLLER, REQUEST_TIMED_OUT or THROTTLING_QUOTA_EXCEEDED.
   */
  private submit<T>(
    what: string,
    timeoutMs: number,
    decide: (controller: QuorumController, image: MetadataImage, nowMs: number) => ControllerResult<T>,
    propose = true,
  ): Promise<T> {
    if (this.activeTerm === undefined) return Promise.reject(this.notController(this.activatingTerm === undefined ? 'not the Raft leader' : 'still activating'));
    if (this.queue.length >= this.maxPendingDecisions) {
      return Promise.reject(new RunnelError('THROTTLING_QUOTA_EXCEEDED', `${this.maxPendingDecisions} controller decisions already queued; retry later`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        job.fail(new RunnelError('REQUEST_TIMED_OUT', `${what} not decided and committed within ${timeoutMs} ms; it may still take effect`));
      }, timeoutMs);
      const job: Job = {
        what,
        deadlineAtMs: this.clock.nowMs() + timeoutMs,
        settled: false,
        fail: (error) => {
          if (job.settled) return;
          job.settled = true;
          clearTimeout(timer);
          reject(error);
        },
        run: async () => {
          const response = await this.decideAndCommit(job, (c, image, nowMs) => ({ result: decide(c, image, nowMs), propose }));
          if (job.settled) return;
          job.settled = true;
          clearTimeout(timer);
          resolve(response);
        },
      };
      this.queue.push(job);
      this.kickQueue();
    });
  }

  private kickQueue(): void {
    if (this.draining) return;
    this.draining = true;
    this.drainDone = this.drain();
  }

  /** Never rejects: a job's failure settles that job only. */
  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        if (job.settled) continue;
        this.inFlight = job;
        try {
          await job.run();
        } catch (error) {
          job.fail(error instanceof RunnelError ? error : new RunnelError('UNKNOWN_SERVER_ERROR', `${job.what} failed: ${String(error)}`, { cause: error }));
          if (!(error instanceof RunnelError)) this.log.error({ err: error, what: job.what }, 'controller decision failed unexpectedly');
        }
      }
    } finally {
      this.inFlight = undefined;
      this.draining = false;
    }
  }

  private async decideAndCommit<T>(job: Job, decide: (c: QuorumController, image: MetadataImage, nowMs: number) => Decision<T>): Promise<T> {
    if (this.barrierNeeded) {
      await this.commit(job, encodeRecordBatch([{ type: 'NoOp', version: 1 }]));
      this.barrierNeeded = false;
    }
    const controller = this.checkActive();
    const { result, propose } = decide(controller, this.machine.image, this.clock.nowMs());
    if (!propose || result.records.length === 0) return result.response;
    await this.commit(job, encodeRecordBatch(result.records));
    if (this.controller === controller) controller.setCommittedOffset(this.machine.appliedOffset);
    if (result.uncleanElections.length > 0) {
      this.log.error({ what: job.what, uncleanElections: result.uncleanElections }, 'UNCLEAN leader election: records acknowledged only by the previous ISR may be lost');
    }
    return result.response;
  }

  private checkActive(): QuorumController {
    const status = this.node.status();
    if (this.controller === undefined || this.activeTerm === undefined) throw this.notController('not the Raft leader');
    if (status.role !== 'leader' || status.term !== this.activeTerm) {
      // Nothing of this decision is proposed yet: the caller gets a plain NOT_CONTROLLER from the throw.
      this.deactivate(`lost leadership of term ${this.activeTerm}`, false);
      throw this.notController('lost leadership');
    }
    return this.controller;
  }

  private async commit(job: Job, data: Uint8Array): Promise<void> {
    this.checkActive();
    const remainingMs = job.deadlineAtMs - this.clock.nowMs();
    if (remainingMs <= 0) throw new RunnelError('REQUEST_TIMED_OUT', `${job.what} expired before it was proposed`);
    try {
      await this.node.propose(data, remainingMs);
    } catch (error) {
      const written = !(error instanceof RunnelError && error.codeName === 'NOT_CONTROLLER' && error.details['outcomeUnknown'] !== true);
      if (written) this.barrierNeeded = true;
      throw error;
    }
  }

  // ---- leadership ----------------------------------------------------------------------------

  private readonly onLeaderChange = (leaderId: number, term: number): void => {
    const previous = this.leaderId;
    this.leaderId = leaderId;
    if (previous !== 0 && previous !== this.node.id && previous !== leaderId) {
      // Losing the leader to an election timeout (leaderId 0) means nothing was heard from it for at
      // least the election timeout; learning of a successor directly bounds nothing but "until now".
      const nowMs = this.clock.nowMs();
      this.lostLeader = { id: previous, lastHeardMs: leaderId === 0 ? nowMs - (this.options.electionTimeoutMs ?? 0) : nowMs };
    }
    if (leaderId === this.node.id) this.activate(term);
    else this.deactivate(leaderId === 0 ? 'no leader' : `node ${leaderId} leads term ${term}`);
  };

  private activate(term: number): void {
    if (this.stopped || this.activeTerm === term || this.activatingTerm === term) return;
    if (this.activeTerm !== undefined) this.deactivate(`term ${term} began`);
    this.activatingTerm = term;
    void this.completeActivation(term);
  }

  /**
   * A new leader's image may lack entries committed by its predecessor; the read barrier returns once
   * this term's first entry is committed and everything before it is applied here (Raft §8).
   */
  private async completeActivation(term: number): Promise<void> {
    const stillLeading = () => {
      const status = this.node.status();
      return !this.stopped && this.activatingTerm === term && status.role === 'leader' && status.term === term;
    };
    try {
      await this.node.readIndex(this.activationTimeoutMs);
    } catch (error) {
      if (!stillLeading()) return;
      this.log.warn({ err: error, term }, 'read barrier before activation failed; retrying');
      const timer = setTimeout(() => {
        this.activationTimers.delete(timer);
        if (stillLeading()) void this.completeActivation(term);
      }, CONTROLLER_SERVER_DEFAULTS.activationRetryDelayMs);
      this.activationTimers.add(timer);
      return;
    }
    if (!stillLeading()) return;
    const controller = new QuorumController(this.options.config ?? {}, this.random);
    // Fresh sessions: this node does not know when brokers last heartbeated to its predecessor, except
    // that the predecessor's own node (a broker too, in combined mode) went silent when it did.
    const lost = this.lostLeader;
    this.lostLeader = undefined;
    const lastHeardMs = lost === undefined ? new Map<number, number>() : new Map([[lost.id, lost.lastHeardMs]]);
    controller.activate(this.machine.image, this.clock.nowMs(), lastHeardMs);
    if (lost !== undefined) this.log.info({ previousController: lost.id, silentForMs: this.clock.nowMs() - lost.lastHeardMs }, 'counting the previous controller\'s broker session from when it was last heard');
    controller.setCommittedOffset(this.machine.appliedOffset);
    this.controller = controller;
    this.activeTerm = term;
    this.activatingTerm = undefined;
    this.barrierNeeded = false;
    this.tickTimer = setInterval(() => this.onTick(), this.tickIntervalMs);
    this.log.info({ term, metadataOffset: this.machine.appliedOffset, brokers: this.machine.image.brokers.size }, 'became active controller');
  }

  private deactivate(reason: string, failInFlight = true): void {
    this.activatingTerm = undefined;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    const wasActive = this.activeTerm !== undefined;
    this.activeTerm = undefined;
    this.controller = undefined;
    const queued = this.queue.splice(0);
    if (queued.length > 0) {
      const error = this.notController(reason);
      for (const job of queued) job.fail(error);
    }
    // The raft proposal in flight may still commit under the next leader, so its caller hears at once
    // that the outcome is unknown instead of waiting out its timeout; the drain loop still awaits it.
    const inFlight = this.inFlight;
    if (failInFlight && inFlight !== undefined && !inFlight.settled) {
      const { leaderId, leaderEndpoint } = this.hint();
      inFlight.fail(new RunnelError('NOT_CONTROLLER', `${inFlight.what}: node ${this.node.id} lost leadership while deciding (${reason}); it may still take effect`, {
        details: { leaderId, leaderEndpoint, outcomeUnknown: true },
      }));
    }
    if (wasActive) this.log.info({ reason, failedRequests: queued.length }, 'no longer the active controller');
  }

  private onTick(): void {
    if (this.tickQueued || this.activeTerm === undefined) return;
    this.tickQueued = true;
    this.submit('tick', this.requestTimeoutMs, (c, image, nowMs) => c.tick(image, nowMs)).then(
      (response) => {
        this.tickQueued = false;
        if (response.fencedBrokers.length > 0) this.log.warn({ fencedBrokers: response.fencedBrokers }, 'fenced brokers whose sessions expired');
        if (response.changedPartitions.length > 0) this.log.info({ partitions: response.changedPartitions.length }, 'partition leaders changed');
      },
      (error: unknown) => {
        this.tickQueued = false;
        this.log.debug({ err: error }, 'controller tick failed');
      },
    );
  }
}
