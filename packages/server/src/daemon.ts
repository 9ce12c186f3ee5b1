// The runnel daemon: one metadata-quorum node (voter or observer) whose state machine is the
// controller's MetadataStateMachine, plus the roles it runs. Controller role (a voter): the
// ControllerServer on the controller listener. Broker role: a ReplicaManager fed every new metadata
// image, follower fetches over gRPC, registration and heartbeats through BrokerLifecycle, and
// runnel.v1.Broker on the broker listener. A broker-only node is a Raft observer and serves Raft on
// its broker listener. With external.listen, a second broker listener answers with EXTERNAL
// endpoints. Every node serves /healthz, /readyz and /metrics over HTTP on http.listen.
import { join } from 'node:path';
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { BROKER_SERVICE, CONTROLLER_SERVICE, GROUP_COORDINATOR_SERVICE, QUORUM_SERVICE, RAFT_SERVICE, RunnelError, serverOptions } from '@runnel/protocol';
import { ControllerServer, MetadataStateMachine } from '@runnel/controller';
import { RaftNode } from '@runnel/raft';
import type { QuorumView } from '@runnel/raft';
import type { Logger } from 'pino';
import { raftTimingTicks, resolveConfig } from './config.js';
import type { ConfigInputs, ServerConfig } from './config.js';
import { createLogger } from './logger.js';
import { checkMetaProperties } from './meta-properties.js';
import { quorumServiceHandlers } from './quorum-service.js';
import { startBrokerRole } from './broker-role.js';
import type { BrokerRole } from './broker-role.js';
import { liveness, readiness } from './health.js';
import type { NodeHealthState } from './health.js';
import { startHttpListener } from './http-server.js';
import { DaemonMetrics } from './metrics.js';
import { instrumentBrokerHandlers } from './request-metrics.js';
import type { HttpListener } from './http-server.js';

export const METADATA_DIR_NAME = '__cluster_metadata';

export interface Daemon {
  readonly config: ServerConfig;
  readonly clusterId: string;
  readonly node: RaftNode;
  readonly stateMachine: MetadataStateMachine;
  /** Present when the node has the controller role. */
  readonly controller: ControllerServer | undefined;
  /** Present when the node has the broker role. */
  readonly broker: BrokerRole | undefined;
  /** Graceful stop: hand leadership over, drain gRPC, close the node. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Resolves if the Raft node stops itself (storage error, broken invariant): the process must exit. */
  readonly failed: Promise<Error>;
  /** The HTTP listener (/healthz, /readyz, /metrics). */
  readonly http: HttpListener;
  /** The daemon's Prometheus registry and request metrics (GET /metrics). */
  readonly metrics: DaemonMetrics;
  /** What /healthz and /readyz judge, right now. */
  healthState(): NodeHealthState;
}

