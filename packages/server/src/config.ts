// The daemon's one configuration schema. Every setting has a Kafka-style key (config file), a
// RUNNEL_* environment variable and a command-line flag; precedence is flag > env > file > default.
// Every rejected value names the key, the value and where it came from, so an operator can fix the
// right place.
import { readFileSync } from 'node:fs';
import { RunnelError } from '@runnel/protocol';
import { parseProperties } from './properties-file.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  readonly nodeId: number;
  readonly dataDir: string;
  /** host:port the controller gRPC listener binds (Raft + Quorum services). */
  readonly controllerListen: string;
  /** Voter id -> host:port of its controller listener. */
  readonly controllerQuorumVoters: ReadonlyMap<number, string>;
  /** When set, the node refuses to start on a data dir formatted for another cluster. */
  readonly clusterId: string | undefined;
  readonly logLevel: LogLevel;
  readonly raftTickMs: number;
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly snapshotEveryEntries: number;
  /** Bound on graceful shutdown steps (controlled shutdown, leadership transfer, draining gRPC calls). */
  readonly shutdownTimeoutMs: number;
  /** host:port the broker (client) gRPC listener binds. */
  readonly listen: string;
  /** host:port registered for clients and followers to reach this broker; defaults to `listen`. */
  readonly advertisedListen: string;
  /**
   * host:port of a second client listener (Kafka's multiple listeners), named EXTERNAL; undefined: off.
   * Requests arriving there are answered with every broker's EXTERNAL endpoint, e.g. host-published
   * ports when brokers reach each other by container name.
   */
  readonly externalListen: string | undefined;
  /** host:port registered as this broker's EXTERNAL endpoint; defaults to `externalListen`. */
  readonly externalAdvertisedListen: string | undefined;
  /** host:port of the HTTP listener (/healthz, /readyz, /metrics). */
  readonly httpListen: string;
  readonly roles: readonly ProcessRole[];
  readonly brokerHeartbeatIntervalMs: number;
  readonly brokerSessionTimeoutMs: number;
  readonly minInsyncReplicas: number;
  readonly defaultReplicationFactor: number;
  readonly numPartitions: number;
  readonly logFlushPolicy: 'durable' | 'lazy';
  readonly replicaLagTimeMaxMs: number;
  readonly retentionCheckIntervalMs: number;
  /** auto.leader.rebalance.enable: move leadership back to preferred replicas once they are in the ISR. */
  readonly autoLeaderRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds, in ms: how often the active controller does that. */
  readonly leaderImbalanceCheckIntervalMs: number;
  /** unclean.leader.election.enable (cluster default; topics may override it). */
  readonly uncleanLeaderElectionEnable: boolean;
  /** offsets.topic.num.partitions: partitions of __consumer_offsets, created on first group use. */
  readonly offsetsTopicNumPartitions: number;
  /** offsets.topic.replication.factor */
  readonly offsetsTopicReplicationFactor: number;
  /** group.consumer.heartbeat.interval.ms: how often group members heartbeat (and so learn of rebalances). */
  readonly groupConsumerHeartbeatIntervalMs: number;
}

export const PROCESS_ROLES = ['broker', 'controller'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Raw string inputs per setting, keyed by ServerConfig field name (commander gives camelCase options). */
export type ConfigFlags = Partial<Record<keyof ServerConfig, string | undefined>>;

export interface ConfigInputs {
  readonly flags?: ConfigFlags;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of a properties file; read here so errors can cite it. */
  readonly configFile?: string | undefined;
  /** Properties file contents (tests); `configFile` is then only used as its name. */
  readonly configFileText?: string;
}

export interface ResolvedConfig {
  readonly config: ServerConfig;
  /** Where each setting came from, for the start-up log line. */
  readonly sources: Readonly<Record<keyof ServerConfig, string>>;
  /** Config file keys this schema does not know (Kafka warns about these rather than failing). */
  readonly unknownFileKeys: readonly string[];
}

class InvalidValue extends Error {}

interface Field<T> {
  readonly fileKeys: readonly string[];
  readonly env: string;
  readonly flag: string;
  readonly parse: (raw: string) => T;
  /** undefined: required unless derived from other settings (see resolveConfig). */
  readonly defaultValue: T | undefined;
}

type Schema = { readonly [K in keyof ServerConfig]: Field<ServerConfig[K]> };

const MAX_PORT = 65_535;
const MAX_NODE_ID = 2_147_483_647;

function positiveInt(max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new InvalidValue('must be a positive integer');
    const n = Number(raw);
    if (n < 1 || n > max) throw new InvalidValue(`must be between 1 and ${max}`);
    return n;
  };
}

