// SimCluster: N RaftCores wired to a simulated network, each driven exactly as the Ready contract in
// core/types.ts tells a real driver to (persist, then send what waits for persistence, then apply,
// then advance), with an in-memory "disk" per node that survives simulated crashes. Everything is
// driven by one seed; the SafetyChecker watches every event.

import { RaftCore } from '../core/raft.js';
import type { Message, NodeId, ProposeResult, RaftConfig, RaftStatus, ReadIndexResult, Snapshot, TransferResult } from '../core/types.js';
import { SafetyChecker, type CheckedNode, type InvariantName } from './invariants.js';
import { KvStateMachine, encodeWrite, type KvWrite } from './kv-state-machine.js';
import { MemoryStorage } from './memory-storage.js';
import { PERFECT_NETWORK, SimNetwork, type NetworkFaults } from './network.js';
import { Prng } from './prng.js';

export interface SimClusterOptions {
  readonly seed: number;
  readonly voterCount: number;
  readonly observerCount?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxInflightAppends?: number;
  readonly maxEntriesPerAppend?: number;
  readonly maxUncommittedEntries?: number;
  /** The app snapshots and compacts once this many entries were applied past its last snapshot. */
  readonly snapshotEveryEntries?: number;
  readonly maxInFlightMessages?: number;
  /** Verbose sink: receives every event (message deliveries included) as one line. */
  readonly trace?: (line: string) => void;
  /** How many recent events a violation report quotes. */
  readonly recentEventsMax?: number;
}

/** Thrown on any broken invariant; the message starts with RAFT_SEED=<seed> so a CI log says how to replay. */
export class InvariantViolation extends Error {
  constructor(
    readonly seed: number,
    readonly invariant: InvariantName,
    readonly step: number,
    detail: string,
    recentEvents: readonly string[],
  ) {
    super(
      `RAFT_SEED=${seed} invariant ${invariant} violated at step ${step}: ${detail}\n` +
        `last events:\n  ${recentEvents.join('\n  ')}`,
    );
    this.name = 'InvariantViolation';
  }
}

export interface SimStats {
  proposalsAccepted: number;
  proposalsRefused: number;
  writesAcknowledged: number;
  readsRequested: number;
  readsFailed: number;
  transfersStarted: number;
  crashes: number;
  restarts: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
}

/** Bound on Ready rounds per node per event: a core that keeps producing Readies is livelocked. */
const MAX_READY_ROUNDS = 64;
const KEY_SPACE = 8;

export class SimNode implements CheckedNode {
  core: RaftCore | undefined;
  sm: KvStateMachine | undefined;
  readonly storage = new MemoryStorage();
  /** Crash in the middle of the next Ready: after sending `messages`, before persisting anything. */
  tornCrashPending = false;
  /** Writes proposed here, by id, until this node applies them (that is when a driver acks a client). */
  readonly pendingWrites = new Set<number>();

  constructor(
    readonly id: NodeId,
    readonly voter: boolean,
  ) {}

  get live(): boolean {
    return this.core !== undefined;
  }

  status(): RaftStatus | undefined {
    return this.core?.status();
  }
}

export class SimCluster {
  readonly seed: number;
  /** The scheduler's and clients' randomness (the network and each core have their own streams). */
  readonly random: Prng;
  readonly network: SimNetwork;
  readonly checker: SafetyChecker;
  readonly voterIds: readonly NodeId[];
  readonly observerIds: readonly NodeId[];
  readonly stats: SimStats = {
    proposalsAccepted: 0, proposalsRefused: 0, writesAcknowledged: 0, readsRequested: 0, readsFailed: 0,
    transfersStarted: 0, crashes: 0, restarts: 0, snapshotsTaken: 0, snapshotsInstalled: 0,
  };
  private readonly nodesById = new Map<NodeId, SimNode>();
  private readonly nodeList: SimNode[] = [];
  private readonly options: Required<Omit<SimClusterOptions, 'trace'>> & Pick<SimClusterOptions, 'trace'>;
  private stepCount = 0;
  private nextWriteId = 1;
  private nextReadId = 1;
  private readonly recent: string[] = [];

