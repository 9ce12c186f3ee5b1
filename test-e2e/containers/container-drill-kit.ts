// The container drills' shared steps: a ContainerCluster, host-side clients that bootstrap through the
// nodes' EXTERNAL listeners, and the same acknowledged-records checker (and produce / read-back steps)
// as the process drills in ../drills/drill-kit.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { Runnel } from '@runnel/client';
import type { Admin, PartitionMetadataView } from '@runnel/client';
import { AckChecker, pollUntil } from '@runnel/cli';
import { createBrokerClient, unaryCall } from '@runnel/protocol';
import { clientLogger, partitionsOf, waitAllBrokersUnfenced } from '../drills/drill-kit.js';
import type { DrillClients } from '../drills/drill-kit.js';
import { ContainerCluster, DATA_DIR } from './container-cluster.js';
import type { ContainerClusterOptions } from './container-cluster.js';

export { pollUntil };

/** Why the container tests are skipped ('' when Docker answers); set once by global-setup.ts. */
export const DOCKER_UNAVAILABLE = inject('dockerUnavailable');
export const CLUSTER_FORM_TIMEOUT_MS = 60_000;
export const FAILOVER_WAIT_MS = 30_000;
const ADMIN_REQUEST_TIMEOUT_MS = 2_000;

export interface ContainerDrill extends DrillClients {
  readonly cluster: ContainerCluster;
  /** Where the client log goes. */
  readonly logDir: string;
  /** An admin that asks only the given nodes (e.g. the majority side of a partition). */
  adminOf(ids: readonly number[]): Admin;
  close(): Promise<void>;
}

/** The message of a drill failure: the error, each node's log tail, and where the whole logs went. */
export async function failureReport(drill: ContainerDrill, error: unknown, topic?: string, partitions = 0): Promise<Error> {
  const paths = await drill.cluster.dumpLogs(drill.logDir);
  // Where each replica's log ends, and whether the replicas agree: says at once who is behind.
  const replicas: string[] = [];
  for (let partition = 0; topic !== undefined && partition < partitions; partition++) {
    for (const id of drill.cluster.nodeIds) {
      const digest = await replicaLogDigest(drill.cluster, id, topic, partition).then((d) => `end ${d.endOffset}, ${d.batches} batches, ${d.sha256.slice(0, 12)}`, (e: Error) => e.message.slice(0, 200));
      replicas.push(`${topic}-${partition} on node ${id}: ${digest}`);
    }
  }
  const isr = topic === undefined ? '' : JSON.stringify(await partitionsOf(drill.admin, topic).catch((e: Error) => e.message));
  return new Error(`${(error as Error).message}\n${await drill.cluster.logTails()}\n${replicas.join('\n')}\n${isr}\nfull logs: ${[...paths, join(drill.logDir, 'client.log')].join(' ')}`, { cause: error });
}

export async function startContainerDrill(options: ContainerClusterOptions): Promise<ContainerDrill> {
  const cluster = await ContainerCluster.create(options);
  const logDir = mkdtempSync(join(tmpdir(), `${cluster.runId}-`));
  const clients: Runnel[] = [];
  const newRunnel = (brokers: string[], clientId: string, admin: boolean): Runnel => {
    const runnel = new Runnel(admin
      ? { brokers, clientId, requestTimeoutMs: ADMIN_REQUEST_TIMEOUT_MS, retry: { retries: 3, initialRetryTimeMs: 50, maxRetryTimeMs: 200 } }
      : { brokers, clientId, logger: clientLogger(join(logDir, 'client.log')) });
    clients.push(runnel);
    return runnel;
  };
  const close = async (): Promise<void> => {
    for (const runnel of clients) runnel.close();
    await cluster.destroy();
  };
  try {
    await cluster.startAll();
    const runnel = newRunnel(cluster.bootstrap(), options.name, false);
    const admin = newRunnel(cluster.bootstrap(), `${options.name}-admin`, true).admin();
    await waitAllBrokersUnfenced(admin, cluster.nodeIds.length, CLUSTER_FORM_TIMEOUT_MS);
    await Promise.all(cluster.nodeIds.map((id) => waitReady(cluster, id, CLUSTER_FORM_TIMEOUT_MS)));
    return {
      cluster,
      logDir,
      runnel,
      admin,
      checker: new AckChecker(),
      adminOf: (ids) => newRunnel(cluster.bootstrap(ids), `${options.name}-admin-${ids.join('')}`, true).admin(),
      close,
    };
  } catch (error) {
    const logs = await cluster.logTails();
    await close();
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  }
}

