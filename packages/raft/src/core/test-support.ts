// Test-only helpers for the Raft core: a fixed Random, an in-memory storage that performs the
// driver's persistence duties, a tiny network that routes Ready messages between RaftCore instances,
// and the interpreter for the scripted scenarios in testdata/. Kept pure (no I/O) like the core; the
// scenario test reads and writes the files.
import { assert } from './assert.js';
import { RaftCore } from './raft.js';
import {
  EMPTY_PERSISTED_STATE,
  NO_NODE,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type PersistedState,
  type RaftConfig,
  type Random,
  type Ready,
  type Snapshot,
  type SoftState,
} from './types.js';

/** Always the same draw: every randomised election timeout is exactly `electionTicks + value`. */
export function fixedRandom(value = 0): Random {
  return { int: (maxExclusive) => Math.min(value, maxExclusive - 1) };
}

export function testConfig(id: NodeId, voters: readonly NodeId[], overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    voters,
    electionTicks: 10,
    heartbeatTicks: 1,
    checkQuorum: false,
    preVote: false,
    maxInflightAppends: 4,
    maxEntriesPerAppend: 100,
    maxUncommittedEntries: 1000,
    random: fixedRandom(),
    ...overrides,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** A log whose entry i+1 has term terms[i] (index 1 first), as tests in the paper draw them. */
export function logOfTerms(terms: readonly number[], firstIndex = 1): Entry[] {
  return terms.map((term, i) => ({ index: firstIndex + i, term, type: 'normal' as const, data: bytes(`e${firstIndex + i}`) }));
}

/** The driver's disk, with the semantics documented on Ready (types.ts) and in notes/api.md. */
export class MemoryStorage {
  hardState: HardState = EMPTY_PERSISTED_STATE.hardState;
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];

  static from(persisted: PersistedState): MemoryStorage {
    const storage = new MemoryStorage();
    storage.hardState = persisted.hardState;
    storage.snapshot = persisted.snapshot;
    storage.entries = [...persisted.entries];
    return storage;
  }

  persist(ready: Ready): void {
    if (ready.snapshot !== undefined) {
      this.snapshot = ready.snapshot;
      this.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      this.entries = this.entries.filter((e) => e.index < first.index);
      const last = this.entries[this.entries.length - 1];
      const expected = last === undefined ? (this.snapshot?.metadata.index ?? 0) + 1 : last.index + 1;
      assert(first.index === expected, `stored log would have a gap: ${first.index} after ${expected - 1}`);
      this.entries.push(...ready.entries);
    }
    if (ready.hardState !== undefined) this.hardState = ready.hardState;
  }

  /** The application snapshotted at `snapshot.metadata.index`: drop the stored prefix it covers. */
  compact(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.metadata.index);
  }

  termAt(index: number): number | undefined {
    if (this.snapshot !== undefined && index === this.snapshot.metadata.index) return this.snapshot.metadata.term;
    return this.entries.find((e) => e.index === index)?.term;
  }

  load(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting, shared by the trace and by assertion messages.

export function formatEntry(e: Entry): string {
  return e.type === 'noop' ? `${e.index}/${e.term} noop` : `${e.index}/${e.term} ${text(e.data)}`;
}

function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(', ')}]`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'vote-request':
      return `${head} pre=${m.preVote} last=${m.lastLogIndex}/${m.lastLogTerm}${m.leadershipTransfer ? ' transfer' : ''}`;
    case 'vote-response':
      return `${head} pre=${m.preVote} granted=${m.granted}`;
    case 'append-request':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} entries=${formatEntries(m.entries)} commit=${m.leaderCommit} read=${m.readSeq}`;
    case 'append-response':
      return m.success
        ? `${head} ok match=${m.matchIndex} last=${m.lastLogIndex} read=${m.readSeq}`
        : `${head} reject prev=${m.matchIndex} conflict=${m.conflictTerm}@${m.conflictIndex} last=${m.lastLogIndex} read=${m.readSeq}`;
    case 'snapshot-request':
      return `${head} snap=${m.snapshot.metadata.index}/${m.snapshot.metadata.term} commit=${m.leaderCommit}`;
    case 'timeout-now':
      return head;
    case 'observe-request':
      return `${head} last=${m.lastLogIndex}`;
  }
}

