// The metadata log's state machine until the real metadata image replaces it (later issues). It keeps
// what lets tests and operators check replicas agree: how many records were applied, the last applied
// position, and a running CRC32C over every applied (index, term, data). Two replicas that applied the
// same log prefix have the same digest; a divergence shows up as a different digest at the same index.
import { crc32c } from '@runnel/protocol';
import type { Entry, StateMachine } from '@runnel/raft';

const SNAPSHOT_FORMAT_VERSION = 1;

export interface MetadataStateView {
  readonly appliedCount: number;
  readonly lastAppliedIndex: number;
  readonly lastAppliedTerm: number;
  readonly digest: number;
}

interface SnapshotBody extends MetadataStateView {
  readonly version: number;
}

export class MetadataStateMachine implements StateMachine {
  private appliedCount = 0;
  private lastAppliedIndex = 0;
  private lastAppliedTerm = 0;
  private digest = 0;

  apply(entry: Entry): void {
    // Raft hands entries over exactly once and in order; anything else means the driver is broken,
    // and continuing would silently fork this replica's state.
    if (entry.index <= this.lastAppliedIndex) {
      throw new Error(`metadata state machine: entry ${entry.index} applied after ${this.lastAppliedIndex}`);
    }
    if (entry.term < this.lastAppliedTerm) {
      throw new Error(`metadata state machine: entry ${entry.index} has term ${entry.term} < last applied term ${this.lastAppliedTerm}`);
    }
    const header = new Uint8Array(16);
    const view = new DataView(header.buffer);
    view.setFloat64(0, entry.index);
    view.setFloat64(8, entry.term);
    this.digest = crc32c(entry.data, crc32c(header, this.digest));
    this.appliedCount += 1;
    this.lastAppliedIndex = entry.index;
    this.lastAppliedTerm = entry.term;
  }

  snapshot(): Uint8Array {
    const body: SnapshotBody = { version: SNAPSHOT_FORMAT_VERSION, ...this.view() };
    return new TextEncoder().encode(JSON.stringify(body));
  }

  restore(data: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(data));
    } catch (error) {
      throw new Error('metadata state machine: snapshot is not valid JSON', { cause: error });
    }
    const body = parsed as Partial<SnapshotBody> | null;
    if (
      body === null || typeof body !== 'object' || body.version !== SNAPSHOT_FORMAT_VERSION ||
      !isCount(body.appliedCount) || !isCount(body.lastAppliedIndex) || !isCount(body.lastAppliedTerm) ||
      !isCount(body.digest) || body.digest > 0xffff_ffff || body.appliedCount > body.lastAppliedIndex
    ) {
      throw new Error('metadata state machine: snapshot has an unknown or inconsistent layout');
    }
    this.appliedCount = body.appliedCount;
    this.lastAppliedIndex = body.lastAppliedIndex;
    this.lastAppliedTerm = body.lastAppliedTerm;
    this.digest = body.digest;
  }

  view(): MetadataStateView {
    return {
      appliedCount: this.appliedCount,
      lastAppliedIndex: this.lastAppliedIndex,
      lastAppliedTerm: this.lastAppliedTerm,
      digest: this.digest,
    };
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
