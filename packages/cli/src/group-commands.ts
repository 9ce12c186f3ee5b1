// `runnel groups list|describe|reset-offsets|delete`, in the shape of kafka-consumer-groups.sh.
import { Command, InvalidArgumentError, Option } from 'commander';
import { Runnel } from '@runnel/client';
import type { GroupDetails, ResetPlanEntry, ResetSpec } from '@runnel/client';
import { CliError } from './errors.js';
import { interactiveTerminal, startProgress } from './progress.js';
import type { Progress } from './progress.js';

export interface GroupCommandsIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether a person watches a terminal: progress bars only then (default: both streams are TTYs). */
  readonly isTty?: boolean;
}

const BOOTSTRAP_FLAG = '--bootstrap-server <host:port[,host:port]>';
const BOOTSTRAP_HELP = 'brokers to bootstrap from (any broker of the cluster)';

function connect(bootstrap: string): Runnel {
  return new Runnel({ brokers: bootstrap.split(',').map((s) => s.trim()).filter((s) => s !== ''), clientId: 'runnel-cli' });
}

function integer(name: string): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw)) throw new InvalidArgumentError(`${name} must be an integer, got "${raw}"`);
    return Number(raw);
  };
}

/** Left-aligned columns, as kafka-consumer-groups prints them. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatGroupDescription(group: GroupDetails): string {
  const head = `Group: ${group.groupId}  State: ${group.state}  Epoch: ${group.groupEpoch}  Members: ${group.members.length}`;
  const rows = group.partitions.map((p) => [
    group.groupId,
    p.topic,
    String(p.partition),
    p.committedOffset < 0 ? '-' : String(p.committedOffset),
    String(p.logEndOffset),
    String(p.lag),
    p.owner === '' ? '-' : p.owner,
  ]);
  return `${head}\n${table(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID'], rows)}`;
}

export function formatResetPlan(groupId: string, plan: readonly ResetPlanEntry[]): string {
  return table(
    ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'],
    plan.map((e) => [groupId, e.topic, String(e.partition), e.currentOffset < 0 ? '-' : String(e.currentOffset), String(e.newOffset)]),
  );
}

interface ResetOptions {
  bootstrapServer: string;
  group: string;
  topic: string;
  partitions?: string;
  toEarliest: boolean;
  toLatest: boolean;
  toDatetime?: string;
  toOffset?: number;
  shiftBy?: number;
  dryRun: boolean;
  execute: boolean;
  json: boolean;
}

/** Exactly one of the --to-* / --shift-by options, as a ResetSpec. */
export function resetSpecOf(options: Pick<ResetOptions, 'toEarliest' | 'toLatest' | 'toDatetime' | 'toOffset' | 'shiftBy'>): ResetSpec {
  const specs: ResetSpec[] = [];
  if (options.toEarliest) specs.push({ kind: 'earliest' });
  if (options.toLatest) specs.push({ kind: 'latest' });
  if (options.toDatetime !== undefined) {
    const timestampMs = Date.parse(options.toDatetime);
    if (Number.isNaN(timestampMs)) throw new CliError(`--to-datetime: "${options.toDatetime}" is not a date-time (use ISO 8601, e.g. 2026-11-22T10:00:00Z)`);
    specs.push({ kind: 'datetime', timestampMs });
  }
  if (options.toOffset !== undefined) specs.push({ kind: 'offset', offset: options.toOffset });
  if (options.shiftBy !== undefined) specs.push({ kind: 'shift', by: options.shiftBy });
  if (specs.length !== 1) throw new CliError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by');
  return specs[0] as ResetSpec;
}

function partitionList(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((s) => s.trim());
  if (list.some((s) => !/^\d+$/.test(s))) throw new CliError(`--partitions takes a comma-separated list of partition numbers, got "${raw}"`);
  return list.map(Number);
}

/**
 * Partitions committed per OffsetCommit by `reset-offsets --execute`. Up to this many the reset is one
 * request, all or nothing, as in Kafka's tool; past it the reset goes in chunks so a progress bar can
 * follow it and no single request grows without bound, at the price of a failure leaving the first
 * chunks committed (the error says which).
 */
export const RESET_CHUNK_PARTITIONS = 100;

/** What the chunked reset needs of the admin client (a fake in tests). */
export interface ResetAdmin {
  resetOffsets(options: { groupId: string; topic: string; partitions?: number[]; spec: ResetSpec; dryRun?: boolean }): Promise<ResetPlanEntry[]>;
  describeTopics(options: { topics: string[] }): Promise<{ topics: Array<{ name: string; partitions: Array<{ partitionId: number }> }> }>;
}

/**
 * Commits a reset chunk by chunk, calling `onCommitted` with the partitions done so far. Each chunk
 * computes its own offsets from the spec; that is exact for --shift-by too, since a group without
 * members has nobody else committing meanwhile and no partition is in two chunks.
 */
