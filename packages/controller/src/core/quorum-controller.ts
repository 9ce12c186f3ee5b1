import { RunnelError } from '@runnel/protocol';
import { assert } from './assert.js';
import { CLUSTER_RESOURCE, type MetadataImage, type PartitionRef, type PartitionState, type TopicImage } from './metadata-image.js';
import { electLeader, electPreferredLeader, type PartitionChangeDecision, type UncleanElection } from './partition-change-builder.js';
import type { Random } from './random.js';
import type { MetadataRecord, PartitionChangeRecord } from './records.js';
import {
  DEFAULT_CONTROLLER_CONFIG,
  type AlterConfigsRequest,
  type AlterConfigsResult,
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  type BrokerHeartbeatRequest,
  type BrokerHeartbeatResponse,
  type ControllerResult,
  type CreatePartitionsRequest,
  type CreateTopicRequest,
  type CreateTopicResult,
  type ProducerIdBlock,
  type QuorumControllerConfig,
  type RegisterBrokerRequest,
  type TickResponse,
  type TopicResult,
} from './controller-types.js';
import { placeReplicas, type PlacementBroker } from './replica-placement.js';
import {
  parseBooleanConfig,
  validateClusterConfigs,
  validateNewTopicName,
  validatePartitionCount,
  validatePartitionIncrease,
  validateReplicationFactor,
  validateTopicConfigs,
} from './validation.js';

// The controller's decision logic (Kafka's QuorumController with ClusterControl and
// ReplicationControl folded in). Every operation reads an image and returns the records to propose
// as one atomic batch plus the response to send once they commit; it never changes the image. The
// driver proposes the batch to the Raft log, applies committed batches to its image, and answers.
//
// Which image to pass: the latest one including batches proposed but not yet committed (as Kafka
// does), or the committed image with operations serialised until their batch commits. Either way
// two decisions never see the same stale image, which is what keeps epochs and ids unique.
//
// The only state held here is soft: heartbeat times and the committed offset. It is rebuilt on
// failover by activate(), which gives every broker a fresh session (a new controller does not know
// when a broker last heartbeated, and fencing a healthy cluster on failover would be worse than
// waiting one more session timeout for a dead broker).

const TOPIC_ID_ATTEMPTS_MAX = 16;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Builds the records of one decision against an image that reflects the records chosen so far. */
class Batch {
  readonly records: MetadataRecord[] = [];
  readonly uncleanElections: UncleanElection[] = [];
  constructor(public image: MetadataImage) {}

  /** Records applied through one delta: a topic of P partitions costs O(P), not O(P^2). */
  add(...records: MetadataRecord[]): void {
    if (records.length === 0) return;
    this.records.push(...records);
    this.image = this.image.applyAll(records);
  }

  addDecisions(decisions: readonly PartitionChangeDecision[]): void {
    this.add(...decisions.flatMap((d) => (d.record === null ? [] : [d.record])));
    for (const d of decisions) if (d.unclean !== null) this.uncleanElections.push(d.unclean);
  }

  result<T>(response: T): ControllerResult<T> {
    return { records: this.records, response, uncleanElections: this.uncleanElections };
  }
}

function refOf(topic: TopicImage, state: PartitionState): PartitionRef {
  return { topicName: topic.name, topicId: topic.topicId, partition: state.partition };
}

export class QuorumController {
  private readonly config: QuorumControllerConfig;
  private readonly lastHeartbeatMs = new Map<number, number>();
  private committedOffset = -1;
  private lastRebalanceCheckMs: number | null = null;

  constructor(
    config: Partial<QuorumControllerConfig>,
    private readonly random: Random,
  ) {
    this.config = { ...DEFAULT_CONTROLLER_CONFIG, ...config };
    assert(this.config.brokerSessionTimeoutMs > 0, 'brokerSessionTimeoutMs must be positive');
    assert(this.config.producerIdBlockSize > 0, 'producerIdBlockSize must be positive');
  }

