import { describe, expect, it } from 'vitest';
import type { FetchRequest } from '@runnel/protocol';
import { fetchRequestProblem } from './request-checks.js';

function fetchRequest(replicaId: number, flushedOffset: number): FetchRequest {
  return {
    replicaId, replicaEpoch: 0, maxWaitMs: 100, minBytes: 1, maxBytes: 1024, isolationLevel: 0,
    topics: [{ name: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1024, flushedOffset }] }],
  };
}

describe('fetch request checks', () => {
  it('a consumer fetch may leave the replica-only flushedOffset at -1', () => {
    expect(fetchRequestProblem(fetchRequest(-1, -1))).toBeUndefined();
  });

  it('a replica fetch must report a real flushed offset', () => {
    expect(fetchRequestProblem(fetchRequest(2, -1))).toMatch(/flushedOffset must be a non-negative integer/);
    expect(fetchRequestProblem(fetchRequest(2, 10))).toBeUndefined();
  });
});
