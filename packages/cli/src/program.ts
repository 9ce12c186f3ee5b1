import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatStorage, randomClusterId, runServer } from '@runnel/server';
import type { ConfigFlags } from '@runnel/server';
import { DEFAULT_FAILOVER_BENCH, formatFailoverBench, runFailoverBench } from './bench-failover.js';
import { DEFAULT_QUORUM_BENCH, formatQuorumBench, runQuorumBench } from './bench-quorum.js';
import { CliError, isExpectedError } from './errors.js';
import { describeQuorum, formatDescription } from './quorum-describe.js';
import { brokerList, registerClientCommands, stdinLines } from './client-commands.js';
import { registerGroupCommands } from './group-commands.js';
import { clusterStatus, formatClusterStatus } from './cluster-status.js';
import { Runnel } from '@runnel/client';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

function positiveInt(name: string): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${raw}"`);
    return Number(raw);
  };
}

interface ServerStartOptions {
  config?: string;
  nodeId?: string;
  dataDir?: string;
  controllerListen?: string;
  controllerQuorum?: string;
  clusterId?: string;
  logLevel?: string;
  listen?: string;
  advertisedListen?: string;
  externalListen?: string;
  externalAdvertisedListen?: string;
  httpListen?: string;
  roles?: string;
  brokerHeartbeatIntervalMs?: string;
  brokerSessionTimeoutMs?: string;
  minInsyncReplicas?: string;
  defaultReplicationFactor?: string;
  numPartitions?: string;
  logFlushPolicy?: string;
  replicaLagTimeMaxMs?: string;
  logRetentionCheckIntervalMs?: string;
  autoLeaderRebalanceEnable?: string;
  leaderImbalanceCheckIntervalSeconds?: string;
  uncleanLeaderElectionEnable?: string;
  offsetsTopicNumPartitions?: string;
  offsetsTopicReplicationFactor?: string;
  groupConsumerHeartbeatIntervalMs?: string;
}

