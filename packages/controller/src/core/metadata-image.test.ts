import { describe, expect, it } from 'vitest';
import { InvariantViolation } from './assert.js';
import { MetadataImage } from './metadata-image.js';
import type { MetadataRecord } from './records.js';

const register = (brokerId: number, brokerEpoch: number, rack: string | null = null): MetadataRecord => ({
  type: 'RegisterBroker',
  version: 1,
  brokerId,
  incarnationId: `inc-${brokerId}-${brokerEpoch}`,
  brokerEpoch,
  endpoints: [{ name: 'BROKER', host: '127.0.0.1', port: 9000 + brokerId }],
  rack,
});

const clusterRecords: MetadataRecord[] = [
  register(1, 1, 'a'),
  register(2, 2, 'b'),
  register(3, 3, null),
  { type: 'UnfenceBroker', version: 1, brokerId: 1, brokerEpoch: 1 },
  { type: 'UnfenceBroker', version: 1, brokerId: 2, brokerEpoch: 2 },
  { type: 'Topic', version: 1, name: 'orders', topicId: 'T1' },
  { type: 'Partition', version: 1, topicId: 'T1', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' },
  { type: 'Partition', version: 1, topicId: 'T1', partition: 1, replicas: [2, 3, 1], isr: [2, 3], leader: 2, leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' },
  { type: 'Topic', version: 1, name: 'audit', topicId: 'T2' },
  { type: 'Partition', version: 1, topicId: 'T2', partition: 0, replicas: [3], isr: [3], leader: -1, leaderEpoch: 4, partitionEpoch: 9, leaderRecoveryState: 'recovered' },
  { type: 'Config', version: 1, resourceType: 'topic', resourceName: 'orders', name: 'retention.ms', value: '1000' },
  { type: 'Config', version: 1, resourceType: 'cluster', resourceName: '', name: 'unclean.leader.election.enable', value: 'true' },
  { type: 'ProducerIds', version: 1, brokerId: 1, brokerEpoch: 1, nextProducerId: 1000 },
];

const cluster = (): MetadataImage => MetadataImage.EMPTY.applyAll(clusterRecords);

describe('MetadataImage', () => {
  it('registers brokers fenced and unfences them by epoch', () => {
    const image = cluster();
    expect(image.broker(1)).toMatchObject({ fenced: false, brokerEpoch: 1, rack: 'a' });
    expect(image.broker(3)).toMatchObject({ fenced: true, rack: null });
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([1, 2]);
  });

  it('answers leader, led-by, under-replicated and offline queries', () => {
    const image = cluster();
    expect(image.leaderOf('orders', 0)).toBe(1);
    expect(image.leaderOf('audit', 0)).toBe(-1);
    expect(image.leaderOf('missing', 0)).toBeUndefined();
    expect(image.partitionsLedBy(2)).toEqual([{ topicName: 'orders', topicId: 'T1', partition: 1 }]);
    expect(image.underReplicatedPartitions()).toEqual([{ topicName: 'orders', topicId: 'T1', partition: 1 }]);
    expect(image.offlinePartitions()).toEqual([{ topicName: 'audit', topicId: 'T2', partition: 0 }]);
  });

  it('bumps partitionEpoch on every change and leaderEpoch only on a leader change', () => {
    const isrOnly = cluster().apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 0, isr: [1, 2] });
    expect(isrOnly.partition('T1', 0)).toMatchObject({ leader: 1, leaderEpoch: 0, partitionEpoch: 1, isr: [1, 2] });
    const newLeader = isrOnly.apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 0, leader: 2, isr: [2] });
    expect(newLeader.partition('T1', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 2, isr: [2] });
  });

  it('never changes the image it was applied to, and shares what did not change', () => {
    const before = cluster();
    const after = before.apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 0, leader: 2 });
    expect(before.partition('T1', 0)?.leader).toBe(1);
    expect(after.partition('T1', 0)?.leader).toBe(2);
    expect(after.topicById('T2')).toBe(before.topicById('T2'));
    expect(after.partition('T1', 1)).toBe(before.partition('T1', 1));
    expect(after.brokers).toBe(before.brokers);
    expect(Object.isFrozen(after.partition('T1', 0))).toBe(true);
  });

  it('removes a topic with its configs', () => {
    const image = cluster().apply({ type: 'RemoveTopic', version: 1, topicId: 'T1' });
    expect(image.topic('orders')).toBeUndefined();
    expect(image.config('topic', 'orders', 'retention.ms')).toBeUndefined();
    expect(image.topic('audit')).toBeDefined();
  });

  it('resolves topic configs before cluster configs, and deletes a key on a null value', () => {
    const image = cluster().apply({ type: 'Config', version: 1, resourceType: 'topic', resourceName: 'orders', name: 'unclean.leader.election.enable', value: 'false' });
    expect(image.effectiveTopicConfig('orders', 'unclean.leader.election.enable')).toBe('false');
    expect(image.effectiveTopicConfig('audit', 'unclean.leader.election.enable')).toBe('true');
    const cleared = image.apply({ type: 'Config', version: 1, resourceType: 'topic', resourceName: 'orders', name: 'unclean.leader.election.enable', value: null });
    expect(cleared.effectiveTopicConfig('orders', 'unclean.leader.election.enable')).toBe('true');
  });

  it('rejects records that contradict the image as invariant violations', () => {
    const image = cluster();
    expect(() => image.apply({ type: 'FenceBroker', version: 1, brokerId: 1, brokerEpoch: 99 })).toThrow(InvariantViolation);
    expect(() => image.apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 0, leader: 3, isr: [1, 2] })).toThrow(/not in ISR/);
    expect(() => image.apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 0, isr: [] })).toThrow(/empty ISR/);
    expect(() => image.apply({ type: 'Topic', version: 1, name: 'orders', topicId: 'T9' })).toThrow(/already exists/);
    expect(() => image.apply(register(4, 2))).toThrow(/broker epoch/);
    expect(() => image.apply({ type: 'ProducerIds', version: 1, brokerId: 1, brokerEpoch: 1, nextProducerId: 1000 })).toThrow(/only advance/);
  });

  it('writes the same snapshot bytes for the same image however it was reached', () => {
    const a = cluster();
    const reordered = [...clusterRecords];
    // Configs and the producer-id block commute with topic records: a different history, same image.
    const tail = reordered.splice(10);
    const b = MetadataImage.EMPTY.applyAll([...tail.slice(0, 2), ...reordered, ...tail.slice(2)]);
    expect(b.toSnapshot()).toEqual(a.toSnapshot());
  });

  it('restores an equal image from its snapshot', () => {
    const image = cluster()
      .apply({ type: 'BrokerRegistrationChange', version: 1, brokerId: 2, brokerEpoch: 2, inControlledShutdown: true })
      .apply({ type: 'UnregisterBroker', version: 1, brokerId: 3, brokerEpoch: 3 })
      .apply({ type: 'PartitionChange', version: 1, topicId: 'T1', partition: 1, leader: 1, isr: [1], leaderRecoveryState: 'recovering' });
    const restored = MetadataImage.fromSnapshot(image.toSnapshot());
    expect(restored.toSnapshot()).toEqual(image.toSnapshot());
    expect(restored.broker(2)).toEqual(image.broker(2));
    expect(restored.partition('T1', 1)).toEqual(image.partition('T1', 1));
    expect(restored.nextProducerId).toBe(1000);
    // Broker 3's epoch is gone with it, but no later registration may reuse it.
    expect(restored.brokerEpochMax).toBe(3);
  });

  it('rejects a snapshot of an unknown version or with a corrupt record', () => {
    expect(() => MetadataImage.fromSnapshot(new TextEncoder().encode('{"version":2}'))).toThrow(/unsupported version 2/);
    const bad = '{"brokerEpochMax":0,"nextProducerId":0,"records":[{"type":"Nope","version":1}],"version":1}';
    expect(() => MetadataImage.fromSnapshot(new TextEncoder().encode(bad))).toThrow(/unknown record type/);
  });
});
