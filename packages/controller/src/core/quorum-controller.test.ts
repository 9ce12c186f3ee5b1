import { RunnelError } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import { ControllerHarness, ok } from './test-harness.js';

const errorOf = (value: unknown): string => (value instanceof RunnelError ? value.codeName : 'NONE');

function threeBrokers(config = {}): ControllerHarness {
  const h = new ControllerHarness({ autoLeaderRebalanceEnable: false, ...config });
  h.controller.activate(h.image, h.nowMs);
  for (const id of [1, 2, 3]) h.startBroker(id);
  return h;
}

describe('broker registration and heartbeats', () => {
  it('registers a broker fenced and unfences it once it has caught up with the committed offset', () => {
    const h = new ControllerHarness();
    const result = h.controller.registerBroker(h.image, { brokerId: 1, incarnationId: 'a', endpoints: [{ name: 'BROKER', host: '127.0.0.1', port: 9092 }], rack: null }, 0);
    const { brokerEpoch } = ok(h.commit(result));
    h.epochs.set(1, brokerEpoch);
    expect(h.image.broker(1)?.fenced).toBe(true);
    const behind = ok(h.heartbeat(1, { metadataOffset: h.offset - 1 }));
    expect(behind.isFenced).toBe(true);
    const caughtUp = ok(h.heartbeat(1));
    expect(caughtUp.isFenced).toBe(false);
    expect(h.image.broker(1)?.fenced).toBe(false);
  });

  it('gives every new incarnation a higher broker epoch and answers a retried registration with the same epoch', () => {
    const h = new ControllerHarness();
    const first = h.startBroker(1, null, 'a');
    const retry = ok(h.commit(h.controller.registerBroker(h.image, { brokerId: 1, incarnationId: 'a', endpoints: [], rack: null }, 0)));
    expect(retry.brokerEpoch).toBe(first);
    h.nowMs += 20_000;
    const second = h.startBroker(1, null, 'b');
    expect(second).toBeGreaterThan(first);
  });

  it('refuses a second live incarnation with DUPLICATE_BROKER_REGISTRATION', () => {
    const h = new ControllerHarness();
    h.startBroker(1, null, 'a');
    const result = h.controller.registerBroker(h.image, { brokerId: 1, incarnationId: 'b', endpoints: [], rack: null }, 1_000);
    expect(errorOf(result.response)).toBe('DUPLICATE_BROKER_REGISTRATION');
    expect(result.records).toEqual([]);
  });

  it('answers a heartbeat with a stale broker epoch with STALE_BROKER_EPOCH, and an unknown broker with BROKER_ID_NOT_REGISTERED', () => {
    const h = new ControllerHarness();
    const epoch = h.startBroker(1);
    const stale = h.controller.brokerHeartbeat(h.image, { brokerId: 1, brokerEpoch: epoch - 1, metadataOffset: 0, wantFence: false, wantShutdown: false }, 0);
    expect(errorOf(stale.response)).toBe('STALE_BROKER_EPOCH');
    const unknown = h.controller.brokerHeartbeat(h.image, { brokerId: 9, brokerEpoch: 1, metadataOffset: 0, wantFence: false, wantShutdown: false }, 0);
    expect(errorOf(unknown.response)).toBe('BROKER_ID_NOT_REGISTERED');
  });

  it('fences a broker asking to be fenced and moves its leaderships', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 3, 3);
    const ledBy1 = h.image.partitionsLedBy(1);
    expect(ledBy1.length).toBe(1);
    expect(ok(h.heartbeat(1, { wantFence: true })).isFenced).toBe(true);
    expect(h.image.partitionsLedBy(1)).toEqual([]);
    expect(h.image.partition(topicId, ledBy1[0]?.partition ?? -1)?.isr).not.toContain(1);
  });
});

