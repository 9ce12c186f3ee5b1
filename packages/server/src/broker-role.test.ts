import { describe, expect, it } from 'vitest';
import type { BrokerServiceHandlers, DescribeClusterResponse } from '@runnel/protocol';
import { withQuorumInDescribeCluster } from './broker-role.js';

const BASE: DescribeClusterResponse = { errorCode: 0, errorMessage: '', clusterId: 'c', controllerId: 2, brokers: [{ id: 1, host: 'h', port: 1, rack: '', fenced: false }] };

function answerWith(error: Error | null, response: DescribeClusterResponse | null): BrokerServiceHandlers {
  return { describeCluster: (_call: unknown, callback: (e: Error | null, r: DescribeClusterResponse | null) => void) => callback(error, response) } as unknown as BrokerServiceHandlers;
}

function describeVia(handlers: BrokerServiceHandlers): Promise<{ error: unknown; response: DescribeClusterResponse | null | undefined }> {
  return new Promise((resolve) => {
    (handlers.describeCluster as unknown as (call: unknown, cb: (e: unknown, r?: DescribeClusterResponse | null) => void) => void)({ request: {} }, (error, response) => resolve({ error, response }));
  });
}

describe('DescribeCluster from a broker node', () => {
  it('names the controller quorum (sorted by id), the answering broker and its applied metadata offset', async () => {
    const handlers = withQuorumInDescribeCluster(answerWith(null, BASE), { brokerId: 1, voters: new Map([[3, 'h:3'], [1, 'h:1'], [2, 'h:2']]), metadataOffset: () => 77 });
    const { error, response } = await describeVia(handlers);
    expect(error).toBeNull();
    expect(response).toEqual({ ...BASE, controllerVoters: [{ id: 1, endpoint: 'h:1' }, { id: 2, endpoint: 'h:2' }, { id: 3, endpoint: 'h:3' }], answeredBy: 1, metadataOffset: 77 });
  });

  it('passes a failed answer through untouched', async () => {
    const failure = new Error('internal');
    const { error, response } = await describeVia(withQuorumInDescribeCluster(answerWith(failure, null), { brokerId: 1, voters: new Map([[1, 'h:1']]), metadataOffset: () => 0 }));
    expect(error).toBe(failure);
    expect(response).toBeNull();
  });
});
