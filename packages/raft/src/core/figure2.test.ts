import { describe, expect, it } from 'vitest';
import { RaftCore } from './raft.js';
import { Cluster, bytes, fixedRandom, logOfTerms, testConfig, text } from './test-support.js';
import {
  NO_NODE,
  type AppendRequest,
  type AppendResponse,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type Ready,
  type Snapshot,
  type VoteRequest,
  type VoteResponse,
} from './types.js';

// One test per rule of Figure 2 of the Raft paper (plus §5.4, Figure 8, Figure 13 and the thesis
// extensions), each driving a single RaftCore through step/tick and reading its Ready.

interface NodeSetup {
  voters?: readonly NodeId[];
  terms?: readonly number[];
  term?: number;
  vote?: NodeId;
  commit?: number;
  snapshot?: Snapshot;
  config?: Partial<RaftConfig>;
}

function node(id: NodeId, setup: NodeSetup = {}): RaftCore {
  const firstIndex = (setup.snapshot?.metadata.index ?? 0) + 1;
  return new RaftCore(testConfig(id, setup.voters ?? [1, 2, 3], setup.config ?? {}), {
    hardState: { term: setup.term ?? 0, votedFor: setup.vote ?? NO_NODE, commitIndex: setup.commit ?? 0 },
    snapshot: setup.snapshot,
    entries: logOfTerms(setup.terms ?? [], firstIndex),
  });
}

/** Take the Ready and acknowledge it, as a driver would after persisting, sending and applying. */
function flush(core: RaftCore): Ready {
  const ready = core.ready();
  core.advance(ready);
  return ready;
}

function sent(core: RaftCore): Message[] {
  const ready = flush(core);
  return [...ready.messages, ...ready.messagesAfterPersist];
}

function voteReq(from: NodeId, to: NodeId, term: number, lastLogIndex: number, lastLogTerm: number, preVote = false): VoteRequest {
  return { type: 'vote-request', from, to, term, preVote, lastLogIndex, lastLogTerm, leadershipTransfer: false };
}

function voteResp(from: NodeId, to: NodeId, term: number, granted: boolean, preVote = false): VoteResponse {
  return { type: 'vote-response', from, to, term, preVote, granted };
}

function appendReq(from: NodeId, to: NodeId, term: number, fields: Partial<AppendRequest> = {}): AppendRequest {
  return { type: 'append-request', from, to, term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq: 0, ...fields };
}

function appendResp(from: NodeId, to: NodeId, term: number, fields: Partial<AppendResponse> = {}): AppendResponse {
  return {
    type: 'append-response', from, to, term, success: true, matchIndex: 0, conflictTerm: 0, conflictIndex: 0, lastLogIndex: 0, readSeq: 0, ...fields,
  };
}

function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: 'normal', data: bytes(data) };
}

function only<T extends Message['type']>(messages: readonly Message[], type: T): Extract<Message, { type: T }>[] {
  return messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}

/** Make `core` (a voter of a 3-node cluster, preVote off) leader by handing it one granted vote. */
function electLeader(core: RaftCore, voter: NodeId): void {
  core.campaign();
  flush(core);
  core.step(voteResp(voter, core.id, core.term, true));
  expect(core.role).toBe('leader');
}

function clusterWithLeader(config: Partial<RaftConfig> = {}, voters: readonly NodeId[] = [1, 2, 3], observers: readonly NodeId[] = []): Cluster {
  const cluster = new Cluster({ voters, observers, config });
  cluster.core(1).campaign();
  cluster.stabilize();
  expect(cluster.core(1).role).toBe('leader');
  return cluster;
}

describe('Figure 2, RequestVote RPC', () => {
  it('RequestVote: reply false if term < currentTerm (§5.1)', () => {
    const core = node(1, { term: 3 });
    core.step(voteReq(2, 1, 2, 10, 2));
    const ready = flush(core);
    expect(ready.messagesAfterPersist).toEqual([voteResp(1, 2, 3, false)]);
    expect(core.status().votedFor).toBe(NO_NODE);
  });

  it('RequestVote: grant only if votedFor is null or candidateId and the candidate log is at least as up-to-date (§5.2, §5.4)', () => {
    const core = node(1, { terms: [1, 1], term: 1 });
    core.step(voteReq(2, 1, 2, 2, 1));
    expect(only(sent(core), 'vote-response')).toEqual([voteResp(1, 2, 2, true)]);
    // Same term, another candidate: the vote is spent.
    core.step(voteReq(3, 1, 2, 5, 1));
    expect(only(sent(core), 'vote-response')).toEqual([voteResp(1, 3, 2, false)]);
    // The same candidate asking again (a retransmission) gets the same answer.
    core.step(voteReq(2, 1, 2, 2, 1));
    expect(only(sent(core), 'vote-response')).toEqual([voteResp(1, 2, 2, true)]);
  });

  it.each([
    { name: 'older last term, longer log', lastIndex: 5, lastTerm: 1, granted: false },
    { name: 'same last term, shorter log', lastIndex: 2, lastTerm: 2, granted: false },
    { name: 'same last term, same length', lastIndex: 3, lastTerm: 2, granted: true },
    { name: 'newer last term, shorter log', lastIndex: 1, lastTerm: 3, granted: true },
  ])('RequestVote: election restriction compares last term then length (§5.4.1): $name', ({ lastIndex, lastTerm, granted }) => {
    const core = node(1, { terms: [1, 2, 2], term: 2 });
    core.step(voteReq(2, 1, 3, lastIndex, lastTerm));
    expect(only(sent(core), 'vote-response')).toEqual([voteResp(1, 2, 3, granted)]);
  });
});

