import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrokerClient, createGroupCoordinatorClient, createQuorumClient, unaryCall } from '@runnel/protocol';
import { resolveConfig } from './config.js';
import { shutdownTransferTarget, startDaemon } from './daemon.js';
import type { Daemon } from './daemon.js';
import { formatStorage, randomClusterId } from './meta-properties.js';

const ENDPOINT = '127.0.0.1:28093';
const BROKER_ENDPOINT = '127.0.0.1:28092';
const HTTP_ENDPOINT = '127.0.0.1:28094';
const EXTERNAL_ENDPOINT = '127.0.0.1:28095';
let root: string;
const daemons: Daemon[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'runnel-daemon-'));
});
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((daemon) => daemon.shutdown('test over')));
  await rm(root, { recursive: true, force: true });
});

function configFor(dataDir: string, flags: Record<string, string> = {}): ReturnType<typeof resolveConfig>['config'] {
  return resolveConfig({ flags: { nodeId: '1', dataDir, controllerQuorumVoters: `1@${ENDPOINT}`, listen: BROKER_ENDPOINT, httpListen: HTTP_ENDPOINT, ...flags } }).config;
}

async function getJson(path: string, address = HTTP_ENDPOINT): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return predicate();
}

describe('daemon (single voter, in process)', () => {
  it('serves Describe and commits proposals through Propose, then shuts down', async () => {
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: randomClusterId() });
    const daemon = await startDaemon(configFor(root), pino({ level: 'silent' }));
    daemons.push(daemon);
    const client = createQuorumClient(ENDPOINT);
    try {
      const deadline = Date.now() + 10_000;
      let leaderId = 0;
      while (leaderId !== 1 && Date.now() < deadline) {
        leaderId = (await unaryCall(client, 'describe', {}, 1_000)).leaderId;
      }
      expect(leaderId).toBe(1);
      const response = await unaryCall(client, 'propose', { data: Buffer.from('hello') }, 5_000);
      expect(response.errorCode).toBe(0);
      // A raw payload is not a metadata record batch: every replica skips it alike.
      expect(daemon.stateMachine.skippedEntries).toBe(1);
    } finally {
      client.close();
    }
  });

  it('refuses to start when the listener port is taken, and releases its storage', async () => {
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: randomClusterId() });
    const first = await startDaemon(configFor(root), pino({ level: 'silent' }));
    daemons.push(first);
    const otherDir = join(root, 'other');
    await formatStorage({ dataDir: otherDir, nodeId: 1, clusterId: randomClusterId() });
    await expect(startDaemon(configFor(otherDir), pino({ level: 'silent' }))).rejects.toThrow(/cannot listen on 127\.0\.0\.1:28093 \(controller\.listener\): address already in use/);
  });
});

