import * as grpc from '@grpc/grpc-js';
import { serviceConstructor } from './proto-loader.js';
import { RunnelError } from './errors.js';
import { enableServerNoDelay } from './server-nodelay.js';
import type { ErrorCodeName } from './errors.js';
import type { Envelope, Reply } from './pipeline.js';
import type { RaftBatch, RaftBatchAck } from './raft-messages.js';
import type {
  DescribeQuorumRequest,
  DescribeQuorumResponse,
  ProposeRequest,
  ProposeResponse,
  TransferLeadershipRequest,
  TransferLeadershipResponse,
} from './quorum-messages.js';
import type {
  AllocateProducerIdsRequest,
  AllocateProducerIdsResponse,
  AlterConfigsRequest,
  AlterConfigsResponse,
  AlterPartitionRequest,
  AlterPartitionResponse,
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  RegisterBrokerRequest,
  RegisterBrokerResponse,
} from './controller-messages.js';
import type {
  DescribeClusterRequest,
  DescribeClusterResponse,
  FetchRequest,
  FetchResponse,
  InitProducerIdRequest,
  InitProducerIdResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetsForLeaderEpochRequest,
  OffsetsForLeaderEpochResponse,
  ProduceRequest,
  ProduceResponse,
} from './broker-messages.js';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from './group-messages.js';

export type UnaryCallback<Res> = (error: grpc.ServiceError | null, response?: Res) => void;

/** A unary method as grpc-js generates it, with its request and response types attached. */
export interface UnaryMethod<Req, Res> {
  (request: Req, callback: UnaryCallback<Res>): grpc.ClientUnaryCall;
  (request: Req, metadata: grpc.Metadata, callback: UnaryCallback<Res>): grpc.ClientUnaryCall;
  (request: Req, options: Partial<grpc.CallOptions>, callback: UnaryCallback<Res>): grpc.ClientUnaryCall;
  (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: UnaryCallback<Res>): grpc.ClientUnaryCall;
}

/** runnel.v1.Raft: peers push batches of Raft messages to each other. */
export interface RaftClient extends grpc.Client {
  deliver: UnaryMethod<RaftBatch, RaftBatchAck>;
}

/** runnel.v1.Quorum: operators and tools describe, write to and move the metadata quorum. */
export interface QuorumClient extends grpc.Client {
  describe: UnaryMethod<DescribeQuorumRequest, DescribeQuorumResponse>;
  propose: UnaryMethod<ProposeRequest, ProposeResponse>;
  transferLeadership: UnaryMethod<TransferLeadershipRequest, TransferLeadershipResponse>;
}

/** runnel.v1.Controller: brokers register, heartbeat and report ISR changes; admin calls land here. */
export interface ControllerClient extends grpc.Client {
  registerBroker: UnaryMethod<RegisterBrokerRequest, RegisterBrokerResponse>;
  brokerHeartbeat: UnaryMethod<BrokerHeartbeatRequest, BrokerHeartbeatResponse>;
  createTopics: UnaryMethod<CreateTopicsRequest, CreateTopicsResponse>;
  deleteTopics: UnaryMethod<DeleteTopicsRequest, DeleteTopicsResponse>;
  createPartitions: UnaryMethod<CreatePartitionsRequest, CreatePartitionsResponse>;
  alterPartition: UnaryMethod<AlterPartitionRequest, AlterPartitionResponse>;
  allocateProducerIds: UnaryMethod<AllocateProducerIdsRequest, AllocateProducerIdsResponse>;
  alterConfigs: UnaryMethod<AlterConfigsRequest, AlterConfigsResponse>;
}

/** runnel.v1.Broker: clients and follower replicas; admin calls are forwarded to the controller. */
export interface BrokerClient extends grpc.Client {
  metadata: UnaryMethod<MetadataRequest, MetadataResponse>;
  produce: UnaryMethod<ProduceRequest, ProduceResponse>;
  fetch: UnaryMethod<FetchRequest, FetchResponse>;
  listOffsets: UnaryMethod<ListOffsetsRequest, ListOffsetsResponse>;
  offsetsForLeaderEpoch: UnaryMethod<OffsetsForLeaderEpochRequest, OffsetsForLeaderEpochResponse>;
  initProducerId: UnaryMethod<InitProducerIdRequest, InitProducerIdResponse>;
  describeCluster: UnaryMethod<DescribeClusterRequest, DescribeClusterResponse>;
  createTopics: UnaryMethod<CreateTopicsRequest, CreateTopicsResponse>;
  deleteTopics: UnaryMethod<DeleteTopicsRequest, DeleteTopicsResponse>;
  createPartitions: UnaryMethod<CreatePartitionsRequest, CreatePartitionsResponse>;
  alterConfigs: UnaryMethod<AlterConfigsRequest, AlterConfigsResponse>;
  /** Produce and Fetch pipelined on one long-lived stream (see pipeline.ts). */
  produceStream(): grpc.ClientDuplexStream<Envelope<ProduceRequest>, Reply<ProduceResponse>>;
  fetchStream(): grpc.ClientDuplexStream<Envelope<FetchRequest>, Reply<FetchResponse>>;
}

