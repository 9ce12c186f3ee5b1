// `runnel bench group`: a consumer group against a running cluster. Measures (1) how fast a group of
// N members consumes a topic from the beginning (records/s over the whole run, joins included), (2)
// how long a rebalance takes when a member joins (until the newcomer owns partitions and every
// partition has an owner), and (3) when a member dies: a member running as its own process
// (`runnel consume --group`) is SIGKILLed and the clock runs until every partition has a live owner
// again — bounded below by the session timeout. Figures are printed, never asserted.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Runnel } from '@runnel/client';
import type { Consumer, TopicPartition } from '@runnel/client';
import { CliError } from './errors.js';

const RUNNEL_BIN = fileURLToPath(new URL('../bin/runnel.mjs', import.meta.url));
const POLL_MS = 10;

export interface GroupBenchOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly members: number;
  readonly messages: number;
  readonly sessionTimeoutMs: number;
  readonly maxDurationMs: number;
}

export interface GroupBenchResult {
  readonly members: number;
  readonly partitions: number;
  readonly consumed: number;
  readonly consumeMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** From the new member's subscribe() until it owns partitions and every partition has an owner. */
  readonly joinRebalanceMs: number;
  /** From SIGKILL of a member until every partition has a live owner again. */
  readonly deathRebalanceMs: number;
  readonly sessionTimeoutMs: number;
}

interface Member {
  readonly consumer: Consumer;
  readonly owned: Set<string>;
}

function key(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

async function until(what: string, condition: () => boolean, deadlineMs: number): Promise<void> {
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new CliError(`bench group: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export async function runGroupBench(options: GroupBenchOptions): Promise<GroupBenchResult> {
  if (options.members < 1 || options.messages < 1) throw new CliError('--members and --messages must be positive');
  const deadline = Date.now() + options.maxDurationMs;
  const runnel = new Runnel({ brokers: [...options.brokers], clientId: 'runnel-bench-group' });
  const groupId = `bench-group-${randomUUID().slice(0, 8)}`;
  const members: Member[] = [];
  let child: ChildProcess | undefined;
  let consumed = 0;
  let bytes = 0;
  const startMember = async (count: boolean): Promise<Member> => {
    const consumer = runnel.consumer({ groupId, fromBeginning: true, sessionTimeoutMs: options.sessionTimeoutMs, autoCommitIntervalMs: 1_000 });
    const member: Member = { consumer, owned: new Set() };
    consumer.on('group.assigned', ({ partitions }: { partitions: TopicPartition[] }) => partitions.forEach((p) => member.owned.add(key(p))));
    const drop = ({ partitions }: { partitions: TopicPartition[] }): void => partitions.forEach((p) => member.owned.delete(key(p)));
    consumer.on('group.revoked', drop);
    consumer.on('group.lost', drop);
    await consumer.connect();
    consumer.subscribe({ topics: [options.topic] });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (!count) return;
        consumed += batch.messages.length;
        for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      },
    });
    members.push(member);
    return member;
  };
  try {
    const { topics } = await runnel.admin().describeTopics({ topics: [options.topic] });
    const partitions = topics[0]?.partitions.length ?? 0;
    if (partitions === 0) throw new CliError(`topic "${options.topic}" does not exist or has no partitions`);
    const all = Array.from({ length: partitions }, (_, partition) => key({ topic: options.topic, partition }));
    const everyPartitionOwned = (): boolean => {
      const owned = new Set(members.flatMap((m) => [...m.owned]));
      return all.every((k) => owned.has(k));
    };

    // (1) Throughput: N members from the beginning, joins included.
    const started = Date.now();
    for (let i = 0; i < options.members; i++) await startMember(true);
    await until(`${options.messages} records`, () => consumed >= options.messages, deadline);
    const consumeMs = Date.now() - started;

    // (2) A member joins.
    await until('a settled group', everyPartitionOwned, deadline);
    const joinStarted = Date.now();
    const newcomer = await startMember(false);
    await until('the new member to own partitions', () => newcomer.owned.size > 0 && everyPartitionOwned(), deadline);
    const joinRebalanceMs = Date.now() - joinStarted;

    // (3) A member dies: one more member as its own process, SIGKILLed once it owns partitions.
    child = spawn(process.execPath, [RUNNEL_BIN, 'consume', '--bootstrap-server', options.brokers.join(','), '--topic', options.topic, '--group', groupId, '--session-timeout-ms', String(options.sessionTimeoutMs)], {
      stdio: 'ignore',
    });
    const ownedBefore = (): number => members.reduce((n, m) => n + m.owned.size, 0);
    // The child owns partitions once the in-process members own fewer than all of them.
    await until('the member process to own partitions', () => ownedBefore() < partitions, deadline);
    // Let the hand-over finish so the process really holds its partitions when it dies.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const killed = Date.now();
    child.kill('SIGKILL');
    await until('every partition to have a live owner', everyPartitionOwned, deadline);
    const deathRebalanceMs = Date.now() - killed;

    return {
      members: options.members,
      partitions,
      consumed,
      consumeMs,
      recordsPerSec: Math.round((consumed / consumeMs) * 1000),
      mbPerSec: Math.round((bytes / consumeMs / 1000) * 100) / 100,
      joinRebalanceMs,
      deathRebalanceMs,
      sessionTimeoutMs: options.sessionTimeoutMs,
    };
  } finally {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(members.map((m) => m.consumer.close().catch(() => undefined)));
    runnel.close();
  }
}

export function formatGroupBench(r: GroupBenchResult): string {
  return [
    `${r.consumed} records consumed by a group of ${r.members} from ${r.partitions} partitions in ${r.consumeMs} ms: ${r.recordsPerSec} records/s, ${r.mbPerSec} MB/s (joins included)`,
    `member joins: every partition owned again, the newcomer included, after ${r.joinRebalanceMs} ms`,
    `member SIGKILLed: every partition has a live owner again after ${r.deathRebalanceMs} ms (session timeout ${r.sessionTimeoutMs} ms)`,
  ].join('\n');
}
