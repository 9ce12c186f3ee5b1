// The client-side commands, in the shape of Kafka's tools: `topics`, `produce` (console producer) and
// `consume` (console consumer). Every one takes --bootstrap-server HOST:PORT[,HOST:PORT].
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Runnel } from '@runnel/client';
import type { Acks, ConsumedMessage, Message, TopicMetadataView } from '@runnel/client';
import { formatConsumeBench, formatProduceBench, runConsumeBench, runProduceBench } from './bench-client.js';
import { formatGroupBench, runGroupBench } from './bench-group.js';
import { CliError } from './errors.js';
import { interactiveTerminal, startProgress } from './progress.js';

export interface ClientCommandsIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Lines of standard input (the console producer's records). */
  readonly inputLines: () => AsyncIterable<string>;
  /** Whether a person watches a terminal: progress bars only then (default: both streams are TTYs). */
  readonly isTty?: boolean;
}

export function stdinLines(): AsyncIterable<string> {
  return createInterface({ input: process.stdin, crlfDelay: Infinity });
}

const BOOTSTRAP_FLAG = '--bootstrap-server <host:port[,host:port]>';
const BOOTSTRAP_HELP = 'brokers to bootstrap from (any broker of the cluster)';
/** Records sent but not yet acknowledged by the console producer; past it, reading stdin waits. */
const PRODUCE_INFLIGHT_MAX = 10_000;

function nonNegativeInt(name: string): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${raw}"`);
    return Number(raw);
  };
}

function positiveInt(name: string): (raw: string) => number {
  return (raw) => {
    const value = nonNegativeInt(name)(raw);
    if (value < 1) throw new InvalidArgumentError(`${name} must be at least 1, got "${raw}"`);
    return value;
  };
}

function parseAcks(raw: string): Acks {
  if (raw === 'all' || raw === '-1') return 'all';
  if (raw === '1') return 1;
  if (raw === '0') return 0;
  throw new InvalidArgumentError(`--acks must be all, -1, 1 or 0, got "${raw}"`);
}