export function createProgram(io: CliIo = defaultIo): Command {
  const program = new Command('runnel')
    .description('Runnel: a Raft-based, Kafka-style event streaming platform')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)');

  const storage = program.command('storage').description('format and inspect node data directories');
  storage.command('random-uuid').description('print a new random cluster id').action(() => {
    io.out(`${randomClusterId()}\n`);
  });
  storage.command('format')
    .description('format a data directory for one node of one cluster (writes meta.properties)')
    .requiredOption('--data-dir <dir>', 'node data directory')
    .requiredOption('--node-id <id>', 'this node\'s id', positiveInt('--node-id'))
    .requiredOption('--cluster-id <id>', 'cluster id (from `runnel storage random-uuid`)')
    .option('--ignore-formatted', 'succeed without changes when already formatted with the same ids', false)
    .action(async (options: { dataDir: string; nodeId: number; clusterId: string; ignoreFormatted: boolean }) => {
      const result = await formatStorage(options);
      io.out(result === 'formatted'
        ? `Formatted ${options.dataDir} (cluster.id=${options.clusterId}, node.id=${options.nodeId})\n`
        : `${options.dataDir} is already formatted with cluster.id=${options.clusterId}, node.id=${options.nodeId}; left as is\n`);
    });

  const server = program.command('server').description('run a runnel node');
  server.command('start')
    .description('start a node (broker and metadata-quorum controller by default); runs until SIGTERM/SIGINT')
    .option('--config <file>', 'Kafka-style properties file (node.id, log.dirs, controller.listener, controller.quorum.voters, ...)')
    .option('--node-id <id>', 'node id (node.id, RUNNEL_NODE_ID)')
    .option('--data-dir <dir>', 'data directory (log.dirs, RUNNEL_DATA_DIR)')
    .option('--controller-listen <host:port>', 'controller listener (controller.listener, RUNNEL_CONTROLLER_LISTEN)')
    .option('--controller-quorum <voters>', 'voters, e.g. 1@127.0.0.1:9093,2@127.0.0.1:9193 (controller.quorum.voters, RUNNEL_CONTROLLER_QUORUM)')
    .option('--cluster-id <id>', 'refuse to start unless the data dir belongs to this cluster (cluster.id, RUNNEL_CLUSTER_ID)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (log.level, RUNNEL_LOG_LEVEL)')
    .option('--listen <host:port>', 'broker (client) listener, default 127.0.0.1:9092 (listeners, RUNNEL_LISTEN)')
    .option('--advertised-listen <host:port>', 'address clients and followers use to reach this broker, default --listen (advertised.listeners, RUNNEL_ADVERTISED_LISTEN)')
    .option('--external-listen <host:port>', 'second client listener (named EXTERNAL), off by default; clients bootstrapping there get every broker\'s external address (external.listen, RUNNEL_EXTERNAL_LISTEN)')
    .option('--external-advertised-listen <host:port>', 'address registered for the external listener, default --external-listen (external.advertised.listen, RUNNEL_EXTERNAL_ADVERTISED_LISTEN)')
    .option('--http-listen <host:port>', 'HTTP listener for /healthz, /readyz and /metrics, default 127.0.0.1:9094 (http.listen, RUNNEL_HTTP_LISTEN)')
    .option('--roles <roles>', 'broker,controller (default), broker or controller (process.roles, RUNNEL_ROLES)')
    .option('--broker-heartbeat-interval-ms <ms>', 'broker heartbeat to the controller (broker.heartbeat.interval.ms)')
    .option('--broker-session-timeout-ms <ms>', 'a broker silent this long is fenced (broker.session.timeout.ms)')
    .option('--min-insync-replicas <n>', 'default ISR size acks=all needs (min.insync.replicas)')
    .option('--default-replication-factor <n>', 'replication factor of topics created without one (default.replication.factor)')
    .option('--num-partitions <n>', 'partitions of topics created without a count (num.partitions)')
    .option('--log-flush-policy <policy>', 'durable (acks=all waits for fsync on the ISR) or lazy (log.flush.policy)')
    .option('--replica-lag-time-max-ms <ms>', 'a follower this far behind leaves the ISR (replica.lag.time.max.ms)')
    .option('--log-retention-check-interval-ms <ms>', 'how often old segments are deleted by retention.ms/retention.bytes (log.retention.check.interval.ms)')
    .option('--auto-leader-rebalance-enable <bool>', 'give leadership back to preferred replicas once in sync (auto.leader.rebalance.enable, default true)')
    .option('--leader-imbalance-check-interval-seconds <s>', 'how often the controller does that (leader.imbalance.check.interval.seconds, default 30)')
    .option('--unclean-leader-election-enable <bool>', 'elect an out-of-sync replica when no ISR member is left, losing data (unclean.leader.election.enable, default false)')
    .option('--offsets-topic-num-partitions <n>', 'partitions of __consumer_offsets (offsets.topic.num.partitions, default 16)')
    .option('--offsets-topic-replication-factor <n>', 'replication factor of __consumer_offsets (offsets.topic.replication.factor, default 3)')
    .option('--group-consumer-heartbeat-interval-ms <ms>', 'how often group members heartbeat (group.consumer.heartbeat.interval.ms, default 1000)')
    .action(async (options: ServerStartOptions) => {
      const flags: ConfigFlags = {
        nodeId: options.nodeId,
        dataDir: options.dataDir,
        controllerListen: options.controllerListen,
        controllerQuorumVoters: options.controllerQuorum,
        clusterId: options.clusterId,
        logLevel: options.logLevel,
        listen: options.listen,
        advertisedListen: options.advertisedListen,
        externalListen: options.externalListen,
        externalAdvertisedListen: options.externalAdvertisedListen,
        httpListen: options.httpListen,
        roles: options.roles,
        brokerHeartbeatIntervalMs: options.brokerHeartbeatIntervalMs,
        brokerSessionTimeoutMs: options.brokerSessionTimeoutMs,
        minInsyncReplicas: options.minInsyncReplicas,
        defaultReplicationFactor: options.defaultReplicationFactor,
        numPartitions: options.numPartitions,
        logFlushPolicy: options.logFlushPolicy,
        replicaLagTimeMaxMs: options.replicaLagTimeMaxMs,
        retentionCheckIntervalMs: options.logRetentionCheckIntervalMs,
        autoLeaderRebalanceEnable: options.autoLeaderRebalanceEnable,
        leaderImbalanceCheckIntervalMs: options.leaderImbalanceCheckIntervalSeconds,
        uncleanLeaderElectionEnable: options.uncleanLeaderElectionEnable,
        offsetsTopicNumPartitions: options.offsetsTopicNumPartitions,
        offsetsTopicReplicationFactor: options.offsetsTopicReplicationFactor,
        groupConsumerHeartbeatIntervalMs: options.groupConsumerHeartbeatIntervalMs,
      };
      const exitCode = await runServer({ flags, env: io.env, configFile: options.config ?? io.env['RUNNEL_CONFIG'] });
      // gRPC and LevelDB are closed by now; exiting explicitly keeps a stray handle from hanging the process.
      process.exit(exitCode);
    });

  const quorum = program.command('quorum').description('the metadata quorum');
  quorum.command('describe')
    .description('show the leader, term, commit index and each voter\'s and observer\'s replication state')
    .requiredOption('--controller <host:port>', 'any controller\'s listener; followers redirect to the leader')
    .option('--json', 'print JSON', false)
    .addOption(new Option('--timeout-ms <ms>', 'deadline per request').argParser(positiveInt('--timeout-ms')).default(3_000))
    .action(async (options: { controller: string; json: boolean; timeoutMs: number }) => {
      const description = await describeQuorum(options.controller, options.timeoutMs);
      io.out(options.json ? `${JSON.stringify(description)}\n` : `${formatDescription(description)}\n`);
    });

  const cluster = program.command('cluster').description('the cluster as a whole');
  cluster.command('status')
    .description('every node: roles, fenced or not, the active controller, metadata lag; partition health')
    .requiredOption('--bootstrap-server <host:port[,host:port]>', 'brokers to bootstrap from (any broker of the cluster)')
    .option('--json', 'print JSON', false)
    .addOption(new Option('--timeout-ms <ms>', 'deadline per request').argParser(positiveInt('--timeout-ms')).default(3_000))
    .action(async (options: { bootstrapServer: string; json: boolean; timeoutMs: number }) => {
      const runnel = new Runnel({ brokers: brokerList(options.bootstrapServer), clientId: 'runnel-cli', requestTimeoutMs: options.timeoutMs, retry: { retries: 3 } });
      try {
        const admin = runnel.admin();
        const status = await clusterStatus({
          describeCluster: () => admin.describeCluster(),
          describeTopics: async () => (await admin.describeTopics()).topics,
          describeQuorum: (endpoint) => describeQuorum(endpoint, options.timeoutMs),
        });
        io.out(options.json ? `${JSON.stringify(status)}\n` : `${formatClusterStatus(status)}\n`);
      } finally {
        runnel.close();
      }
    });

  const bench = program.command('bench').description('benchmarks (print figures)');
  bench.command('quorum')
    .description('commit latency, pipelined throughput and failover time of a 3-voter loopback quorum')
    .addOption(new Option('--base-port <port>', 'node N listens on base + (N-1)*100').argParser(positiveInt('--base-port')).default(DEFAULT_QUORUM_BENCH.basePort))
    .addOption(new Option('--proposals <n>', 'sequential proposals').argParser(positiveInt('--proposals')).default(DEFAULT_QUORUM_BENCH.sequentialProposals))
    .addOption(new Option('--inflight <n>', 'pipelined proposals in flight').argParser(positiveInt('--inflight')).default(DEFAULT_QUORUM_BENCH.pipelinedInflight))
    .addOption(new Option('--pipelined-ms <ms>', 'bound on the pipelined phase').argParser(positiveInt('--pipelined-ms')).default(DEFAULT_QUORUM_BENCH.pipelinedDurationMs))
    .addOption(new Option('--failover-trials <n>', 'SIGKILL-the-leader trials').argParser(positiveInt('--failover-trials')).default(DEFAULT_QUORUM_BENCH.failoverTrials))
    .option('--json', 'print only the JSON result line', false)
    .action(async (options: { basePort: number; proposals: number; inflight: number; pipelinedMs: number; failoverTrials: number; json: boolean }) => {
      const result = await runQuorumBench({
        ...DEFAULT_QUORUM_BENCH,
        basePort: options.basePort,
        sequentialProposals: options.proposals,
        pipelinedInflight: options.inflight,
        pipelinedDurationMs: options.pipelinedMs,
        failoverTrials: options.failoverTrials,
      }, options.json ? () => undefined : (line) => io.err(`${line}\n`));
      if (!options.json) io.out(`${formatQuorumBench(result)}\n`);
      io.out(`${JSON.stringify({ bench: 'quorum', ...result })}\n`);
    });

  bench.command('failover')
    .description('longest gap between acks=all acknowledgements while the partition leader is SIGKILLed, on a local 3-node cluster')
    .addOption(new Option('--base-port <port>', 'node N listens on base + (N-1)*100').argParser(positiveInt('--base-port')).default(DEFAULT_FAILOVER_BENCH.basePort))
    .addOption(new Option('--trials <n>', 'SIGKILL-the-leader trials').argParser(positiveInt('--trials')).default(DEFAULT_FAILOVER_BENCH.trials))
    .addOption(new Option('--records-per-sec <n>', 'steady producer rate').argParser(positiveInt('--records-per-sec')).default(DEFAULT_FAILOVER_BENCH.recordsPerSec))
    .option('--server-arg <arg>', 'extra `server start` argument for every node (repeat), e.g. --server-arg=--broker-session-timeout-ms --server-arg=3000', (raw: string, previous: string[]) => [...previous, raw], [] as string[])
    .option('--data-root <dir>', 'keep the nodes\' data and logs here (default: a temp dir, removed at the end)')
    .option('--json', 'print only the JSON result line', false)
    .action(async (options: { basePort: number; trials: number; recordsPerSec: number; serverArg: string[]; dataRoot?: string; json: boolean }) => {
      const result = await runFailoverBench({
        ...DEFAULT_FAILOVER_BENCH,
        ...(options.dataRoot === undefined ? {} : { dataRoot: options.dataRoot }),
        basePort: options.basePort,
        trials: options.trials,
        recordsPerSec: options.recordsPerSec,
        serverArgs: options.serverArg,
      }, options.json ? () => undefined : (line) => io.err(`${line}\n`));
      if (!options.json) io.out(`${formatFailoverBench(result)}\n`);
      const { check, ...figures } = result;
      io.out(`${JSON.stringify({ bench: 'failover', ...figures, violations: check.violations.slice(0, 10) })}\n`);
    });

  registerClientCommands(program, { out: io.out, err: io.err, inputLines: stdinLines });
  registerGroupCommands(program, { out: io.out, err: io.err });

  return program;
}

/** Runs the CLI; resolves with the exit code instead of exiting, so tests can call it. */
export async function run(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its message; help and version are successful exits.
      return error.exitCode;
    }
    if (isExpectedError(error)) {
      io.err(`runnel: error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

export { CliError };
