import type { NodeId, RaftStatus } from '../core/types.js';

export interface QuorumReplicaView {
  id: NodeId;
  voter: boolean;
  endpoint: string;
  /** The leader's last index for itself, the peer's match index for the others. */
  logEndIndex: number;
  /** How far the replica's log trails the leader's commit index, never negative. */
  lag: number;
  lastContactMs: number;
}

export interface QuorumView {
  leaderId: NodeId;
  term: number;
  commitIndex: number;
  /** The node that produced this view: replica rows are only filled when it is the leader. */
  answeredBy: NodeId;
  leaderEndpoint: string;
  voters: QuorumReplicaView[];
  observers: QuorumReplicaView[];
}

/** Builds `quorum describe`'s answer from the core's status (replica rows come only from a leader). */
export function quorumView(status: RaftStatus, endpoints: ReadonlyMap<NodeId, string>, tickMs: number): QuorumView {
  const rows = status.progress
    .map((p): QuorumReplicaView => {
      const logEndIndex = p.id === status.id ? status.lastIndex : p.matchIndex;
      return {
        id: p.id,
        voter: p.voter,
        endpoint: endpoints.get(p.id) ?? '',
        logEndIndex,
        lag: Math.max(0, status.commitIndex - logEndIndex),
        lastContactMs: p.ticksSinceContact * tickMs,
      };
    })
    .sort((a, b) => a.id - b.id);
  return {
    leaderId: status.leaderId,
    term: status.term,
    commitIndex: status.commitIndex,
    answeredBy: status.id,
    leaderEndpoint: endpoints.get(status.leaderId) ?? '',
    voters: rows.filter((row) => row.voter),
    observers: rows.filter((row) => !row.voter),
  };
}