export async function executeResetInChunks(
  admin: ResetAdmin,
  request: { groupId: string; topic: string; partitions?: number[]; spec: ResetSpec },
  onCommitted: (partitionsDone: number, partitionsTotal: number) => void,
  chunkPartitions = RESET_CHUNK_PARTITIONS,
): Promise<ResetPlanEntry[]> {
  let partitions = request.partitions;
  if (partitions === undefined) {
    const { topics } = await admin.describeTopics({ topics: [request.topic] });
    partitions = (topics.find((t) => t.name === request.topic)?.partitions ?? []).map((p) => p.partitionId).sort((a, b) => a - b);
    if (partitions.length === 0) throw new CliError(`topic "${request.topic}" has no partitions (does it exist?)`);
  }
  const plan: ResetPlanEntry[] = [];
  onCommitted(0, partitions.length);
  for (let start = 0; start < partitions.length; start += chunkPartitions) {
    const chunk = partitions.slice(start, start + chunkPartitions);
    try {
      plan.push(...await admin.resetOffsets({ groupId: request.groupId, topic: request.topic, spec: request.spec, dryRun: false, partitions: chunk }));
    } catch (error) {
      if (start === 0) throw error;
      const rest = partitions.slice(start);
      const again = request.spec.kind === 'shift' ? ' (--shift-by moves from the committed offset: rerun it with --partitions for the rest only)' : '';
      throw new CliError(`committed ${start} of ${partitions.length} partitions, then: ${error instanceof Error ? error.message : String(error)}; not committed: ${rest.join(',')}${again}`);
    }
    onCommitted(Math.min(start + chunk.length, partitions.length), partitions.length);
  }
  return plan;
}

export function registerGroupCommands(program: Command, io: GroupCommandsIo): void {
  const groups = program.command('groups').description('list, describe, reset offsets of and delete consumer groups');

  groups.command('list')
    .description('every consumer group of the cluster')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .option('--json', 'print JSON', false)
    .action(async (options: { bootstrapServer: string; json: boolean }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        const list = await runnel.admin().listGroups();
        if (options.json) io.out(`${JSON.stringify({ groups: list.map((g) => ({ groupId: g.groupId, state: g.state, members: g.members })) })}\n`);
        else io.out(`${table(['GROUP', 'STATE', 'MEMBERS'], list.map((g) => [g.groupId, g.state, String(g.members)]))}\n`);
      } finally {
        runnel.close();
      }
    });

  groups.command('describe')
    .description("a group's members and, per partition, committed offset, log end, lag and owner")
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--group <id>', 'group id')
    .option('--json', 'print JSON', false)
    .action(async (options: { bootstrapServer: string; group: string; json: boolean }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        const group = await runnel.admin().describeGroup(options.group);
        if (options.json) io.out(`${JSON.stringify(group)}\n`);
        else io.out(`${formatGroupDescription(group)}\n`);
      } finally {
        runnel.close();
      }
    });

  groups.command('reset-offsets')
    .description('move the committed offsets of a group with no active members (dry run unless --execute)')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--group <id>', 'group id')
    .requiredOption('--topic <name>', 'topic whose offsets move')
    .option('--partitions <list>', 'only these partitions, e.g. 0,2')
    .option('--to-earliest', 'to the log start', false)
    .option('--to-latest', 'to the log end', false)
    .option('--to-datetime <iso>', 'to the first record at or after this time (ISO 8601)')
    .addOption(new Option('--to-offset <n>', 'to this offset (clamped to the log)').argParser(integer('--to-offset')))
    .addOption(new Option('--shift-by <n>', 'move by n (negative: back), clamped to the log').argParser(integer('--shift-by')))
    .option('--dry-run', 'only show the new offsets (the default)', false)
    .option('--execute', 'commit the new offsets', false)
    .option('--json', 'print JSON', false)
    .action(async (options: ResetOptions) => {
      if (options.dryRun && options.execute) throw new CliError('give --dry-run or --execute, not both');
      const spec = resetSpecOf(options);
      const partitions = partitionList(options.partitions);
      const runnel = connect(options.bootstrapServer);
      try {
        const request = { groupId: options.group, topic: options.topic, spec, ...(partitions === undefined ? {} : { partitions }) };
        let plan: ResetPlanEntry[];
        if (options.execute) {
          let progress: Progress | undefined;
          try {
            plan = await executeResetInChunks(runnel.admin(), request, (done, total) => {
              // A bar only when there is more than one request to follow.
              progress ??= startProgress((io.isTty ?? interactiveTerminal()) && total > RESET_CHUNK_PARTITIONS, total, 'partitions');
              progress.update(done);
            });
          } finally {
            progress?.stop();
          }
        } else {
          plan = await runnel.admin().resetOffsets({ ...request, dryRun: true });
        }
        if (options.json) io.out(`${JSON.stringify({ groupId: options.group, executed: options.execute, offsets: plan })}\n`);
        else {
          io.out(`${formatResetPlan(options.group, plan)}\n`);
          if (!options.execute) io.err('Dry run: nothing was committed. Add --execute to commit these offsets.\n');
        }
      } finally {
        runnel.close();
      }
    });

  groups.command('delete')
    .description('delete a group with no active members, with its committed offsets')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--group <id>', 'group id')
    .action(async (options: { bootstrapServer: string; group: string }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        await runnel.admin().deleteGroups([options.group]);
        io.out(`Deleted group ${options.group}.\n`);
      } finally {
        runnel.close();
      }
    });
}
