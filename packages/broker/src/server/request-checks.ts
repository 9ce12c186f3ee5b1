// Shape checks for decoded Broker requests. proto-loader fills defaults, so a well-formed gRPC
// request always passes; these catch hand-built or in-process requests and values proto3 cannot
// rule out (a partition id beyond int32, a negative wait), with the field named in the message.
import type { FetchRequest, ListOffsetsRequest, MetadataRequest, OffsetsForLeaderEpochRequest, ProduceRequest } from '@runnel/protocol';

const INT32_MAX = 0x7fffffff;

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Checks `topics[]` of name + `partitions[]`, each partition through `checkPartition`. */
function topicsProblem(topics: unknown, checkPartition: (partition: Record<string, unknown>, where: string) => string | undefined): string | undefined {
  if (!Array.isArray(topics)) return 'topics must be a list';
  for (const [t, topic] of topics.entries()) {
    if (!isRecord(topic) || typeof topic['name'] !== 'string' || topic['name'].length === 0) return `topics[${t}].name must be a non-empty string`;
    const partitions = topic['partitions'];
    if (!Array.isArray(partitions)) return `topics[${t}].partitions must be a list`;
    for (const [p, partition] of partitions.entries()) {
      const where = `topics[${t}].partitions[${p}]`;
      if (!isRecord(partition) || !isInt(partition['partition'], 0, INT32_MAX)) return `${where}.partition must be an integer in [0, ${INT32_MAX}]`;
      const problem = checkPartition(partition, where);
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

export function metadataRequestProblem(request: MetadataRequest): string | undefined {
  if (!isRecord(request)) return 'request must be an object';
  if (!Array.isArray(request.topics) || !request.topics.every((name) => typeof name === 'string')) return 'topics must be a list of names';
  return undefined;
}

export function produceRequestProblem(request: ProduceRequest): string | undefined {
  if (!isRecord(request)) return 'request must be an object';
  if (!isInt(request.acks, -1, 1)) return `acks must be 0, 1 or -1, got ${String(request.acks)}`;
  if (!isInt(request.timeoutMs, 0, INT32_MAX)) return 'timeoutMs must be a non-negative integer';
  return topicsProblem(request.topics, (partition, where) => (Buffer.isBuffer(partition['records']) ? undefined : `${where}.records must be bytes`));
}

export function fetchRequestProblem(request: FetchRequest): string | undefined {
  if (!isRecord(request)) return 'request must be an object';
  if (!isInt(request.replicaId, -1, INT32_MAX)) return 'replicaId must be -1 (consumer) or a broker id';
  for (const field of ['maxWaitMs', 'minBytes', 'maxBytes'] as const) {
    if (!isInt(request[field], 0, Number.MAX_SAFE_INTEGER)) return `${field} must be a non-negative integer`;
  }
  return topicsProblem(request.topics, (partition, where) => {
    if (!isInt(partition['fetchOffset'], 0, Number.MAX_SAFE_INTEGER)) return `${where}.fetchOffset must be a non-negative integer`;
    if (!isInt(partition['currentLeaderEpoch'], -1, INT32_MAX)) return `${where}.currentLeaderEpoch must be -1 or an epoch`;
    if (!isInt(partition['lastFetchedEpoch'], -1, INT32_MAX)) return `${where}.lastFetchedEpoch must be -1 or an epoch`;
    // flushedOffset is a replica's report; a consumer has none and sends -1 (or 0, the proto default).
    const flushedMin = request.replicaId >= 0 ? 0 : -1;
    if (!isInt(partition['flushedOffset'], flushedMin, Number.MAX_SAFE_INTEGER)) return `${where}.flushedOffset must be ${request.replicaId >= 0 ? 'a non-negative integer' : '-1 or a non-negative integer'}`;
    if (!isInt(partition['partitionMaxBytes'], 0, INT32_MAX)) return `${where}.partitionMaxBytes must be a non-negative integer`;
    return undefined;
  });
}

export function listOffsetsRequestProblem(request: ListOffsetsRequest): string | undefined {
  if (!isRecord(request)) return 'request must be an object';
  if (!isInt(request.replicaId, -1, INT32_MAX)) return 'replicaId must be -1 (consumer) or a broker id';
  return topicsProblem(request.topics, (partition, where) => {
    if (!isInt(partition['currentLeaderEpoch'], -1, INT32_MAX)) return `${where}.currentLeaderEpoch must be -1 or an epoch`;
    if (!isInt(partition['timestamp'], -2, Number.MAX_SAFE_INTEGER)) return `${where}.timestamp must be -2, -1 or a time in ms`;
    return undefined;
  });
}

export function offsetsForLeaderEpochRequestProblem(request: OffsetsForLeaderEpochRequest): string | undefined {
  if (!isRecord(request)) return 'request must be an object';
  return topicsProblem(request.topics, (partition, where) => {
    if (!isInt(partition['currentLeaderEpoch'], -1, INT32_MAX)) return `${where}.currentLeaderEpoch must be -1 or an epoch`;
    if (!isInt(partition['leaderEpoch'], -1, INT32_MAX)) return `${where}.leaderEpoch must be -1 or an epoch`;
    return undefined;
  });
}
