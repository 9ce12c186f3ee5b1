// runnel.v1.Quorum over the local RaftNode: answers carry Kafka error codes instead of gRPC failures,
// so a client can tell "ask the leader at X" (NOT_CONTROLLER + hint) from a broken transport.
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, RunnelError } from '@runnel/protocol';
import type {
  DescribeQuorumRequest,
  DescribeQuorumResponse,
  ProposeRequest,
  ProposeResponse,
  QuorumReplica,
  TransferLeadershipRequest,
  TransferLeadershipResponse,
} from '@runnel/protocol';
import type { QuorumReplicaView, QuorumView, RaftNode } from '@runnel/raft';
import type { Logger } from 'pino';

/** Bound on one record in the metadata log: metadata records are small, a huge one is a client bug. */
export const PROPOSAL_BYTES_MAX = 1024 * 1024;

export interface QuorumServiceOptions {
  readonly node: RaftNode;
  readonly logger: Logger;
  readonly proposeTimeoutMs: number;
  readonly transferTimeoutMs: number;
}

export function toReplica(view: QuorumReplicaView): QuorumReplica {
  return {
    id: view.id,
    voter: view.voter,
    endpoint: view.endpoint,
    logEndIndex: view.logEndIndex,
    lag: view.lag,
    lastContactMs: view.lastContactMs,
  };
}

export function describeResponse(view: QuorumView): DescribeQuorumResponse {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    leaderId: view.leaderId,
    term: view.term,
    commitIndex: view.commitIndex,
    answeredBy: view.answeredBy,
    leaderEndpoint: view.leaderEndpoint,
    voters: view.voters.map(toReplica),
    observers: view.observers.map(toReplica),
    highWatermark: view.commitIndex,
  };
}

function errorFields(error: unknown): { errorCode: number; errorMessage: string; leaderId: number; leaderEndpoint: string } {
  if (error instanceof RunnelError) {
    const leaderId = typeof error.details['leaderId'] === 'number' ? error.details['leaderId'] : 0;
    const leaderEndpoint = typeof error.details['leaderEndpoint'] === 'string' ? error.details['leaderEndpoint'] : '';
    return { errorCode: error.code, errorMessage: error.message, leaderId, leaderEndpoint };
  }
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: error instanceof Error ? error.message : String(error), leaderId: 0, leaderEndpoint: '' };
}

export function quorumServiceHandlers(options: QuorumServiceOptions): grpc.UntypedServiceImplementation {
  const { node, logger } = options;
  const describe: grpc.handleUnaryCall<DescribeQuorumRequest, DescribeQuorumResponse> = (_call, callback) => {
    callback(null, describeResponse(node.describe()));
  };
  const propose: grpc.handleUnaryCall<ProposeRequest, ProposeResponse> = (call, callback) => {
    const data = call.request.data;
    if (data.length > PROPOSAL_BYTES_MAX) {
      callback(null, {
        errorCode: ErrorCode.MESSAGE_TOO_LARGE, errorMessage: `record of ${data.length} bytes exceeds ${PROPOSAL_BYTES_MAX}`,
        index: 0, term: 0, leaderId: 0, leaderEndpoint: '',
      });
      return;
    }
    node.propose(data, options.proposeTimeoutMs).then(
      ({ index, term }) => {
        const view = node.describe();
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '', index, term, leaderId: view.leaderId, leaderEndpoint: view.leaderEndpoint });
      },
      (error: unknown) => {
        if (!(error instanceof RunnelError)) logger.error({ err: error }, 'propose failed unexpectedly');
        callback(null, { ...errorFields(error), index: 0, term: 0 });
      },
    );
  };
  const transferLeadership: grpc.handleUnaryCall<TransferLeadershipRequest, TransferLeadershipResponse> = (call, callback) => {
    const target = call.request.targetId === 0 ? undefined : call.request.targetId;
    node.transferLeadership(target, options.transferTimeoutMs).then(
      (leaderId) => {
        logger.info({ leaderId }, 'leadership transferred on request');
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '', leaderId });
      },
      (error: unknown) => {
        const fields = errorFields(error);
        callback(null, { errorCode: fields.errorCode, errorMessage: fields.errorMessage, leaderId: fields.leaderId });
      },
    );
  };
  return { Describe: describe, Propose: propose, TransferLeadership: transferLeadership } as grpc.UntypedServiceImplementation;
}