// ---------------------------------------------------------------------------------------------
// A cluster of cores joined by a queue of messages, with a driver loop per node.

export interface ClusterOptions {
  readonly voters: readonly NodeId[];
  readonly observers?: readonly NodeId[];
  readonly config?: Partial<RaftConfig>;
}

interface NodeSlot {
  core: RaftCore | undefined;
  readonly storage: MemoryStorage;
  /** The state machine: data of the 'normal' entries applied, in order (a snapshot restores it). */
  applied: string[];
  appliedIndex: number;
  lastSoft: SoftState | undefined;
}

/** Deterministic stand-in for the node driver and the transport. Bounded in every loop. */
export class Cluster {
  readonly ids: readonly NodeId[];
  readonly voters: readonly NodeId[];
  private readonly slots = new Map<NodeId, NodeSlot>();
  private readonly configOverrides: Partial<RaftConfig>;
  /** Messages sent but not yet delivered, in send order. */
  queue: Message[] = [];
  /** Partition group per node; messages flow only within a group. */
  private readonly group = new Map<NodeId, number>();
  readonly trace: string[] = [];
  /** Applied data per (index) across all nodes: State Machine Safety is checked against it. */
  private readonly appliedAt = new Map<number, string>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  readonly readNames = new Map<number, string>();

  constructor(options: ClusterOptions) {
    this.voters = options.voters;
    this.ids = [...options.voters, ...(options.observers ?? [])];
    this.configOverrides = options.config ?? {};
    for (const id of this.ids) {
      this.slots.set(id, { core: undefined, storage: new MemoryStorage(), applied: [], appliedIndex: 0, lastSoft: undefined });
      this.group.set(id, 0);
      this.start(id);
    }
  }

  private slot(id: NodeId): NodeSlot {
    const slot = this.slots.get(id);
    assert(slot !== undefined, `no node ${id}`);
    return slot;
  }

  core(id: NodeId): RaftCore {
    const core = this.slot(id).core;
    assert(core !== undefined, `node ${id} is crashed`);
    return core;
  }

  storage(id: NodeId): MemoryStorage {
    return this.slot(id).storage;
  }

  appliedData(id: NodeId): readonly string[] {
    return this.slot(id).applied;
  }

  isUp(id: NodeId): boolean {
    return this.slot(id).core !== undefined;
  }

  log(line: string): void {
    this.trace.push(line);
  }

  private start(id: NodeId): void {
    const slot = this.slot(id);
    const persisted = slot.storage.load();
    // Node i's randomised election timeout is electionTicks + i - 1, so scripts know who times out first.
    const config = testConfig(id, this.voters, { random: fixedRandom(id - 1), ...this.configOverrides });
    slot.core = new RaftCore(config, persisted);
    // The driver restores the state machine from the stored snapshot; the log replays after it.
    slot.applied = persisted.snapshot === undefined ? [] : (JSON.parse(text(persisted.snapshot.data)) as string[]);
    slot.appliedIndex = persisted.snapshot?.metadata.index ?? 0;
    slot.lastSoft = undefined;
  }

  crash(id: NodeId): void {
    this.slot(id).core = undefined;
    this.queue = this.queue.filter((m) => m.from !== id && m.to !== id);
    this.log(`${id} crashed`);
  }

  restart(id: NodeId): void {
    assert(!this.isUp(id), `node ${id} is running`);
    this.start(id);
    const s = this.storage(id);
    this.log(`${id} restarted term=${s.hardState.term} vote=${s.hardState.votedFor} commit=${s.hardState.commitIndex} ` +
      `snap=${s.snapshot === undefined ? 'none' : `${s.snapshot.metadata.index}/${s.snapshot.metadata.term}`} entries=${s.entries.length}`);
  }

