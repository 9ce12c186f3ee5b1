// Shared by the manager and server tests: metadata images built from controller records, brokers
// wired by an in-memory FetchTransport, a stand-in controller for AlterPartition, gated fsyncs, and
// bounded waits (every wait has a deadline and fails loudly; none asserts on timing).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { MetadataImage } from '@runnel/controller';
import type { MetadataRecord } from '@runnel/controller';
import { encodeRecordBatch } from '@runnel/protocol';
import { nodeFileOps } from '../log/file-ops.js';
import type { FileOps } from '../log/file-ops.js';
import { ReplicaManager } from './replica-manager.js';
import type { AlterPartitionSender, ReplicaManagerOptions } from './replica-manager.js';
import type { FetchTransport } from './replica-fetcher.js';

export const TOPIC = 'orders';
export const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

export interface PartitionSpec {
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch?: number;
}

export function buildImage(options: { brokers: number[]; partitions: PartitionSpec[]; topicConfigs?: Record<string, string>; ports?: Map<number, number>; topic?: string; topicId?: string }): MetadataImage {
  const topic = options.topic ?? TOPIC;
  const topicId = options.topicId ?? TOPIC_ID;
  const records: MetadataRecord[] = [];
  options.brokers.forEach((brokerId, i) => {
    records.push({
      type: 'RegisterBroker',
      version: 1,
      brokerId,
      incarnationId: `incarnation-${brokerId}`,
      brokerEpoch: i + 1,
      endpoints: [{ name: 'BROKER', host: '127.0.0.1', port: options.ports?.get(brokerId) ?? 9000 + brokerId }],
      rack: null,
    });
    records.push({ type: 'UnfenceBroker', version: 1, brokerId, brokerEpoch: i + 1 });
  });
  records.push({ type: 'Topic', version: 1, name: topic, topicId });
  options.partitions.forEach((spec, partition) => {
    records.push({
      type: 'Partition',
      version: 1,
      topicId,
      partition,
      replicas: spec.replicas,
      isr: spec.isr,
      leader: spec.leader,
      leaderEpoch: spec.leaderEpoch,
      partitionEpoch: spec.partitionEpoch ?? 0,
      leaderRecoveryState: 'recovered',
    });
  });
  for (const [name, value] of Object.entries(options.topicConfigs ?? {})) {
    records.push({ type: 'Config', version: 1, resourceType: 'topic', resourceName: topic, name, value });
  }
  return MetadataImage.EMPTY.applyAll(records);
}

export function batch(values: readonly string[], timestampMs = 1_700_000_000_000): Buffer {
  return encodeRecordBatch({
    baseTimestamp: timestampMs,
    records: values.map((value, i) => ({ key: null, value: Buffer.from(value), timestamp: timestampMs + i })),
  });
}

export function quietLogger(): Logger {
  // RUNNEL_TEST_LOG=debug shows the brokers' logs when a test needs explaining.
  return pino({ level: process.env['RUNNEL_TEST_LOG'] ?? 'silent' });
}

export async function tempDir(): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), 'runnel-rm-'));
}

/** Polls `condition` (cheap, in-memory) until true; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Settles to 'pending' if `promise` has not settled within a few event-loop turns. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const result = await Promise.race([promise.then(() => 'settled', () => 'settled'), new Promise((resolve) => setTimeout(() => resolve(marker), 20))]);
  return result === marker;
}

/** fsyncs that wait while the gate is closed: a follower that has appended but not yet flushed. */
export class GatedFileOps implements FileOps {
  private closedGate: { promise: Promise<void>; open: () => void } | undefined;
  waiting = 0;

  close(): void {
    if (this.closedGate !== undefined) return;
    let open = (): void => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.closedGate = { promise, open };
  }

  open(): void {
    const gate = this.closedGate;
    this.closedGate = undefined;
    gate?.open();
  }