function collectConfig(raw: string, previous: Array<{ name: string; value: string }>): Array<{ name: string; value: string }> {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--config takes key=value, got "${raw}"`);
  return [...previous, { name: raw.slice(0, eq), value: raw.slice(eq + 1) }];
}

function connect(bootstrap: string): Runnel {
  return new Runnel({ brokers: brokerList(bootstrap), clientId: 'runnel-cli' });
}

/** `Topic: T Partition: 0 Leader: 1 Replicas: 1,2,3 Isr: 1,2,3`, as kafka-topics.sh prints it. */
export function formatTopicDescription(topic: TopicMetadataView): string {
  const lines = [`Topic: ${topic.name} TopicId: ${topic.topicId} PartitionCount: ${topic.partitions.length}`];
  for (const p of [...topic.partitions].sort((a, b) => a.partitionId - b.partitionId)) {
    const leader = p.leader < 0 ? 'none' : String(p.leader);
    lines.push(`Topic: ${topic.name} Partition: ${p.partitionId} Leader: ${leader} Replicas: ${p.replicas.join(',')} Isr: ${p.isr.join(',')}`);
  }
  return lines.join('\n');
}

/** Which partitions `topics describe` shows: all, or only those in one kind of trouble. */
export type PartitionFilter = 'all' | 'under-replicated' | 'unavailable';

export function partitionFilterOf(options: { underReplicated: boolean; underReplicatedPartitions: boolean; unavailablePartitions: boolean }): PartitionFilter {
  const underReplicated = options.underReplicated || options.underReplicatedPartitions;
  // As in kafka-topics.sh the report options exclude each other: a union would hide which problem a partition has.
  if (underReplicated && options.unavailablePartitions) throw new CliError('give --under-replicated or --unavailable-partitions, not both');
  if (underReplicated) return 'under-replicated';
  return options.unavailablePartitions ? 'unavailable' : 'all';
}

/**
 * The topics, sorted by name, with only the partitions the filter keeps; with a filter, topics left
 * without partitions are dropped, so an empty answer means a healthy cluster.
 */
export function selectPartitions(topics: readonly TopicMetadataView[], filter: PartitionFilter): TopicMetadataView[] {
  const keep = (p: TopicMetadataView['partitions'][number]): boolean => {
    switch (filter) {
      case 'all':
        return true;
      case 'under-replicated':
        return p.isr.length < p.replicas.length;
      case 'unavailable':
        return p.leader < 0;
    }
  };
  return topics
    .map((t) => (filter === 'all' ? t : { ...t, partitions: t.partitions.filter(keep) }))
    .filter((t) => filter === 'all' || t.partitions.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One console-producer line to a message: `key<sep>value` with --parse-key, and with --parse-headers a
 * leading `h1:v1,h2:v2<TAB>` block before the rest.
 */
export function parseInputLine(line: string, options: { parseKey: boolean; keySeparator: string; parseHeaders: boolean }): Message {
  let rest = line;
  const headers: Record<string, string> = {};
  if (options.parseHeaders) {
    const tab = rest.indexOf('\t');
    if (tab < 0) throw new CliError(`--parse-headers: no TAB after the headers in line "${line}"`);
    for (const pair of rest.slice(0, tab).split(',').filter((h) => h !== '')) {
      const colon = pair.indexOf(':');
      if (colon <= 0) throw new CliError(`--parse-headers: header "${pair}" is not key:value`);
      headers[pair.slice(0, colon)] = pair.slice(colon + 1);
    }
    rest = rest.slice(tab + 1);
  }
  let key: string | null = null;
  if (options.parseKey) {
    const at = rest.indexOf(options.keySeparator);
    if (at < 0) throw new CliError(`--parse-key: no key separator "${options.keySeparator}" in line "${line}"`);
    key = rest.slice(0, at);
    rest = rest.slice(at + options.keySeparator.length);
  }
  return options.parseHeaders ? { key, value: rest, headers } : { key, value: rest };
}

export function formatConsumed(message: ConsumedMessage, options: PrintOptions): string {
  const parts: string[] = [];
  if (options.printTimestamp) parts.push(`CreateTime:${message.timestamp}`);
  if (options.printPartition) parts.push(`Partition:${message.partition}`);
  if (options.printOffset) parts.push(`Offset:${message.offset}`);
  if (options.printHeaders) {
    const headers = Object.entries(message.headers)
      .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${k}:${one === null ? 'null' : one.toString('utf8')}`));
    parts.push(headers.length === 0 ? 'NO_HEADERS' : headers.join(','));
  }
  if (options.printKey) parts.push(message.key === null ? 'null' : message.key.toString('utf8'));
  parts.push(message.value === null ? 'null' : message.value.toString('utf8'));
  return parts.join('\t');
}

/** Which fields the console consumer prints besides the value. */
export interface PrintOptions {
  printKey: boolean;
  printPartition: boolean;
  printOffset: boolean;
  printHeaders: boolean;
  printTimestamp: boolean;
}

interface ConsumeOptions extends PrintOptions {
  bootstrapServer: string;
  topic: string;
  fromBeginning: boolean;
  group?: string;
  sessionTimeoutMs?: number;
  partition?: number;
  offset?: number;
  maxMessages?: number;
  timeoutMs?: number;
}

interface ProduceOptions {
  bootstrapServer: string;
  topic: string;
  file?: string;
  acks: Acks;
  parseKey: boolean;
  keySeparator: string;
  parseHeaders: boolean;
}

/** A records file opened for `produce --file`: its size for the progress bar and its lines. */
interface InputFile {
  readonly sizeBytes: number;
  lines(): AsyncIterable<string>;
  close(): Promise<void>;
}

export async function openInputFile(path: string): Promise<InputFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : error instanceof Error ? error.message : String(error);
    throw new CliError(`--file ${path}: ${why}`);
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw new CliError(`--file ${path}: not a regular file`);
  }
  return {
    sizeBytes: stats.size,
    lines: () => createInterface({ input: handle.createReadStream({ autoClose: false }), crlfDelay: Infinity }),
    close: () => handle.close(),
  };
}

