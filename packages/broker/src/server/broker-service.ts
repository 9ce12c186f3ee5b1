// runnel.v1.Broker over a ReplicaManager: Produce, Fetch, ListOffsets, OffsetsForLeaderEpoch,
// Metadata and DescribeCluster. Kafka error codes travel per partition in the answers; a request
// that cannot even be read (wrong shapes, a non-integer where an integer belongs) gets gRPC
// INVALID_ARGUMENT naming the field; anything unexpected gets INTERNAL and a log line, never a crash.
// Producer ids and the admin calls (forwarded to the controller) are not served here yet.
import * as grpc from '@grpc/grpc-js';
import { ErrorCode } from '@runnel/protocol';
import type { BrokerServiceHandlers } from '@runnel/protocol';
import type { Logger } from 'pino';
import type { ReplicaManager } from '../manager/replica-manager.js';
import { brokersOf, metadataResponse } from './metadata-response.js';
import type { ClusterIdentity } from './metadata-response.js';
import { fetchRequestProblem, listOffsetsRequestProblem, metadataRequestProblem, offsetsForLeaderEpochRequestProblem, produceRequestProblem } from './request-checks.js';

export interface BrokerServiceOptions extends ClusterIdentity {
  replicaManager: ReplicaManager;
  logger: Logger;
}

type Callback<Res> = grpc.sendUnaryData<Res>;

function invalid(message: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: message };
}

function unimplemented(method: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.UNIMPLEMENTED, details: `${method} is not served by this broker yet` };
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

  return {
    metadata: (call, callback) => serve('Metadata', call.request, metadataRequestProblem, callback, (request) => metadataResponse(manager.image, request, options)),
    produce: (call, callback) => serve('Produce', call.request, produceRequestProblem, callback, (request) => manager.produce(request)),
    fetch: (call, callback) => {
      // A client that hangs up ends its long poll at once instead of holding a waiter for max_wait_ms.
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      serve('Fetch', call.request, fetchRequestProblem, callback, (request) => manager.fetch(request, abort.signal));
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
          brokers: image === undefined ? [] : brokersOf(image, options.listenerName),
        };
      }),
    initProducerId: (_call, callback) => callback(unimplemented('InitProducerId'), null),
    createTopics: (_call, callback) => callback(unimplemented('CreateTopics'), null),
    deleteTopics: (_call, callback) => callback(unimplemented('DeleteTopics'), null),
    createPartitions: (_call, callback) => callback(unimplemented('CreatePartitions'), null),
    alterConfigs: (_call, callback) => callback(unimplemented('AlterConfigs'), null),
  };
}
