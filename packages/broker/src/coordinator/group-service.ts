// runnel.v1.GroupCoordinator over the coordinator runtime. Requests are checked for shape first
// (INVALID_ARGUMENT naming the field); protocol errors travel as Kafka codes in the answers;
// anything unexpected is INTERNAL plus one log line, never a crash of the broker.

import * as grpc from '@grpc/grpc-js';
import { ErrorCode, RunnelError } from '@runnel/protocol';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  DescribeGroupsResponse,
  GroupCoordinatorServiceHandlers,
  GroupDescription as WireGroupDescription,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchResponse,
} from '@runnel/protocol';
import type { Logger } from 'pino';
import type { GroupDescription } from '../group/core/api.js';
import type { GroupCoordinatorRuntime } from './coordinator-runtime.js';

export interface GroupServiceOptions {
  runtime: GroupCoordinatorRuntime;
  brokerId: number;
  logger: Logger;
  /** Topic names a subscription regex is matched against (internal topics excluded). */
  topicNames: () => string[];
  /**
   * The endpoint FindCoordinator names for a broker on this listener (a second listener answers with
   * its own addresses); without it, or when it knows none, the runtime's CLIENT endpoint.
   */
  listenerEndpoint?: (brokerId: number) => { host: string; port: number } | undefined;
}

type Callback<Res> = grpc.sendUnaryData<Res>;

function failure(err: unknown): { errorCode: number; errorMessage: string } {
  if (err instanceof RunnelError) return { errorCode: err.code, errorMessage: err.message };
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: err instanceof Error ? err.message : String(err) };
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function topicPartitionsProblem(field: string, list: unknown): string | undefined {
  if (!Array.isArray(list)) return `${field} must be a list`;
  for (const tp of list as Array<{ topic?: unknown; partitions?: unknown }>) {
    if (!isString(tp.topic)) return `${field}.topic must be a string`;
    if (!Array.isArray(tp.partitions) || !(tp.partitions as unknown[]).every((p) => isInt(p) && p >= 0)) return `${field}.partitions must be non-negative integers`;
  }
  return undefined;
}

function heartbeatProblem(r: ConsumerGroupHeartbeatRequest): string | undefined {
  if (!isString(r.groupId) || r.groupId === '') return 'group_id must be a non-empty string';
  if (!isString(r.memberId)) return 'member_id must be a string';
  if (!isInt(r.memberEpoch) || r.memberEpoch < -1) return 'member_epoch must be an integer >= -1';
  if (!isInt(r.sessionTimeoutMs) || !isInt(r.rebalanceTimeoutMs)) return 'session_timeout_ms and rebalance_timeout_ms must be integers';
  if (!Array.isArray(r.subscribedTopicNames) || !r.subscribedTopicNames.every(isString)) return 'subscribed_topic_names must be strings';
  return topicPartitionsProblem('owned_partitions', r.ownedPartitions);
}

function commitProblem(r: OffsetCommitRequest): string | undefined {
  if (!isString(r.groupId) || r.groupId === '') return 'group_id must be a non-empty string';
  if (!isInt(r.memberEpoch)) return 'member_epoch must be an integer';
  if (!Array.isArray(r.topics)) return 'topics must be a list';
  for (const t of r.topics) {
    if (!isString(t.name) || !Array.isArray(t.partitions)) return 'topics[].name and partitions are required';
    for (const p of t.partitions) if (!isInt(p.partition) || !isInt(p.committedOffset)) return 'partition and committed_offset must be integers';
  }
  return undefined;
}

/** Subscribed names plus every topic the regex matches; INVALID_REQUEST for a bad regex. */
function resolveSubscription(request: ConsumerGroupHeartbeatRequest, topicNames: () => string[]): string[] {
  const names = new Set(request.subscribedTopicNames);
  if (request.subscribedTopicRegex !== '') {
    let regex: RegExp;
    try {
      regex = new RegExp(request.subscribedTopicRegex);
    } catch (err) {
      throw new RunnelError('INVALID_REQUEST', `subscribed_topic_regex is not a valid regular expression: ${(err as Error).message}`);
    }
    for (const name of topicNames()) if (regex.test(name)) names.add(name);
  }
  return [...names].sort();
}

