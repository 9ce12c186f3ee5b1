// What callers of a RaftNode wait on, and when each wait settles: a proposal when its entry is applied
// (or another term's entry takes its index), a read barrier when the applied index reaches the
// confirmed read index, a leadership transfer when another leader shows up. Every wait is a Waiter
// (bounded in time) and every kind is bounded in count; the Ready loop reports progress here.

import { RunnelError } from '@runnel/protocol';
import { NO_NODE } from '../core/types.js';
import type { Entry, NodeId, ReadFailure, ReadState } from '../core/types.js';
import { Waiter } from './waiter.js';

/** Builds the NOT_CONTROLLER error the node answers with (it knows the leaders' endpoints). */
export type RefusalFactory = (leaderId: NodeId, reason: string, options?: { outcomeUnknown?: boolean; cause?: Error }) => RunnelError;

export interface ProposalTicket {
  readonly waiter: Waiter<{ index: number; term: number }>;
  /** 0 until the core accepted the proposal. */
  index: number;
  term: number;
}

export interface ReadTicket {
  readonly requestId: number;
  readonly waiter: Waiter<number>;
}

export interface PendingRequestLimits {
  readonly maxProposals: number;
  readonly maxReads: number;
  readonly maxTransfers: number;
}

export class PendingRequests {
  /** Proposals queued for the core, not yet given an index. */
  private readonly queuedProposals = new Set<ProposalTicket>();
  private readonly proposalsByIndex = new Map<number, ProposalTicket>();
  /** Read index once the leader confirmed it, undefined while the confirmation round runs. */
  private readonly reads = new Map<number, { waiter: Waiter<number>; index: number | undefined }>();
  private nextReadId = 1;
  private readonly transfers = new Set<Waiter<NodeId>>();

  constructor(
    private readonly limits: PendingRequestLimits,
    private readonly refuse: RefusalFactory,
  ) {}

  openProposal(timeoutMs: number): ProposalTicket | RunnelError {
    if (this.queuedProposals.size + this.proposalsByIndex.size >= this.limits.maxProposals) {
      return new RunnelError('THROTTLING_QUOTA_EXCEEDED', `${this.limits.maxProposals} proposals already pending; retry later`);
    }
    const ticket: ProposalTicket = {
      index: 0,
      term: 0,
      waiter: new Waiter(timeoutMs, () => {
        this.queuedProposals.delete(ticket);
        if (this.proposalsByIndex.get(ticket.index) === ticket) this.proposalsByIndex.delete(ticket.index);
        return new RunnelError('REQUEST_TIMED_OUT', `proposal not applied within ${timeoutMs} ms; it may still commit`, {
          details: { index: ticket.index, term: ticket.term },
        });
      }),
    };
    this.queuedProposals.add(ticket);
    return ticket;
  }

  /** The core appended the proposal at (index, term): it now waits for that entry to be applied. */
  proposalAccepted(ticket: ProposalTicket, index: number, term: number): void {
    this.queuedProposals.delete(ticket);
    if (ticket.waiter.settled) return;
    ticket.index = index;
    ticket.term = term;
    this.proposalsByIndex.set(index, ticket);
  }

  proposalRefused(ticket: ProposalTicket, error: RunnelError): void {
    this.queuedProposals.delete(ticket);
    ticket.waiter.reject(error);
  }

  /** Settles the proposal at the entry's index, if any; `leaderId` is the node's current view. */
  onApplied(entry: Entry, leaderId: NodeId): void {
    const ticket = this.proposalsByIndex.get(entry.index);
    if (ticket === undefined) return;
    this.proposalsByIndex.delete(entry.index);
    if (ticket.term === entry.term) {
      ticket.waiter.resolve({ index: entry.index, term: entry.term });
    } else {
      // Another leader's entry won this index: ours was truncated and will never commit.
      ticket.waiter.reject(this.refuse(leaderId, `entry ${entry.index} of term ${ticket.term} was replaced by term ${entry.term}`));
    }
  }