describe('Figure 2, AppendEntries RPC', () => {
  it('AppendEntries: reply false if term < currentTerm (§5.1)', () => {
    const core = node(1, { terms: [1], term: 3 });
    core.step(appendReq(2, 1, 2, { prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 2)] }));
    const responses = only(sent(core), 'append-response');
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ term: 3, success: false });
    expect(core.status()).toMatchObject({ lastIndex: 1, leaderId: NO_NODE, term: 3 });
  });

  it("AppendEntries: reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm (§5.3)", () => {
    const short = node(1, { terms: [1, 1], term: 2 });
    short.step(appendReq(2, 1, 2, { prevLogIndex: 4, prevLogTerm: 2, entries: [entry(5, 2)] }));
    expect(only(sent(short), 'append-response')[0]).toMatchObject({ success: false, matchIndex: 4, conflictTerm: 0, conflictIndex: 3, lastLogIndex: 2 });
    expect(short.status().lastIndex).toBe(2);

    const mismatched = node(1, { terms: [1, 2, 2, 2], term: 3 });
    mismatched.step(appendReq(2, 1, 3, { prevLogIndex: 4, prevLogTerm: 3, entries: [entry(5, 3)] }));
    // Fast backtracking hint: the conflicting term and the first index this follower holds for it.
    expect(only(sent(mismatched), 'append-response')[0]).toMatchObject({ success: false, matchIndex: 4, conflictTerm: 2, conflictIndex: 2 });
    expect(mismatched.status().lastIndex).toBe(4);
  });

  it('AppendEntries: an existing entry that conflicts with a new one is deleted with all that follow (§5.3)', () => {
    const core = node(1, { terms: [1, 1, 2, 2], term: 2, commit: 1 });
    core.step(appendReq(2, 1, 3, { prevLogIndex: 2, prevLogTerm: 1, entries: [entry(3, 3, 'new')] }));
    const ready = flush(core);
    expect(core.status()).toMatchObject({ lastIndex: 3, lastTerm: 3 });
    // The driver is told to overwrite from index 3 on.
    expect(ready.entries.map((e) => [e.index, e.term])).toEqual([[3, 3]]);
    expect(only(ready.messagesAfterPersist, 'append-response')[0]).toMatchObject({ success: true, matchIndex: 3 });
  });

  it('AppendEntries: append any new entries not already in the log', () => {
    const core = node(1, { terms: [1, 1, 1, 1], term: 1 });
    // A delayed append carrying a prefix the log already holds must not truncate what follows it.
    core.step(appendReq(2, 1, 1, { prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 1)] }));
    const stale = flush(core);
    expect(stale.entries).toEqual([]);
    expect(core.status().lastIndex).toBe(4);
    core.step(appendReq(2, 1, 1, { prevLogIndex: 3, prevLogTerm: 1, entries: [entry(4, 1), entry(5, 1), entry(6, 1)] }));
    expect(flush(core).entries.map((e) => e.index)).toEqual([5, 6]);
    expect(core.status().lastIndex).toBe(6);
  });

  it('AppendEntries: set commitIndex = min(leaderCommit, index of last new entry)', () => {
    const core = node(1, { terms: [1, 1, 1, 1, 1], term: 1 });
    // The entries beyond index 3 were not vouched for by this message, so they cannot be committed by it.
    core.step(appendReq(2, 1, 1, { prevLogIndex: 2, prevLogTerm: 1, entries: [entry(3, 1)], leaderCommit: 5 }));
    expect(flush(core).hardState?.commitIndex).toBe(3);
    core.step(appendReq(2, 1, 1, { prevLogIndex: 5, prevLogTerm: 1, leaderCommit: 4 }));
    expect(core.commitIndex).toBe(4);
  });
});

