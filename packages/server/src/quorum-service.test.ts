import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RunnelError } from '@runnel/protocol';
import type { ProposeResponse, TransferLeadershipResponse } from '@runnel/protocol';
import type { QuorumView, RaftNode } from '@runnel/raft';
import { PROPOSAL_BYTES_MAX, quorumServiceHandlers } from './quorum-service.js';

const VIEW: QuorumView = {
  leaderId: 2, term: 4, commitIndex: 9, answeredBy: 1, leaderEndpoint: '127.0.0.1:9193',
  voters: [], observers: [],
};

class FakeNode extends EventEmitter {
  proposeResult: Promise<{ index: number; term: number }> = Promise.resolve({ index: 10, term: 4 });
  transferResult: Promise<number> = Promise.resolve(3);
  describe(): QuorumView { return VIEW; }
  propose(): Promise<{ index: number; term: number }> { return this.proposeResult; }
  transferLeadership(): Promise<number> { return this.transferResult; }
}

function call<Res>(handler: unknown, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    (handler as grpc.handleUnaryCall<unknown, Res>)({ request } as grpc.ServerUnaryCall<unknown, Res>, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

function handlersFor(node: FakeNode): grpc.UntypedServiceImplementation {
  return quorumServiceHandlers({ node: node as unknown as RaftNode, logger: pino({ level: 'silent' }), proposeTimeoutMs: 1000, transferTimeoutMs: 1000 });
}

describe('Quorum service', () => {
  it('answers a committed proposal with its index and term', async () => {
    const response = await call<ProposeResponse>(handlersFor(new FakeNode())['Propose'], { data: Buffer.from('x') });
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, index: 10, term: 4 });
  });

  it('maps NOT_CONTROLLER to an error code plus the leader hint', async () => {
    const node = new FakeNode();
    node.proposeResult = Promise.reject(new RunnelError('NOT_CONTROLLER', 'not the leader', { details: { leaderId: 2, leaderEndpoint: '127.0.0.1:9193' } }));
    const response = await call<ProposeResponse>(handlersFor(node)['Propose'], { data: Buffer.from('x') });
    expect(response).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, leaderId: 2, leaderEndpoint: '127.0.0.1:9193', index: 0 });
  });

  it('refuses an oversized record without proposing it', async () => {
    const node = new FakeNode();
    let proposed = false;
    node.propose = () => { proposed = true; return node.proposeResult; };
    const response = await call<ProposeResponse>(handlersFor(node)['Propose'], { data: Buffer.alloc(PROPOSAL_BYTES_MAX + 1) });
    expect(response.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(proposed).toBe(false);
  });

  it('reports an unexpected failure as UNKNOWN_SERVER_ERROR rather than a transport error', async () => {
    const node = new FakeNode();
    node.proposeResult = Promise.reject(new Error('disk on fire'));
    const response = await call<ProposeResponse>(handlersFor(node)['Propose'], { data: Buffer.from('x') });
    expect(response).toMatchObject({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'disk on fire' });
  });

  it('answers a transfer with the new leader, and a refused one with its code', async () => {
    const node = new FakeNode();
    expect(await call<TransferLeadershipResponse>(handlersFor(node)['TransferLeadership'], { targetId: 0 })).toMatchObject({ errorCode: 0, leaderId: 3 });
    node.transferResult = Promise.reject(new RunnelError('NOT_CONTROLLER', 'no', { details: { leaderId: 2 } }));
    expect(await call<TransferLeadershipResponse>(handlersFor(node)['TransferLeadership'], { targetId: 3 })).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, leaderId: 2 });
  });
});
