import { RunnelError } from '@runnel/protocol';
import type { MetadataImage } from './metadata-image.js';

// Kafka's admin validation (Topic.validate, TopicConfig, LogConfig), returning errors as values.

export const TOPIC_NAME_LENGTH_MAX = 249;
/** A bound on one CreateTopics/CreatePartitions request, so one call cannot bloat the metadata log. */
export const PARTITIONS_PER_TOPIC_MAX = 10_000;

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

export function validateTopicName(name: string): RunnelError | null {
  if (name.length === 0) return new RunnelError('INVALID_TOPIC_EXCEPTION', 'topic name is empty');
  if (name === '.' || name === '..') return new RunnelError('INVALID_TOPIC_EXCEPTION', `topic name cannot be '${name}'`);
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    return new RunnelError('INVALID_TOPIC_EXCEPTION', `topic name is ${name.length} characters, at most ${TOPIC_NAME_LENGTH_MAX} allowed`);
  }
  if (!LEGAL_TOPIC_NAME.test(name)) {
    return new RunnelError('INVALID_TOPIC_EXCEPTION', `topic name '${name}' has characters other than ASCII alphanumerics, '.', '_' and '-'`);
  }
  return null;
}

/** Kafka's metric names map '.' to '_', so 'a.b' and 'a_b' would share metrics: one of them is refused. */
export function topicCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}

export function findCollidingTopic(name: string, existing: Iterable<string>): string | undefined {
  const key = topicCollisionKey(name);
  for (const other of existing) {
    if (other !== name && topicCollisionKey(other) === key) return other;
  }
  return undefined;
}

/** Name, collision, existence: the per-name checks of CreateTopics against the current image. */
export function validateNewTopicName(image: MetadataImage, name: string): RunnelError | null {
  const invalid = validateTopicName(name);
  if (invalid !== null) return invalid;
  if (image.topic(name) !== undefined) return new RunnelError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
  const colliding = findCollidingTopic(name, image.topicIdsByName.keys());
  if (colliding !== undefined) {
    return new RunnelError('INVALID_TOPIC_EXCEPTION', `topic '${name}' collides with existing topic '${colliding}': '.' and '_' are interchangeable in metric names`);
  }
  return null;
}

export function validatePartitionCount(numPartitions: number): RunnelError | null {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0) {
    return new RunnelError('INVALID_PARTITIONS', `number of partitions must be a positive integer, got ${numPartitions}`);
  }
  if (numPartitions > PARTITIONS_PER_TOPIC_MAX) {
    return new RunnelError('INVALID_PARTITIONS', `number of partitions ${numPartitions} exceeds the limit of ${PARTITIONS_PER_TOPIC_MAX}`);
  }
  return null;
}