/** GET /readyz on node `id`'s HTTP port: its status, or 0 when it does not answer. */
export async function readyz(cluster: ContainerCluster, id: number): Promise<number> {
  try {
    const response = await fetch(cluster.httpUrl(id, '/readyz'), { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

export async function waitReady(cluster: ContainerCluster, id: number, timeoutMs = FAILOVER_WAIT_MS): Promise<void> {
  await pollUntil(`node ${id} to answer /readyz with 200`, async () => ((await readyz(cluster, id)) === 200 ? true : undefined), { timeoutMs, intervalMs: 250 });
}

/** Waits until `admin` reports partition `partition` of `topic` led by a node other than `previous`. */
export async function waitLeaderMoved(admin: Admin, topic: string, partition: number, previous: number, timeoutMs = FAILOVER_WAIT_MS): Promise<PartitionMetadataView> {
  return pollUntil(`partition ${partition} to get a leader other than node ${previous}`, async () => {
    const p = (await partitionsOf(admin, topic).catch(() => [])).find((q) => q.partitionId === partition);
    return p !== undefined && p.leader > 0 && p.leader !== previous ? p : undefined;
  }, { timeoutMs, intervalMs: 200 });
}

/**
 * Waits until every node of `askIds` (the majority side), asked directly, says node `nodeId` is
 * fenced. Asked directly because an admin client may route the call to any broker it learnt of, and a
 * cut-off node still believes itself unfenced.
 */
export async function waitFencedPerMajority(cluster: ContainerCluster, askIds: readonly number[], nodeId: number, timeoutMs = FAILOVER_WAIT_MS): Promise<boolean> {
  const clients = askIds.map((id) => createBrokerClient(cluster.externalEndpoint(id)));
  try {
    return await pollUntil(`node ${nodeId} fenced according to nodes ${askIds.join(',')}`, async () => {
      const answers = await Promise.all(clients.map((client) => unaryCall(client, 'describeCluster', {}, 2_000).catch(() => undefined)));
      return answers.every((a) => a?.brokers.find((b) => b.id === nodeId)?.fenced === true) ? true : undefined;
    }, { timeoutMs, intervalMs: 200 });
  } finally {
    for (const client of clients) client.close();
  }
}

/** A partition not led by the active controller, so the fault hits a partition leader only. */
export async function partitionLedByNonController(admin: Admin, partitions: readonly PartitionMetadataView[]): Promise<PartitionMetadataView> {
  const controller = (await admin.describeCluster()).controller;
  const target = partitions.find((p) => p.leader !== controller);
  expect(target, `a partition led by a node other than the active controller ${controller}`).toBeDefined();
  return target!;
}

/** A replica's log as read from its files: where it ends, and a digest of every batch in it. */
export interface ReplicaLogDigest {
  readonly startOffset: number;
  /** The offset after the last batch; -1 for an empty log. */
  readonly endOffset: number;
  readonly batches: number;
  /** Bytes after the last whole batch (a torn tail). */
  readonly trailingBytes: number;
  readonly sha256: string;
}

// Runs inside the container (node is there, the data is local): walks the partition's segments in
// offset order and hashes every RecordBatch v2 frame (base offset, length, leader epoch and payload).
// Followers append the leader's batches as they are, so two replicas with the same records at the same
// offsets have the same digest; a suffix that was not truncated shows up as a different end or digest.
const DIGEST_SCRIPT = `
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const dir = process.argv[1];
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
const hash = crypto.createHash('sha256');
let start = -1, end = -1, batches = 0, trailing = 0;
for (const f of files) {
  const b = fs.readFileSync(path.join(dir, f));
  let o = 0;
  while (o + 61 <= b.length) {
    const len = b.readInt32BE(o + 8);
    if (len < 49 || o + 12 + len > b.length) break;
    const base = Number(b.readBigInt64BE(o));
    if (start < 0) start = base;
    end = base + b.readInt32BE(o + 23) + 1;
    hash.update(b.subarray(o, o + 12 + len));
    batches++;
    o += 12 + len;
  }
  trailing += b.length - o;
}
process.stdout.write(JSON.stringify({ startOffset: start, endOffset: end, batches, trailingBytes: trailing, sha256: hash.digest('hex') }));
`;

export async function replicaLogDigest(cluster: ContainerCluster, id: number, topic: string, partition: number): Promise<ReplicaLogDigest> {
  const { exitCode, output } = await cluster.exec(id, ['node', '-e', DIGEST_SCRIPT, `${DATA_DIR}/${topic}-${partition}`]);
  if (exitCode !== 0) throw new Error(`digest of ${topic}-${partition} on node ${id} failed (${exitCode}): ${output}`);
  return JSON.parse(output.trim()) as ReplicaLogDigest;
}

/**
 * Waits until every replica of `topic`'s partitions holds the same log as the others (same end
 * offset, same batches): the followers caught up and a former leader truncated whatever it alone had.
 */
export async function waitReplicasIdentical(drill: ContainerDrill, topic: string, partitions: number, timeoutMs = FAILOVER_WAIT_MS): Promise<Map<number, ReplicaLogDigest>> {
  let last = '';
  try {
    return await pollUntil(`every replica of ${topic} to hold the same log`, async () => {
      const byPartition = new Map<number, ReplicaLogDigest>();
      const lines: string[] = [];
      let same = true;
      for (let partition = 0; partition < partitions; partition++) {
        const digests = await Promise.all(drill.cluster.nodeIds.map((id) => replicaLogDigest(drill.cluster, id, topic, partition)));
        lines.push(...digests.map((d, i) => `${topic}-${partition} node ${drill.cluster.nodeIds[i]}: end ${d.endOffset}, ${d.batches} batches, ${d.trailingBytes} trailing bytes, ${d.sha256.slice(0, 12)}`));
        if (digests.some((d) => d.endOffset !== digests[0]!.endOffset || d.sha256 !== digests[0]!.sha256 || d.trailingBytes !== 0)) same = false;
        byPartition.set(partition, digests[0]!);
      }
      last = lines.join('\n');
      return same ? byPartition : undefined;
    }, { timeoutMs, intervalMs: 500 });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${last}`, { cause: error });
  }
}
