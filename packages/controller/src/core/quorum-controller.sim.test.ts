import { RunnelError } from '@runnel/protocol';
import { describe, expect, it } from 'vitest';
import type { MetadataImage } from './metadata-image.js';
import type { ControllerResult } from './controller-types.js';
import { seededRandom, type Random } from './random.js';
import { canonicalJson, decodeRecordBatch, encodeRecordBatch } from './records.js';
import { ControllerHarness } from './test-harness.js';

// Seeded random walks through the controller: brokers start, crash, restart, shut down, ask to be
// fenced; topics come and go; leaders change ISRs (validly and not); configs flip unclean election;
// the controller fails over. Each result is committed as the driver would and the invariants are
// checked after every step. A failure names its seed; SIM_SEED=<n> replays one seed.

const BROKERS = [1, 2, 3, 4, 5];
const TOPIC_NAMES = ['a', 'b', 'c', 'd', 'e.f', 'e_f'];
const SESSION_TIMEOUT_MS = 9_000;
const STEPS = 400;

interface SimBroker {
  alive: boolean;
  incarnation: number;
  shuttingDown: boolean;
}

function pick<T>(random: Random, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[random.int(items.length)];
}

function uncleanEnabled(image: MetadataImage, topicName: string, uncleanDefault: boolean): boolean {
  return (image.effectiveTopicConfig(topicName, 'unclean.leader.election.enable') ?? String(uncleanDefault)).toLowerCase() === 'true';
}

function checkInvariants(before: MetadataImage, after: MetadataImage, result: ControllerResult<unknown>, step: string, uncleanDefault: boolean): void {
  const fail = (message: string): never => {
    throw new Error(`after ${step}: ${message}`);
  };
  const uncleanKeys = new Set(result.uncleanElections.map((u) => `${u.topicId}:${u.partition}:${u.leader}`));
  for (const u of result.uncleanElections) {
    if (!uncleanEnabled(before, u.topicName, uncleanDefault) && !uncleanEnabled(after, u.topicName, uncleanDefault)) fail(`unclean election in ${u.topicName} while disabled`);
  }
  for (const { topic, state } of after.allPartitions()) {
    const where = `${topic.name}-${state.partition}`;
    const rf = topic.partitions[0]?.replicas.length ?? 0;
    if (state.replicas.length !== rf || new Set(state.replicas).size !== rf) fail(`${where} replicas ${state.replicas} are not ${rf} distinct brokers`);
    if (state.isr.length === 0 || !state.isr.every((id) => state.replicas.includes(id))) fail(`${where} ISR ${state.isr} not a non-empty subset of ${state.replicas}`);
    if (state.leader !== -1 && !state.isr.includes(state.leader)) fail(`${where} leader ${state.leader} not in ISR ${state.isr}`);
    if (state.leader !== -1 && after.broker(state.leader)?.fenced !== false) fail(`${where} led by fenced or unregistered broker ${state.leader}`);
    const old = before.partition(topic.topicId, state.partition);
    if (old === undefined) continue;
    if (state.leaderEpoch < old.leaderEpoch || state.partitionEpoch < old.partitionEpoch) fail(`${where} epochs went back`);
    if (state.leader !== old.leader) {
      if (state.leaderEpoch <= old.leaderEpoch) fail(`${where} leader changed without a new leader epoch`);
      if (state.leader !== -1) {
        if (!after.isBrokerActive(state.leader)) fail(`${where} elected inactive broker ${state.leader}`);
        const clean = old.isr.includes(state.leader);
        if (!clean && !uncleanKeys.has(`${topic.topicId}:${state.partition}:${state.leader}`)) fail(`${where} out-of-sync leader ${state.leader} not reported as unclean`);
      }
    }
  }
  if (after.nextProducerId < before.nextProducerId) fail('producer ids went back');
  if (after.brokerEpochMax < before.brokerEpochMax) fail('broker epochs went back');
  for (const broker of after.brokers.values()) {
    const previous = before.broker(broker.brokerId);
    if (previous !== undefined && previous.incarnationId !== broker.incarnationId && broker.brokerEpoch <= previous.brokerEpoch) {
      fail(`broker ${broker.brokerId} re-registered without a higher epoch`);
    }
  }
  const roundTrip = decodeRecordBatch(encodeRecordBatch(result.records));
  if (canonicalJson(roundTrip) !== canonicalJson(result.records)) fail('record batch did not survive the codec');
}

