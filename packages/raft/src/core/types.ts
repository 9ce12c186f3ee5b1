// The vocabulary of the pure Raft core. Everything here is plain data: the driver persists it, the
// transport serialises it, the simulator copies it. Names follow the Raft paper (Ongaro & Ousterhout,
// "In Search of an Understandable Consensus Algorithm", extended version) and the thesis (PreVote,
// CheckQuorum, leadership transfer, ReadIndex), with etcd/raft's Ready/advance split.

export type NodeId = number;

/** No node: used for "no vote cast" and "no known leader". Node ids are positive integers. */
export const NO_NODE: NodeId = 0;

export type EntryType = 'normal' | 'noop';

/** One slot of the replicated log. `noop` is the empty entry a new leader appends (Raft §8). */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on disk before the node answers anyone (Figure 2, "Persistent state on all servers"). */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId;
  /** Commit index. Persisting it is an optimisation (faster restart), never needed for safety. */
  readonly commitIndex: number;
}

export interface SnapshotMetadata {
  /** Last log index covered by the snapshot. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  /** Voter ids at the time of the snapshot. */
  readonly voters: readonly NodeId[];
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The state machine's own bytes; opaque to Raft. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader' | 'observer';

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's current term (for pre-vote requests: the term it would campaign in). */
  readonly term: number;
}

/** RequestVote (Figure 2), also used for the PreVote phase (thesis §9.6). */
export interface VoteRequest extends MessageBase {
  readonly type: 'vote-request';
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when campaigning because of TimeoutNow: voters skip the leader-lease check (thesis §3.10). */
  readonly leadershipTransfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'vote-response';
  readonly preVote: boolean;
  readonly granted: boolean;
}

/** AppendEntries (Figure 2). An empty `entries` list is a heartbeat that also probes log matching. */
export interface AppendRequest extends MessageBase {
  readonly type: 'append-request';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
  /**
   * ReadIndex round (thesis §6.4): the leader's read sequence number when it sent this; a response
   * echoes it, proving the leader was still leader at that point. 0 when no read is pending.
   */
  readonly readSeq: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'append-response';
  readonly success: boolean;
  /**
   * On success: the index of the last entry known to match the leader's log. On rejection: the
   * prevLogIndex that was rejected, so the leader can tell a stale rejection from a current one.
   */
  readonly matchIndex: number;
  /**
   * On rejection, fast backtracking (thesis §5.3 optimisation): the follower's term at prevLogIndex
   * (0 if it has no entry there) and the first index it holds for that term, or its last index + 1.
   */
  readonly conflictTerm: number;
  readonly conflictIndex: number;
  /** The follower's last log index, so the leader can jump `next` straight to it. */
  readonly lastLogIndex: number;
  readonly readSeq: number;
}

/** InstallSnapshot (Figure 13), sent whole: metadata snapshots are small. */
export interface SnapshotRequest extends MessageBase {
  readonly type: 'snapshot-request';
  readonly snapshot: Snapshot;
  readonly leaderCommit: number;
}

/** Leadership transfer (thesis §3.10): tells an up-to-date follower to start an election now. */
export interface TimeoutNow extends MessageBase {
  readonly type: 'timeout-now';
}

/**
 * An observer (non-voting learner) announces itself to the voters. The leader starts replicating the
 * log to it; followers ignore it. Observers keep sending it while they hear from no leader.
 */
export interface ObserveRequest extends MessageBase {
  readonly type: 'observe-request';
  readonly lastLogIndex: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | SnapshotRequest
  | TimeoutNow
  | ObserveRequest;

export type MessageType = Message['type'];

/** A linearizable read became safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly requestId: number;
  readonly index: number;
}

/** A read that can no longer be served (leadership lost before it was confirmed). */
export interface ReadFailure {
  readonly requestId: number;
  readonly leaderId: NodeId;
}

export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: number;
}

/**
 * The outbox of one step of the core. The driver must, in order:
 *  1. persist `snapshot` (if any: it replaces the whole stored log, so delete every stored entry), then
 *     `entries` (replacing any stored entries at index >= entries[0].index), then `hardState` (if any),
 *     atomically, and fsync;
 *  2. send `messagesAfterPersist` (votes and append acks: they promise what was just persisted);
 *  3. apply `committedEntries` to the state machine, in order;
 *  4. call `advance(ready)`.
 * `messages` do not depend on the local disk (a leader's AppendEntries may go out in parallel with its
 * own write, Raft thesis §10.2.1) and may be sent before step 1.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
}

/** Seeded randomness, injected so a simulation replays exactly from its seed. */
export interface Random {
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Voting members. A node whose id is not here is an observer. */
  readonly voters: readonly NodeId[];
  /** Ticks without hearing from a leader before a follower campaigns; randomised in [n, 2n). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats. Must be < electionTicks. */
  readonly heartbeatTicks: number;
  /** Leader steps down if it has not heard from a quorum within an election timeout (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Campaign with a PreVote round first, so a partitioned node cannot inflate terms (thesis §9.6). */
  readonly preVote: boolean;
  /** Bound on AppendEntries in flight per follower (pipelining window). */
  readonly maxInflightAppends: number;
  /** Bound on entries per AppendEntries message. */
  readonly maxEntriesPerAppend: number;
  /** Bound on proposals accepted but not yet committed; past it `propose` refuses. */
  readonly maxUncommittedEntries: number;
  readonly random: Random;
}

/** What the driver loaded from disk when (re)starting a node. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** Entries after the snapshot (or from index 1), contiguous and in order. */
  readonly entries: readonly Entry[];
}

export const EMPTY_PERSISTED_STATE: PersistedState = {
  hardState: { term: 0, votedFor: NO_NODE, commitIndex: 0 },
  snapshot: undefined,
  entries: [],
};

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: 'not-leader' | 'transferring' | 'too-many-uncommitted'; readonly leaderId: NodeId };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderId: NodeId };

export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader' | 'unknown-target' | 'already-transferring'; readonly leaderId: NodeId };

/** What a leader knows of a peer's replication, for `quorum describe`. */
export interface PeerProgress {
  readonly id: NodeId;
  readonly voter: boolean;
  readonly matchIndex: number;
  readonly nextIndex: number;
  /** Ticks since the leader last heard from this peer. */
  readonly ticksSinceContact: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly votedFor: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly voters: readonly NodeId[];
  /** Only on the leader: one row per voter (including itself) and per observer. */
  readonly progress: readonly PeerProgress[];
  readonly transferringTo: NodeId;
}