export function validateReplicationFactor(replicationFactor: number, usableBrokers: number): RunnelError | null {
  if (!Number.isInteger(replicationFactor) || replicationFactor <= 0) {
    return new RunnelError('INVALID_REPLICATION_FACTOR', `replication factor must be a positive integer, got ${replicationFactor}`);
  }
  if (replicationFactor > usableBrokers) {
    return new RunnelError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor ${replicationFactor} is larger than the number of live brokers (${usableBrokers})`,
      { details: { replicationFactor, liveBrokers: usableBrokers } },
    );
  }
  return null;
}

export function validatePartitionIncrease(topicName: string, currentCount: number, requestedCount: number): RunnelError | null {
  if (!Number.isInteger(requestedCount) || requestedCount <= currentCount) {
    return new RunnelError(
      'INVALID_PARTITIONS',
      `topic '${topicName}' has ${currentCount} partitions; the count can only be increased, requested ${requestedCount}`,
    );
  }
  if (requestedCount > PARTITIONS_PER_TOPIC_MAX) {
    return new RunnelError('INVALID_PARTITIONS', `number of partitions ${requestedCount} exceeds the limit of ${PARTITIONS_PER_TOPIC_MAX}`);
  }
  return null;
}

const INT_PATTERN = /^-?\d+$/;
const INT32_MAX = 2 ** 31 - 1;

type ValueCheck = (value: string, context: ConfigContext) => string | null;

interface ConfigContext {
  /** Undefined for cluster-level defaults, where it is not known yet. */
  replicationFactor: number | undefined;
}

function integer(min: number, max: number): ValueCheck {
  return (value) => {
    if (!INT_PATTERN.test(value)) return `must be an integer`;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) return `must be between ${min} and ${max}`;
    return null;
  };
}

function oneOf(allowed: readonly string[], caseInsensitive = false): ValueCheck {
  return (value) => {
    const v = caseInsensitive ? value.toLowerCase() : value;
    return allowed.includes(v) ? null : `must be one of ${allowed.join(', ')}`;
  };
}

const cleanupPolicy: ValueCheck = (value) => {
  const parts = value.split(',').map((p) => p.trim());
  return parts.length > 0 && parts.every((p) => p === 'delete' || p === 'compact') ? null : 'must be a list of delete, compact';
};

/** Kafka's min.cleanable.dirty.ratio: a double in [0, 1]. */
const ratio: ValueCheck = (value) => {
  const n = Number(value);
  return value.trim().length > 0 && Number.isFinite(n) && n >= 0 && n <= 1 ? null : 'must be a number between 0 and 1';
};

const minInsyncReplicas: ValueCheck = (value, context) => {
  const problem = integer(1, INT32_MAX)(value, context);
  if (problem !== null) return problem;
  if (context.replicationFactor !== undefined && Number(value) > context.replicationFactor) {
    return `must not exceed the replication factor ${context.replicationFactor}`;
  }
  return null;
};

/** Topic-level configs Runnel understands, with Kafka's names and bounds. */
export const TOPIC_CONFIGS: ReadonlyMap<string, ValueCheck> = new Map<string, ValueCheck>([
  ['cleanup.policy', cleanupPolicy],
  ['delete.retention.ms', integer(0, Number.MAX_SAFE_INTEGER)],
  ['min.cleanable.dirty.ratio', ratio],
  ['min.compaction.lag.ms', integer(0, Number.MAX_SAFE_INTEGER)],
  ['retention.ms', integer(-1, Number.MAX_SAFE_INTEGER)],
  ['retention.bytes', integer(-1, Number.MAX_SAFE_INTEGER)],
  // 14 bytes is Kafka's smallest legal segment: a single record's overhead.
  ['segment.bytes', integer(14, INT32_MAX)],
  ['segment.ms', integer(1, Number.MAX_SAFE_INTEGER)],
  ['min.insync.replicas', minInsyncReplicas],
  ['max.message.bytes', integer(0, INT32_MAX)],
  ['unclean.leader.election.enable', oneOf(['true', 'false'], true)],
  ['message.timestamp.type', oneOf(['CreateTime', 'LogAppendTime'])],
]);

/** Cluster/broker-level configs: defaults for the topic ones, plus controller behaviour. */
export const CLUSTER_CONFIGS: ReadonlyMap<string, ValueCheck> = new Map<string, ValueCheck>([
  ...TOPIC_CONFIGS,
  ['auto.leader.rebalance.enable', oneOf(['true', 'false'], true)],
]);

function validateConfigs(
  configs: Readonly<Record<string, string | null>>,
  known: ReadonlyMap<string, ValueCheck>,
  context: ConfigContext,
  what: string,
): RunnelError | null {
  for (const [name, value] of Object.entries(configs)) {
    const check = known.get(name);
    if (check === undefined) {
      return new RunnelError('INVALID_CONFIG', `unknown ${what} config '${name}'`, { details: { config: name } });
    }
    if (value === null) continue;
    const problem = check(value, context);
    if (problem !== null) {
      return new RunnelError('INVALID_CONFIG', `invalid value '${value}' for ${what} config '${name}': ${problem}`, {
        details: { config: name, value },
      });
    }
  }
  return null;
}

export function validateTopicConfigs(configs: Readonly<Record<string, string | null>>, replicationFactor: number): RunnelError | null {
  return validateConfigs(configs, TOPIC_CONFIGS, { replicationFactor }, 'topic');
}

export function validateClusterConfigs(configs: Readonly<Record<string, string | null>>): RunnelError | null {
  return validateConfigs(configs, CLUSTER_CONFIGS, { replicationFactor: undefined }, 'cluster');
}

export function parseBooleanConfig(value: string | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : value.toLowerCase() === 'true';
}
