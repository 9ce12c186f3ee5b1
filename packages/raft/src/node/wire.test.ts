import { RAFT_SERVICE, RunnelError } from '@runnel/protocol';
import type { RaftBatch, RaftMessage } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import type { Entry, Message, MessageType } from '../core/types.js';
import { messageFromProto, messageToProto } from './wire.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const entries: Entry[] = [
  { index: 7, term: 3, type: 'noop', data: new Uint8Array(0) },
  { index: 8, term: 3, type: 'normal', data: bytes('create topic orders') },
  { index: 9, term: 3, type: 'normal', data: new Uint8Array(1024).map((_, i) => i % 256) },
];

// One sample per message type, with every field away from its proto3 default where the type allows,
// so a dropped or swapped field shows up as a difference.
const samples: Record<MessageType, Message> = {
  'vote-request': { type: 'vote-request', from: 1, to: 2, term: 5, preVote: true, lastLogIndex: 2 ** 40, lastLogTerm: 4, leadershipTransfer: true },
  'vote-response': { type: 'vote-response', from: 2, to: 1, term: 5, preVote: true, granted: true },
  'append-request': { type: 'append-request', from: 1, to: 3, term: 3, prevLogIndex: 6, prevLogTerm: 2, entries, leaderCommit: 6, readSeq: 11 },
  'append-response': {
    type: 'append-response', from: 3, to: 1, term: 3, success: false, matchIndex: 4, conflictTerm: 2, conflictIndex: 5, lastLogIndex: 6, readSeq: 11,
  },
  'snapshot-request': {
    type: 'snapshot-request', from: 1, to: 2, term: 9, leaderCommit: 120,
    snapshot: { metadata: { index: 100, term: 8, voters: [1, 2, 3] }, data: bytes('{"topics":["a"]}') },
  },
  'timeout-now': { type: 'timeout-now', from: 1, to: 2, term: 9 },
  'observe-request': { type: 'observe-request', from: 7, to: 1, term: 0, lastLogIndex: 42 },
};

/** Through real protobuf bytes, the way a Deliver call carries them. */
function overTheWire(messages: Message[]): Message[] {
  const method = RAFT_SERVICE['Deliver'];
  if (method === undefined) throw new Error('runnel.v1.Raft has no Deliver method');
  const batch: RaftBatch = { clusterId: 'c1', messages: messages.map(messageToProto) };
  const decoded = method.requestDeserialize(method.requestSerialize(batch)) as RaftBatch;
  expect(decoded.clusterId).toBe('c1');
  return decoded.messages.map(messageFromProto);
}

describe('wire', () => {
  for (const [type, message] of Object.entries(samples)) {
    it(`a ${type} survives encode, protobuf serialisation and decode unchanged`, () => {
      expect(overTheWire([message])).toEqual([message]);
    });
  }

  it('an append-request heartbeat with no entries and all-default fields round-trips', () => {
    const heartbeat: Message = { type: 'append-request', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq: 0 };
    const responseDefaults: Message = {
      type: 'append-response', from: 2, to: 1, term: 1, success: false, matchIndex: 0, conflictTerm: 0, conflictIndex: 0, lastLogIndex: 0, readSeq: 0,
    };
    expect(overTheWire([heartbeat, responseDefaults])).toEqual([heartbeat, responseDefaults]);
  });

  it('a batch keeps message order', () => {
    const all = Object.values(samples);
    expect(overTheWire(all).map((m) => m.type)).toEqual(all.map((m) => m.type));
  });

  it('decoded payloads are plain Uint8Array copies, not views into the receive buffer', () => {
    const [decoded] = overTheWire([samples['append-request']]);
    if (decoded?.type !== 'append-request') throw new Error('expected an append-request');
    for (const entry of decoded.entries) expect(Object.getPrototypeOf(entry.data)).toBe(Uint8Array.prototype);
  });

  it('a message without a body is an INVALID_REQUEST', () => {
    const bodiless: RaftMessage = { from: 1, to: 2, term: 1 };
    expect(() => messageFromProto(bodiless)).toThrow(RunnelError);
    expect(() => messageFromProto(bodiless)).toThrow(/exactly one body/);
  });

  it('an unknown entry type or a snapshot request without its snapshot is an INVALID_REQUEST', () => {
    const badEntry = {
      from: 1, to: 2, term: 1, body: 'appendRequest',
      appendRequest: { prevLogIndex: 0, prevLogTerm: 0, leaderCommit: 0, readSeq: 0, entries: [{ index: 1, term: 1, type: 'ENTRY_TYPE_BOGUS', data: Buffer.alloc(0) }] },
    } as unknown as RaftMessage;
    expect(() => messageFromProto(badEntry)).toThrow(/unknown entry type/);
    const noSnapshot: RaftMessage = { from: 1, to: 2, term: 1, body: 'snapshotRequest', snapshotRequest: { snapshot: null, leaderCommit: 0 } };
    try {
      messageFromProto(noSnapshot);
      expect.unreachable('decoding should have failed');
    } catch (error) {
      expect(error).toBeInstanceOf(RunnelError);
      expect((error as RunnelError).codeName).toBe('INVALID_REQUEST');
    }
  });
});
