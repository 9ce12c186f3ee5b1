import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { RunnelError } from '@runnel/protocol';
import { GroupCoordinatorRuntime } from './coordinator-runtime.js';
import type { CoordinatorClusterView, OffsetsTopicAccess } from './coordinator-runtime.js';
import type { EncodedGroupRecord } from '../group/core/records.js';
import { partitionForGroup } from '../group/core/records.js';

const OFFSETS_PARTITIONS = 4;

/** Partition logs in memory; appends can be made to fail, leadership can be moved. */
class MemoryAccess implements OffsetsTopicAccess {
  /** Leader epochs this broker sees; the logs may be shared with another broker's view. */
  readonly epochs = new Map<number, number>();
  constructor(readonly logs = new Map<number, EncodedGroupRecord[]>()) {}
  failAppends = false;
  appends = 0;

  leaderEpoch(partition: number): number | undefined {
    return this.epochs.get(partition);
  }

  async append(partition: number, leaderEpoch: number, records: readonly EncodedGroupRecord[]): Promise<void> {
    if (this.failAppends) throw new RunnelError('NOT_ENOUGH_REPLICAS', 'ISR too small');
    if (this.epochs.get(partition) !== leaderEpoch) throw new RunnelError('NOT_LEADER_OR_FOLLOWER', 'moved');
    this.appends++;
    const log = this.logs.get(partition) ?? [];
    log.push(...records);
    this.logs.set(partition, log);
  }

  async readAll(partition: number): Promise<EncodedGroupRecord[]> {
    return [...(this.logs.get(partition) ?? [])];
  }
}

function clusterView(topics: Record<string, number>): CoordinatorClusterView & { created: number } {
  return {
    created: 0,
    partitionCounts: () => new Map(Object.entries(topics)),
    offsetsTopicPartitions: () => OFFSETS_PARTITIONS,
    leaderOfOffsetsPartition: (partition) => ({ nodeId: 1, host: '127.0.0.1', port: 9000 + partition }),
    async createOffsetsTopic() {
      this.created++;
    },
  };
}

let now = 1_000;
function runtime(access: MemoryAccess, topics: Record<string, number> = { orders: 6 }): GroupCoordinatorRuntime {
  let next = 0;
  return new GroupCoordinatorRuntime({
    brokerId: 1,
    access,
    cluster: clusterView(topics),
    logger: pino({ level: 'silent' }),
    nowMs: () => now,
    generateMemberId: () => `member-${++next}`,
  });
}

async function loaded(rt: GroupCoordinatorRuntime): Promise<void> {
  for (let i = 0; i < 100 && rt.describe().some((s) => s.state === 'loading'); i++) await new Promise((r) => setTimeout(r, 1));
  expect(rt.describe().every((s) => s.state === 'active')).toBe(true);
}

const join = (groupId: string) => ({ groupId, memberId: '', memberEpoch: 0, subscribedTopics: ['orders'], ownedPartitions: [], sessionTimeoutMs: 10_000 });

