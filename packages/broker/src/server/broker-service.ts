// runnel.v1.Broker over a ReplicaManager: Produce, Fetch, ListOffsets, OffsetsForLeaderEpoch,
// Metadata and DescribeCluster. Kafka error codes travel per partition in the answers; a request
// that cannot even be read (wrong shapes, a non-integer where an integer belongs) gets gRPC
// INVALID_ARGUMENT naming the field; anything unexpected gets INTERNAL and a log line, never a crash.
// Admin calls (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs) are forwarded to the active
// controller, so any broker is a bootstrap server; InitProducerId hands out ids from blocks the
// controller allocates (epoch 0: per-producer sequence tracking comes with idempotence later).
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, RunnelError, pipelineHandler } from '@runnel/protocol';
import type { BrokerServiceHandlers, InitProducerIdResponse } from '@runnel/protocol';
import type { Logger } from 'pino';
import type { ReplicaManager } from '../manager/replica-manager.js';
import type { ControllerChannel } from './controller-channel.js';
import { brokersOf, metadataResponse } from './metadata-response.js';
import type { ProducerIdAllocator } from './producer-ids.js';
import type { ClusterIdentity } from './metadata-response.js';
import { fetchRequestProblem, listOffsetsRequestProblem, metadataRequestProblem, offsetsForLeaderEpochRequestProblem, produceRequestProblem } from './request-checks.js';

export interface BrokerServiceOptions extends ClusterIdentity {
  replicaManager: ReplicaManager;
  logger: Logger;
  /** Where admin calls are forwarded; without it they answer UNIMPLEMENTED. */
  controller?: ControllerChannel;
  /** Source of producer ids; without it InitProducerId answers UNIMPLEMENTED. */
  producerIds?: ProducerIdAllocator;
  /** Bound on a forwarded admin call that names no timeout of its own. */
  adminTimeoutMs?: number;
}

const ADMIN_TIMEOUT_MS_DEFAULT = 30_000;
/** Slack over the request's own timeout_ms for the hops to the active controller. */
const ADMIN_FORWARD_SLACK_MS = 5_000;

function failure(err: unknown): { errorCode: number; errorMessage: string } {
  if (err instanceof RunnelError) return { errorCode: err.code, errorMessage: err.message };
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: err instanceof Error ? err.message : String(err) };
}

type Callback<Res> = grpc.sendUnaryData<Res>;

function invalid(message: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: message };
}

function unimplemented(method: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.UNIMPLEMENTED, details: `${method} is not served by this broker yet` };
}

/** The handlers with ProduceStream and FetchStream serving each message with `unary`'s Produce and Fetch. */
export function withPipelines(unary: Omit<BrokerServiceHandlers, 'produceStream' | 'fetchStream'>): BrokerServiceHandlers {
  return { ...unary, produceStream: pipelineHandler(unary.produce), fetchStream: pipelineHandler(unary.fetch) };
}

