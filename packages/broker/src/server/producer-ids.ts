// Producer ids for InitProducerId: the controller allocates blocks (AllocateProducerIds, committed in
// the metadata log so no two brokers ever hand out the same id) and the broker hands them out one by
// one. Block fetches are serialised: concurrent callers share one request instead of wasting blocks.
import { ErrorCode, RunnelError, errorInfo } from '@runnel/protocol';
import type { ControllerChannel } from './controller-channel.js';

export interface ProducerIdAllocatorOptions {
  readonly controller: ControllerChannel;
  readonly brokerId: number;
  /** The epoch the controller granted this broker's registration (0 until registered). */
  readonly brokerEpoch: () => number;
  readonly requestTimeoutMs: number;
}

export class ProducerIdAllocator {
  private nextId = 0;
  private endId = 0;
  private refill: Promise<void> | undefined;

  constructor(private readonly options: ProducerIdAllocatorOptions) {}

  async next(): Promise<number> {
    // Bounded: each pass either takes an id or waits for one refill, which throws on failure.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.nextId < this.endId) return this.nextId++;
      this.refill ??= this.fetchBlock().finally(() => {
        this.refill = undefined;
      });
      await this.refill;
    }
    throw new RunnelError('COORDINATOR_LOAD_IN_PROGRESS', 'producer id blocks are being used up faster than allocated; retry');
  }

  private async fetchBlock(): Promise<void> {
    const brokerEpoch = this.options.brokerEpoch();
    if (brokerEpoch <= 0) throw new RunnelError('COORDINATOR_LOAD_IN_PROGRESS', `broker ${this.options.brokerId} is not registered with the controller yet; retry`);
    const response = await this.options.controller.call('allocateProducerIds', { brokerId: this.options.brokerId, brokerEpoch }, this.options.requestTimeoutMs);
    if (response.errorCode !== ErrorCode.NONE) {
      throw new RunnelError(errorInfo(response.errorCode).name, `AllocateProducerIds: ${response.errorMessage}`);
    }
    if (response.count <= 0) throw new RunnelError('UNKNOWN_SERVER_ERROR', 'the controller allocated an empty producer id block');
    this.nextId = response.firstProducerId;
    this.endId = response.firstProducerId + response.count;
  }
}
