import { RunnelError } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../core/types.js';
import { PendingRequests } from './pending-requests.js';
import type { ProposalTicket, RefusalFactory } from './pending-requests.js';

const refuse: RefusalFactory = (leaderId, reason, options = {}) =>
  new RunnelError('NOT_CONTROLLER', reason, { details: { leaderId, ...(options.outcomeUnknown === true ? { outcomeUnknown: true } : {}) } });

const limits = { maxProposals: 2, maxReads: 2, maxTransfers: 1 };
const LONG_MS = 60_000;

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) };
}

function ticket(pending: PendingRequests, timeoutMs = LONG_MS): ProposalTicket {
  const t = pending.openProposal(timeoutMs);
  if (t instanceof RunnelError) throw t;
  return t;
}

describe('PendingRequests', () => {
  it('a proposal resolves when its own entry is applied', async () => {
    const pending = new PendingRequests(limits, refuse);
    const t = ticket(pending);
    pending.proposalAccepted(t, 5, 2);
    pending.onApplied(entry(4, 2), 1);
    pending.onApplied(entry(5, 2), 1);
    await expect(t.waiter.promise).resolves.toEqual({ index: 5, term: 2 });
  });

  it("a proposal whose index is applied with another leader's term is rejected as never committed", async () => {
    const pending = new PendingRequests(limits, refuse);
    const t = ticket(pending);
    pending.proposalAccepted(t, 5, 2);
    pending.onApplied(entry(5, 3), 7);
    const error = await t.waiter.promise.catch((e: unknown) => e);
    expect(error).toMatchObject({ codeName: 'NOT_CONTROLLER', details: { leaderId: 7 } });
    expect((error as RunnelError).details['outcomeUnknown']).toBeUndefined();
  });

  it('a leader snapshot covering a proposal rejects it with outcomeUnknown; later ones keep waiting', async () => {
    const pending = new PendingRequests(limits, refuse);
    const covered = ticket(pending);
    const later = ticket(pending);
    pending.proposalAccepted(covered, 5, 2);
    pending.proposalAccepted(later, 9, 2);
    pending.onSnapshotInstalled(8, 3);
    await expect(covered.waiter.promise).rejects.toMatchObject({ details: { outcomeUnknown: true, leaderId: 3 } });
    expect(later.waiter.settled).toBe(false);
    pending.onApplied(entry(9, 2), 3);
    await expect(later.waiter.promise).resolves.toEqual({ index: 9, term: 2 });
  });

  it('bounds proposals in flight, and a timed-out proposal frees its slot', async () => {
    const pending = new PendingRequests(limits, refuse);
    const quick = ticket(pending, 1);
    ticket(pending);
    expect(pending.openProposal(LONG_MS)).toMatchObject({ codeName: 'THROTTLING_QUOTA_EXCEEDED' });
    await expect(quick.waiter.promise).rejects.toMatchObject({ codeName: 'REQUEST_TIMED_OUT' });
    expect(pending.openProposal(LONG_MS)).not.toBeInstanceOf(RunnelError);
  });

  it('a read resolves only once it is confirmed and the applied index reaches it', async () => {
    const pending = new PendingRequests(limits, refuse);
    const read = pending.openRead(LONG_MS);
    if (read instanceof RunnelError) throw read;
    pending.resolveReads(100);
    expect(read.waiter.settled).toBe(false);
    pending.onReadStates([{ requestId: read.requestId, index: 12 }]);
    pending.resolveReads(11);
    expect(read.waiter.settled).toBe(false);
    pending.resolveReads(12);
    await expect(read.waiter.promise).resolves.toBe(12);
  });

  it('a read failure rejects the read with the new leader', async () => {
    const pending = new PendingRequests(limits, refuse);
    const read = pending.openRead(LONG_MS);
    if (read instanceof RunnelError) throw read;
    pending.onReadFailures([{ requestId: read.requestId, leaderId: 2 }]);
    await expect(read.waiter.promise).rejects.toMatchObject({ codeName: 'NOT_CONTROLLER', details: { leaderId: 2 } });
  });

  it('transfers resolve with whichever other leader appears', async () => {
    const pending = new PendingRequests(limits, refuse);
    const transfer = pending.openTransfer(LONG_MS, 'transfer');
    if (transfer instanceof RunnelError) throw transfer;
    expect(pending.openTransfer(LONG_MS, 'second')).toMatchObject({ codeName: 'THROTTLING_QUOTA_EXCEEDED' });
    pending.onOtherLeader(3);
    await expect(transfer.promise).resolves.toBe(3);
  });

  it('failAll marks only proposals already in the log as outcomeUnknown', async () => {
    const pending = new PendingRequests(limits, refuse);
    const inLog = ticket(pending);
    const queued = ticket(pending);
    pending.proposalAccepted(inLog, 4, 1);
    const read = pending.openRead(LONG_MS);
    if (read instanceof RunnelError) throw read;
    pending.failAll('stopping');
    await expect(inLog.waiter.promise).rejects.toMatchObject({ details: { outcomeUnknown: true } });
    const queuedError = (await queued.waiter.promise.catch((e: unknown) => e)) as RunnelError;
    expect(queuedError.details['outcomeUnknown']).toBeUndefined();
    await expect(read.waiter.promise).rejects.toMatchObject({ codeName: 'NOT_CONTROLLER' });
  });
});
