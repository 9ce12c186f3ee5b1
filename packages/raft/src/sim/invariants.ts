// The safety checker of the simulator. It watches every persist, apply, role change and message of
// every node, and after every simulation step checks the properties of Figure 3 of the Raft paper
// (Election Safety, Log Matching, Leader Completeness, State Machine Safety), that committed data is
// never lost or changed, that commit/applied indexes behave, and that ReadIndex reads are linearizable.
// A violation calls `fail`, which throws with the seed and step so the run can be replayed.

import type { Entry, Message, NodeId, RaftStatus, ReadState, Snapshot, SoftState } from '../core/types.js';
import { KvStateMachine, decodeWrite, entryKey } from './kv-state-machine.js';
import type { MemoryStorage } from './memory-storage.js';

export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'committed-never-lost'
  | 'commit-monotonic'
  | 'index-order'
  | 'persisted-log'
  | 'observer-never-votes'
  | 'read-linearizable'
  | 'liveness'
  /** The core's own always-on assertion fired: a broken invariant caught inside the core. */
  | 'core-assertion';

/** What the checker may look at on one node. `status` is undefined while the node is crashed. */
export interface CheckedNode {
  readonly id: NodeId;
  readonly voter: boolean;
  readonly storage: MemoryStorage;
  status(): RaftStatus | undefined;
}

export type FailFn = (invariant: InvariantName, detail: string) => never;

interface PendingRead {
  readonly nodeId: NodeId;
  readonly requestId: number;
  /** Highest index any node had seen committed when the read was asked: the read must reflect it. */
  readonly requiredIndex: number;
  /** The newest committed write at that moment; the read must see it or something newer on its key. */
  readonly lastWrite: { readonly key: string; readonly index: number } | undefined;
  confirmedIndex: number | undefined;
}

export class SafetyChecker {
  // Global history indexed by log index: what was committed there (term, content), the term of the
  // first node that saw it committed (>= the term that committed it), and the state digest after it.
  private readonly committedTerm: number[] = [];
  private readonly committedKey: (string | undefined)[] = [];
  private readonly committedInTerm: number[] = [];
  private readonly digestAt: number[] = [];
  private maxCommittedIndexValue = 0;
  private lastCommittedWrite: { key: string; index: number } | undefined;
  private committedCountValue = 0;

  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** `${index}/${term}` -> the term before it and its content: Log Matching by induction on index. */
  private readonly fingerprint = new Map<string, { prevTerm: number; key: string }>();
  /** Per live incarnation: commit index must never go back. */
  private readonly lastCommit = new Map<NodeId, number>();
  private readonly reads = new Map<string, PendingRead>();
  readsServed = 0;

  constructor(private readonly fail: FailFn) {}

  get maxCommittedIndex(): number {
    return this.maxCommittedIndexValue;
  }

  /** Distinct log indexes seen committed: proof that a run did real work. */
  get committedCount(): number {
    return this.committedCountValue;
  }

  /** The content committed at `index` ('w<id>' or 'noop'), if any node has applied it. */
  committedKeyAt(index: number): string | undefined {
    return this.committedKey[index];
  }

  get termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  onSoftState(nodeId: NodeId, voter: boolean, soft: SoftState): void {
    if (!voter && soft.role !== 'observer') {
      this.fail('observer-never-votes', `observer ${nodeId} became ${soft.role} in term ${soft.term}`);
    }
    if (soft.role === 'leader') this.noteLeader(nodeId, soft.term);
  }

  onSend(message: Message, fromVoter: boolean): void {
    if (fromVoter) return;
    if (message.type === 'vote-request' || (message.type === 'vote-response' && message.granted)) {
      this.fail('observer-never-votes', `observer ${message.from} sent ${message.type} to ${message.to} in term ${message.term}`);
    }
  }