  /**
   * On becoming the active controller: every registered broker gets a full session from now, except
   * those `lastHeardMs` says were last heard from earlier (never later than now). The driver passes
   * the previous controller's node there: when it died, this node stopped hearing from it as Raft
   * leader, and a broker on that node started missing heartbeats no later than that.
   */
  activate(image: MetadataImage, nowMs: number, lastHeardMs: ReadonlyMap<number, number> = new Map()): void {
    this.lastHeartbeatMs.clear();
    for (const brokerId of image.brokers.keys()) this.lastHeartbeatMs.set(brokerId, Math.min(nowMs, lastHeardMs.get(brokerId) ?? nowMs));
    this.lastRebalanceCheckMs = nowMs;
  }

  /** The driver reports the metadata offset committed (and applied) so far; brokers must catch up to it. */
  setCommittedOffset(offset: number): void {
    assert(offset >= this.committedOffset, `committed offset went back from ${this.committedOffset} to ${offset}`);
    this.committedOffset = offset;
  }

  lastHeartbeatOf(brokerId: number): number | undefined {
    return this.lastHeartbeatMs.get(brokerId);
  }

  // ---- brokers -------------------------------------------------------------------------------

  registerBroker(image: MetadataImage, request: RegisterBrokerRequest, nowMs: number): ControllerResult<{ brokerEpoch: number } | RunnelError> {
    const batch = new Batch(image);
    const existing = image.broker(request.brokerId);
    if (existing !== undefined && existing.incarnationId === request.incarnationId) {
      // The same process retrying a registration whose response was lost: same epoch, no records.
      this.lastHeartbeatMs.set(request.brokerId, nowMs);
      return batch.result({ brokerEpoch: existing.brokerEpoch });
    }
    if (existing !== undefined && !existing.fenced && this.sessionAlive(request.brokerId, nowMs)) {
      return batch.result(
        new RunnelError('DUPLICATE_BROKER_REGISTRATION', `broker ${request.brokerId} is registered by another live incarnation ${existing.incarnationId}`),
      );
    }
    if (existing !== undefined) {
      // A new incarnation means the old process is gone: its leaderships move now rather than
      // after a session timeout, and it rejoins fenced until it has caught up.
      this.removeBrokerFromPartitions(batch, request.brokerId);
    }
    const brokerEpoch = image.brokerEpochMax + 1;
    batch.add({
      type: 'RegisterBroker',
      version: 1,
      brokerId: request.brokerId,
      incarnationId: request.incarnationId,
      brokerEpoch,
      endpoints: request.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
      rack: request.rack,
    });
    this.lastHeartbeatMs.set(request.brokerId, nowMs);
    return batch.result({ brokerEpoch });
  }

  brokerHeartbeat(image: MetadataImage, request: BrokerHeartbeatRequest, nowMs: number): ControllerResult<BrokerHeartbeatResponse | RunnelError> {
    const batch = new Batch(image);
    const broker = image.broker(request.brokerId);
    const stale = this.checkBrokerEpoch(image, request.brokerId, request.brokerEpoch);
    if (stale !== null || broker === undefined) return batch.result(stale ?? new RunnelError('BROKER_ID_NOT_REGISTERED', `broker ${request.brokerId} is not registered`));
    this.lastHeartbeatMs.set(request.brokerId, nowMs);
    const { brokerId, brokerEpoch } = broker;
    if (request.wantShutdown) {
      if (!broker.inControlledShutdown) batch.add({ type: 'BrokerRegistrationChange', version: 1, brokerId, brokerEpoch, inControlledShutdown: true });
      this.removeBrokerFromPartitions(batch, brokerId);
    } else if (request.wantFence) {
      if (!broker.fenced) batch.add({ type: 'FenceBroker', version: 1, brokerId, brokerEpoch });
      this.removeBrokerFromPartitions(batch, brokerId);
    } else if (broker.fenced && !broker.inControlledShutdown && request.metadataOffset >= this.committedOffset) {
      batch.add({ type: 'UnfenceBroker', version: 1, brokerId, brokerEpoch });
      this.electWhereNeeded(batch, (state) => state.replicas.includes(brokerId));
    }
    const after = batch.image.broker(brokerId);
    assert(after !== undefined, 'heartbeat unregistered its own broker');
    return batch.result({
      isFenced: after.fenced,
      inControlledShutdown: after.inControlledShutdown,
      shouldShutdown: after.inControlledShutdown && batch.image.partitionsLedBy(brokerId).length === 0,
    });
  }