describe('Figure 2, Rules for Servers', () => {
  it('All servers: if RPC request or response contains term T > currentTerm, set currentTerm = T and convert to follower (§5.1)', () => {
    const leader = node(1, { terms: [1], term: 1 });
    electLeader(leader, 2);
    flush(leader);
    leader.step(appendResp(3, 1, 7, { success: false }));
    expect(leader.status()).toMatchObject({ role: 'follower', term: 7, votedFor: NO_NODE });
    expect(flush(leader).hardState).toMatchObject({ term: 7, votedFor: NO_NODE });

    const follower = node(2, { term: 1, vote: 1 });
    follower.step(appendReq(3, 2, 4));
    expect(follower.status()).toMatchObject({ role: 'follower', term: 4, votedFor: NO_NODE, leaderId: 3 });
  });

  it('All servers: apply log[lastApplied] when commitIndex > lastApplied (§5.3), via Ready.committedEntries', () => {
    const core = node(1, { term: 1 });
    core.step(appendReq(2, 1, 1, { entries: [entry(1, 1, 'a'), entry(2, 1, 'b'), entry(3, 1, 'c')], leaderCommit: 2 }));
    const first = flush(core);
    expect(first.committedEntries.map((e) => text(e.data))).toEqual(['a', 'b']);
    expect(core.status().appliedIndex).toBe(2);
    core.step(appendReq(2, 1, 1, { prevLogIndex: 3, prevLogTerm: 1, leaderCommit: 3 }));
    expect(flush(core).committedEntries.map((e) => text(e.data))).toEqual(['c']);
    expect(core.hasReady()).toBe(false);
  });

  it('Followers: convert to candidate after election timeout without AppendEntries (§5.2), preVote off', () => {
    const core = node(1, { term: 2, config: { electionTicks: 10, random: fixedRandom(3) } });
    for (let i = 0; i < 12; i++) core.tick();
    expect(core.role).toBe('follower');
    core.tick();
    expect(core.status()).toMatchObject({ role: 'candidate', term: 3, votedFor: 1 });
  });

  it('Followers: with preVote on, the election timeout makes a pre-candidate first (thesis §9.6)', () => {
    const core = node(1, { terms: [1], term: 2, config: { preVote: true } });
    for (let i = 0; i < 10; i++) core.tick();
    expect(core.status()).toMatchObject({ role: 'pre-candidate', term: 2, votedFor: NO_NODE });
    const requests = only(sent(core), 'vote-request');
    expect(requests.map((m) => [m.to, m.term, m.preVote])).toEqual([[2, 3, true], [3, 3, true]]);
  });

  it('Followers: AppendEntries from the current leader resets the election timer (§5.2)', () => {
    const core = node(1, { term: 1 });
    for (let i = 0; i < 9; i++) core.tick();
    core.step(appendReq(2, 1, 1));
    for (let i = 0; i < 9; i++) core.tick();
    expect(core.role).toBe('follower');
  });

  it('Candidates: on conversion increment currentTerm, vote for self, reset election timer, send RequestVote (§5.2)', () => {
    const core = node(1, { terms: [1, 2], term: 2 });
    core.campaign();
    const ready = flush(core);
    expect(ready.hardState).toMatchObject({ term: 3, votedFor: 1 });
    // The requests promise a persisted vote for self, so they wait for the write.
    expect(ready.messages).toEqual([]);
    expect(ready.messagesAfterPersist).toEqual([voteReq(1, 2, 3, 2, 2), voteReq(1, 3, 3, 2, 2)]);
    // Election timer reset: a candidate that hears nothing for a timeout starts a new election.
    for (let i = 0; i < 9; i++) core.tick();
    expect(core.term).toBe(3);
    core.tick();
    expect(core.status()).toMatchObject({ role: 'candidate', term: 4 });
  });

  it('Candidates: become leader on votes from a majority (§5.2)', () => {
    const core = node(1, { voters: [1, 2, 3, 4, 5], term: 1 });
    core.campaign();
    flush(core);
    core.step(voteResp(2, 1, 2, true));
    core.step(voteResp(3, 1, 2, false));
    expect(core.role).toBe('candidate');
    core.step(voteResp(4, 1, 2, true));
    expect(core.role).toBe('leader');
    expect(core.leaderId).toBe(1);
  });

  it('Candidates: lose the election when a majority refuses', () => {
    const core = node(1, { term: 1 });
    core.campaign();
    core.step(voteResp(2, 1, 2, false));
    core.step(voteResp(3, 1, 2, false));
    expect(core.status()).toMatchObject({ role: 'follower', term: 2, votedFor: 1 });
  });

  it('Candidates: AppendEntries from new leader converts to follower (§5.2)', () => {
    const core = node(1, { term: 1 });
    core.campaign();
    core.step(appendReq(3, 1, 2));
    expect(core.status()).toMatchObject({ role: 'follower', term: 2, leaderId: 3 });
  });

  it('Leaders: send initial empty AppendEntries (the no-op) and heartbeats to prevent election timeouts (§5.2, §8)', () => {
    const core = node(1, { terms: [1], term: 1 });
    electLeader(core, 2);
    const initial = only(sent(core), 'append-request');
    expect(initial.map((m) => [m.to, m.prevLogIndex, m.entries.map((e) => [e.index, e.term, e.type])])).toEqual([
      [2, 1, [[2, 2, 'noop']]],
      [3, 1, [[2, 2, 'noop']]],
    ]);
    core.tick();
    const heartbeats = only(sent(core), 'append-request');
    expect(heartbeats.map((m) => m.to).sort()).toEqual([2, 3]);
  });

  it('Leaders: append command to local log and respond after entry applied (§5.3)', () => {
    const cluster = clusterWithLeader();
    const result = cluster.core(1).propose(bytes('x=1'));
    expect(result).toMatchObject({ ok: true, index: 2, term: 1 });
    cluster.stabilize();
    expect(cluster.appliedData(1)).toEqual(['x=1']);
    expect(cluster.core(1).status()).toMatchObject({ commitIndex: 2, appliedIndex: 2 });
  });

  it('Leaders: count themselves toward a quorum only for entries they have persisted', () => {
    const core = node(1, { term: 1 });
    electLeader(core, 2);
    flush(core);
    core.step(appendResp(2, 1, 2, { matchIndex: 1, lastLogIndex: 1 }));
    const result = core.propose(bytes('a'));
    expect(result.ok).toBe(true);
    core.step(appendResp(2, 1, 2, { matchIndex: 2, lastLogIndex: 2 }));
    // Only follower 2 holds index 2 durably; the leader has not written it yet.
    expect(core.commitIndex).toBe(1);
    flush(core);
    expect(core.commitIndex).toBe(2);
  });

  it('Leaders: on rejection decrement nextIndex and retry (§5.3)', () => {
    const core = node(1, { terms: [1, 1, 1, 1, 1], term: 1 });
    electLeader(core, 2);
    flush(core);
    core.step(appendResp(3, 1, 2, { success: false, matchIndex: 5, conflictTerm: 0, conflictIndex: 3, lastLogIndex: 2 }));
    const retry = only(sent(core), 'append-request').filter((m) => m.to === 3);
    expect(retry.map((m) => [m.prevLogIndex, m.prevLogTerm, m.entries.map((e) => e.index)])).toEqual([[2, 1, [3, 4, 5, 6]]]);
  });

  it('Leaders: fast backtracking skips a whole conflicting term (§5.3 optimisation)', () => {
    const core = node(1, { terms: [1, 2, 2, 3, 3], term: 3 });
    electLeader(core, 2);
    flush(core);
    // Follower 3 holds term 2 from index 2 on, but longer than the leader's run of term 2.
    core.step(appendResp(3, 1, 4, { success: false, matchIndex: 5, conflictTerm: 2, conflictIndex: 2, lastLogIndex: 7 }));
    const byTerm = only(sent(core), 'append-request').filter((m) => m.to === 3);
    expect(byTerm.map((m) => [m.prevLogIndex, m.prevLogTerm])).toEqual([[3, 2]]);

    const other = node(1, { terms: [1, 3, 3, 3, 3], term: 3 });
    electLeader(other, 2);
    flush(other);
    // A term the leader never had: jump to the follower's first index of it.
    other.step(appendResp(3, 1, 4, { success: false, matchIndex: 5, conflictTerm: 2, conflictIndex: 2, lastLogIndex: 7 }));
    const byIndex = only(sent(other), 'append-request').filter((m) => m.to === 3);
    expect(byIndex.map((m) => [m.prevLogIndex, m.prevLogTerm])).toEqual([[1, 1]]);
  });

  it('Leaders: a stale rejection (for an append already superseded) does not move nextIndex back', () => {
    const core = node(1, { terms: [1, 1, 1], term: 1 });
    electLeader(core, 2);
    flush(core);
    core.step(appendResp(3, 1, 2, { matchIndex: 4, lastLogIndex: 4 }));
    flush(core);
    core.step(appendResp(3, 1, 2, { success: false, matchIndex: 3, conflictIndex: 1, lastLogIndex: 0 }));
    expect(only(sent(core), 'append-request').filter((m) => m.to === 3)).toEqual([]);
    expect(core.status().progress.find((p) => p.id === 3)).toMatchObject({ matchIndex: 4, state: 'replicate' });
  });

  it('Leaders: commit N only if a majority has matchIndex >= N and log[N].term == currentTerm (§5.3, §5.4.2, Figure 8)', () => {
    // Figure 8 (c): S1 leads term 4 holding (1,1),(2,2); the term-2 entry reaches a majority but must not
    // be committed by counting replicas, or a later leader holding a term-3 entry could overwrite it.
    const core = node(1, { terms: [1, 2], term: 3 });
    electLeader(core, 2);
    flush(core);
    core.step(appendResp(2, 1, 4, { matchIndex: 2, lastLogIndex: 2 }));
    expect(core.commitIndex).toBe(0);
    // Once an entry of term 4 is on a majority, it and everything before it is committed (Figure 8 (e)).
    core.step(appendResp(2, 1, 4, { matchIndex: 3, lastLogIndex: 3 }));
    expect(core.commitIndex).toBe(3);
    expect(flush(core).committedEntries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 2], [3, 4]]);
  });

  it('Figure 8: an old-term entry replicated to a majority is overwritten if it was never committed', () => {
    // S1 (term 2) replicated (2,2) to S2 only; S5 (term 3 entry at index 2) wins with S3 and S4.
    const s5 = node(5, { voters: [1, 2, 3, 4, 5], terms: [1, 3], term: 3 });
    s5.campaign();
    flush(s5);
    s5.step(voteResp(3, 5, 4, true));
    s5.step(voteResp(4, 5, 4, true));
    expect(s5.role).toBe('leader');
    const s1 = node(1, { voters: [1, 2, 3, 4, 5], terms: [1, 2], term: 2 });
    s1.step(appendReq(5, 1, 4, { prevLogIndex: 1, prevLogTerm: 1, entries: [entry(2, 3), { index: 3, term: 4, type: 'noop', data: new Uint8Array() }] }));
    expect(s1.status()).toMatchObject({ lastIndex: 3, lastTerm: 4 });
    expect(flush(s1).entries.map((e) => [e.index, e.term])).toEqual([[2, 3], [3, 4]]);
  });
});

