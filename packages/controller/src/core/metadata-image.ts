import { RunnelError } from '@runnel/protocol';
import { assert, unreachable } from './assert.js';
import {
  canonicalJson,
  NO_LEADER,
  validateRecord,
  type BrokerEndpoint,
  type ConfigResourceType,
  type LeaderRecoveryState,
  type MetadataRecord,
  type PartitionChangeRecord,
} from './records.js';

// The metadata image: the cluster as the committed metadata log describes it (Kafka's MetadataImage).
// Immutable; `apply` returns a new image that shares every untouched map and partition with the old
// one, so the controller and readers can hold an image without copying it.

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

export interface PartitionState {
  readonly topicId: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly leaderRecoveryState: LeaderRecoveryState;
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  /** Indexed by partition number: partitions are always 0..n-1. */
  readonly partitions: readonly PartitionState[];
}

export interface PartitionRef {
  readonly topicName: string;
  readonly topicId: string;
  readonly partition: number;
}

/** The cluster-wide config resource has an empty name, as in Kafka. */
export const CLUSTER_RESOURCE = '';

type ConfigMap = ReadonlyMap<string, ReadonlyMap<string, string>>;

function configKey(resourceType: ConfigResourceType, resourceName: string): string {
  return `${resourceType}:${resourceName}`;
}

interface ImageParts {
  brokers: ReadonlyMap<number, BrokerRegistration>;
  topicsById: ReadonlyMap<string, TopicImage>;
  topicIdsByName: ReadonlyMap<string, string>;
  configs: ConfigMap;
  nextProducerId: number;
  brokerEpochMax: number;
}

const SNAPSHOT_VERSION = 1;

export class MetadataImage {
  static readonly EMPTY = new MetadataImage({
    brokers: new Map(),
    topicsById: new Map(),
    topicIdsByName: new Map(),
    configs: new Map(),
    nextProducerId: 0,
    brokerEpochMax: 0,
  });

  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly topicsById: ReadonlyMap<string, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
  readonly configs: ConfigMap;
  /** The first producer id not yet handed out to any broker. */
  readonly nextProducerId: number;
  /** Highest broker epoch ever granted: epochs stay unique across unregistration and re-registration. */
  readonly brokerEpochMax: number;

  private constructor(parts: ImageParts) {
    this.brokers = parts.brokers;
    this.topicsById = parts.topicsById;
    this.topicIdsByName = parts.topicIdsByName;
    this.configs = parts.configs;
    this.nextProducerId = parts.nextProducerId;
    this.brokerEpochMax = parts.brokerEpochMax;
  }

  /** @internal used by MetadataDelta */
  static fromParts(parts: ImageParts): MetadataImage {
    return new MetadataImage(parts);
  }

  apply(record: MetadataRecord): MetadataImage {
    return new MetadataDelta(this).apply(record).build();
  }

  applyAll(records: Iterable<MetadataRecord>): MetadataImage {
    const delta = new MetadataDelta(this);
    for (const record of records) delta.apply(record);
    return delta.build();
  }

  broker(brokerId: number): BrokerRegistration | undefined {
    return this.brokers.get(brokerId);
  }

  /** Registered, unfenced and not shutting down: may lead, may join an ISR, may receive new replicas. */
  isBrokerActive(brokerId: number): boolean {
    const broker = this.brokers.get(brokerId);
    return broker !== undefined && !broker.fenced && !broker.inControlledShutdown;
  }