  constructor(options: SimClusterOptions) {
    this.options = {
      observerCount: 0, electionTicks: 10, heartbeatTicks: 2, preVote: true, checkQuorum: true,
      maxInflightAppends: 4, maxEntriesPerAppend: 8, maxUncommittedEntries: 64, snapshotEveryEntries: 20,
      maxInFlightMessages: 5_000, recentEventsMax: 40, ...options,
    };
    this.seed = options.seed;
    const root = new Prng(options.seed);
    this.random = root.fork();
    this.network = new SimNetwork(root.fork(), this.options.maxInFlightMessages);
    this.checker = new SafetyChecker((invariant, detail) => this.fail(invariant, detail));
    const voterIds: NodeId[] = [];
    const observerIds: NodeId[] = [];
    for (let i = 1; i <= options.voterCount; i++) voterIds.push(i);
    for (let i = 1; i <= this.options.observerCount; i++) observerIds.push(options.voterCount + i);
    this.voterIds = voterIds;
    this.observerIds = observerIds;
    for (const id of [...voterIds, ...observerIds]) {
      const node = new SimNode(id, voterIds.includes(id));
      this.nodesById.set(id, node);
      this.nodeList.push(node);
      this.boot(node);
    }
  }

  get step(): number {
    return this.stepCount;
  }

  get nodes(): readonly SimNode[] {
    return this.nodeList;
  }

