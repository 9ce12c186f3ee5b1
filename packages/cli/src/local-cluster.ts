// Real `runnel` processes on loopback, for the e2e tests and the benchmarks: formats data dirs with the
// CLI, starts each node as a child process (logs to <data>/runnel.log), and watches the quorum through
// Describe. It signals only the PIDs it spawned.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQuorumClient, RunnelError, unaryCall } from '@runnel/protocol';
import type { DescribeQuorumResponse, ProposeResponse, QuorumClient } from '@runnel/protocol';

export const RUNNEL_BIN = fileURLToPath(new URL('../bin/runnel.mjs', import.meta.url));

export interface LocalClusterOptions {
  readonly nodeIds?: readonly number[];
  /** Node N listens on 127.0.0.1:(basePort + (N - 1) * 100), like 9093/9193/9293. */
  readonly basePort: number;
  /** Parent for the node dirs; a fresh temp dir (removed by stopAll) when absent. */
  readonly dataRoot?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
  /** Further `server start` arguments for one node (e.g. its own external listener). */
  readonly nodeArgs?: (id: number) => readonly string[];
}

export interface LeaderInfo {
  readonly leaderId: number;
  readonly term: number;
  readonly view: DescribeQuorumResponse;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

const DEFAULT_WAIT_MS = 15_000;
const DESCRIBE_DEADLINE_MS = 500;
const STOP_GRACE_MS = 8_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value (not undefined), bounded in time. */
export async function pollUntil<T>(
  description: string,
  probe: () => Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}`);
    }
    await sleep(intervalMs);
  }
}

export class LocalCluster {
  readonly nodeIds: readonly number[];
  readonly clusterId: string;
  readonly dataRoot: string;
  private readonly ownsDataRoot: boolean;
  private readonly processes = new Map<number, ChildProcess>();
  private readonly clients = new Map<string, QuorumClient>();

  private constructor(private readonly options: LocalClusterOptions, dataRoot: string, ownsDataRoot: boolean, clusterId: string) {
    this.nodeIds = options.nodeIds ?? [1, 2, 3];
    this.dataRoot = dataRoot;
    this.ownsDataRoot = ownsDataRoot;
    this.clusterId = clusterId;
  }

  /** Creates the data dirs and formats every node with one fresh cluster id, through the CLI. */
  static create(options: LocalClusterOptions): LocalCluster {
    const ownsDataRoot = options.dataRoot === undefined;
    const dataRoot = options.dataRoot ?? mkdtempSync(join(tmpdir(), 'runnel-cluster-'));
    mkdirSync(dataRoot, { recursive: true });
    const clusterId = runCli(['storage', 'random-uuid']).stdout.trim();
    const cluster = new LocalCluster(options, dataRoot, ownsDataRoot, clusterId);
    for (const id of cluster.nodeIds) {
      const result = runCli(['storage', 'format', '--data-dir', cluster.dataDir(id), '--node-id', String(id), '--cluster-id', clusterId]);
      if (result.status !== 0) throw new Error(`storage format for node ${id} failed: ${result.stderr}`);
    }
    return cluster;
  }

  endpoint(id: number): string {
    return `127.0.0.1:${this.options.basePort + (id - 1) * 100}`;
  }

  /** Node N's HTTP listener (/healthz, /readyz, /metrics): one above its controller port, like 9094/9194/9294. */
  httpEndpoint(id: number): string {
    return `127.0.0.1:${this.options.basePort + 1 + (id - 1) * 100}`;
  }

  /** Node N's broker (client) listener: one below its controller port, like 9092/9192/9292. */
  brokerEndpoint(id: number): string {
    return `127.0.0.1:${this.options.basePort - 1 + (id - 1) * 100}`;
  }

  dataDir(id: number): string {
    return join(this.dataRoot, `node-${id}`);
  }

  quorumVoters(): string {
    return this.nodeIds.map((id) => `${id}@${this.endpoint(id)}`).join(',');
  }

  /** Arguments of `runnel server start` for node `id`. */
  serverArgs(id: number): string[] {
    return [
      'server', 'start',
      '--node-id', String(id),
      '--data-dir', this.dataDir(id),
      '--controller-listen', this.endpoint(id),
      '--listen', this.brokerEndpoint(id),
      '--http-listen', this.httpEndpoint(id),
      '--controller-quorum', this.quorumVoters(),
      '--log-level', this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
      ...(this.options.nodeArgs?.(id) ?? []),
    ];
  }

  isRunning(id: number): boolean {
    const child = this.processes.get(id);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  pid(id: number): number | undefined {
    return this.processes.get(id)?.pid;
  }

  start(id: number): ChildProcess {
    if (this.isRunning(id)) throw new Error(`node ${id} is already running`);
    const logFd = openSync(join(this.dataDir(id), 'runnel.log'), 'a');
    try {
      const child = spawn(process.execPath, [RUNNEL_BIN, ...this.serverArgs(id)], {
        stdio: ['ignore', logFd, logFd],
        env: childEnv(this.options.env),
      });
      this.processes.set(id, child);
      return child;
    } finally {
      closeSync(logFd);
    }
  }

  startAll(): void {
    for (const id of this.nodeIds) this.start(id);
  }

  /** Sends `signal` to node `id`'s process (only a process this cluster spawned). */
  kill(id: number, signal: NodeJS.Signals): void {
    const child = this.processes.get(id);
    if (child === undefined || !this.isRunning(id)) throw new Error(`node ${id} is not running`);
    child.kill(signal);
  }

  async waitForExit(id: number, timeoutMs = STOP_GRACE_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.processes.get(id);
    if (child === undefined) throw new Error(`node ${id} was never started`);
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${id} did not exit within ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  }

  async restart(id: number): Promise<void> {
    if (this.isRunning(id)) {
      this.kill(id, 'SIGKILL');
      await this.waitForExit(id);
    }
    this.start(id);
    await this.waitServing(id);
  }

  client(endpoint: string): QuorumClient {
    let client = this.clients.get(endpoint);
    if (client === undefined) {
      client = createQuorumClient(endpoint);
      this.clients.set(endpoint, client);
    }
    return client;
  }

  describe(id: number, deadlineMs = DESCRIBE_DEADLINE_MS): Promise<DescribeQuorumResponse> {
    return unaryCall(this.client(this.endpoint(id)), 'describe', {}, deadlineMs);
  }

  async propose(id: number, data: Buffer, deadlineMs = 10_000): Promise<ProposeResponse> {
    return unaryCall(this.client(this.endpoint(id)), 'propose', { data }, deadlineMs);
  }

  async waitServing(id: number, options: WaitOptions = {}): Promise<DescribeQuorumResponse> {
    return pollUntil(`node ${id} to serve Describe`, async () => {
      if (!this.isRunning(id)) throw new Error(`node ${id} exited: ${this.logTail(id)}`);
      return this.describe(id);
    }, options);
  }

  /**
   * Waits until a node among `among` answers as the leader (its own Describe says leaderId = itself),
   * optionally excluding ids and requiring a term above `minTermExclusive`.
   */
  async waitForLeader(
    options: WaitOptions & { among?: readonly number[]; exclude?: readonly number[]; minTermExclusive?: number } = {},
  ): Promise<LeaderInfo> {
    const among = (options.among ?? this.nodeIds).filter((id) => !(options.exclude ?? []).includes(id));
    return pollUntil('a leader to be elected', async () => {
      for (const id of among) {
        if (!this.isRunning(id)) continue;
        let view: DescribeQuorumResponse;
        try {
          view = await this.describe(id);
        } catch {
          continue;
        }
        if (view.leaderId === id && view.answeredBy === id && view.term > (options.minTermExclusive ?? 0)) {
          return { leaderId: id, term: view.term, view };
        }
      }
      return undefined;
    }, options);
  }

  logTail(id: number, maxChars = 2_000): string {
    try {
      const text = readFileSync(join(this.dataDir(id), 'runnel.log'), 'utf8');
      return text.slice(-maxChars);
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM every running node, wait (bounded), SIGKILL stragglers, close clients, remove temp dirs. */
  async stopAll(options: { removeData?: boolean } = {}): Promise<void> {
    const running = this.nodeIds.filter((id) => this.isRunning(id));
    for (const id of running) {
      const child = this.processes.get(id);
      // A SIGSTOPped node cannot act on SIGTERM; wake it first so it can shut down.
      child?.kill('SIGCONT');
      child?.kill('SIGTERM');
    }
    await Promise.all(running.map(async (id) => {
      try {
        await this.waitForExit(id, STOP_GRACE_MS);
      } catch {
        this.processes.get(id)?.kill('SIGKILL');
        await this.waitForExit(id, STOP_GRACE_MS).catch(() => undefined);
      }
    }));
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    if ((options.removeData ?? true) && this.ownsDataRoot) rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // The caller's RUNNEL_* settings would silently override the flags' intent for some keys.
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('RUNNEL_')) env[key] = value;
  }
  return { ...env, RUNNEL_LOG_PRETTY: '0', ...extra };
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI synchronously (short commands only: storage, quorum describe). */
export function runCli(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [RUNNEL_BIN, ...args], {
    encoding: 'utf8',
    env: childEnv(options.env),
    timeout: options.timeoutMs ?? 30_000,
  });
  if (result.error !== undefined) throw new RunnelError('UNKNOWN_SERVER_ERROR', `runnel ${args.join(' ')}: ${result.error.message}`, { cause: result.error });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
