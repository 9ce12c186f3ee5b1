// /metrics on a real daemon in process: after a known produce, fetch and offset commit the scrape
// holds the expected series with the expected values.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrokerClient, createGroupCoordinatorClient, encodeRecordBatch, unaryCall } from '@runnel/protocol';
import { resolveConfig } from './config.js';
import { startDaemon } from './daemon.js';
import type { Daemon } from './daemon.js';
import { formatStorage, randomClusterId } from './meta-properties.js';

const CONTROLLER = '127.0.0.1:28393';
const BROKER = '127.0.0.1:28392';
const HTTP = '127.0.0.1:28394';
const TOPIC = 'metered';
const RECORDS = 5;
const COMMITTED = 2;

let root: string;
let daemon: Daemon | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'runnel-metrics-'));
});
afterEach(async () => {
  await daemon?.shutdown('test over');
  daemon = undefined;
  await rm(root, { recursive: true, force: true });
});

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sample values by series (name plus labels as printed), from the text exposition. */
function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function scrape(): Promise<{ contentType: string | null; samples: Map<string, number>; text: string }> {
  const response = await fetch(`http://${HTTP}/metrics`, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  const text = await response.text();
  return { contentType: response.headers.get('content-type'), samples: parseSamples(text), text };
}

describe('GET /metrics', () => {
  it('reports requests, partitions, Raft, controller, cluster and group lag series with their values', async () => {
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: randomClusterId() });
    const config = resolveConfig({
      flags: {
        nodeId: '1', dataDir: root, controllerQuorumVoters: `1@${CONTROLLER}`, listen: BROKER, httpListen: HTTP,
        brokerHeartbeatIntervalMs: '200', offsetsTopicReplicationFactor: '1', offsetsTopicNumPartitions: '1',
      },
    }).config;
    daemon = await startDaemon(config, pino({ level: 'silent' }));
    const running = daemon;
    await waitFor('the broker to be unfenced', () => running.stateMachine.image.broker(1)?.fenced === false);
    const broker = createBrokerClient(BROKER);
    const groups = createGroupCoordinatorClient(BROKER);
    try {
      const created = await unaryCall(broker, 'createTopics', { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, configs: [] }], validateOnly: false, timeoutMs: 5_000 }, 10_000);
      expect(created.topics[0]?.errorCode).toBe(0);
      await waitFor('the partition to be led here', () => running.broker?.replicaManager.describe().some((p) => p.topic === TOPIC && p.role === 'leader') === true);
      const records = encodeRecordBatch({ records: Array.from({ length: RECORDS }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })) });
      const produced = await unaryCall(broker, 'produce', { transactionalId: '', acks: -1, timeoutMs: 5_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records }] }] }, 10_000);
      expect(produced.topics[0]?.partitions[0]?.errorCode).toBe(0);
      // A partition that does not exist: counted as an error of the produce kind.
      const refused = await unaryCall(broker, 'produce', { transactionalId: '', acks: -1, timeoutMs: 5_000, topics: [{ name: TOPIC, partitions: [{ partition: 7, records }] }] }, 10_000);
      expect(refused.topics[0]?.partitions[0]?.errorCode).not.toBe(0);
      const fetched = await unaryCall(broker, 'fetch', {
        replicaId: -1, replicaEpoch: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0,
        topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20, flushedOffset: -1 }] }],
      }, 10_000);
      const fetchedBytes = fetched.topics[0]?.partitions[0]?.records.length ?? 0;
      expect(fetchedBytes).toBeGreaterThan(0);
      // The group coordinator: FindCoordinator creates __consumer_offsets; then commit offset 2 for group g.
      await waitFor('a group coordinator', async () => {
        const answer = await unaryCall(groups, 'findCoordinator', { groupIds: ['g'] }, 5_000);
        return answer.coordinators[0]?.errorCode === 0;
      });
      await waitFor('an offset commit', async () => {
        const answer = await unaryCall(groups, 'offsetCommit', {
          groupId: 'g', memberId: '', memberEpoch: -1,
          topics: [{ name: TOPIC, partitions: [{ partition: 0, committedOffset: COMMITTED, committedLeaderEpoch: -1, metadata: '' }] }],
        }, 5_000).catch(() => undefined);
        return answer !== undefined && answer.errorCode === 0 && answer.topics[0]?.partitions[0]?.errorCode === 0;
      });

      const { contentType, samples, text } = await scrape();
      expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      const partition = `{topic="${TOPIC}",partition="0"}`;
      expect(samples.get(`runnel_partition_high_watermark${partition}`)).toBe(RECORDS);
      expect(samples.get(`runnel_partition_log_end_offset${partition}`)).toBe(RECORDS);
      expect(samples.get(`runnel_partition_log_start_offset${partition}`)).toBe(0);
      expect(samples.get(`runnel_partition_isr_size${partition}`)).toBe(1);
      expect(samples.get(`runnel_partition_leader${partition}`)).toBe(1);
      expect(samples.get('runnel_broker_requests_total{request="produce"}')).toBe(2);
      expect(samples.get('runnel_broker_request_duration_seconds_count{request="produce"}')).toBe(2);
      expect(samples.get('runnel_broker_request_errors_total{request="produce",error="UNKNOWN_TOPIC_OR_PARTITION"}')).toBe(1);
      expect(samples.get('runnel_broker_request_records_bytes_total{request="produce"}')).toBe(2 * records.length);
      expect(samples.get('runnel_broker_requests_total{request="fetch_consumer"}')).toBe(1);
      expect(samples.get('runnel_broker_request_records_bytes_total{request="fetch_consumer"}')).toBe(fetchedBytes);
      expect(samples.get('runnel_broker_requests_total{request="fetch_replica"}')).toBe(0);
      expect(samples.get(`runnel_group_committed_offset{group="g",topic="${TOPIC}",partition="0"}`)).toBe(COMMITTED);
      expect(samples.get(`runnel_group_lag_records{group="g",topic="${TOPIC}",partition="0"}`)).toBe(RECORDS - COMMITTED);
      expect(samples.get('runnel_raft_leader_id')).toBe(1);
      expect(samples.get('runnel_raft_role{role="leader"}')).toBe(1);
      expect(samples.get('runnel_raft_role{role="follower"}')).toBe(0);
      expect(samples.get('runnel_raft_term')).toBe(running.node.status().term);
      expect(samples.get('runnel_raft_leader_changes_total')).toBe(1);
      // A fresh single voter elects itself once.
      expect(samples.get('runnel_raft_elections_started_total')).toBe(1);
      expect(samples.get('runnel_raft_commit_index')).toBeGreaterThan(0);
      expect(samples.get('runnel_controller_active')).toBe(1);
      expect(samples.get('runnel_controller_fenced_brokers')).toBe(0);
      // New partitions get their first leader in their Partition record: no election happened.
      expect(samples.get('runnel_controller_partition_leader_elections_total')).toBe(0);
      expect(samples.get('runnel_cluster_offline_partitions')).toBe(0);
      expect(samples.get('runnel_cluster_under_replicated_partitions')).toBe(0);
      expect(samples.get('runnel_node_ready')).toBe(1);
      expect(text).toContain('process_resident_memory_bytes');
      expect(text).toContain('nodejs_eventloop_lag_seconds');
    } finally {
      broker.close();
      groups.close();
    }
  });
});
