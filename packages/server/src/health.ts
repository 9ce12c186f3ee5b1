// Liveness and readiness of a node, as pure functions of a snapshot of its state, so the rules are
// testable without a daemon. /healthz says "the process serves and should not be restarted";
// /readyz says "send it traffic": a broker registered, unfenced and caught up with the metadata log,
// or a controller-only node that knows its quorum's leader and has applied what it committed.

/** Applied entries may trail the commit index by this many and still count as caught up. */
export const METADATA_LAG_MAX_ENTRIES = 50;

export interface NodeHealthState {
  readonly shuttingDown: boolean;
  /** The Raft node stopped itself (storage error, broken invariant). */
  readonly raftFailed: boolean;
  /** The quorum leader this node knows; 0 while none is known. */
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Present when the node runs the broker role. */
  readonly broker?: {
    readonly registered: boolean;
    /** Fenced as the last heartbeat answer said. */
    readonly fenced: boolean;
    /** Fenced as this node's applied metadata image says; undefined when the image has no such broker yet. */
    readonly fencedInImage: boolean | undefined;
  };
}

export interface HealthAnswer {
  readonly ok: boolean;
  readonly body: Record<string, unknown>;
}

export function liveness(state: NodeHealthState): HealthAnswer {
  if (state.raftFailed) return { ok: false, body: { status: 'failed', reason: 'the metadata quorum node stopped itself (see the log)' } };
  if (state.shuttingDown) return { ok: false, body: { status: 'shutting-down' } };
  return { ok: true, body: { status: 'ok' } };
}

export function readiness(state: NodeHealthState): HealthAnswer {
  const live = liveness(state);
  if (!live.ok) return { ok: false, body: { ...live.body, ready: false, failed: [live.body.status] } };
  const lag = Math.max(0, state.commitIndex - state.appliedIndex);
  const failed: string[] = [];
  const checks: Record<string, unknown> = { metadataLag: lag, metadataLagMax: METADATA_LAG_MAX_ENTRIES };
  if (lag > METADATA_LAG_MAX_ENTRIES) failed.push(`metadata log not caught up: ${lag} committed entries not applied yet`);
  if (state.broker === undefined) {
    checks.leaderId = state.leaderId;
    if (state.leaderId === 0) failed.push('the metadata quorum has no known leader');
  } else {
    const { registered, fenced, fencedInImage } = state.broker;
    Object.assign(checks, { registered, fenced: fenced || fencedInImage !== false });
    if (!registered) failed.push('broker not registered with the controller yet');
    else if (fenced) failed.push('broker fenced by the controller');
    else if (fencedInImage !== false) failed.push('broker not unfenced in the applied metadata yet');
  }
  return { ok: failed.length === 0, body: { status: failed.length === 0 ? 'ready' : 'not-ready', ...checks, ...(failed.length === 0 ? {} : { failed }) } };
}