export function brokerServiceHandlers(options: BrokerServiceOptions): BrokerServiceHandlers {
  const { replicaManager: manager } = options;
  const log = options.logger.child({ component: 'broker-service', brokerId: manager.brokerId });

  /** Runs `answer` and reports its outcome; a throw or rejection becomes INTERNAL, logged once. */
  function serve<Req, Res>(method: string, request: Req, check: (request: Req) => string | undefined, callback: Callback<Res>, answer: (request: Req) => Res | Promise<Res>): void {
    let problem: string | undefined;
    try {
      problem = check(request);
    } catch (err) {
      problem = `unreadable request: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (problem !== undefined) {
      callback(invalid(`${method}: ${problem}`), null);
      return;
    }
    Promise.resolve()
      .then(() => answer(request))
      .then(
        (response) => callback(null, response),
        (err: unknown) => {
          log.error({ err, method }, 'broker request failed');
          callback({ code: grpc.status.INTERNAL, details: `${method} failed: ${err instanceof Error ? err.message : String(err)}` }, null);
        },
      );
  }

  return withPipelines({
    metadata: (call, callback) => serve('Metadata', call.request, metadataRequestProblem, callback, (request) => metadataResponse(manager.image, request, options)),
    produce: (call, callback) => serve('Produce', call.request, produceRequestProblem, callback, (request) => manager.produce(request)),
    fetch: (call, callback) => {
      // A client that hangs up ends its long poll at once instead of holding a waiter for max_wait_ms.
      // grpc-js also emits 'cancelled' when an answered call's stream closes: aborting then would
      // build a DOMException (stack trace included) for every replica and consumer fetch for nothing.
      const abort = new AbortController();
      let answered = false;
      call.on('cancelled', () => {
        if (!answered) abort.abort();
      });
      const answer: typeof callback = (error, value) => {
        answered = true;
        callback(error, value);
      };
      serve('Fetch', call.request, fetchRequestProblem, answer, (request) => manager.fetch(request, abort.signal));
    },
    listOffsets: (call, callback) => serve('ListOffsets', call.request, listOffsetsRequestProblem, callback, (request) => manager.listOffsets(request)),
    offsetsForLeaderEpoch: (call, callback) =>
      serve('OffsetsForLeaderEpoch', call.request, offsetsForLeaderEpochRequestProblem, callback, (request) => manager.offsetsForLeaderEpoch(request)),
    describeCluster: (call, callback) =>
      serve('DescribeCluster', call.request, () => undefined, callback, () => {
        const image = manager.image;
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          clusterId: options.clusterId,
          controllerId: options.controllerId(),
          brokers: image === undefined ? [] : brokersOf(image, options.listenerName, options.fallbackListenerName),
        };
      }),
    initProducerId: (call, callback) => {
      const producerIds = options.producerIds;
      if (producerIds === undefined) {
        callback(unimplemented('InitProducerId'), null);
        return;
      }
      serve('InitProducerId', call.request, () => undefined, callback, async (): Promise<InitProducerIdResponse> => {
        try {
          return { errorCode: ErrorCode.NONE, errorMessage: '', producerId: await producerIds.next(), producerEpoch: 0 };
        } catch (err) {
          return { ...failure(err), producerId: -1, producerEpoch: -1 };
        }
      });
    },
    createTopics: (call, callback) => {
      const controller = options.controller;
      if (controller === undefined) return callback(unimplemented('CreateTopics'), null);
      serve('CreateTopics', call.request, () => undefined, callback, (request) =>
        controller.call('createTopics', request, forwardTimeoutMs(request.timeoutMs)).catch((err: unknown) => ({
          topics: request.topics.map((t) => ({ name: t.name, ...failure(err), topicId: '', numPartitions: -1, replicationFactor: -1 })),
          controller: null,
        })));
    },
    deleteTopics: (call, callback) => {
      const controller = options.controller;
      if (controller === undefined) return callback(unimplemented('DeleteTopics'), null);
      serve('DeleteTopics', call.request, () => undefined, callback, (request) =>
        controller.call('deleteTopics', request, forwardTimeoutMs(request.timeoutMs)).catch((err: unknown) => ({
          topics: request.names.map((name) => ({ name, ...failure(err) })),
          controller: null,
        })));
    },
    createPartitions: (call, callback) => {
      const controller = options.controller;
      if (controller === undefined) return callback(unimplemented('CreatePartitions'), null);
      serve('CreatePartitions', call.request, () => undefined, callback, (request) =>
        controller.call('createPartitions', request, forwardTimeoutMs(request.timeoutMs)).catch((err: unknown) => ({
          topics: request.topics.map((t) => ({ name: t.name, ...failure(err) })),
          controller: null,
        })));
    },
    alterConfigs: (call, callback) => {
      const controller = options.controller;
      if (controller === undefined) return callback(unimplemented('AlterConfigs'), null);
      serve('AlterConfigs', call.request, () => undefined, callback, (request) =>
        controller.call('alterConfigs', request, forwardTimeoutMs(0)).catch((err: unknown) => ({ ...failure(err), controller: null })));
    },
  });

  function forwardTimeoutMs(requestedMs: number): number {
    return requestedMs > 0 ? requestedMs + ADMIN_FORWARD_SLACK_MS : (options.adminTimeoutMs ?? ADMIN_TIMEOUT_MS_DEFAULT);
  }
}
