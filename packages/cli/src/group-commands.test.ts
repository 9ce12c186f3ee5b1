import { describe, expect, it } from 'vitest';
import type { ResetPlanEntry, ResetSpec } from '@runnel/client';
import { CliError } from './errors.js';
import { executeResetInChunks } from './group-commands.js';
import type { ResetAdmin } from './group-commands.js';

/** An admin whose topic has `count` partitions; it records each reset call and can fail the n-th. */
function fakeAdmin(count: number, failCall?: number): ResetAdmin & { calls: Array<{ partitions: number[] | undefined; dryRun: boolean | undefined; spec: ResetSpec }> } {
  const calls: Array<{ partitions: number[] | undefined; dryRun: boolean | undefined; spec: ResetSpec }> = [];
  return {
    calls,
    describeTopics: async ({ topics }) => ({
      topics: topics.filter((t) => t === 'events').map((name) => ({ name, partitions: Array.from({ length: count }, (_, i) => ({ partitionId: count - 1 - i })) })),
    }),
    resetOffsets: async (options) => {
      calls.push({ partitions: options.partitions, dryRun: options.dryRun, spec: options.spec });
      if (calls.length === failCall) throw new Error('NOT_COORDINATOR: coordinator moved');
      return (options.partitions ?? []).map((partition): ResetPlanEntry => ({ topic: options.topic, partition, currentOffset: 5, newOffset: 0 }));
    },
  };
}

const earliest: ResetSpec = { kind: 'earliest' };

describe('groups reset-offsets --execute in chunks', () => {
  it('a topic within one chunk is committed by one request, all or nothing', async () => {
    const admin = fakeAdmin(12);
    const progress: Array<[number, number]> = [];
    const plan = await executeResetInChunks(admin, { groupId: 'g', topic: 'events', spec: earliest }, (done, total) => progress.push([done, total]), 100);
    expect(admin.calls).toHaveLength(1);
    expect(admin.calls[0]?.partitions).toEqual([...Array(12).keys()]);
    expect(admin.calls[0]?.dryRun).toBe(false);
    expect(plan.map((e) => e.partition)).toEqual([...Array(12).keys()]);
    expect(progress).toEqual([[0, 12], [12, 12]]);
  });

  it('many partitions go in chunks, in partition order, and progress follows every chunk', async () => {
    const admin = fakeAdmin(250);
    const progress: Array<[number, number]> = [];
    const plan = await executeResetInChunks(admin, { groupId: 'g', topic: 'events', spec: { kind: 'shift', by: -3 } }, (done, total) => progress.push([done, total]), 100);
    expect(admin.calls.map((c) => [c.partitions?.[0], c.partitions?.length])).toEqual([[0, 100], [100, 100], [200, 50]]);
    expect(admin.calls.every((c) => c.spec.kind === 'shift')).toBe(true);
    expect(plan.map((e) => e.partition)).toEqual([...Array(250).keys()]);
    expect(progress).toEqual([[0, 250], [100, 250], [200, 250], [250, 250]]);
  });

  it('only the listed partitions, when --partitions is given', async () => {
    const admin = fakeAdmin(250);
    await executeResetInChunks(admin, { groupId: 'g', topic: 'events', partitions: [7, 3], spec: earliest }, () => undefined, 100);
    expect(admin.calls.map((c) => c.partitions)).toEqual([[7, 3]]);
  });

  it('a failure after some chunks says what was committed and what was not', async () => {
    const admin = fakeAdmin(250, 2);
    const attempt = executeResetInChunks(admin, { groupId: 'g', topic: 'events', spec: { kind: 'shift', by: 1 } }, () => undefined, 100);
    await expect(attempt).rejects.toThrow(CliError);
    await expect(executeResetInChunks(fakeAdmin(250, 2), { groupId: 'g', topic: 'events', spec: { kind: 'shift', by: 1 } }, () => undefined, 100))
      .rejects.toThrow(/^committed 100 of 250 partitions, then: NOT_COORDINATOR: coordinator moved; not committed: 100,101,.*,249 \(--shift-by moves from the committed offset/);
  });

  it('a failure of the first chunk is the original error: nothing was committed', async () => {
    await expect(executeResetInChunks(fakeAdmin(250, 1), { groupId: 'g', topic: 'events', spec: earliest }, () => undefined, 100))
      .rejects.toThrow(/^NOT_COORDINATOR: coordinator moved$/);
  });

  it('an unknown topic is a clear error before anything is committed', async () => {
    const admin = fakeAdmin(3);
    await expect(executeResetInChunks(admin, { groupId: 'g', topic: 'nope', spec: earliest }, () => undefined)).rejects.toThrow('topic "nope" has no partitions (does it exist?)');
    expect(admin.calls).toHaveLength(0);
  });
});