  onEntriesPersisted(node: CheckedNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const prevTerm = node.storage.termAt(e.index - 1);
      if (prevTerm === undefined) {
        this.fail('persisted-log', `node ${node.id} persisted ${e.index} with no entry before it`);
      }
      if (prevTerm > e.term) {
        this.fail('log-matching', `node ${node.id}: entry ${e.index} has term ${e.term} below the previous entry's term ${prevTerm}`);
      }
      const key = entryKey(e);
      const id = `${e.index}/${e.term}`;
      const seen = this.fingerprint.get(id);
      if (seen === undefined) {
        this.fingerprint.set(id, { prevTerm, key });
      } else if (seen.prevTerm !== prevTerm || seen.key !== key) {
        this.fail(
          'log-matching',
          `node ${node.id} persisted index ${e.index} term ${e.term} as (${key}, prev term ${prevTerm}); ` +
            `another log holds (${seen.key}, prev term ${seen.prevTerm}) there`,
        );
      }
    }
  }

  /** A snapshot was persisted (installed from a leader, or taken by the app before compacting). */
  onSnapshotPersisted(node: CheckedNode, snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    const data = KvStateMachine.parse(snapshot.data);
    if (data.appliedIndex !== index || (index > 0 && data.appliedTerm !== term)) {
      this.fail('state-machine-safety', `node ${node.id}: snapshot labelled ${index}/${term} holds state at ${data.appliedIndex}/${data.appliedTerm}`);
    }
    const committedTerm = this.committedTerm[index];
    if (committedTerm !== undefined && committedTerm !== term) {
      this.fail('committed-never-lost', `node ${node.id}: snapshot at ${index} has term ${term}, committed term there is ${committedTerm}`);
    }
    this.checkDigest(node.id, index, data.digest);
  }

  onApply(nodeId: NodeId, entry: Entry, digestAfter: number, nodeTerm: number): void {
    const i = entry.index;
    const key = entryKey(entry);
    const term = this.committedTerm[i];
    if (term === undefined) {
      this.committedTerm[i] = entry.term;
      this.committedKey[i] = key;
      this.committedInTerm[i] = nodeTerm;
      this.committedCountValue++;
      if (i > this.maxCommittedIndexValue) this.maxCommittedIndexValue = i;
      if (entry.type === 'normal' && (this.lastCommittedWrite === undefined || i > this.lastCommittedWrite.index)) {
        this.lastCommittedWrite = { key: decodeWrite(entry.data).key, index: i };
      }
    } else {
      const knownKey = this.committedKey[i];
      if (term !== entry.term || (knownKey !== undefined && knownKey !== key)) {
        this.fail(
          'state-machine-safety',
          `node ${nodeId} applied ${key} term ${entry.term} at index ${i}; ${knownKey ?? '(snapshot)'} term ${term} was committed there`,
        );
      }
      if (knownKey === undefined) this.committedKey[i] = key;
    }
    this.checkDigest(nodeId, i, digestAfter);
  }

  onRestart(nodeId: NodeId): void {
    this.lastCommit.delete(nodeId);
    this.dropReadsOf(nodeId);
  }

  onCrash(nodeId: NodeId): void {
    this.lastCommit.delete(nodeId);
    this.dropReadsOf(nodeId);
  }

  // --- ReadIndex ------------------------------------------------------------------------------

  readRequested(nodeId: NodeId, requestId: number): void {
    this.reads.set(`${nodeId}/${requestId}`, {
      nodeId, requestId, requiredIndex: this.maxCommittedIndexValue,
      lastWrite: this.lastCommittedWrite === undefined ? undefined : { ...this.lastCommittedWrite },
      confirmedIndex: undefined,
    });
  }

  onReadState(nodeId: NodeId, rs: ReadState): void {
    const read = this.reads.get(`${nodeId}/${rs.requestId}`);
    if (read === undefined || read.confirmedIndex !== undefined) {
      this.fail('read-linearizable', `node ${nodeId} confirmed read ${rs.requestId} that was not pending`);
    }
    if (rs.index < read.requiredIndex) {
      this.fail(
        'read-linearizable',
        `node ${nodeId} confirmed read ${rs.requestId} at index ${rs.index}, but index ${read.requiredIndex} was committed before it was asked`,
      );
    }
    read.confirmedIndex = rs.index;
  }

  onReadFailure(nodeId: NodeId, requestId: number): void {
    this.reads.delete(`${nodeId}/${requestId}`);
  }

  /** Serve the node's confirmed reads its state machine has caught up with. */
  serveReads(nodeId: NodeId, sm: KvStateMachine): void {
    for (const [k, read] of this.reads) {
      if (read.nodeId !== nodeId || read.confirmedIndex === undefined || sm.appliedIndex < read.confirmedIndex) continue;
      if (read.lastWrite !== undefined) {
        const cell = sm.read(read.lastWrite.key);
        if (cell === undefined || cell.index < read.lastWrite.index) {
          this.fail(
            'read-linearizable',
            `node ${nodeId} served read ${read.requestId} of ${read.lastWrite.key} from index ${cell?.index ?? 'none'}, ` +
              `but the write at ${read.lastWrite.index} was committed before the read`,
          );
        }
      }
      this.readsServed++;
      this.reads.delete(k);
    }
  }

  private dropReadsOf(nodeId: NodeId): void {
    for (const [k, read] of this.reads) if (read.nodeId === nodeId) this.reads.delete(k);
  }

  // --- After every step -----------------------------------------------------------------------

  afterStep(nodes: readonly CheckedNode[]): void {
    for (const node of nodes) {
      const status = node.status();
      if (status === undefined) continue;
      if (status.role === 'leader') {
        this.noteLeader(node.id, status.term);
        this.checkLeaderCompleteness(node, status.term);
      }
      const last = this.lastCommit.get(node.id) ?? 0;
      if (status.commitIndex < last) {
        this.fail('commit-monotonic', `node ${node.id} commit index went back from ${last} to ${status.commitIndex}`);
      }
      this.lastCommit.set(node.id, status.commitIndex);
      if (!(status.appliedIndex <= status.commitIndex && status.commitIndex <= status.lastIndex)) {
        this.fail('index-order', `node ${node.id}: applied ${status.appliedIndex}, commit ${status.commitIndex}, last ${status.lastIndex}`);
      }
      // Every Ready has been handled, so the core's log must be exactly what is on disk.
      const storage = node.storage;
      if (status.lastIndex !== storage.lastIndex || status.lastTerm !== storage.termAt(storage.lastIndex)) {
        this.fail(
          'persisted-log',
          `node ${node.id}: core log ends at ${status.lastIndex}/${status.lastTerm}, disk at ${storage.lastIndex}/${storage.termAt(storage.lastIndex)}`,
        );
      }
    }
  }

  /** Pairwise comparison of persisted logs; O(nodes^2 * log), so run it now and then and at the end. */
  checkLogMatchingFull(nodes: readonly CheckedNode[]): void {
    for (let x = 0; x < nodes.length; x++) {
      for (let y = x + 1; y < nodes.length; y++) {
        const a = nodes[x]!.storage;
        const b = nodes[y]!.storage;
        const lo = Math.max(a.snapshotIndex, b.snapshotIndex);
        const hi = Math.min(a.lastIndex, b.lastIndex);
        let highestMatch = -1;
        for (let i = hi; i >= lo; i--) {
          const t = a.termAt(i);
          if (t !== undefined && t === b.termAt(i)) {
            highestMatch = i;
            break;
          }
        }
        for (let i = lo; i <= highestMatch; i++) {
          const ea = a.entry(i);
          const eb = b.entry(i);
          const same = ea === undefined || eb === undefined
            ? a.termAt(i) === b.termAt(i)
            : ea.term === eb.term && entryKey(ea) === entryKey(eb);
          if (!same) {
            this.fail(
              'log-matching',
              `nodes ${nodes[x]!.id} and ${nodes[y]!.id} agree on the term at ${highestMatch} but differ at ${i}`,
            );
          }
        }
      }
    }
  }

  private noteLeader(nodeId: NodeId, term: number): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, nodeId);
    } else if (known !== nodeId) {
      this.fail('election-safety', `nodes ${known} and ${nodeId} were both leader in term ${term}`);
    }
  }

  /**
   * Leader Completeness (Raft §5.4): an entry committed in term T is in the log of every leader of a
   * term > T. We know a term at least as high as T (the term of the first node that saw the commit),
   * so checking leaders above that term is sound. Entries under the leader's snapshot are covered by
   * the snapshot-versus-history checks in onSnapshotPersisted.
   */
  private checkLeaderCompleteness(node: CheckedNode, leaderTerm: number): void {
    const storage = node.storage;
    for (let i = storage.snapshotIndex + 1; i <= this.maxCommittedIndexValue; i++) {
      const term = this.committedTerm[i];
      const inTerm = this.committedInTerm[i];
      if (term === undefined || inTerm === undefined || inTerm >= leaderTerm) continue;
      const e = storage.entry(i);
      const key = this.committedKey[i];
      if (e === undefined || e.term !== term || (key !== undefined && entryKey(e) !== key)) {
        this.fail(
          'leader-completeness',
          `leader ${node.id} of term ${leaderTerm} lacks committed entry ${i} (term ${term}, ${key}); ` +
            `it holds ${e === undefined ? 'nothing' : `term ${e.term} ${entryKey(e)}`}`,
        );
      }
    }
  }

  private checkDigest(nodeId: NodeId, index: number, digest: number): void {
    if (index === 0) return;
    const known = this.digestAt[index];
    if (known === undefined) {
      this.digestAt[index] = digest;
    } else if (known !== digest) {
      this.fail('state-machine-safety', `node ${nodeId}: state after index ${index} differs from another node's`);
    }
  }
}