/**
 * The console producer: one record per non-empty line of `openLines()`, at most PRODUCE_INFLIGHT_MAX unacknowledged.
 * `onBytesRead` hears how many input bytes were consumed so far (line lengths plus newlines). Returns
 * the counts; the caller prints the summary once any progress bar is gone.
 */
async function produceLines(openLines: () => AsyncIterable<string>, options: ProduceOptions, io: ClientCommandsIo, onBytesRead: (bytes: number) => void): Promise<{ sent: number; failed: number }> {
  const runnel = connect(options.bootstrapServer);
  // Idempotence needs acks=all (as in Kafka); with weaker acks the user has chosen speed over it.
  const producer = runnel.producer({ acks: options.acks, idempotent: options.acks === 'all' });
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let failed = 0;
  let bytesRead = 0;
  const failure = (error: unknown): void => {
    failed++;
    if (failed <= 10) io.err(`runnel: record not delivered: ${error instanceof Error ? error.message : String(error)}\n`);
  };
  try {
    await producer.connect();
    let lineNumber = 0;
    // Opened only now, right before the loop: a readline interface created earlier would emit
    // lines while connect() is awaited, before the loop listens, and they would be lost.
    for await (const line of openLines()) {
      lineNumber++;
      bytesRead += Buffer.byteLength(line) + 1;
      onBytesRead(bytesRead);
      if (line === '') continue;
      let message: Message;
      try {
        message = parseInputLine(line, options);
      } catch (error) {
        failure(new CliError(`line ${lineNumber}: ${error instanceof Error ? error.message : String(error)}`));
        continue;
      }
      const delivery: Promise<void> = producer.send({ topic: options.topic, messages: [message] }).then(
        () => { sent++; },
        failure,
      ).finally(() => pending.delete(delivery));
      pending.add(delivery);
      if (pending.size >= PRODUCE_INFLIGHT_MAX) await Promise.race(pending);
    }
    await Promise.all(pending);
  } finally {
    await producer.disconnect().catch(failure);
    runnel.close();
  }
  return { sent, failed };
}

