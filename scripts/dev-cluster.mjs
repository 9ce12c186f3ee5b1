#!/usr/bin/env node
// Local 3-voter cluster for development: `node scripts/dev-cluster.mjs up|down|status`.
// Data, logs and pid files live in ./data/node-{1,2,3}; each node is a broker and a controller voter:
// brokers (clients' bootstrap servers) on 127.0.0.1:9092/9192/9292, controllers on 9093/9193/9293,
// HTTP (/healthz, /readyz, /metrics) on 9094/9194/9294.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'packages', 'cli', 'bin', 'runnel.mjs');
const DIST = join(REPO, 'packages', 'cli', 'dist', 'bin.js');
const DATA = resolve(process.cwd(), 'data');
const NODES = [
  { id: 1, endpoint: '127.0.0.1:9093', listen: '127.0.0.1:9092', http: '127.0.0.1:9094' },
  { id: 2, endpoint: '127.0.0.1:9193', listen: '127.0.0.1:9192', http: '127.0.0.1:9194' },
  { id: 3, endpoint: '127.0.0.1:9293', listen: '127.0.0.1:9292', http: '127.0.0.1:9294' },
];
const QUORUM = NODES.map((node) => `${node.id}@${node.endpoint}`).join(',');
const LEADER_WAIT_MS = 30_000;
const STOP_WAIT_MS = 10_000;
const POLL_MS = 200;

const dataDir = (id) => join(DATA, `node-${id}`);
const pidFile = (id) => join(dataDir(id), 'runnel.pid');
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function fail(message) {
  console.error(`dev-cluster: ${message}`);
  process.exit(1);
}

function runnel(args) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) fail(`runnel ${args.join(' ')}: ${result.error.message}`);
  return result;
}

function readClusterId(id) {
  const path = join(dataDir(id), 'meta.properties');
  if (!existsSync(path)) return undefined;
  const match = /^cluster\.id=(.+)$/m.exec(readFileSync(path, 'utf8'));
  return match?.[1]?.trim();
}

/** Alive and not a zombie: an exited daemon stays a zombie until init reaps it, which can take seconds. */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    const state = readFileSync(stat, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** The pid in the node's pid file, if that process is alive and is a runnel server (pids get reused). */
function runningPid(id) {
  if (!existsSync(pidFile(id))) return undefined;
  const pid = Number(readFileSync(pidFile(id), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (!isAlive(pid)) return undefined;
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, 'utf8').includes('runnel')) return undefined;
  return pid;
}

function describe(json) {
  for (const node of NODES) {
    const result = runnel(['quorum', 'describe', '--controller', node.endpoint, '--timeout-ms', '1000', ...(json ? ['--json'] : [])]);
    if (result.status === 0) return result.stdout;
  }
  return undefined;
}

async function up() {
  if (!existsSync(DIST)) fail('the CLI is not built; run `pnpm build` first');
  const existing = [...new Set(NODES.map((node) => readClusterId(node.id)).filter((id) => id !== undefined))];
  if (existing.length > 1) fail(`./data holds nodes of different clusters (${existing.join(', ')}); run \`pnpm cluster down\` and remove ./data`);
  let clusterId = existing[0];
  if (clusterId === undefined) {
    const result = runnel(['storage', 'random-uuid']);
    if (result.status !== 0) fail(result.stderr.trim());
    clusterId = result.stdout.trim();
  }
  for (const node of NODES) {
    if (readClusterId(node.id) !== undefined) continue;
    const result = runnel(['storage', 'format', '--data-dir', dataDir(node.id), '--node-id', String(node.id), '--cluster-id', clusterId]);
    if (result.status !== 0) fail(result.stderr.trim());
    console.log(result.stdout.trim());
  }
  for (const node of NODES) {
    const pid = runningPid(node.id);
    if (pid !== undefined) {
      console.log(`node ${node.id} already running (pid ${pid})`);
      continue;
    }
    mkdirSync(dataDir(node.id), { recursive: true });
    const log = openSync(join(dataDir(node.id), 'runnel.log'), 'a');
    const child = spawn(process.execPath, [BIN, 'server', 'start', '--node-id', String(node.id), '--data-dir', dataDir(node.id),
      '--controller-listen', node.endpoint, '--listen', node.listen, '--http-listen', node.http, '--controller-quorum', QUORUM], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, RUNNEL_LOG_PRETTY: '0' },
    });
    closeSync(log);
    writeFileSync(pidFile(node.id), `${child.pid}\n`);
    child.unref();
    console.log(`node ${node.id} started (pid ${child.pid}), broker ${node.listen}, controller ${node.endpoint}, http ${node.http}, log ${join(dataDir(node.id), 'runnel.log')}`);
  }
  const deadline = Date.now() + LEADER_WAIT_MS;
  while (Date.now() < deadline) {
    const json = describe(true);
    if (json !== undefined && JSON.parse(json).leaderId !== 0) {
      console.log(`\ncluster ${clusterId} is up\n`);
      console.log(describe(false)?.trimEnd());
      console.log(`\nbootstrap servers: ${NODES.map((node) => node.listen).join(',')}`);
      return;
    }
    await sleep(POLL_MS);
  }
  fail(`no leader elected within ${LEADER_WAIT_MS} ms; see ./data/node-*/runnel.log`);
}

async function stopNodes(nodes) {
  const pids = new Map();
  for (const node of nodes) {
    const pid = runningPid(node.id);
    if (pid === undefined) {
      rmSync(pidFile(node.id), { force: true });
      continue;
    }
    process.kill(pid, 'SIGTERM');
    pids.set(node.id, pid);
  }
  const deadline = Date.now() + STOP_WAIT_MS;
  while (pids.size > 0 && Date.now() < deadline) {
    for (const [id, pid] of pids) {
      if (!isAlive(pid)) {
        pids.delete(id);
        rmSync(pidFile(id), { force: true });
        console.log(`node ${id} stopped`);
      }
    }
    if (pids.size > 0) await sleep(POLL_MS);
  }
  for (const [id, pid] of pids) {
    console.log(`node ${id} (pid ${pid}) did not stop within ${STOP_WAIT_MS} ms: SIGKILL`);
    process.kill(pid, 'SIGKILL');
    rmSync(pidFile(id), { force: true });
  }
}

function leaderId() {
  const json = describe(true);
  return json === undefined ? 0 : JSON.parse(json).leaderId;
}

async function down() {
  // The leader goes first, while its followers are alive to take over; the rest follow together.
  const leader = leaderId();
  await stopNodes(NODES.filter((node) => node.id === leader));
  await stopNodes(NODES.filter((node) => node.id !== leader));
}

function status() {
  for (const node of NODES) {
    const pid = runningPid(node.id);
    console.log(`node ${node.id}: ${pid === undefined ? 'not running' : `running (pid ${pid})`}`);
  }
  const text = describe(false);
  if (text === undefined) {
    console.log('\nno node answered `quorum describe`');
    process.exitCode = 1;
    return;
  }
  console.log(`\n${text.trimEnd()}`);
}

const command = process.argv[2];
switch (command) {
  case 'up':
    await up();
    break;
  case 'down':
    await down();
    break;
  case 'status':
    status();
    break;
  default:
    fail('usage: node scripts/dev-cluster.mjs up|down|status');
}