  /** Cut the cluster into the given groups; nodes not named form one more group together. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const id of this.ids) this.group.set(id, 0);
    groups.forEach((members, i) => members.forEach((id) => this.group.set(id, i + 1)));
  }

  heal(): void {
    for (const id of this.ids) this.group.set(id, 0);
  }

  connected(a: NodeId, b: NodeId): boolean {
    return this.isUp(a) && this.isUp(b) && this.group.get(a) === this.group.get(b);
  }

  /** Driver duties for one node until it has nothing ready (bounded). */
  processReady(id: NodeId): void {
    const slot = this.slot(id);
    const core = slot.core;
    if (core === undefined) return;
    for (let round = 0; round < 100 && core.hasReady(); round++) {
      const ready = core.ready();
      this.recordReady(id, slot, ready);
      // `messages` may leave before the write; the second list only after it is durable.
      this.queue.push(...ready.messages);
      slot.storage.persist(ready);
      this.queue.push(...ready.messagesAfterPersist);
      this.apply(id, slot, ready);
      core.advance(ready);
    }
    assert(!core.hasReady(), `node ${id} keeps producing Ready`);
  }

  processAll(): void {
    for (const id of this.ids) this.processReady(id);
  }

  private recordReady(id: NodeId, slot: NodeSlot, ready: Ready): void {
    const soft = ready.softState;
    if (soft !== undefined) {
      const prev = slot.lastSoft;
      if (prev === undefined || prev.role !== soft.role || prev.term !== soft.term || prev.leaderId !== soft.leaderId) {
        this.log(`${id} ${soft.role} term=${soft.term} leader=${soft.leaderId}`);
      }
      slot.lastSoft = soft;
      if (soft.role === 'leader') {
        const other = this.leaderOfTerm.get(soft.term);
        assert(other === undefined || other === id, `Election Safety: ${other} and ${id} both led term ${soft.term}`);
        this.leaderOfTerm.set(soft.term, id);
      }
    }
    if (ready.snapshot !== undefined) {
      this.log(`${id} persist snapshot=${ready.snapshot.metadata.index}/${ready.snapshot.metadata.term}`);
    }
    if (ready.entries.length > 0) this.log(`${id} persist entries=${formatEntries(ready.entries)}`);
    const hs = ready.hardState;
    const old = slot.storage.hardState;
    if (hs !== undefined && (hs.term !== old.term || hs.votedFor !== old.votedFor)) {
      this.log(`${id} persist term=${hs.term} vote=${hs.votedFor}`);
    }
    if (hs !== undefined && hs.commitIndex !== old.commitIndex) this.log(`${id} commit=${hs.commitIndex}`);
    for (const m of [...ready.messages, ...ready.messagesAfterPersist]) this.log(`  ${formatMessage(m)}`);
    for (const r of ready.readStates) this.log(`${id} read-state ${this.readName(r.requestId)} index=${r.index}`);
    for (const f of ready.readFailures) this.log(`${id} read-failed ${this.readName(f.requestId)} leader=${f.leaderId}`);
  }

