// Raft messages over gRPC. Outbound: one long-lived channel per peer; each Ready's messages for a peer
// become one queued batch, and queued batches are coalesced into a single `Deliver` call when the
// previous call returns, so a slow peer gets fewer, larger calls instead of a growing backlog.
// Raft tolerates lost messages (it retransmits on the next heartbeat or probe), so the transport never
// retries and never blocks the core: beyond its bounds it drops the oldest batches.
// Inbound: `createRaftServiceHandlers` checks the cluster id, decodes the whole batch (nothing is
// delivered from a malformed one) and hands it to the node without waiting for it to be processed.

import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ErrorCode, PeerChannel, RunnelError, createRaftClient, unaryCall } from '@runnel/protocol';
import type { RaftBatch, RaftBatchAck, RaftClient } from '@runnel/protocol';
import type { Message, NodeId } from '../core/types.js';
import type { Clock } from './clock.js';
import { SYSTEM_CLOCK } from './clock.js';
import { messageFromProto, messageToProto } from './wire.js';

export interface GrpcTransportOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
  /** Peer id -> "host:port". An entry for `selfId` is ignored. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** This node's own Raft listener, sent with every batch so peers can answer nodes they were not configured with. */
  readonly selfEndpoint?: string;
  /** Peers learned from inbound batches (observers) at most; beyond it new ones are ignored. */
  readonly maxLearnedPeers?: number;
  /** Deadline of every Deliver call. */
  readonly rpcTimeoutMs: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Ready batches waiting per peer; past it the oldest is dropped. */
  readonly maxQueuedBatchesPerPeer?: number;
  /** Deliver calls in flight per peer. */
  readonly maxInflightCallsPerPeer?: number;
  /** Messages coalesced into one call (a single larger Ready batch still goes whole). */
  readonly maxMessagesPerCall?: number;
  /** Payload bytes (entry and snapshot data) coalesced into one call, kept well under the gRPC message cap. */
  readonly maxPayloadBytesPerCall?: number;
  /** At most one log line per peer per interval about failed calls. */
  readonly failureLogIntervalMs?: number;
}

export const TRANSPORT_DEFAULTS = Object.freeze({
  maxQueuedBatchesPerPeer: 256,
  maxInflightCallsPerPeer: 2,
  maxMessagesPerCall: 512,
  maxPayloadBytesPerCall: 4 * 1024 * 1024,
  failureLogIntervalMs: 10_000,
  maxLearnedPeers: 1024,
});

/** Outbound side of the Raft transport, as the node driver uses it. */
export interface RaftTransport {
  send(messages: readonly Message[]): void;
  close(): Promise<void>;
}

/** Per-peer counters, for tests and metrics. */
export interface PeerTransportStats {
  readonly queuedBatches: number;
  readonly inflightCalls: number;
  readonly sentCalls: number;
  readonly failedCalls: number;
  readonly droppedBatches: number;
}

/** Logs the first event at once, then at most once per interval with a count of what it held back. */
class RateLimitedLog {
  private lastLoggedAtMs = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  /** Returns the number of suppressed events since the last log line, or undefined to stay quiet. */
  admit(): number | undefined {
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastLoggedAtMs < this.intervalMs) {
      this.suppressed++;
      return undefined;
    }
    const suppressed = this.suppressed;
    this.lastLoggedAtMs = nowMs;
    this.suppressed = 0;
    return suppressed;
  }
}

function payloadBytes(message: Message): number {
  switch (message.type) {
    case 'append-request':
      return message.entries.reduce((sum, entry) => sum + entry.data.byteLength, 0);
    case 'snapshot-request':
      return message.snapshot.data.byteLength;
    default:
      return 0;
  }
}

class PeerSender {
  private readonly queue: Message[][] = [];
  private inflight = 0;
  private sentCalls = 0;
  private failedCalls = 0;
  private droppedBatches = 0;
  /** Consecutive failures; reported once the peer answers again. */
  private failureStreak = 0;
  private readonly failureLog: RateLimitedLog;
  private readonly dropLog: RateLimitedLog;
  private readonly pending = new Set<Promise<void>>();
  /** The channel to the peer, replaced when a connection attempt hangs (a healed partition; see PeerChannel). */
  private readonly channel: PeerChannel<RaftClient>;

  constructor(
    readonly id: NodeId,
    readonly address: string,
    private readonly options: Required<Omit<GrpcTransportOptions, 'peers' | 'clock'>>,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.channel = new PeerChannel<RaftClient>({
      address,
      create: (target, extra) => createRaftClient(target, extra),
      nowMs: () => clock.nowMs(),
      onReplaced: ({ connectingForMs }) => this.log.warn({ peer: id, address, connectingForMs }, 'raft peer connection stuck while connecting: replaced the channel'),
    });
    this.failureLog = new RateLimitedLog(clock, options.failureLogIntervalMs);
    this.dropLog = new RateLimitedLog(clock, options.failureLogIntervalMs);
  }