describe('Persistence', () => {
  it('Persistence: votes are in messagesAfterPersist and hardState carries the vote (one vote per term, persisted before answering)', () => {
    const core = node(1, { term: 1 });
    core.step(voteReq(2, 1, 2, 0, 0));
    const ready = core.ready();
    expect(ready.messages).toEqual([]);
    expect(ready.messagesAfterPersist).toEqual([voteResp(1, 2, 2, true)]);
    expect(ready.hardState).toEqual({ term: 2, votedFor: 2, commitIndex: 0 });
    core.advance(ready);
    // Restarting from what was persisted keeps the vote: another candidate of term 2 is refused.
    const restarted = new RaftCore(testConfig(1, [1, 2, 3]), { hardState: ready.hardState!, snapshot: undefined, entries: [] });
    restarted.step(voteReq(3, 1, 2, 5, 5));
    expect(only(sent(restarted), 'vote-response')).toEqual([voteResp(1, 3, 2, false)]);
  });

  it('Persistence: append acks are in messagesAfterPersist, in the Ready that carries the entries and hardState', () => {
    const core = node(1, { term: 1 });
    core.step(appendReq(2, 1, 2, { entries: [entry(1, 2)], leaderCommit: 1 }));
    const ready = core.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([1]);
    expect(ready.hardState).toEqual({ term: 2, votedFor: NO_NODE, commitIndex: 1 });
    expect(ready.messages).toEqual([]);
    expect(only(ready.messagesAfterPersist, 'append-response')).toHaveLength(1);
  });

  it("Persistence: a leader's AppendEntries do not wait for its own write (thesis §10.2.1)", () => {
    const core = node(1, { term: 1 });
    electLeader(core, 2);
    flush(core);
    core.step(appendResp(2, 1, 2, { matchIndex: 1, lastLogIndex: 1 }));
    core.step(appendResp(3, 1, 2, { matchIndex: 1, lastLogIndex: 1 }));
    flush(core);
    core.propose(bytes('a'));
    const ready = core.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([2]);
    expect(only(ready.messages, 'append-request').map((m) => m.to).sort()).toEqual([2, 3]);
    expect(ready.messagesAfterPersist).toEqual([]);
  });

  it('Persistence: messages produced between ready() and advance() are kept for the next Ready', () => {
    const core = node(1, { term: 1 });
    core.step(voteReq(2, 1, 2, 0, 0));
    const ready = core.ready();
    core.step(appendReq(2, 1, 2, { entries: [entry(1, 2)] }));
    core.advance(ready);
    const next = core.ready();
    expect(next.entries.map((e) => e.index)).toEqual([1]);
    expect(only(next.messagesAfterPersist, 'append-response')).toHaveLength(1);
  });
});

