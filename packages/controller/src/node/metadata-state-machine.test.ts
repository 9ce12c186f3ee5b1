import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Entry } from '@runnel/raft';
import { encodeRecordBatch } from '../core/records.js';
import type { MetadataRecord } from '../core/records.js';
import { MetadataStateMachine } from './metadata-state-machine.js';

const logger = pino({ level: 'silent' });

function entry(index: number, records: MetadataRecord[]): Entry {
  return { index, term: 1, type: 'normal', data: encodeRecordBatch(records) };
}

const register = (brokerId: number, brokerEpoch: number): MetadataRecord => ({
  type: 'RegisterBroker', version: 1, brokerId, incarnationId: `inc-${brokerId}`, brokerEpoch,
  endpoints: [{ name: 'CLIENT', host: '127.0.0.1', port: 9000 + brokerId }], rack: null,
});

describe('MetadataStateMachine', () => {
  it('applies one entry as one batch, records its raft index and tells listeners', () => {
    const machine = new MetadataStateMachine(logger);
    const seen: Array<[number, number]> = [];
    machine.onImage((image, offset) => seen.push([image.brokers.size, offset]));
    machine.apply(entry(3, [register(1, 1), register(2, 2)]));
    machine.apply(entry(7, [register(3, 3)]));
    expect(machine.appliedOffset).toBe(7);
    expect([...machine.image.brokers.keys()].sort()).toEqual([1, 2, 3]);
    expect(seen).toEqual([[2, 3], [3, 7]]);
  });

  it('counts fencings and partition leader elections it applies, not new partitions or ISR-only changes', () => {
    const machine = new MetadataStateMachine(logger);
    const topicId = 'AAAAAAAAAAAAAAAAAAAAAA';
    machine.apply(entry(1, [register(1, 1), register(2, 2), { type: 'UnfenceBroker', version: 1, brokerId: 1, brokerEpoch: 1 }, { type: 'UnfenceBroker', version: 1, brokerId: 2, brokerEpoch: 2 }]));
    machine.apply(entry(2, [
      { type: 'Topic', version: 1, name: 't', topicId },
      { type: 'Partition', version: 1, topicId, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' },
    ]));
    expect(machine.eventCounts).toEqual({ brokerFencings: 0, partitionLeaderElections: 0 });
    machine.apply(entry(3, [
      { type: 'FenceBroker', version: 1, brokerId: 1, brokerEpoch: 1 },
      { type: 'PartitionChange', version: 1, topicId, partition: 0, leader: 2, isr: [2] },
    ]));
    machine.apply(entry(4, [{ type: 'PartitionChange', version: 1, topicId, partition: 0, isr: [2] }]));
    expect(machine.eventCounts).toEqual({ brokerFencings: 1, partitionLeaderElections: 1 });
  });

  it('round-trips image and applied offset through snapshot and restore', () => {
    const machine = new MetadataStateMachine(logger);
    machine.apply(entry(5, [register(1, 1)]));
    const restored = new MetadataStateMachine(logger);
    restored.restore(machine.snapshot());
    expect(restored.appliedOffset).toBe(5);
    expect(restored.image.broker(1)?.incarnationId).toBe('inc-1');
    expect(() => restored.restore(new Uint8Array([1, 2, 3]))).toThrow(/shorter than its header/);
  });

  it('skips an entry that is not a record batch on every replica alike, leaving the image unchanged', () => {
    const machine = new MetadataStateMachine(logger);
    machine.apply(entry(1, [register(1, 1)]));
    const before = machine.image;
    machine.apply({ index: 2, term: 1, type: 'normal', data: new TextEncoder().encode('not json') });
    expect(machine.image).toBe(before);
    expect(machine.appliedOffset).toBe(1);
    expect(machine.skippedEntries).toBe(1);
  });

  it('rejects a batch that breaks an image invariant without applying any of it', () => {
    const machine = new MetadataStateMachine(logger);
    machine.apply(entry(1, [register(1, 1)]));
    const before = machine.image;
    // Broker epochs must grow: the second registration of this batch reuses epoch 1.
    expect(() => machine.apply(entry(2, [register(2, 2), register(3, 1)]))).toThrow();
    expect(machine.image).toBe(before);
    expect(machine.appliedOffset).toBe(1);
  });
});