  unregisterBroker(image: MetadataImage, brokerId: number): ControllerResult<null | RunnelError> {
    const batch = new Batch(image);
    const broker = image.broker(brokerId);
    if (broker === undefined) return batch.result(new RunnelError('BROKER_ID_NOT_REGISTERED', `broker ${brokerId} is not registered`));
    if (!broker.fenced) batch.add({ type: 'FenceBroker', version: 1, brokerId, brokerEpoch: broker.brokerEpoch });
    this.removeBrokerFromPartitions(batch, brokerId);
    batch.add({ type: 'UnregisterBroker', version: 1, brokerId, brokerEpoch: broker.brokerEpoch });
    this.lastHeartbeatMs.delete(brokerId);
    return batch.result(null);
  }

  /**
   * Periodic work: fence brokers past their session, elect leaders wherever the leader is gone or
   * ineligible (also picking up an unclean election enabled since), and, on its interval, move
   * leadership back to preferred replicas.
   */
  tick(image: MetadataImage, nowMs: number): ControllerResult<TickResponse> {
    const batch = new Batch(image);
    const fencedBrokers: number[] = [];
    for (const broker of [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId)) {
      if (!this.lastHeartbeatMs.has(broker.brokerId)) this.lastHeartbeatMs.set(broker.brokerId, nowMs);
      if (broker.fenced || this.sessionAlive(broker.brokerId, nowMs)) continue;
      fencedBrokers.push(broker.brokerId);
      batch.add({ type: 'FenceBroker', version: 1, brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch });
      this.removeBrokerFromPartitions(batch, broker.brokerId);
    }
    this.electWhereNeeded(batch, () => true);
    if (this.autoRebalanceEnabled(batch.image) && (this.lastRebalanceCheckMs === null || nowMs - this.lastRebalanceCheckMs >= this.config.leaderImbalanceCheckIntervalMs)) {
      this.lastRebalanceCheckMs = nowMs;
      this.electPreferredLeadersInto(batch);
    }
    return batch.result({ fencedBrokers, changedPartitions: changedLeaders(image, batch.records) });
  }

  /** Preferred-leader election now (Kafka's ElectLeaders with PREFERRED), whatever the auto setting. */
  electPreferredLeaders(image: MetadataImage): ControllerResult<PartitionRef[]> {
    const batch = new Batch(image);
    this.electPreferredLeadersInto(batch);
    return batch.result(changedLeaders(image, batch.records));
  }

  // ---- topics --------------------------------------------------------------------------------

  createTopics(image: MetadataImage, requests: readonly CreateTopicRequest[], options: { validateOnly?: boolean } = {}): ControllerResult<CreateTopicResult[]> {
    const batch = new Batch(image);
    const counts = new Map<string, number>();
    for (const request of requests) counts.set(request.name, (counts.get(request.name) ?? 0) + 1);
    const results = requests.map((request): CreateTopicResult => {
      const failed = (error: RunnelError): CreateTopicResult => ({ name: request.name, error, topicId: null, numPartitions: -1, replicationFactor: -1 });
      if ((counts.get(request.name) ?? 0) > 1) return failed(new RunnelError('INVALID_REQUEST', `topic '${request.name}' appears more than once in the request`));
      // Checked against the batch's image, so a name colliding with another topic of this request fails too.
      const nameError = validateNewTopicName(batch.image, request.name);
      if (nameError !== null) return failed(nameError);
      const assignments = this.assignmentsFor(batch.image, request);
      if (assignments instanceof RunnelError) return failed(assignments);
      const replicationFactor = (assignments[0] as number[]).length;
      const configError = validateTopicConfigs(request.configs ?? {}, replicationFactor);
      if (configError !== null) return failed(configError);
      const topicId = this.newTopicId(batch.image);
      if (topicId instanceof RunnelError) return failed(topicId);
      if (options.validateOnly !== true) this.addTopic(batch, request, topicId, assignments);
      return { name: request.name, error: null, topicId, numPartitions: assignments.length, replicationFactor };
    });
    return batch.result(results);
  }

