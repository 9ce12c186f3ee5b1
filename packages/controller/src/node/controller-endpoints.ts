// How a broker finds the active controller: the voters in turn, and one reused gRPC channel per
// controller endpoint it has talked to (a NOT_CONTROLLER hint may name one outside the voter list).
// Channels are PeerChannels: callers report failures, and a connection attempt stuck behind a healed
// network partition is replaced instead of keeping the broker fenced for the kernel's SYN retries.
import { PeerChannel, createControllerClient } from '@runnel/protocol';
import type { ControllerClient } from '@runnel/protocol';

export interface ControllerTarget {
  readonly id: number;
  readonly endpoint: string;
}

export class ControllerEndpoints {
  private readonly voterIds: number[];
  private readonly channels = new Map<string, PeerChannel<ControllerClient>>();
  private nextVoter = 0;

  /** `voters`: voter id -> host:port of its controller listener. */
  constructor(
    private readonly voters: ReadonlyMap<number, string>,
    private readonly onChannelReplaced?: (info: { address: string; connectingForMs: number }) => void,
  ) {
    if (voters.size === 0) throw new RangeError('at least one controller voter is needed');
    this.voterIds = [...voters.keys()].sort((a, b) => a - b);
  }

  /** The next voter to try, round robin, when no controller is known. */
  nextCandidate(): ControllerTarget {
    const id = this.voterIds[this.nextVoter % this.voterIds.length] as number;
    this.nextVoter = (this.nextVoter + 1) % this.voterIds.length;
    return { id, endpoint: this.voters.get(id) as string };
  }

  /** The channel to `endpoint`, created on first use and reused after. */
  clientFor(endpoint: string): ControllerClient {
    let channel = this.channels.get(endpoint);
    if (channel === undefined) {
      channel = new PeerChannel<ControllerClient>({
        address: endpoint,
        create: (target, extra) => createControllerClient(target, extra),
        nowMs: Date.now,
        ...(this.onChannelReplaced === undefined ? {} : { onReplaced: this.onChannelReplaced }),
      });
      this.channels.set(endpoint, channel);
    }
    return channel.client;
  }

  /** A call to `endpoint` failed (unreachable or timed out). */
  noteFailure(endpoint: string): void {
    this.channels.get(endpoint)?.noteFailure();
  }

  /** A call to `endpoint` was answered. */
  noteSuccess(endpoint: string): void {
    this.channels.get(endpoint)?.noteSuccess();
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
