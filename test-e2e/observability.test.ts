// Observability of a real 3-node cluster: /healthz and /readyz over each node's HTTP listener
// (not ready while the node cannot register, ready once the cluster is up), and the EXTERNAL
// listener as Docker users would run it: each broker advertises a "published" port (here a TCP proxy
// the test runs, standing in for Docker's port publishing) that only clients can reach. Followers
// still replicate over the CLIENT endpoints: the published ports are down while acks=all records
// are written, so acknowledgements prove replication never needed them.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import { readBack } from '@runnel/cli';
import { ELECTION_WAIT_MS, LocalCluster, pollUntil } from './harness/cluster.js';

const BASE_PORT = 25_093;
const TOPIC = 'observed';
const RECORDS = 200;
const PROXY_CONNECTIONS_MAX = 64;

/** Node N's external listener (basePort + 2) and the published port advertised for it (basePort + 3). */
const externalListen = (id: number): string => `127.0.0.1:${BASE_PORT + 2 + (id - 1) * 100}`;
const publishedPort = (id: number): number => BASE_PORT + 3 + (id - 1) * 100;

/** Sample values by series (name plus labels as printed) from a node's /metrics. */
async function scrape(address: string): Promise<Map<string, number>> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function getJson(address: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A bounded TCP forwarder from a published port to a node's external listener. */
async function publish(fromPort: number, to: string): Promise<{ close(): Promise<void> }> {
  const [host, port] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, host);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  server.maxConnections = PROXY_CONNECTIONS_MAX;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(fromPort, '127.0.0.1', () => resolve());
  });
  return {
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('observability: health endpoints and the external listener on a 3-node cluster', () => {
  let cluster: LocalCluster;
  const proxies: Array<{ close(): Promise<void> }> = [];
  const clients: Runnel[] = [];

  beforeAll(() => {
    cluster = LocalCluster.create({
      basePort: BASE_PORT,
      nodeArgs: (id) => ['--external-listen', externalListen(id), '--external-advertised-listen', `127.0.0.1:${publishedPort(id)}`],
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await cluster?.stopAll();
  });

  it('a lone node is live but not ready: it cannot register without a quorum', async () => {
    cluster.start(1);
    const health = await pollUntil('node 1 to serve HTTP', () => getJson(cluster.httpEndpoint(1), '/healthz'), { timeoutMs: ELECTION_WAIT_MS, intervalMs: 100 });
    expect(health).toEqual({ status: 200, body: { status: 'ok' } });
    // One voter of three can elect no leader, so no controller exists to register with.
    const ready = await getJson(cluster.httpEndpoint(1), '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not-ready', registered: false, failed: ['broker not registered with the controller yet'] });
    expect((await getJson(cluster.httpEndpoint(1), '/nope')).status).toBe(404);
  });

  it('every node is ready once the other two join', async () => {
    cluster.start(2);
    cluster.start(3);
    for (const id of cluster.nodeIds) {
      const ready = await pollUntil(`node ${id} to be ready`, async () => {
        const answer = await getJson(cluster.httpEndpoint(id), '/readyz').catch(() => undefined);
        return answer?.status === 200 ? answer : undefined;
      }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
      expect(ready.body).toMatchObject({ status: 'ready', registered: true, fenced: false });
    }
  });

  it('followers replicate over CLIENT endpoints while the published ports are down', async () => {
    const runnel = new Runnel({ brokers: cluster.nodeIds.map((id) => cluster.brokerEndpoint(id)), clientId: 'e2e-observability-primary' });
    clients.push(runnel);
    const admin = runnel.admin();
    const described = await admin.describeCluster();
    expect(described.brokers.map((b) => `${b.host}:${b.port}`)).toEqual(cluster.nodeIds.map((id) => cluster.brokerEndpoint(id)));
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }] });
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    // acks=all waits for every ISR member (all three for replica.lag.time.max.ms), so these answers
    // mean both followers fetched, which they could only do over CLIENT endpoints.
    const results = await producer.send({ topic: TOPIC, messages: Array.from({ length: RECORDS / 2 }, (_, i) => ({ value: `primary-${i}` })) });
    await producer.disconnect();
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: RECORDS / 2 }, (_, i) => i));
    const { topics } = await admin.describeTopics({ topics: [TOPIC] });
    expect(topics[0]?.partitions[0]?.isr.length).toBe(3);
  });

  it('a client bootstrapping through a published port gets every broker\'s EXTERNAL address and produces and reads through them', async () => {
    for (const id of cluster.nodeIds) proxies.push(await publish(publishedPort(id), externalListen(id)));
    const runnel = new Runnel({ brokers: [`127.0.0.1:${publishedPort(1)}`], clientId: 'e2e-observability-external' });
    clients.push(runnel);
    const admin = runnel.admin();
    const described = await admin.describeCluster();
    expect(described.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`])).toEqual(cluster.nodeIds.map((id) => [id, `127.0.0.1:${publishedPort(id)}`]));
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    await producer.send({ topic: TOPIC, messages: Array.from({ length: RECORDS / 2 }, (_, i) => ({ value: `external-${i}` })) });
    await producer.disconnect();
    const records = await readBack(runnel, [TOPIC], { timeoutMs: 30_000 });
    expect(records.length).toBe(RECORDS);
  });

  it('/metrics on every node reports the records produced, and the leader counts both producers and the followers\' fetches', async () => {
    const series = `{topic="${TOPIC}",partition="0"}`;
    const { topics } = await clients[0]!.admin().describeTopics({ topics: [TOPIC] });
    const leaderId = topics[0]?.partitions[0]?.leader ?? -1;
    expect(cluster.nodeIds).toContain(leaderId);
    for (const id of cluster.nodeIds) {
      // Followers learn the high watermark on their next fetch.
      const samples = await pollUntil(`node ${id} to report the high watermark`, async () => {
        const scraped = await scrape(cluster.httpEndpoint(id));
        return scraped.get(`runnel_partition_high_watermark${series}`) === RECORDS ? scraped : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      expect(samples.get(`runnel_partition_log_end_offset${series}`)).toBe(RECORDS);
      expect(samples.get(`runnel_partition_isr_size${series}`)).toBe(3);
      expect(samples.get(`runnel_partition_leader${series}`)).toBe(id === leaderId ? 1 : 0);
      expect(samples.get('runnel_cluster_under_replicated_partitions')).toBe(0);
      expect(samples.get('runnel_cluster_offline_partitions')).toBe(0);
      expect(samples.get('runnel_node_ready')).toBe(1);
      if (id === leaderId) {
        // Two acks=all sends, one through each listener (a send may split into more requests, never fewer).
        expect(samples.get('runnel_broker_requests_total{request="produce"}')).toBeGreaterThanOrEqual(2);
        expect(samples.get('runnel_broker_requests_total{request="fetch_replica"}')).toBeGreaterThan(0);
        expect(samples.get('runnel_broker_requests_total{request="fetch_consumer"}')).toBeGreaterThan(0);
      }
    }
    const raftLeaders = await Promise.all(cluster.nodeIds.map(async (id) => (await scrape(cluster.httpEndpoint(id))).get('runnel_raft_leader_id')));
    expect(new Set(raftLeaders).size).toBe(1);
    const active = await Promise.all(cluster.nodeIds.map(async (id) => (await scrape(cluster.httpEndpoint(id))).get('runnel_controller_active')));
    expect(active.filter((flag) => flag === 1)).toHaveLength(1);
  });

  it('a SIGSTOPped broker is fenced: the active controller counts it, and the node is ready again once resumed', async () => {
    const activeOf = async (): Promise<number> => {
      for (const id of cluster.nodeIds) if ((await scrape(cluster.httpEndpoint(id))).get('runnel_controller_active') === 1) return id;
      return -1;
    };
    const controllerId = await activeOf();
    expect(cluster.nodeIds).toContain(controllerId);
    const before = (await scrape(cluster.httpEndpoint(controllerId))).get('runnel_controller_broker_fencings_total') ?? -1;
    const paused = cluster.nodeIds.find((id) => id !== controllerId)!;
    const pid = cluster.pid(paused)!;
    process.kill(pid, 'SIGSTOP');
    try {
      // broker.session.timeout.ms (2 s by default) without a heartbeat: fenced.
      const samples = await pollUntil('the active controller to report a fenced broker', async () => {
        const scraped = await scrape(cluster.httpEndpoint(controllerId));
        return scraped.get('runnel_controller_fenced_brokers') === 1 ? scraped : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      expect(samples.get('runnel_controller_broker_fencings_total')).toBeGreaterThan(before);
      // A stopped process answers nothing, not even its health check.
      await expect(getJson(cluster.httpEndpoint(paused), '/healthz')).rejects.toThrow();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await pollUntil(`node ${paused} to be ready again`, async () => {
      const answer = await getJson(cluster.httpEndpoint(paused), '/readyz').catch(() => undefined);
      return answer?.status === 200 ? true : undefined;
    }, { timeoutMs: ELECTION_WAIT_MS, intervalMs: 200 });
    await pollUntil('no fenced brokers', async () => ((await scrape(cluster.httpEndpoint(controllerId))).get('runnel_controller_fenced_brokers') === 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 200 });
  });
});