  async fsync(fd: number): Promise<void> {
    const gate = this.closedGate;
    if (gate !== undefined) {
      this.waiting++;
      await gate.promise;
      this.waiting--;
    }
    await nodeFileOps.fsync(fd);
  }

  fsyncSync(fd: number): void {
    nodeFileOps.fsyncSync(fd);
  }
}

/** A controller stand-in that commits every ISR change as proposed. */
export class CommittingController implements AlterPartitionSender {
  readonly requests: { brokerId: number; newIsr: readonly number[] }[] = [];
  alterPartition: AlterPartitionSender['alterPartition'] = (request) => {
    this.requests.push({ brokerId: request.brokerId, newIsr: request.change.newIsr });
    return Promise.resolve({ ok: true, isr: request.change.newIsr, partitionEpoch: request.change.partitionEpoch + 1 });
  };
}

/** Brokers in one process, fetching from each other through direct calls. */
export class InProcessCluster {
  readonly managers = new Map<number, ReplicaManager>();
  readonly controller = new CommittingController();
  readonly fileOps = new Map<number, GatedFileOps>();
  /** Followers whose fetches are held back until resumed. */
  private readonly paused = new Map<number, { promise: Promise<void>; resume: () => void }>();
  readonly dirs: string[] = [];

  readonly transport = (followerId: number): FetchTransport => ({
    fetch: async (leaderId, request, { signal }) => {
      const pause = this.paused.get(followerId);
      if (pause !== undefined) {
        await Promise.race([pause.promise, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
        if (signal.aborted) throw new Error('aborted');
      }
      const leader = this.managers.get(leaderId);
      if (leader === undefined) throw new Error(`broker ${leaderId} is down`);
      const response = await leader.fetch(request, signal);
      // A fetch parked at the leader when its follower was paused is lost, as on a cut link.
      if (this.paused.has(followerId)) throw new Error(`broker ${followerId} is paused: response dropped`);
      return response;
    },
  });

  async start(brokerIds: number[], overrides: Partial<ReplicaManagerOptions> = {}): Promise<void> {
    for (const id of brokerIds) {
      const dir = await tempDir();
      this.dirs.push(dir);
      const ops = new GatedFileOps();
      this.fileOps.set(id, ops);
      this.managers.set(
        id,
        new ReplicaManager({
          brokerId: id,
          logDir: dir,
          logger: quietLogger(),
          alterPartition: this.controller,
          fetchTransport: this.transport(id),
          fileOps: ops,
          replicaFetchWaitMaxMs: 200,
          replicaFetchBackoffMs: 20,
          ...overrides,
        }),
      );
    }
  }

  manager(id: number): ReplicaManager {
    const manager = this.managers.get(id);
    if (manager === undefined) throw new Error(`no broker ${id}`);
    return manager;
  }

  async applyAll(image: MetadataImage): Promise<void> {
    await Promise.all([...this.managers.values()].map((manager) => manager.applyMetadata(image)));
  }

  pause(followerId: number): void {
    let resume = (): void => {};
    const promise = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.paused.set(followerId, { promise, resume });
  }

  resume(followerId: number): void {
    this.paused.get(followerId)?.resume();
    this.paused.delete(followerId);
  }

  view(brokerId: number, partition = 0): ReturnType<ReplicaManager['describe']>[number] {
    const found = this.manager(brokerId).describe().find((view) => view.topic === TOPIC && view.partition === partition);
    if (found === undefined) throw new Error(`broker ${brokerId} does not host ${TOPIC}-${partition}`);
    return found;
  }

  async close(): Promise<void> {
    for (const id of [...this.paused.keys()]) this.resume(id);
    for (const ops of this.fileOps.values()) ops.open();
    await Promise.all([...this.managers.values()].map((manager) => manager.close()));
    await Promise.all(this.dirs.map((dir) => fs.promises.rm(dir, { recursive: true, force: true })));
  }
}
