// One seeded simulation run: 3 replicas of one partition, a stand-in controller, an acks=all
// producer, and random faults (crashes of one node or all at once, restarts, network partitions,
// message loss and reordering, flushes at random moments). Invariants are checked after every step;
// at the end the faults stop, everything heals and restarts, and the run must converge with every
// acknowledged record still in place.

import type { FlushPolicy } from '../core/types.js';
import { NO_LEADER } from '../core/types.js';
import { ReplicationInvariants } from './invariants.js';
import type { Violation } from './invariants.js';
import { CONTROLLER_ID, PRODUCER_ID } from './messages.js';
import type { Envelope, SimMessage } from './messages.js';
import { SimNetwork } from './network.js';
import { Prng } from './prng.js';
import { ReplicaNode } from './replica-node.js';
import type { NodeContext, NodeTimings } from './replica-node.js';
import { StandInController } from './stand-in-controller.js';

export interface FaultProfile {
  /** Per-step probabilities. */
  produce: number;
  flush: number;
  crashOne: number;
  crashAll: number;
  restart: number;
  isolate: number;
  cutLink: number;
  heal: number;
  moveLeadership: number;
}

export const DEFAULT_FAULTS: FaultProfile = {
  produce: 0.35,
  flush: 0.12,
  crashOne: 0.004,
  crashAll: 0.002,
  restart: 0.03,
  isolate: 0.003,
  cutLink: 0.003,
  heal: 0.01,
  moveLeadership: 0.003,
};

export interface RunOptions {
  seed: number;
  flushPolicy: FlushPolicy;
  faultSteps: number;
  quiesceStepsMax: number;
  faults?: FaultProfile;
  trace?: (line: string) => void;
}

export interface RunStats {
  acked: number;
  committed: number;
  produced: number;
  crashes: number;
  allCrashes: number;
  tornWrites: number;
  elections: number;
  partitions: number;
  leadershipMoves: number;
  truncatedRecords: number;
  epochRounds: number;
  outOfRangeFetches: number;
  converged: boolean;
  simulatedMs: number;
}

export interface RunResult {
  seed: number;
  violations: Violation[];
  stats: RunStats;
}

const REPLICAS = [1, 2, 3] as const;
const PRODUCER_IN_FLIGHT_MAX = 8;

const TIMINGS: NodeTimings = {
  replicaLagTimeMaxMs: 400,
  fetchTimeoutMs: 120,
  longPollMs: 15,
  retryBackoffMs: 20,
  alterPartitionTimeoutMs: 80,
  produceTimeoutMs: 600,
  fetchRecordsMax: 16,
};

