import { assert, unreachable } from './assert.js';
import { Progress } from './progress.js';
import { RaftLog } from './raft-log.js';
import {
  NO_NODE,
  type AppendRequest,
  type AppendResponse,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ObserveRequest,
  type PersistedState,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type ReadFailure,
  type ReadIndexResult,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SnapshotRequest,
  type SoftState,
  type TimeoutNow,
  type TransferResult,
  type VoteRequest,
  type VoteResponse,
} from './types.js';

interface PendingRead {
  readonly requestId: number;
  readonly index: number;
  readonly seq: number;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * The Raft consensus algorithm as a pure, deterministic state machine: no I/O, clock, timer or
 * randomness of its own. Time is `tick()`, input is `step()`/`propose()`, and everything the outside
 * world must do is collected in a `Ready` (see types.ts for the driver's duties).
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly voters: ReadonlySet<NodeId>;
  private readonly log: RaftLog;

  private roleValue: Role;
  private termValue: number;
  private votedFor: NodeId;
  private leaderIdValue: NodeId = NO_NODE;

  /** Ticks since the last election reset (followers: since hearing from a leader). */
  private electionElapsed = 0;
  private randomizedElectionTicks = 0;
  private heartbeatElapsed = 0;

  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private transferee: NodeId = NO_NODE;
  private transferElapsed = 0;

  private readSeq = 0;
  private pendingReads: PendingRead[] = [];
  /** Reads asked before this leader committed an entry of its own term (thesis §6.4 step 1). */
  private readsAwaitingCommit: number[] = [];

  // The outbox. Ready() copies it; advance(ready) removes exactly what that Ready carried, so anything
  // produced while the driver was persisting survives to the next Ready.
  private messages: Message[] = [];
  private messagesAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];
  private pendingSnapshot: Snapshot | undefined;
  private persistedHardState: HardState;
  private reportedSoftState: SoftState | undefined;

  constructor(config: RaftConfig, persisted: PersistedState) {
    assert(config.id !== NO_NODE, 'node id must be positive');
    assert(config.voters.length > 0, 'a quorum needs at least one voter');
    assert(config.heartbeatTicks > 0 && config.heartbeatTicks < config.electionTicks, 'need 0 < heartbeatTicks < electionTicks');
    assert(config.maxInflightAppends > 0 && config.maxEntriesPerAppend > 0, 'flow-control bounds must be positive');
    this.id = config.id;
    this.config = config;
    this.voters = new Set(config.voters);
    this.log = new RaftLog(persisted);
    this.termValue = persisted.hardState.term;
    this.votedFor = persisted.hardState.votedFor;
    this.persistedHardState = persisted.hardState;
    this.roleValue = this.isVoter ? 'follower' : 'observer';
    this.resetElectionTimer();
  }

  get role(): Role {
    return this.roleValue;
  }

  get term(): number {
    return this.termValue;
  }

  get leaderId(): NodeId {
    return this.leaderIdValue;
  }

  get commitIndex(): number {
    return this.log.commitIndex;
  }

  private get isVoter(): boolean {
    return this.voters.has(this.id);
  }

  private get quorumSize(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    if (this.roleValue === 'leader') {
      this.tickLeader();
    } else {
      this.tickElection();
    }
  }

  step(message: Message): void {
    assert(message.to === this.id, `message for ${message.to} delivered to ${this.id}`);
    if (message.from === this.id) return;
    if (!this.stepTerm(message)) return;
    switch (message.type) {
      case 'vote-request':
        this.handleVoteRequest(message);
        return;
      case 'vote-response':
        this.handleVoteResponse(message);
        return;
      case 'append-request':
        this.handleAppendRequest(message);
        return;
      case 'append-response':
        this.handleAppendResponse(message);
        return;
      case 'snapshot-request':
        this.handleSnapshotRequest(message);
        return;
      case 'timeout-now':
        this.handleTimeoutNow(message);
        return;
      case 'observe-request':
        this.handleObserveRequest(message);
        return;
      default:
        unreachable(message);
    }
  }

