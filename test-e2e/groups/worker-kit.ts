// Consumer-group workers as child processes (group-worker.mjs) and the checks over what they did.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./group-worker.mjs', import.meta.url));

export type WorkerEvent =
  | { t: number; e: 'assigned' | 'revoked' | 'lost'; partitions: Array<[string, number]> }
  | { t: number; e: 'commit'; offsets: Array<[string, number, number]> }
  | { t: number; e: 'rec'; p: number; o: number; v: string | null }
  | { t: number; e: 'ready' | 'closed' }
  | { t: number; e: 'crash'; message: string };

export interface WorkerConfig {
  brokers: string[];
  groupId: string;
  topics: string[];
  sessionTimeoutMs?: number;
  autoCommitIntervalMs?: number;
  processingDelayMs?: number;
}

export class Worker {
  readonly events: WorkerEvent[] = [];
  readonly stderr: string[] = [];
  readonly child: ChildProcess;
  exited = false;
  killedAtMs: number | undefined;

  constructor(
    readonly name: string,
    config: WorkerConfig,
  ) {
    this.child = spawn(process.execPath, [WORKER, JSON.stringify({ ...config, clientId: name })], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as WorkerEvent);
      } catch {
        this.stderr.push(`unparsable stdout: ${line}`);
      }
    });
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (line) => this.stderr.push(line));
    this.child.on('exit', () => {
      this.exited = true;
    });
  }

  /** Partitions it owns now, from its assigned/revoked/lost events. */
  owned(): Set<number> {
    const owned = new Set<number>();
    for (const event of this.events) {
      if (event.e === 'assigned') for (const [, p] of event.partitions) owned.add(p);
      if (event.e === 'revoked' || event.e === 'lost') for (const [, p] of event.partitions) owned.delete(p);
    }
    return owned;
  }

  records(): Array<{ t: number; p: number; o: number; v: string | null }> {
    return this.events.filter((e): e is Extract<WorkerEvent, { e: 'rec' }> => e.e === 'rec');
  }

  /** Highest committed offset per partition it logged. */
  lastCommits(): Map<number, number> {
    const out = new Map<number, number>();
    for (const event of this.events) if (event.e === 'commit') for (const [, p, o] of event.offsets) out.set(p, Math.max(out.get(p) ?? -1, o));
    return out;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exited) return;
    if (signal === 'SIGKILL') this.killedAtMs = Date.now();
    this.child.kill(signal);
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  describe(): string {
    return `${this.name}: ${this.events.length} events, owned [${[...this.owned()].join(',')}], stderr: ${this.stderr.slice(-5).join(' | ')}`;
  }
}

/** When a worker owned each partition: from its 'assigned' event to its 'revoked'/'lost' event, its death, or now. */
export function ownershipIntervals(worker: Worker): Map<number, Array<{ from: number; to: number }>> {
  const out = new Map<number, Array<{ from: number; to: number }>>();
  const open = new Map<number, number>();
  const close = (partition: number, at: number): void => {
    const from = open.get(partition);
    if (from === undefined) return;
    open.delete(partition);
    out.set(partition, [...(out.get(partition) ?? []), { from, to: at }]);
  };
  for (const event of worker.events) {
    if (event.e === 'assigned') for (const [, p] of event.partitions) if (!open.has(p)) open.set(p, event.t);
    if (event.e === 'revoked' || event.e === 'lost') for (const [, p] of event.partitions) close(p, event.t);
  }
  const end = worker.killedAtMs ?? Date.now();
  for (const partition of [...open.keys()]) close(partition, end);
  return out;
}

/**
 * No partition was owned by two live workers at once: a worker's ownership of a partition ends
 * (revocation finished and committed, partitions lost, or the process SIGKILLed) before another's
 * begins; and every record a worker processed lies inside one of its ownership periods. Ownership
 * may come back to an earlier owner later. Returns the violations.
 */
export function overlappingOwnership(workers: readonly Worker[]): string[] {
  const problems: string[] = [];
  const byPartition = new Map<number, Array<{ worker: string; from: number; to: number }>>();
  for (const w of workers) {
    const intervals = ownershipIntervals(w);
    for (const [partition, list] of intervals) for (const i of list) byPartition.set(partition, [...(byPartition.get(partition) ?? []), { worker: w.name, ...i }]);
    for (const r of w.records()) {
      const mine = intervals.get(r.p) ?? [];
      if (!mine.some((i) => r.t >= i.from && r.t <= i.to)) problems.push(`${w.name} processed ${r.v} (partition ${r.p}) outside its ownership`);
    }
  }
  for (const [partition, list] of byPartition) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.worker !== b.worker && a.from < b.to && b.from < a.to) {
          problems.push(`partition ${partition}: ${a.worker} [${a.from}, ${a.to}] overlaps ${b.worker} [${b.from}, ${b.to}]`);
        }
      }
    }
  }
  return problems.slice(0, 20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`);
    await sleep(100);
  }
}
