// FetchTransport over gRPC: one channel per leader broker, reused for every fetch (architecture §4),
// with a deadline on each call and the fetcher's abort cancelling the call in flight.
import type * as grpc from '@grpc/grpc-js';
import { createBrokerClient } from '@runnel/protocol';
import type { BrokerClient, FetchRequest, FetchResponse } from '@runnel/protocol';
import type { FetchTransport } from '../manager/replica-fetcher.js';
import { leaderUnreachable } from '../manager/replica-fetcher.js';

export class GrpcFetchTransport implements FetchTransport {
  private readonly clients = new Map<number, { address: string; client: BrokerClient }>();

  /** `addressOf` maps a broker id to "host:port" (from the metadata image), undefined when unknown. */
  constructor(
    private readonly addressOf: (brokerId: number) => string | undefined,
    private readonly channelOptions?: grpc.ChannelOptions,
  ) {}

  fetch(leaderId: number, request: FetchRequest, options: { timeoutMs: number; signal: AbortSignal }): Promise<FetchResponse> {
    const client = this.clientFor(leaderId);
    if (client === undefined) return Promise.reject(leaderUnreachable(leaderId));
    return new Promise<FetchResponse>((resolve, reject) => {
      const call = client.fetch(request, { deadline: Date.now() + options.timeoutMs }, (err, response) => {
        options.signal.removeEventListener('abort', onAbort);
        if (err !== null || response === undefined) reject(leaderUnreachable(leaderId, err));
        else resolve(response);
      });
      const onAbort = (): void => call.cancel();
      options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private clientFor(leaderId: number): BrokerClient | undefined {
    const address = this.addressOf(leaderId);
    if (address === undefined) return undefined;
    const cached = this.clients.get(leaderId);
    if (cached !== undefined && cached.address === address) return cached.client;
    // The leader moved to a new address (restarted elsewhere): drop the old channel.
    cached?.client.close();
    const client = createBrokerClient(address, this.channelOptions);
    this.clients.set(leaderId, { address, client });
    return client;
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