export function parseHostPort(raw: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(raw);
  if (match === null) throw new InvalidValue('must be HOST:PORT, e.g. 127.0.0.1:9093');
  const port = Number(match[2]);
  if (port < 1 || port > MAX_PORT) throw new InvalidValue(`port must be between 1 and ${MAX_PORT}`);
  return raw;
}

/** Kafka's controller.quorum.voters format: `1@127.0.0.1:9093,2@127.0.0.1:9193`. */
export function parseVoters(raw: string): Map<number, string> {
  const voters = new Map<number, string>();
  const endpoints = new Set<string>();
  for (const part of raw.split(',')) {
    const item = part.trim();
    const at = item.indexOf('@');
    if (at < 0) throw new InvalidValue(`entry "${item}" must be ID@HOST:PORT, e.g. 1@127.0.0.1:9093`);
    const idText = item.slice(0, at);
    const endpointText = item.slice(at + 1);
    let id: number;
    let endpoint: string;
    try {
      id = positiveInt(MAX_NODE_ID)(idText);
      endpoint = parseHostPort(endpointText);
    } catch (error) {
      throw new InvalidValue(`entry "${item}": ${(error as Error).message}`);
    }
    if (voters.has(id)) throw new InvalidValue(`voter id ${id} appears twice`);
    if (endpoints.has(endpoint)) throw new InvalidValue(`endpoint ${endpoint} appears twice`);
    voters.set(id, endpoint);
    endpoints.add(endpoint);
  }
  return voters;
}

/** Kafka's `listeners` may name the listener (`CLIENT://127.0.0.1:9092`); one listener is supported. */
function listenerValue(raw: string): string {
  if (raw.includes(',')) throw new InvalidValue('lists one listener only (several listeners are not supported yet)');
  const match = /^[A-Za-z_][A-Za-z0-9_]*:\/\/(.*)$/.exec(raw);
  return parseHostPort(match?.[1] ?? raw);
}

function rolesValue(raw: string): readonly ProcessRole[] {
  const roles = new Set<ProcessRole>();
  for (const part of raw.split(',')) {
    const name = part.trim().toLowerCase();
    const role = PROCESS_ROLES.find((candidate) => candidate === name);
    if (role === undefined) throw new InvalidValue(`role "${part.trim()}" is not one of ${PROCESS_ROLES.join(', ')}`);
    roles.add(role);
  }
  return PROCESS_ROLES.filter((role) => roles.has(role));
}

function booleanValue(raw: string): boolean {
  const lower = raw.trim().toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new InvalidValue('must be true or false');
}

function secondsAsMs(max: number): (raw: string) => number {
  const seconds = positiveInt(max);
  return (raw) => seconds(raw) * 1_000;
}

function flushPolicyValue(raw: string): 'durable' | 'lazy' {
  if (raw === 'durable' || raw === 'lazy') return raw;
  throw new InvalidValue('must be durable (acks=all waits for fsync on every ISR member) or lazy');
}

function nonEmptyPath(raw: string): string {
  if (raw.trim() === '') throw new InvalidValue('must not be empty');
  if (raw.includes(',')) {
    throw new InvalidValue('lists one directory only (several log dirs are not supported yet)');
  }
  return raw;
}

function clusterIdValue(raw: string): string {
  if (!/^[A-Za-z0-9_-]{22}$/.test(raw)) {
    throw new InvalidValue('must be 22 base64url characters (see `runnel storage random-uuid`)');
  }
  return raw;
}