describe('GroupCoordinatorRuntime', () => {
  it('serves only the groups of partitions it leads, and answers after the records are appended', async () => {
    const access = new MemoryAccess();
    const mine = partitionForGroup('g1', OFFSETS_PARTITIONS);
    access.epochs.set(mine, 3);
    const rt = runtime(access);
    rt.syncWithMetadata();
    await loaded(rt);
    const answer = await rt.run('g1', (core, nowMs) => core.heartbeat(join('g1'), nowMs));
    expect(answer.errorCode).toBe(0);
    expect(answer.assignment?.[0]?.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    expect(access.logs.get(mine)?.length).toBeGreaterThan(0);
    const other = [...Array(50).keys()].map((i) => `group-${i}`).find((g) => partitionForGroup(g, OFFSETS_PARTITIONS) !== mine) as string;
    await expect(rt.run(other, (core, nowMs) => core.heartbeat(join(other), nowMs))).rejects.toMatchObject({ codeName: 'NOT_COORDINATOR' });
  });

  it('a new leader loads the committed state from the log: members and offsets survive a failover', async () => {
    const access = new MemoryAccess();
    const p = partitionForGroup('g1', OFFSETS_PARTITIONS);
    access.epochs.set(p, 1);
    const first = runtime(access);
    first.syncWithMetadata();
    await loaded(first);
    const joined = await first.run('g1', (core, nowMs) => core.heartbeat(join('g1'), nowMs));
    await first.run('g1', (core, nowMs) =>
      core.commitOffsets({ groupId: 'g1', memberId: joined.memberId, memberEpoch: joined.memberEpoch, offsets: [{ topic: 'orders', partition: 2, offset: 77 }] }, nowMs),
    );
    // Leadership moves: the old runtime drops the shard, a new one (another broker, same log) loads it.
    access.epochs.delete(p);
    first.syncWithMetadata();
    const otherBroker = new MemoryAccess(access.logs);
    otherBroker.epochs.set(p, 2);
    const second = runtime(otherBroker);
    second.syncWithMetadata();
    await loaded(second);
    const fetched = await second.run('g1', (core) => core.fetchOffsets({ groupId: 'g1', partitions: [{ topic: 'orders', partitions: [2] }] }));
    expect(fetched.offsets[0]?.offset).toBe(77);
    const described = await second.run('g1', (core) => core.describeGroup('g1'));
    expect(described.group?.members.map((m) => m.memberId)).toEqual([joined.memberId]);
    // The stale runtime no longer serves the group.
    await expect(first.run('g1', (core) => core.listGroups())).rejects.toMatchObject({ codeName: 'NOT_COORDINATOR' });
  });

  it('a failed append is not acknowledged and is not visible afterwards: the shard reloads from the log', async () => {
    const access = new MemoryAccess();
    const p = partitionForGroup('g1', OFFSETS_PARTITIONS);
    access.epochs.set(p, 1);
    const rt = runtime(access);
    rt.syncWithMetadata();
    await loaded(rt);
    await rt.run('g1', (core, nowMs) => core.resetOffsets({ groupId: 'g1', offsets: [{ topic: 'orders', partition: 0, offset: 5 }] }, nowMs));
    access.failAppends = true;
    await expect(rt.run('g1', (core, nowMs) => core.resetOffsets({ groupId: 'g1', offsets: [{ topic: 'orders', partition: 0, offset: 9 }] }, nowMs))).rejects.toMatchObject({
      codeName: 'NOT_ENOUGH_REPLICAS',
    });
    access.failAppends = false;
    await loaded(rt);
    const fetched = await rt.run('g1', (core) => core.fetchOffsets({ groupId: 'g1', partitions: [{ topic: 'orders', partitions: [0] }] }));
    expect(fetched.offsets[0]?.offset).toBe(5);
  });

  it('tick expires members whose session ran out, and persists it', async () => {
    const access = new MemoryAccess();
    const p = partitionForGroup('g1', OFFSETS_PARTITIONS);
    access.epochs.set(p, 1);
    const rt = runtime(access);
    rt.syncWithMetadata();
    await loaded(rt);
    await rt.run('g1', (core, nowMs) => core.heartbeat(join('g1'), nowMs));
    const before = access.appends;
    now += 10_001;
    rt.tick();
    const described = await rt.run('g1', (core) => core.describeGroup('g1'));
    expect(described.group?.members).toEqual([]);
    expect(access.appends).toBeGreaterThan(before);
  });

  it('findCoordinator creates the offsets topic when it is missing and says the coordinator is not available yet', async () => {
    const access = new MemoryAccess();
    const view = { ...clusterView({}), offsetsTopicPartitions: () => undefined, created: 0 };
    let created = 0;
    view.createOffsetsTopic = async () => {
      created++;
    };
    const rt = new GroupCoordinatorRuntime({ brokerId: 1, access, cluster: view, logger: pino({ level: 'silent' }), nowMs: () => now, generateMemberId: () => 'm' });
    await expect(rt.findCoordinator('g')).rejects.toMatchObject({ codeName: 'COORDINATOR_NOT_AVAILABLE' });
    expect(created).toBe(1);
  });
});
