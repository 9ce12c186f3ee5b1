import { describe, expect, it } from 'vitest';
import type { ClusterDescription, TopicMetadataView } from '@runnel/client';
import { clusterStatus, formatClusterStatus } from './cluster-status.js';
import type { ClusterStatusSource } from './cluster-status.js';
import type { QuorumDescription } from './quorum-describe.js';

const VOTERS = [1, 2, 3].map((id) => ({ nodeId: id, endpoint: `127.0.0.1:${9_093 + (id - 1) * 100}` }));

function description(overrides: Partial<ClusterDescription> = {}): ClusterDescription {
  return {
    clusterId: 'c1',
    controller: 2,
    brokers: [1, 2, 3].map((id) => ({ nodeId: id, host: '127.0.0.1', port: 9_092 + (id - 1) * 100, rack: '', fenced: id === 3 })),
    controllerVoters: VOTERS,
    answeredBy: 1,
    metadataOffset: 40,
    ...overrides,
  };
}

function quorum(leaderId: number): QuorumDescription {
  const replica = (id: number, logEndIndex: number) => ({ id, endpoint: VOTERS[id - 1]!.endpoint, logEndIndex, lag: 42 - logEndIndex, lastContactMs: id === leaderId ? 0 : 50 });
  return { leaderId, leaderEndpoint: VOTERS[leaderId - 1]!.endpoint, term: 7, commitIndex: 42, highWatermark: 42, answeredBy: leaderId, voters: [replica(1, 42), replica(2, 42), replica(3, 30)], observers: [] };
}

const TOPICS: TopicMetadataView[] = [{
  name: 't',
  topicId: 'id',
  partitions: [
    { partitionId: 0, leader: 1, leaderEpoch: 3, replicas: [1, 2, 3], isr: [1, 2], offlineReplicas: [], partitionErrorCode: 0 },
    { partitionId: 1, leader: 2, leaderEpoch: 3, replicas: [2, 3, 1], isr: [2, 3, 1], offlineReplicas: [], partitionErrorCode: 0 },
    { partitionId: 2, leader: -1, leaderEpoch: 4, replicas: [3], isr: [3], offlineReplicas: [3], partitionErrorCode: 0 },
  ],
}];

function source(overrides: Partial<ClusterStatusSource> = {}): ClusterStatusSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    describeCluster: async () => description(),
    describeTopics: async () => TOPICS,
    describeQuorum: async (endpoint) => {
      asked.push(endpoint);
      return quorum(2);
    },
    ...overrides,
  };
}

describe('runnel cluster status', () => {
  it('lists every node with roles, fencing, the active controller and metadata lag from the quorum leader', async () => {
    const fake = source();
    const status = await clusterStatus(fake);
    expect(status.controllerId).toBe(2);
    expect(fake.asked[0]).toBe(VOTERS[1]!.endpoint);
    expect(status.brokers.map((b) => ({ id: b.id, fenced: b.fenced }))).toEqual([{ id: 1, fenced: false }, { id: 2, fenced: false }, { id: 3, fenced: true }]);
    expect(status.nodes.map((n) => [n.id, n.roles.join(','), n.fenced, n.activeController, n.metadataLag])).toEqual([
      [1, 'broker,controller', false, false, 0],
      [2, 'broker,controller', false, true, 0],
      [3, 'broker,controller', true, false, 12],
    ]);
    expect(status.metadataLag).toEqual({ 1: 0, 2: 0, 3: 12 });
    expect(status.partitions).toEqual({ total: 3, underReplicated: 1, offline: 1 });
    expect(status.quorumError).toBeNull();
  });

  it('a controller-only voter shows without broker fields, and a broker-only node without a controller endpoint', async () => {
    const status = await clusterStatus(source({
      describeCluster: async () => description({
        brokers: [{ nodeId: 4, host: 'h', port: 1, rack: '', fenced: false }],
        controllerVoters: [VOTERS[1]!],
      }),
    }));
    expect(status.nodes.map((n) => [n.id, n.roles, n.fenced, n.controllerEndpoint === ''])).toEqual([[2, ['controller'], null, false], [4, ['broker'], false, true]]);
  });

  it('keeps going with lag unknown when no voter answers, and says why', async () => {
    const status = await clusterStatus(source({ describeQuorum: async () => { throw new Error('unreachable'); } }));
    expect(status.controllerId).toBe(2);
    expect(status.nodes.every((n) => n.metadataLag === -1)).toBe(true);
    expect(status.quorumError).toContain('unreachable');
    expect(formatClusterStatus(status)).toContain('metadata lag unknown');
  });

  it('prints a table with one row per node, marking the active controller and fenced brokers', async () => {
    const text = formatClusterStatus(await clusterStatus(source()));
    expect(text).toContain('Active controller:  2 (term 7, commit index 42)');
    expect(text).toContain('1 under-replicated, 1 offline');
    const rows = text.split('\n').filter((line) => /^\d/.test(line));
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/^2\*\s+broker,controller\s+active/);
    expect(rows[2]).toMatch(/^3\s+broker,controller\s+fenced .* 12 /);
  });
});
