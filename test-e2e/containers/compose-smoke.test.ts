// deploy/compose/compose.yaml brought up with the locally built image: three combined nodes format
// their volumes once, become healthy (the healthcheck asks /readyz), and serve clients on the host
// through the published ports 9092/9192/9292 (EXTERNAL listeners advertising 127.0.0.1:...) and
// clients in containers through node1..3:9092 (the primary listener). Publishes the dev cluster's
// ports: run it under the port lock, like every e2e test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runnel } from '@runnel/client';
import { pollUntil, readBack } from '@runnel/cli';
import { DOCKER_UNAVAILABLE } from './container-drill-kit.js';
import { RUNNEL_IMAGE } from './container-cluster.js';

const run = promisify(execFile);
const COMPOSE_FILE = join(import.meta.dirname, '..', '..', 'deploy', 'compose', 'compose.yaml');
const PROJECT = `runnel-smoke-${process.pid}`;
const HOST_BOOTSTRAP = ['127.0.0.1:9092', '127.0.0.1:9192', '127.0.0.1:9292'];
const SERVICES = ['node1', 'node2', 'node3'];
const TOPIC = 'compose-smoke';
const RECORDS = 300;
const HEALTHY_WAIT_MS = 90_000;
const COMPOSE_TIMEOUT_MS = 120_000;

/** `docker compose` (v2 plugin) when present, else Debian's `docker-compose` (v1.29). */
async function composeCommand(): Promise<string[]> {
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    try {
      await run(candidate[0]!, [...candidate.slice(1), 'version'], { timeout: 15_000 });
      return candidate;
    } catch {
      // Try the next one.
    }
  }
  throw new Error('neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose; scripts/ci-docker.sh does)');
}

describe.skipIf(DOCKER_UNAVAILABLE !== '')('deploy/compose/compose.yaml', () => {
  let compose: string[] = [];
  const clusterId = randomBytes(16).toString('base64url');
  const env = { ...process.env, RUNNEL_IMAGE, RUNNEL_CLUSTER_ID: clusterId };
  const composeRun = (args: string[]) => run(compose[0]!, [...compose.slice(1), '-p', PROJECT, '-f', COMPOSE_FILE, ...args], { env, timeout: COMPOSE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  let runnel: Runnel | undefined;

  beforeAll(async () => {
    compose = await composeCommand();
    await composeRun(['up', '-d']);
  });

  afterAll(async () => {
    runnel?.close();
    if (compose.length > 0) await composeRun(['down', '-v', '--remove-orphans', '-t', '5']);
  });

  it('comes up healthy and serves produce/consume through the published host ports and inside the network', async () => {
    const ids = await Promise.all(SERVICES.map(async (service) => (await composeRun(['ps', '-q', service])).stdout.trim()));
    expect(ids.every((id) => id.length > 0)).toBe(true);
    let statuses: string[] = [];
    try {
      await pollUntil('every compose service healthy (/readyz)', async () => {
        statuses = await Promise.all(ids.map(async (id) => (await run('docker', ['inspect', '-f', '{{.State.Health.Status}}', id])).stdout.trim()));
        return statuses.every((s) => s === 'healthy') ? true : undefined;
      }, { timeoutMs: HEALTHY_WAIT_MS, intervalMs: 1_000 });
    } catch (error) {
      const logs = await Promise.all(ids.map(async (id) => (await run('docker', ['logs', '--tail', '30', id]).catch((e: Error) => ({ stdout: e.message, stderr: '' }))).stderr));
      throw new Error(`${(error as Error).message} (health: ${statuses.join(', ')})\n${logs.join('\n')}`, { cause: error });
    }

    runnel = new Runnel({ brokers: HOST_BOOTSTRAP, clientId: 'compose-smoke' });
    const admin = runnel.admin();
    // The host sees the EXTERNAL addresses, one published port per node.
    const cluster = await admin.describeCluster();
    expect(cluster.clusterId).toBe(clusterId);
    expect(cluster.brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual(HOST_BOOTSTRAP);

    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3 }] });
    const producer = runnel.producer({ acks: 'all' });
    await producer.connect();
    const sent = Array.from({ length: RECORDS }, (_, i) => `smoke-${i}`);
    for (let i = 0; i < RECORDS; i += 50) {
      await producer.send({ topic: TOPIC, messages: sent.slice(i, i + 50).map((value) => ({ key: value, value })) });
    }
    await producer.disconnect();
    const readOnHost = await readBack(runnel, [TOPIC], { timeoutMs: 30_000 });
    expect(readOnHost.map((r) => r.value).sort()).toEqual([...sent].sort());

    // A client inside the compose network bootstraps through node2:9092 and is sent node1..3:9092.
    const inside = await run('docker', ['exec', ids[0]!, 'runnel', 'consume', '--bootstrap-server', 'node2:9092', '--topic', TOPIC, '--from-beginning', '--timeout-ms', '5000'], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    const readInside = inside.stdout.split('\n').filter((line) => line.length > 0);
    expect(readInside.sort()).toEqual([...sent].sort());
  });
});
