// `runnel cluster status`: every node of the cluster with its roles (broker, controller), whether it
// is fenced, which one is the active controller, and how far each lags behind in the metadata log.
// Brokers and fencing come from DescribeCluster (any broker); the quorum's voters, named in that
// answer, are asked for Quorum.Describe, whose leader reports every voter's and observer's metadata
// log end. Partition health (under-replicated, offline) comes from the metadata of every topic.
import type { ClusterDescription, TopicMetadataView } from '@runnel/client';
import type { QuorumDescription } from './quorum-describe.js';

/** Where the status comes from; the real one wraps a Runnel admin and Quorum.Describe calls. */
export interface ClusterStatusSource {
  describeCluster(): Promise<ClusterDescription>;
  describeTopics(): Promise<TopicMetadataView[]>;
  /** Quorum.Describe at a controller listener (following the leader as `runnel quorum describe` does). */
  describeQuorum(endpoint: string): Promise<QuorumDescription>;
}

export type NodeRole = 'broker' | 'controller';

export interface NodeStatus {
  id: number;
  roles: NodeRole[];
  /** Brokers only; null for a node that is only a controller. */
  fenced: boolean | null;
  activeController: boolean;
  /** host:port of the broker listener, '' when not a broker. */
  brokerEndpoint: string;
  /** host:port of the controller listener, '' when not a voter. */
  controllerEndpoint: string;
  /** Metadata log end this node has, per the quorum leader; -1 when unknown. */
  metadataLogEnd: number;
  /** Metadata records behind the quorum leader's log end; -1 when unknown. */
  metadataLag: number;
  /** Since the quorum leader last heard from it; -1 when unknown. */
  lastContactMs: number;
}

export interface ClusterStatus {
  clusterId: string;
  /** The active controller (the metadata quorum's leader); -1 when none is known. */
  controllerId: number;
  metadataTerm: number;
  metadataCommitIndex: number;
  brokers: Array<{ id: number; host: string; port: number; rack: string; fenced: boolean }>;
  nodes: NodeStatus[];
  /** Node id -> metadata lag (-1: unknown), the same figures as in `nodes`. */
  metadataLag: Record<string, number>;
  partitions: { total: number; underReplicated: number; offline: number };
  /** Why the quorum could not be described, when it could not. */
  quorumError: string | null;
}

/** Gathers the status; a silent quorum leaves lag unknown rather than failing the command. */
export async function clusterStatus(source: ClusterStatusSource): Promise<ClusterStatus> {
  const [description, topics] = await Promise.all([source.describeCluster(), source.describeTopics()]);
  let quorum: QuorumDescription | undefined;
  let quorumError: string | null = null;
  if (description.controllerVoters.length === 0) {
    quorumError = 'the broker did not name the controller quorum';
  } else {
    // The active controller first: it is the leader, whose answer has the replica rows.
    const ordered = [...description.controllerVoters].sort((a, b) => Number(b.nodeId === description.controller) - Number(a.nodeId === description.controller));
    for (const voter of ordered) {
      try {
        quorum = await source.describeQuorum(voter.endpoint);
        if (quorum.voters.length > 0) break;
      } catch (error) {
        quorumError = `${voter.endpoint}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    if (quorum !== undefined) quorumError = quorum.voters.length > 0 ? null : 'the quorum leader did not answer; lag unknown';
  }
  const replicaOf = new Map<number, { logEndIndex: number; lag: number; lastContactMs: number }>();
  for (const replica of [...(quorum?.voters ?? []), ...(quorum?.observers ?? [])]) replicaOf.set(replica.id, replica);
  const controllerId = quorum !== undefined && quorum.leaderId > 0 ? quorum.leaderId : description.controller;
  const ids = new Set<number>([...description.brokers.map((b) => b.nodeId), ...description.controllerVoters.map((v) => v.nodeId)]);
  const nodes: NodeStatus[] = [...ids].sort((a, b) => a - b).map((id) => {
    const broker = description.brokers.find((b) => b.nodeId === id);
    const voter = description.controllerVoters.find((v) => v.nodeId === id);
    const replica = replicaOf.get(id);
    const roles: NodeRole[] = [];
    if (broker !== undefined) roles.push('broker');
    if (voter !== undefined) roles.push('controller');
    return {
      id,
      roles,
      fenced: broker === undefined ? null : broker.fenced,
      activeController: id === controllerId,
      brokerEndpoint: broker === undefined ? '' : `${broker.host}:${broker.port}`,
      controllerEndpoint: voter?.endpoint ?? '',
      metadataLogEnd: replica?.logEndIndex ?? -1,
      metadataLag: replica?.lag ?? -1,
      lastContactMs: replica?.lastContactMs ?? -1,
    };
  });
  let total = 0;
  let underReplicated = 0;
  let offline = 0;
  for (const topic of topics) {
    for (const p of topic.partitions) {
      total++;
      if (p.leader < 0) offline++;
      if (p.isr.length < p.replicas.length) underReplicated++;
    }
  }
  return {
    clusterId: description.clusterId,
    controllerId,
    metadataTerm: quorum?.term ?? -1,
    metadataCommitIndex: quorum?.commitIndex ?? -1,
    brokers: description.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port, rack: b.rack, fenced: b.fenced })),
    nodes,
    metadataLag: Object.fromEntries(nodes.map((n) => [String(n.id), n.metadataLag])),
    partitions: { total, underReplicated, offline },
    quorumError,
  };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function formatClusterStatus(status: ClusterStatus): string {
  const header = ['ID', 'ROLES', 'STATUS', 'BROKER', 'CONTROLLER', 'METADATA END', 'LAG', 'LAST CONTACT'];
  const rows = status.nodes.map((n) => [
    n.activeController ? `${n.id}*` : String(n.id),
    n.roles.join(','),
    n.fenced === null ? '-' : n.fenced ? 'fenced' : 'active',
    n.brokerEndpoint === '' ? '-' : n.brokerEndpoint,
    n.controllerEndpoint === '' ? '-' : n.controllerEndpoint,
    n.metadataLogEnd < 0 ? '?' : String(n.metadataLogEnd),
    n.metadataLag < 0 ? '?' : String(n.metadataLag),
    n.lastContactMs < 0 ? '?' : `${n.lastContactMs} ms`,
  ]);
  const controller = status.controllerId > 0 ? String(status.controllerId) : 'none (election in progress or no quorum)';
  const lines = [
    `Cluster id:         ${status.clusterId}`,
    `Active controller:  ${controller}${status.metadataTerm >= 0 ? ` (term ${status.metadataTerm}, commit index ${status.metadataCommitIndex})` : ''}`,
    `Partitions:         ${status.partitions.total} total, ${status.partitions.underReplicated} under-replicated, ${status.partitions.offline} offline`,
    '',
    table([header, ...rows]),
    '(* active controller)',
  ];
  if (status.quorumError !== null) lines.push(`metadata lag unknown: ${status.quorumError}`);
  return lines.join('\n');
}