describe('broker restart', () => {
  it('moves the leaderships of a restarted broker at its new registration, before its session would expire', () => {
    const h = threeBrokers();
    h.createTopic('t', 3, 3);
    expect(h.image.partitionsLedBy(1).length).toBe(1);
    h.nowMs += 10_000;
    const registered = ok(h.commit(h.controller.registerBroker(h.image, { brokerId: 1, incarnationId: 'after-crash', endpoints: [], rack: null }, h.nowMs)));
    expect(h.image.broker(1)).toMatchObject({ fenced: true, brokerEpoch: registered.brokerEpoch });
    expect(h.image.partitionsLedBy(1)).toEqual([]);
    expect(h.image.partitionsWithIsrMember(1)).toEqual([]);
  });
});

describe('session expiry (tick)', () => {
  it('fences a broker silent for longer than broker.session.timeout.ms and moves leadership within the ISR, bumping the leader epoch', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 3, 3);
    const [led] = h.image.partitionsLedBy(2);
    const before = h.image.partition(topicId, led?.partition ?? -1);
    expect(h.advance(9_000, [1, 3]).response.fencedBrokers).toEqual([]);
    const result = h.advance(1, []);
    expect(result.response.fencedBrokers).toEqual([2]);
    const after = h.image.partition(topicId, led?.partition ?? -1);
    expect(after?.leader).not.toBe(2);
    expect(before?.isr).toContain(after?.leader);
    expect(after?.leaderEpoch).toBe((before?.leaderEpoch ?? 0) + 1);
    expect(after?.isr).not.toContain(2);
    // One PartitionChange per partition: leader move and ISR shrink are decided together.
    const changes = result.records.filter((r) => r.type === 'PartitionChange');
    expect(new Set(changes.map((r) => (r.type === 'PartitionChange' ? r.partition : -1))).size).toBe(changes.length);
    expect(h.image.broker(2)?.fenced).toBe(true);
  });

  it('keeps the last ISR member and takes the partition offline when nothing else is electable', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('single', 1, 1);
    const leader = h.image.partition(topicId, 0)?.leader as number;
    const others = [1, 2, 3].filter((id) => id !== leader);
    h.advance(9_001, others);
    expect(h.image.partition(topicId, 0)).toMatchObject({ leader: -1, isr: [leader] });
    expect(h.image.offlinePartitions().map((p) => p.topicName)).toEqual(['single']);
    // It comes back when that replica does.
    h.epochs.set(leader, h.startBroker(leader, null, 'again'));
    expect(h.image.partition(topicId, 0)?.leader).toBe(leader);
  });

  it('elects an out-of-sync replica only when unclean.leader.election.enable allows it, and reports it', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 1, 3, { 'unclean.leader.election.enable': 'true' });
    const state = h.image.partition(topicId, 0);
    const leader = state?.leader as number;
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const third = [1, 2, 3].find((id) => id !== leader && id !== follower) as number;
    // The ISR shrinks to the leader alone, then the leader dies.
    ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [leader] })));
    const result = h.advance(9_001, [follower, third]);
    expect(result.uncleanElections).toHaveLength(1);
    const after = h.image.partition(topicId, 0);
    expect(after?.leader).not.toBe(leader);
    expect(after?.leader).not.toBe(-1);
    expect(after?.isr).toEqual([after?.leader]);
    expect(after?.leaderRecoveryState).toBe('recovering');
  });

  it('keeps a partition offline without unclean election, and elects once the cluster config enables it', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 1, 3);
    const leader = h.image.partition(topicId, 0)?.leader as number;
    const others = [1, 2, 3].filter((id) => id !== leader);
    ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [leader] })));
    const fenced = h.advance(9_001, others);
    expect(fenced.uncleanElections).toEqual([]);
    expect(h.image.partition(topicId, 0)?.leader).toBe(-1);
    const [altered] = h.commit(h.controller.alterConfigs(h.image, [{ resourceType: 'cluster', resourceName: '', configs: { 'unclean.leader.election.enable': 'true' } }]));
    expect(altered?.error).toBeNull();
    const elected = h.advance(1, others);
    expect(elected.uncleanElections.map((u) => u.leader)).toEqual([h.image.partition(topicId, 0)?.leader]);
    expect(others).toContain(h.image.partition(topicId, 0)?.leader);
  });

  it('on failover counts the session of the previous controller\'s node from when it was last heard from', () => {
    const h = threeBrokers();
    h.nowMs += 60_000;
    h.controller.activate(h.image, h.nowMs, new Map([[1, h.nowMs - 1_000], [2, h.nowMs + 5_000]]));
    // Broker 1: 9 s session from 1 s ago. Broker 2: a time after now is not trusted.
    expect(h.advance(8_000).response.fencedBrokers).toEqual([]);
    expect(h.advance(1).response.fencedBrokers).toEqual([1]);
    expect(h.advance(1_000).response.fencedBrokers).toEqual([2, 3]);
  });

  it('gives every broker a fresh session on controller failover', () => {
    const h = threeBrokers();
    h.nowMs += 60_000;
    h.controller.activate(h.image, h.nowMs);
    expect(h.advance(9_000).response.fencedBrokers).toEqual([]);
    expect(h.advance(1).response.fencedBrokers).toEqual([1, 2, 3]);
  });
});