  enqueue(batch: Message[]): void {
    this.queue.push(batch);
    if (this.queue.length > this.options.maxQueuedBatchesPerPeer) {
      this.queue.shift();
      this.droppedBatches++;
      const suppressed = this.dropLog.admit();
      if (suppressed !== undefined) {
        this.log.debug({ peer: this.id, droppedBatches: this.droppedBatches, suppressed }, 'raft peer queue full: dropped oldest batch');
      }
    }
    this.pump();
  }

  stats(): PeerTransportStats {
    return {
      queuedBatches: this.queue.length,
      inflightCalls: this.inflight,
      sentCalls: this.sentCalls,
      failedCalls: this.failedCalls,
      droppedBatches: this.droppedBatches,
    };
  }

  /** Waits for calls in flight (each bounded by its deadline) and drops what is queued. */
  async close(): Promise<void> {
    this.queue.length = 0;
    await Promise.allSettled([...this.pending]);
    this.channel.close();
  }

  private pump(): void {
    while (this.inflight < this.options.maxInflightCallsPerPeer && this.queue.length > 0) {
      const messages = this.takeCoalesced();
      const request: RaftBatch = { clusterId: this.options.clusterId, messages: messages.map(messageToProto), senderEndpoint: this.options.selfEndpoint };
      this.inflight++;
      this.sentCalls++;
      const call = unaryCall(this.channel.client, 'deliver', request, this.options.rpcTimeoutMs).then(
        (ack) => this.onAck(ack),
        (error: unknown) => this.onFailure(error),
      );
      const tracked = call.finally(() => {
        this.inflight--;
        this.pending.delete(tracked);
        this.pump();
      });
      this.pending.add(tracked);
    }
  }

  private takeCoalesced(): Message[] {
    const first = this.queue.shift() ?? [];
    const messages = [...first];
    let bytes = messages.reduce((sum, m) => sum + payloadBytes(m), 0);
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || messages.length + next.length > this.options.maxMessagesPerCall) break;
      const nextBytes = next.reduce((sum, m) => sum + payloadBytes(m), 0);
      if (bytes + nextBytes > this.options.maxPayloadBytesPerCall) break;
      this.queue.shift();
      messages.push(...next);
      bytes += nextBytes;
    }
    return messages;
  }

  private onAck(ack: RaftBatchAck): void {
    this.channel.noteSuccess();
    if (ack.errorCode === ErrorCode.NONE) {
      if (this.failureStreak > 0) {
        this.log.debug({ peer: this.id, address: this.address, failedCalls: this.failureStreak }, 'raft peer reachable again');
        this.failureStreak = 0;
      }
      return;
    }
    this.failedCalls++;
    this.failureStreak++;
    const suppressed = this.failureLog.admit();
    if (suppressed !== undefined) {
      // A refusal (another cluster's node on this address, say) is a misconfiguration, not a transient fault.
      this.log.warn(
        { peer: this.id, address: this.address, errorCode: ack.errorCode, errorMessage: ack.errorMessage, suppressed },
        'raft peer refused messages',
      );
    }
  }

  private onFailure(error: unknown): void {
    this.channel.noteFailure();
    this.failedCalls++;
    this.failureStreak++;
    const suppressed = this.failureLog.admit();
    if (suppressed !== undefined) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.debug({ peer: this.id, address: this.address, reason, suppressed }, 'raft deliver to peer failed');
    }
  }
}

export class GrpcTransport implements RaftTransport {
  private readonly senders = new Map<NodeId, PeerSender>();
  private readonly resolved: Required<Omit<GrpcTransportOptions, 'peers' | 'clock'>>;
  private readonly clock: Clock;
  private learnedPeers = 0;
  private readonly log: Logger;
  private readonly unknownPeerLog: RateLimitedLog;
  private closed = false;

  constructor(options: GrpcTransportOptions) {
    if (!(options.rpcTimeoutMs > 0)) throw new RangeError(`rpcTimeoutMs must be positive, got ${options.rpcTimeoutMs}`);
    const clock = options.clock ?? SYSTEM_CLOCK;
    const resolved = {
      selfId: options.selfId,
      clusterId: options.clusterId,
      rpcTimeoutMs: options.rpcTimeoutMs,
      logger: options.logger,
      maxQueuedBatchesPerPeer: options.maxQueuedBatchesPerPeer ?? TRANSPORT_DEFAULTS.maxQueuedBatchesPerPeer,
      maxInflightCallsPerPeer: options.maxInflightCallsPerPeer ?? TRANSPORT_DEFAULTS.maxInflightCallsPerPeer,
      maxMessagesPerCall: options.maxMessagesPerCall ?? TRANSPORT_DEFAULTS.maxMessagesPerCall,
      maxPayloadBytesPerCall: options.maxPayloadBytesPerCall ?? TRANSPORT_DEFAULTS.maxPayloadBytesPerCall,
      failureLogIntervalMs: options.failureLogIntervalMs ?? TRANSPORT_DEFAULTS.failureLogIntervalMs,
      selfEndpoint: options.selfEndpoint ?? '',
      maxLearnedPeers: options.maxLearnedPeers ?? TRANSPORT_DEFAULTS.maxLearnedPeers,
    };
    this.resolved = resolved;
    this.clock = clock;
    this.log = options.logger;
    this.unknownPeerLog = new RateLimitedLog(clock, resolved.failureLogIntervalMs);
    for (const [id, address] of options.peers) {
      if (id === options.selfId) continue;
      this.senders.set(id, new PeerSender(id, address, resolved, clock, this.log));
    }
  }

