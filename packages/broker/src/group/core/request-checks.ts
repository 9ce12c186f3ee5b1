import { ErrorCode, type ErrorCodeName } from '@runnel/protocol';
import type { ErrorResult, HeartbeatRequest, OffsetToCommit } from './api.js';
import { assignmentFromList, type Assignment, type TopicPartitions } from './assignment.js';
import type { GroupCoordinatorConfig } from './group-coordinator.js';
import { compareIds } from './ordering.js';
import type { MemberSubscription } from './types.js';

// Request validation and the expected-error path of the coordinator. A handler calls `fail` for an
// expected condition (fenced epoch, bad input); `answer` turns it into the response's error code.
// Any other exception is a broken invariant and propagates.

export class RequestError {
  constructor(
    readonly code: ErrorCodeName,
    readonly message: string,
  ) {}
}

export function fail(code: ErrorCodeName, message: string): never {
  throw new RequestError(code, message);
}

export function answer<T>(run: () => T, onError: (e: RequestError) => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof RequestError) return onError(e);
    throw e;
  }
}

export function ok(): ErrorResult {
  return { errorCode: ErrorCode.NONE, errorMessage: null };
}

export function errorResult(e: RequestError): ErrorResult {
  return { errorCode: ErrorCode[e.code], errorMessage: e.message };
}

const utf8 = new TextEncoder();

function byteLength(s: string): number {
  return utf8.encode(s).length;
}

export function checkGroupId(groupId: string, config: GroupCoordinatorConfig): void {
  if (groupId === '') fail('INVALID_GROUP_ID', 'the group id is empty');
  if (byteLength(groupId) > config.idBytesMax) fail('INVALID_GROUP_ID', `the group id exceeds ${config.idBytesMax} bytes`);
}

export function checkMemberId(memberId: string, config: GroupCoordinatorConfig): void {
  if (byteLength(memberId) > config.idBytesMax) fail('INVALID_REQUEST', `the member id exceeds ${config.idBytesMax} bytes`);
}

/** The subscription a heartbeat declares, normalized (topics deduplicated and sorted). */
export function checkSubscription(request: HeartbeatRequest, config: GroupCoordinatorConfig): MemberSubscription {
  const { sessionTimeoutMs } = request;
  const { sessionTimeoutMinMs, sessionTimeoutMaxMs, rebalanceTimeoutMaxMs } = config;
  if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < sessionTimeoutMinMs || sessionTimeoutMs > sessionTimeoutMaxMs) {
    fail('INVALID_SESSION_TIMEOUT', `session timeout ${sessionTimeoutMs} ms is outside [${sessionTimeoutMinMs}, ${sessionTimeoutMaxMs}]`);
  }
  const rebalanceTimeoutMs = request.rebalanceTimeoutMs ?? config.rebalanceTimeoutDefaultMs;
  if (!Number.isInteger(rebalanceTimeoutMs) || rebalanceTimeoutMs <= 0 || rebalanceTimeoutMs > rebalanceTimeoutMaxMs) {
    fail('INVALID_REQUEST', `rebalance timeout ${rebalanceTimeoutMs} ms is outside [1, ${rebalanceTimeoutMaxMs}]`);
  }
  if (request.subscribedTopics.length > config.subscribedTopicsMax) fail('INVALID_REQUEST', `more than ${config.subscribedTopicsMax} subscribed topics`);
  for (const t of request.subscribedTopics) {
    if (t === '' || byteLength(t) > config.idBytesMax) fail('INVALID_TOPIC_EXCEPTION', `subscribed topic name '${t}' is invalid`);
  }
  return { subscribedTopics: [...new Set(request.subscribedTopics)].sort(compareIds), rebalanceTimeoutMs, sessionTimeoutMs };
}

export function checkOwned(owned: readonly TopicPartitions[]): Assignment {
  for (const { topic, partitions } of owned) {
    for (const p of partitions) if (!Number.isInteger(p) || p < 0) fail('INVALID_REQUEST', `owned partition ${topic}-${p} is invalid`);
  }
  return assignmentFromList(owned);
}

/** Checks every offset before any is written: a commit is applied whole or not at all. */
export function checkOffsets(offsets: readonly OffsetToCommit[], partitionCounts: ReadonlyMap<string, number>, config: GroupCoordinatorConfig): void {
  if (offsets.length > config.offsetsPerCommitMax) fail('INVALID_REQUEST', `${offsets.length} offsets in one commit exceed ${config.offsetsPerCommitMax}`);
  for (const o of offsets) {
    const n = partitionCounts.get(o.topic) ?? 0;
    if (!Number.isInteger(o.partition) || o.partition < 0 || o.partition >= n) fail('UNKNOWN_TOPIC_OR_PARTITION', `${o.topic}-${o.partition} does not exist`);
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) fail('INVALID_REQUEST', `offset ${o.offset} for ${o.topic}-${o.partition} is invalid`);
    const leaderEpoch = o.leaderEpoch ?? -1;
    if (!Number.isInteger(leaderEpoch) || leaderEpoch < -1 || leaderEpoch > 0x7fff_ffff) fail('INVALID_REQUEST', `leader epoch ${leaderEpoch} is invalid`);
    if (byteLength(o.metadata ?? '') > config.offsetMetadataBytesMax) {
      fail('OFFSET_METADATA_TOO_LARGE', `metadata for ${o.topic}-${o.partition} exceeds ${config.offsetMetadataBytesMax} bytes`);
    }
  }
}