describe('topics', () => {
  it('creates a topic with balanced replicas, leader = first replica, full ISR and its configs', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('orders', 3, 3, { 'retention.ms': '60000' });
    const topic = h.image.topic('orders');
    expect(topic?.topicId).toBe(topicId);
    expect(topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (const p of topic?.partitions ?? []) {
      expect(p.leader).toBe(p.replicas[0]);
      expect(p.isr).toEqual(p.replicas);
      expect(p.leaderEpoch).toBe(0);
    }
    expect(new Set(topic?.partitions.map((p) => p.leader))).toEqual(new Set([1, 2, 3]));
    expect(h.image.config('topic', 'orders', 'retention.ms')).toBe('60000');
  });

  it('fails a replication factor above the live brokers, an existing name and a bad config, creating nothing for them', () => {
    const h = threeBrokers();
    h.createTopic('exists', 1, 1);
    const result = h.controller.createTopics(h.image, [
      { name: 'big', numPartitions: 1, replicationFactor: 4 },
      { name: 'exists', numPartitions: 1, replicationFactor: 1 },
      { name: 'bad', numPartitions: 1, replicationFactor: 2, configs: { 'min.insync.replicas': '3' } },
      { name: 'a..b/c', numPartitions: 1, replicationFactor: 1 },
      { name: 'zero', numPartitions: 0, replicationFactor: 1 },
      { name: 'good', numPartitions: 2, replicationFactor: 2 },
    ]);
    expect(result.response.map((r) => errorOf(r.error))).toEqual([
      'INVALID_REPLICATION_FACTOR',
      'TOPIC_ALREADY_EXISTS',
      'INVALID_CONFIG',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_PARTITIONS',
      'NONE',
    ]);
    h.commit(result);
    expect([...h.image.topicIdsByName.keys()].sort()).toEqual(['exists', 'good']);
  });

  it('counts only unfenced brokers for the replication factor', () => {
    const h = threeBrokers();
    h.heartbeat(3, { wantFence: true });
    const [result] = h.controller.createTopics(h.image, [{ name: 't', numPartitions: 1, replicationFactor: 3 }]).response;
    expect(errorOf(result?.error)).toBe('INVALID_REPLICATION_FACTOR');
  });

  it('refuses a name colliding with another topic of the same request, and duplicates', () => {
    const h = threeBrokers();
    const result = h.controller.createTopics(h.image, [
      { name: 'a.b', numPartitions: 1, replicationFactor: 1 },
      { name: 'a_b', numPartitions: 1, replicationFactor: 1 },
      { name: 'dup', numPartitions: 1, replicationFactor: 1 },
      { name: 'dup', numPartitions: 1, replicationFactor: 1 },
    ]);
    expect(result.response.map((r) => errorOf(r.error))).toEqual(['NONE', 'INVALID_TOPIC_EXCEPTION', 'INVALID_REQUEST', 'INVALID_REQUEST']);
  });

  it('writes nothing when validateOnly is set', () => {
    const h = threeBrokers();
    const result = h.controller.createTopics(h.image, [{ name: 't', numPartitions: 1, replicationFactor: 1 }], { validateOnly: true });
    expect(result.response[0]?.error).toBeNull();
    expect(result.records).toEqual([]);
  });

  it('accepts a manual assignment and rejects an invalid one', () => {
    const h = threeBrokers();
    const result = h.commit(h.controller.createTopics(h.image, [
      { name: 'manual', assignments: [[3, 1], [2, 3]] },
      { name: 'twice', assignments: [[1, 1]] },
      { name: 'ghost', assignments: [[1, 7]] },
    ]));
    expect(result.map((r) => errorOf(r.error))).toEqual(['NONE', 'INVALID_REPLICA_ASSIGNMENT', 'INVALID_REPLICA_ASSIGNMENT']);
    expect(h.image.topic('manual')?.partitions.map((p) => p.replicas)).toEqual([[3, 1], [2, 3]]);
  });

  it('deletes topics, failing unknown ones with UNKNOWN_TOPIC_OR_PARTITION', () => {
    const h = threeBrokers();
    h.createTopic('t', 2, 2);
    const results = h.commit(h.controller.deleteTopics(h.image, ['t', 'nope']));
    expect(results.map((r) => errorOf(r.error))).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect(h.image.topic('t')).toBeUndefined();
  });

  it('only increases partition counts', () => {
    const h = threeBrokers();
    h.createTopic('t', 2, 2);
    const results = h.commit(h.controller.createPartitions(h.image, [{ name: 't', count: 5 }, { name: 't', count: 1 }, { name: 'nope', count: 3 }]));
    expect(results.map((r) => errorOf(r.error))).toEqual(['NONE', 'INVALID_PARTITIONS', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const partitions = h.image.topic('t')?.partitions ?? [];
    expect(partitions).toHaveLength(5);
    expect(partitions.every((p) => p.replicas.length === 2)).toBe(true);
  });
});

describe('AlterPartition', () => {
  function setup() {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 1, 3);
    const state = h.image.partition(topicId, 0);
    if (state === undefined) throw new Error('no partition');
    return { h, topicId, state, leader: state.leader, followers: state.replicas.filter((id) => id !== state.leader) };
  }

  it('shrinks and expands the ISR, bumping only the partition epoch', () => {
    const { h, topicId, leader, followers } = setup();
    const shrunk = ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [leader, followers[0] as number] })));
    expect(shrunk).toMatchObject({ leader, leaderEpoch: 0, partitionEpoch: 1, isr: [leader, followers[0]] });
    const expanded = ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, leaderEpoch: 0, partitionEpoch: 1, newIsr: [leader, ...followers] })));
    expect(expanded.partitionEpoch).toBe(2);
    expect(h.image.partition(topicId, 0)?.isr).toEqual([leader, ...followers]);
  });

  it('fails a stale leader epoch with FENCED_LEADER_EPOCH and a stale partition epoch with INVALID_UPDATE_VERSION', () => {
    const { h, topicId, leader } = setup();
    const base = { topicId, partition: 0, leaderId: leader, newIsr: [leader] };
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderEpoch: 1, partitionEpoch: 0 }).response)).toBe('FENCED_LEADER_EPOCH');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderEpoch: 0, partitionEpoch: 5 }).response)).toBe('INVALID_UPDATE_VERSION');
  });

  it('refuses an ISR without the leader, with non-replicas, from a non-leader, or for an unknown partition', () => {
    const { h, topicId, leader, followers } = setup();
    const base = { topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0 };
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderId: leader, newIsr: followers }).response)).toBe('INVALID_REQUEST');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderId: leader, newIsr: [leader, 9] }).response)).toBe('INVALID_REQUEST');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderId: followers[0] as number, newIsr: [leader] }).response)).toBe('INVALID_REQUEST');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, leaderId: leader, newIsr: [] }).response)).toBe('INVALID_REQUEST');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, topicId: 'missing', leaderId: leader, newIsr: [leader] }).response)).toBe('UNKNOWN_TOPIC_ID');
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, partition: 4, leaderId: leader, newIsr: [leader] }).response)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('refuses to add a fenced broker to the ISR with INELIGIBLE_REPLICA', () => {
    const { h, topicId, leader, followers } = setup();
    const [fenced, other] = followers as [number, number];
    ok(h.heartbeat(fenced, { wantFence: true }));
    const state = h.image.partition(topicId, 0);
    const result = h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, leaderEpoch: state?.leaderEpoch ?? 0, partitionEpoch: state?.partitionEpoch ?? 0, newIsr: [leader, other, fenced] });
    expect(errorOf(result.response)).toBe('INELIGIBLE_REPLICA');
  });

  it('keeps a recovering partition at a single-member ISR until its leader reports it recovered', () => {
    const h = threeBrokers({ uncleanLeaderElectionEnable: true });
    const topicId = h.createTopic('t', 1, 3);
    const first = h.image.partition(topicId, 0);
    const oldLeader = first?.leader as number;
    ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: oldLeader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [oldLeader] })));
    h.advance(9_001, [1, 2, 3].filter((id) => id !== oldLeader));
    const s = h.image.partition(topicId, 0);
    if (s === undefined) throw new Error('missing');
    expect(s.leaderRecoveryState).toBe('recovering');
    const others = s.replicas.filter((id) => id !== s.leader && id !== oldLeader);
    const base = { topicId, partition: 0, leaderId: s.leader, leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch };
    expect(errorOf(h.controller.alterPartition(h.image, { ...base, newIsr: [s.leader, ...others], leaderRecoveryState: 'recovering' }).response)).toBe('INVALID_REQUEST');
    const recovered = ok(h.commit(h.controller.alterPartition(h.image, { ...base, newIsr: [s.leader, ...others], leaderRecoveryState: 'recovered' })));
    expect(recovered).toMatchObject({ leaderRecoveryState: 'recovered', isr: [s.leader, ...others], leaderEpoch: s.leaderEpoch });
  });

  it('checks the broker epoch of the requesting leader when given', () => {
    const { h, topicId, leader } = setup();
    const result = h.controller.alterPartition(h.image, { topicId, partition: 0, leaderId: leader, brokerEpoch: 999, leaderEpoch: 0, partitionEpoch: 0, newIsr: [leader] });
    expect(errorOf(result.response)).toBe('STALE_BROKER_EPOCH');
  });
});

