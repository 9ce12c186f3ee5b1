// Hand-written mirrors of proto/runnel/v1/raft.proto in the shape PROTO_LOADER_OPTIONS decodes to:
// camelCase, uint64 -> number, bytes -> Buffer, enums -> names, unset message fields -> null.
// Keep in step with the .proto: a field added there and not here is silently dropped by callers.

export type EntryType = 'ENTRY_TYPE_NORMAL' | 'ENTRY_TYPE_NOOP';

export interface RaftEntry {
  index: number;
  term: number;
  type: EntryType;
  data: Buffer;
}

export interface RaftSnapshot {
  index: number;
  term: number;
  voters: number[];
  data: Buffer;
}

export interface VoteRequest {
  preVote: boolean;
  lastLogIndex: number;
  lastLogTerm: number;
  leadershipTransfer: boolean;
}

export interface VoteResponse {
  preVote: boolean;
  granted: boolean;
}

export interface AppendRequest {
  prevLogIndex: number;
  prevLogTerm: number;
  entries: RaftEntry[];
  leaderCommit: number;
  readSeq: number;
}

export interface AppendResponse {
  success: boolean;
  matchIndex: number;
  conflictTerm: number;
  conflictIndex: number;
  lastLogIndex: number;
  readSeq: number;
}

export interface SnapshotRequest {
  /** null only when a malformed peer omitted it; the decoder fills absent message fields with null. */
  snapshot: RaftSnapshot | null;
  leaderCommit: number;
}

// Empty on the wire: the message type alone is the instruction to campaign now.
export type TimeoutNow = Record<string, never>;

export interface ObserveRequest {
  lastLogIndex: number;
}

/** Name of the member set in RaftMessage's `body` oneof (the loader's virtual field). */
export type RaftMessageBody =
  | 'voteRequest'
  | 'voteResponse'
  | 'appendRequest'
  | 'appendResponse'
  | 'snapshotRequest'
  | 'timeoutNow'
  | 'observeRequest';

export interface RaftMessage {
  from: number;
  to: number;
  term: number;
  /** Set on decode; ignored on encode, where the one present member decides. */
  body?: RaftMessageBody;
  voteRequest?: VoteRequest;
  voteResponse?: VoteResponse;
  appendRequest?: AppendRequest;
  appendResponse?: AppendResponse;
  snapshotRequest?: SnapshotRequest;
  timeoutNow?: TimeoutNow;
  observeRequest?: ObserveRequest;
}

export interface RaftBatch {
  clusterId: string;
  messages: RaftMessage[];
  /** host:port of the sender's Raft listener, "" if unknown; how a leader learns observers' endpoints. */
  senderEndpoint: string;
}

export interface RaftBatchAck {
  /** 0, or a Kafka error code such as INCONSISTENT_CLUSTER_ID (104). */
  errorCode: number;
  errorMessage: string;
}
