// A gRPC client to one peer whose connection setup is bounded.
//
// grpc-js puts no deadline on setting up a connection. A connect whose SYNs are silently dropped (a
// peer cut off by a network partition) keeps the channel's subchannel CONNECTING until the kernel
// gives up, about 127 s with Linux's default tcp_syn_retries, and that holds even after the network
// has healed: every call on the channel waits behind the dead attempt. The container drill that cuts
// a leader off its peers saw a reconnected broker take two minutes to rejoin the ISR because of this.
// Kafka bounds the same thing with socket.connection.setup.timeout.ms (KIP-601). Here, a call that
// fails while the channel has been CONNECTING for longer than `connectTimeoutMs` replaces the client,
// so the next call starts a fresh connection. Each client gets its own subchannel pool: with grpc-js's
// global pool a new channel to the same address would reuse the stuck subchannel.
import * as grpc from '@grpc/grpc-js';

/** Kafka's socket.connection.setup.timeout.ms is 10 s; peers here are on one LAN, where a connect takes well under a second. */
export const PEER_CONNECT_TIMEOUT_MS_DEFAULT = 5_000;

export interface PeerChannelOptions<C> {
  readonly address: string;
  /** Creates a client for `address` with the given extra channel options. */
  readonly create: (address: string, options: grpc.ChannelOptions) => C;
  readonly nowMs: () => number;
  readonly connectTimeoutMs?: number;
  /** Told when a stuck client was replaced (for a log line). */
  readonly onReplaced?: (info: { address: string; connectingForMs: number }) => void;
}

const OWN_SUBCHANNEL_POOL: Readonly<grpc.ChannelOptions> = Object.freeze({ 'grpc.use_local_subchannel_pool': 1 });

export class PeerChannel<C extends { close(): void }> {
  private current: C;
  /** When a failed call first found the channel CONNECTING; undefined while it is not. */
  private connectingSinceMs: number | undefined;
  private readonly connectTimeoutMs: number;
  private replacedCount = 0;

  constructor(private readonly options: PeerChannelOptions<C>) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? PEER_CONNECT_TIMEOUT_MS_DEFAULT;
    if (!(this.connectTimeoutMs > 0)) throw new RangeError(`connectTimeoutMs must be positive, got ${this.connectTimeoutMs}`);
    this.current = options.create(options.address, OWN_SUBCHANNEL_POOL);
  }

  get address(): string {
    return this.options.address;
  }

  get client(): C {
    return this.current;
  }

  /** How many times a stuck connection attempt was abandoned for a fresh one. */
  get replaced(): number {
    return this.replacedCount;
  }

  /**
   * Call after a call on `client` failed. Returns true when the client was replaced because its
   * channel has been trying to connect for longer than the connect timeout.
   */
  noteFailure(): boolean {
    const state = (this.current as unknown as grpc.Client).getChannel().getConnectivityState(false);
    if (state !== grpc.connectivityState.CONNECTING) {
      this.connectingSinceMs = undefined;
      return false;
    }
    const nowMs = this.options.nowMs();
    this.connectingSinceMs ??= nowMs;
    const connectingForMs = nowMs - this.connectingSinceMs;
    if (connectingForMs < this.connectTimeoutMs) return false;
    this.current.close();
    this.current = this.options.create(this.options.address, OWN_SUBCHANNEL_POOL);
    this.connectingSinceMs = undefined;
    this.replacedCount += 1;
    this.options.onReplaced?.({ address: this.options.address, connectingForMs });
    return true;
  }

  /** Call after a call succeeded: the channel is connected. */
  noteSuccess(): void {
    this.connectingSinceMs = undefined;
  }

  close(): void {
    this.current.close();
  }
}
