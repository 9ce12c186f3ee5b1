import { describe, expect, it } from 'vitest';
import { METADATA_LAG_MAX_ENTRIES, liveness, readiness } from './health.js';
import type { NodeHealthState } from './health.js';

const broker = { registered: true, fenced: false, fencedInImage: false };
const state = (overrides: Partial<NodeHealthState> = {}): NodeHealthState => ({
  shuttingDown: false, raftFailed: false, leaderId: 1, commitIndex: 100, appliedIndex: 100, broker, ...overrides,
});

describe('liveness', () => {
  it('is ok while serving, and not once the Raft node failed or shutdown began', () => {
    expect(liveness(state())).toEqual({ ok: true, body: { status: 'ok' } });
    expect(liveness(state({ raftFailed: true })).ok).toBe(false);
    expect(liveness(state({ shuttingDown: true }))).toEqual({ ok: false, body: { status: 'shutting-down' } });
  });
});

describe('readiness', () => {
  it('is ready for a registered, unfenced, caught-up broker, within the lag bound', () => {
    expect(readiness(state()).ok).toBe(true);
    expect(readiness(state({ appliedIndex: 100 - METADATA_LAG_MAX_ENTRIES })).ok).toBe(true);
  });

  it('names the condition that failed', () => {
    const behind = readiness(state({ appliedIndex: 100 - METADATA_LAG_MAX_ENTRIES - 1 }));
    expect(behind.ok).toBe(false);
    expect(behind.body.failed).toEqual([`metadata log not caught up: ${METADATA_LAG_MAX_ENTRIES + 1} committed entries not applied yet`]);
    expect(readiness(state({ broker: { ...broker, registered: false, fencedInImage: undefined } })).body.failed).toEqual(['broker not registered with the controller yet']);
    expect(readiness(state({ broker: { ...broker, fenced: true } })).body.failed).toEqual(['broker fenced by the controller']);
    expect(readiness(state({ broker: { ...broker, fencedInImage: true } })).body.failed).toEqual(['broker not unfenced in the applied metadata yet']);
    expect(readiness(state({ shuttingDown: true })).body.failed).toEqual(['shutting-down']);
  });

  it('for a controller-only node, needs a known quorum leader', () => {
    const { broker: _omit, ...controllerOnly } = state();
    expect(readiness(controllerOnly).ok).toBe(true);
    const leaderless = readiness({ ...controllerOnly, leaderId: 0 });
    expect(leaderless).toMatchObject({ ok: false, body: { status: 'not-ready', failed: ['the metadata quorum has no known leader'] } });
  });
});
