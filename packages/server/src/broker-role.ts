// The broker role of a node: partition replicas under the data dir driven by the committed metadata
// image, follower fetches to leaders at the endpoints brokers registered, ISR changes and producer-id
// blocks through the active controller, and the broker's registration and heartbeats.
import { randomUUID } from 'node:crypto';
import { ErrorCode, errorInfo } from '@runnel/protocol';
import type { BrokerServiceHandlers, GroupCoordinatorServiceHandlers } from '@runnel/protocol';
import { BrokerLifecycle } from '@runnel/controller';
import type { MetadataImage, MetadataStateMachine } from '@runnel/controller';
import {
  ControllerChannel,
  GroupCoordinatorRuntime,
  GrpcFetchTransport,
  ImageClusterView,
  ProducerIdAllocator,
  ReplicaManager,
  ReplicaOffsetsAccess,
  brokerServiceHandlers,
  groupServiceHandlers,
} from '@runnel/broker';
import type { AlterPartitionSender } from '@runnel/broker';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';

/** The listener name brokers register for clients and followers (Kafka's CLIENT/PLAINTEXT). */
export const CLIENT_LISTENER_NAME = 'CLIENT';
/** The optional second client listener's name (external.listen): e.g. host-published ports in Docker. */
export const EXTERNAL_LISTENER_NAME = 'EXTERNAL';

export interface BrokerRoleOptions {
  readonly config: ServerConfig;
  readonly clusterId: string;
  readonly stateMachine: MetadataStateMachine;
  /** The Raft leader, which is the active controller once activated (-1 when none). */
  readonly controllerId: () => number;
  readonly logger: Logger;
}

export interface BrokerRole {
  readonly replicaManager: ReplicaManager;
  readonly lifecycle: BrokerLifecycle;
  readonly handlers: BrokerServiceHandlers;
  /** runnel.v1.GroupCoordinator, served on the same listener. */
  readonly groupHandlers: GroupCoordinatorServiceHandlers;
  /** The same services answering with EXTERNAL endpoints, for the external listener; undefined when it is off. */
  readonly external: { readonly handlers: BrokerServiceHandlers; readonly groupHandlers: GroupCoordinatorServiceHandlers } | undefined;
  readonly groupCoordinator: GroupCoordinatorRuntime;
  /** Starts registering and heartbeating; call once the broker listener serves. */
  start(): void;
  /** Asks the controller to move leaderships away; true once it says the broker may stop. */
  controlledShutdown(timeoutMs: number): Promise<boolean>;
  /** Stops heartbeats, fetchers and the image feed; flushes and checkpoints the logs. */
  close(): Promise<void>;
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(hostPort.slice(colon + 1)) };
}

