import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cluster.js';

const root = mkdtempSync(join(tmpdir(), 'runnel-e2e-storage-'));
const QUORUM = '1@127.0.0.1:29893';

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function newClusterId(): string {
  const result = runCli(['storage', 'random-uuid']);
  expect(result.status).toBe(0);
  return result.stdout.trim();
}

function format(dataDir: string, nodeId: number, clusterId: string): ReturnType<typeof runCli> {
  return runCli(['storage', 'format', '--data-dir', dataDir, '--node-id', String(nodeId), '--cluster-id', clusterId]);
}

function start(dataDir: string, extra: string[] = []): ReturnType<typeof runCli> {
  return runCli(['server', 'start', '--node-id', '1', '--data-dir', dataDir, '--controller-quorum', QUORUM, '--http-listen', '127.0.0.1:29894', ...extra], { timeoutMs: 20_000 });
}

describe('storage errors stop a node before it serves', () => {
  it('starting on an unformatted directory exits non-zero and says how to format it', () => {
    const result = start(join(root, 'unformatted'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is not formatted (no meta.properties); run `runnel storage format');
    expect(result.stderr.split('\n').filter((line) => line.startsWith('    at '))).toEqual([]);
  });

  it('starting on another cluster\'s directory exits non-zero', () => {
    const dataDir = join(root, 'other-cluster');
    const theirs = newClusterId();
    expect(format(dataDir, 1, theirs).status).toBe(0);
    const ours = newClusterId();
    const result = start(dataDir, ['--cluster-id', ours]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`belongs to cluster ${theirs}, but this node is configured for cluster ${ours}`);
  });

  it('starting on another node\'s directory exits non-zero', () => {
    const dataDir = join(root, 'other-node');
    expect(format(dataDir, 2, newClusterId()).status).toBe(0);
    const result = start(dataDir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('belongs to node.id=2, but this node is configured as node.id=1');
  });

  it('formatting the same directory twice fails clearly', () => {
    const dataDir = join(root, 'twice');
    const clusterId = newClusterId();
    expect(format(dataDir, 1, clusterId).status).toBe(0);
    const second = format(dataDir, 1, clusterId);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/^runnel: error: .*twice is already formatted \(cluster\.id=.*, node\.id=1\)/);
  });

  it('a listener port already in use exits non-zero with a clear message', async () => {
    const dataDir = join(root, 'port-in-use');
    expect(format(dataDir, 1, newClusterId()).status).toBe(0);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(29_893, '127.0.0.1', resolve));
    try {
      const result = start(dataDir);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('cannot listen on 127.0.0.1:29893 (controller.listener): address already in use');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('an invalid setting names its key and source', () => {
    const result = runCli(['server', 'start', '--data-dir', join(root, 'x'), '--controller-quorum', QUORUM], { env: { RUNNEL_NODE_ID: '0' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('runnel: error: invalid node.id (from environment variable RUNNEL_NODE_ID): "0" must be between 1 and 2147483647\n');
  });
});