  /** Start an election now (PreVote first when enabled). Observers never campaign. */
  campaign(): void {
    if (!this.isVoter || this.roleValue === 'leader') return;
    if (this.config.preVote) {
      this.becomePreCandidate();
    } else {
      this.becomeCandidate(false);
    }
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.roleValue !== 'leader') {
      return { ok: false, reason: 'not-leader', leaderId: this.leaderIdValue };
    }
    if (this.transferee !== NO_NODE) {
      // Thesis §3.10: stop accepting writes during a transfer so the target can catch up.
      return { ok: false, reason: 'transferring', leaderId: this.id };
    }
    if (this.log.lastIndex - this.log.commitIndex >= this.config.maxUncommittedEntries) {
      return { ok: false, reason: 'too-many-uncommitted', leaderId: this.id };
    }
    const entry: Entry = { index: this.log.lastIndex + 1, term: this.termValue, type: 'normal', data };
    this.log.append([entry]);
    this.broadcastAppend();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Linearizable read (thesis §6.4, ReadIndex): record the commit index, confirm leadership with a
   * round of heartbeats, and hand back the index; the read is safe once the state machine applied it.
   */
  readIndex(requestId: number): ReadIndexResult {
    if (this.roleValue !== 'leader') {
      return { ok: false, reason: 'not-leader', leaderId: this.leaderIdValue };
    }
    if (!this.committedInCurrentTerm()) {
      this.readsAwaitingCommit.push(requestId);
      return { ok: true };
    }
    this.startRead(requestId);
    return { ok: true };
  }

  transferLeadership(to: NodeId): TransferResult {
    if (this.roleValue !== 'leader') {
      return { ok: false, reason: 'not-leader', leaderId: this.leaderIdValue };
    }
    if (to === this.id || !this.voters.has(to)) {
      return { ok: false, reason: 'unknown-target', leaderId: this.id };
    }
    if (this.transferee !== NO_NODE) {
      return { ok: false, reason: 'already-transferring', leaderId: this.id };
    }
    this.transferee = to;
    this.transferElapsed = 0;
    const peer = this.peer(to);
    if (peer.matchIndex === this.log.lastIndex) {
      this.send<TimeoutNow>({ type: 'timeout-now', from: this.id, to, term: this.termValue });
    } else {
      this.sendAppend(peer, false);
    }
    return { ok: true };
  }

  // ---------------------------------------------------------------------------------------------
  // Outbox

  hasReady(): boolean {
    return (
      this.messages.length > 0 ||
      this.messagesAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.readFailures.length > 0 ||
      this.pendingSnapshot !== undefined ||
      this.log.stable < this.log.lastIndex ||
      this.log.commitIndex > Math.max(this.log.appliedIndex, this.log.snapshotIndex) ||
      this.hardStateChanged() ||
      this.softStateChanged()
    );
  }

  ready(): Ready {
    const hardState = this.currentHardState();
    const softState = this.currentSoftState();
    return {
      softState: this.softStateChanged() ? softState : undefined,
      hardState: this.hardStateChanged() ? hardState : undefined,
      snapshot: this.pendingSnapshot,
      entries: this.log.unstableEntries(),
      messages: [...this.messages],
      messagesAfterPersist: [...this.messagesAfterPersist],
      committedEntries: this.log.entriesToApply(),
      readStates: [...this.readStates],
      readFailures: [...this.readFailures],
    };
  }

  advance(ready: Ready): void {
    this.messages.splice(0, ready.messages.length);
    this.messagesAfterPersist.splice(0, ready.messagesAfterPersist.length);
    this.readStates.splice(0, ready.readStates.length);
    this.readFailures.splice(0, ready.readFailures.length);
    if (ready.hardState !== undefined) this.persistedHardState = ready.hardState;
    if (ready.softState !== undefined) this.reportedSoftState = ready.softState;
    if (ready.snapshot !== undefined) {
      if (this.pendingSnapshot === ready.snapshot) this.pendingSnapshot = undefined;
      this.log.appliedTo(Math.min(ready.snapshot.metadata.index, this.log.commitIndex));
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index);
    if (this.roleValue === 'leader') {
      // The leader counts itself toward a quorum only for entries on its own disk.
      const self = this.peer(this.id);
      if (self.maybeUpdate(this.log.stable)) this.maybeCommit();
    }
  }

  compact(snapshot: Snapshot): void {
    this.log.compact(snapshot);
  }