  /** Groups messages by destination (keeping their order) and queues one batch per peer. */
  send(messages: readonly Message[]): void {
    if (this.closed || messages.length === 0) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const message of messages) {
      const batch = byPeer.get(message.to);
      if (batch === undefined) byPeer.set(message.to, [message]);
      else batch.push(message);
    }
    for (const [peer, batch] of byPeer) {
      const sender = this.senders.get(peer);
      if (sender === undefined) {
        const suppressed = this.unknownPeerLog.admit();
        if (suppressed !== undefined) this.log.debug({ peer, messages: batch.length, suppressed }, 'raft messages to a peer without an endpoint dropped');
        continue;
      }
      sender.enqueue(batch);
    }
  }

  /**
   * A batch from `peer` said it listens on `endpoint`. Configured peers keep their configured address;
   * an unknown peer (an observer) gets a channel, so the leader can replicate to it.
   */
  learnPeer(peer: NodeId, endpoint: string): void {
    if (this.closed || endpoint === '' || peer === this.resolved.selfId) return;
    if (this.senders.has(peer) || this.learnedPeers >= this.resolved.maxLearnedPeers) return;
    this.learnedPeers++;
    this.senders.set(peer, new PeerSender(peer, endpoint, this.resolved, this.clock, this.log));
    this.log.info({ peer, endpoint }, 'learned endpoint of a raft peer');
  }

  /** Endpoint used for `peer`, configured or learned. */
  endpointOf(peer: NodeId): string | undefined {
    return this.senders.get(peer)?.address;
  }

  stats(peer: NodeId): PeerTransportStats | undefined {
    return this.senders.get(peer)?.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.senders.values()].map((sender) => sender.close()));
  }
}

export interface RaftServiceHandlerOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Receives every message of a valid batch addressed to `selfId`, in order; must not block. */
  readonly deliver: (messages: readonly Message[]) => void;
  /** Told the sender's own Raft endpoint when a valid batch carries one. */
  readonly learnPeer?: (peer: NodeId, endpoint: string) => void;
  readonly refusalLogIntervalMs?: number;
}

/** runnel.v1.Raft server implementation; add it with `server.addService(RAFT_SERVICE, handlers)`. */
export function createRaftServiceHandlers(options: RaftServiceHandlerOptions): grpc.UntypedServiceImplementation {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const refusalLog = new RateLimitedLog(clock, options.refusalLogIntervalMs ?? TRANSPORT_DEFAULTS.failureLogIntervalMs);
  const misaddressedLog = new RateLimitedLog(clock, options.refusalLogIntervalMs ?? TRANSPORT_DEFAULTS.failureLogIntervalMs);

  const refuse = (callback: grpc.sendUnaryData<RaftBatchAck>, error: RunnelError, fields: Record<string, unknown>): void => {
    const suppressed = refusalLog.admit();
    if (suppressed !== undefined) options.logger.warn({ ...fields, errorCode: error.code, suppressed }, error.message);
    callback(null, { errorCode: error.code, errorMessage: error.message });
  };

  const deliverHandler = (call: grpc.ServerUnaryCall<RaftBatch, RaftBatchAck>, callback: grpc.sendUnaryData<RaftBatchAck>): void => {
    const batch = call.request;
    const peer = call.getPeer();
    if (batch.clusterId !== options.clusterId) {
      const error = new RunnelError(
        'INCONSISTENT_CLUSTER_ID',
        `raft batch for cluster ${JSON.stringify(batch.clusterId)} refused by node ${options.selfId} of cluster ${JSON.stringify(options.clusterId)}`,
      );
      refuse(callback, error, { peer, clusterId: batch.clusterId });
      return;
    }
    let messages: Message[];
    try {
      messages = (batch.messages ?? []).map(messageFromProto);
    } catch (error) {
      if (!(error instanceof RunnelError)) throw error;
      refuse(callback, error, { peer });
      return;
    }
    const mine = messages.filter((m) => m.to === options.selfId);
    if (mine.length < messages.length) {
      const suppressed = misaddressedLog.admit();
      if (suppressed !== undefined) {
        options.logger.debug({ peer, dropped: messages.length - mine.length, suppressed }, 'raft messages addressed to another node dropped');
      }
    }
    const sender = mine[0]?.from;
    if (sender !== undefined && batch.senderEndpoint !== '' && options.learnPeer !== undefined) options.learnPeer(sender, batch.senderEndpoint);
    if (mine.length > 0) options.deliver(mine);
    callback(null, { errorCode: ErrorCode.NONE, errorMessage: '' });
  };

  return { Deliver: deliverHandler as grpc.handleUnaryCall<unknown, unknown> };
}