  /** Unfenced brokers, sorted by id. */
  liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].filter((b) => !b.fenced).sort((a, b) => a.brokerId - b.brokerId);
  }

  topic(name: string): TopicImage | undefined {
    const topicId = this.topicIdsByName.get(name);
    return topicId === undefined ? undefined : this.topicsById.get(topicId);
  }

  topicById(topicId: string): TopicImage | undefined {
    return this.topicsById.get(topicId);
  }

  partition(topicId: string, partition: number): PartitionState | undefined {
    return this.topicsById.get(topicId)?.partitions[partition];
  }

  /** Leader of a partition by topic name, NO_LEADER (-1) when offline, undefined when unknown. */
  leaderOf(topicName: string, partition: number): number | undefined {
    return this.topic(topicName)?.partitions[partition]?.leader;
  }

  /** Every partition, topics by name then partitions by number (a stable order for deterministic output). */
  *allPartitions(): Generator<{ topic: TopicImage; state: PartitionState }> {
    const names = [...this.topicIdsByName.keys()].sort();
    for (const name of names) {
      const topic = this.topic(name);
      assert(topic !== undefined, `topic index names ${name} without a topic`);
      for (const state of topic.partitions) yield { topic, state };
    }
  }

  private partitionsWhere(predicate: (state: PartitionState) => boolean): PartitionRef[] {
    const result: PartitionRef[] = [];
    for (const { topic, state } of this.allPartitions()) {
      if (predicate(state)) result.push({ topicName: topic.name, topicId: topic.topicId, partition: state.partition });
    }
    return result;
  }

  partitionsLedBy(brokerId: number): PartitionRef[] {
    return this.partitionsWhere((s) => s.leader === brokerId);
  }

  partitionsWithIsrMember(brokerId: number): PartitionRef[] {
    return this.partitionsWhere((s) => s.isr.includes(brokerId));
  }

  underReplicatedPartitions(): PartitionRef[] {
    return this.partitionsWhere((s) => s.leader !== NO_LEADER && s.isr.length < s.replicas.length);
  }

  offlinePartitions(): PartitionRef[] {
    return this.partitionsWhere((s) => s.leader === NO_LEADER);
  }

  config(resourceType: ConfigResourceType, resourceName: string, name: string): string | undefined {
    return this.configs.get(configKey(resourceType, resourceName))?.get(name);
  }

  configsOf(resourceType: ConfigResourceType, resourceName: string): ReadonlyMap<string, string> {
    return this.configs.get(configKey(resourceType, resourceName)) ?? new Map();
  }

  /** Topic config falling back to the cluster-wide value: Kafka's topic > cluster precedence. */
  effectiveTopicConfig(topicName: string, name: string): string | undefined {
    return this.config('topic', topicName, name) ?? this.config('cluster', CLUSTER_RESOURCE, name);
  }

  /**
   * The image as the records that rebuild it, in a canonical order, as canonical JSON: the same
   * image gives the same bytes on every node, so snapshots can be compared and checksummed.
   */
  toSnapshot(): Uint8Array {
    const records: MetadataRecord[] = [];
    // By epoch, not id: replaying registrations requires epochs to rise, and epochs are unique.
    for (const broker of [...this.brokers.values()].sort((a, b) => a.brokerEpoch - b.brokerEpoch)) {
      const { brokerId, incarnationId, brokerEpoch, endpoints, rack } = broker;
      records.push({ type: 'RegisterBroker', version: 1, brokerId, incarnationId, brokerEpoch, endpoints: [...endpoints], rack });
      if (!broker.fenced) records.push({ type: 'UnfenceBroker', version: 1, brokerId, brokerEpoch });
      if (broker.inControlledShutdown) {
        records.push({ type: 'BrokerRegistrationChange', version: 1, brokerId, brokerEpoch, inControlledShutdown: true });
      }
    }
    for (const { topic, state } of this.allPartitions()) {
      if (state.partition === 0) records.push({ type: 'Topic', version: 1, name: topic.name, topicId: topic.topicId });
      records.push({ type: 'Partition', version: 1, ...state, replicas: [...state.replicas], isr: [...state.isr] });
    }
    for (const key of [...this.configs.keys()].sort()) {
      const separator = key.indexOf(':');
      const resourceType = key.slice(0, separator) as ConfigResourceType;
      const resourceName = key.slice(separator + 1);
      const entries = this.configs.get(key) as ReadonlyMap<string, string>;
      for (const name of [...entries.keys()].sort()) {
        records.push({ type: 'Config', version: 1, resourceType, resourceName, name, value: entries.get(name) as string });
      }
    }
    const snapshot = { version: SNAPSHOT_VERSION, nextProducerId: this.nextProducerId, brokerEpochMax: this.brokerEpochMax, records };
    return new TextEncoder().encode(canonicalJson(snapshot));
  }

  static fromSnapshot(bytes: Uint8Array): MetadataImage {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (cause) {
      throw new RunnelError('CORRUPT_MESSAGE', 'invalid metadata snapshot: not UTF-8 JSON', { cause });
    }
    const snapshot = parsed as { version?: unknown; nextProducerId?: unknown; brokerEpochMax?: unknown; records?: unknown };
    if (typeof parsed !== 'object' || parsed === null || snapshot.version !== SNAPSHOT_VERSION) {
      throw new RunnelError('CORRUPT_MESSAGE', `invalid metadata snapshot: unsupported version ${JSON.stringify(snapshot?.version)}`);
    }
    if (!Number.isSafeInteger(snapshot.nextProducerId) || !Number.isSafeInteger(snapshot.brokerEpochMax) || !Array.isArray(snapshot.records)) {
      throw new RunnelError('CORRUPT_MESSAGE', 'invalid metadata snapshot: missing nextProducerId, brokerEpochMax or records');
    }
    const delta = new MetadataDelta(MetadataImage.EMPTY);
    for (const record of snapshot.records) delta.apply(validateRecord(record));
    delta.setCounters(snapshot.nextProducerId as number, snapshot.brokerEpochMax as number);
    return delta.build();
  }
}