describe('Client interaction (§8)', () => {
  it('Proposals on a follower are refused with a leader hint', () => {
    const cluster = clusterWithLeader();
    expect(cluster.core(2).propose(bytes('x'))).toEqual({ ok: false, reason: 'not-leader', leaderId: 1 });
    expect(node(3).propose(bytes('x'))).toEqual({ ok: false, reason: 'not-leader', leaderId: NO_NODE });
  });

  it('Proposals past maxUncommittedEntries are refused (bounded backlog)', () => {
    const core = node(1, { term: 1, config: { maxUncommittedEntries: 2 } });
    electLeader(core, 2);
    expect(core.propose(bytes('a')).ok).toBe(true);
    expect(core.propose(bytes('b'))).toEqual({ ok: false, reason: 'too-many-uncommitted', leaderId: 1 });
  });
});

describe('PreVote (thesis §9.6)', () => {
  it('PreVote: a pre-candidate and the voters that grant it keep their term and vote', () => {
    const core = node(1, { term: 2, vote: 3, config: { preVote: true } });
    core.campaign();
    expect(flush(core).hardState).toBeUndefined();
    const voter = node(2, { term: 2, vote: 3, config: { preVote: true } });
    voter.step(voteReq(1, 2, 3, 0, 0, true));
    const ready = flush(voter);
    expect(ready.hardState).toBeUndefined();
    expect(ready.messagesAfterPersist).toEqual([voteResp(2, 1, 3, true, true)]);
    core.step(voteResp(2, 1, 3, true, true));
    expect(core.status()).toMatchObject({ role: 'candidate', term: 3, votedFor: 1 });
  });

  it('PreVote: refused inside a leader lease (CheckQuorum), granted once the lease ran out', () => {
    const voter = node(2, { term: 2, config: { preVote: true, checkQuorum: true } });
    voter.step(appendReq(3, 2, 2));
    flush(voter);
    voter.step(voteReq(1, 2, 3, 0, 0, true));
    expect(sent(voter)).toEqual([]);
    for (let i = 0; i < 10; i++) voter.tick();
    expect(voter.role).toBe('pre-candidate');
    flush(voter);
    voter.step(voteReq(1, 2, 3, 0, 0, true));
    expect(only(sent(voter), 'vote-response')).toEqual([voteResp(2, 1, 3, true, true)]);
  });

  it('PreVote: a pre-candidate that hears from a leader of its term goes back to following it', () => {
    const core = node(1, { term: 2, config: { preVote: true } });
    core.campaign();
    core.step(appendReq(2, 1, 2));
    expect(core.status()).toMatchObject({ role: 'follower', term: 2, leaderId: 2 });
  });

  it('Leader lease: a follower that heard from its leader ignores a vote request of a higher term (thesis §4.2.3)', () => {
    const voter = node(2, { term: 2, config: { checkQuorum: true } });
    voter.step(appendReq(3, 2, 2));
    flush(voter);
    voter.step(voteReq(1, 2, 3, 0, 0));
    expect(sent(voter)).toEqual([]);
    expect(voter.status()).toMatchObject({ term: 2, leaderId: 3, votedFor: NO_NODE });
  });

  it('PreVote: a partitioned node cannot inflate its term', () => {
    const cluster = clusterWithLeader({ preVote: true, checkQuorum: true });
    cluster.partition([[3]]);
    cluster.tick(3, 100);
    cluster.heal();
    expect(cluster.core(3).term).toBe(1);
    cluster.tick(1, 1);
    cluster.stabilize();
    expect(cluster.core(3).status()).toMatchObject({ role: 'follower', leaderId: 1, term: 1 });
  });
});