/** Broker `brokerId`'s endpoint named `listenerName`, else its CLIENT one (inter-broker traffic always uses CLIENT). */
function listenerAddress(image: MetadataImage, brokerId: number, listenerName: string): string | undefined {
  const broker = image.broker(brokerId);
  const endpoint = broker?.endpoints.find((e) => e.name === listenerName)
    ?? broker?.endpoints.find((e) => e.name === CLIENT_LISTENER_NAME)
    ?? broker?.endpoints[0];
  if (endpoint === undefined) return undefined;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function clientAddress(image: MetadataImage, brokerId: number): string | undefined {
  return listenerAddress(image, brokerId, CLIENT_LISTENER_NAME);
}

/** The endpoints this broker registers: CLIENT, plus EXTERNAL when the external listener is on. */
export function brokerEndpoints(config: Pick<ServerConfig, 'advertisedListen' | 'externalAdvertisedListen'>): { name: string; host: string; port: number }[] {
  const endpoints = [{ name: CLIENT_LISTENER_NAME, ...splitHostPort(config.advertisedListen) }];
  if (config.externalAdvertisedListen !== undefined) endpoints.push({ name: EXTERNAL_LISTENER_NAME, ...splitHostPort(config.externalAdvertisedListen) });
  return endpoints;
}

/** How often expired group members are looked for; bounds how late a session timeout is noticed. */
const GROUP_TICK_MS = 250;
/** offsets.topic.segment.bytes, Kafka's default: small segments so compaction can start early. */
const OFFSETS_TOPIC_SEGMENT_BYTES = 100 * 1024 * 1024;

export function startBrokerRole(options: BrokerRoleOptions): BrokerRole {
  const { config, stateMachine } = options;
  const logger = options.logger.child({ role: 'broker' });
  // Controller calls are metadata round trips (one Raft commit each); a few request timeouts cover an election.
  const controllerTimeoutMs = Math.max(config.requestTimeoutMs * 5, config.electionTimeoutMs * 4);
  const channel = new ControllerChannel({ voters: config.controllerQuorumVoters, logger, callTimeoutMs: config.requestTimeoutMs * 2 });
  const lifecycle = new BrokerLifecycle({
    clusterId: options.clusterId,
    brokerId: config.nodeId,
    endpoints: brokerEndpoints(config),
    controllers: config.controllerQuorumVoters,
    metadataOffset: () => stateMachine.appliedOffset,
    logger,
    heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
    requestTimeoutMs: config.requestTimeoutMs * 2,
  });
  const alterPartition: AlterPartitionSender = {
    alterPartition: async ({ brokerId, topicId, partition, change }) => {
      const response = await channel.call('alterPartition', {
        brokerId,
        brokerEpoch: lifecycle.state.brokerEpoch,
        topicId,
        partition,
        leaderEpoch: change.leaderEpoch,
        partitionEpoch: change.partitionEpoch,
        newIsr: [...change.newIsr],
        leaderRecovered: false,
      }, controllerTimeoutMs);
      if (response.errorCode !== ErrorCode.NONE) return { ok: false, codeName: errorInfo(response.errorCode).name };
      return { ok: true, isr: response.isr, partitionEpoch: response.partitionEpoch };
    },
  };
  const transport = new GrpcFetchTransport((brokerId) => clientAddress(stateMachine.image, brokerId), {
    onChannelReplaced: ({ leaderId, address, connectingForMs }) => {
      logger.warn({ leaderId, address, connectingForMs }, 'connection to the leader stuck while connecting: replaced the channel');
    },
  });
  const replicaManager = new ReplicaManager({
    brokerId: config.nodeId,
    logDir: config.dataDir,
    logger,
    alterPartition,
    fetchTransport: transport,
    flushPolicy: config.logFlushPolicy,
    replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
    retentionCheckIntervalMs: config.retentionCheckIntervalMs,
    defaultMinInsyncReplicas: config.minInsyncReplicas,
  });
  const producerIds = new ProducerIdAllocator({
    controller: channel,
    brokerId: config.nodeId,
    brokerEpoch: () => lifecycle.state.brokerEpoch,
    requestTimeoutMs: controllerTimeoutMs,
  });
  // ReplicaManager.applyMetadata serialises calls itself; the image listener only has to hand every
  // image over in order, and must not throw into the Raft apply loop.
  const clusterView = new ImageClusterView({
    image: () => stateMachine.image,
    clientEndpoint: (image, brokerId) => {
      const address = clientAddress(image, brokerId);
      return address === undefined ? undefined : splitHostPort(address);
    },
    createTopics: (request) => channel.call('createTopics', request, controllerTimeoutMs),
    offsetsTopicPartitions: config.offsetsTopicNumPartitions,
    offsetsTopicReplicationFactor: config.offsetsTopicReplicationFactor,
    offsetsTopicSegmentBytes: OFFSETS_TOPIC_SEGMENT_BYTES,
    onCreateError: (message) => logger.warn(message),
  });
  const groupCoordinator = new GroupCoordinatorRuntime({
    brokerId: config.nodeId,
    access: new ReplicaOffsetsAccess({ replicaManager, appendTimeoutMs: config.requestTimeoutMs }),
    cluster: clusterView,
    logger,
    nowMs: () => Date.now(),
    generateMemberId: () => randomUUID(),
    config: { heartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs },
  });
  const applyImage = (image: MetadataImage): void => {
    replicaManager
      .applyMetadata(image)
      // Leaderships of __consumer_offsets partitions may have moved: load or drop coordinator shards.
      .then(() => groupCoordinator.syncWithMetadata())
      .catch((err: unknown) => logger.error({ err }, 'applying a metadata image to the replicas failed'));
  };
  const groupTicker = setInterval(() => groupCoordinator.tick(), GROUP_TICK_MS);
  groupTicker.unref();
  const unsubscribe = stateMachine.onImage(applyImage);
  // Entries applied while the Raft node opened (its own log, a snapshot) came before the subscription.
  applyImage(stateMachine.image);
  const handlersFor = (listenerName: string): { handlers: BrokerServiceHandlers; groupHandlers: GroupCoordinatorServiceHandlers } => {
    const serviceHandlers = brokerServiceHandlers({
      replicaManager,
      logger,
      clusterId: options.clusterId,
      listenerName,
      fallbackListenerName: CLIENT_LISTENER_NAME,
      controllerId: options.controllerId,
      metadataOffset: () => stateMachine.appliedOffset,
      controller: channel,
      producerIds,
    });
    const handlers = withQuorumInDescribeCluster(serviceHandlers, {
      brokerId: config.nodeId,
      voters: config.controllerQuorumVoters,
      metadataOffset: () => stateMachine.appliedOffset,
    });
    const groupHandlers = groupServiceHandlers({
      runtime: groupCoordinator,
      brokerId: config.nodeId,
      logger,
      topicNames: () => clusterView.topicNames(),
      ...(listenerName === CLIENT_LISTENER_NAME ? {} : {
        listenerEndpoint: (brokerId: number) => {
          const address = listenerAddress(stateMachine.image, brokerId, listenerName);
          return address === undefined ? undefined : splitHostPort(address);
        },
      }),
    });
    return { handlers, groupHandlers };
  };
  const { handlers, groupHandlers } = handlersFor(CLIENT_LISTENER_NAME);
  const external = config.externalListen === undefined ? undefined : handlersFor(EXTERNAL_LISTENER_NAME);
  let closing: Promise<void> | undefined;
  return {
    replicaManager,
    lifecycle,
    handlers,
    groupHandlers,
    external,
    groupCoordinator,
    start: () => lifecycle.start(),
    controlledShutdown: (timeoutMs) => lifecycle.controlledShutdown(timeoutMs),
    close: () => {
      closing ??= (async () => {
        unsubscribe();
        clearInterval(groupTicker);
        groupCoordinator.close();
        await lifecycle.stop();
        await replicaManager.close();
        transport.close();
        channel.close();
      })();
      return closing;
    },
  };
}

/**
 * DescribeCluster answers also name the metadata quorum's voters and this broker's applied metadata
 * offset, so `runnel cluster status` can go on to ask the quorum for every node's metadata lag with
 * nothing but a bootstrap server. The node knows the voters from its own configuration.
 */
export function withQuorumInDescribeCluster(
  handlers: BrokerServiceHandlers,
  node: { brokerId: number; voters: ReadonlyMap<number, string>; metadataOffset: () => number },
): BrokerServiceHandlers {
  const controllerVoters = [...node.voters].sort(([a], [b]) => a - b).map(([id, endpoint]) => ({ id, endpoint }));
  return {
    ...handlers,
    describeCluster: (call, callback) => {
      handlers.describeCluster(call, (error, response) => {
        if (error !== null || response === null || response === undefined) {
          callback(error, response);
          return;
        }
        callback(null, { ...response, controllerVoters, answeredBy: node.brokerId, metadataOffset: node.metadataOffset() });
      });
    },
  };
}
