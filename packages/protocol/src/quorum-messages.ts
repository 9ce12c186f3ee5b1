// Hand-written mirrors of proto/runnel/v1/quorum.proto in the shape PROTO_LOADER_OPTIONS decodes to
// (camelCase, uint64/int64 -> number, bytes -> Buffer). Keep in step with the .proto.

export type DescribeQuorumRequest = Record<string, never>;

export interface QuorumReplica {
  id: number;
  voter: boolean;
  /** host:port of the replica's controller listener; "" when unknown. */
  endpoint: string;
  logEndIndex: number;
  /** Leader's commit index minus this replica's match index (0 for the leader). */
  lag: number;
  /** Milliseconds since the leader last heard from this replica; -1 when unknown. */
  lastContactMs: number;
}

export interface DescribeQuorumResponse {
  errorCode: number;
  errorMessage: string;
  leaderId: number;
  term: number;
  commitIndex: number;
  answeredBy: number;
  leaderEndpoint: string;
  /** Filled only by the leader; a follower answers with leaderId/leaderEndpoint to redirect. */
  voters: QuorumReplica[];
  observers: QuorumReplica[];
  highWatermark: number;
}

export interface ProposeRequest {
  data: Buffer;
}

export interface ProposeResponse {
  /** 0, NOT_CONTROLLER (41) with leaderId/leaderEndpoint, REQUEST_TIMED_OUT (7), ... */
  errorCode: number;
  errorMessage: string;
  index: number;
  term: number;
  leaderId: number;
  leaderEndpoint: string;
}

export interface TransferLeadershipRequest {
  /** 0 lets the leader pick the most up-to-date voter. */
  targetId: number;
}

export interface TransferLeadershipResponse {
  errorCode: number;
  errorMessage: string;
  leaderId: number;
}
