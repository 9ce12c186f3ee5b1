import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from './program.js';
import type { CliIo } from './program.js';
import { formatDescription } from './quorum-describe.js';

interface Captured { io: CliIo; out: () => string; err: () => string }

function capture(env: Record<string, string> = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: { out: (text) => { out += text; }, err: (text) => { err += text; }, env },
    out: () => out,
    err: () => err,
  };
}

const runnel = (args: string[], captured: Captured): Promise<number> => run(['node', 'runnel', ...args], captured.io);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'runnel-cli-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('runnel storage', () => {
  it('random-uuid prints one 22-character cluster id', async () => {
    const captured = capture();
    expect(await runnel(['storage', 'random-uuid'], captured)).toBe(0);
    expect(captured.out()).toMatch(/^[A-Za-z0-9_-]{22}\n$/);
  });

  it('format writes the directory once and fails clearly the second time', async () => {
    const ids = capture();
    await runnel(['storage', 'random-uuid'], ids);
    const clusterId = ids.out().trim();
    const args = ['storage', 'format', '--data-dir', join(root, 'n1'), '--node-id', '1', '--cluster-id', clusterId];
    const first = capture();
    expect(await runnel(args, first)).toBe(0);
    expect(first.out()).toContain('Formatted');
    const second = capture();
    expect(await runnel(args, second)).toBe(1);
    expect(second.err()).toMatch(/^runnel: error: .* is already formatted .*\n$/);
    const ignored = capture();
    expect(await runnel([...args, '--ignore-formatted'], ignored)).toBe(0);
  });

  it('format rejects a node id that is not a positive integer', async () => {
    const captured = capture();
    const code = await runnel(['storage', 'format', '--data-dir', root, '--node-id', 'x', '--cluster-id', 'abc'], captured);
    expect(code).not.toBe(0);
    expect(captured.err()).toContain('--node-id must be a positive integer, got "x"');
  });

  it('format without --cluster-id names the missing option', async () => {
    const captured = capture();
    expect(await runnel(['storage', 'format', '--data-dir', root, '--node-id', '1'], captured)).not.toBe(0);
    expect(captured.err()).toContain("required option '--cluster-id <id>' not specified");
  });
});

describe('runnel server start', () => {
  it('reports a missing setting as one line and exits non-zero before starting anything', async () => {
    const captured = capture();
    const code = await runnel(['server', 'start', '--node-id', '1', '--controller-quorum', '1@127.0.0.1:29999'], captured);
    expect(code).toBe(1);
    expect(captured.err()).toBe('runnel: error: missing data.dir: pass --data-dir, set RUNNEL_DATA_DIR, or put data.dir=... in the config file\n');
  });

  it('reads RUNNEL_* from the environment it is given', async () => {
    const captured = capture({ RUNNEL_NODE_ID: 'seven' });
    const code = await runnel(['server', 'start', '--data-dir', root, '--controller-quorum', '1@127.0.0.1:29999'], captured);
    expect(code).toBe(1);
    expect(captured.err()).toContain('invalid node.id (from environment variable RUNNEL_NODE_ID)');
  });

  it('refuses an unformatted data dir with a clear message', async () => {
    const captured = capture({ RUNNEL_LOG_LEVEL: 'silent' });
    const code = await runnel(['server', 'start', '--node-id', '1', '--data-dir', root, '--controller-quorum', '1@127.0.0.1:29999'], captured);
    expect(code).toBe(1);
    expect(captured.err()).toContain('is not formatted (no meta.properties)');
  });
});

describe('runnel quorum describe', () => {
  it('prints an unreachable controller as one error line', async () => {
    const captured = capture();
    const code = await runnel(['quorum', 'describe', '--controller', '127.0.0.1:1', '--timeout-ms', '300'], captured);
    expect(code).toBe(1);
    expect(captured.err()).toMatch(/^runnel: error: cannot reach controller 127\.0\.0\.1:1 within 300 ms; is a runnel node listening there\?/);
  });

  it('formats the leader and one row per replica', () => {
    const text = formatDescription({
      leaderId: 2, leaderEndpoint: '127.0.0.1:9193', term: 7, commitIndex: 42, highWatermark: 42, answeredBy: 2,
      voters: [
        { id: 1, endpoint: '127.0.0.1:9093', logEndIndex: 42, lag: 0, lastContactMs: 12 },
        { id: 2, endpoint: '127.0.0.1:9193', logEndIndex: 42, lag: 0, lastContactMs: 0 },
        { id: 3, endpoint: '127.0.0.1:9293', logEndIndex: 30, lag: 12, lastContactMs: -1 },
      ],
      observers: [],
    });
    expect(text).toContain('Leader:        2 (127.0.0.1:9193)');
    expect(text).toContain('Commit index:  42');
    expect(text).toMatch(/3 +127\.0\.0\.1:9293 +30 +12 +unknown/);
    expect(text).toMatch(/2\* +127\.0\.0\.1:9193/);
    expect(text).toContain('(none)');
  });
});