  deleteTopics(image: MetadataImage, names: readonly string[]): ControllerResult<TopicResult[]> {
    const batch = new Batch(image);
    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    const results = names.map((name): TopicResult => {
      if ((counts.get(name) ?? 0) > 1) return { name, error: new RunnelError('INVALID_REQUEST', `topic '${name}' appears more than once in the request`) };
      const topic = batch.image.topic(name);
      if (topic === undefined) return { name, error: new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`) };
      batch.add({ type: 'RemoveTopic', version: 1, topicId: topic.topicId });
      return { name, error: null };
    });
    return batch.result(results);
  }

  createPartitions(image: MetadataImage, requests: readonly CreatePartitionsRequest[]): ControllerResult<TopicResult[]> {
    const batch = new Batch(image);
    const results = requests.map((request): TopicResult => {
      const fail = (error: RunnelError): TopicResult => ({ name: request.name, error });
      const topic = batch.image.topic(request.name);
      if (topic === undefined) return fail(new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${request.name}' does not exist`));
      const current = topic.partitions.length;
      const increaseError = validatePartitionIncrease(request.name, current, request.count);
      if (increaseError !== null) return fail(increaseError);
      const replicationFactor = topic.partitions[0]?.replicas.length ?? 0;
      const usable = usableBrokers(batch.image);
      const rfError = validateReplicationFactor(replicationFactor, usable.length);
      if (rfError !== null) return fail(rfError);
      const placed = placeReplicas(usable, { numPartitions: request.count - current, replicationFactor, startPartition: current }, this.random);
      if (placed instanceof RunnelError) return fail(placed);
      batch.add(...placed.map((replicas, i) => newPartitionRecord(topic.topicId, current + i, replicas, batch.image)));
      return { name: request.name, error: null };
    });
    return batch.result(results);
  }

  alterConfigs(image: MetadataImage, requests: readonly AlterConfigsRequest[]): ControllerResult<AlterConfigsResult[]> {
    const batch = new Batch(image);
    const results = requests.map((request): AlterConfigsResult => {
      const { resourceType, resourceName } = request;
      const fail = (error: RunnelError): AlterConfigsResult => ({ resourceType, resourceName, error });
      let error: RunnelError | null;
      if (resourceType === 'topic') {
        const topic = batch.image.topic(resourceName);
        if (topic === undefined) return fail(new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${resourceName}' does not exist`));
        error = validateTopicConfigs(request.configs, topic.partitions[0]?.replicas.length ?? 0);
      } else if (resourceType === 'cluster' && resourceName !== CLUSTER_RESOURCE) {
        error = new RunnelError('INVALID_REQUEST', `the cluster config resource has an empty name, got '${resourceName}'`);
      } else if (resourceType === 'broker' && !/^\d+$/.test(resourceName)) {
        error = new RunnelError('INVALID_REQUEST', `a broker config resource is named by broker id, got '${resourceName}'`);
      } else {
        error = validateClusterConfigs(request.configs);
      }
      if (error !== null) return fail(error);
      for (const name of Object.keys(request.configs).sort()) {
        batch.add({ type: 'Config', version: 1, resourceType, resourceName, name, value: request.configs[name] ?? null });
      }
      return { resourceType, resourceName, error: null };
    });
    return batch.result(results);
  }

  // ---- partitions ----------------------------------------------------------------------------

  /** An ISR change asked for by a partition leader (Kafka's AlterPartition), with Kafka's checks in Kafka's order. */
  alterPartition(image: MetadataImage, request: AlterPartitionRequest): ControllerResult<AlterPartitionResponse | RunnelError> {
    const batch = new Batch(image);
    const error = (codeName: ConstructorParameters<typeof RunnelError>[0], message: string) =>
      batch.result(new RunnelError(codeName, `AlterPartition ${request.topicId}-${request.partition}: ${message}`));
    if (request.brokerEpoch !== undefined) {
      const stale = this.checkBrokerEpoch(image, request.leaderId, request.brokerEpoch);
      if (stale !== null) return batch.result(stale);
    }
    const topic = image.topicById(request.topicId);
    if (topic === undefined) return error('UNKNOWN_TOPIC_ID', 'unknown topic id');
    const state = topic.partitions[request.partition];
    if (state === undefined) return error('UNKNOWN_TOPIC_OR_PARTITION', 'unknown partition');
    if (request.leaderEpoch !== state.leaderEpoch) {
      return error('FENCED_LEADER_EPOCH', `leader epoch ${request.leaderEpoch} is not the current ${state.leaderEpoch}`);
    }
    if (request.leaderId !== state.leader) return error('INVALID_REQUEST', `broker ${request.leaderId} is not the leader (${state.leader})`);
    if (request.partitionEpoch !== state.partitionEpoch) {
      return error('INVALID_UPDATE_VERSION', `partition epoch ${request.partitionEpoch} is not the current ${state.partitionEpoch}`);
    }
    const newIsr = [...request.newIsr];
    if (new Set(newIsr).size !== newIsr.length) return error('INVALID_REQUEST', `ISR ${newIsr} has duplicates`);
    // The leader is the one member whose log is known complete: an ISR without it would let the
    // high watermark be computed over replicas that may lack acknowledged records.
    if (!newIsr.includes(state.leader)) return error('INVALID_REQUEST', `ISR ${newIsr} does not contain the leader ${state.leader}`);
    const notReplica = newIsr.find((id) => !state.replicas.includes(id));
    if (notReplica !== undefined) return error('INVALID_REQUEST', `broker ${notReplica} is not a replica of the partition`);
    const ineligible = newIsr.find((id) => !image.isBrokerActive(id));
    if (ineligible !== undefined) {
      return error('INELIGIBLE_REPLICA', `broker ${ineligible} is fenced, shutting down or unregistered and cannot join the ISR`);
    }
    const recovery = request.leaderRecoveryState ?? state.leaderRecoveryState;
    if (state.leaderRecoveryState === 'recovered' && recovery === 'recovering') {
      return error('INVALID_REQUEST', 'a recovered partition cannot go back to recovering');
    }
    if (recovery === 'recovering' && newIsr.length > 1) {
      return error('INVALID_REQUEST', 'the ISR of a recovering partition cannot grow until the leader has recovered');
    }
    const record: PartitionChangeRecord = { type: 'PartitionChange', version: 1, topicId: state.topicId, partition: state.partition };
    const sameIsr = newIsr.length === state.isr.length && newIsr.every((id, i) => id === state.isr[i]);
    if (!sameIsr) record.isr = newIsr;
    if (recovery !== state.leaderRecoveryState) record.leaderRecoveryState = recovery;
    if (record.isr !== undefined || record.leaderRecoveryState !== undefined) batch.add(record);
    const after = batch.image.partition(state.topicId, state.partition) as PartitionState;
    return batch.result({ leader: after.leader, leaderEpoch: after.leaderEpoch, partitionEpoch: after.partitionEpoch, isr: after.isr, leaderRecoveryState: after.leaderRecoveryState });
  }

  // ---- producer ids --------------------------------------------------------------------------

  allocateProducerIds(image: MetadataImage, brokerId: number, brokerEpoch: number): ControllerResult<ProducerIdBlock | RunnelError> {
    const batch = new Batch(image);
    const stale = this.checkBrokerEpoch(image, brokerId, brokerEpoch);
    if (stale !== null) return batch.result(stale);
    const firstProducerId = image.nextProducerId;
    const size = this.config.producerIdBlockSize;
    if (firstProducerId + size > Number.MAX_SAFE_INTEGER) {
      return batch.result(new RunnelError('UNKNOWN_SERVER_ERROR', 'producer ids are exhausted'));
    }
    batch.add({ type: 'ProducerIds', version: 1, brokerId, brokerEpoch, nextProducerId: firstProducerId + size });
    return batch.result({ firstProducerId, size });
  }

  // ---- internals -----------------------------------------------------------------------------

  private sessionAlive(brokerId: number, nowMs: number): boolean {
    const last = this.lastHeartbeatMs.get(brokerId);
    return last !== undefined && nowMs - last <= this.config.brokerSessionTimeoutMs;
  }

  private checkBrokerEpoch(image: MetadataImage, brokerId: number, brokerEpoch: number): RunnelError | null {
    const broker = image.broker(brokerId);
    if (broker === undefined) return new RunnelError('BROKER_ID_NOT_REGISTERED', `broker ${brokerId} is not registered`);
    if (broker.brokerEpoch !== brokerEpoch) {
      return new RunnelError('STALE_BROKER_EPOCH', `broker ${brokerId} epoch ${brokerEpoch} is not the registered epoch ${broker.brokerEpoch}`);
    }
    return null;
  }

  private uncleanAllowed(image: MetadataImage, topicName: string): boolean {
    return parseBooleanConfig(image.effectiveTopicConfig(topicName, 'unclean.leader.election.enable'), this.config.uncleanLeaderElectionEnable);
  }

  private autoRebalanceEnabled(image: MetadataImage): boolean {
    return parseBooleanConfig(image.config('cluster', CLUSTER_RESOURCE, 'auto.leader.rebalance.enable'), this.config.autoLeaderRebalanceEnable);
  }

  /** Leadership away from the broker and the broker out of every ISR it can leave: one record per partition. */
  // Decisions for different partitions depend only on broker state, never on each other, so each
  // pass decides against one image and applies all its records at once.
  private removeBrokerFromPartitions(batch: Batch, brokerId: number): void {
    const image = batch.image;
    const decisions = image.partitionsWithIsrMember(brokerId).map((ref) => {
      const topic = image.topicById(ref.topicId) as TopicImage;
      return electLeader(topic, topic.partitions[ref.partition] as PartitionState, {
        eligible: (id) => id !== brokerId && image.isBrokerActive(id),
        removeFromIsr: brokerId,
        uncleanAllowed: this.uncleanAllowed(image, topic.name),
      });
    });
    batch.addDecisions(decisions);
  }

  /** Elects a leader for every selected partition that has none or whose leader may no longer lead. */
  private electWhereNeeded(batch: Batch, select: (state: PartitionState) => boolean): void {
    const image = batch.image;
    const decisions: PartitionChangeDecision[] = [];
    for (const { topic, state } of image.allPartitions()) {
      if (!select(state) || (state.leader !== -1 && image.isBrokerActive(state.leader))) continue;
      decisions.push(
        electLeader(topic, state, {
          eligible: (id) => image.isBrokerActive(id),
          // A fenced leader also leaves the ISR, as if it had been fenced just now.
          ...(state.leader !== -1 && image.broker(state.leader)?.fenced !== false ? { removeFromIsr: state.leader } : {}),
          uncleanAllowed: this.uncleanAllowed(image, topic.name),
        }),
      );
    }
    batch.addDecisions(decisions);
  }

  private electPreferredLeadersInto(batch: Batch): void {
    const image = batch.image;
    const decisions: PartitionChangeDecision[] = [];
    for (const { state } of image.allPartitions()) {
      decisions.push({ record: electPreferredLeader(state, (id) => image.isBrokerActive(id)), unclean: null });
    }
    batch.addDecisions(decisions);
  }

  private assignmentsFor(image: MetadataImage, request: CreateTopicRequest): number[][] | RunnelError {
    if (request.assignments !== undefined) {
      if (request.numPartitions !== undefined || request.replicationFactor !== undefined) {
        return new RunnelError('INVALID_REQUEST', `topic '${request.name}': give either assignments or numPartitions/replicationFactor, not both`);
      }
      return validateAssignments(image, request.name, request.assignments);
    }
    const numPartitions = request.numPartitions ?? this.config.defaultNumPartitions;
    const replicationFactor = request.replicationFactor ?? this.config.defaultReplicationFactor;
    const countError = validatePartitionCount(numPartitions);
    if (countError !== null) return countError;
    const usable = usableBrokers(image);
    const rfError = validateReplicationFactor(replicationFactor, usable.length);
    if (rfError !== null) return rfError;
    return placeReplicas(usable, { numPartitions, replicationFactor }, this.random);
  }

  private addTopic(batch: Batch, request: CreateTopicRequest, topicId: string, assignments: number[][]): void {
    batch.add({ type: 'Topic', version: 1, name: request.name, topicId });
    batch.add(...assignments.map((replicas, partition) => newPartitionRecord(topicId, partition, replicas, batch.image)));
    const configs = request.configs ?? {};
    for (const name of Object.keys(configs).sort()) {
      batch.add({ type: 'Config', version: 1, resourceType: 'topic', resourceName: request.name, name, value: configs[name] as string });
    }
  }

  /** 16 random bytes in base64url, like Kafka's topic UUIDs; drawn again on the (unlikely) collision. */
  private newTopicId(image: MetadataImage): string | RunnelError {
    for (let attempt = 0; attempt < TOPIC_ID_ATTEMPTS_MAX; attempt++) {
      let id = '';
      for (let i = 0; i < 22; i++) id += BASE64URL[this.random.int(i === 21 ? 4 : 64)];
      // A leading '-' would read as a command-line flag, which Kafka avoids as well.
      if (!id.startsWith('-') && image.topicById(id) === undefined) return id;
    }
    return new RunnelError('UNKNOWN_SERVER_ERROR', 'could not draw an unused topic id');
  }
}