function logLevelValue(raw: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === raw.toLowerCase());
  if (level === undefined) throw new InvalidValue(`must be one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/**
 * Broker liveness defaults, well below Kafka's 2 s / 9 s: the session timeout is most of the time a
 * producer waits when a partition leader dies (see docs/failover.md), and issue 4 asks for under 3 s.
 * Four heartbeats fit in a session, so one or two lost or late heartbeats (a GC pause, a busy
 * machine) do not fence a healthy broker.
 */
export const BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT = 500;
export const BROKER_SESSION_TIMEOUT_MS_DEFAULT = 2_000;

const SCHEMA: Schema = {
  nodeId: { fileKeys: ['node.id'], env: 'RUNNEL_NODE_ID', flag: '--node-id', parse: positiveInt(MAX_NODE_ID), defaultValue: undefined },
  dataDir: { fileKeys: ['data.dir', 'log.dirs', 'log.dir'], env: 'RUNNEL_DATA_DIR', flag: '--data-dir', parse: nonEmptyPath, defaultValue: undefined },
  controllerListen: { fileKeys: ['controller.listener'], env: 'RUNNEL_CONTROLLER_LISTEN', flag: '--controller-listen', parse: parseHostPort, defaultValue: undefined },
  controllerQuorumVoters: { fileKeys: ['controller.quorum.voters'], env: 'RUNNEL_CONTROLLER_QUORUM', flag: '--controller-quorum', parse: parseVoters, defaultValue: undefined },
  clusterId: { fileKeys: ['cluster.id'], env: 'RUNNEL_CLUSTER_ID', flag: '--cluster-id', parse: clusterIdValue, defaultValue: undefined },
  logLevel: { fileKeys: ['log.level'], env: 'RUNNEL_LOG_LEVEL', flag: '--log-level', parse: logLevelValue, defaultValue: 'info' },
  raftTickMs: { fileKeys: ['raft.tick.ms'], env: 'RUNNEL_RAFT_TICK_MS', flag: '--raft-tick-ms', parse: positiveInt(60_000), defaultValue: 100 },
  electionTimeoutMs: { fileKeys: ['controller.quorum.election.timeout.ms'], env: 'RUNNEL_ELECTION_TIMEOUT_MS', flag: '--election-timeout-ms', parse: positiveInt(600_000), defaultValue: 500 },
  heartbeatIntervalMs: { fileKeys: ['controller.quorum.heartbeat.interval.ms'], env: 'RUNNEL_HEARTBEAT_INTERVAL_MS', flag: '--heartbeat-interval-ms', parse: positiveInt(600_000), defaultValue: 100 },
  requestTimeoutMs: { fileKeys: ['controller.quorum.request.timeout.ms'], env: 'RUNNEL_REQUEST_TIMEOUT_MS', flag: '--request-timeout-ms', parse: positiveInt(600_000), defaultValue: 1_000 },
  snapshotEveryEntries: { fileKeys: ['metadata.snapshot.every.entries'], env: 'RUNNEL_SNAPSHOT_EVERY_ENTRIES', flag: '--snapshot-every-entries', parse: positiveInt(100_000_000), defaultValue: 10_000 },
  shutdownTimeoutMs: { fileKeys: ['controlled.shutdown.timeout.ms'], env: 'RUNNEL_SHUTDOWN_TIMEOUT_MS', flag: '--shutdown-timeout-ms', parse: positiveInt(600_000), defaultValue: 3_000 },
  listen: { fileKeys: ['listeners'], env: 'RUNNEL_LISTEN', flag: '--listen', parse: listenerValue, defaultValue: '127.0.0.1:9092' },
  // Derived from listen when unset (see crossCheck).
  advertisedListen: { fileKeys: ['advertised.listeners'], env: 'RUNNEL_ADVERTISED_LISTEN', flag: '--advertised-listen', parse: listenerValue, defaultValue: undefined },
  externalListen: { fileKeys: ['external.listen'], env: 'RUNNEL_EXTERNAL_LISTEN', flag: '--external-listen', parse: listenerValue, defaultValue: undefined },
  // Derived from external.listen when unset (see crossCheck).
  externalAdvertisedListen: { fileKeys: ['external.advertised.listen'], env: 'RUNNEL_EXTERNAL_ADVERTISED_LISTEN', flag: '--external-advertised-listen', parse: listenerValue, defaultValue: undefined },
  httpListen: { fileKeys: ['http.listen'], env: 'RUNNEL_HTTP_LISTEN', flag: '--http-listen', parse: parseHostPort, defaultValue: '127.0.0.1:9094' },
  roles: { fileKeys: ['process.roles'], env: 'RUNNEL_ROLES', flag: '--roles', parse: rolesValue, defaultValue: PROCESS_ROLES },
  brokerHeartbeatIntervalMs: { fileKeys: ['broker.heartbeat.interval.ms'], env: 'RUNNEL_BROKER_HEARTBEAT_INTERVAL_MS', flag: '--broker-heartbeat-interval-ms', parse: positiveInt(600_000), defaultValue: BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT },
  brokerSessionTimeoutMs: { fileKeys: ['broker.session.timeout.ms'], env: 'RUNNEL_BROKER_SESSION_TIMEOUT_MS', flag: '--broker-session-timeout-ms', parse: positiveInt(3_600_000), defaultValue: BROKER_SESSION_TIMEOUT_MS_DEFAULT },
  minInsyncReplicas: { fileKeys: ['min.insync.replicas'], env: 'RUNNEL_MIN_INSYNC_REPLICAS', flag: '--min-insync-replicas', parse: positiveInt(1_000), defaultValue: 1 },
  defaultReplicationFactor: { fileKeys: ['default.replication.factor'], env: 'RUNNEL_DEFAULT_REPLICATION_FACTOR', flag: '--default-replication-factor', parse: positiveInt(1_000), defaultValue: 1 },
  numPartitions: { fileKeys: ['num.partitions'], env: 'RUNNEL_NUM_PARTITIONS', flag: '--num-partitions', parse: positiveInt(100_000), defaultValue: 1 },
  logFlushPolicy: { fileKeys: ['log.flush.policy'], env: 'RUNNEL_LOG_FLUSH_POLICY', flag: '--log-flush-policy', parse: flushPolicyValue, defaultValue: 'durable' },
  replicaLagTimeMaxMs: { fileKeys: ['replica.lag.time.max.ms'], env: 'RUNNEL_REPLICA_LAG_TIME_MAX_MS', flag: '--replica-lag-time-max-ms', parse: positiveInt(3_600_000), defaultValue: 30_000 },
  retentionCheckIntervalMs: { fileKeys: ['log.retention.check.interval.ms'], env: 'RUNNEL_LOG_RETENTION_CHECK_INTERVAL_MS', flag: '--log-retention-check-interval-ms', parse: positiveInt(86_400_000), defaultValue: 300_000 },
  autoLeaderRebalanceEnable: { fileKeys: ['auto.leader.rebalance.enable'], env: 'RUNNEL_AUTO_LEADER_REBALANCE_ENABLE', flag: '--auto-leader-rebalance-enable', parse: booleanValue, defaultValue: true },
  // Kafka checks every 300 s; a rejoined broker waiting that long for its leaderships is most of a
  // rolling restart, so Runnel checks every 30 s.
  leaderImbalanceCheckIntervalMs: { fileKeys: ['leader.imbalance.check.interval.seconds'], env: 'RUNNEL_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS', flag: '--leader-imbalance-check-interval-seconds', parse: secondsAsMs(86_400), defaultValue: 30_000 },
  uncleanLeaderElectionEnable: { fileKeys: ['unclean.leader.election.enable'], env: 'RUNNEL_UNCLEAN_LEADER_ELECTION_ENABLE', flag: '--unclean-leader-election-enable', parse: booleanValue, defaultValue: false },
  // Kafka's default is 50; 16 (Redpanda's) keeps a small cluster's replica count down.
  offsetsTopicNumPartitions: { fileKeys: ['offsets.topic.num.partitions'], env: 'RUNNEL_OFFSETS_TOPIC_NUM_PARTITIONS', flag: '--offsets-topic-num-partitions', parse: positiveInt(1_000), defaultValue: 16 },
  offsetsTopicReplicationFactor: { fileKeys: ['offsets.topic.replication.factor'], env: 'RUNNEL_OFFSETS_TOPIC_REPLICATION_FACTOR', flag: '--offsets-topic-replication-factor', parse: positiveInt(1_000), defaultValue: 3 },
  // Kafka's KIP-848 default is 5 s. Members learn of a reassignment only when they heartbeat, so the
  // interval adds directly to rebalance time; 1 s keeps a dead member's partitions moving within a
  // second of its session timeout, for one small request per member per second.
  groupConsumerHeartbeatIntervalMs: { fileKeys: ['group.consumer.heartbeat.interval.ms'], env: 'RUNNEL_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS', flag: '--group-consumer-heartbeat-interval-ms', parse: positiveInt(3_600_000), defaultValue: 1_000 },
};

const FIELD_NAMES = Object.keys(SCHEMA) as (keyof ServerConfig)[];

export const KNOWN_FILE_KEYS: ReadonlySet<string> = new Set(FIELD_NAMES.flatMap((name) => SCHEMA[name].fileKeys));

function invalid(key: string, source: string, message: string): RunnelError {
  return new RunnelError('INVALID_CONFIG', `invalid ${key} (from ${source}): ${message}`, { details: { key, source } });
}

interface RawValue { readonly raw: string; readonly source: string }

function readConfigFile(inputs: ConfigInputs): { name: string; entries: Map<string, { value: string; line: number }> } | undefined {
  if (inputs.configFile === undefined && inputs.configFileText === undefined) return undefined;
  const name = inputs.configFile ?? '<config text>';
  let text: string;
  if (inputs.configFileText !== undefined) {
    text = inputs.configFileText;
  } else {
    try {
      text = readFileSync(name, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new RunnelError('INVALID_CONFIG', `cannot read config file ${name}: ${reason}`, { cause: error, details: { key: 'config', source: name } });
    }
  }
  return { name, entries: parseProperties(text) };
}

function rawValueFor(
  name: keyof ServerConfig,
  inputs: ConfigInputs,
  file: ReturnType<typeof readConfigFile>,
): RawValue | undefined {
  const field = SCHEMA[name];
  const flag = inputs.flags?.[name];
  if (flag !== undefined) return { raw: flag, source: `flag ${field.flag}` };
  const env = inputs.env?.[field.env];
  // An empty variable counts as unset: compose files and shells often export VAR= for "no value".
  if (env !== undefined && env !== '') return { raw: env, source: `environment variable ${field.env}` };
  if (file !== undefined) {
    const present = field.fileKeys.filter((key) => file.entries.has(key));
    if (present.length > 1) {
      throw invalid(present.join(' and '), `config file ${file.name}`, 'set only one of these keys');
    }
    const key = present[0];
    const entry = key === undefined ? undefined : file.entries.get(key);
    if (key !== undefined && entry !== undefined) {
      return { raw: entry.value, source: `config file ${file.name}, key ${key}, line ${entry.line}` };
    }
  }
  return undefined;
}

function displayKey(name: keyof ServerConfig): string {
  return SCHEMA[name].fileKeys[0] ?? name;
}

export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const file = readConfigFile(inputs);
  const values: Partial<Record<keyof ServerConfig, unknown>> = {};
  const sources: Partial<Record<keyof ServerConfig, string>> = {};
  for (const name of FIELD_NAMES) {
    const field = SCHEMA[name];
    const raw = rawValueFor(name, inputs, file);
    if (raw === undefined) {
      values[name] = field.defaultValue;
      sources[name] = 'default';
      continue;
    }
    try {
      values[name] = field.parse(raw.raw.trim());
    } catch (error) {
      if (error instanceof InvalidValue) throw invalid(displayKey(name), raw.source, `"${raw.raw}" ${error.message}`);
      throw error;
    }
    sources[name] = raw.source;
  }
  const config = crossCheck(values, sources);
  const unknownFileKeys = file === undefined ? [] : [...file.entries.keys()].filter((key) => !KNOWN_FILE_KEYS.has(key));
  return { config, sources: sources as Record<keyof ServerConfig, string>, unknownFileKeys };
}

function required<K extends keyof ServerConfig>(values: Partial<Record<keyof ServerConfig, unknown>>, name: K): ServerConfig[K] {
  const value = values[name];
  if (value === undefined) {
    const field = SCHEMA[name];
    throw new RunnelError(
      'INVALID_CONFIG',
      `missing ${displayKey(name)}: pass ${field.flag}, set ${field.env}, or put ${displayKey(name)}=... in the config file`,
      { details: { key: displayKey(name), source: 'none' } },
    );
  }
  return value as ServerConfig[K];
}

function crossCheck(values: Partial<Record<keyof ServerConfig, unknown>>, sources: Partial<Record<keyof ServerConfig, string>>): ServerConfig {
  const nodeId = required(values, 'nodeId');
  const dataDir = required(values, 'dataDir');
  const voters = required(values, 'controllerQuorumVoters');
  const roles = values.roles as readonly ProcessRole[];
  const listen = values.listen as string;
  const isVoter = voters.has(nodeId);
  if (roles.includes('controller') !== isVoter) {
    // A voter that does not run the controller could win an election and then refuse every
    // controller request; a controller outside the voter list could never lead.
    throw invalid('process.roles', sources.roles ?? 'default', isVoter
      ? `node ${nodeId} is in controller.quorum.voters (${sources.controllerQuorumVoters}), so its roles must include controller`
      : `node ${nodeId} is not in controller.quorum.voters (${sources.controllerQuorumVoters}), so it can only have the broker role (--roles broker)`);
  }
  let controllerListen = values.controllerListen as string | undefined;
  if (controllerListen === undefined && !isVoter) {
    // A broker-only node is a Raft observer: it serves Raft on its broker listener.
    controllerListen = listen;
    sources.controllerListen = `derived from listeners (${sources.listen})`;
  }
  if (controllerListen === undefined) {
    // A voter listens where the quorum list says it does; only observers must say where explicitly.
    controllerListen = voters.get(nodeId);
    if (controllerListen === undefined) {
      throw new RunnelError('INVALID_CONFIG', `missing controller.listener: node ${nodeId} is not in controller.quorum.voters, so pass --controller-listen`, {
        details: { key: 'controller.listener', source: 'none' },
      });
    }
    sources.controllerListen = `derived from controller.quorum.voters (${sources.controllerQuorumVoters})`;
  }
  const ownEndpoint = voters.get(nodeId);
  if (ownEndpoint !== undefined && ownEndpoint !== controllerListen && !ownEndpoint.endsWith(`:${portOf(controllerListen)}`)) {
    throw invalid('controller.listener', sources.controllerListen ?? 'default',
      `"${controllerListen}" does not match this node's entry ${nodeId}@${ownEndpoint} in controller.quorum.voters (${sources.controllerQuorumVoters})`);
  }
  const raftTickMs = values.raftTickMs as number;
  const electionTimeoutMs = values.electionTimeoutMs as number;
  const heartbeatIntervalMs = values.heartbeatIntervalMs as number;
  if (electionTimeoutMs % raftTickMs !== 0 || electionTimeoutMs / raftTickMs < 2) {
    throw invalid('controller.quorum.election.timeout.ms', sources.electionTimeoutMs ?? 'default',
      `${electionTimeoutMs} must be a multiple of raft.tick.ms (${raftTickMs}) and at least 2 ticks`);
  }
  if (heartbeatIntervalMs % raftTickMs !== 0 || heartbeatIntervalMs >= electionTimeoutMs) {
    throw invalid('controller.quorum.heartbeat.interval.ms', sources.heartbeatIntervalMs ?? 'default',
      `${heartbeatIntervalMs} must be a multiple of raft.tick.ms (${raftTickMs}) and below controller.quorum.election.timeout.ms (${electionTimeoutMs})`);
  }
  if (roles.includes('broker') && listen === controllerListen && isVoter) {
    throw invalid('listeners', sources.listen ?? 'default',
      `"${listen}" is also the controller listener; a combined node needs its own broker port (e.g. --listen 127.0.0.1:9092)`);
  }
  const brokerHeartbeatIntervalMs = values.brokerHeartbeatIntervalMs as number;
  const brokerSessionTimeoutMs = values.brokerSessionTimeoutMs as number;
  if (brokerSessionTimeoutMs <= brokerHeartbeatIntervalMs) {
    throw invalid('broker.session.timeout.ms', sources.brokerSessionTimeoutMs ?? 'default',
      `${brokerSessionTimeoutMs} must exceed broker.heartbeat.interval.ms (${brokerHeartbeatIntervalMs}), or every broker is fenced between heartbeats`);
  }
  const advertisedListen = (values.advertisedListen as string | undefined) ?? listen;
  if (values.advertisedListen === undefined) sources.advertisedListen = `derived from listeners (${sources.listen})`;
  const { externalListen, externalAdvertisedListen, httpListen } = listenerChecks(values, sources, { roles, listen, controllerListen });
  return {
    nodeId,
    dataDir,
    controllerListen,
    controllerQuorumVoters: voters,
    clusterId: values.clusterId as string | undefined,
    logLevel: values.logLevel as LogLevel,
    raftTickMs,
    electionTimeoutMs,
    heartbeatIntervalMs,
    requestTimeoutMs: values.requestTimeoutMs as number,
    snapshotEveryEntries: values.snapshotEveryEntries as number,
    shutdownTimeoutMs: values.shutdownTimeoutMs as number,
    listen,
    advertisedListen,
    externalListen,
    externalAdvertisedListen,
    httpListen,
    roles,
    brokerHeartbeatIntervalMs,
    brokerSessionTimeoutMs,
    minInsyncReplicas: values.minInsyncReplicas as number,
    defaultReplicationFactor: values.defaultReplicationFactor as number,
    numPartitions: values.numPartitions as number,
    logFlushPolicy: values.logFlushPolicy as 'durable' | 'lazy',
    replicaLagTimeMaxMs: values.replicaLagTimeMaxMs as number,
    retentionCheckIntervalMs: values.retentionCheckIntervalMs as number,
    autoLeaderRebalanceEnable: values.autoLeaderRebalanceEnable as boolean,
    leaderImbalanceCheckIntervalMs: values.leaderImbalanceCheckIntervalMs as number,
    uncleanLeaderElectionEnable: values.uncleanLeaderElectionEnable as boolean,
    offsetsTopicNumPartitions: values.offsetsTopicNumPartitions as number,
    offsetsTopicReplicationFactor: values.offsetsTopicReplicationFactor as number,
    groupConsumerHeartbeatIntervalMs: values.groupConsumerHeartbeatIntervalMs as number,
  };
}

