// The driver around RaftCore: a real clock, LevelDB, gRPC and the application's state machine.
//
// All input (ticks, inbound messages, proposals, reads, transfers) lands in an inbox, and one serial
// loop feeds the inbox to the core and then works off its Ready in the order types.ts prescribes:
// send `messages`, persist (one synced LevelDB batch), send `messagesAfterPersist`, restore a
// snapshot, apply committed entries, advance. The core is therefore never touched while a Ready is
// half done, no two persists overlap, nothing is applied before it is durable, and input that arrives
// during an fsync is handed over together afterwards, so one fsync covers all of it (group commit).

import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { RunnelError } from '@runnel/protocol';
import { RaftCore } from '../core/raft.js';
import { NO_NODE } from '../core/types.js';
import type { Entry, Message, NodeId, ProposeResult, RaftConfig, RaftStatus, Ready, Snapshot, SoftState } from '../core/types.js';
import type { Clock } from './clock.js';
import { SYSTEM_CLOCK } from './clock.js';
import { GrpcTransport, createRaftServiceHandlers } from './grpc-transport.js';
import { LevelStorage } from './level-storage.js';
import { quorumView } from './quorum-view.js';
import type { QuorumView } from './quorum-view.js';
import type { StateMachine } from './state-machine.js';
import { PendingRequests } from './pending-requests.js';
import type { Waiter } from './waiter.js';

export interface RaftNodeOptions {
  id: NodeId;
  clusterId: string;
  /** Voter id -> "host:port" of its controller listener. */
  voters: ReadonlyMap<NodeId, string>;
  /**
   * host:port of this node's Raft listener, sent with every batch. Defaults to its voter endpoint; an
   * observer must set it, or leaders cannot reach it.
   */
  advertisedEndpoint?: string;
  /** `<data-dir>/__cluster_metadata`: LevelDB lives here. */
  metadataDir: string;
  stateMachine: StateMachine;
  logger: Logger;
  tickMs?: number;
  /** Election timeout is randomised in [electionTicks, 2 * electionTicks) ticks. */
  electionTicks?: number;
  heartbeatTicks?: number;
  snapshotEveryEntries?: number;
  /** Deadline on every Deliver call. */
  rpcTimeoutMs?: number;
  clock?: Clock;
  /** Proposals queued or awaiting commit; past it `propose` refuses at once. */
  maxPendingProposals?: number;
  /** Read barriers outstanding; past it `readIndex` refuses at once. */
  maxPendingReads?: number;
}

export const RAFT_NODE_DEFAULTS = Object.freeze({
  tickMs: 100,
  electionTicks: 5,
  heartbeatTicks: 1,
  snapshotEveryEntries: 10_000,
  rpcTimeoutMs: 1_000,
  proposeTimeoutMs: 5_000,
  readIndexTimeoutMs: 5_000,
  maxPendingProposals: 4_096,
  maxPendingReads: 1_024,
  maxPendingTransfers: 16,
  /** Inbound messages waiting for the loop (during an fsync); past it the oldest are dropped. */
  maxInboundMessages: 8_192,
  maxInflightAppends: 16,
  maxEntriesPerAppend: 256,
  maxUncommittedEntries: 8_192,
});

export interface RaftNodeEvents {
  /** The known leader or its term changed; `leaderId` is NO_NODE (0) while no leader is known. */
  'leader-change': [leaderId: NodeId, term: number];
  /** The node stopped itself on a storage error or a broken invariant; only emitted when listened to. */
  error: [error: Error];
}

export interface RaftNodeCounters {
  readonly leaderChanges: number;
  readonly electionsStarted: number;
}

type NodeState = 'opened' | 'running' | 'stopping' | 'stopped' | 'failed';

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function invalidTimeout(timeoutMs: number): RangeError | undefined {
  return timeoutMs > 0 && Number.isFinite(timeoutMs) ? undefined : new RangeError(`timeoutMs must be a positive finite number, got ${timeoutMs}`);
}