/** runnel.v1.GroupCoordinator: consumer groups and committed offsets, on the broker listener. */
export interface GroupCoordinatorClient extends grpc.Client {
  findCoordinator: UnaryMethod<FindCoordinatorRequest, FindCoordinatorResponse>;
  consumerGroupHeartbeat: UnaryMethod<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>;
  offsetCommit: UnaryMethod<OffsetCommitRequest, OffsetCommitResponse>;
  offsetFetch: UnaryMethod<OffsetFetchRequest, OffsetFetchResponse>;
  listGroups: UnaryMethod<ListGroupsRequest, ListGroupsResponse>;
  describeGroups: UnaryMethod<DescribeGroupsRequest, DescribeGroupsResponse>;
  deleteGroups: UnaryMethod<DeleteGroupsRequest, DeleteGroupsResponse>;
}

/** The unary methods of client C (a stream method takes no request, so `() => ...` rules it out). */
export type UnaryMethodName<C> = {
  [K in keyof C]: C[K] extends UnaryMethod<infer _Req, infer _Res> ? (C[K] extends () => unknown ? never : K) : never;
}[keyof C];
export type RequestOf<M> = M extends UnaryMethod<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends UnaryMethod<infer _Req, infer Res> ? Res : never;

/**
 * Server-side implementation of the service whose client is C, checked against the same message
 * types the client uses, e.g. `const impl: ServiceHandlers<BrokerClient> = { produce: (call, cb) => ... }`
 * then `server.addService(BROKER_SERVICE, impl)`. A type alias (not an interface) so it stays
 * assignable to grpc.UntypedServiceImplementation.
 */
export type ServiceHandlers<C> = {
  [K in UnaryMethodName<C>]: grpc.handleUnaryCall<RequestOf<C[K]>, ResponseOf<C[K]>>;
};
export type ControllerServiceHandlers = ServiceHandlers<ControllerClient>;
/** The Broker service: its unary methods, and Produce and Fetch pipelined on streams (pipelineHandler). */
export type BrokerServiceHandlers = ServiceHandlers<BrokerClient> & {
  produceStream: grpc.handleBidiStreamingCall<Envelope<ProduceRequest>, Reply<ProduceResponse>>;
  fetchStream: grpc.handleBidiStreamingCall<Envelope<FetchRequest>, Reply<FetchResponse>>;
};
export type GroupCoordinatorServiceHandlers = ServiceHandlers<GroupCoordinatorClient>;

const RAFT_CONSTRUCTOR = serviceConstructor('Raft');
const QUORUM_CONSTRUCTOR = serviceConstructor('Quorum');
const CONTROLLER_CONSTRUCTOR = serviceConstructor('Controller');
const BROKER_CONSTRUCTOR = serviceConstructor('Broker');
const GROUP_COORDINATOR_CONSTRUCTOR = serviceConstructor('GroupCoordinator');

export const RAFT_SERVICE: grpc.ServiceDefinition = RAFT_CONSTRUCTOR.service;
export const QUORUM_SERVICE: grpc.ServiceDefinition = QUORUM_CONSTRUCTOR.service;
export const CONTROLLER_SERVICE: grpc.ServiceDefinition = CONTROLLER_CONSTRUCTOR.service;
export const BROKER_SERVICE: grpc.ServiceDefinition = BROKER_CONSTRUCTOR.service;
export const GROUP_COORDINATOR_SERVICE: grpc.ServiceDefinition = GROUP_COORDINATOR_CONSTRUCTOR.service;

/**
 * Snapshots of the metadata log travel in one message, so the 4 MiB gRPC default would cap the
 * cluster's metadata size; this bound still stops a corrupt length from exhausting memory.
 */
export const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Peer channels live as long as the process. Keepalive pings notice a silently dead peer (host
 * gone, cable pulled) within ~15 s even when no call is in flight, and the short reconnect
 * backoff cap lets a restarted peer rejoin within about a second instead of the default 2 min.
 */
export const PEER_CHANNEL_OPTIONS: Readonly<grpc.ChannelOptions> = Object.freeze({
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
  'grpc.max_send_message_length': MESSAGE_BYTES_MAX,
});

/**
 * Server side of the same agreement: accept pings without active calls and at the clients'
 * 10 s rate, so a C-core peer or proxy enforcing ping policy does not answer with GOAWAY
 * (too_many_pings) and drop the channel; ping idle clients so half-open connections are reaped.
 */
export function serverOptions(overrides: grpc.ServerOptions = {}): grpc.ServerOptions {
  // Every Runnel server is built with these options, before it binds: the place to make sure its
  // sockets answer without Nagle delays (see server-nodelay.ts).
  enableServerNoDelay();
  return {
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
    'grpc.max_send_message_length': MESSAGE_BYTES_MAX,
    ...overrides,
  };
}

function channelOptions(overrides: grpc.ChannelOptions | undefined): grpc.ChannelOptions {
  return { ...PEER_CHANNEL_OPTIONS, ...overrides };
}