describe('CheckQuorum (thesis §6.2)', () => {
  it('CheckQuorum: an isolated leader steps down after an election timeout without hearing from a quorum', () => {
    const cluster = clusterWithLeader({ checkQuorum: true });
    cluster.partition([[1]]);
    // The first check still counts the acks of the election round; the next one finds nobody.
    cluster.tick(1, 19);
    expect(cluster.core(1).role).toBe('leader');
    cluster.tick(1, 1);
    expect(cluster.core(1).status()).toMatchObject({ role: 'follower', leaderId: NO_NODE, term: 1 });
  });

  it('CheckQuorum: a leader that hears from a quorum stays leader', () => {
    const cluster = clusterWithLeader({ checkQuorum: true });
    for (let i = 0; i < 30; i++) {
      cluster.tick(1, 1);
      cluster.stabilize();
    }
    expect(cluster.core(1).role).toBe('leader');
  });
});

describe('Leadership transfer (thesis §3.10)', () => {
  it('Transfer: TimeoutNow to a caught-up target, which wins without PreVote and despite leases', () => {
    const cluster = clusterWithLeader({ preVote: true, checkQuorum: true });
    expect(cluster.core(1).transferLeadership(3)).toEqual({ ok: true });
    const ready = cluster.core(1).ready();
    expect(ready.messages.filter((m) => m.type === 'timeout-now').map((m) => m.to)).toEqual([3]);
    cluster.stabilize();
    expect(cluster.core(3).status()).toMatchObject({ role: 'leader', term: 2 });
    expect(cluster.core(1).status()).toMatchObject({ role: 'follower', leaderId: 3 });
  });

  it('Transfer: a lagging target is caught up first, and proposals are refused while transferring', () => {
    const cluster = clusterWithLeader();
    cluster.partition([[3]]);
    cluster.core(1).propose(bytes('a'));
    cluster.stabilize();
    cluster.heal();
    expect(cluster.core(1).transferLeadership(3)).toEqual({ ok: true });
    expect(cluster.core(1).propose(bytes('b'))).toEqual({ ok: false, reason: 'transferring', leaderId: 1 });
    expect(cluster.core(1).transferLeadership(2)).toEqual({ ok: false, reason: 'already-transferring', leaderId: 1 });
    for (let i = 0; i < 5 && cluster.core(3).role !== 'leader'; i++) {
      cluster.tick(1, 1);
      cluster.stabilize();
    }
    expect(cluster.core(3).role).toBe('leader');
    expect(cluster.core(3).status().lastIndex).toBe(3);
  });

  it('Transfer: abandoned after an election timeout, then proposals are accepted again', () => {
    const cluster = clusterWithLeader();
    cluster.crash(3);
    expect(cluster.core(1).transferLeadership(3).ok).toBe(true);
    cluster.tick(1, 9);
    expect(cluster.core(1).propose(bytes('x')).ok).toBe(false);
    cluster.tick(1, 1);
    expect(cluster.core(1).status().transferringTo).toBe(NO_NODE);
    expect(cluster.core(1).propose(bytes('x')).ok).toBe(true);
  });

  it('Transfer: refused for self, unknown targets and on followers', () => {
    const cluster = clusterWithLeader();
    expect(cluster.core(1).transferLeadership(1)).toMatchObject({ ok: false, reason: 'unknown-target' });
    expect(cluster.core(1).transferLeadership(9)).toMatchObject({ ok: false, reason: 'unknown-target' });
    expect(cluster.core(2).transferLeadership(3)).toEqual({ ok: false, reason: 'not-leader', leaderId: 1 });
  });
});

