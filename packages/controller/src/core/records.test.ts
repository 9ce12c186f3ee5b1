import { RunnelError } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import { decodeRecord, decodeRecordBatch, encodeRecord, encodeRecordBatch, type MetadataRecord } from './records.js';

const text = (s: string) => new TextEncoder().encode(s);

const oneOfEach: MetadataRecord[] = [
  { type: 'RegisterBroker', version: 1, brokerId: 1, incarnationId: 'inc-a', brokerEpoch: 7, endpoints: [{ name: 'BROKER', host: '127.0.0.1', port: 9092 }], rack: 'r1' },
  { type: 'RegisterBroker', version: 1, brokerId: 2, incarnationId: 'inc-b', brokerEpoch: 8, endpoints: [], rack: null },
  { type: 'UnregisterBroker', version: 1, brokerId: 1, brokerEpoch: 7 },
  { type: 'FenceBroker', version: 1, brokerId: 1, brokerEpoch: 7 },
  { type: 'UnfenceBroker', version: 1, brokerId: 1, brokerEpoch: 7 },
  { type: 'BrokerRegistrationChange', version: 1, brokerId: 1, brokerEpoch: 7, inControlledShutdown: true },
  { type: 'Topic', version: 1, name: 'orders', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' },
  { type: 'Partition', version: 1, topicId: 'T', partition: 0, replicas: [1, 2, 3], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' },
  { type: 'PartitionChange', version: 1, topicId: 'T', partition: 0, leader: -1 },
  { type: 'PartitionChange', version: 1, topicId: 'T', partition: 2, isr: [3], leaderRecoveryState: 'recovering', replicas: [3, 1] },
  { type: 'RemoveTopic', version: 1, topicId: 'T' },
  { type: 'Config', version: 1, resourceType: 'topic', resourceName: 'orders', name: 'retention.ms', value: '1000' },
  { type: 'Config', version: 1, resourceType: 'cluster', resourceName: '', name: 'unclean.leader.election.enable', value: null },
  { type: 'ProducerIds', version: 1, brokerId: 2, brokerEpoch: 8, nextProducerId: 2000 },
  { type: 'NoOp', version: 1 },
];

describe('metadata record codec', () => {
  it.each(oneOfEach.map((r) => [r.type, r] as const))('round-trips a %s record', (_type, record) => {
    expect(decodeRecord(encodeRecord(record))).toEqual(record);
  });

  it('encodes the same record to the same bytes whatever the key order', () => {
    const a: MetadataRecord = { type: 'FenceBroker', version: 1, brokerId: 3, brokerEpoch: 4 };
    const b = { brokerEpoch: 4, brokerId: 3, version: 1, type: 'FenceBroker' } as MetadataRecord;
    expect(encodeRecord(a)).toEqual(encodeRecord(b));
  });

  it('round-trips a batch of every record type', () => {
    expect(decodeRecordBatch(encodeRecordBatch(oneOfEach))).toEqual(oneOfEach);
  });

  it('rejects an unknown record type', () => {
    expect(() => decodeRecord(text('{"type":"Bogus","version":1}'))).toThrow(/unknown record type "Bogus"/);
  });

  it('rejects an unknown version of a known type', () => {
    expect(() => decodeRecord(text('{"type":"NoOp","version":2}'))).toThrow(/unsupported version 2 of NoOp/);
  });

  it('rejects a missing, mistyped or unknown field, naming it', () => {
    expect(() => decodeRecord(text('{"type":"FenceBroker","version":1,"brokerId":1}'))).toThrow(/missing field 'brokerEpoch'/);
    expect(() => decodeRecord(text('{"type":"FenceBroker","version":1,"brokerId":"1","brokerEpoch":1}'))).toThrow(/FenceBroker.brokerId/);
    expect(() => decodeRecord(text('{"type":"NoOp","version":1,"extra":true}'))).toThrow(/unknown field 'extra'/);
    expect(() =>
      decodeRecord(text('{"type":"Partition","version":1,"topicId":"T","partition":0,"replicas":[1,1],"isr":[1],"leader":1,"leaderEpoch":0,"partitionEpoch":0,"leaderRecoveryState":"recovered"}')),
    ).toThrow(/Partition.replicas must be a list of distinct broker ids/);
  });

  it('rejects bytes that are not JSON with CORRUPT_MESSAGE', () => {
    try {
      decodeRecord(new Uint8Array([0xff, 0xfe]));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RunnelError);
      expect((error as RunnelError).codeName).toBe('CORRUPT_MESSAGE');
    }
  });

  it('refuses to encode an invalid record', () => {
    expect(() => encodeRecord({ type: 'FenceBroker', version: 1, brokerId: -5, brokerEpoch: 1 })).toThrow(/brokerId/);
  });
});