function runSimulation(seed: number): { steps: number; records: number; uncleanElections: number; fencings: number } {
  const random = seededRandom(seed);
  const uncleanDefault = random.int(2) === 0;
  const h = new ControllerHarness({ brokerSessionTimeoutMs: SESSION_TIMEOUT_MS, leaderImbalanceCheckIntervalMs: 5_000, uncleanLeaderElectionEnable: uncleanDefault }, seed);
  h.controller.activate(h.image, 0);
  const sim = new Map<number, SimBroker>(BROKERS.map((id) => [id, { alive: false, incarnation: 0, shuttingDown: false }]));
  const stats = { steps: 0, records: 0, uncleanElections: 0, fencings: 0 };

  const apply = <T>(step: string, result: ControllerResult<T>): T => {
    const before = h.image;
    h.commit(result);
    checkInvariants(before, h.image, result, step, uncleanDefault);
    stats.records += result.records.length;
    stats.uncleanElections += result.uncleanElections.length;
    return result.response;
  };
  const heartbeat = (id: number, options: { wantFence?: boolean; wantShutdown?: boolean; lagging?: boolean } = {}) => {
    const state = sim.get(id) as SimBroker;
    return apply(
      `heartbeat ${id}`,
      h.controller.brokerHeartbeat(
        h.image,
        { brokerId: id, brokerEpoch: h.epochs.get(id) ?? -1, metadataOffset: options.lagging === true ? h.offset - 1 : h.offset, wantFence: options.wantFence ?? false, wantShutdown: options.wantShutdown ?? state.shuttingDown },
        h.nowMs,
      ),
    );
  };

  for (let step = 0; step < STEPS; step++) {
    stats.steps++;
    const aliveIds = BROKERS.filter((id) => sim.get(id)?.alive === true);
    const action = random.int(100);
    if (action < 12) {
      const id = pick(random, BROKERS.filter((b) => sim.get(b)?.alive !== true)) ?? (pick(random, BROKERS) as number);
      const state = sim.get(id) as SimBroker;
      state.incarnation++;
      const response = apply(
        `register ${id}`,
        h.controller.registerBroker(h.image, { brokerId: id, incarnationId: `b${id}-${state.incarnation}`, endpoints: [{ name: 'BROKER', host: '127.0.0.1', port: 9000 + id }], rack: `rack-${id % 2}` }, h.nowMs),
      );
      if (!(response instanceof RunnelError)) {
        h.epochs.set(id, response.brokerEpoch);
        state.alive = true;
        state.shuttingDown = false;
      }
    } else if (action < 40) {
      const id = pick(random, aliveIds);
      if (id !== undefined) {
        const roll = random.int(20);
        const response = heartbeat(id, { wantFence: roll === 0, wantShutdown: roll === 1 || undefined, lagging: roll === 2 });
        const state = sim.get(id) as SimBroker;
        if (roll === 1) state.shuttingDown = true;
        if (!(response instanceof RunnelError) && response.shouldShutdown) state.alive = false;
      }
    } else if (action < 46) {
      const id = pick(random, aliveIds);
      if (id !== undefined) (sim.get(id) as SimBroker).alive = false;
    } else if (action < 62) {
      h.nowMs += random.int(4_000);
      for (const id of aliveIds) if (random.int(10) > 0) heartbeat(id);
      const result = h.controller.tick(h.image, h.nowMs);
      stats.fencings += result.response.fencedBrokers.length;
      apply('tick', result);
      for (const { state } of h.image.allPartitions()) {
        if (state.leader !== -1 && !h.image.isBrokerActive(state.leader)) throw new Error(`after tick: partition led by inactive broker ${state.leader}`);
      }
    } else if (action < 72) {
      const name = pick(random, TOPIC_NAMES) as string;
      const configs: Record<string, string> = random.int(3) === 0 ? { 'unclean.leader.election.enable': String(random.int(2) === 0) } : {};
      apply(`create ${name}`, h.controller.createTopics(h.image, [{ name, numPartitions: 1 + random.int(4), replicationFactor: 1 + random.int(4), configs }]));
    } else if (action < 76) {
      apply('delete', h.controller.deleteTopics(h.image, [pick(random, TOPIC_NAMES) as string]));
    } else if (action < 79) {
      const name = pick(random, TOPIC_NAMES) as string;
      apply(`grow ${name}`, h.controller.createPartitions(h.image, [{ name, count: (h.image.topic(name)?.partitions.length ?? 0) + random.int(3) }]));
    } else if (action < 93) {
      const partitions = [...h.image.allPartitions()].filter((p) => p.state.leader !== -1);
      const target = pick(random, partitions);
      if (target !== undefined) {
        const { state } = target;
        const others = state.replicas.filter((id) => id !== state.leader && random.int(2) === 0);
        const stale = random.int(8) === 0;
        apply(
          `alterPartition ${target.topic.name}-${state.partition}`,
          h.controller.alterPartition(h.image, {
            topicId: state.topicId,
            partition: state.partition,
            leaderId: state.leader,
            leaderEpoch: state.leaderEpoch - (stale && state.leaderEpoch > 0 ? 1 : 0),
            partitionEpoch: state.partitionEpoch,
            newIsr: state.leaderRecoveryState === 'recovering' && random.int(2) === 0 ? [state.leader] : [state.leader, ...others],
            leaderRecoveryState: 'recovered',
          }),
        );
      }
    } else if (action < 96) {
      const value = random.int(3) === 0 ? null : String(random.int(2) === 0);
      apply('alterConfigs', h.controller.alterConfigs(h.image, [{ resourceType: 'cluster', resourceName: '', configs: { 'unclean.leader.election.enable': value } }]));
    } else if (action < 98) {
      h.controller.activate(h.image, h.nowMs);
    } else {
      const id = pick(random, aliveIds);
      if (id !== undefined) apply('allocateProducerIds', h.controller.allocateProducerIds(h.image, id, h.epochs.get(id) ?? -1));
    }
    if (step % 50 === 49) {
      const snapshot = h.image.toSnapshot();
      const restored = (h.image.constructor as typeof MetadataImage).fromSnapshot(snapshot);
      expect(restored.toSnapshot()).toEqual(snapshot);
    }
  }
  return stats;
}

const SEED_COUNT = 60;

describe('controller simulation', () => {
  it(`keeps the partition invariants over ${SEED_COUNT} seeded runs of ${STEPS} steps`, () => {
    const seeds = process.env.SIM_SEED !== undefined ? [Number(process.env.SIM_SEED)] : Array.from({ length: SEED_COUNT }, (_, i) => 1000 + i);
    const totals = { steps: 0, records: 0, uncleanElections: 0, fencings: 0 };
    for (const seed of seeds) {
      try {
        const stats = runSimulation(seed);
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += stats[key];
      } catch (error) {
        throw new Error(`controller simulation failed with seed ${seed} (replay: SIM_SEED=${seed}): ${(error as Error).message}`, { cause: error });
      }
    }
    // The walk must actually reach the interesting states, or passing proves nothing.
    expect(totals.fencings).toBeGreaterThan(0);
    expect(totals.records).toBeGreaterThan(seeds.length * 10);
    if (seeds.length > 1) expect(totals.uncleanElections).toBeGreaterThan(0);
  });

  it('replays the same run from the same seed', () => {
    expect(runSimulation(7)).toEqual(runSimulation(7));
  });
});