describe('ReadIndex (thesis §6.4)', () => {
  it('ReadIndex: a read is answered only after a quorum echoed the read sequence', () => {
    const cluster = clusterWithLeader();
    const leader = cluster.core(1);
    expect(leader.readIndex(7)).toEqual({ ok: true });
    const ready = leader.ready();
    expect(ready.readStates).toEqual([]);
    const probes = only(ready.messages, 'append-request');
    expect(probes.map((m) => m.to).sort()).toEqual([2, 3]);
    const seq = probes[0]!.readSeq;
    expect(seq).toBeGreaterThan(0);
    leader.advance(ready);
    // An echo of an older sequence proves nothing about the time of this read.
    leader.step(appendResp(2, 1, 1, { matchIndex: 1, lastLogIndex: 1, readSeq: seq - 1 }));
    expect(leader.ready().readStates).toEqual([]);
    leader.step(appendResp(2, 1, 1, { matchIndex: 1, lastLogIndex: 1, readSeq: seq }));
    expect(flush(leader).readStates).toEqual([{ requestId: 7, index: leader.commitIndex }]);
  });

  it('ReadIndex: refused on followers with a leader hint', () => {
    const cluster = clusterWithLeader();
    expect(cluster.core(2).readIndex(1)).toEqual({ ok: false, reason: 'not-leader', leaderId: 1 });
  });

  it('ReadIndex: waits for the first commit of the term', () => {
    const core = node(1, { terms: [1], term: 1 });
    electLeader(core, 2);
    flush(core);
    core.readIndex(5);
    expect(only(flush(core).messages, 'append-request')).toEqual([]);
    core.step(appendResp(2, 1, 2, { matchIndex: 2, lastLogIndex: 2 }));
    const ready = flush(core);
    expect(core.commitIndex).toBe(2);
    const seq = only(ready.messages, 'append-request').find((m) => m.to === 2)?.readSeq ?? 0;
    expect(seq).toBeGreaterThan(0);
    core.step(appendResp(2, 1, 2, { matchIndex: 2, lastLogIndex: 2, readSeq: seq }));
    expect(flush(core).readStates).toEqual([{ requestId: 5, index: 2 }]);
  });

  it('ReadIndex: fails when leadership is lost', () => {
    const core = node(1, { terms: [1], term: 1 });
    electLeader(core, 2);
    flush(core);
    core.readIndex(5);
    core.step(appendResp(2, 1, 2, { matchIndex: 2, lastLogIndex: 2 }));
    core.readIndex(6);
    flush(core);
    core.step(appendReq(3, 1, 3));
    expect(flush(core).readFailures).toEqual([{ requestId: 5, leaderId: 3 }, { requestId: 6, leaderId: 3 }]);
  });

  it('ReadIndex: a single-voter cluster answers at once', () => {
    const core = node(1, { voters: [1] });
    core.campaign();
    flush(core);
    core.readIndex(1);
    expect(flush(core).readStates).toEqual([{ requestId: 1, index: 1 }]);
  });
});

describe('Snapshots (Figure 13)', () => {
  function compactedCluster(): Cluster {
    const cluster = clusterWithLeader();
    cluster.crash(3);
    for (const value of ['a', 'b', 'c']) cluster.core(1).propose(bytes(value));
    cluster.stabilize();
    cluster.compact(1, 3);
    return cluster;
  }

  it('Snapshot: compact drops the log prefix it covers', () => {
    const cluster = compactedCluster();
    expect(cluster.core(1).status()).toMatchObject({ firstIndex: 4, lastIndex: 4, commitIndex: 4 });
  });

  it('Snapshot: a follower far behind receives snapshot-request and its Ready carries the snapshot', () => {
    const cluster = compactedCluster();
    cluster.restart(3);
    cluster.tick(1, 1);
    cluster.deliver();
    cluster.deliver();
    const requests = cluster.queue.filter((m) => m.type === 'snapshot-request');
    expect(requests.map((m) => m.to)).toEqual([3]);
    cluster.deliver((m) => m.type === 'snapshot-request');
    // Delivering processed node 3's Ready already; restore its state from the stored copy.
    expect(cluster.storage(3).snapshot?.metadata).toMatchObject({ index: 3, term: 1 });
    expect(cluster.storage(3).entries).toEqual([]);
    cluster.stabilize();
    expect(cluster.appliedData(3)).toEqual(['a', 'b', 'c']);
    expect(cluster.core(3).status()).toMatchObject({ commitIndex: 4, firstIndex: 4 });
  });

  it("Snapshot: the follower's Ready holds the snapshot, and its ack only goes out after persisting it", () => {
    const follower = node(2, { terms: [1], term: 1 });
    const snapshot: Snapshot = { metadata: { index: 5, term: 1, voters: [1, 2, 3] }, data: bytes('state') };
    follower.step({ type: 'snapshot-request', from: 1, to: 2, term: 1, snapshot, leaderCommit: 6 });
    const ready = flush(follower);
    expect(ready.snapshot).toBe(snapshot);
    expect(ready.messages).toEqual([]);
    expect(only(ready.messagesAfterPersist, 'append-response')[0]).toMatchObject({ success: true, matchIndex: 5 });
    expect(follower.status()).toMatchObject({ firstIndex: 6, lastIndex: 5, commitIndex: 5, appliedIndex: 5 });
  });

  it('Snapshot: InstallSnapshot keeps the entries following a snapshot point the log already holds (Figure 13, rule 6)', () => {
    // The follower has acknowledged entries 1..5. A snapshot at 3 (e.g. one the leader sent while it
    // believed the follower was behind) must not erase 4..5: the leader may count them in a quorum.
    const follower = node(2, { terms: [1, 1, 1, 1, 1], term: 1, commit: 1 });
    const snapshot: Snapshot = { metadata: { index: 3, term: 1, voters: [1, 2, 3] }, data: bytes('state') };
    follower.step({ type: 'snapshot-request', from: 1, to: 2, term: 1, snapshot, leaderCommit: 3 });
    expect(follower.status()).toMatchObject({ lastIndex: 5, commitIndex: 3 });
  });

  it('Snapshot: an empty node joining a new leader whose log is compacted receives the snapshot', () => {
    // A new leader knows no peer's match point (all 0). An empty peer's rejection sends nextIndex back
    // to 1, whose predecessor (index 0) is compacted too: the leader must send InstallSnapshot.
    const cluster = compactedCluster();
    cluster.crash(1);
    cluster.restart(1);
    cluster.storage(3).entries = [];
    cluster.storage(3).hardState = { term: 0, votedFor: 0, commitIndex: 0 };
    cluster.restart(3);
    cluster.tickUntilRoleChange(1, 100);
    cluster.stabilize();
    expect(cluster.core(1).role).toBe('leader');
    for (let i = 0; i < 3; i++) {
      cluster.tick(1, 1);
      cluster.stabilize();
    }
    expect(cluster.storage(3).snapshot?.metadata).toMatchObject({ index: 3, term: 1 });
    expect(cluster.appliedData(3)).toEqual(['a', 'b', 'c']);
    expect(cluster.core(3).commitIndex).toBe(cluster.core(1).commitIndex);
  });

  it('Snapshot: restart from persisted state with a snapshot', () => {
    const snapshot: Snapshot = { metadata: { index: 10, term: 3, voters: [1, 2, 3] }, data: bytes('state') };
    const core = new RaftCore(testConfig(1, [1, 2, 3]), {
      hardState: { term: 4, votedFor: 2, commitIndex: 11 },
      snapshot,
      entries: logOfTerms([4, 4], 11),
    });
    expect(core.status()).toMatchObject({ firstIndex: 11, lastIndex: 12, lastTerm: 4, commitIndex: 11, appliedIndex: 10, votedFor: 2 });
    expect(flush(core).committedEntries.map((e) => e.index)).toEqual([11]);
    // Log matching at the snapshot point still works.
    core.step(appendReq(2, 1, 4, { prevLogIndex: 10, prevLogTerm: 3, entries: [entry(11, 4), entry(12, 4), entry(13, 4)], leaderCommit: 13 }));
    expect(core.commitIndex).toBe(13);
  });
});

