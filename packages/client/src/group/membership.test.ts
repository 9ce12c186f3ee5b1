import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@runnel/protocol';
import type { ConsumerGroupHeartbeatResponse, TopicPartitions } from '@runnel/protocol';
import { Membership } from './membership.js';

const SESSION_MS = 10_000;

function member(): Membership {
  const m = new Membership({ groupId: 'g', clientId: 'c', clientHost: 'h', sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 30_000 });
  m.subscribe({ topics: ['t', 't'] }, 0);
  return m;
}

function answer(memberEpoch: number, assignment: TopicPartitions[] | undefined, errorCode: number = ErrorCode.NONE): ConsumerGroupHeartbeatResponse {
  return {
    errorCode,
    errorMessage: '',
    memberId: 'm-1',
    memberEpoch,
    heartbeatIntervalMs: 1_000,
    hasAssignment: assignment !== undefined,
    assignment: assignment ?? [],
  };
}

describe('Membership (client side of the KIP-848 protocol)', () => {
  it('joins with epoch 0 and no member id, then adopts the id, epoch, interval and assignment it is given', () => {
    const m = member();
    const join = m.heartbeatRequest();
    expect(join).toMatchObject({ memberId: '', memberEpoch: 0, subscribedTopicNames: ['t'], ownedPartitions: [] });
    const action = m.onHeartbeatResponse(answer(3, [{ topic: 't', partitions: [2, 0] }]), 0);
    expect(action).toEqual({ kind: 'reconcile', revoke: [], assign: [{ topic: 't', partition: 0 }, { topic: 't', partition: 2 }] });
    expect(m.heartbeatRequest()).toMatchObject({ memberId: 'm-1', memberEpoch: 3, ownedPartitions: [{ topic: 't', partitions: [0, 2] }] });
    expect(m.heartbeatIntervalMs).toBe(1_000);
  });

  it('keeps reporting a revoked partition as owned until the consumer finished with it', () => {
    const m = member();
    m.onHeartbeatResponse(answer(1, [{ topic: 't', partitions: [0, 1] }]), 0);
    const action = m.onHeartbeatResponse(answer(2, [{ topic: 't', partitions: [0] }]), 100);
    expect(action).toEqual({ kind: 'reconcile', revoke: [{ topic: 't', partition: 1 }], assign: [] });
    expect(m.ownedPartitions()).toEqual([{ topic: 't', partition: 0 }]);
    // Still listed: the coordinator must not give partition 1 away yet.
    expect(m.heartbeatRequest().ownedPartitions).toEqual([{ topic: 't', partitions: [0, 1] }]);
    expect(m.hasPendingRevocations()).toBe(true);
    m.revoked([{ topic: 't', partition: 1 }]);
    expect(m.heartbeatRequest().ownedPartitions).toEqual([{ topic: 't', partitions: [0] }]);
    expect(m.hasPendingRevocations()).toBe(false);
  });

  it('a partition given back while its revocation runs is assigned again only after the revocation finished', () => {
    const m = member();
    m.onHeartbeatResponse(answer(1, [{ topic: 't', partitions: [0, 1] }]), 0);
    m.onHeartbeatResponse(answer(2, [{ topic: 't', partitions: [0] }]), 10);
    const back = m.onHeartbeatResponse(answer(3, [{ topic: 't', partitions: [0, 1] }]), 20);
    expect(back).toEqual({ kind: 'reconcile', revoke: [], assign: [] });
    m.revoked([{ topic: 't', partition: 1 }]);
    const again = m.onHeartbeatResponse(answer(3, [{ topic: 't', partitions: [0, 1] }]), 30);
    expect(again).toEqual({ kind: 'reconcile', revoke: [], assign: [{ topic: 't', partition: 1 }] });
  });

  it('an answer without an assignment keeps the current one', () => {
    const m = member();
    m.onHeartbeatResponse(answer(1, [{ topic: 't', partitions: [4] }]), 0);
    expect(m.onHeartbeatResponse(answer(1, undefined), 50)).toEqual({ kind: 'reconcile', revoke: [], assign: [] });
    expect(m.ownedPartitions()).toEqual([{ topic: 't', partition: 4 }]);
  });

  it('fenced: loses every partition (no commit), keeps its member id and rejoins with epoch 0', () => {
    const m = member();
    m.onHeartbeatResponse(answer(5, [{ topic: 't', partitions: [0, 1] }]), 0);
    m.onHeartbeatResponse(answer(6, [{ topic: 't', partitions: [0] }]), 10);
    const action = m.onHeartbeatResponse(answer(0, undefined, ErrorCode.FENCED_MEMBER_EPOCH), 20);
    expect(action).toMatchObject({ kind: 'lost', lost: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    expect(m.heartbeatRequest()).toMatchObject({ memberId: 'm-1', memberEpoch: 0, ownedPartitions: [] });
  });

  it('unknown member: loses everything and rejoins as a new member', () => {
    const m = member();
    m.onHeartbeatResponse(answer(5, [{ topic: 't', partitions: [0] }]), 0);
    expect(m.onHeartbeatResponse(answer(0, undefined, ErrorCode.UNKNOWN_MEMBER_ID), 20)).toMatchObject({ kind: 'lost' });
    expect(m.heartbeatRequest()).toMatchObject({ memberId: '', memberEpoch: 0 });
  });

  it('coordinator errors ask for a new coordinator; stale epoch and timeouts retry; others are fatal', () => {
    const m = member();
    expect(m.onHeartbeatResponse(answer(0, undefined, ErrorCode.NOT_COORDINATOR), 0)).toMatchObject({ kind: 'find-coordinator' });
    expect(m.onHeartbeatResponse(answer(0, undefined, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS), 0)).toMatchObject({ kind: 'find-coordinator' });
    expect(m.onHeartbeatResponse(answer(0, undefined, ErrorCode.STALE_MEMBER_EPOCH), 0)).toMatchObject({ kind: 'retry' });
    expect(m.onHeartbeatResponse(answer(0, undefined, ErrorCode.INVALID_GROUP_ID), 0)).toMatchObject({ kind: 'fatal', errorCode: ErrorCode.INVALID_GROUP_ID });
  });

  it('drops everything once a whole session passed since the last acknowledged heartbeat was sent', () => {
    const m = member();
    m.onHeartbeatResponse(answer(1, [{ topic: 't', partitions: [0] }]), 1_000);
    // The answer arrived late (at 9 000): the session still counts from the send time.
    expect(m.checkSession(1_000 + SESSION_MS - 1)).toBeUndefined();
    expect(m.checkSession(1_000 + SESSION_MS)).toMatchObject({ kind: 'lost', lost: [{ topic: 't', partition: 0 }] });
    expect(m.ownedPartitions()).toEqual([]);
    expect(m.checkSession(1_000 + 2 * SESSION_MS)).toBeUndefined();
  });

  it('an older acknowledged send never moves the session deadline back', () => {
    const m = member();
    m.onHeartbeatResponse(answer(1, [{ topic: 't', partitions: [0] }]), 5_000);
    m.onHeartbeatResponse(answer(1, undefined), 2_000);
    expect(m.checkSession(5_000 + SESSION_MS - 1)).toBeUndefined();
  });

  it('leaving sends epoch -1 and hands back everything it owned', () => {
    const m = member();
    m.onHeartbeatResponse(answer(2, [{ topic: 't', partitions: [1, 3] }]), 0);
    expect(m.leave()).toEqual([{ topic: 't', partition: 1 }, { topic: 't', partition: 3 }]);
    expect(m.heartbeatRequest()).toMatchObject({ memberId: 'm-1', memberEpoch: -1, ownedPartitions: [] });
    m.onHeartbeatResponse(answer(-1, undefined), 10);
    expect(m.phase).toBe('left');
  });
});
