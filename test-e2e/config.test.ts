import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQuorumClient, unaryCall } from '@runnel/protocol';
import { RUNNEL_BIN, pollUntil, runCli } from './harness/cluster.js';

const root = mkdtempSync(join(tmpdir(), 'runnel-e2e-config-'));
const ENDPOINT = '127.0.0.1:29693';
const BROKER_ENDPOINT = '127.0.0.1:29692';
const HTTP_ENDPOINT = '127.0.0.1:29694';
const started: ChildProcess[] = [];

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  rmSync(root, { recursive: true, force: true });
});

describe('a node configured from a properties file and RUNNEL_* env', () => {
  it('starts as a single voter, commits, and exits 0 on SIGTERM', async () => {
    const dataDir = join(root, 'node-1');
    const clusterId = runCli(['storage', 'random-uuid']).stdout.trim();
    expect(runCli(['storage', 'format', '--data-dir', dataDir, '--node-id', '1', '--cluster-id', clusterId]).status).toBe(0);
    const configFile = join(root, 'server.properties');
    // node.id in the file is wrong on purpose: RUNNEL_NODE_ID must win over it.
    writeFileSync(configFile, [
      'node.id=7',
      `log.dirs=${dataDir}`,
      `controller.quorum.voters=1@${ENDPOINT}`,
      `listeners=PLAINTEXT://${BROKER_ENDPOINT}`,
      `http.listen=${HTTP_ENDPOINT}`,
      'controller.quorum.election.timeout.ms=600',
      'raft.tick.ms=100',
      '',
    ].join('\n'));
    const logPath = join(root, 'runnel.log');
    const logFd = openSync(logPath, 'a');
    const child = spawn(process.execPath, [RUNNEL_BIN, 'server', 'start', '--config', configFile], {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, RUNNEL_NODE_ID: '1', RUNNEL_CLUSTER_ID: clusterId, RUNNEL_LOG_PRETTY: '0' },
    });
    closeSync(logFd);
    started.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const client = createQuorumClient(ENDPOINT);
    try {
      const view = await pollUntil('the single voter to lead', async () => {
        const response = await unaryCall(client, 'describe', {}, 500);
        return response.leaderId === 1 ? response : undefined;
      }, { timeoutMs: 15_000 }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\nnode log:\n${readFileSync(logPath, 'utf8').slice(-3_000)}`);
      });
      expect(view.voters.map((voter) => voter.id)).toEqual([1]);
      const proposed = await unaryCall(client, 'propose', { data: Buffer.from('from-config') }, 5_000);
      expect(proposed.errorCode).toBe(0);
      expect(proposed.index).toBeGreaterThan(0);
      // http.listen came from the file.
      expect((await fetch(`http://${HTTP_ENDPOINT}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    } finally {
      client.close();
    }
    const startedLine = readFileSync(logPath, 'utf8').split('\n').find((line) => line.includes('runnel node started'));
    expect(JSON.parse(startedLine ?? '{}')).toMatchObject({ nodeId: 1, controllerListen: ENDPOINT, listen: BROKER_ENDPOINT, httpListen: HTTP_ENDPOINT, clusterId });

    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000));
    expect(await Promise.race([exited, timeout])).toBe(0);
  });
});