  node(id: NodeId): SimNode {
    const node = this.nodesById.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The live node that believes it leads in the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.nodeList) {
      const core = node.core;
      if (core !== undefined && core.role === 'leader' && core.term > bestTerm) {
        best = node;
        bestTerm = core.term;
      }
    }
    return best;
  }

  /** Every live node that believes it is leader (several only across different terms). */
  leaders(): SimNode[] {
    return this.nodeList.filter((n) => n.core?.role === 'leader');
  }

  // --- Time -------------------------------------------------------------------------------------

  /** One simulation step: deliver what the network has due, tick every live node, check invariants. */
  runStep(): void {
    this.stepCount++;
    for (const message of this.network.advance()) {
      const node = this.nodesById.get(message.to);
      if (node?.core === undefined) continue;
      if (this.options.trace !== undefined) this.event(`deliver ${describeMessage(message)}`, true);
      node.core.step(message);
      this.processReady(node);
    }
    for (const node of this.nodeList) {
      if (node.core === undefined) continue;
      node.core.tick();
      this.processReady(node);
    }
    this.checker.afterStep(this.nodeList);
  }

  /** Hand a message to its target right now, bypassing the network (scenario tests craft delayed duplicates). */
  deliver(message: Message): void {
    const node = this.node(message.to);
    if (node.core === undefined) return;
    this.event(`inject ${describeMessage(message)}`);
    node.core.step(message);
    this.processReady(node);
  }

  runSteps(count: number): void {
    for (let i = 0; i < count; i++) this.runStep();
  }

  /** Step until `done` holds, at most `maxSteps` steps; returns whether it held. */
  runUntil(done: () => boolean, maxSteps: number): boolean {
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return true;
      this.runStep();
    }
    return done();
  }

  // --- Clients ----------------------------------------------------------------------------------

  /** Propose a fresh unique write at `nodeId` (a client that believes it is talking to the leader). */
  propose(nodeId: NodeId): ProposeResult & { readonly write: KvWrite } {
    const node = this.node(nodeId);
    const write: KvWrite = { id: this.nextWriteId++, key: `k${this.random.int(KEY_SPACE)}`, value: this.random.int(1_000_000) };
    if (node.core === undefined) {
      return { ok: false, reason: 'not-leader', leaderId: 0, write };
    }
    const result = node.core.propose(encodeWrite(write));
    if (result.ok) {
      this.stats.proposalsAccepted++;
      node.pendingWrites.add(write.id);
      this.event(`propose w${write.id} at ${nodeId} -> ${result.index}/${result.term}`);
    } else {
      this.stats.proposalsRefused++;
    }
    this.processReady(node);
    return { ...result, write };
  }

  readIndex(nodeId: NodeId): ReadIndexResult & { readonly requestId: number } {
    const node = this.node(nodeId);
    const requestId = this.nextReadId++;
    if (node.core === undefined) return { ok: false, reason: 'not-leader', leaderId: 0, requestId };
    this.checker.readRequested(nodeId, requestId);
    const result = node.core.readIndex(requestId);
    if (result.ok) {
      this.stats.readsRequested++;
      this.event(`read r${requestId} at ${nodeId}`);
    } else {
      this.checker.onReadFailure(nodeId, requestId);
    }
    this.processReady(node);
    return { ...result, requestId };
  }

  transferLeadership(fromId: NodeId, toId: NodeId): TransferResult {
    const node = this.node(fromId);
    if (node.core === undefined) return { ok: false, reason: 'not-leader', leaderId: 0 };
    const result = node.core.transferLeadership(toId);
    if (result.ok) {
      this.stats.transfersStarted++;
      this.event(`transfer ${fromId} -> ${toId}`);
    }
    this.processReady(node);
    return result;
  }

  /** Force an election at a node now (tests). */
  campaign(nodeId: NodeId): void {
    const node = this.node(nodeId);
    node.core?.campaign();
    this.processReady(node);
  }

  // --- Faults -----------------------------------------------------------------------------------

  setFaults(faults: NetworkFaults): void {
    this.network.setFaults(faults);
  }

  partition(groups: readonly (readonly NodeId[])[]): void {
    this.network.partition(groups);
    this.event(`partition ${groups.map((g) => `[${g.join(',')}]`).join(' ')}`);
  }

  heal(): void {
    this.network.heal();
    this.event('heal');
  }

  /** Stop a node: its core and state machine vanish, its disk stays. `torn`: die mid-Ready instead. */
  crash(nodeId: NodeId, torn = false): void {
    const node = this.node(nodeId);
    if (node.core === undefined) return;
    if (torn) {
      node.tornCrashPending = true;
      return;
    }
    this.kill(node, 'crash');
  }

  restart(nodeId: NodeId): void {
    const node = this.node(nodeId);
    if (node.core !== undefined) return;
    this.stats.restarts++;
    this.checker.onRestart(nodeId);
    this.boot(node);
    this.event(`restart ${nodeId} (term ${node.storage.hardState.term}, log ${node.storage.snapshotIndex}..${node.storage.lastIndex})`);
  }

  /** Heal, stop faults, restart every crashed node: the setting in which Raft must make progress. */
  stabilize(): void {
    this.heal();
    this.setFaults(PERFECT_NETWORK);
    for (const node of this.nodeList) {
      node.tornCrashPending = false;
      if (!node.live) this.restart(node.id);
    }
  }

  fail(invariant: InvariantName, detail: string): never {
    throw new InvariantViolation(this.seed, invariant, this.stepCount, detail, this.recent);
  }

  /**
   * Run `body`, turning any error that is not already a violation report (a core assertion, a
   * storage contract error) into one, so every failure names the seed and step to replay.
   */
  guard<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      if (error instanceof InvariantViolation) throw error;
      const detail = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
      throw new InvariantViolation(this.seed, 'core-assertion', this.stepCount, detail, this.recent);
    }
  }

  /** Record an event for the failure report (and the verbose trace). */
  event(line: string, verboseOnly = false): void {
    const stamped = `[${this.stepCount}] ${line}`;
    this.options.trace?.(stamped);
    if (verboseOnly) return;
    this.recent.push(stamped);
    if (this.recent.length > this.options.recentEventsMax) this.recent.shift();
  }

  // --- The driver -------------------------------------------------------------------------------

  private config(node: SimNode): RaftConfig {
    const o = this.options;
    return {
      id: node.id, voters: this.voterIds, electionTicks: o.electionTicks, heartbeatTicks: o.heartbeatTicks,
      checkQuorum: o.checkQuorum, preVote: o.preVote, maxInflightAppends: o.maxInflightAppends,
      maxEntriesPerAppend: o.maxEntriesPerAppend, maxUncommittedEntries: o.maxUncommittedEntries,
      random: this.random.fork(),
    };
  }

  /** Start (or restart) a node from what its disk holds, as a real process would. */
  private boot(node: SimNode): void {
    node.tornCrashPending = false;
    node.pendingWrites.clear();
    node.core = new RaftCore(this.config(node), node.storage.load());
    node.sm = new KvStateMachine();
    const snapshot = node.storage.snapshot;
    if (snapshot !== undefined) {
      node.sm.restore(snapshot.data);
      this.checker.onSnapshotPersisted(node, snapshot);
    }
    this.processReady(node);
  }

  private kill(node: SimNode, why: string): void {
    node.core = undefined;
    node.sm = undefined;
    node.tornCrashPending = false;
    node.pendingWrites.clear();
    this.stats.crashes++;
    this.checker.onCrash(node.id);
    this.event(`${why} ${node.id}`);
  }

  private send(node: SimNode, messages: readonly Message[]): void {
    for (const m of messages) {
      this.checker.onSend(m, node.voter);
      this.network.send(m);
    }
  }

  /** Handle every Ready the node has, in the order core/types.ts prescribes. */
  private processReady(node: SimNode): void {
    for (let round = 0; ; round++) {
      const core = node.core;
      const sm = node.sm;
      if (core === undefined || sm === undefined || !core.hasReady()) return;
      if (round >= MAX_READY_ROUNDS) this.fail('liveness', `node ${node.id} still has a Ready after ${round} rounds`);
      const rd = core.ready();
      if (rd.softState !== undefined) {
        this.checker.onSoftState(node.id, node.voter, rd.softState);
        const s = rd.softState;
        this.event(`${node.id} is ${s.role} term ${s.term} leader ${s.leaderId}`);
      }
      // `messages` do not depend on the local disk, so they may leave before the write (thesis §10.2.1).
      this.send(node, rd.messages);
      if (node.tornCrashPending) {
        this.kill(node, 'torn crash (sent messages, persisted nothing)');
        return;
      }
      const storage = node.storage;
      if (rd.snapshot !== undefined) {
        storage.installSnapshot(rd.snapshot);
        this.stats.snapshotsInstalled++;
        this.checker.onSnapshotPersisted(node, rd.snapshot);
        this.event(`${node.id} installs snapshot ${rd.snapshot.metadata.index}/${rd.snapshot.metadata.term}`);
      }
      storage.appendEntries(rd.entries);
      this.checker.onEntriesPersisted(node, rd.entries);
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      this.send(node, rd.messagesAfterPersist);
      if (rd.snapshot !== undefined) sm.restore(rd.snapshot.data);
      for (const entry of rd.committedEntries) {
        if (entry.index !== sm.appliedIndex + 1) {
          this.fail('index-order', `node ${node.id} asked to apply ${entry.index} after applying ${sm.appliedIndex}`);
        }
        sm.apply(entry);
        this.checker.onApply(node.id, entry, sm.digest, core.term);
        if (entry.type === 'normal' && node.pendingWrites.size > 0) this.acknowledge(node, entry.data);
      }
      for (const rs of rd.readStates) this.checker.onReadState(node.id, rs);
      for (const rf of rd.readFailures) {
        this.stats.readsFailed++;
        this.checker.onReadFailure(node.id, rf.requestId);
      }
      core.advance(rd);
      this.checker.serveReads(node.id, sm);
      this.maybeCompact(node, core, sm);
    }
  }

  private acknowledge(node: SimNode, data: Uint8Array): void {
    const id = Number(new TextDecoder().decode(data).split('|', 1)[0]);
    if (node.pendingWrites.delete(id)) this.stats.writesAcknowledged++;
  }

  /** The app's own log compaction: snapshot the state machine, persist it, then let the core drop the prefix. */
  private maybeCompact(node: SimNode, core: RaftCore, sm: KvStateMachine): void {
    if (sm.appliedIndex - node.storage.snapshotIndex < this.options.snapshotEveryEntries) return;
    const snapshot: Snapshot = {
      metadata: { index: sm.appliedIndex, term: sm.appliedTerm, voters: this.voterIds },
      data: sm.snapshot(),
    };
    node.storage.compact(snapshot);
    this.checker.onSnapshotPersisted(node, snapshot);
    core.compact(snapshot);
    this.stats.snapshotsTaken++;
    this.event(`${node.id} compacts to ${snapshot.metadata.index}/${snapshot.metadata.term}`, true);
  }
}

export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'vote-request':
      return `${head}${m.preVote ? ' pre' : ''}${m.leadershipTransfer ? ' transfer' : ''} last ${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'vote-response':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append-request':
      return `${head} prev ${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit ${m.leaderCommit} rs ${m.readSeq}`;
    case 'append-response':
      return `${head} ${m.success ? 'ok' : 'reject'} match ${m.matchIndex} conflict ${m.conflictIndex}/${m.conflictTerm} last ${m.lastLogIndex}`;
    case 'snapshot-request':
      return `${head} snap ${m.snapshot.metadata.index}/${m.snapshot.metadata.term} commit ${m.leaderCommit}`;
    case 'timeout-now':
      return head;
    case 'observe-request':
      return `${head} last ${m.lastLogIndex}`;
  }
}