/** A client for runnel.v1.Raft on `address` ("host:port"), plaintext: the cluster runs on a trusted network. */
export function createRaftClient(address: string, options?: grpc.ChannelOptions): RaftClient {
  const client = new RAFT_CONSTRUCTOR(address, grpc.credentials.createInsecure(), channelOptions(options));
  return client as unknown as RaftClient;
}

/** A client for runnel.v1.Quorum on `address` ("host:port"), plaintext. */
export function createQuorumClient(address: string, options?: grpc.ChannelOptions): QuorumClient {
  const client = new QUORUM_CONSTRUCTOR(address, grpc.credentials.createInsecure(), channelOptions(options));
  return client as unknown as QuorumClient;
}

/** A client for runnel.v1.Controller on `address` ("host:port"), plaintext. */
export function createControllerClient(address: string, options?: grpc.ChannelOptions): ControllerClient {
  const client = new CONTROLLER_CONSTRUCTOR(address, grpc.credentials.createInsecure(), channelOptions(options));
  return client as unknown as ControllerClient;
}

/** A client for runnel.v1.Broker on `address` ("host:port"), plaintext. */
export function createBrokerClient(address: string, options?: grpc.ChannelOptions): BrokerClient {
  const client = new BROKER_CONSTRUCTOR(address, grpc.credentials.createInsecure(), channelOptions(options));
  return client as unknown as BrokerClient;
}

/** A client for runnel.v1.GroupCoordinator on `address` ("host:port", a broker listener), plaintext. */
export function createGroupCoordinatorClient(address: string, options?: grpc.ChannelOptions): GroupCoordinatorClient {
  const client = new GROUP_COORDINATOR_CONSTRUCTOR(address, grpc.credentials.createInsecure(), channelOptions(options));
  return client as unknown as GroupCoordinatorClient;
}

/**
 * Transport failures mapped onto Kafka codes so callers branch on one error type: deadline and
 * unreachable peer are retriable (REQUEST_TIMED_OUT, NETWORK_EXCEPTION); a method the peer does not
 * know means a version skew (UNSUPPORTED_VERSION); anything else is a bug on one side.
 */
function codeNameForStatus(status: grpc.status): ErrorCodeName {
  switch (status) {
    case grpc.status.DEADLINE_EXCEEDED:
      return 'REQUEST_TIMED_OUT';
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
      return 'NETWORK_EXCEPTION';
    case grpc.status.UNIMPLEMENTED:
      return 'UNSUPPORTED_VERSION';
    case grpc.status.INVALID_ARGUMENT:
      return 'INVALID_REQUEST';
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'MESSAGE_TOO_LARGE';
    default:
      return 'UNKNOWN_SERVER_ERROR';
  }
}

/**
 * Calls a unary method and settles once, always under a deadline so a hung peer cannot pin a
 * caller forever. Rejects with a RunnelError whose `cause` is the grpc ServiceError and whose
 * details carry { method, target, grpcCode, grpcStatus }.
 */
export function unaryCall<C extends grpc.Client, K extends UnaryMethodName<C>>(
  client: C,
  method: K,
  request: RequestOf<C[K]>,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<ResponseOf<C[K]>> {
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) {
    return Promise.reject(new RangeError(`deadlineMs must be a positive finite number, got ${deadlineMs}`));
  }
  const target = client.getChannel().getTarget();
  if (signal?.aborted === true) {
    return Promise.reject(new RunnelError('NETWORK_EXCEPTION', `${String(method)} to ${target} cancelled before it started`, { details: { method: String(method), target } }));
  }
  const fn = client[method] as unknown as UnaryMethod<RequestOf<C[K]>, ResponseOf<C[K]>>;
  const options: Partial<grpc.CallOptions> = { deadline: Date.now() + deadlineMs };
  return new Promise((resolve, reject) => {
    // A cancelled call ends with status CANCELLED, which maps to NETWORK_EXCEPTION like any lost call.
    const onAbort = (): void => call.cancel();
    const call = fn.call(client, request, new grpc.Metadata(), options, (error, response) => {
      signal?.removeEventListener('abort', onAbort);
      if (error !== null) {
        reject(toRunnelError(error, String(method), target, deadlineMs));
        return;
      }
      if (response === undefined) {
        reject(new RunnelError('UNKNOWN_SERVER_ERROR', `${String(method)}: empty response without a status`));
        return;
      }
      resolve(response);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A gRPC failure as the RunnelError unaryCall rejects with. */
export function toRunnelError(error: grpc.ServiceError, method: string, target: string, deadlineMs: number): RunnelError {
  const statusName = grpc.status[error.code] ?? String(error.code);
  const timeoutNote = error.code === grpc.status.DEADLINE_EXCEEDED ? ` (deadline ${deadlineMs} ms)` : '';
  return new RunnelError(
    codeNameForStatus(error.code),
    `${method} to ${target} failed: ${statusName}${timeoutNote}: ${error.details}`,
    { cause: error, details: { method, target, grpcCode: error.code, grpcStatus: statusName } },
  );
}