function usableBrokers(image: MetadataImage): PlacementBroker[] {
  return [...image.brokers.values()].filter((b) => image.isBrokerActive(b.brokerId)).map((b) => ({ brokerId: b.brokerId, rack: b.rack }));
}

function newPartitionRecord(topicId: string, partition: number, replicas: number[], image: MetadataImage): MetadataRecord {
  const isr = replicas.filter((id) => image.isBrokerActive(id));
  assert(isr.length > 0, `new partition ${topicId}-${partition} has no live replica`);
  return {
    type: 'Partition',
    version: 1,
    topicId,
    partition,
    replicas,
    isr,
    leader: isr[0] as number,
    leaderEpoch: 0,
    partitionEpoch: 0,
    leaderRecoveryState: 'recovered',
  };
}

function validateAssignments(image: MetadataImage, name: string, assignments: readonly (readonly number[])[]): number[][] | RunnelError {
  const invalid = (message: string) => new RunnelError('INVALID_REPLICA_ASSIGNMENT', `topic '${name}': ${message}`);
  const countError = validatePartitionCount(assignments.length);
  if (countError !== null) return countError;
  const replicationFactor = assignments[0]?.length ?? 0;
  for (const [partition, replicas] of assignments.entries()) {
    if (replicas.length === 0 || replicas.length !== replicationFactor) return invalid(`partition ${partition} has ${replicas.length} replicas, expected ${replicationFactor}`);
    if (new Set(replicas).size !== replicas.length) return invalid(`partition ${partition} lists a broker twice`);
    const unknown = replicas.find((id) => image.broker(id) === undefined);
    if (unknown !== undefined) return invalid(`broker ${unknown} is not registered`);
    if (!replicas.some((id) => image.isBrokerActive(id))) return invalid(`every broker of partition ${partition} is fenced or shutting down`);
  }
  return assignments.map((replicas) => [...replicas]);
}

/** Partitions whose leader differs between the image and the image after the records. */
function changedLeaders(before: MetadataImage, records: readonly MetadataRecord[]): PartitionRef[] {
  const seen = new Set<string>();
  const refs: PartitionRef[] = [];
  for (const record of records) {
    if (record.type !== 'PartitionChange' || record.leader === undefined) continue;
    const key = `${record.topicId}:${record.partition}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const topic = before.topicById(record.topicId);
    const state = before.partition(record.topicId, record.partition);
    if (topic !== undefined && state !== undefined) refs.push(refOf(topic, state));
  }
  return refs;
}