export function registerClientCommands(program: Command, io: ClientCommandsIo): void {
  const topics = program.command('topics').description('create, list, describe, alter and delete topics');

  topics.command('create')
    .description('create a topic')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .addOption(new Option('--partitions <n>', 'number of partitions (default: the cluster default)').argParser(positiveInt('--partitions')))
    .addOption(new Option('--replication-factor <n>', 'replicas per partition (default: the cluster default)').argParser(positiveInt('--replication-factor')))
    .option('--config <key=value>', 'topic config, repeatable (e.g. retention.ms=60000)', collectConfig, [])
    .action(async (options: { bootstrapServer: string; topic: string; partitions?: number; replicationFactor?: number; config: Array<{ name: string; value: string }> }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        const created = await runnel.admin().createTopics({
          topics: [{ topic: options.topic, numPartitions: options.partitions ?? -1, replicationFactor: options.replicationFactor ?? -1, configEntries: options.config }],
        });
        if (!created) throw new CliError(`topic "${options.topic}" already exists (TOPIC_ALREADY_EXISTS)`);
        io.out(`Created topic ${options.topic}.\n`);
      } finally {
        runnel.close();
      }
    });

  topics.command('list')
    .description('list topic names')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .action(async (options: { bootstrapServer: string }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        const names = await runnel.admin().listTopics();
        for (const name of [...names].sort()) io.out(`${name}\n`);
      } finally {
        runnel.close();
      }
    });

  topics.command('describe')
    .description('partitions of one topic or all, with leader, replicas and in-sync replicas')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .option('--topic <name>', 'only this topic')
    .option('--under-replicated', 'only partitions whose ISR is smaller than their replica set', false)
    .option('--under-replicated-partitions', 'the same as --under-replicated (the kafka-topics.sh name)', false)
    .option('--unavailable-partitions', 'only partitions without a live leader', false)
    .option('--json', 'print JSON', false)
    .action(async (options: { bootstrapServer: string; topic?: string; underReplicated: boolean; underReplicatedPartitions: boolean; unavailablePartitions: boolean; json: boolean }) => {
      const filter = partitionFilterOf(options);
      const runnel = connect(options.bootstrapServer);
      try {
        const { topics: found } = await runnel.admin().describeTopics(options.topic === undefined ? {} : { topics: [options.topic] });
        const shown = selectPartitions(found, filter);
        if (options.json) io.out(`${JSON.stringify({ topics: shown })}\n`);
        else for (const t of shown) io.out(`${formatTopicDescription(t)}\n`);
      } finally {
        runnel.close();
      }
    });

  topics.command('alter')
    .description('increase the partition count of a topic')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .addOption(new Option('--partitions <n>', 'the new total number of partitions').argParser(positiveInt('--partitions')).makeOptionMandatory())
    .action(async (options: { bootstrapServer: string; topic: string; partitions: number }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        await runnel.admin().createPartitions({ topicPartitions: [{ topic: options.topic, count: options.partitions }] });
        io.out(`Topic ${options.topic} now has ${options.partitions} partitions.\n`);
      } finally {
        runnel.close();
      }
    });

  topics.command('delete')
    .description('delete a topic and its data')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .action(async (options: { bootstrapServer: string; topic: string }) => {
      const runnel = connect(options.bootstrapServer);
      try {
        await runnel.admin().deleteTopics({ topics: [options.topic] });
        io.out(`Deleted topic ${options.topic}.\n`);
      } finally {
        runnel.close();
      }
    });

  program.command('produce')
    .description('send each line of standard input (or of --file) as one record (like kafka-console-producer)')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .option('--file <path>', 'read the records from this file instead of standard input (a progress bar on a terminal)')
    .addOption(new Option('--acks <acks>', 'all (-1), 1 or 0').argParser(parseAcks).default('all' as Acks))
    .option('--parse-key', 'split each line into key and value at --key-separator', false)
    .option('--key-separator <sep>', 'separator between key and value', '\t')
    .option('--parse-headers', 'each line starts with h1:v1,h2:v2 and a TAB', false)
    .action(async (options: ProduceOptions) => {
      // The file is opened before anything connects: a wrong path fails at once with nothing sent.
      const file = options.file === undefined ? undefined : await openInputFile(options.file);
      try {
        const progress = startProgress(file !== undefined && (io.isTty ?? interactiveTerminal()), file?.sizeBytes ?? 0, 'bytes');
        let outcome: { sent: number; failed: number };
        try {
          outcome = await produceLines(file === undefined ? io.inputLines : file.lines, options, io, (bytesRead) => progress.update(bytesRead));
        } finally {
          // Before the summary: stopping the bar clears its line, and would clear a summary printed on it.
          progress.stop();
        }
        if (outcome.failed > 0) throw new CliError(`${outcome.failed} record(s) not delivered, ${outcome.sent} delivered`);
        io.err(`${outcome.sent} record(s) delivered\n`);
      } finally {
        await file?.close();
      }
    });

  program.command('consume')
    .description('print records of a topic (like kafka-console-consumer)')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .option('--from-beginning', 'start at the earliest offset instead of the end (in a group: where nothing is committed)', false)
    .option('--group <id>', 'join this consumer group: partitions are shared with its other members, offsets committed')
    .addOption(new Option('--session-timeout-ms <ms>', 'with --group: a member silent this long loses its partitions (default 10000)').argParser(positiveInt('--session-timeout-ms')))
    .addOption(new Option('--partition <n>', 'only this partition').argParser(nonNegativeInt('--partition')))
    .addOption(new Option('--offset <n>', 'start offset (with --partition)').argParser(nonNegativeInt('--offset')))
    .addOption(new Option('--max-messages <n>', 'exit after this many records').argParser(positiveInt('--max-messages')))
    .addOption(new Option('--timeout-ms <ms>', 'exit when no record arrives for this long').argParser(positiveInt('--timeout-ms')))
    .option('--print-key', 'print the key before the value', false)
    .option('--print-partition', 'print the partition', false)
    .option('--print-offset', 'print the offset', false)
    .option('--print-headers', 'print the headers', false)
    .option('--print-timestamp', 'print the timestamp', false)
    .action(async (options: ConsumeOptions) => {
      if (options.offset !== undefined && options.partition === undefined) throw new CliError('--offset needs --partition');
      if (options.group !== undefined && options.partition !== undefined) throw new CliError('--group and --partition exclude each other: the group assigns partitions');
      const runnel = connect(options.bootstrapServer);
      const consumer = runnel.consumer({
        autoOffsetReset: options.fromBeginning ? 'earliest' : 'latest',
        ...(options.group === undefined ? {} : { groupId: options.group, fromBeginning: options.fromBeginning }),
        ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      });
      let count = 0;
      try {
        await consumer.connect();
        let partitions: number[];
        if (options.group !== undefined) {
          partitions = [];
          consumer.subscribe({ topics: [options.topic] });
        } else if (options.partition !== undefined) {
          partitions = [options.partition];
        } else {
          const { topics: found } = await runnel.admin().describeTopics({ topics: [options.topic] });
          partitions = (found[0]?.partitions ?? []).map((p) => p.partitionId);
          if (partitions.length === 0) throw new CliError(`topic "${options.topic}" has no partitions`);
        }
        if (options.group === undefined) {
          consumer.assign(partitions.map((partition) => ({ topic: options.topic, partition, ...(options.offset === undefined ? {} : { offset: options.offset }) })), { fromBeginning: options.fromBeginning });
        }
        const stop = new AbortController();
        let idleTimer: NodeJS.Timeout | undefined;
        const armIdle = (): void => {
          if (options.timeoutMs === undefined) return;
          clearTimeout(idleTimer);
          idleTimer = setTimeout(() => stop.abort(), options.timeoutMs);
        };
        armIdle();
        let crashed: Error | undefined;
        consumer.once('crash', (error: Error) => {
          crashed = error;
          stop.abort();
        });
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        stop.signal.addEventListener('abort', () => void consumer.stop(), { once: true });
        try {
          await consumer.run({
            eachMessage: async ({ message }) => {
              if (stop.signal.aborted) return;
              io.out(`${formatConsumed(message, options)}\n`);
              count++;
              armIdle();
              if (options.maxMessages !== undefined && count >= options.maxMessages) stop.abort();
            },
          });
          if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
        } finally {
          clearTimeout(idleTimer);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (crashed !== undefined) throw crashed;
      } finally {
        await consumer.disconnect();
        runnel.close();
      }
      io.err(`Processed a total of ${count} messages\n`);
    });

  registerClientBenchCommands(program, io);
}

