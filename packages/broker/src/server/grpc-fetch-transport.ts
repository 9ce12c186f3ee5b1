// FetchTransport over gRPC: one channel per leader broker, reused for every fetch (architecture §4).
// Fetches are pipelined on one long-lived FetchStream per leader (pipeline.ts) instead of a unary
// call each, which costs far less CPU per replicated batch (docs/performance.md); each fetch still has its own timeout,
// and the fetcher's abort drops the one in flight. Channels are
// PeerChannels: a connection attempt stuck behind a healed network partition is abandoned for a
// fresh one instead of holding the follower out of the ISR for the kernel's SYN retry budget.
import type * as grpc from '@grpc/grpc-js';
import { PeerChannel, Pipeline, createBrokerClient, unaryCall } from '@runnel/protocol';
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
  private readonly pipelines = new Map<PeerChannel<BrokerClient>, { client: BrokerClient; pipeline: Pipeline<FetchRequest, FetchResponse> }>();

  /** `addressOf` maps a broker id to "host:port" (from the metadata image), undefined when unknown. */
  constructor(
    private readonly addressOf: (brokerId: number) => string | undefined,
    private readonly options: GrpcFetchTransportOptions = {},
  ) {}

  fetch(leaderId: number, request: FetchRequest, options: { timeoutMs: number; signal: AbortSignal }): Promise<FetchResponse> {
    const channel = this.channelFor(leaderId);
    if (channel === undefined) return Promise.reject(leaderUnreachable(leaderId));
    return this.pipelineFor(channel)
      .call(request, options.timeoutMs, options.signal)
      .then(
        (response) => {
          channel.noteSuccess();
          return response;
        },
        (err: unknown) => {
          if (!options.signal.aborted) channel.noteFailure();
          throw leaderUnreachable(leaderId, err);
        },
      );
  }

  /** The fetch pipeline on the channel's current client; a replaced client gets a new one. */
  private pipelineFor(channel: PeerChannel<BrokerClient>): Pipeline<FetchRequest, FetchResponse> {
    const client = channel.client;
    const cached = this.pipelines.get(channel);
    if (cached !== undefined && cached.client === client) return cached.pipeline;
    cached?.pipeline.close();
    const pipeline = new Pipeline<FetchRequest, FetchResponse>({
      open: () => client.fetchStream(),
      unary: (request, timeoutMs, signal) => unaryCall(client, 'fetch', request, timeoutMs, signal),
      method: 'fetch',
      target: channel.address,
    });
    this.pipelines.set(channel, { client, pipeline });
    return pipeline;
  }

  private channelFor(leaderId: number): PeerChannel<BrokerClient> | undefined {
    const address = this.addressOf(leaderId);
    if (address === undefined) return undefined;
    const cached = this.channels.get(leaderId);
    if (cached !== undefined && cached.address === address) return cached;
    // The leader moved to a new address (restarted elsewhere): drop the old channel.
    if (cached !== undefined) this.closeChannel(cached);
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

  private closeChannel(channel: PeerChannel<BrokerClient>): void {
    this.pipelines.get(channel)?.pipeline.close();
    this.pipelines.delete(channel);
    channel.close();
  }

  close(): void {
    for (const channel of this.channels.values()) this.closeChannel(channel);
    this.channels.clear();
  }
}