describe('controlled shutdown', () => {
  it('moves leadership away and leaves the ISRs before letting the broker exit', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 6, 3);
    expect(h.image.partitionsLedBy(1).length).toBeGreaterThan(0);
    const response = ok(h.heartbeat(1, { wantShutdown: true }));
    expect(response).toMatchObject({ inControlledShutdown: true, shouldShutdown: true });
    expect(h.image.partitionsLedBy(1)).toEqual([]);
    expect(h.image.partitionsWithIsrMember(1)).toEqual([]);
    for (const p of h.image.topicById(topicId)?.partitions ?? []) expect([2, 3]).toContain(p.leader);
    // It stays out: no ISR expansion and no preferred-leader election brings it back.
    expect(h.commit(h.controller.electPreferredLeaders(h.image))).toEqual([]);
  });

  it('takes a partition whose only ISR member shuts down offline, keeping that member in the ISR', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('single', 1, 1);
    const leader = h.image.partition(topicId, 0)?.leader as number;
    const response = ok(h.heartbeat(leader, { wantShutdown: true }));
    expect(response.shouldShutdown).toBe(true);
    expect(h.image.partition(topicId, 0)).toMatchObject({ leader: -1, isr: [leader] });
  });
});

describe('preferred leader rebalance', () => {
  it('returns leadership to the first replica once it is back in the ISR and unfenced', () => {
    const h = threeBrokers({ autoLeaderRebalanceEnable: true, leaderImbalanceCheckIntervalMs: 10_000 });
    const topicId = h.createTopic('t', 3, 3);
    const preferredOf2 = h.image.partitionsLedBy(2).map((p) => p.partition);
    h.advance(9_001, [1, 3]);
    expect(h.image.partitionsLedBy(2)).toEqual([]);
    h.epochs.set(2, h.startBroker(2, null, 'restarted'));
    // Back in the ISR (as the leader would report once it caught up), then the periodic check.
    for (const partition of preferredOf2) {
      const s = h.image.partition(topicId, partition);
      if (s === undefined) throw new Error('missing');
      ok(h.commit(h.controller.alterPartition(h.image, { topicId, partition, leaderId: s.leader, leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch, newIsr: [...s.isr, 2] })));
    }
    const result = h.advance(10_000, [1, 2, 3]);
    expect(result.response.changedPartitions.map((p) => p.partition).sort()).toEqual(preferredOf2.sort());
    expect(h.image.partitionsLedBy(2).map((p) => p.partition)).toEqual(preferredOf2);
  });

  it('does not move a leader to a preferred replica outside the ISR', () => {
    const h = threeBrokers();
    const topicId = h.createTopic('t', 1, 3);
    const preferred = h.image.partition(topicId, 0)?.replicas[0] as number;
    ok(h.heartbeat(preferred, { wantFence: true }));
    ok(h.heartbeat(preferred));
    expect(h.image.broker(preferred)?.fenced).toBe(false);
    expect(h.commit(h.controller.electPreferredLeaders(h.image))).toEqual([]);
  });
});