describe('Observers', () => {
  it('Observers: never campaign', () => {
    const core = node(4, { voters: [1, 2, 3] });
    expect(core.role).toBe('observer');
    core.campaign();
    for (let i = 0; i < 50; i++) core.tick();
    expect(core.role).toBe('observer');
    expect(core.term).toBe(0);
    const announcements = only(sent(core), 'observe-request');
    expect(new Set(announcements.map((m) => m.to))).toEqual(new Set([1, 2, 3]));
    expect(only(sent(core), 'vote-request')).toEqual([]);
  });

  it('Observers: not counted in quorum', () => {
    const core = node(1, { voters: [1, 2, 3] });
    electLeader(core, 2);
    flush(core);
    core.step({ type: 'observe-request', from: 4, to: 1, term: core.term, lastLogIndex: 0 });
    core.step(appendResp(4, 1, core.term, { matchIndex: 1, lastLogIndex: 1 }));
    expect(core.commitIndex).toBe(0);
  });

  it('Observers: the leader replicates to an observer after an observe-request of its term', () => {
    const core = node(1, { voters: [1, 2, 3] });
    electLeader(core, 2);
    flush(core);
    core.step({ type: 'observe-request', from: 4, to: 1, term: core.term, lastLogIndex: 0 });
    expect(only(sent(core), 'append-request').map((m) => m.to)).toEqual([4]);
  });

  it('Observers: a new observer (term 0) gets the log after an observe-request', () => {
    const cluster = clusterWithLeader({}, [1, 2, 3], [4]);
    cluster.core(1).propose(bytes('a'));
    cluster.stabilize();
    cluster.tick(4, 10);
    cluster.stabilize();
    cluster.tick(1, 1);
    cluster.stabilize();
    expect(cluster.core(4).status()).toMatchObject({ role: 'observer', leaderId: 1, commitIndex: 2 });
    expect(cluster.appliedData(4)).toEqual(['a']);
  });
});

describe('Ready structure', () => {
  it('Ready: entries and hardState to persist come with the messages that must wait for them', () => {
    const core = node(2, { term: 1 });
    core.step(voteReq(1, 2, 2, 0, 0));
    core.step(appendReq(1, 2, 2, { entries: [entry(1, 2)], leaderCommit: 0 }));
    const ready = core.ready();
    expect(ready.hardState).toMatchObject({ term: 2, votedFor: 1 });
    expect(ready.entries).toHaveLength(1);
    expect(ready.messagesAfterPersist.map((m) => m.type)).toEqual(['vote-response', 'append-response']);
    expect(ready.softState).toMatchObject({ role: 'follower', leaderId: 1, term: 2 });
    core.advance(ready);
    expect(core.hasReady()).toBe(false);
  });
});
