// Conversion between the core's Message union and runnel.v1.RaftMessage as @grpc/proto-loader
// decodes it (camelCase, uint64 as number, bytes as Buffer, a `body` field naming the oneof member).
// Lossless both ways for every message the core produces. Decoding treats the peer as untrusted:
// a missing oneof member, an unknown enum or a non-integer id is an INVALID_REQUEST, never a crash
// inside the core.

import type { RaftEntry, RaftMessage, RaftSnapshot } from '@runnel/protocol';
import { RunnelError } from '@runnel/protocol';
import type { Entry, Message, Snapshot } from '../core/types.js';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A copy as a plain Uint8Array: the core keeps entries for a long time and must not pin gRPC's receive buffer. */
function fromBytes(bytes: Uint8Array | null | undefined, field: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw invalid(`${field} is not bytes`);
  return new Uint8Array(bytes);
}

function invalid(message: string): RunnelError {
  return new RunnelError('INVALID_REQUEST', `malformed Raft message: ${message}`);
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${field} is not a non-negative integer`);
  return value;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`${field} is not a boolean`);
  return value;
}

function present<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw invalid(`${field} is missing`);
  return value;
}

export function entryToProto(entry: Entry): RaftEntry {
  return {
    index: entry.index,
    term: entry.term,
    type: entry.type === 'noop' ? 'ENTRY_TYPE_NOOP' : 'ENTRY_TYPE_NORMAL',
    data: toBuffer(entry.data),
  };
}

export function entryFromProto(proto: RaftEntry): Entry {
  let type: Entry['type'];
  if (proto.type === 'ENTRY_TYPE_NORMAL') type = 'normal';
  else if (proto.type === 'ENTRY_TYPE_NOOP') type = 'noop';
  else throw invalid(`unknown entry type ${String(proto.type)}`);
  return { index: count(proto.index, 'entry.index'), term: count(proto.term, 'entry.term'), type, data: fromBytes(proto.data, 'entry.data') };
}

export function snapshotToProto(snapshot: Snapshot): RaftSnapshot {
  return {
    index: snapshot.metadata.index,
    term: snapshot.metadata.term,
    voters: [...snapshot.metadata.voters],
    data: toBuffer(snapshot.data),
  };
}

export function snapshotFromProto(proto: RaftSnapshot): Snapshot {
  const voters = present(proto.voters, 'snapshot.voters').map((voter, i) => count(voter, `snapshot.voters[${i}]`));
  return {
    metadata: { index: count(proto.index, 'snapshot.index'), term: count(proto.term, 'snapshot.term'), voters },
    data: fromBytes(proto.data, 'snapshot.data'),
  };
}

export function messageToProto(message: Message): RaftMessage {
  const header = { from: message.from, to: message.to, term: message.term };
  switch (message.type) {
    case 'vote-request':
      return {
        ...header,
        voteRequest: {
          preVote: message.preVote,
          lastLogIndex: message.lastLogIndex,
          lastLogTerm: message.lastLogTerm,
          leadershipTransfer: message.leadershipTransfer,
        },
      };
    case 'vote-response':
      return { ...header, voteResponse: { preVote: message.preVote, granted: message.granted } };
    case 'append-request':
      return {
        ...header,
        appendRequest: {
          prevLogIndex: message.prevLogIndex,
          prevLogTerm: message.prevLogTerm,
          entries: message.entries.map(entryToProto),
          leaderCommit: message.leaderCommit,
          readSeq: message.readSeq,
        },
      };
    case 'append-response':
      return {
        ...header,
        appendResponse: {
          success: message.success,
          matchIndex: message.matchIndex,
          conflictTerm: message.conflictTerm,
          conflictIndex: message.conflictIndex,
          lastLogIndex: message.lastLogIndex,
          readSeq: message.readSeq,
        },
      };
    case 'snapshot-request':
      return { ...header, snapshotRequest: { snapshot: snapshotToProto(message.snapshot), leaderCommit: message.leaderCommit } };
    case 'timeout-now':
      return { ...header, timeoutNow: {} };
    case 'observe-request':
      return { ...header, observeRequest: { lastLogIndex: message.lastLogIndex } };
    default: {
      const unhandled: never = message;
      throw new Error(`unhandled message type ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The oneof member that is set, from the loader's `body` field or, when a caller built the object by hand, by presence. */
function bodyOf(proto: RaftMessage): NonNullable<RaftMessage['body']> {
  if (proto.body !== undefined && proto.body !== null) return proto.body;
  const members = ['voteRequest', 'voteResponse', 'appendRequest', 'appendResponse', 'snapshotRequest', 'timeoutNow', 'observeRequest'] as const;
  const set = members.filter((member) => proto[member] !== undefined && proto[member] !== null);
  if (set.length !== 1 || set[0] === undefined) throw invalid(`expected exactly one body, found ${set.length}`);
  return set[0];
}

export function messageFromProto(proto: RaftMessage): Message {
  const header = { from: count(proto.from, 'from'), to: count(proto.to, 'to'), term: count(proto.term, 'term') };
  const body = bodyOf(proto);
  switch (body) {
    case 'voteRequest': {
      const m = present(proto.voteRequest, body);
      return {
        ...header,
        type: 'vote-request',
        preVote: flag(m.preVote, 'preVote'),
        lastLogIndex: count(m.lastLogIndex, 'lastLogIndex'),
        lastLogTerm: count(m.lastLogTerm, 'lastLogTerm'),
        leadershipTransfer: flag(m.leadershipTransfer, 'leadershipTransfer'),
      };
    }
    case 'voteResponse': {
      const m = present(proto.voteResponse, body);
      return { ...header, type: 'vote-response', preVote: flag(m.preVote, 'preVote'), granted: flag(m.granted, 'granted') };
    }
    case 'appendRequest': {
      const m = present(proto.appendRequest, body);
      return {
        ...header,
        type: 'append-request',
        prevLogIndex: count(m.prevLogIndex, 'prevLogIndex'),
        prevLogTerm: count(m.prevLogTerm, 'prevLogTerm'),
        entries: present(m.entries, 'entries').map(entryFromProto),
        leaderCommit: count(m.leaderCommit, 'leaderCommit'),
        readSeq: count(m.readSeq, 'readSeq'),
      };
    }
    case 'appendResponse': {
      const m = present(proto.appendResponse, body);
      return {
        ...header,
        type: 'append-response',
        success: flag(m.success, 'success'),
        matchIndex: count(m.matchIndex, 'matchIndex'),
        conflictTerm: count(m.conflictTerm, 'conflictTerm'),
        conflictIndex: count(m.conflictIndex, 'conflictIndex'),
        lastLogIndex: count(m.lastLogIndex, 'lastLogIndex'),
        readSeq: count(m.readSeq, 'readSeq'),
      };
    }
    case 'snapshotRequest': {
      const m = present(proto.snapshotRequest, body);
      return {
        ...header,
        type: 'snapshot-request',
        snapshot: snapshotFromProto(present(m.snapshot, 'snapshotRequest.snapshot')),
        leaderCommit: count(m.leaderCommit, 'leaderCommit'),
      };
    }
    case 'timeoutNow':
      present(proto.timeoutNow, body);
      return { ...header, type: 'timeout-now' };
    case 'observeRequest': {
      const m = present(proto.observeRequest, body);
      return { ...header, type: 'observe-request', lastLogIndex: count(m.lastLogIndex, 'lastLogIndex') };
    }
    default: {
      const unknown: never = body;
      throw invalid(`unknown body ${String(unknown)}`);
    }
  }
}
