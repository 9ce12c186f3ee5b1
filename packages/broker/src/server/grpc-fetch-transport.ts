// FetchTransport over gRPC: one channel per leader broker, reused for every fetch (architecture §4),
// with a deadline on each call and the fetcher's abort cancelling the call in flight. Channels are
// PeerChannels: a connection attempt stuck behind a healed network partition is abandoned for a
// fresh one instead of holding the follower out of the ISR for the kernel's SYN retry budget.
import type * as grpc from '@grpc/grpc-js';
import { PeerChannel, createBrokerClient } from '@runnel/protocol';
import type { BrokerClient, FetchRequest, FetchResponse } from '@runnel/protocol';
import type { FetchTransport } from '../manager/replica-fetcher.js';
import { leaderUnreachable } from '../manager/replica-fetcher.js';

export interface GrpcFetchTransportOptions {
  readonly channelOptions?: grpc.ChannelOptions;
  /** Bound on connection setup to a leader (see PeerChannel). */
  readonly connectTimeoutMs?: number;
  readonly nowMs?: () => number;
  readonly onChannelReplaced?: (info: { leaderId: number; address: string; connectingForMs: number }) => void;
}

export class GrpcFetchTransport implements FetchTransport {
  private readonly channels = new Map<number, PeerChannel<BrokerClient>>();

  /** `addressOf` maps a broker id to "host:port" (from the metadata image), undefined when unknown. */
  constructor(
    private readonly addressOf: (brokerId: number) => string | undefined,
    private readonly options: GrpcFetchTransportOptions = {},
  ) {}

  fetch(leaderId: number, request: FetchRequest, options: { timeoutMs: number; signal: AbortSignal }): Promise<FetchResponse> {
    const channel = this.channelFor(leaderId);
    if (channel === undefined) return Promise.reject(leaderUnreachable(leaderId));
    return new Promise<FetchResponse>((resolve, reject) => {
      const call = channel.client.fetch(request, { deadline: Date.now() + options.timeoutMs }, (err, response) => {
        options.signal.removeEventListener('abort', onAbort);
        if (err !== null || response === undefined) {
          if (!options.signal.aborted) channel.noteFailure();
          reject(leaderUnreachable(leaderId, err));
        } else {
          channel.noteSuccess();
          resolve(response);
        }
      });
      const onAbort = (): void => call.cancel();
      options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private channelFor(leaderId: number): PeerChannel<BrokerClient> | undefined {
    const address = this.addressOf(leaderId);
    if (address === undefined) return undefined;
    const cached = this.channels.get(leaderId);
    if (cached !== undefined && cached.address === address) return cached;
    // The leader moved to a new address (restarted elsewhere): drop the old channel.
    cached?.close();
    const { channelOptions, connectTimeoutMs, onChannelReplaced } = this.options;
    const channel = new PeerChannel<BrokerClient>({
      address,
      create: (target, extra) => createBrokerClient(target, { ...channelOptions, ...extra }),
      nowMs: this.options.nowMs ?? Date.now,
      ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
      ...(onChannelReplaced === undefined ? {} : { onReplaced: (info) => onChannelReplaced({ leaderId, ...info }) }),
    });
    this.channels.set(leaderId, channel);
    return channel;
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
