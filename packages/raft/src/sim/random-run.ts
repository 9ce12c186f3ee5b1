// One randomized simulation run per seed: a random cluster, a random fault profile, random client
// load, a few hundred steps of faults, then a liveness phase on a healed network. Everything derives
// from the seed, so `RAFT_SEED=<n>` replays a failing run exactly.

import type { NodeId } from '../core/types.js';
import { SimCluster, type SimStats } from './cluster.js';
import type { NetworkFaults } from './network.js';
import { Prng } from './prng.js';

export type FaultFamily = 'lossy-network' | 'partitions' | 'crash-restart' | 'chaos';
export const FAULT_FAMILIES: readonly FaultFamily[] = ['lossy-network', 'partitions', 'crash-restart', 'chaos'];

export interface FaultProfile {
  readonly family: FaultFamily;
  readonly voterCount: number;
  readonly observerCount: number;
  readonly network: NetworkFaults;
  /** Per step, when the network is whole / split. */
  readonly partitionStartProbability: number;
  readonly partitionHealProbability: number;
  /** Per step: crash one live node (the leader half the time); per crashed node: restart it. */
  readonly crashProbability: number;
  readonly restartProbability: number;
  /** Share of crashes that happen in the middle of a Ready (after `messages`, before persisting). */
  readonly tornCrashFraction: number;
  readonly maxCrashedNodes: number;
  readonly proposeProbability: number;
  readonly readProbability: number;
  readonly transferProbability: number;
  /** Mostly on, as in production; sometimes off, which widens the windows a deposed leader acts in. */
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
}

export interface RunOptions {
  /** Steps with faults on; the liveness phase comes after. */
  readonly faultSteps: number;
  /** Bound on the liveness phase (election + final commit + convergence). */
  readonly livenessStepsMax: number;
  readonly trace?: (line: string) => void;
}

export interface RunResult {
  readonly seed: number;
  readonly profile: FaultProfile;
  readonly steps: number;
  readonly committedEntries: number;
  readonly termsWithLeader: number;
  readonly readsServed: number;
  readonly stats: SimStats;
}

/** The family is a function of the seed alone, so a replayed seed gets the same faults. */
export function familyOfSeed(seed: number): FaultFamily {
  return FAULT_FAMILIES[((seed % FAULT_FAMILIES.length) + FAULT_FAMILIES.length) % FAULT_FAMILIES.length]!;
}

export function profileForSeed(seed: number): FaultProfile {
  const family = familyOfSeed(seed);
  // A stream separate from the cluster's, so the profile does not shift the run's other choices.
  const r = new Prng(seed ^ 0x5eed_f00d);
  const voterCount = r.chance(0.5) ? 3 : 5;
  const lossy = family !== 'crash-restart' || r.chance(0.5);
  const split = family === 'partitions' || family === 'chaos';
  const crashes = family === 'crash-restart' || family === 'chaos';
  const maxDelaySteps = lossy ? r.intBetween(1, 5) : r.intBetween(1, 2);
  return {
    family,
    voterCount,
    observerCount: r.chance(0.3) ? 1 : 0,
    network: {
      dropProbability: lossy ? r.float() * 0.2 : 0,
      duplicateProbability: lossy ? r.float() * 0.1 : 0,
      minDelaySteps: 1,
      maxDelaySteps,
    },
    partitionStartProbability: split ? 0.01 + r.float() * 0.03 : 0,
    partitionHealProbability: split ? 0.02 + r.float() * 0.08 : 0,
    crashProbability: crashes ? 0.005 + r.float() * 0.02 : 0,
    restartProbability: crashes ? 0.02 + r.float() * 0.1 : 0,
    tornCrashFraction: crashes ? r.float() * 0.5 : 0,
    maxCrashedNodes: crashes ? r.intBetween(1, voterCount) : 0,
    proposeProbability: 0.2 + r.float() * 0.6,
    readProbability: r.float() * 0.15,
    transferProbability: r.float() * 0.02,
    checkQuorum: r.chance(0.8),
    preVote: r.chance(0.8),
  };
}

export function runRandomSeed(seed: number, options: RunOptions): RunResult {
  const profile = profileForSeed(seed);
  const cluster = new SimCluster({
    seed, voterCount: profile.voterCount, observerCount: profile.observerCount,
    checkQuorum: profile.checkQuorum, preVote: profile.preVote,
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  });
  cluster.event(`seed ${seed} profile ${JSON.stringify(profile)}`);
  cluster.guard(() => {
    cluster.setFaults(profile.network);
    const allIds = cluster.nodes.map((n) => n.id);
    for (let i = 0; i < options.faultSteps; i++) {
      injectFaults(cluster, profile, allIds);
      driveClients(cluster, profile);
      cluster.runStep();
      if (i % 50 === 49) cluster.checker.checkLogMatchingFull(cluster.nodes);
    }
    checkLiveness(cluster, options.livenessStepsMax);
    cluster.checker.checkLogMatchingFull(cluster.nodes);
  });
  return {
    seed, profile, steps: cluster.step, committedEntries: cluster.checker.committedCount,
    termsWithLeader: cluster.checker.termsWithLeader, readsServed: cluster.checker.readsServed, stats: cluster.stats,
  };
}

