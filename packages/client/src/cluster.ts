// Connections and the metadata cache shared by the admin, producers and consumers of one Runnel
// instance: one gRPC channel per broker address, reused by every caller; topic metadata fetched
// from any broker, cached, and refreshed when a response says the cache is stale.

import * as grpc from '@grpc/grpc-js';
import { Pipeline, RunnelError, createBrokerClient, unaryCall } from '@runnel/protocol';
import type { BrokerClient, FetchRequest, FetchResponse, MetadataResponse, ProduceRequest, ProduceResponse, RequestOf, ResponseOf, UnaryMethodName } from '@runnel/protocol';
import type { Clock, Logger } from './logger.js';
import { retry } from './retry.js';
import type { ResolvedRetryOptions, RetryCallOptions, Sleep } from './retry.js';

/** A broker as the metadata names it. */
export interface BrokerNode {
  id: number;
  host: string;
  port: number;
  rack: string;
  fenced: boolean;
}

/** One partition of a topic as the cached metadata describes it. */
export interface PartitionInfo {
  partition: number;
  /** -1 when the partition has no leader (offline). */
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

/** A topic as the cached metadata describes it, partitions sorted by id. */
export interface TopicInfo {
  name: string;
  topicId: string;
  isInternal: boolean;
  partitions: PartitionInfo[];
}

/** Everything a Cluster needs, resolved by the Runnel constructor. */
export interface ClusterOptions {
  bootstrapBrokers: readonly string[];
  clientId: string;
  logger: Logger;
  retry: ResolvedRetryOptions;
  requestTimeoutMs: number;
  clock: Clock;
  random: () => number;
  sleep: Sleep;
}

type BrokerMethod = UnaryMethodName<BrokerClient>;

/**
 * Keepalive of client-to-broker channels while calls are in flight. A leader that hangs (paused,
 * partitioned, swapping) instead of dying keeps its connections open, and without pings a produce or
 * fetch already sent to it would wait out its whole deadline (request plus ack timeout, a minute by
 * default) although the controller moved the partition after a session timeout. A ping unanswered for
 * KEEPALIVE_TIMEOUT_MS closes the channel, the calls fail with NETWORK_EXCEPTION and are retried at
 * the new leader. Only while calls are active, so idle clients cost brokers nothing.
 */
export const KEEPALIVE_TIME_MS = 2_000;
export const KEEPALIVE_TIMEOUT_MS = 2_000;
/**
 * Bound on setting up a connection (TCP plus the HTTP/2 handshake) before a call is made on it, like
 * Kafka's socket.connection.setup.timeout.ms. gRPC itself waits for a broker's handshake as long as
 * the call's deadline: a paused broker accepts TCP (the kernel does) but never answers, so a retry
 * sent to it on stale metadata would hang for the whole request timeout.
 */
export const CONNECT_TIMEOUT_MS = 3_000;
/** An address whose call failed on the network is tried last by callAny() for this long. */
export const SUSPECT_FOR_MS = 10_000;
const CLIENT_CHANNEL_OPTIONS = Object.freeze({
  'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
  'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  'grpc.keepalive_permit_without_calls': 0,
  // Its own subchannels: a channel dropped for a stuck connection attempt must not hand the same
  // stuck subchannel to its replacement (grpc-js shares subchannels through a global pool).
  'grpc.use_local_subchannel_pool': 1,
});

/** Connection pool plus metadata cache. Internal to the client: users reach it through Runnel. */
interface BrokerPipelines {
  readonly produce: Pipeline<ProduceRequest, ProduceResponse>;
  readonly fetch: Pipeline<FetchRequest, FetchResponse>;
}

export class Cluster {
  readonly options: ClusterOptions;
  readonly logger: Logger;
  private readonly clients = new Map<string, BrokerClient>();
  private readonly pipelines = new WeakMap<BrokerClient, BrokerPipelines>();
  private brokers = new Map<number, BrokerNode>();
  private topics = new Map<string, TopicInfo>();
  private readonly trackedTopics = new Set<string>();
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private nextBootstrapIndex = 0;
  /** Address -> when a call to it last failed with a network error or timeout. */
  private readonly suspectSinceMs = new Map<string, number>();
  private closed = false;
  /** The cluster id and controller from the latest metadata answer. */
  clusterId = '';
  controllerId = -1;