export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly snapshotEveryEntries: number;
  private readonly transport: GrpcTransport;

  private state: NodeState = 'opened';
  private tickTimer: NodeJS.Timeout | undefined;
  private lastTickAtMs = 0;

  // The inbox, drained at the top of every loop iteration.
  private pendingTicks = 0;
  private inbound: Message[] = [];
  /** Caller requests for the core; their waits live in `pending`, so a stop fails them there. */
  private commands: Array<() => void> = [];
  private droppedInbound = 0;

  private loopRunning = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stopDone: Promise<void> | undefined;

  private softState: SoftState;
  private leaderChanges = 0;
  private electionsStarted = 0;
  private appliedIndex: number;
  private appliedTerm: number;
  private appliedSinceSnapshot = 0;

  private readonly pending: PendingRequests;

  private constructor(
    private readonly options: RaftNodeOptions,
    private readonly core: RaftCore,
    private readonly storage: LevelStorage,
    restoredSnapshot: Snapshot | undefined,
  ) {
    super();
    this.id = options.id;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.tickMs = options.tickMs ?? RAFT_NODE_DEFAULTS.tickMs;
    this.electionTicks = options.electionTicks ?? RAFT_NODE_DEFAULTS.electionTicks;
    this.snapshotEveryEntries = positiveInteger(options.snapshotEveryEntries ?? RAFT_NODE_DEFAULTS.snapshotEveryEntries, 'snapshotEveryEntries');
    this.pending = new PendingRequests(
      {
        maxProposals: positiveInteger(options.maxPendingProposals ?? RAFT_NODE_DEFAULTS.maxPendingProposals, 'maxPendingProposals'),
        maxReads: positiveInteger(options.maxPendingReads ?? RAFT_NODE_DEFAULTS.maxPendingReads, 'maxPendingReads'),
        maxTransfers: RAFT_NODE_DEFAULTS.maxPendingTransfers,
      },
      (leaderId, reason, refusalOptions) => this.notController(leaderId, reason, refusalOptions),
    );
    this.log = options.logger.child({ component: 'raft', nodeId: options.id });
    this.transport = new GrpcTransport({
      selfId: options.id,
      clusterId: options.clusterId,
      peers: options.voters,
      selfEndpoint: options.advertisedEndpoint ?? options.voters.get(options.id) ?? '',
      rpcTimeoutMs: positiveInteger(options.rpcTimeoutMs ?? RAFT_NODE_DEFAULTS.rpcTimeoutMs, 'rpcTimeoutMs'),
      logger: this.log,
      clock: this.clock,
    });
    const status = core.status();
    this.softState = { role: status.role, leaderId: status.leaderId, term: status.term };
    this.appliedIndex = restoredSnapshot?.metadata.index ?? 0;
    this.appliedTerm = restoredSnapshot?.metadata.term ?? 0;
  }

  /** Opens (or creates) the metadata log, restores the state machine from its snapshot and builds the core. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    positiveInteger(options.id, 'id');
    if (options.voters.size === 0) throw new RangeError('a metadata quorum needs at least one voter');
    for (const voterId of options.voters.keys()) positiveInteger(voterId, 'voter id');
    const tickMs = positiveInteger(options.tickMs ?? RAFT_NODE_DEFAULTS.tickMs, 'tickMs');
    const electionTicks = positiveInteger(options.electionTicks ?? RAFT_NODE_DEFAULTS.electionTicks, 'electionTicks');
    const heartbeatTicks = positiveInteger(options.heartbeatTicks ?? RAFT_NODE_DEFAULTS.heartbeatTicks, 'heartbeatTicks');
    if (heartbeatTicks >= electionTicks) throw new RangeError(`heartbeatTicks (${heartbeatTicks}) must be below electionTicks (${electionTicks})`);

    const storage = await LevelStorage.open(options.metadataDir);
    try {
      const persisted = await storage.load();
      if (persisted.snapshot !== undefined) options.stateMachine.restore(persisted.snapshot.data);
      const config: RaftConfig = {
        id: options.id,
        voters: [...options.voters.keys()].sort((a, b) => a - b),
        electionTicks,
        heartbeatTicks,
        checkQuorum: true,
        preVote: true,
        maxInflightAppends: RAFT_NODE_DEFAULTS.maxInflightAppends,
        maxEntriesPerAppend: RAFT_NODE_DEFAULTS.maxEntriesPerAppend,
        maxUncommittedEntries: RAFT_NODE_DEFAULTS.maxUncommittedEntries,
        random: { int: (maxExclusive) => randomInt(maxExclusive) },
      };
      const core = new RaftCore(config, persisted);
      const node = new RaftNode(options, core, storage, persisted.snapshot);
      node.log.info(
        { tickMs, term: persisted.hardState.term, commitIndex: persisted.hardState.commitIndex, snapshotIndex: persisted.snapshot?.metadata.index ?? 0, entries: persisted.entries.length },
        'raft metadata log opened',
      );
      return node;
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  /** runnel.v1.Raft handlers for this node: `server.addService(RAFT_SERVICE, node.raftServiceHandlers())`. */
  raftServiceHandlers(): grpc.UntypedServiceImplementation {
    return createRaftServiceHandlers({
      selfId: this.id,
      clusterId: this.options.clusterId,
      logger: this.log,
      clock: this.clock,
      deliver: (messages) => this.receive(messages),
      learnPeer: (peer, endpoint) => this.transport.learnPeer(peer, endpoint),
    });
  }

  /** Starts the clock. The interval stays ref'd: a running quorum member is what keeps a server alive. */
  start(): void {
    if (this.state !== 'opened') throw new Error(`raft node ${this.id} cannot start from state ${this.state}`);
    this.state = 'running';
    this.lastTickAtMs = this.clock.nowMs();
    this.tickTimer = setInterval(() => this.onTickTimer(), this.tickMs);
    this.kick();
  }

  /** Resolves once the entry is committed and applied here; see RunnelError codes in api.md. */
  propose(data: Uint8Array, timeoutMs: number = RAFT_NODE_DEFAULTS.proposeTimeoutMs): Promise<{ index: number; term: number }> {
    const refusal = invalidTimeout(timeoutMs) ?? this.refuseUnlessRunningLeader();
    if (refusal !== undefined) return Promise.reject(refusal);
    const ticket = this.pending.openProposal(timeoutMs);
    if (ticket instanceof RunnelError) return Promise.reject(ticket);
    // A private copy: the caller may reuse its buffer, and the core keeps this one until it is compacted.
    const copy = new Uint8Array(data);
    this.commands.push(() => {
      if (ticket.waiter.settled) return;
      const result = this.core.propose(copy);
      if (result.ok) this.pending.proposalAccepted(ticket, result.index, result.term);
      else this.pending.proposalRefused(ticket, this.proposeRefusal(result));
    });
    this.kick();
    return ticket.waiter.promise;
  }

  /** Linearizable read barrier (ReadIndex): resolves with the read index once this node has applied it. */
  readIndex(timeoutMs: number = RAFT_NODE_DEFAULTS.readIndexTimeoutMs): Promise<number> {
    const refusal = invalidTimeout(timeoutMs) ?? this.refuseUnlessRunningLeader();
    if (refusal !== undefined) return Promise.reject(refusal);
    const ticket = this.pending.openRead(timeoutMs);
    if (ticket instanceof RunnelError) return Promise.reject(ticket);
    this.commands.push(() => {
      if (ticket.waiter.settled) return;
      const result = this.core.readIndex(ticket.requestId);
      if (!result.ok) this.pending.readRefused(ticket, this.notController(result.leaderId, 'lost leadership before the read'));
    });
    this.kick();
    return ticket.waiter.promise;
  }

  /**
   * Hands leadership to `targetId`, or to the most up-to-date other voter when omitted (thesis §3.10),
   * and resolves with the new leader's id once this node hears from it.
   */
  transferLeadership(targetId?: NodeId, timeoutMs?: number): Promise<NodeId> {
    const refusal = (timeoutMs === undefined ? undefined : invalidTimeout(timeoutMs)) ?? this.refuseUnlessRunningLeader();
    if (refusal !== undefined) return Promise.reject(refusal);
    // Long enough for the target to catch up and win an election with the slowest randomised timeout.
    const waitMs = timeoutMs ?? Math.max(5_000, 4 * this.electionTicks * this.tickMs);
    const waiter = this.pending.openTransfer(waitMs, `leadership transfer${targetId === undefined ? '' : ` to ${targetId}`}`);
    if (waiter instanceof RunnelError) return Promise.reject(waiter);
    this.commands.push(() => this.startTransfer(waiter, targetId));
    this.kick();
    return waiter.promise;
  }

  describe(): QuorumView {
    const status = this.core.status();
    const endpoints = new Map(this.options.voters);
    for (const peer of status.progress) {
      const learned = endpoints.has(peer.id) ? undefined : this.transport.endpointOf(peer.id);
      if (learned !== undefined) endpoints.set(peer.id, learned);
    }
    return quorumView(status, endpoints, this.tickMs);
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /**
   * Counters since this node opened (for metrics): times a new leader became known, and elections
   * this node started (each a candidacy in a new term, as far as the soft-state changes show them;
   * pre-votes that went nowhere are not counted).
   */
  counters(): RaftNodeCounters {
    return { leaderChanges: this.leaderChanges, electionsStarted: this.electionsStarted };
  }

  /** Stops the clock, finishes the Ready in progress, fails every wait, closes peer channels and LevelDB. */
  stop(): Promise<void> {
    this.stopDone ??= this.shutdown();
    return this.stopDone;
  }

  // ---------------------------------------------------------------------------------------------
  // The loop

  private receive(messages: readonly Message[]): void {
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return;
    this.inbound.push(...messages);
    const excess = this.inbound.length - RAFT_NODE_DEFAULTS.maxInboundMessages;
    if (excess > 0) {
      // Raft recovers from lost messages; an unbounded inbox behind a stalled disk would not recover.
      this.inbound.splice(0, excess);
      this.droppedInbound += excess;
      this.log.debug({ dropped: excess, droppedTotal: this.droppedInbound }, 'raft inbox full: dropped oldest messages');
    }
    this.kick();
  }

  private onTickTimer(): void {
    // Catch up ticks the event loop missed (a long GC pause, say), bounded so one late timer cannot
    // fire more than an election timeout's worth at once.
    const nowMs = this.clock.nowMs();
    const owed = Math.floor((nowMs - this.lastTickAtMs) / this.tickMs);
    const ticks = Math.min(Math.max(owed, 1), this.electionTicks);
    this.lastTickAtMs = owed > this.electionTicks ? nowMs : this.lastTickAtMs + ticks * this.tickMs;
    this.pendingTicks = Math.min(this.pendingTicks + ticks, this.electionTicks);
    this.kick();
  }

  private kick(): void {
    if (this.loopRunning || this.state !== 'running') return;
    this.loopRunning = true;
    this.loopDone = this.runLoop();
  }

  /** Never rejects: a failure stops the node through `fail`. */
  private async runLoop(): Promise<void> {
    try {
      while (this.state === 'running') {
        this.feedCore();
        if (!this.core.hasReady()) break;
        const ready = this.core.ready();
        await this.handleReady(ready);
        this.core.advance(ready);
        this.pending.resolveReads(this.appliedIndex);
        await this.maybeSnapshot();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.loopRunning = false;
    }
  }

  /** Inbound messages first, so heartbeats that queued up during an fsync count before elapsed ticks do. */
  private feedCore(): void {
    const messages = this.inbound;
    this.inbound = [];
    for (const message of messages) this.core.step(message);
    const commands = this.commands;
    this.commands = [];
    for (const command of commands) command();
    const ticks = this.pendingTicks;
    this.pendingTicks = 0;
    for (let i = 0; i < ticks; i++) this.core.tick();
  }

  private async handleReady(ready: Ready): Promise<void> {
    if (ready.softState !== undefined) this.onSoftState(ready.softState);
    this.transport.send(ready.messages);
    if (ready.snapshot !== undefined || ready.entries.length > 0 || ready.hardState !== undefined) {
      await this.storage.persist(ready);
    }
    // Votes and append acks promise what is now on disk (Raft §5.1: persist before responding).
    this.transport.send(ready.messagesAfterPersist);
    if (ready.snapshot !== undefined) this.installSnapshot(ready.snapshot);
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    this.pending.onReadStates(ready.readStates);
    this.pending.onReadFailures(ready.readFailures);
  }

  private applyEntry(entry: Entry): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`apply out of order: entry ${entry.index} after applied index ${this.appliedIndex}`);
    }
    if (entry.type === 'normal') this.options.stateMachine.apply(entry);
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    this.appliedSinceSnapshot++;
    this.pending.onApplied(entry, this.softState.leaderId);
  }

  private installSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    this.options.stateMachine.restore(snapshot.data);
    this.appliedIndex = index;
    this.appliedTerm = term;
    this.appliedSinceSnapshot = 0;
    this.pending.onSnapshotInstalled(index, this.softState.leaderId);
    this.log.info({ index, term, bytes: snapshot.data.byteLength }, 'installed snapshot from leader');
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.appliedSinceSnapshot < this.snapshotEveryEntries) return;
    const snapshot: Snapshot = {
      metadata: { index: this.appliedIndex, term: this.appliedTerm, voters: this.core.status().voters },
      data: this.options.stateMachine.snapshot(),
    };
    // Disk first: if the process dies in between, the log still covers what the core would have dropped.
    await this.storage.compact(snapshot);
    this.core.compact(snapshot);
    this.appliedSinceSnapshot = 0;
    this.log.info({ index: snapshot.metadata.index, term: snapshot.metadata.term, bytes: snapshot.data.byteLength }, 'took metadata snapshot');
  }

  private onSoftState(next: SoftState): void {
    const previous = this.softState;
    this.softState = next;
    if (next.leaderId !== NO_NODE && next.leaderId !== previous.leaderId) this.leaderChanges += 1;
    // A new term in which this node is a candidate or the leader is one it started an election for
    // (a single voter can go from follower to leader within one Ready, never showing as candidate).
    if (next.term > previous.term && (next.role === 'candidate' || next.role === 'leader')) this.electionsStarted += 1;
    const fields = { term: next.term, leaderId: next.leaderId };
    // Info only for what an operator acts on; election attempts of a cut-off node would repeat every timeout.
    if (next.role === 'leader' && previous.role !== 'leader') this.log.info(fields, 'became leader');
    else if (next.leaderId !== previous.leaderId && next.leaderId !== NO_NODE) this.log.info(fields, 'following leader');
    else if (next.leaderId !== previous.leaderId) this.log.info({ ...fields, previousLeaderId: previous.leaderId }, 'leader lost');
    else if (next.role !== previous.role) this.log.debug(fields, `became ${next.role}`);

    if (next.leaderId !== NO_NODE && next.leaderId !== this.id) {
      this.pending.onOtherLeader(next.leaderId);
    }
    if (next.leaderId !== previous.leaderId || (next.term !== previous.term && next.leaderId !== NO_NODE)) {
      try {
        this.emit('leader-change', next.leaderId, next.term);
      } catch (error) {
        // A listener's bug must not take the quorum member down with it.
        this.log.error({ err: error }, 'leader-change listener threw');
      }
    }
  }

  private startTransfer(waiter: Waiter<NodeId>, targetId: NodeId | undefined): void {
    if (waiter.settled) return;
    const status = this.core.status();
    if (status.role !== 'leader') {
      this.pending.transferRefused(waiter, this.notController(status.leaderId, 'only the leader can transfer leadership'));
      return;
    }
    const target = targetId ?? this.mostUpToDateVoter(status);
    if (target === undefined) {
      this.pending.transferRefused(waiter, new RunnelError('VOTER_NOT_FOUND', `no other voter to transfer leadership to from node ${this.id}`));
      return;
    }
    if (target === this.id) {
      this.pending.transferDone(waiter, this.id);
      return;
    }
    const result = this.core.transferLeadership(target);
    if (!result.ok && result.reason === 'not-leader') {
      this.pending.transferRefused(waiter, this.notController(result.leaderId, 'only the leader can transfer leadership'));
      return;
    }
    if (!result.ok && result.reason === 'unknown-target') {
      const error = new RunnelError('VOTER_NOT_FOUND', `node ${target} is not a voter of this quorum`, { details: { targetId: target } });
      this.pending.transferRefused(waiter, error);
      return;
    }
    // Started, or already under way (to this or another target): either way the next leader settles it.
    this.log.info({ term: status.term, targetId: target }, 'transferring leadership');
  }

  /**
   * The voter to hand leadership to: the most caught-up one among those heard from within an election
   * timeout. A voter that has gone silent (down, or cut off) could not win the election it is asked to
   * start, so it is chosen only when no live voter exists.
   */
  private mostUpToDateVoter(status: RaftStatus): NodeId | undefined {
    let best: { id: NodeId; matchIndex: number; live: boolean } | undefined;
    for (const p of status.progress) {
      if (!p.voter || p.id === this.id) continue;
      const live = p.ticksSinceContact < this.electionTicks;
      const better = best === undefined || (live && !best.live) || (live === best.live && p.matchIndex > best.matchIndex);
      if (better) best = { id: p.id, matchIndex: p.matchIndex, live };
    }
    return best?.id;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors and shutdown

  private refuseUnlessRunningLeader(): RunnelError | undefined {
    if (this.state !== 'running') return this.notRunning();
    if (this.softState.role !== 'leader') return this.notController(this.softState.leaderId, 'not the leader');
    return undefined;
  }

  private notRunning(): RunnelError {
    return this.notController(NO_NODE, `raft node is ${this.state}`);
  }

  /**
   * `outcomeUnknown` marks a proposal that reached the log but whose fate this node cannot tell (it may
   * still commit elsewhere): a caller must check before retrying it, unlike every other refusal here.
   */
  private notController(leaderId: NodeId, reason: string, options: { outcomeUnknown?: boolean; cause?: Error } = {}): RunnelError {
    const leaderEndpoint = this.options.voters.get(leaderId) ?? '';
    const leader = leaderId === NO_NODE ? 'unknown' : `${leaderId} at ${leaderEndpoint}`;
    const details: Record<string, unknown> = { leaderId, leaderEndpoint };
    if (options.outcomeUnknown === true) details['outcomeUnknown'] = true;
    return new RunnelError('NOT_CONTROLLER', `node ${this.id} cannot serve this (${reason}); the leader is ${leader}`, { details, cause: options.cause });
  }

  private proposeRefusal(result: Extract<ProposeResult, { ok: false }>): RunnelError {
    switch (result.reason) {
      case 'not-leader':
        return this.notController(result.leaderId, 'not the leader');
      case 'transferring':
        return this.notController(result.leaderId, 'leadership transfer in progress');
      case 'too-many-uncommitted':
        return new RunnelError('THROTTLING_QUOTA_EXCEEDED', `too many uncommitted entries on leader ${this.id}: followers are behind; retry later`);
      default: {
        const unhandled: never = result.reason;
        throw new Error(`unhandled propose refusal ${String(unhandled)}`);
      }
    }
  }

  private failAllWaits(reason: string, cause?: Error): void {
    this.commands = [];
    this.pending.failAll(reason, cause);
  }

  private fail(error: unknown): void {
    if (this.state === 'failed' || this.state === 'stopped') return;
    const cause = error instanceof Error ? error : new Error(String(error));
    this.log.error({ err: cause }, 'raft node stopped on an unrecoverable error');
    this.state = 'failed';
    this.clearTicker();
    this.failAllWaits(`raft node failed: ${cause.message}`, cause);
    if (this.listenerCount('error') > 0) this.emit('error', cause);
  }

  private async shutdown(): Promise<void> {
    if (this.state !== 'failed') this.state = 'stopping';
    this.clearTicker();
    await this.loopDone;
    this.failAllWaits('raft node is shutting down');
    await this.transport.close();
    await this.storage.close();
    this.state = 'stopped';
    this.log.info('raft node stopped');
  }

  private clearTicker(): void {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }
}
