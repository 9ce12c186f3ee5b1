import { RunnelError } from '@runnel/protocol';
import { MetadataImage } from './metadata-image.js';
import type { ControllerResult, QuorumControllerConfig } from './controller-types.js';
import { QuorumController } from './quorum-controller.js';
import { seededRandom } from './random.js';

/**
 * Plays the driver for tests: every result is "proposed" and committed at once (one offset per
 * batch), and the committed offset is reported back, as the daemon will after Raft commits it.
 */
export class ControllerHarness {
  image = MetadataImage.EMPTY;
  offset = -1;
  nowMs = 0;
  readonly controller: QuorumController;
  readonly epochs = new Map<number, number>();

  constructor(config: Partial<QuorumControllerConfig> = {}, seed = 1) {
    this.controller = new QuorumController(config, seededRandom(seed));
  }

  commit<T>(result: ControllerResult<T>): T {
    if (result.records.length > 0) {
      this.image = this.image.applyAll(result.records);
      this.offset += 1;
      this.controller.setCommittedOffset(this.offset);
    }
    return result.response;
  }

  /** Registers and heartbeats a broker until it is unfenced. */
  startBroker(brokerId: number, rack: string | null = null, incarnation = `inc-${brokerId}-${this.nowMs}`): number {
    const registered = ok(this.commit(this.controller.registerBroker(this.image, { brokerId, incarnationId: incarnation, endpoints: [], rack }, this.nowMs)));
    this.epochs.set(brokerId, registered.brokerEpoch);
    ok(this.heartbeat(brokerId));
    return registered.brokerEpoch;
  }

  heartbeat(brokerId: number, options: { wantFence?: boolean; wantShutdown?: boolean; metadataOffset?: number } = {}) {
    return this.commit(
      this.controller.brokerHeartbeat(
        this.image,
        {
          brokerId,
          brokerEpoch: this.epochs.get(brokerId) ?? -1,
          metadataOffset: options.metadataOffset ?? this.offset,
          wantFence: options.wantFence ?? false,
          wantShutdown: options.wantShutdown ?? false,
        },
        this.nowMs,
      ),
    );
  }

  /** Advances the clock, heartbeats every listed broker at the new time, then ticks. */
  advance(ms: number, heartbeating: readonly number[] = []) {
    this.nowMs += ms;
    for (const id of heartbeating) ok(this.heartbeat(id));
    return this.tick();
  }

  tick() {
    const result = this.controller.tick(this.image, this.nowMs);
    this.commit(result);
    return result;
  }

  createTopic(name: string, numPartitions: number, replicationFactor: number, configs: Record<string, string> = {}): string {
    const [created] = this.commit(this.controller.createTopics(this.image, [{ name, numPartitions, replicationFactor, configs }]));
    if (created === undefined || created.error !== null || created.topicId === null) throw created?.error ?? new Error('no result');
    return created.topicId;
  }
}

export function ok<T>(value: T | RunnelError): T {
  if (value instanceof RunnelError) throw value;
  return value;
}