function freezePartition(state: PartitionState): PartitionState {
  Object.freeze(state.replicas);
  Object.freeze(state.isr);
  return Object.freeze(state);
}

/** Applies records to a copy-on-write view of an image; build() yields the new immutable image. */
export class MetadataDelta {
  private brokers: Map<number, BrokerRegistration> | null = null;
  private topicsById: Map<string, TopicImage> | null = null;
  private topicIdsByName: Map<string, string> | null = null;
  private configs: Map<string, ReadonlyMap<string, string>> | null = null;
  private readonly copiedTopics = new Set<string>();
  private nextProducerId: number;
  private brokerEpochMax: number;

  constructor(private readonly base: MetadataImage) {
    this.nextProducerId = base.nextProducerId;
    this.brokerEpochMax = base.brokerEpochMax;
  }

  private writableBrokers(): Map<number, BrokerRegistration> {
    this.brokers ??= new Map(this.base.brokers);
    return this.brokers;
  }

  private writableTopics(): Map<string, TopicImage> {
    this.topicsById ??= new Map(this.base.topicsById);
    return this.topicsById;
  }

  private writableTopicNames(): Map<string, string> {
    this.topicIdsByName ??= new Map(this.base.topicIdsByName);
    return this.topicIdsByName;
  }

  private writableConfigs(): Map<string, ReadonlyMap<string, string>> {
    this.configs ??= new Map(this.base.configs);
    return this.configs;
  }

  private currentTopic(topicId: string): TopicImage | undefined {
    return (this.topicsById ?? this.base.topicsById).get(topicId);
  }

  private brokerFor(brokerId: number, brokerEpoch: number, type: string): BrokerRegistration {
    const broker = (this.brokers ?? this.base.brokers).get(brokerId);
    assert(broker !== undefined, `${type} for unregistered broker ${brokerId}`);
    assert(broker.brokerEpoch === brokerEpoch, `${type} for broker ${brokerId} epoch ${brokerEpoch}, registered epoch ${broker.brokerEpoch}`);
    return broker;
  }

  /** Partitions of one topic, copied once per delta so a batch of N changes costs O(N + P), not O(N * P). */
  private writablePartitions(topicId: string): { topic: TopicImage; partitions: PartitionState[] } {
    const topic = this.currentTopic(topicId);
    assert(topic !== undefined, `partition record for unknown topic id ${topicId}`);
    if (this.copiedTopics.has(topicId)) return { topic, partitions: topic.partitions as PartitionState[] };
    const copy: TopicImage = { name: topic.name, topicId, partitions: [...topic.partitions] };
    this.writableTopics().set(topicId, copy);
    this.copiedTopics.add(topicId);
    return { topic: copy, partitions: copy.partitions as PartitionState[] };
  }

  setCounters(nextProducerId: number, brokerEpochMax: number): void {
    assert(nextProducerId >= this.nextProducerId && brokerEpochMax >= this.brokerEpochMax, 'snapshot counters below the records they contain');
    this.nextProducerId = nextProducerId;
    this.brokerEpochMax = brokerEpochMax;
  }