function injectFaults(cluster: SimCluster, profile: FaultProfile, allIds: readonly NodeId[]): void {
  const r = cluster.random;
  if (cluster.network.partitioned) {
    if (r.chance(profile.partitionHealProbability)) cluster.heal();
  } else if (r.chance(profile.partitionStartProbability)) {
    cluster.partition(randomPartition(cluster, allIds));
  }
  for (const node of cluster.nodes) {
    if (!node.live && r.chance(profile.restartProbability)) cluster.restart(node.id);
  }
  if (r.chance(profile.crashProbability)) {
    const crashed = cluster.nodes.filter((n) => !n.live).length;
    const live = cluster.nodes.filter((n) => n.live);
    if (crashed < profile.maxCrashedNodes && live.length > 0) {
      const leader = cluster.leader();
      const victim = leader !== undefined && r.chance(0.5) ? leader : r.pick(live);
      cluster.crash(victim.id, r.chance(profile.tornCrashFraction));
    }
  }
}

function randomPartition(cluster: SimCluster, allIds: readonly NodeId[]): NodeId[][] {
  const r = cluster.random;
  const leader = cluster.leader();
  const others = (ids: readonly NodeId[]) => allIds.filter((id) => !ids.includes(id));
  switch (r.int(3)) {
    case 0: {
      // The classic: the leader (maybe with one follower) is cut off from the majority.
      if (leader !== undefined) {
        const side = [leader.id];
        if (r.chance(0.5)) side.push(r.pick(others(side)));
        return [side, others(side)];
      }
      const lone = [r.pick(allIds)];
      return [lone, others(lone)];
    }
    case 1: {
      const lone = [r.pick(allIds)];
      return [lone, others(lone)];
    }
    default: {
      // Arbitrary split, sometimes into three groups so that no side has a majority.
      const groups: NodeId[][] = [[], [], []];
      const groupCount = r.chance(0.3) ? 3 : 2;
      for (const id of allIds) groups[r.int(groupCount)]!.push(id);
      return groups.filter((g) => g.length > 0);
    }
  }
}

function driveClients(cluster: SimCluster, profile: FaultProfile): void {
  const r = cluster.random;
  // Clients have stale metadata: they reach any node that believes it leads (a deposed leader that
  // has not yet heard of the new term included), and now and then a node that does not.
  const believedLeader = (): number | undefined => {
    const leaders = cluster.leaders();
    if (leaders.length === 0 || r.chance(0.1)) return r.pick(cluster.nodes).id;
    return r.pick(leaders).id;
  };
  if (r.chance(profile.proposeProbability)) {
    const target = believedLeader();
    const burst = r.intBetween(1, 3);
    if (target !== undefined) for (let i = 0; i < burst; i++) cluster.propose(target);
  }
  if (r.chance(profile.readProbability)) {
    const target = believedLeader();
    if (target !== undefined) cluster.readIndex(target);
  }
  if (r.chance(profile.transferProbability)) {
    const leader = cluster.leader();
    if (leader !== undefined) {
      const target = r.pick(cluster.voterIds.filter((id) => id !== leader.id));
      cluster.transferLeadership(leader.id, target);
    }
  }
}

/**
 * With the network healed, faults off and every node back up, Raft must elect a leader, commit a new
 * write on every node and bring all state machines to the same state within a bounded number of steps.
 */
function checkLiveness(cluster: SimCluster, stepsMax: number): void {
  cluster.stabilize();
  const deadline = cluster.step + stepsMax;
  let final: { id: number; index: number; term: number; nodeId: NodeId } | undefined;
  const committedAt = (index: number) => cluster.checker.maxCommittedIndex >= index;
  while (cluster.step < deadline) {
    if (final !== undefined) {
      const proposer = cluster.node(final.nodeId).core;
      const committedKey = cluster.checker.committedKeyAt(final.index);
      if (committedKey !== undefined && committedKey !== `w${final.id}`) {
        final = undefined; // another leader's entry took the index: the write was lost, as Raft allows
      } else if (committedKey === undefined && (proposer?.role !== 'leader' || proposer.term !== final.term)) {
        final = undefined; // its leader was deposed before committing it: a client would retry elsewhere
      } else if (committedKey !== undefined && allApplied(cluster, final.index)) {
        break;
      }
    }
    const leader = cluster.leader();
    if (final === undefined && leader !== undefined) {
      const result = cluster.propose(leader.id);
      if (result.ok) final = { id: result.write.id, index: result.index, term: result.term, nodeId: leader.id };
    }
    cluster.runStep();
  }
  if (final === undefined || !allApplied(cluster, final.index) || !committedAt(final.index) || cluster.checker.committedKeyAt(final.index) !== `w${final.id}`) {
    const states = cluster.nodes.map((n) => {
      const s = n.status();
      return s === undefined ? `${n.id}:down` : `${n.id}:${s.role}/t${s.term}/c${s.commitIndex}/a${n.sm?.appliedIndex}/l${s.lastIndex}`;
    });
    cluster.fail('liveness', `no write committed on every node within ${stepsMax} steps of healing (final ${JSON.stringify(final)}; ${states.join(' ')})`);
  }
  // Every replica must converge to the leader's commit index (the checker compares state digests).
  const converged = cluster.runUntil(() => {
    const leader = cluster.leader();
    if (leader?.core === undefined) return false;
    const commit = leader.core.commitIndex;
    return cluster.nodes.every((n) => n.sm !== undefined && n.sm.appliedIndex === commit);
  }, Math.max(0, deadline - cluster.step) + 50);
  if (!converged) cluster.fail('liveness', 'replicas did not converge to the leader commit index after healing');
}

function allApplied(cluster: SimCluster, index: number): boolean {
  return cluster.nodes.every((n) => n.sm !== undefined && n.sm.appliedIndex >= index);
}

