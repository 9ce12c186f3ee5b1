import type { RunnelError } from '@runnel/protocol';

export type ReplicaRole = 'leader' | 'follower' | 'none';

/**
 * 'durable' (default): the high watermark is the minimum FLUSHED offset over the ISR, so an acks=all
 * record is acknowledged only once every replica that could be elected has it on disk ("acknowledged
 * means durable"). 'lazy': Kafka's behaviour, the minimum log end offset; a power loss of every ISR
 * member at once can lose acknowledged records.
 */
export type FlushPolicy = 'durable' | 'lazy';

/** Leader id of a partition that has no leader (every ISR member is offline). */
export const NO_LEADER = -1;
/** A follower's offsets before its first fetch in the current leader epoch. */
export const UNKNOWN_OFFSET = -1;

/** What the controller committed for a partition (Kafka's PartitionRecord / LeaderAndIsr). */
export interface PartitionAssignment {
  leaderEpoch: number;
  /** Version of the ISR/replica set; bumped by every committed change (Kafka's partition epoch). */
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
}

export interface FollowerAssignment extends PartitionAssignment {
  /** NO_LEADER when the partition is offline. */
  leaderId: number;
}

/** The local log as recovered from disk, given to the state when the partition is opened. */
export interface LocalLogState {
  logEndOffset: number;
  flushedOffset: number;
  /** From the high-watermark checkpoint; must not exceed logEndOffset (the driver caps it after recovery). */
  highWatermark: number;
}

export interface PartitionStateConfig {
  localBrokerId: number;
  flushPolicy?: FlushPolicy;
  /** Kafka's replica.lag.time.max.ms. */
  replicaLagTimeMaxMs?: number;
  /** Bound on acks=all produce requests waiting for the high watermark on this partition. */
  pendingProducesMax?: number;
}

export const DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000;
export const DEFAULT_PENDING_PRODUCES_MAX = 10_000;

/** An AlterPartition request for the controller (Kafka's AlterPartition / AlterIsr). */
export interface IsrChangeRequest {
  /** Matches the answer to the request: a late answer to an older request is ignored. */
  requestId: number;
  leaderEpoch: number;
  /** The partition epoch the change is based on; the controller rejects it if it moved on. */
  partitionEpoch: number;
  newIsr: readonly number[];
}

export interface ProduceCompletion {
  requestId: number;
  lastOffset: number;
  /** undefined: acknowledged. Otherwise the Kafka error to answer with. */
  error: RunnelError | undefined;
}

/** The outbox, in the manner of a Raft Ready: everything the driver must act on since the last call. */
export interface PartitionReady {
  /** The new high watermark when it changed (serve consumers up to it, checkpoint it). */
  highWatermark: number | undefined;
  /** Send to the controller; at most one is in flight. */
  isrChangeRequest: IsrChangeRequest | undefined;
  /** acks=all requests that can be answered now. */
  produceCompletions: ProduceCompletion[];
}

export type RoleChange =
  | { kind: 'new-epoch' }
  | { kind: 'metadata-update' }
  | { kind: 'unchanged' }
  | { kind: 'stale'; currentLeaderEpoch: number; currentPartitionEpoch: number };

export type FetchAdmission =
  | { ok: true; highWatermark: number; leaderLogEndOffset: number }
  | { ok: false; error: RunnelError };

export interface FollowerSnapshot {
  brokerId: number;
  logEndOffset: number;
  flushedOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
}

export interface PendingIsrChangeSnapshot {
  requestId: number;
  kind: 'expand' | 'shrink';
  proposedIsr: readonly number[];
  basePartitionEpoch: number;
  status: IsrChangeStatus;
  /** With status 'retry': the earliest time the change is sent again. */
  retryAtMs: number;
}

/**
 * unsent: queued for the next ready(); in-flight: sent, no answer yet; retry: failed with a
 * retriable error, resent at the next tick; awaiting-metadata: the controller rejected it in a way
 * that does not tell whether an earlier copy was applied, so only new metadata resolves it.
 */
export type IsrChangeStatus = 'unsent' | 'in-flight' | 'retry' | 'awaiting-metadata';

export interface PartitionSnapshot {
  role: ReplicaRole;
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  maximalIsr: readonly number[];
  pendingIsrChange: PendingIsrChangeSnapshot | undefined;
  logEndOffset: number;
  flushedOffset: number;
  highWatermark: number;
  leaderEpochStartOffset: number;
  followers: FollowerSnapshot[];
  pendingProduces: number;
}
