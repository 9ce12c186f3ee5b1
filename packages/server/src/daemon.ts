// The runnel daemon for this issue: one metadata-quorum node (voter or observer) behind one gRPC
// listener. Later issues add the broker role and HTTP health/metrics next to it.
import { join } from 'node:path';
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { QUORUM_SERVICE, RAFT_SERVICE, RunnelError, serverOptions } from '@runnel/protocol';
import { RaftNode } from '@runnel/raft';
import type { QuorumView } from '@runnel/raft';
import type { Logger } from 'pino';
import { raftTimingTicks, resolveConfig } from './config.js';
import type { ConfigInputs, ServerConfig } from './config.js';
import { createLogger } from './logger.js';
import { checkMetaProperties } from './meta-properties.js';
import { MetadataStateMachine } from './metadata-state-machine.js';
import { quorumServiceHandlers } from './quorum-service.js';

export const METADATA_DIR_NAME = '__cluster_metadata';

export interface Daemon {
  readonly config: ServerConfig;
  readonly clusterId: string;
  readonly node: RaftNode;
  readonly stateMachine: MetadataStateMachine;
  /** Graceful stop: hand leadership over, drain gRPC, close the node. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Resolves if the Raft node stops itself (storage error, broken invariant): the process must exit. */
  readonly failed: Promise<Error>;
}

function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) {
        const inUse = /EADDRINUSE|address already in use/i.test(error.message);
        const message = inUse
          ? `cannot listen on ${address} (controller.listener): address already in use; is another runnel node running on this port?`
          : `cannot listen on ${address} (controller.listener): ${error.message}`;
        reject(new RunnelError('NETWORK_EXCEPTION', message, { cause: error, details: { address } }));
        return;
      }
      resolve(port);
    });
  });
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | 'timed-out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function drainServer(server: grpc.Server, timeoutMs: number, logger: Logger): Promise<void> {
  const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  if ((await withTimeout(drained, timeoutMs)) === 'timed-out') {
    logger.warn({ timeoutMs }, 'gRPC calls still running after the shutdown bound; closing them');
    server.forceShutdown();
  }
}

/**
 * The voter to hand leadership to: heard from within an election timeout (a dead peer would only burn
 * the shutdown bound) and, among those, the most up to date, so it can win at once.
 */
export function shutdownTransferTarget(view: QuorumView, selfId: number, electionTimeoutMs: number): number | undefined {
  const live = view.voters.filter((voter) => voter.id !== selfId && voter.lastContactMs >= 0 && voter.lastContactMs < electionTimeoutMs);
  live.sort((a, b) => b.logEndIndex - a.logEndIndex || a.lastContactMs - b.lastContactMs);
  return live[0]?.id;
}

/**
 * Shutdown only needs this node to stop leading; the transfer's own answer can come late (or never,
 * if the target is itself shutting down), so losing leadership in any way ends the wait too.
 */
async function handOverLeadership(node: RaftNode, targetId: number, timeoutMs: number, logger: Logger): Promise<void> {
  let onLeaderChange: ((leaderId: number) => void) | undefined;
  const steppedDown = new Promise<number>((resolve) => {
    onLeaderChange = (leaderId: number) => {
      if (leaderId !== node.id) resolve(leaderId);
    };
    node.on('leader-change', onLeaderChange);
  });
  const transfer = node.transferLeadership(targetId, timeoutMs).catch((error: unknown) => {
    logger.warn({ err: error, targetId }, 'leadership transfer failed; stopping anyway');
    return undefined;
  });
  try {
    const outcome = await withTimeout(Promise.race([transfer, steppedDown]), timeoutMs);
    if (outcome === 'timed-out') logger.warn({ timeoutMs, targetId }, 'leadership transfer did not finish in time');
    else if (outcome !== undefined) logger.info({ newLeaderId: outcome, targetId }, 'leadership handed over before shutdown');
  } finally {
    if (onLeaderChange !== undefined) node.off('leader-change', onLeaderChange);
  }
}

