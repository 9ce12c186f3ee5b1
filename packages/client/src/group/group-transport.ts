// The GroupCoordinator service over gRPC: channels per broker address, coordinator lookup through
// any broker (retried while the coordinator is being elected or `__consumer_offsets` created).

import { RunnelError, createGroupCoordinatorClient, errorInfo, unaryCall } from '@runnel/protocol';
import type { GroupCoordinatorClient } from '@runnel/protocol';
import type { Cluster } from '../cluster.js';
import type { GroupTransport } from './group-member.js';

export class GrpcGroupTransport implements GroupTransport {
  private readonly clients = new Map<string, GroupCoordinatorClient>();
  private closed = false;

  constructor(private readonly cluster: Cluster) {}

  /** The channel to `address`, created on first use. */
  client(address: string): GroupCoordinatorClient {
    if (this.closed) throw new RunnelError('NETWORK_EXCEPTION', 'the client is disconnected');
    let client = this.clients.get(address);
    if (client === undefined) {
      client = createGroupCoordinatorClient(address);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Every broker address the cluster knows (metadata first, else the bootstrap list). */
  async brokerAddresses(): Promise<string[]> {
    if (this.cluster.brokerList().length === 0) await this.cluster.retry(() => this.cluster.refreshMetadata(), { operation: 'metadata' });
    return this.cluster.brokerList().map((b) => `${b.host}:${b.port}`);
  }

  /** One lookup, no retry: a retriable RunnelError while the coordinator is not known. */
  async findCoordinatorOnce(groupId: string): Promise<string> {
    const addresses = await this.brokerAddresses();
    const address = addresses[Math.floor(Math.random() * addresses.length)];
    if (address === undefined) throw new RunnelError('COORDINATOR_NOT_AVAILABLE', 'no broker is known');
    const response = await unaryCall(this.client(address), 'findCoordinator', { groupIds: [groupId] }, this.cluster.options.requestTimeoutMs);
    const found = response.coordinators[0];
    if (found === undefined) throw new RunnelError('COORDINATOR_NOT_AVAILABLE', `broker ${address} did not answer for group ${groupId}`);
    if (found.errorCode !== 0) {
      const name = errorInfo(found.errorCode).name;
      // Lookups fail only while the coordinator is being elected or its topic created: retriable.
      throw new RunnelError(name === 'INVALID_GROUP_ID' ? name : 'COORDINATOR_NOT_AVAILABLE', `no coordinator for group ${groupId} yet: ${found.errorMessage || errorInfo(found.errorCode).description}`);
    }
    return found.host.includes(':') ? `[${found.host}]:${found.port}` : `${found.host}:${found.port}`;
  }

  /** Looks the coordinator up, retrying with backoff within the client's retry settings. */
  findCoordinator(groupId: string): Promise<string> {
    return this.cluster.retry(() => this.findCoordinatorOnce(groupId), { operation: `find the coordinator of group ${groupId}` });
  }

  heartbeat: GroupTransport['heartbeat'] = (address, request, timeoutMs) => unaryCall(this.client(address), 'consumerGroupHeartbeat', request, timeoutMs);
  offsetCommit: GroupTransport['offsetCommit'] = (address, request, timeoutMs) => unaryCall(this.client(address), 'offsetCommit', request, timeoutMs);
  offsetFetch: GroupTransport['offsetFetch'] = (address, request, timeoutMs) => unaryCall(this.client(address), 'offsetFetch', request, timeoutMs);

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