describe('daemon roles (in process)', () => {
  it('runs a broker-only node as a Raft observer that registers and follows the metadata log', async () => {
    const clusterId = randomClusterId();
    const voterDir = join(root, 'voter');
    const observerDir = join(root, 'observer');
    await formatStorage({ dataDir: voterDir, nodeId: 1, clusterId });
    await formatStorage({ dataDir: observerDir, nodeId: 9, clusterId });
    const voter = await startDaemon(configFor(voterDir), pino({ level: 'silent' }));
    daemons.push(voter);
    const observerConfig = resolveConfig({
      flags: { nodeId: '9', dataDir: observerDir, controllerQuorumVoters: `1@${ENDPOINT}`, roles: 'broker', listen: '127.0.0.1:28192', httpListen: '127.0.0.1:28194', brokerHeartbeatIntervalMs: '200' },
    }).config;
    const observer = await startDaemon(observerConfig, pino({ level: 'silent' }));
    daemons.push(observer);
    expect(observer.controller).toBeUndefined();
    const deadline = Date.now() + 15_000;
    const both = () => [voter, observer].every((d) => [1, 9].every((id) => d.stateMachine.image.broker(id)?.fenced === false));
    while (!both() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    // Both brokers registered and were unfenced by the controller, and the observer applied those records itself.
    expect(both()).toBe(true);
    expect(observer.stateMachine.image.broker(9)?.endpoints).toEqual([{ name: 'CLIENT', host: '127.0.0.1', port: 28192 }]);
    expect(voter.node.describe().observers.map((row) => [row.id, row.endpoint])).toEqual([[9, '127.0.0.1:28192']]);
  });
});

describe('daemon HTTP and external listener (in process)', () => {
  it('answers /healthz, /readyz once registered and unfenced, 404 elsewhere, and 503 once shutdown began', async () => {
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: randomClusterId() });
    const daemon = await startDaemon(configFor(root, { brokerHeartbeatIntervalMs: '200' }), pino({ level: 'silent' }));
    daemons.push(daemon);
    expect(await getJson('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await waitFor(async () => (await getJson('/readyz')).status === 200, 15_000)).toBe(true);
    const ready = await getJson('/readyz');
    expect(ready.body).toMatchObject({ status: 'ready', registered: true, fenced: false });
    expect((await getJson('/nope')).status).toBe(404);
    const post = await fetch(`http://${HTTP_ENDPOINT}/healthz`, { method: 'POST', body: 'x', signal: AbortSignal.timeout(5_000) });
    expect(post.status).toBe(405);
    const stopping = daemon.shutdown('test');
    // Shutdown begins synchronously; the listener stays up until the node has stopped.
    const during = await getJson('/healthz');
    expect(during).toEqual({ status: 503, body: { status: 'shutting-down' } });
    expect((await getJson('/readyz')).status).toBe(503);
    await stopping;
    await expect(fetch(`http://${HTTP_ENDPOINT}/healthz`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });

  it('answers requests on the external listener with EXTERNAL endpoints and on the primary one with CLIENT endpoints', async () => {
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: randomClusterId() });
    const config = configFor(root, { externalListen: EXTERNAL_ENDPOINT, externalAdvertisedListen: 'localhost:29999', brokerHeartbeatIntervalMs: '200', offsetsTopicReplicationFactor: '1', offsetsTopicNumPartitions: '1' });
    const daemon = await startDaemon(config, pino({ level: 'silent' }));
    daemons.push(daemon);
    expect(await waitFor(() => daemon.stateMachine.image.broker(1)?.fenced === false, 15_000)).toBe(true);
    expect(daemon.stateMachine.image.broker(1)?.endpoints).toEqual([
      { name: 'CLIENT', host: '127.0.0.1', port: 28092 },
      { name: 'EXTERNAL', host: 'localhost', port: 29999 },
    ]);
    const primary = createBrokerClient(BROKER_ENDPOINT);
    const external = createBrokerClient(EXTERNAL_ENDPOINT);
    const externalGroups = createGroupCoordinatorClient(EXTERNAL_ENDPOINT);
    const primaryGroups = createGroupCoordinatorClient(BROKER_ENDPOINT);
    try {
      const request = { topics: [], allTopics: true };
      expect((await unaryCall(primary, 'metadata', request, 5_000)).brokers.map((b) => [b.id, b.host, b.port])).toEqual([[1, '127.0.0.1', 28092]]);
      expect((await unaryCall(external, 'metadata', request, 5_000)).brokers.map((b) => [b.id, b.host, b.port])).toEqual([[1, 'localhost', 29999]]);
      expect((await unaryCall(external, 'describeCluster', {}, 5_000)).brokers.map((b) => [b.host, b.port])).toEqual([['localhost', 29999]]);
      // FindCoordinator: the first call creates __consumer_offsets; retry until it has a leader.
      const find = async (client: typeof externalGroups) => {
        let answer = await unaryCall(client, 'findCoordinator', { groupIds: ['g'] }, 5_000);
        const deadline = Date.now() + 15_000;
        while (answer.coordinators[0]?.errorCode !== 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          answer = await unaryCall(client, 'findCoordinator', { groupIds: ['g'] }, 5_000);
        }
        return answer.coordinators[0];
      };
      expect(await find(externalGroups)).toMatchObject({ errorCode: 0, nodeId: 1, host: 'localhost', port: 29999 });
      expect(await find(primaryGroups)).toMatchObject({ errorCode: 0, nodeId: 1, host: '127.0.0.1', port: 28092 });
    } finally {
      for (const client of [primary, external, externalGroups, primaryGroups]) client.close();
    }
  });
});

describe('shutdown leadership transfer target', () => {
  const row = (id: number, logEndIndex: number, lastContactMs: number) => ({ id, voter: true, endpoint: '', logEndIndex, lag: 0, lastContactMs });
  const view = (voters: ReturnType<typeof row>[]) => ({ leaderId: 1, term: 3, commitIndex: 10, answeredBy: 1, leaderEndpoint: '', voters, observers: [] });

  it('picks the most up-to-date voter among those heard from recently', () => {
    expect(shutdownTransferTarget(view([row(1, 10, 0), row(2, 8, 50), row(3, 10, 90)]), 1, 500)).toBe(3);
  });

  it('skips a voter that has gone quiet, even if it is further ahead', () => {
    expect(shutdownTransferTarget(view([row(1, 10, 0), row(2, 10, 1_600), row(3, 9, 100)]), 1, 500)).toBe(3);
  });

  it('has no target when every other voter is silent or unknown', () => {
    expect(shutdownTransferTarget(view([row(1, 10, 0), row(2, 10, 900), row(3, 10, -1)]), 1, 500)).toBeUndefined();
  });
});