function bindServer(server: grpc.Server, address: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) {
        const inUse = /EADDRINUSE|address already in use/i.test(error.message);
        const message = inUse
          ? `cannot listen on ${address} (${key}): address already in use; is another runnel node running on this port?`
          : `cannot listen on ${address} (${key}): ${error.message}`;
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
  const isController = config.roles.includes('controller');
  const isBroker = config.roles.includes('broker');
  const stateMachine = new MetadataStateMachine(logger.child({ component: 'metadata' }));
  const ticks = raftTimingTicks(config);
  // A broker-only node is an observer: leaders reach it where it serves Raft, which is its broker
  // listener unless a controller listener was given explicitly.
  const observerEndpoint = config.controllerQuorumVoters.has(config.nodeId)
    ? undefined
    : config.controllerListen === config.listen ? config.advertisedListen : config.controllerListen;
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
    ...(observerEndpoint === undefined ? {} : { advertisedEndpoint: observerEndpoint }),
  });
  const controller = isController
    ? new ControllerServer({
      node,
      stateMachine,
      clusterId: meta.clusterId,
      logger,
      electionTimeoutMs: config.electionTimeoutMs,
      config: {
        brokerSessionTimeoutMs: config.brokerSessionTimeoutMs,
        defaultNumPartitions: config.numPartitions,
        defaultReplicationFactor: config.defaultReplicationFactor,
        autoLeaderRebalanceEnable: config.autoLeaderRebalanceEnable,
        leaderImbalanceCheckIntervalMs: config.leaderImbalanceCheckIntervalMs,
        uncleanLeaderElectionEnable: config.uncleanLeaderElectionEnable,
      },
    })
    : undefined;
  let broker: BrokerRole | undefined;
  try {
    broker = isBroker
      ? startBrokerRole({
        config,
        clusterId: meta.clusterId,
        stateMachine,
        controllerId: () => node.describe().leaderId || -1,
        logger,
      })
      : undefined;
  } catch (error) {
    await node.stop();
    throw error;
  }
  let raftFailed = false;
  let shuttingDown = false;
  const healthState = (): NodeHealthState => {
    const status = node.status();
    const lifecycle = broker?.lifecycle.state;
    return {
      shuttingDown,
      raftFailed,
      leaderId: status.leaderId,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      ...(lifecycle === undefined ? {} : {
        broker: { registered: lifecycle.registered, fenced: lifecycle.fenced, fencedInImage: stateMachine.image.broker(config.nodeId)?.fenced },
      }),
    };
  };
  const metrics = new DaemonMetrics({
    raft: node,
    metadata: stateMachine,
    ...(controller === undefined ? {} : { controller }),
    ...(broker === undefined ? {} : { broker }),
    readiness: () => readiness(healthState()),
  });
  // One gRPC server per distinct address: the controller listener (Raft, Quorum, Controller) and the
  // broker listener (Broker), which are the same server on a broker-only node.
  const servers = new Map<string, { server: grpc.Server; key: string }>();
  const serverAt = (address: string, key: string): grpc.Server => {
    let entry = servers.get(address);
    if (entry === undefined) {
      entry = { server: new grpc.Server(serverOptions()), key };
      servers.set(address, entry);
    }
    return entry.server;
  };
  const controlServer = serverAt(config.controllerListen, 'controller.listener');
  controlServer.addService(RAFT_SERVICE, node.raftServiceHandlers());
  controlServer.addService(QUORUM_SERVICE, quorumServiceHandlers({
    node,
    logger: logger.child({ component: 'quorum-service' }),
    proposeTimeoutMs: config.requestTimeoutMs * 5,
    transferTimeoutMs: config.shutdownTimeoutMs,
  }));
  if (controller !== undefined) controlServer.addService(CONTROLLER_SERVICE, controller.handlers() as grpc.UntypedServiceImplementation);
  if (broker !== undefined) {
    const brokerServer = serverAt(config.listen, 'listeners');
    brokerServer.addService(BROKER_SERVICE, instrumentBrokerHandlers(broker.handlers, metrics.requests) as grpc.UntypedServiceImplementation);
    brokerServer.addService(GROUP_COORDINATOR_SERVICE, broker.groupHandlers as grpc.UntypedServiceImplementation);
    if (config.externalListen !== undefined && broker.external !== undefined) {
      // Its own server: the same services, built to answer with EXTERNAL endpoints.
      const externalServer = serverAt(config.externalListen, 'external.listen');
      externalServer.addService(BROKER_SERVICE, instrumentBrokerHandlers(broker.external.handlers, metrics.requests) as grpc.UntypedServiceImplementation);
      externalServer.addService(GROUP_COORDINATOR_SERVICE, broker.external.groupHandlers as grpc.UntypedServiceImplementation);
    }
  }
  let http: HttpListener;
  try {
    for (const [address, { server, key }] of servers) await bindServer(server, address, key);
    http = await startHttpListener(config.httpListen, {
      health: () => liveness(healthState()),
      ready: () => readiness(healthState()),
      metrics: () => metrics.render(),
    }, logger.child({ component: 'http' }));
  } catch (error) {
    for (const { server } of servers.values()) server.forceShutdown();
    await broker?.close();
    await node.stop();
    throw error;
  }
  node.on('leader-change', (leaderId: number, term: number) => {
    logger.info({ leaderId, term, self: leaderId === config.nodeId }, 'metadata quorum leader changed');
  });
  const failed = new Promise<Error>((resolve) => {
    node.once('error', (error: Error) => {
      raftFailed = true;
      resolve(error);
    });
  });
  controller?.start();
  node.start();
  broker?.start();
  logger.info({
    roles: config.roles,
    controllerListen: config.controllerListen,
    ...(broker === undefined ? {} : { listen: config.listen, advertisedListen: config.advertisedListen }),
    ...(config.externalListen === undefined ? {} : { externalListen: config.externalListen, externalAdvertisedListen: config.externalAdvertisedListen }),
    httpListen: config.httpListen,
    clusterId: meta.clusterId,
    voters: Object.fromEntries(config.controllerQuorumVoters),
  }, 'runnel node started');

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      shuttingDown = true;
      logger.info({ reason }, 'shutting down');
      if (broker !== undefined && broker.lifecycle.state.registered) {
        // Leaderships move away while this node still serves, so producers re-home to live leaders
        // instead of waiting out a session timeout (Kafka's controlled shutdown).
        const confirmed = await broker.controlledShutdown(config.shutdownTimeoutMs);
        logger.info({ confirmed }, 'controlled shutdown finished');
      }
      const target = node.status().role === 'leader' ? shutdownTransferTarget(node.describe(), config.nodeId, config.electionTimeoutMs) : undefined;
      if (target !== undefined) {
        // Handing leadership over first turns a full election timeout of unavailability into one
        // round trip (Raft thesis §3.10).
        await handOverLeadership(node, target, config.shutdownTimeoutMs, logger);
      }
      await controller?.stop();
      await broker?.close();
      await Promise.all([...servers.values()].map(({ server }) => drainServer(server, config.shutdownTimeoutMs, logger)));
      await node.stop();
      // Last, so probes see 503 (not a refused connection) for as long as the node is going down.
      await http.close();
      logger.info('runnel node stopped');
    })();
    return stopping;
  };
  return { config, clusterId: meta.clusterId, node, stateMachine, controller, broker, shutdown, failed, http, metrics, healthState };
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