/** The external and HTTP listeners: each needs a port of its own, and EXTERNAL only means something on a broker. */
function listenerChecks(
  values: Partial<Record<keyof ServerConfig, unknown>>,
  sources: Partial<Record<keyof ServerConfig, string>>,
  node: { roles: readonly ProcessRole[]; listen: string; controllerListen: string },
): { externalListen: string | undefined; externalAdvertisedListen: string | undefined; httpListen: string } {
  const externalListen = values.externalListen as string | undefined;
  let externalAdvertisedListen = values.externalAdvertisedListen as string | undefined;
  const httpListen = values.httpListen as string;
  const taken = new Map<string, string>([[node.controllerListen, 'controller.listener']]);
  if (node.roles.includes('broker')) taken.set(node.listen, 'listeners');
  if (externalListen !== undefined) {
    if (!node.roles.includes('broker')) {
      throw invalid('external.listen', sources.externalListen ?? 'default', 'is a client listener, so the node needs the broker role (process.roles)');
    }
    const clash = taken.get(externalListen);
    if (clash !== undefined) throw invalid('external.listen', sources.externalListen ?? 'default', `"${externalListen}" is also ${clash}; give the external listener its own port`);
    taken.set(externalListen, 'external.listen');
    if (externalAdvertisedListen === undefined) {
      externalAdvertisedListen = externalListen;
      sources.externalAdvertisedListen = `derived from external.listen (${sources.externalListen})`;
    }
  } else if (externalAdvertisedListen !== undefined) {
    throw invalid('external.advertised.listen', sources.externalAdvertisedListen ?? 'default', 'needs external.listen (the listener it advertises)');
  }
  const clash = taken.get(httpListen);
  if (clash !== undefined) throw invalid('http.listen', sources.httpListen ?? 'default', `"${httpListen}" is also ${clash}; the HTTP listener needs its own port`);
  return { externalListen, externalAdvertisedListen, httpListen };
}

function portOf(hostPort: string): string {
  return hostPort.slice(hostPort.lastIndexOf(':') + 1);
}

/** Ticks for the Raft driver, derived from the millisecond settings operators think in. */
export function raftTimingTicks(config: ServerConfig): { tickMs: number; electionTicks: number; heartbeatTicks: number } {
  return {
    tickMs: config.raftTickMs,
    electionTicks: config.electionTimeoutMs / config.raftTickMs,
    heartbeatTicks: config.heartbeatIntervalMs / config.raftTickMs,
  };
}
