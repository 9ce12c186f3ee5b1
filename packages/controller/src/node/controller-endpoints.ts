// How a broker finds the active controller: the voters in turn, and one reused gRPC channel per
// controller endpoint it has talked to (a NOT_CONTROLLER hint may name one outside the voter list).
import { createControllerClient } from '@runnel/protocol';
import type { ControllerClient } from '@runnel/protocol';

export interface ControllerTarget {
  readonly id: number;
  readonly endpoint: string;
}

export class ControllerEndpoints {
  private readonly voterIds: number[];
  private readonly clients = new Map<string, ControllerClient>();
  private nextVoter = 0;

  /** `voters`: voter id -> host:port of its controller listener. */
  constructor(private readonly voters: ReadonlyMap<number, string>) {
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
    let client = this.clients.get(endpoint);
    if (client === undefined) {
      client = createControllerClient(endpoint);
      this.clients.set(endpoint, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
