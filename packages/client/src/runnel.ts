// The entry point, KafkaJS style: one Runnel per application holds the connections and metadata
// that its admin, producers and consumers share.

import { Admin } from './admin.js';
import { Cluster } from './cluster.js';
import { Consumer } from './consumer.js';
import type { ConsumerOptions } from './consumer.js';
import { SILENT_LOGGER, SYSTEM_CLOCK } from './logger.js';
import type { Clock, Logger } from './logger.js';
import { Producer } from './producer.js';
import type { ProducerOptions, RawValue } from './producer.js';
import { realSleep, resolveRetryOptions } from './retry.js';
import type { RetryOptions, Sleep } from './retry.js';

/** Client settings. */
export interface RunnelConfig {
  /** Bootstrap brokers, "host:port"; any one that answers is enough. */
  brokers: string[];
  /** Names this application in broker logs. Default 'runnel'. */
  clientId?: string;
  /** A pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Backoff and attempts of every retried request. */
  retry?: RetryOptions;
  /** Deadline of one request. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
  /** Randomness in [0, 1) for jitter and partition choice. Default: Math.random. */
  random?: () => number;
  /** How backoffs wait. Default: setTimeout. */
  sleep?: Sleep;
}

/** Default deadline of one request, as in KafkaJS and Kafka's request.timeout.ms. */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;

/** A connection to a Runnel cluster: the factory of admins, producers and consumers. */
export class Runnel {
  private readonly cluster: Cluster;

  /** Validates the configuration; no connection is made until first use. */
  constructor(config: RunnelConfig) {
    const requestTimeoutMs = config.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
    if (!(Number.isInteger(requestTimeoutMs) && requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`);
    this.cluster = new Cluster({
      bootstrapBrokers: [...config.brokers],
      clientId: config.clientId ?? 'runnel',
      logger: config.logger ?? SILENT_LOGGER,
      retry: resolveRetryOptions(config.retry),
      requestTimeoutMs,
      clock: config.clock ?? SYSTEM_CLOCK,
      random: config.random ?? Math.random,
      sleep: config.sleep ?? realSleep,
    });
  }

  /** An admin client. */
  admin(): Admin {
    return new Admin(this.cluster);
  }

  /**
   * A producer; see {@link ProducerOptions} for defaults. With `serde`, K and V are the
   * application's key and value types, e.g. `runnel.producer<string, Order>({ serde: { key: Serdes.string, value: Serdes.json<Order>() } })`.
   */
  producer<K = RawValue, V = RawValue>(options: ProducerOptions<K, V> = {}): Producer<K, V> {
    return new Producer<K, V>(this.cluster, options);
  }

  /**
   * A consumer, of a group (`groupId`, then subscribe()) or of partitions assigned by hand; see
   * {@link ConsumerOptions}. With `serde`, messages carry K and V instead of Buffers.
   */
  consumer<K = Buffer, V = Buffer>(options: ConsumerOptions<K, V> = {}): Consumer<K, V> {
    return new Consumer<K, V>(this.cluster, options);
  }

  /** Closes every broker channel. Disconnect producers and consumers first. */
  close(): void {
    this.cluster.close();
  }
}