function wireDescription(groupId: string, coordinatorId: number, description: GroupDescription): WireGroupDescription {
  const owners = new Map<string, string>();
  for (const m of description.members) for (const tp of m.assignment) for (const p of tp.partitions) owners.set(`${tp.topic}\u0000${p}`, m.memberId);
  return {
    groupId,
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    state: description.state,
    groupEpoch: description.groupEpoch,
    assignmentEpoch: description.assignmentEpoch,
    coordinatorId,
    members: description.members.map((m) => ({
      memberId: m.memberId,
      memberEpoch: m.memberEpoch,
      clientId: '',
      clientHost: '',
      subscribedTopicNames: m.subscribedTopics,
      subscribedTopicRegex: '',
      assignment: m.assignment,
      targetAssignment: m.targetAssignment,
    })),
    // Log end offsets live with each partition's leader: the admin client adds them and the lag.
    offsets: description.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committedOffset: o.offset,
      logEndOffset: -1,
      lag: -1,
      ownerMemberId: owners.get(`${o.topic}\u0000${o.partition}`) ?? '',
    })),
  };
}

export function groupServiceHandlers(options: GroupServiceOptions): GroupCoordinatorServiceHandlers {
  const { runtime } = options;
  const log = options.logger.child({ component: 'group-service', brokerId: options.brokerId });

  function serve<Req, Res>(method: string, request: Req, check: (request: Req) => string | undefined, callback: Callback<Res>, answer: (request: Req) => Promise<Res>): void {
    let problem: string | undefined;
    try {
      problem = check(request);
    } catch (err) {
      problem = `unreadable request: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (problem !== undefined) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `${method}: ${problem}` }, null);
      return;
    }
    answer(request).then(
      (response) => callback(null, response),
      (err: unknown) => {
        log.error({ err, method }, 'group request failed unexpectedly');
        callback({ code: grpc.status.INTERNAL, details: `${method}: ${err instanceof Error ? err.message : String(err)}` }, null);
      },
    );
  }

  return {
    findCoordinator: (call, callback) => {
      serve('FindCoordinator', call.request, (r) => (Array.isArray(r.groupIds) && r.groupIds.every(isString) ? undefined : 'group_ids must be strings'), callback, async (request) => ({
        coordinators: await Promise.all(
          request.groupIds.map(async (groupId) => {
            try {
              const found = await runtime.findCoordinator(groupId);
              const at = { ...found, ...options.listenerEndpoint?.(found.nodeId) };
              return { groupId, errorCode: ErrorCode.NONE, errorMessage: '', nodeId: at.nodeId, host: at.host, port: at.port };
            } catch (err) {
              return { groupId, ...failure(err), nodeId: -1, host: '', port: 0 };
            }
          }),
        ),
      }));
    },

    consumerGroupHeartbeat: (call, callback) => {
      serve('ConsumerGroupHeartbeat', call.request, heartbeatProblem, callback, async (request): Promise<ConsumerGroupHeartbeatResponse> => {
        try {
          const subscribedTopics = resolveSubscription(request, options.topicNames);
          const answer = await runtime.run(request.groupId, (core, nowMs) =>
            core.heartbeat(
              {
                groupId: request.groupId,
                memberId: request.memberId,
                memberEpoch: request.memberEpoch,
                subscribedTopics,
                ownedPartitions: request.ownedPartitions,
                sessionTimeoutMs: request.sessionTimeoutMs,
                ...(request.rebalanceTimeoutMs > 0 ? { rebalanceTimeoutMs: request.rebalanceTimeoutMs } : {}),
              },
              nowMs,
            ),
          );
          return {
            errorCode: answer.errorCode,
            errorMessage: answer.errorMessage ?? '',
            memberId: answer.memberId,
            memberEpoch: answer.memberEpoch,
            heartbeatIntervalMs: answer.heartbeatIntervalMs,
            hasAssignment: answer.assignment !== null,
            assignment: answer.assignment ?? [],
          };
        } catch (err) {
          return { ...failure(err), memberId: request.memberId, memberEpoch: -1, heartbeatIntervalMs: 0, hasAssignment: false, assignment: [] };
        }
      });
    },

    offsetCommit: (call, callback) => {
      serve('OffsetCommit', call.request, commitProblem, callback, async (request): Promise<OffsetCommitResponse> => {
        const perPartition = (errorCode: number): OffsetCommitResponse['topics'] =>
          request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })) }));
        try {
          const offsets = request.topics.flatMap((t) =>
            t.partitions.map((p) => ({ topic: t.name, partition: p.partition, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata })),
          );
          const result = await runtime.run(request.groupId, (core, nowMs) =>
            request.memberId === '' && request.memberEpoch < 0
              ? core.resetOffsets({ groupId: request.groupId, offsets }, nowMs)
              : core.commitOffsets({ groupId: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch, offsets }, nowMs),
          );
          return { errorCode: result.errorCode, errorMessage: result.errorMessage ?? '', topics: perPartition(result.errorCode) };
        } catch (err) {
          const f = failure(err);
          return { ...f, topics: perPartition(f.errorCode) };
        }
      });
    },

    offsetFetch: (call, callback) => {
      serve('OffsetFetch', call.request, (r) => (isString(r.groupId) && r.groupId !== '' ? topicPartitionsProblem('topics', r.topics) : 'group_id must be a non-empty string'), callback, async (request): Promise<OffsetFetchResponse> => {
        try {
          const answer = await runtime.run(request.groupId, (core) =>
            core.fetchOffsets({
              groupId: request.groupId,
              partitions: request.topics.length === 0 ? null : request.topics,
              ...(request.memberEpoch >= 0 ? { memberId: request.memberId, memberEpoch: request.memberEpoch } : {}),
            }),
          );
          const byTopic = new Map<string, OffsetFetchResponse['topics'][number]>();
          for (const o of answer.offsets) {
            let topic = byTopic.get(o.topic);
            if (topic === undefined) byTopic.set(o.topic, (topic = { name: o.topic, partitions: [] }));
            topic.partitions.push({ partition: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE });
          }
          return { errorCode: answer.errorCode, errorMessage: answer.errorMessage ?? '', topics: [...byTopic.values()] };
        } catch (err) {
          return { ...failure(err), topics: [] };
        }
      });
    },

    listGroups: (call, callback) => {
      serve('ListGroups', call.request, () => undefined, callback, async () => ({
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        groups: runtime.everyShard((core) => core.listGroups()).flat().map((g) => ({ groupId: g.groupId, state: g.state, members: g.memberCount })),
      }));
    },

    describeGroups: (call, callback) => {
      serve('DescribeGroups', call.request, (r) => (Array.isArray(r.groupIds) && r.groupIds.every(isString) ? undefined : 'group_ids must be strings'), callback, async (request): Promise<DescribeGroupsResponse> => ({
        groups: await Promise.all(
          request.groupIds.map(async (groupId): Promise<WireGroupDescription> => {
            try {
              const answer = await runtime.run(groupId, (core) => core.describeGroup(groupId));
              if (answer.group === null) return { ...emptyDescription(groupId, options.brokerId), errorCode: answer.errorCode, errorMessage: answer.errorMessage ?? '' };
              return wireDescription(groupId, options.brokerId, answer.group);
            } catch (err) {
              return { ...emptyDescription(groupId, options.brokerId), ...failure(err) };
            }
          }),
        ),
      }));
    },

    deleteGroups: (call, callback) => {
      serve('DeleteGroups', call.request, (r) => (Array.isArray(r.groupIds) && r.groupIds.every(isString) ? undefined : 'group_ids must be strings'), callback, async (request) => ({
        results: await Promise.all(
          request.groupIds.map(async (groupId) => {
            try {
              const result = await runtime.run(groupId, (core) => core.deleteGroup(groupId));
              return { groupId, errorCode: result.errorCode, errorMessage: result.errorMessage ?? '' };
            } catch (err) {
              return { groupId, ...failure(err) };
            }
          }),
        ),
      }));
    },
  };
}

function emptyDescription(groupId: string, coordinatorId: number): WireGroupDescription {
  return { groupId, errorCode: ErrorCode.NONE, errorMessage: '', state: 'dead', groupEpoch: -1, assignmentEpoch: -1, coordinatorId, members: [], offsets: [] };
}