describe('producer ids', () => {
  it('hands out consecutive blocks of 1000 to the current broker epoch only', () => {
    const h = threeBrokers();
    const first = ok(h.commit(h.controller.allocateProducerIds(h.image, 1, h.epochs.get(1) ?? -1)));
    const second = ok(h.commit(h.controller.allocateProducerIds(h.image, 2, h.epochs.get(2) ?? -1)));
    expect(first).toEqual({ firstProducerId: 0, size: 1000 });
    expect(second).toEqual({ firstProducerId: 1000, size: 1000 });
    expect(h.image.nextProducerId).toBe(2000);
    expect(errorOf(h.controller.allocateProducerIds(h.image, 1, 12345).response)).toBe('STALE_BROKER_EPOCH');
  });
});

describe('configs', () => {
  it('validates topic configs against the topic and refuses unknown resources', () => {
    const h = threeBrokers();
    h.createTopic('t', 1, 2);
    const results = h.commit(h.controller.alterConfigs(h.image, [
      { resourceType: 'topic', resourceName: 't', configs: { 'min.insync.replicas': '2', 'retention.ms': null } },
      { resourceType: 'topic', resourceName: 't', configs: { 'min.insync.replicas': '3' } },
      { resourceType: 'topic', resourceName: 'nope', configs: { 'retention.ms': '1' } },
      { resourceType: 'broker', resourceName: '1', configs: { 'auto.leader.rebalance.enable': 'false' } },
    ]));
    expect(results.map((r) => errorOf(r.error))).toEqual(['NONE', 'INVALID_CONFIG', 'UNKNOWN_TOPIC_OR_PARTITION', 'NONE']);
    expect(h.image.config('topic', 't', 'min.insync.replicas')).toBe('2');
  });
});