  status(): RaftStatus {
    const progress =
      this.roleValue === 'leader'
        ? [...this.progress.values()].map((p) => ({
            id: p.id,
            voter: p.voter,
            matchIndex: p.id === this.id ? this.log.lastIndex : p.matchIndex,
            nextIndex: p.nextIndex,
            ticksSinceContact: p.id === this.id ? 0 : p.ticksSinceContact,
            state: p.state,
          }))
        : [];
    return {
      id: this.id,
      role: this.roleValue,
      term: this.termValue,
      leaderId: this.leaderIdValue,
      votedFor: this.votedFor,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.log.appliedIndex,
      firstIndex: this.log.firstIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      voters: [...this.voters],
      progress,
      transferringTo: this.transferee,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Role changes: each resets exactly the state its role owns.

  private becomeFollower(term: number, leaderId: NodeId): void {
    this.failPendingReads(leaderId);
    this.resetTerm(term);
    this.roleValue = this.isVoter ? 'follower' : 'observer';
    this.leaderIdValue = leaderId;
  }

  private becomePreCandidate(): void {
    assert(this.isVoter, 'observers never campaign');
    // PreVote (thesis §9.6) does not touch term or vote: a node that cannot win never disrupts a leader.
    this.failPendingReads(NO_NODE);
    this.roleValue = 'pre-candidate';
    this.leaderIdValue = NO_NODE;
    this.votes = new Map([[this.id, true]]);
    this.electionElapsed = 0;
    this.resetElectionTimer();
    if (this.pollWon()) {
      this.becomeCandidate(false);
      return;
    }
    this.requestVotes(true, false);
  }

  private becomeCandidate(leadershipTransfer: boolean): void {
    assert(this.isVoter, 'observers never campaign');
    this.failPendingReads(NO_NODE);
    this.resetTerm(this.termValue + 1);
    this.roleValue = 'candidate';
    this.votedFor = this.id;
    this.votes = new Map([[this.id, true]]);
    if (this.pollWon()) {
      this.becomeLeader();
      return;
    }
    this.requestVotes(false, leadershipTransfer);
  }

  private becomeLeader(): void {
    assert(this.roleValue === 'candidate', `only a candidate becomes leader, not a ${this.roleValue}`);
    this.roleValue = 'leader';
    this.leaderIdValue = this.id;
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    const nextIndex = this.log.lastIndex + 1;
    const observers = [...this.progress.values()].filter((p) => !p.voter).map((p) => p.id);
    this.progress = new Map();
    for (const id of [...this.voters, ...observers]) {
      const p = new Progress(id, this.voters.has(id), nextIndex, this.config.maxInflightAppends);
      if (id === this.id) {
        p.maybeUpdate(this.log.stable);
        p.becomeReplicate();
      }
      p.recentActive = id === this.id;
      this.progress.set(id, p);
    }
    // Raft §8: a no-op entry of the new term lets the leader learn what is committed and serve reads.
    this.log.append([{ index: nextIndex, term: this.termValue, type: 'noop', data: EMPTY }]);
    this.broadcastAppend();
  }

  private resetTerm(term: number): void {
    if (term !== this.termValue) {
      assert(term > this.termValue, `term must not go back from ${this.termValue} to ${term}`);
      this.termValue = term;
      this.votedFor = NO_NODE;
    }
    this.leaderIdValue = NO_NODE;
    this.votes = new Map();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.transferee = NO_NODE;
    this.transferElapsed = 0;
    this.readSeq = 0;
    this.resetElectionTimer();
  }

  private resetElectionTimer(): void {
    // Randomised in [electionTicks, 2 * electionTicks) so split votes resolve quickly (Raft §5.2).
    this.randomizedElectionTicks = this.config.electionTicks + this.config.random.int(this.config.electionTicks);
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.roleValue === 'observer') {
      // An observer that hears from no leader announces itself so the current leader adopts it.
      if (this.electionElapsed >= this.config.electionTicks) {
        this.electionElapsed = 0;
        this.announceObserver();
      }
      return;
    }
    if (this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.campaign();
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const p of this.progress.values()) {
      if (p.id === this.id) continue;
      p.ticksSinceContact++;
      if (p.state === 'snapshot' && ++p.ticksInSnapshot >= this.config.electionTicks) {
        // The snapshot (or its answer) was probably lost; start over from a probe.
        p.becomeProbe();
      }
    }
    if (this.transferee !== NO_NODE && ++this.transferElapsed >= this.config.electionTicks) {
      this.transferee = NO_NODE;
    }
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumRecentlyActive()) {
        // CheckQuorum (thesis §6.2): a leader cut off from a majority steps down, so clients move on
        // and its lease-based vote suppression at followers ends.
        this.becomeFollower(this.termValue, NO_NODE);
        return;
      }
      for (const p of this.progress.values()) p.recentActive = p.id === this.id;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const p of this.progress.values()) {
      if (p.voter && p.recentActive) active++;
    }
    return active >= this.quorumSize;
  }

  // ---------------------------------------------------------------------------------------------
  // Terms (Figure 2, "Rules for Servers, All Servers": a higher term makes any node a follower)

  /** Returns false when the message must be dropped. */
  private stepTerm(m: Message): boolean {
    if (m.term > this.termValue) {
      if (m.type === 'vote-request') {
        if (!this.isVoter) return false;
        if (!m.leadershipTransfer && this.inLeaderLease()) {
          // Thesis §4.2.3: a node that heard from a live leader ignores disruptive vote requests.
          return false;
        }
        if (m.preVote) return true;
        this.becomeFollower(m.term, NO_NODE);
        return true;
      }
      if (m.type === 'vote-response' && m.preVote && m.granted) {
        // A granted pre-vote carries the term we would campaign in; it is not a newer term.
        return true;
      }
      const fromLeader = m.type === 'append-request' || m.type === 'snapshot-request' || m.type === 'timeout-now';
      this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
      return true;
    }
    if (m.term < this.termValue) {
      if (m.type === 'observe-request') {
        // Observers learn the term only from a leader's appends, so their announcements are expected
        // to lag; the leader's answer brings them up to date.
        return true;
      }
      if (m.type === 'append-request' || m.type === 'snapshot-request') {
        // A stale leader learns of the newer term and steps down (needed with CheckQuorum/PreVote,
        // where the partitioned side would otherwise never see our term).
        this.send<AppendResponse>({
          type: 'append-response', from: this.id, to: m.from, term: this.termValue, success: false,
          matchIndex: 0, conflictTerm: 0, conflictIndex: 0, lastLogIndex: this.log.lastIndex, readSeq: 0,
        });
      } else if (m.type === 'vote-request' && this.isVoter) {
        this.sendAfterPersist<VoteResponse>({
          type: 'vote-response', from: this.id, to: m.from, term: this.termValue, preVote: m.preVote, granted: false,
        });
      }
      return false;
    }
    return true;
  }

  private inLeaderLease(): boolean {
    if (!this.config.checkQuorum) return false;
    if (this.roleValue === 'leader') return true;
    return this.leaderIdValue !== NO_NODE && this.electionElapsed < this.config.electionTicks;
  }

  // ---------------------------------------------------------------------------------------------
  // Elections (Figure 2, RequestVote RPC)

  private requestVotes(preVote: boolean, leadershipTransfer: boolean): void {
    const term = preVote ? this.termValue + 1 : this.termValue;
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      this.sendAfterPersist<VoteRequest>({
        type: 'vote-request', from: this.id, to: voter, term, preVote,
        lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm, leadershipTransfer,
      });
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    if (!this.isVoter || !this.voters.has(m.from)) return;
    // One vote per term: already voted for this candidate, or voted for nobody and follow nobody.
    const canVote = m.preVote
      ? m.term > this.termValue
      : this.votedFor === m.from || (this.votedFor === NO_NODE && this.leaderIdValue === NO_NODE);
    // Election restriction (Raft §5.4.1): only a candidate whose log is at least as up to date.
    const upToDate = m.lastLogTerm > this.log.lastTerm || (m.lastLogTerm === this.log.lastTerm && m.lastLogIndex >= this.log.lastIndex);
    const granted = canVote && upToDate;
    if (granted && !m.preVote) {
      this.votedFor = m.from;
      this.electionElapsed = 0;
    }
    this.sendAfterPersist<VoteResponse>({
      type: 'vote-response', from: this.id, to: m.from, term: granted && m.preVote ? m.term : this.termValue,
      preVote: m.preVote, granted,
    });
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expecting = m.preVote ? 'pre-candidate' : 'candidate';
    if (this.roleValue !== expecting || !this.voters.has(m.from)) return;
    this.votes.set(m.from, m.granted);
    if (this.pollWon()) {
      if (m.preVote) this.becomeCandidate(false);
      else this.becomeLeader();
    } else if (this.pollLost()) {
      this.becomeFollower(this.termValue, NO_NODE);
    }
  }

  private pollWon(): boolean {
    let granted = 0;
    for (const [id, vote] of this.votes) if (vote && this.voters.has(id)) granted++;
    return granted >= this.quorumSize;
  }

  private pollLost(): boolean {
    let rejected = 0;
    for (const [id, vote] of this.votes) if (!vote && this.voters.has(id)) rejected++;
    return rejected >= this.quorumSize;
  }

  private handleTimeoutNow(_m: TimeoutNow): void {
    if (!this.isVoter || this.roleValue === 'leader') return;
    // The leader vouches for our log; skip PreVote and tell voters to ignore their lease (thesis §3.10).
    this.becomeCandidate(true);
  }

  // ---------------------------------------------------------------------------------------------
  // Replication, follower side (Figure 2, AppendEntries RPC)

  private handleAppendRequest(m: AppendRequest): void {
    this.acceptLeader(m.from);
    const base = { type: 'append-response', from: this.id, to: m.from, term: this.termValue, readSeq: m.readSeq } as const;
    if (m.prevLogIndex < this.log.commitIndex) {
      // Everything up to our commit index matches any later leader's log (Leader Completeness), so
      // the part of this message at or below it needs no check; merge only what lies beyond.
      this.appendFromLeader(m);
      return;
    }
    if (!this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      // Rule 2: reply false, with a hint so the leader skips a whole conflicting term at once.
      const conflictTerm = this.log.termAt(m.prevLogIndex) ?? 0;
      const conflictIndex = conflictTerm === 0 ? this.log.lastIndex + 1 : this.log.firstIndexOfTermAt(m.prevLogIndex);
      this.sendAfterPersist<AppendResponse>({
        ...base, success: false, matchIndex: m.prevLogIndex, conflictTerm, conflictIndex: Math.max(conflictIndex, this.log.commitIndex + 1),
        lastLogIndex: this.log.lastIndex,
      });
      return;
    }
    this.appendFromLeader(m);
  }

  private appendFromLeader(m: AppendRequest): void {
    // Entries at or below commit are already ours; merge the rest (rules 3 and 4).
    this.log.merge(m.entries.filter((e) => e.index > this.log.commitIndex));
    const lastNew = m.prevLogIndex + m.entries.length;
    // Rule 5: commit up to min(leaderCommit, index of last new entry) — never beyond what this leader sent.
    this.log.commitTo(Math.min(m.leaderCommit, lastNew));
    this.sendAfterPersist<AppendResponse>({
      type: 'append-response', from: this.id, to: m.from, term: this.termValue, readSeq: m.readSeq,
      success: true, matchIndex: Math.max(lastNew, this.log.commitIndex), conflictTerm: 0, conflictIndex: 0,
      lastLogIndex: this.log.lastIndex,
    });
  }

  private handleSnapshotRequest(m: SnapshotRequest): void {
    this.acceptLeader(m.from);
    const { index, term } = m.snapshot.metadata;
    if (index > this.log.commitIndex) {
      if (this.log.matchTerm(index, term)) {
        // Figure 13 rule 6: our log already holds the snapshot's last entry, so keep the entries after
        // it. Wiping them would break an acknowledgement we may already have sent for them.
        this.log.commitTo(index);
      } else {
        this.log.restore(m.snapshot);
        this.pendingSnapshot = m.snapshot;
      }
    }
    this.sendAfterPersist<AppendResponse>({
      type: 'append-response', from: this.id, to: m.from, term: this.termValue, readSeq: 0,
      success: true, matchIndex: this.log.commitIndex, conflictTerm: 0, conflictIndex: 0, lastLogIndex: this.log.lastIndex,
    });
  }

  /** A valid leader of our term spoke: follow it and restart the election timer. */
  private acceptLeader(leaderId: NodeId): void {
    if (this.roleValue === 'leader') {
      assert(false, `two leaders in term ${this.termValue}: ${this.id} and ${leaderId}`);
    }
    if (this.roleValue === 'candidate' || this.roleValue === 'pre-candidate') {
      this.becomeFollower(this.termValue, leaderId);
    }
    this.leaderIdValue = leaderId;
    this.electionElapsed = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Replication, leader side

  private handleAppendResponse(m: AppendResponse): void {
    if (this.roleValue !== 'leader') return;
    const p = this.progress.get(m.from);
    if (p === undefined) return;
    p.recentActive = true;
    p.ticksSinceContact = 0;
    if (m.readSeq > p.readSeqAcked) {
      p.readSeqAcked = m.readSeq;
      this.advanceReads();
    }
    if (!m.success) {
      const hint = m.conflictTerm > 0 && this.log.lastIndexOfTerm(m.conflictTerm) > 0
        ? this.log.lastIndexOfTerm(m.conflictTerm) + 1
        : Math.min(m.conflictIndex, m.lastLogIndex + 1);
      if (p.maybeDecreaseTo(m.matchIndex, Math.max(hint, 1))) this.sendAppend(p, false);
      return;
    }
    const wasPaused = p.isPaused();
    if (p.maybeUpdate(m.matchIndex)) {
      if (p.state === 'probe') p.becomeReplicate();
      else if (p.state === 'snapshot' && p.matchIndex >= p.pendingSnapshotIndex) p.becomeProbe();
      if (p.voter) this.maybeCommit();
    } else if (p.state === 'probe') {
      p.probeSent = false;
    }
    if (this.roleValue !== 'leader') return;
    if (m.from === this.transferee && p.matchIndex === this.log.lastIndex) {
      this.send<TimeoutNow>({ type: 'timeout-now', from: this.id, to: m.from, term: this.termValue });
    }
    // Keep the pipeline full: send whatever the peer still lacks.
    if (!p.isPaused() && (p.nextIndex <= this.log.lastIndex || wasPaused)) this.sendAppend(p, false);
  }

  private handleObserveRequest(m: ObserveRequest): void {
    if (this.roleValue !== 'leader' || this.voters.has(m.from)) return;
    let p = this.progress.get(m.from);
    if (p === undefined) {
      p = new Progress(m.from, false, this.log.lastIndex + 1, this.config.maxInflightAppends);
      this.progress.set(m.from, p);
    }
    p.recentActive = true;
    p.ticksSinceContact = 0;
    this.sendAppend(p, true);
  }

  private announceObserver(): void {
    for (const voter of this.voters) {
      this.send<ObserveRequest>({ type: 'observe-request', from: this.id, to: voter, term: this.termValue, lastLogIndex: this.log.lastIndex });
    }
  }

  /**
   * Figure 2, "Rules for Servers, Leaders", last rule: commit N when a majority of voters match it
   * and log[N].term == currentTerm. Older-term entries commit only indirectly (Raft §5.4.2, Figure 8).
   */
  private maybeCommit(): void {
    const matches = [...this.progress.values()].filter((p) => p.voter).map((p) => p.matchIndex).sort((a, b) => b - a);
    const candidate = matches[this.quorumSize - 1] ?? 0;
    if (candidate <= this.log.commitIndex || this.log.termAt(candidate) !== this.termValue) return;
    const hadCommittedInTerm = this.committedInCurrentTerm();
    this.log.commitTo(candidate);
    if (!hadCommittedInTerm) {
      for (const requestId of this.readsAwaitingCommit.splice(0)) this.startRead(requestId);
    }
    // Tell idle followers promptly, so their state machines keep up without waiting for a heartbeat;
    // busy ones learn it from the next append in their pipeline.
    for (const p of this.progress.values()) {
      if (p.id !== this.id && p.state === 'replicate' && !p.hasInflight()) this.sendEmptyAppend(p);
    }
  }

  private committedInCurrentTerm(): boolean {
    return this.log.termAt(this.log.commitIndex) === this.termValue;
  }

  private broadcastAppend(): void {
    for (const p of this.progress.values()) {
      if (p.id !== this.id) this.sendAppend(p, false);
    }
  }

  private broadcastHeartbeat(): void {
    for (const p of this.progress.values()) {
      if (p.id === this.id) continue;
      if (p.state === 'replicate' && p.stalledAtHeartbeat()) {
        // Appends in flight but no acknowledgement for two heartbeat intervals: they were probably
        // lost. Fall back to probing from the last known match.
        p.becomeProbe();
      }
      if (p.state === 'probe') {
        p.probeSent = false;
        this.sendAppend(p, true);
      } else {
        this.sendEmptyAppend(p);
      }
    }
  }

  /** Send the peer what it lacks; with `heartbeat`, send at least an empty append. */
  private sendAppend(p: Progress, heartbeat: boolean): void {
    if (p.isPaused()) {
      if (heartbeat) this.sendEmptyAppend(p);
      return;
    }
    const prevLogIndex = p.nextIndex - 1;
    const prevLogTerm = this.log.termAt(prevLogIndex);
    if (prevLogTerm === undefined) {
      this.sendSnapshot(p);
      return;
    }
    const entries = this.log.slice(p.nextIndex, this.log.lastIndex, this.config.maxEntriesPerAppend);
    if (entries.length === 0 && !heartbeat && p.state === 'replicate') return;
    this.send<AppendRequest>({
      type: 'append-request', from: this.id, to: p.id, term: this.termValue, prevLogIndex, prevLogTerm,
      entries, leaderCommit: this.log.commitIndex, readSeq: this.readSeq,
    });
    p.sentEntries(prevLogIndex + entries.length, entries.length);
  }

  /**
   * An append with no entries at a point the peer is known to hold: it resets the peer's election
   * timer, carries the commit index and the ReadIndex sequence, and cannot be rejected by a healthy
   * peer. When the peer's match point is compacted away, the snapshot point serves instead.
   */
  private sendEmptyAppend(p: Progress): void {
    const matchTerm = this.log.termAt(p.matchIndex);
    const prevLogIndex = matchTerm === undefined ? this.log.snapshotIndex : p.matchIndex;
    const prevLogTerm = matchTerm ?? this.log.snapshotTerm;
    this.send<AppendRequest>({
      type: 'append-request', from: this.id, to: p.id, term: this.termValue, prevLogIndex, prevLogTerm,
      entries: [], leaderCommit: this.log.commitIndex, readSeq: this.readSeq,
    });
  }

  private sendSnapshot(p: Progress): void {
    const snapshot = this.log.snapshot;
    assert(snapshot !== undefined, `peer ${p.id} needs compacted entries but there is no snapshot`);
    this.send<SnapshotRequest>({ type: 'snapshot-request', from: this.id, to: p.id, term: this.termValue, snapshot, leaderCommit: this.log.commitIndex });
    p.becomeSnapshot(snapshot.metadata.index);
  }

  // ---------------------------------------------------------------------------------------------
  // ReadIndex (thesis §6.4)

  private startRead(requestId: number): void {
    this.readSeq++;
    this.pendingReads.push({ requestId, index: this.log.commitIndex, seq: this.readSeq });
    this.peer(this.id).readSeqAcked = this.readSeq;
    this.advanceReads();
    if (this.pendingReads.length > 0) {
      for (const p of this.progress.values()) {
        if (p.id !== this.id && p.voter) this.sendEmptyAppend(p);
      }
    }
  }

  private advanceReads(): void {
    const acked = [...this.progress.values()].filter((p) => p.voter).map((p) => p.readSeqAcked).sort((a, b) => b - a);
    const confirmedSeq = acked[this.quorumSize - 1] ?? 0;
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.seq <= confirmedSeq) {
      const read = this.pendingReads.shift()!;
      this.readStates.push({ requestId: read.requestId, index: read.index });
    }
  }

  private failPendingReads(leaderId: NodeId): void {
    for (const read of this.pendingReads) this.readFailures.push({ requestId: read.requestId, leaderId });
    for (const requestId of this.readsAwaitingCommit) this.readFailures.push({ requestId, leaderId });
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private peer(id: NodeId): Progress {
    const p = this.progress.get(id);
    assert(p !== undefined, `no progress for ${id}`);
    return p;
  }

  private send<M extends Message>(m: M): void {
    this.messages.push(m);
  }

  private sendAfterPersist<M extends Message>(m: M): void {
    this.messagesAfterPersist.push(m);
  }

  private currentHardState(): HardState {
    return { term: this.termValue, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  private hardStateChanged(): boolean {
    const h = this.persistedHardState;
    return h.term !== this.termValue || h.votedFor !== this.votedFor || h.commitIndex !== this.log.commitIndex;
  }

  private currentSoftState(): SoftState {
    return { role: this.roleValue, leaderId: this.leaderIdValue, term: this.termValue };
  }

  private softStateChanged(): boolean {
    const s = this.reportedSoftState;
    return s === undefined || s.role !== this.roleValue || s.leaderId !== this.leaderIdValue || s.term !== this.termValue;
  }
}