export function runReplicationSim(options: RunOptions): RunResult {
  const root = new Prng(options.seed);
  const faultPrng = root.fork();
  const netPrng = root.fork();
  const diskPrng = root.fork();
  const faults = options.faults ?? DEFAULT_FAULTS;
  const trace = options.trace ?? (() => undefined);
  // min.insync.replicas=1 is the harshest for durability (a lone leader may acknowledge); 2 is the usual setting.
  const minInsyncReplicas = faultPrng.chance(0.5) ? 1 : 2;
  let nowMs = 0;
  const invariants = new ReplicationInvariants();
  // Network quality varies by seed: a lossy, slow network makes requests time out after they were applied.
  const network = new SimNetwork(netPrng, {
    delayMinMs: 1,
    delayMaxMs: faultPrng.pick([12, 12, 40]),
    dropProbability: faultPrng.pick([0.01, 0.02, 0.08]),
    inFlightMax: 5_000,
  });
  const stats: RunStats = {
    acked: 0, committed: 0, produced: 0, crashes: 0, allCrashes: 0, tornWrites: 0, elections: 0, partitions: 0, leadershipMoves: 0,
    truncatedRecords: 0, epochRounds: 0, outOfRangeFetches: 0, converged: false, simulatedMs: 0,
  };
  const nodes = new Map<number, ReplicaNode>();
  const incarnationOf = (id: number): number => nodes.get(id)?.incarnation ?? 0;

  const ctx: NodeContext = {
    nowMs: () => nowMs,
    send: (from, fromIncarnation, to, message) =>
      network.send(from, fromIncarnation, to, to === CONTROLLER_ID || to === PRODUCER_ID ? 0 : incarnationOf(to), message, nowMs),
    onLeaderHighWatermark: (nodeId, epoch, hw, log) => invariants.onLeaderHighWatermark(nodeId, epoch, hw, log),
    trace,
    flushPolicy: options.flushPolicy,
    minInsyncReplicas,
    timings: TIMINGS,
    stats,
  };

  for (const id of REPLICAS) nodes.set(id, new ReplicaNode(id, ctx));
  const controller = new StandInController(REPLICAS, { sessionTimeoutMs: 250, metadataPushIntervalMs: 100 }, {
    pushMetadata: (to, incarnation, metadata) => network.send(CONTROLLER_ID, 0, to, incarnation, { type: 'metadata', metadata }, nowMs),
    trace,
  });

  // ---- producer ------------------------------------------------------------------------------------
  let nextProduceId = 1;
  const producerInFlight = new Map<number, number>();
  function produce(): void {
    const leaderId = controller.metadata.leaderId;
    if (leaderId === NO_LEADER || producerInFlight.size >= PRODUCER_IN_FLIGHT_MAX) return;
    const produceId = nextProduceId++;
    producerInFlight.set(produceId, nowMs);
    stats.produced++;
    network.send(PRODUCER_ID, 0, leaderId, incarnationOf(leaderId), { type: 'produce', produceId, payload: `s${options.seed}-r${produceId}`, leaderEpoch: controller.metadata.leaderEpoch }, nowMs);
  }
  function onProducerMessage(message: SimMessage): void {
    if (message.type !== 'produce-response') throw new Error(`producer received ${message.type}`);
    producerInFlight.delete(message.produceId);
    if (message.error === undefined) {
      stats.acked++;
      invariants.onAck(message.offset, message.payload);
      trace(`producer: ack ${message.payload} @${message.offset}`);
    }
  }
  function expireProducerRequests(): void {
    for (const [produceId, sentAtMs] of producerInFlight) if (nowMs - sentAtMs > 2 * TIMINGS.produceTimeoutMs) producerInFlight.delete(produceId);
  }

  // ---- delivery and time ---------------------------------------------------------------------------
  function deliver(envelope: Envelope): void {
    const { to, message } = envelope;
    if (to === PRODUCER_ID) return onProducerMessage(message);
    if (to === CONTROLLER_ID) {
      if (message.type !== 'alter-isr') throw new Error(`controller received ${message.type}`);
      const answer = controller.alterPartition(envelope.from, envelope.fromIncarnation, message.request);
      const reply: SimMessage =
        answer.error === undefined
          ? { type: 'alter-isr-response', requestId: message.request.requestId, error: undefined, isr: answer.isr, partitionEpoch: answer.partitionEpoch }
          : { type: 'alter-isr-response', requestId: message.request.requestId, error: answer.error, isr: [], partitionEpoch: -1 };
      network.send(CONTROLLER_ID, 0, envelope.from, envelope.fromIncarnation, reply, nowMs);
      return;
    }
    const node = nodes.get(to);
    if (node === undefined || !node.up || node.incarnation !== envelope.toIncarnation) return;
    node.receive(envelope);
  }

  function advance(): void {
    nowMs += faultPrng.intBetween(1, 8);
    for (const envelope of network.takeDue(nowMs)) deliver(envelope);
    for (const node of nodes.values()) if (node.up) node.tick();
    controller.tick(
      nowMs,
      [...nodes.values()].map((node) => ({ id: node.id, visible: node.up && !network.isCut(CONTROLLER_ID, node.id), incarnation: node.incarnation })),
    );
    expireProducerRequests();
  }

  function injectFaults(): void {
    const all = [...nodes.values()];
    const upNodes = all.filter((node) => node.up);
    const downNodes = all.filter((node) => !node.up);
    if (faultPrng.chance(faults.produce)) produce();
    for (const node of upNodes) if (faultPrng.chance(faults.flush)) node.flush();
    if (upNodes.length === REPLICAS.length && faultPrng.chance(faults.crashAll)) {
      // A power loss of the whole cluster at one instant: no controller action in between.
      trace('fault: ALL NODES CRASH');
      stats.allCrashes++;
      for (const node of upNodes) crash(node);
    } else if (upNodes.length > 0 && faultPrng.chance(faults.crashOne)) {
      crash(faultPrng.pick(upNodes));
    }
    for (const node of downNodes) if (faultPrng.chance(faults.restart)) node.restart();
    if (faultPrng.chance(faults.isolate)) {
      const id = faultPrng.pick(REPLICAS);
      trace(`fault: isolate node ${id}`);
      stats.partitions++;
      for (const other of [CONTROLLER_ID, PRODUCER_ID, ...REPLICAS]) if (other !== id) network.cutLink(id, other);
    }
    if (faultPrng.chance(faults.cutLink)) {
      const [a, b] = faultPrng.shuffle([CONTROLLER_ID, ...REPLICAS]);
      trace(`fault: cut link ${a}-${b}`);
      stats.partitions++;
      network.cutLink(a as number, b as number);
    }
    if (faultPrng.chance(faults.moveLeadership) && controller.moveLeadership((count) => faultPrng.int(count))) stats.leadershipMoves++;
    if (network.cutCount() > 0 && faultPrng.chance(faults.heal)) {
      trace('fault: heal network');
      network.healAll();
    }
  }

  function crash(node: ReplicaNode): void {
    if (node.crash(diskPrng).torn) stats.tornWrites++;
    stats.crashes++;
  }

  function converged(): boolean {
    const metadata = controller.metadata;
    const leader = nodes.get(metadata.leaderId);
    if (leader === undefined || !leader.up || leader.core.role !== 'leader' || leader.core.leaderEpoch !== metadata.leaderEpoch) return false;
    if (metadata.isr.length !== REPLICAS.length) return false;
    const end = leader.log.logEndOffset;
    if (leader.core.highWatermark !== end) return false;
    for (const node of nodes.values()) {
      if (!node.up || node.log.logEndOffset !== end || node.log.flushedOffset !== end) return false;
      for (let offset = Math.max(0, end - 1); offset < end; offset++) if (node.log.recordAt(offset) !== leader.log.recordAt(offset)) return false;
    }
    return true;
  }

  function checkStep(step: number): void {
    invariants.step = step;
    invariants.checkStep(
      [...nodes.values()].map((node) => ({ id: node.id, up: node.up, log: node.log })),
      controller.metadata.isr,
    );
  }

  try {
    controller.pushAll();
    let step = 0;
    for (; step < options.faultSteps; step++) {
      advance();
      injectFaults();
      checkStep(step);
    }
    trace('quiesce: faults stop, network heals, every node restarts');
    network.healAll();
    for (const node of nodes.values()) if (!node.up) node.restart();
    for (let quiet = 0; quiet < options.quiesceStepsMax && !stats.converged; quiet++, step++) {
      advance();
      for (const node of nodes.values()) if (node.up) node.flush();
      checkStep(step);
      stats.converged = converged();
    }
    if (stats.converged) {
      invariants.checkFinal((nodes.get(controller.metadata.leaderId) as ReplicaNode).log);
    } else {
      const m = controller.metadata;
      invariants.report('no-convergence', `not converged after ${options.quiesceStepsMax} quiet steps: leader ${m.leaderId} epoch ${m.leaderEpoch} ISR [${m.isr.join(',')}], log ends ${[...nodes.values()].map((n) => `${n.id}:${n.log.logEndOffset}/${n.log.flushedOffset}${n.up ? '' : '(down)'}`).join(' ')}`);
    }
  } catch (error) {
    invariants.report('exception', error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error));
  }
  stats.committed = invariants.committed.length;
  stats.elections = controller.elections;
  stats.simulatedMs = nowMs;
  return { seed: options.seed, violations: invariants.violations, stats };
}