export function brokerList(bootstrap: string): string[] {
  const brokers = bootstrap.split(',').map((b) => b.trim()).filter((b) => b !== '');
  if (brokers.length === 0) throw new CliError('--bootstrap-server needs at least one host:port');
  return brokers;
}

function registerClientBenchCommands(program: Command, io: ClientCommandsIo): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks (print figures)');
  bench.command('produce')
    .description('producer throughput and latency (like kafka-producer-perf-test); the topic must exist')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .addOption(new Option('--num-records <n>', 'records to send').argParser(positiveInt('--num-records')).default(1_000_000))
    .addOption(new Option('--record-size <bytes>', 'value size').argParser(positiveInt('--record-size')).default(100))
    .addOption(new Option('--acks <acks>', 'all (-1), 1 or 0').argParser(parseAcks).default('all' as Acks))
    .addOption(new Option('--throughput <records/s>', 'target rate; 0 for as fast as possible').argParser(nonNegativeInt('--throughput')).default(0))
    .addOption(new Option('--records-per-send <n>', 'records per send() call').argParser(positiveInt('--records-per-send')).default(100))
    .addOption(new Option('--linger-ms <ms>', 'producer lingerMs').argParser(nonNegativeInt('--linger-ms')).default(5))
    .addOption(new Option('--batch-size <bytes>', 'producer batchSize').argParser(positiveInt('--batch-size')).default(262_144))
    .addOption(new Option('--warmup-records <n>', 'records sent first at the same rate and left out of the figures').argParser(nonNegativeInt('--warmup-records')).default(0))
    .addOption(new Option('--max-duration-ms <ms>', 'bound on the run').argParser(positiveInt('--max-duration-ms')).default(300_000))
    .option('--json', 'also print a JSON line', false)
    .action(async (options: { bootstrapServer: string; topic: string; numRecords: number; recordSize: number; acks: Acks; throughput: number; recordsPerSend: number; lingerMs: number; batchSize: number; warmupRecords: number; maxDurationMs: number; json: boolean }) => {
      const benchOptions = {
        brokers: brokerList(options.bootstrapServer), topic: options.topic, numRecords: options.numRecords, recordSizeBytes: options.recordSize,
        acks: options.acks, throughput: options.throughput, recordsPerSend: options.recordsPerSend, lingerMs: options.lingerMs,
        batchSizeBytes: options.batchSize, maxDurationMs: options.maxDurationMs, progress: process.stderr.isTTY === true, warmupRecords: options.warmupRecords,
      };
      const result = await runProduceBench(benchOptions);
      io.out(`${formatProduceBench(benchOptions, result)}\n`);
      if (options.json) io.out(`${JSON.stringify({ bench: 'produce', acks: options.acks, recordSizeBytes: options.recordSize, ...result })}\n`);
    });
  bench.command('group')
    .description('a consumer group: throughput of N members from the beginning, rebalance time when a member joins and when one is SIGKILLed')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .addOption(new Option('--members <n>', 'members consuming').argParser(positiveInt('--members')).default(3))
    .addOption(new Option('--messages <n>', 'records the group reads before the rebalance measurements').argParser(positiveInt('--messages')).default(300_000))
    .addOption(new Option('--session-timeout-ms <ms>', 'the members\' session timeout').argParser(positiveInt('--session-timeout-ms')).default(10_000))
    .addOption(new Option('--max-duration-ms <ms>', 'bound on the run').argParser(positiveInt('--max-duration-ms')).default(300_000))
    .option('--json', 'also print a JSON line', false)
    .action(async (options: { bootstrapServer: string; topic: string; members: number; messages: number; sessionTimeoutMs: number; maxDurationMs: number; json: boolean }) => {
      const result = await runGroupBench({
        brokers: brokerList(options.bootstrapServer), topic: options.topic, members: options.members, messages: options.messages,
        sessionTimeoutMs: options.sessionTimeoutMs, maxDurationMs: options.maxDurationMs,
      });
      io.out(`${formatGroupBench(result)}\n`);
      if (options.json) io.out(`${JSON.stringify({ bench: 'group', ...result })}\n`);
    });

  bench.command('consume')
    .description('consumer throughput from the beginning of a topic (like kafka-consumer-perf-test)')
    .requiredOption(BOOTSTRAP_FLAG, BOOTSTRAP_HELP)
    .requiredOption('--topic <name>', 'topic name')
    .addOption(new Option('--messages <n>', 'records to read').argParser(positiveInt('--messages')).default(1_000_000))
    .addOption(new Option('--max-duration-ms <ms>', 'bound on the run').argParser(positiveInt('--max-duration-ms')).default(300_000))
    .option('--json', 'also print a JSON line', false)
    .action(async (options: { bootstrapServer: string; topic: string; messages: number; maxDurationMs: number; json: boolean }) => {
      const result = await runConsumeBench({
        brokers: brokerList(options.bootstrapServer), topic: options.topic, numRecords: options.messages, maxDurationMs: options.maxDurationMs,
        progress: process.stderr.isTTY === true,
      });
      io.out(`${formatConsumeBench(result)}\n`);
      if (options.json) io.out(`${JSON.stringify({ bench: 'consume', ...result })}\n`);
    });
}