  private apply(id: NodeId, slot: NodeSlot, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      slot.applied = JSON.parse(text(ready.snapshot.data)) as string[];
      slot.appliedIndex = ready.snapshot.metadata.index;
      this.log(`${id} restore snapshot=${ready.snapshot.metadata.index} state=[${slot.applied.join(',')}]`);
    }
    if (ready.committedEntries.length === 0) return;
    for (const e of ready.committedEntries) {
      assert(e.index === slot.appliedIndex + 1, `node ${id} applies ${e.index} after ${slot.appliedIndex}`);
      slot.appliedIndex = e.index;
      const value = formatEntry(e);
      const seen = this.appliedAt.get(e.index);
      assert(seen === undefined || seen === value, `State Machine Safety: index ${e.index} applied as ${seen} and ${value}`);
      this.appliedAt.set(e.index, value);
      if (e.type === 'normal') slot.applied.push(text(e.data));
    }
    this.log(`${id} apply ${formatEntries(ready.committedEntries)}`);
  }

  private readName(requestId: number): string {
    return this.readNames.get(requestId) ?? String(requestId);
  }

  /** Deliver every message queued now (one round); replies queue for the next round. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const round = this.queue.filter(filter);
    this.queue = this.queue.filter((m) => !filter(m));
    for (const m of round) {
      if (!this.connected(m.from, m.to)) {
        this.log(`  dropped ${m.from}->${m.to} ${m.type}`);
        continue;
      }
      this.core(m.to).step(m);
    }
    this.processAll();
    return round.length;
  }

  /** Deliver and process until nothing is in flight; throws past `maxRounds` (a livelock is a bug). */
  stabilize(maxRounds = 50): void {
    this.processAll();
    for (let round = 0; round < maxRounds; round++) {
      if (this.queue.length === 0) return;
      this.deliver();
    }
    assert(this.queue.length === 0, `not stable after ${maxRounds} rounds`);
  }

  tick(id: NodeId, times: number): void {
    for (let i = 0; i < times; i++) {
      this.core(id).tick();
      this.processReady(id);
    }
  }

  /** Tick until the node's role changes (it campaigns, or a leader steps down), bounded. */
  tickUntilRoleChange(id: NodeId, maxTicks: number): void {
    const role = this.core(id).role;
    for (let i = 0; i < maxTicks && this.core(id).role === role; i++) this.tick(id, 1);
  }

  /** The application snapshots at `index` (<= applied) and the node drops the log prefix. */
  compact(id: NodeId, index: number): Snapshot {
    const slot = this.slot(id);
    const term = slot.storage.termAt(index);
    assert(term !== undefined, `node ${id} has no stored entry at ${index}`);
    assert(index <= slot.appliedIndex, `compact at ${index} beyond applied ${slot.appliedIndex}`);
    // Rebuild the state as of `index` from the applied values (entries after it are re-derived).
    const laterNormal = slot.storage.entries.filter((e) => e.index > index && e.index <= slot.appliedIndex && e.type === 'normal').length;
    const state = slot.applied.slice(0, slot.applied.length - laterNormal);
    const snapshot: Snapshot = { metadata: { index, term, voters: this.voters }, data: bytes(JSON.stringify(state)) };
    this.core(id).compact(snapshot);
    slot.storage.compact(snapshot);
    this.log(`${id} compacted snapshot=${index}/${term}`);
    return snapshot;
  }

  leader(): NodeId {
    const leaders = this.ids.filter((id) => this.isUp(id) && this.core(id).role === 'leader');
    const newest = leaders.sort((a, b) => this.core(b).term - this.core(a).term)[0];
    return newest ?? NO_NODE;
  }

  statusFields(id: NodeId): Map<string, string> {
    const s = this.core(id).status();
    return new Map([
      ['role', s.role], ['term', String(s.term)], ['leader', String(s.leaderId)], ['commit', String(s.commitIndex)],
      ['applied', String(s.appliedIndex)], ['last', String(s.lastIndex)], ['state', `[${this.slot(id).applied.join(',')}]`],
    ]);
  }

  statusLine(id: NodeId): string {
    if (!this.isUp(id)) return `${id} down`;
    const s = this.core(id).status();
    return `${id} ${s.role} term=${s.term} leader=${s.leaderId} vote=${s.votedFor} commit=${s.commitIndex} applied=${s.appliedIndex} ` +
      `log=${s.firstIndex}..${s.lastIndex} last-term=${s.lastTerm} state=[${this.slot(id).applied.join(',')}]`;
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario scripts: one command per line, `#` starts a comment. The output is every command (prefixed
// with "> ") followed by what it caused, which the scenario test compares with a golden file.

export function runScript(script: string): string {
  let cluster: Cluster | undefined;
  let electionTicks = testConfig(1, [1]).electionTicks;
  const out: string[] = [];
  const need = (): Cluster => {
    assert(cluster !== undefined, 'the script must start with `cluster`');
    return cluster;
  };
  const lines = script.split('\n');
  for (const [lineNo, raw] of lines.entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    out.push(`> ${line}`);
    const [command, ...args] = line.split(/\s+/);
    const num = (i: number): number => {
      const value = Number(args[i]);
      assert(Number.isInteger(value), `line ${lineNo + 1}: argument ${i + 1} of ${command} must be an integer`);
      return value;
    };
    const mark = cluster?.trace.length ?? 0;
    switch (command) {
      case 'cluster': {
        const options = parseOptions(args.slice(1));
        electionTicks = Number(options.get('election') ?? electionTicks);
        const voters = range(num(0));
        const observers = (options.get('observers') ?? '').split(',').filter((s) => s !== '').map(Number);
        cluster = new Cluster({
          voters,
          observers,
          config: {
            preVote: options.get('prevote') !== 'false',
            checkQuorum: options.get('checkquorum') !== 'false',
            electionTicks,
            maxEntriesPerAppend: Number(options.get('max-entries') ?? 100),
          },
        });
        cluster.processAll();
        break;
      }
      case 'tick':
        need().tick(num(0), args[1] === undefined ? 1 : num(1));
        break;
      case 'tick-election':
        // The longest randomised election timeout is below 2 * electionTicks.
        need().tickUntilRoleChange(num(0), 2 * electionTicks);
        break;
      case 'tick-heartbeat':
        need().tick(num(0), 1);
        break;
      case 'campaign':
        need().core(num(0)).campaign();
        need().processReady(num(0));
        break;
      case 'propose': {
        const result = need().core(num(0)).propose(bytes(args[1] ?? ''));
        need().log(result.ok ? `propose ok index=${result.index} term=${result.term}` : `propose refused ${result.reason} leader=${result.leaderId}`);
        need().processReady(num(0));
        break;
      }
      case 'read-index': {
        const c = need();
        const name = args[1] ?? 'r';
        const requestId = c.readNames.size + 1;
        c.readNames.set(requestId, name);
        const result = c.core(num(0)).readIndex(requestId);
        c.log(result.ok ? `read-index ${name} accepted` : `read-index ${name} refused ${result.reason} leader=${result.leaderId}`);
        c.processReady(num(0));
        break;
      }
      case 'transfer': {
        const result = need().core(num(0)).transferLeadership(num(1));
        need().log(result.ok ? 'transfer accepted' : `transfer refused ${result.reason} leader=${result.leaderId}`);
        need().processReady(num(0));
        break;
      }
      case 'deliver-msgs': {
        const to = args[0]?.startsWith('to=') === true ? Number(args[0].slice(3)) : undefined;
        const n = need().deliver((m) => to === undefined || m.to === to);
        if (n === 0) need().log('no messages');
        break;
      }
      case 'drop-msgs': {
        const c = need();
        c.log(`dropped ${c.queue.length} messages`);
        c.queue = [];
        break;
      }
      case 'stabilize':
        need().stabilize();
        break;
      case 'partition':
        need().partition(args.map((group) => group.split(',').map(Number)));
        break;
      case 'heal':
        need().heal();
        break;
      case 'crash':
        need().crash(num(0));
        break;
      case 'restart':
        need().restart(num(0));
        need().processReady(num(0));
        break;
      case 'compact':
        need().compact(num(0), num(1));
        need().processReady(num(0));
        break;
      case 'expect': {
        // A hard check inside the transcript: the scenario fails here rather than recording a wrong golden.
        const c = need();
        const id = num(0);
        const actual = c.statusFields(id);
        for (const [key, value] of parseOptions(args.slice(1))) {
          assert(actual.get(key) === value, `line ${lineNo + 1}: expected node ${id} ${key}=${value}, got ${actual.get(key)}`);
        }
        break;
      }
      case 'status': {
        const c = need();
        for (const id of c.ids) c.log(c.statusLine(id));
        break;
      }
      default:
        throw new Error(`line ${lineNo + 1}: unknown command ${command}`);
    }
    if (cluster !== undefined) out.push(...cluster.trace.slice(mark));
  }
  return out.join('\n') + '\n';
}

function parseOptions(args: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const arg of args) {
    const [key, value] = arg.split('=');
    assert(key !== undefined && value !== undefined, `option ${arg} is not key=value`);
    options.set(key, value);
  }
  return options;
}

function range(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