  /** A leader's snapshot replaced the log through `index`: whether our entries are in it is unknowable here. */
  onSnapshotInstalled(index: number, leaderId: NodeId): void {
    for (const [proposalIndex, ticket] of this.proposalsByIndex) {
      if (proposalIndex > index) continue;
      this.proposalsByIndex.delete(proposalIndex);
      ticket.waiter.reject(this.refuse(leaderId, `a leader snapshot replaced the log through ${index}`, { outcomeUnknown: true }));
    }
  }

  openRead(timeoutMs: number): ReadTicket | RunnelError {
    if (this.reads.size >= this.limits.maxReads) {
      return new RunnelError('THROTTLING_QUOTA_EXCEEDED', `${this.limits.maxReads} reads already pending; retry later`);
    }
    const requestId = this.nextReadId++;
    const waiter = new Waiter<number>(timeoutMs, () => {
      this.reads.delete(requestId);
      return new RunnelError('REQUEST_TIMED_OUT', `read barrier not confirmed within ${timeoutMs} ms`);
    });
    this.reads.set(requestId, { waiter, index: undefined });
    return { requestId, waiter };
  }

  readRefused(ticket: ReadTicket, error: RunnelError): void {
    this.reads.delete(ticket.requestId);
    ticket.waiter.reject(error);
  }

  onReadStates(readStates: readonly ReadState[]): void {
    for (const readState of readStates) {
      const read = this.reads.get(readState.requestId);
      if (read !== undefined) read.index = readState.index;
    }
  }

  onReadFailures(failures: readonly ReadFailure[]): void {
    for (const failure of failures) {
      const read = this.reads.get(failure.requestId);
      if (read === undefined) continue;
      this.reads.delete(failure.requestId);
      read.waiter.reject(this.refuse(failure.leaderId, 'lost leadership before the read was confirmed'));
    }
  }

  /** Confirmed reads become servable once the state machine has applied their index (thesis §6.4 step 4). */
  resolveReads(appliedIndex: number): void {
    for (const [requestId, read] of this.reads) {
      if (read.index === undefined || read.index > appliedIndex) continue;
      this.reads.delete(requestId);
      read.waiter.resolve(read.index);
    }
  }

  openTransfer(timeoutMs: number, what: string): Waiter<NodeId> | RunnelError {
    if (this.transfers.size >= this.limits.maxTransfers) {
      return new RunnelError('THROTTLING_QUOTA_EXCEEDED', `${this.limits.maxTransfers} leadership transfers already pending`);
    }
    const waiter: Waiter<NodeId> = new Waiter(timeoutMs, () => {
      this.transfers.delete(waiter);
      return new RunnelError('REQUEST_TIMED_OUT', `${what} not completed within ${timeoutMs} ms`);
    });
    this.transfers.add(waiter);
    return waiter;
  }

  transferRefused(waiter: Waiter<NodeId>, error: RunnelError): void {
    this.transfers.delete(waiter);
    waiter.reject(error);
  }

  transferDone(waiter: Waiter<NodeId>, leaderId: NodeId): void {
    this.transfers.delete(waiter);
    waiter.resolve(leaderId);
  }

  /** Another node leads now: every transfer this node asked for is over, whoever won. */
  onOtherLeader(leaderId: NodeId): void {
    for (const waiter of this.transfers) waiter.resolve(leaderId);
    this.transfers.clear();
  }

  /** The node stops: proposals already in the log may still commit elsewhere, so they say so. */
  failAll(reason: string, cause?: Error): void {
    for (const ticket of this.proposalsByIndex.values()) ticket.waiter.reject(this.refuse(NO_NODE, reason, { outcomeUnknown: true, cause }));
    this.proposalsByIndex.clear();
    for (const ticket of this.queuedProposals) ticket.waiter.reject(this.refuse(NO_NODE, reason, { cause }));
    this.queuedProposals.clear();
    for (const read of this.reads.values()) read.waiter.reject(this.refuse(NO_NODE, reason, { cause }));
    this.reads.clear();
    for (const waiter of this.transfers) waiter.reject(this.refuse(NO_NODE, reason, { cause }));
    this.transfers.clear();
  }
}
