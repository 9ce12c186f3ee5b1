import { assert } from './assert.js';
import type { NodeId } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * The leader's view of one peer's log (Figure 2, "Volatile state on leaders": nextIndex, matchIndex),
 * plus the flow control etcd/raft found necessary in practice:
 *  - probe: we do not know where the peer's log matches ours; one AppendEntries at a time.
 *  - replicate: the peer is caught up to `match`; appends are pipelined, at most `maxInflight` at once.
 *  - snapshot: a snapshot is in flight; appends wait until it is acknowledged.
 */
export class Progress {
  state: ProgressState = 'probe';
  matchIndex = 0;
  nextIndex: number;
  /** In probe state: an append is outstanding; wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Last index of each append in flight, oldest first (replicate state). */
  private inflight: number[] = [];
  pendingSnapshotIndex = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  ticksSinceContact = 0;
  /** Highest ReadIndex sequence this peer has echoed in the current term. */
  readSeqAcked = 0;
  /** matchIndex at the previous heartbeat and how many heartbeats it has not moved with appends in flight. */
  private matchAtLastHeartbeat = 0;
  private stalledHeartbeats = 0;
  ticksInSnapshot = 0;

  constructor(
    readonly id: NodeId,
    readonly voter: boolean,
    nextIndex: number,
    private readonly maxInflight: number,
  ) {
    this.nextIndex = nextIndex;
  }

  becomeProbe(): void {
    // After a snapshot the peer holds at least the snapshot; resume right after it.
    const resumeFrom = this.state === 'snapshot' ? Math.max(this.matchIndex, this.pendingSnapshotIndex) : this.matchIndex;
    this.resetState('probe');
    this.nextIndex = resumeFrom + 1;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.nextIndex = this.matchIndex + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshotIndex = snapshotIndex;
    this.ticksInSnapshot = 0;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflight = [];
    this.stalledHeartbeats = 0;
  }

  /** The peer acknowledged up to `index`. Returns whether matchIndex moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.matchIndex) {
      this.matchIndex = index;
      updated = true;
      this.probeSent = false;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  /**
   * The peer rejected an append whose prevLogIndex was `rejectedIndex`. Returns false for a stale
   * rejection (one answering an append we have already moved past), which must not move nextIndex.
   */
  maybeDecreaseTo(rejectedIndex: number, hintNextIndex: number): boolean {
    if (this.state === 'replicate') {
      if (rejectedIndex <= this.matchIndex) return false;
      this.becomeProbe();
      return true;
    }
    if (this.nextIndex - 1 !== rejectedIndex) return false;
    // Always move strictly backwards and never below what the peer is known to match.
    this.nextIndex = Math.max(Math.min(rejectedIndex, hintNextIndex), this.matchIndex + 1);
    this.probeSent = false;
    return true;
  }

  /** An append carrying entries up to `lastIndex` was sent. */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        assert(lastIndex >= this.nextIndex, 'pipelined append must advance nextIndex');
        this.nextIndex = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** Whether an append with new entries may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  hasInflight(): boolean {
    return this.inflight.length > 0;
  }

  /** Called once per heartbeat: true when appends have been in flight without progress for two intervals. */
  stalledAtHeartbeat(): boolean {
    this.stalledHeartbeats = this.hasInflight() && this.matchIndex === this.matchAtLastHeartbeat ? this.stalledHeartbeats + 1 : 0;
    this.matchAtLastHeartbeat = this.matchIndex;
    return this.stalledHeartbeats >= 2;
  }
}
