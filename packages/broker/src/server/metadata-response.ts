// Metadata and DescribeCluster answers from the broker's metadata image: what clients use to find
// partition leaders. Pure functions of the image so they are testable without a server.
import type { BrokerRegistration, MetadataImage } from '@runnel/controller';
import { ErrorCode } from '@runnel/protocol';
import type { BrokerInfo, MetadataRequest, MetadataResponse, PartitionMetadata, TopicMetadata } from '@runnel/protocol';

export interface ClusterIdentity {
  clusterId: string;
  /** The endpoint name clients connect to; undefined: each broker's first endpoint. */
  listenerName?: string;
  /** Used for a broker that registered no `listenerName` endpoint (e.g. EXTERNAL falls back to CLIENT). */
  fallbackListenerName?: string;
  /** The active controller, -1 when unknown. */
  controllerId(): number;
  /** The broker's applied metadata offset. */
  metadataOffset(): number;
}

export function brokerInfo(broker: BrokerRegistration, listenerName: string | undefined, fallbackListenerName?: string): BrokerInfo {
  const endpoint = listenerName === undefined
    ? broker.endpoints[0]
    : broker.endpoints.find((e) => e.name === listenerName) ?? broker.endpoints.find((e) => e.name === fallbackListenerName);
  return { id: broker.brokerId, host: endpoint?.host ?? '', port: endpoint?.port ?? 0, rack: broker.rack ?? '', fenced: broker.fenced };
}

export function brokersOf(image: MetadataImage, listenerName: string | undefined, fallbackListenerName?: string): BrokerInfo[] {
  return [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId).map((broker) => brokerInfo(broker, listenerName, fallbackListenerName));
}

function topicMetadata(image: MetadataImage, name: string): TopicMetadata {
  const topic = image.topic(name);
  if (topic === undefined) {
    return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: '', isInternal: false, partitions: [], configs: [] };
  }
  const partitions: PartitionMetadata[] = topic.partitions.map((state) => {
    const offlineReplicas = state.replicas.filter((id) => {
      const broker = image.broker(id);
      return broker === undefined || broker.fenced;
    });
    return {
      // Kafka answers LEADER_NOT_AVAILABLE for a partition with no leader, so clients retry.
      errorCode: state.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partition: state.partition,
      leaderId: state.leader,
      leaderEpoch: state.leaderEpoch,
      replicas: [...state.replicas],
      isr: [...state.isr],
      offlineReplicas,
    };
  });
  const configs = [...image.configsOf('topic', name)].map(([key, value]) => ({ name: key, value }));
  return { errorCode: ErrorCode.NONE, name, topicId: topic.topicId, isInternal: name.startsWith('__'), partitions, configs };
}

export function metadataResponse(image: MetadataImage | undefined, request: MetadataRequest, identity: ClusterIdentity): MetadataResponse {
  const base = { clusterId: identity.clusterId, controllerId: identity.controllerId(), metadataOffset: identity.metadataOffset() };
  if (image === undefined) return { ...base, brokers: [], topics: request.topics.map((name) => topicMetadata(emptyImageStandIn, name)) };
  const names = request.topics.length > 0 ? request.topics : request.allTopics ? [...image.topicIdsByName.keys()].sort() : [];
  return { ...base, brokers: brokersOf(image, identity.listenerName, identity.fallbackListenerName), topics: names.map((name) => topicMetadata(image, name)) };
}

/** Before the first image arrives every topic is unknown. */
const emptyImageStandIn = { topic: () => undefined } as unknown as MetadataImage;