  apply(record: MetadataRecord): this {
    switch (record.type) {
      case 'RegisterBroker': {
        assert(record.brokerEpoch > this.brokerEpochMax, `broker epoch ${record.brokerEpoch} not above ${this.brokerEpochMax}`);
        this.brokerEpochMax = record.brokerEpoch;
        this.writableBrokers().set(
          record.brokerId,
          Object.freeze({
            brokerId: record.brokerId,
            incarnationId: record.incarnationId,
            brokerEpoch: record.brokerEpoch,
            endpoints: Object.freeze(record.endpoints.map((e) => Object.freeze({ ...e }))),
            rack: record.rack,
            // A new incarnation has not caught up with the metadata log yet: it must not lead.
            fenced: true,
            inControlledShutdown: false,
          }),
        );
        break;
      }
      case 'UnregisterBroker':
        this.brokerFor(record.brokerId, record.brokerEpoch, record.type);
        this.writableBrokers().delete(record.brokerId);
        break;
      case 'FenceBroker':
      case 'UnfenceBroker': {
        const broker = this.brokerFor(record.brokerId, record.brokerEpoch, record.type);
        this.writableBrokers().set(record.brokerId, Object.freeze({ ...broker, fenced: record.type === 'FenceBroker' }));
        break;
      }
      case 'BrokerRegistrationChange': {
        const broker = this.brokerFor(record.brokerId, record.brokerEpoch, record.type);
        this.writableBrokers().set(record.brokerId, Object.freeze({ ...broker, inControlledShutdown: record.inControlledShutdown }));
        break;
      }
      case 'Topic': {
        assert(!(this.topicIdsByName ?? this.base.topicIdsByName).has(record.name), `topic ${record.name} already exists`);
        assert(this.currentTopic(record.topicId) === undefined, `topic id ${record.topicId} already in use`);
        this.writableTopics().set(record.topicId, { name: record.name, topicId: record.topicId, partitions: [] });
        this.copiedTopics.add(record.topicId);
        this.writableTopicNames().set(record.name, record.topicId);
        break;
      }
      case 'Partition': {
        const { partitions } = this.writablePartitions(record.topicId);
        assert(record.partition === partitions.length, `partition ${record.partition} of ${record.topicId} added out of order`);
        const { type: _type, version: _version, ...fields } = record;
        const state = freezePartition({ ...fields, replicas: [...record.replicas], isr: [...record.isr] });
        checkPartitionInvariants(state);
        partitions.push(state);
        break;
      }
      case 'PartitionChange': {
        const { partitions } = this.writablePartitions(record.topicId);
        const current = partitions[record.partition];
        assert(current !== undefined, `change of unknown partition ${record.topicId}-${record.partition}`);
        partitions[record.partition] = applyPartitionChange(current, record);
        break;
      }
      case 'RemoveTopic': {
        const topic = this.currentTopic(record.topicId);
        assert(topic !== undefined, `removal of unknown topic id ${record.topicId}`);
        this.writableTopics().delete(record.topicId);
        this.writableTopicNames().delete(topic.name);
        // Kafka drops a deleted topic's configs with it, so a new topic of the same name starts clean.
        this.writableConfigs().delete(configKey('topic', topic.name));
        break;
      }
      case 'Config': {
        const key = configKey(record.resourceType, record.resourceName);
        const configs = this.writableConfigs();
        const entries = new Map(configs.get(key) ?? []);
        if (record.value === null) entries.delete(record.name);
        else entries.set(record.name, record.value);
        if (entries.size === 0) configs.delete(key);
        else configs.set(key, entries);
        break;
      }
      case 'ProducerIds':
        this.brokerFor(record.brokerId, record.brokerEpoch, record.type);
        assert(record.nextProducerId > this.nextProducerId, `producer ids must only advance (${this.nextProducerId} -> ${record.nextProducerId})`);
        this.nextProducerId = record.nextProducerId;
        break;
      case 'NoOp':
        break;
      default:
        unreachable(record);
    }
    return this;
  }

  build(): MetadataImage {
    for (const topicId of this.copiedTopics) {
      const topic = this.topicsById?.get(topicId);
      if (topic !== undefined) {
        Object.freeze(topic.partitions);
        Object.freeze(topic);
      }
    }
    this.copiedTopics.clear();
    return MetadataImage.fromParts({
      brokers: this.brokers ?? this.base.brokers,
      topicsById: this.topicsById ?? this.base.topicsById,
      topicIdsByName: this.topicIdsByName ?? this.base.topicIdsByName,
      configs: this.configs ?? this.base.configs,
      nextProducerId: this.nextProducerId,
      brokerEpochMax: this.brokerEpochMax,
    });
  }
}

function checkPartitionInvariants(state: PartitionState): void {
  const where = `${state.topicId}-${state.partition}`;
  assert(state.replicas.length > 0, `${where} has no replicas`);
  assert(state.isr.length > 0, `${where} has an empty ISR`);
  assert(state.isr.every((id) => state.replicas.includes(id)), `${where} ISR ${state.isr} not within replicas ${state.replicas}`);
  assert(state.leader === NO_LEADER || state.isr.includes(state.leader), `${where} leader ${state.leader} not in ISR ${state.isr}`);
}

/** Kafka's PartitionRegistration.merge: partitionEpoch on every change, leaderEpoch on a leader change. */
export function applyPartitionChange(current: PartitionState, change: PartitionChangeRecord): PartitionState {
  const leader = change.leader ?? current.leader;
  const leaderChanged = leader !== current.leader;
  const next = freezePartition({
    topicId: current.topicId,
    partition: current.partition,
    replicas: [...(change.replicas ?? current.replicas)],
    isr: [...(change.isr ?? current.isr)],
    leader,
    leaderEpoch: leaderChanged ? current.leaderEpoch + 1 : current.leaderEpoch,
    partitionEpoch: current.partitionEpoch + 1,
    leaderRecoveryState: change.leaderRecoveryState ?? current.leaderRecoveryState,
  });
  checkPartitionInvariants(next);
  return next;
}