  /** Validates the bootstrap list; connects lazily. */
  constructor(options: ClusterOptions) {
    if (options.bootstrapBrokers.length === 0) throw new RangeError('brokers: give at least one bootstrap broker "host:port"');
    for (const address of options.bootstrapBrokers) parseAddress(address);
    this.options = options;
    this.logger = options.logger;
  }

  /** The channel to `address`, created on first use and kept until close(). */
  client(address: string): BrokerClient {
    if (this.closed) throw new RunnelError('NETWORK_EXCEPTION', 'the client is disconnected');
    let client = this.clients.get(address);
    if (client === undefined) {
      client = createBrokerClient(address, { ...CLIENT_CHANNEL_OPTIONS });
      this.clients.set(address, client);
    }
    return client;
  }

  /** One call, no retry, under the request timeout (or `timeoutMs`), on a connection set up within CONNECT_TIMEOUT_MS. */
  async call<K extends BrokerMethod>(address: string, method: K, request: RequestOf<BrokerClient[K]>, timeoutMs?: number): Promise<ResponseOf<BrokerClient[K]>> {
    const client = this.client(address);
    await this.connected(address, client);
    return this.watch(address, unaryCall(client, method, request, timeoutMs ?? this.options.requestTimeoutMs));
  }

  /**
   * Resolves once the channel to `address` is ready. Rejects with NETWORK_EXCEPTION at once when the
   * channel already knows the broker is unreachable (as a call would), and when a connection is not
   * set up within CONNECT_TIMEOUT_MS.
   */
  private connected(address: string, client: BrokerClient): Promise<void> {
    const channel = (client as unknown as grpc.Client).getChannel();
    const deadlineMs = Date.now() + CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const fail = (why: string, cause?: Error): void => {
        this.suspectSinceMs.set(address, this.options.clock.nowMs());
        reject(new RunnelError('NETWORK_EXCEPTION', `broker ${address} ${why}`, { cause, details: { address } }));
      };
      const check = (): void => {
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY) return resolve();
        if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) return fail('is unreachable');
        channel.watchConnectivityState(state, deadlineMs, (error?: Error) => {
          if (error === undefined) return check();
          // grpc-js puts no deadline on connection setup: an attempt whose SYNs were dropped stays
          // CONNECTING for the kernel's retry budget (about 2 min), even once the network is back.
          // Dropping the channel makes the next call start a fresh connection.
          if (channel.getConnectivityState(false) === grpc.connectivityState.CONNECTING && this.clients.get(address) === client) {
            this.clients.delete(address);
            client.close();
          }
          fail(`did not complete a connection within ${CONNECT_TIMEOUT_MS} ms`, error);
        });
      };
      check();
    });
  }

  /** Notes network failures of calls to `address`, so that callAny() asks healthier brokers first. */
  private watch<T>(address: string, call: Promise<T>): Promise<T> {
    return call.then(
      (response) => {
        this.suspectSinceMs.delete(address);
        return response;
      },
      (error: unknown) => {
        if (error instanceof RunnelError && (error.codeName === 'NETWORK_EXCEPTION' || error.codeName === 'REQUEST_TIMED_OUT')) {
          this.suspectSinceMs.set(address, this.options.clock.nowMs());
        }
        throw error;
      },
    );
  }

  /**
   * Produce to broker `brokerId`, no retry: pipelined with the other produce requests to that broker
   * on one long-lived stream (Kafka's in-flight requests on one connection), not a unary call each.
   */
  async produce(brokerId: number, request: ProduceRequest, timeoutMs: number): Promise<ProduceResponse> {
    const address = this.addressOf(brokerId);
    const client = this.client(address);
    await this.connected(address, client);
    return this.watch(address, this.pipelinesOf(address, client).produce.call(request, timeoutMs));
  }

  /** Fetch from broker `brokerId`, pipelined like produce(); `signal` drops the long poll (NETWORK_EXCEPTION). */
  async fetch(brokerId: number, request: FetchRequest, timeoutMs: number, signal: AbortSignal): Promise<FetchResponse> {
    const address = this.addressOf(brokerId);
    const client = this.client(address);
    await this.connected(address, client);
    return this.watch(address, this.pipelinesOf(address, client).fetch.call(request, timeoutMs, signal));
  }

  /** The pipelines on `client`'s channel, made on first use; a replaced channel gets new ones. */
  private pipelinesOf(address: string, client: BrokerClient): BrokerPipelines {
    let pipelines = this.pipelines.get(client);
    if (pipelines === undefined) {
      pipelines = {
        produce: new Pipeline<ProduceRequest, ProduceResponse>({
          open: () => client.produceStream(),
          unary: (request, timeoutMs) => unaryCall(client, 'produce', request, timeoutMs),
          method: 'produce',
          target: address,
        }),
        fetch: new Pipeline<FetchRequest, FetchResponse>({
          open: () => client.fetchStream(),
          unary: (request, timeoutMs, signal) => unaryCall(client, 'fetch', request, timeoutMs, signal),
          method: 'fetch',
          target: address,
        }),
      };
      this.pipelines.set(client, pipelines);
    }
    return pipelines;
  }

  /** The address of broker `brokerId`; LEADER_NOT_AVAILABLE (stale metadata) when it is not known. */
  addressOf(brokerId: number): string {
    const broker = this.brokers.get(brokerId);
    if (broker === undefined) {
      throw new RunnelError('LEADER_NOT_AVAILABLE', `broker ${brokerId} is not in the cached metadata`, { details: { brokerId } });
    }
    return `${broker.host}:${broker.port}`;
  }

  /** One call to broker `brokerId`, no retry. */
  callBroker<K extends BrokerMethod>(brokerId: number, method: K, request: RequestOf<BrokerClient[K]>, timeoutMs?: number): Promise<ResponseOf<BrokerClient[K]>> {
    return this.call(this.addressOf(brokerId), method, request, timeoutMs);
  }

  /**
   * One call to whichever broker answers: known brokers first, then the bootstrap list, starting
   * at a rotating position so load and failures spread. Tries each address once.
   */
  async callAny<K extends BrokerMethod>(method: K, request: RequestOf<BrokerClient[K]>): Promise<ResponseOf<BrokerClient[K]>> {
    const { healthy, suspect } = this.candidateAddresses();
    // Rotate among the healthy so load and failures spread; recently failed addresses go last.
    const start = healthy.length === 0 ? 0 : this.nextBootstrapIndex % healthy.length;
    const addresses = [...healthy.slice(start), ...healthy.slice(0, start), ...suspect];
    let lastError: unknown = null;
    for (let i = 0; i < addresses.length; i++) {
      const address = addresses[i] as string;
      try {
        const response = await this.call(address, method, request);
        if (i < healthy.length) this.nextBootstrapIndex = (start + i) % healthy.length;
        return response;
      } catch (error) {
        if (!(error instanceof RunnelError) || !error.retriable) throw error;
        lastError = error;
        this.logger.debug({ address, method, codeName: error.codeName }, 'broker did not answer; trying the next');
      }
    }
    this.nextBootstrapIndex = (this.nextBootstrapIndex + 1) % Math.max(1, addresses.length);
    throw lastError instanceof RunnelError
      ? lastError
      : new RunnelError('NETWORK_EXCEPTION', `no broker answered ${String(method)}`);
  }

  /** Known unfenced brokers, then the bootstrap list, split by whether a call to them failed recently. */
  private candidateAddresses(): { healthy: string[]; suspect: string[] } {
    const known = [...this.brokers.values()].filter((b) => !b.fenced).map((b) => `${b.host}:${b.port}`);
    const all = [...new Set([...known, ...this.options.bootstrapBrokers])];
    const nowMs = this.options.clock.nowMs();
    const isSuspect = (address: string): boolean => nowMs - (this.suspectSinceMs.get(address) ?? Number.NEGATIVE_INFINITY) < SUSPECT_FOR_MS;
    return { healthy: all.filter((a) => !isSuspect(a)), suspect: all.filter(isSuspect) };
  }

  /** Runs `fn` through the shared retry helper with this client's options, clock and randomness. */
  retry<T>(fn: (attempt: number) => Promise<T>, call: RetryCallOptions = {}): Promise<T> {
    return retry(fn, this.options.retry, { random: this.options.random, sleep: this.options.sleep, nowMs: () => this.options.clock.nowMs() }, call);
  }

  /**
   * Fetches metadata for every tracked topic plus `topics` (which become tracked). Concurrent
   * callers share one request; a call arriving while one is in flight gets a fresh one after it,
   * because the in-flight answer may predate the change that made the caller ask.
   */
  async refreshMetadata(topics: readonly string[] = []): Promise<void> {
    for (const topic of topics) this.trackedTopics.add(topic);
    if (this.refreshing !== null) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const response = await this.callAny('metadata', { topics: [...this.trackedTopics], allTopics: false });
          this.applyMetadata(response, [...this.trackedTopics]);
        } while (this.refreshAgain);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Every topic in the cluster (a Metadata request for all topics), without tracking them. */
  async fetchAllTopics(): Promise<TopicInfo[]> {
    const response = await this.callAny('metadata', { topics: [], allTopics: true });
    this.applyBrokers(response);
    return response.topics.filter((t) => t.errorCode === 0).map(toTopicInfo);
  }

  /** Fresh metadata for `topics`, retried while a topic is unknown or leaderless (e.g. just created). */
  async ensureTopics(topics: readonly string[]): Promise<Map<string, TopicInfo>> {
    await this.retry(async () => {
      await this.refreshMetadata(topics);
      for (const topic of topics) {
        const info = this.topics.get(topic);
        if (info === undefined) throw new RunnelError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}" does not exist`, { details: { topic } });
      }
    }, { operation: 'metadata' });
    return new Map(topics.map((t) => [t, this.topics.get(t) as TopicInfo]));
  }

  /** The cached metadata of `topic`, if any. */
  topic(topic: string): TopicInfo | undefined {
    return this.topics.get(topic);
  }

  /** Cached brokers. */
  brokerList(): BrokerNode[] {
    return [...this.brokers.values()].sort((a, b) => a.id - b.id);
  }

  /** The cached leader of a partition, or -1 when unknown or offline. */
  leaderOf(topic: string, partition: number): number {
    const info = this.partitionInfo(topic, partition);
    if (info === undefined || info.leaderId < 0 || !this.brokers.has(info.leaderId)) return -1;
    return info.leaderId;
  }

  /** The cached leader epoch of a partition, or -1 when unknown. */
  leaderEpochOf(topic: string, partition: number): number {
    return this.partitionInfo(topic, partition)?.leaderEpoch ?? -1;
  }

  private partitionInfo(topic: string, partition: number): PartitionInfo | undefined {
    const partitions = this.topics.get(topic)?.partitions;
    const direct = partitions?.[partition];
    // Partitions are sorted by id, so the index is the id unless the answer skipped one.
    return direct?.partition === partition ? direct : partitions?.find((p) => p.partition === partition);
  }

  private applyBrokers(response: MetadataResponse): void {
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    this.brokers = new Map(response.brokers.map((b) => [b.id, { id: b.id, host: b.host, port: b.port, rack: b.rack, fenced: b.fenced }]));
  }

  private applyMetadata(response: MetadataResponse, requested: readonly string[]): void {
    this.applyBrokers(response);
    const answered = new Set<string>();
    for (const topic of response.topics) {
      answered.add(topic.name);
      if (topic.errorCode !== 0) {
        // An unknown topic is dropped from the cache so producers wait for it instead of writing
        // to partitions of a deleted incarnation.
        this.topics.delete(topic.name);
        continue;
      }
      this.topics.set(topic.name, toTopicInfo(topic));
    }
    for (const topic of requested) if (!answered.has(topic)) this.topics.delete(topic);
    this.logger.debug({ topics: requested.length, brokers: this.brokers.size }, 'metadata refreshed');
  }

  /** Closes every channel; later calls fail with NETWORK_EXCEPTION. */
  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) {
      const pipelines = this.pipelines.get(client);
      pipelines?.produce.close();
      pipelines?.fetch.close();
      client.close();
    }
    this.clients.clear();
  }
}

function toTopicInfo(topic: MetadataResponse['topics'][number]): TopicInfo {
  const partitions = topic.partitions
    .map((p) => ({
      partition: p.partition,
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      replicas: [...p.replicas],
      isr: [...p.isr],
      offlineReplicas: [...p.offlineReplicas],
      errorCode: p.errorCode,
    }))
    .sort((a, b) => a.partition - b.partition);
  return { name: topic.name, topicId: topic.topicId, isInternal: topic.isInternal, partitions };
}

/** Splits "host:port", rejecting anything else early so a typo fails at construction. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new RangeError(`broker address must be "host:port", got "${address}"`);
  }
  return { host: address.slice(0, colon), port };
}