export async function startDaemon(config: ServerConfig, baseLogger: Logger): Promise<Daemon> {
  const logger = baseLogger.child({ nodeId: config.nodeId });
  const meta = await checkMetaProperties({ dataDir: config.dataDir, nodeId: config.nodeId, clusterId: config.clusterId });
  const stateMachine = new MetadataStateMachine();
  const ticks = raftTimingTicks(config);
  const node = await RaftNode.open({
    id: config.nodeId,
    clusterId: meta.clusterId,
    voters: config.controllerQuorumVoters,
    metadataDir: join(config.dataDir, METADATA_DIR_NAME),
    stateMachine,
    // The driver binds nodeId itself; passing the already-bound child would repeat the key.
    logger: baseLogger,
    tickMs: ticks.tickMs,
    electionTicks: ticks.electionTicks,
    heartbeatTicks: ticks.heartbeatTicks,
    snapshotEveryEntries: config.snapshotEveryEntries,
    rpcTimeoutMs: config.requestTimeoutMs,
  });
  const server = new grpc.Server(serverOptions());
  server.addService(RAFT_SERVICE, node.raftServiceHandlers());
  server.addService(QUORUM_SERVICE, quorumServiceHandlers({
    node,
    logger: logger.child({ component: 'quorum-service' }),
    proposeTimeoutMs: config.requestTimeoutMs * 5,
    transferTimeoutMs: config.shutdownTimeoutMs,
  }));
  try {
    await bindServer(server, config.controllerListen);
  } catch (error) {
    server.forceShutdown();
    await node.stop();
    throw error;
  }
  node.on('leader-change', (leaderId: number, term: number) => {
    logger.info({ leaderId, term, self: leaderId === config.nodeId }, 'metadata quorum leader changed');
  });
  const failed = new Promise<Error>((resolve) => {
    node.once('error', (error: Error) => resolve(error));
  });
  node.start();
  logger.info({ listen: config.controllerListen, clusterId: meta.clusterId, voters: Object.fromEntries(config.controllerQuorumVoters) }, 'runnel node started');

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const target = node.status().role === 'leader' ? shutdownTransferTarget(node.describe(), config.nodeId, config.electionTimeoutMs) : undefined;
      if (target !== undefined) {
        // Handing leadership over first turns a full election timeout of unavailability into one
        // round trip (Raft thesis §3.10).
        await handOverLeadership(node, target, config.shutdownTimeoutMs, logger);
      }
      await drainServer(server, config.shutdownTimeoutMs, logger);
      await node.stop();
      logger.info('runnel node stopped');
    })();
    return stopping;
  };
  return { config, clusterId: meta.clusterId, node, stateMachine, shutdown, failed };
}

export interface RunServerOptions extends ConfigInputs {
  /** Called once the node serves (tests); the process-level run keeps going until a signal. */
  readonly onStarted?: (daemon: Daemon) => void;
}

/**
 * Runs the daemon until SIGTERM or SIGINT and resolves with the process exit code. A second signal
 * during shutdown exits at once, so an operator is never stuck behind a hung drain.
 */
export async function runServer(options: RunServerOptions): Promise<number> {
  const { config, sources, unknownFileKeys } = resolveConfig(options);
  const logger = createLogger({ level: config.logLevel });
  // grpc-js writes its own diagnostics to stderr; keep stderr for the one-line error an operator
  // reads, and put gRPC's lines in the structured log instead.
  const grpcLog = logger.child({ component: 'grpc' });
  grpc.setLogger({ error: (...args: unknown[]) => grpcLog.warn(format(...args)) });
  logger.debug({ sources }, 'configuration sources');
  if (unknownFileKeys.length > 0) logger.warn({ keys: unknownFileKeys }, 'ignoring unknown config file keys');
  let daemon: Daemon;
  try {
    daemon = await startDaemon(config, logger);
  } catch (error) {
    logger.fatal({ err: error, nodeId: config.nodeId }, 'runnel node failed to start');
    throw error;
  }
  options.onStarted?.(daemon);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal during shutdown: exiting now');
        resolve(1);
        return;
      }
      daemon.shutdown(signal).then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    void daemon.failed.then((error) => {
      // The node already logged why; serving Describe from a dead node would mislead operators.
      logger.fatal({ err: error }, 'raft node failed: exiting');
      daemon.shutdown('raft node failed').then(() => resolve(1), () => resolve(1));
    });
  });
}
