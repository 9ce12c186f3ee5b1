// The client commands end to end through `run()` against the client's in-process fake broker:
// what they print (piped, not a terminal: no progress bar, only the machine-readable output) and
// what reaches the broker.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCluster } from '../../client/src/__tests__/fake-broker.js';
import { run } from './program.js';
import type { CliIo } from './program.js';

interface Captured { io: CliIo; out: () => string; err: () => string }

function capture(): Captured {
  let out = '';
  let err = '';
  return {
    io: { out: (text) => { out += text; }, err: (text) => { err += text; }, env: {}, isTty: false },
    out: () => out,
    err: () => err,
  };
}

let fake: FakeCluster;
let root: string;

beforeEach(async () => {
  fake = await FakeCluster.start({ brokerCount: 3 });
  root = await mkdtemp(join(tmpdir(), 'runnel-cli-cmd-'));
});

afterEach(async () => {
  await fake.stop();
  await rm(root, { recursive: true, force: true });
});

async function runnel(args: string[]): Promise<Captured & { code: number }> {
  const captured = capture();
  const code = await run(['node', 'runnel', ...args, '--bootstrap-server', fake.bootstrap.join(',')], captured.io);
  return { ...captured, code };
}

describe('topics describe filters', () => {
  beforeEach(() => {
    fake.createTopic('orders', 3, 3);
    fake.createTopic('payments', 2, 3);
    // orders-1 lost a follower; payments-0 lost its leader and has no live replica to elect.
    fake.partition('orders', 1).isr = [2, 3];
    fake.partition('payments', 0).leaderId = -1;
  });

  it('--under-replicated shows only partitions whose ISR is smaller than the replica set', async () => {
    const result = await runnel(['topics', 'describe', '--under-replicated']);
    expect(result.code).toBe(0);
    expect(result.out().split('\n').filter((l) => l !== '')).toEqual([
      'Topic: orders TopicId: id-orders PartitionCount: 1',
      'Topic: orders Partition: 1 Leader: 2 Replicas: 2,3,1 Isr: 2,3',
    ]);
  });

  it('--under-replicated-partitions (the kafka-topics.sh name) is the same filter', async () => {
    const alias = await runnel(['topics', 'describe', '--under-replicated-partitions']);
    const short = await runnel(['topics', 'describe', '--under-replicated']);
    expect(alias.code).toBe(0);
    expect(alias.out()).toBe(short.out());
  });

  it('--unavailable-partitions shows only partitions without a live leader', async () => {
    const result = await runnel(['topics', 'describe', '--unavailable-partitions']);
    expect(result.code).toBe(0);
    expect(result.out()).toContain('Topic: payments Partition: 0 Leader: none');
    expect(result.out()).not.toContain('Topic: orders');
    expect(result.out()).not.toContain('Partition: 1');
  });

  it('works with --topic and --json; a healthy topic gives an empty list', async () => {
    const sick = await runnel(['topics', 'describe', '--topic', 'orders', '--under-replicated', '--json']);
    expect(sick.code).toBe(0);
    const parsed = JSON.parse(sick.out()) as { topics: Array<{ name: string; partitions: Array<{ partitionId: number; isr: number[] }> }> };
    expect(parsed.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionId, p.isr])])).toEqual([['orders', [[1, [2, 3]]]]]);
    const healthy = await runnel(['topics', 'describe', '--topic', 'payments', '--under-replicated', '--json']);
    expect(JSON.parse(healthy.out())).toEqual({ topics: [] });
  });

  it('refuses both report filters at once', async () => {
    const result = await runnel(['topics', 'describe', '--under-replicated', '--unavailable-partitions']);
    expect(result.code).toBe(1);
    expect(result.err()).toBe('runnel: error: give --under-replicated or --unavailable-partitions, not both\n');
  });
});

describe('produce --file', () => {
  beforeEach(() => {
    fake.createTopic('lines', 1, 1);
  });

  it('sends one record per non-empty line with the stdin parsing options, and prints only a summary when piped', async () => {
    const path = join(root, 'records.txt');
    await writeFile(path, 'k1|first\n\nk2|second\nk1|third\n');
    const result = await runnel(['produce', '--topic', 'lines', '--file', path, '--parse-key', '--key-separator', '|']);
    expect(result.code).toBe(0);
    expect(result.out()).toBe('');
    expect(result.err()).toBe('3 record(s) delivered\n');
    const stored = fake.records('lines', 0).map((r) => [r.key?.toString(), r.value?.toString()]);
    expect(stored).toEqual([['k1', 'first'], ['k2', 'second'], ['k1', 'third']]);
  });

  it('a file without a trailing newline still sends its last line', async () => {
    const path = join(root, 'no-newline.txt');
    await writeFile(path, 'a\nb');
    const result = await runnel(['produce', '--topic', 'lines', '--file', path]);
    expect(result.code).toBe(0);
    expect(fake.records('lines', 0).map((r) => r.value?.toString())).toEqual(['a', 'b']);
  });

  it('a missing file is a clear error, exit 1, and nothing is asked of the cluster', async () => {
    const path = join(root, 'absent.txt');
    const result = await runnel(['produce', '--topic', 'lines', '--file', path]);
    expect(result.code).toBe(1);
    expect(result.err()).toBe(`runnel: error: --file ${path}: no such file\n`);
    expect(fake.metadataCalls).toBe(0);
    expect(fake.produceCalls).toHaveLength(0);
    expect(fake.records('lines', 0)).toHaveLength(0);
  });

  it('a directory is refused the same way', async () => {
    const result = await runnel(['produce', '--topic', 'lines', '--file', root]);
    expect(result.code).toBe(1);
    expect(result.err()).toBe(`runnel: error: --file ${root}: not a regular file\n`);
    expect(fake.produceCalls).toHaveLength(0);
  });

  it('a line that does not parse is reported with its number and fails the run, the others are sent', async () => {
    const path = join(root, 'bad.txt');
    await writeFile(path, 'k|ok\nno separator\n');
    const result = await runnel(['produce', '--topic', 'lines', '--file', path, '--parse-key', '--key-separator', '|']);
    expect(result.code).toBe(1);
    expect(result.err()).toContain('line 2: --parse-key: no key separator');
    expect(result.err()).toContain('1 record(s) not delivered, 1 delivered');
    expect(fake.records('lines', 0)).toHaveLength(1);
  });
});
