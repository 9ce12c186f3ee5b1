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

/**
 * No partition was processed by two live workers at once: in each partition's time-ordered record
 * log, a worker's records form one contiguous run (its ownership period), never ABA interleaving.
 * Returns the violations.
 */
export function overlappingOwnership(workers: readonly Worker[]): string[] {
  const byPartition = new Map<number, Array<{ t: number; worker: string; o: number }>>();
  for (const w of workers) {
    for (const r of w.records()) {
      const list = byPartition.get(r.p) ?? [];
      list.push({ t: r.t, worker: w.name, o: r.o });
      byPartition.set(r.p, list);
    }
  }
  const problems: string[] = [];
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.t - b.t);
    const runs: string[] = [];
    for (const entry of list) if (runs[runs.length - 1] !== entry.worker) runs.push(entry.worker);
    const seen = new Set<string>();
    for (const worker of runs) {
      if (seen.has(worker)) {
        problems.push(`partition ${partition}: owners interleave ${runs.join(' -> ')}`);
        break;
      }
      seen.add(worker);
    }
  }
  return problems;
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
