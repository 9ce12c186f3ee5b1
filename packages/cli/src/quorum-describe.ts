import { createQuorumClient, errorInfo, RunnelError, unaryCall } from '@runnel/protocol';
import type { DescribeQuorumResponse, QuorumReplica } from '@runnel/protocol';

export interface QuorumDescription {
  leaderId: number;
  leaderEndpoint: string;
  term: number;
  commitIndex: number;
  highWatermark: number;
  answeredBy: number;
  voters: ReplicaDescription[];
  observers: ReplicaDescription[];
}

export interface ReplicaDescription {
  id: number;
  endpoint: string;
  logEndIndex: number;
  lag: number;
  lastContactMs: number;
}

async function describeAt(address: string, deadlineMs: number): Promise<DescribeQuorumResponse> {
  const client = createQuorumClient(address);
  try {
    const response = await unaryCall(client, 'describe', {}, deadlineMs).catch((error: unknown) => {
      if (error instanceof RunnelError && (error.codeName === 'NETWORK_EXCEPTION' || error.codeName === 'REQUEST_TIMED_OUT')) {
        throw new RunnelError(error.codeName, `cannot reach controller ${address} within ${deadlineMs} ms; is a runnel node listening there? (${error.message})`, { cause: error });
      }
      throw error;
    });
    if (response.errorCode !== 0) {
      throw new RunnelError(errorInfo(response.errorCode).name, `${address} answered ${errorInfo(response.errorCode).name}: ${response.errorMessage}`);
    }
    return response;
  } finally {
    client.close();
  }
}

/**
 * Asks `controller`; replica rows only come from the leader, so a follower's answer is followed once
 * to the leader it names. One hop only: a second redirect means leadership is moving, and the
 * follower's own answer is still a truthful (if partial) picture.
 */
export async function describeQuorum(controller: string, deadlineMs: number): Promise<QuorumDescription> {
  let response = await describeAt(controller, deadlineMs);
  if (response.leaderId !== 0 && response.answeredBy !== response.leaderId && response.leaderEndpoint !== '') {
    try {
      response = await describeAt(response.leaderEndpoint, deadlineMs);
    } catch {
      // The leader may have just died; the follower's view still tells the operator who it believes leads.
    }
  }
  return toDescription(response);
}

function toReplicaDescription(replica: QuorumReplica): ReplicaDescription {
  return { id: replica.id, endpoint: replica.endpoint, logEndIndex: replica.logEndIndex, lag: replica.lag, lastContactMs: replica.lastContactMs };
}

export function toDescription(response: DescribeQuorumResponse): QuorumDescription {
  return {
    leaderId: response.leaderId,
    leaderEndpoint: response.leaderEndpoint,
    term: response.term,
    commitIndex: response.commitIndex,
    highWatermark: response.highWatermark,
    answeredBy: response.answeredBy,
    voters: response.voters.map(toReplicaDescription),
    observers: response.observers.map(toReplicaDescription),
  };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}

function replicaRows(replicas: readonly ReplicaDescription[], leaderId: number): string {
  if (replicas.length === 0) return '  (none)';
  const header = ['ID', 'ENDPOINT', 'LOG END', 'LAG', 'LAST CONTACT'];
  const rows = replicas.map((replica) => [
    replica.id === leaderId ? `${replica.id}*` : String(replica.id),
    replica.endpoint === '' ? '-' : replica.endpoint,
    String(replica.logEndIndex),
    String(replica.lag),
    replica.lastContactMs < 0 ? 'unknown' : `${replica.lastContactMs} ms`,
  ]);
  return table([header, ...rows]).split('\n').map((line) => `  ${line}`).join('\n');
}

export function formatDescription(description: QuorumDescription): string {
  const leader = description.leaderId === 0
    ? 'none (election in progress or no quorum)'
    : `${description.leaderId}${description.leaderEndpoint === '' ? '' : ` (${description.leaderEndpoint})`}`;
  const lines = [
    `Leader:        ${leader}`,
    `Term:          ${description.term}`,
    `Commit index:  ${description.commitIndex}`,
    `Answered by:   ${description.answeredBy}`,
  ];
  if (description.answeredBy !== description.leaderId && description.voters.length === 0) {
    lines.push('(replica details come from the leader, which did not answer)');
  } else {
    lines.push('Voters:', replicaRows(description.voters, description.leaderId));
    lines.push('Observers:', replicaRows(description.observers, description.leaderId));
  }
  return lines.join('\n');
}
