// A 3-node Runnel cluster as Docker containers, driven by testcontainers, for the container drills.
//
// Each node is on two Docker networks this file creates:
// - `cluster`: peer traffic only. Nodes find each other by the aliases node1..node3 (controller quorum
//   nodeN:9093, primary listener nodeN:9092, which is also what replicas fetch from). Disconnecting a
//   node from it is a network partition.
// - `access`: how this test process (on the host) reaches every node, even one cut off from `cluster`:
//   a fixed address per node on a subnet chosen here, where the node's EXTERNAL listener (9095)
//   advertises itself and its HTTP port (9094) serves /readyz. A client bootstrapping through EXTERNAL
//   gets every broker's EXTERNAL address in Metadata.
// Data lives in a named volume per node, so a node can be replaced by a new container on its volume.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GenericContainer, Network, Wait, getContainerRuntimeClient } from 'testcontainers';
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';

// dockerode's types, as testcontainers exposes them (dockerode is its dependency, not ours).
type Docker = Awaited<ReturnType<typeof getContainerRuntimeClient>>['container']['dockerode'];
type DockerNetwork = ReturnType<Docker['getNetwork']>;
type DockerContainer = ReturnType<Docker['getContainer']>;

export const RUNNEL_IMAGE = process.env['RUNNEL_IMAGE'] ?? 'runnel:local';
export const PRIMARY_PORT = 9092;
export const CONTROLLER_PORT = 9093;
export const HTTP_PORT = 9094;
export const EXTERNAL_PORT = 9095;
export const DATA_DIR = '/var/lib/runnel';
/** Every container start waits at most this long for the node's start-up line. */
const STARTUP_TIMEOUT_MS = 30_000;
/** Candidate /24 subnets for the access network; the first one Docker accepts is used. */
const ACCESS_SUBNET_CANDIDATES = 8;

/**
 * The node's command: format the volume on first start (`--ignore-formatted` keeps a volume formatted
 * with the same ids), then become the server. The same command as deploy/compose/compose.yaml.
 */
export const NODE_COMMAND = [
  'runnel storage format --ignore-formatted --data-dir "$RUNNEL_DATA_DIR" --node-id "$RUNNEL_NODE_ID" --cluster-id "$RUNNEL_CLUSTER_ID"'
  + ' && exec runnel server start',
];

export function nodeAlias(id: number): string {
  return `node${id}`;
}

/** The subclass sets what testcontainers has no builder for: a fixed address on the access network. */
class RunnelNodeContainer extends GenericContainer {
  constructor(image: string, private readonly accessNetwork: string, private readonly accessIp: string, private readonly onCreated: (containerId: string) => Promise<void>) {
    super(image);
    this.withNetworkMode(accessNetwork);
  }

  protected override async beforeContainerCreated(): Promise<void> {
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [this.accessNetwork]: { IPAMConfig: { IPv4Address: this.accessIp } } } };
  }

  protected override async containerCreated(containerId: string): Promise<void> {
    await this.onCreated(containerId);
  }
}

export interface ContainerClusterOptions {
  /** A short tag for container, network and volume names. */
  readonly name: string;
  readonly nodeCount?: number;
  /** Extra RUNNEL_* settings for every node. */
  readonly env?: Record<string, string>;
}

export class ContainerCluster {
  readonly nodeIds: number[];
  readonly clusterId: string;
  private readonly containers = new Map<number, StartedTestContainer>();
  private readonly disconnected = new Set<number>();

  private constructor(
    private readonly docker: Docker,
    readonly runId: string,
    readonly clusterNetwork: StartedNetwork,
    private readonly accessNetwork: DockerNetwork,
    readonly accessNetworkName: string,
    private readonly accessSubnetPrefix: string,
    private readonly options: ContainerClusterOptions,
  ) {
    this.nodeIds = Array.from({ length: options.nodeCount ?? 3 }, (_, i) => i + 1);
    this.clusterId = randomBytes(16).toString('base64url');
  }

  /** Creates the networks and volumes (no container yet). Undo with {@link destroy}. */
  static async create(options: ContainerClusterOptions): Promise<ContainerCluster> {
    const client = await getContainerRuntimeClient();
    const docker = client.container.dockerode;
    const runId = `runnel-${options.name}-${process.pid}-${Date.now().toString(36)}`;
    const clusterNetwork = await new Network().start();
    const accessNetworkName = `${runId}-access`;
    let lastError: unknown;
    // A fixed address per node needs a subnet of our own; skip ones that collide with another network.
    for (let i = 0; i < ACCESS_SUBNET_CANDIDATES; i++) {
      const third = (process.pid + i * 37) % 250;
      const prefix = `10.213.${third}`;
      try {
        const network = await docker.createNetwork({
          Name: accessNetworkName,
          Driver: 'bridge',
          CheckDuplicate: true,
          IPAM: { Config: [{ Subnet: `${prefix}.0/24`, Gateway: `${prefix}.1` }] },
          Labels: { 'runnel.test': runId },
        });
        const cluster = new ContainerCluster(docker, runId, clusterNetwork, network, accessNetworkName, prefix, options);
        for (const id of cluster.nodeIds) {
          await docker.createVolume({ Name: cluster.volumeName(id), Labels: { 'runnel.test': runId } });
        }
        return cluster;
      } catch (error) {
        lastError = error;
      }
    }
    await clusterNetwork.stop().catch(() => undefined);
    throw new Error(`could not create the access network: ${(lastError as Error)?.message}`, { cause: lastError });
  }

  volumeName(id: number): string {
    return `${this.runId}-node${id}`;
  }

  accessIp(id: number): string {
    return `${this.accessSubnetPrefix}.${10 + id}`;
  }

  /** The node's EXTERNAL listener as the host reaches it. */
  externalEndpoint(id: number): string {
    return `${this.accessIp(id)}:${EXTERNAL_PORT}`;
  }

  httpUrl(id: number, path: string): string {
    return `http://${this.accessIp(id)}:${HTTP_PORT}${path}`;
  }

  bootstrap(ids: readonly number[] = this.nodeIds): string[] {
    return ids.map((id) => this.externalEndpoint(id));
  }

  container(id: number): StartedTestContainer {
    const container = this.containers.get(id);
    if (container === undefined) throw new Error(`node ${id} has no container`);
    return container;
  }

  private nodeEnv(id: number): Record<string, string> {
    return {
      RUNNEL_NODE_ID: String(id),
      RUNNEL_CLUSTER_ID: this.clusterId,
      RUNNEL_DATA_DIR: DATA_DIR,
      RUNNEL_CONTROLLER_QUORUM: this.nodeIds.map((n) => `${n}@${nodeAlias(n)}:${CONTROLLER_PORT}`).join(','),
      RUNNEL_CONTROLLER_LISTEN: `0.0.0.0:${CONTROLLER_PORT}`,
      RUNNEL_LISTEN: `0.0.0.0:${PRIMARY_PORT}`,
      RUNNEL_ADVERTISED_LISTEN: `${nodeAlias(id)}:${PRIMARY_PORT}`,
      RUNNEL_EXTERNAL_LISTEN: `0.0.0.0:${EXTERNAL_PORT}`,
      RUNNEL_EXTERNAL_ADVERTISED_LISTEN: this.externalEndpoint(id),
      RUNNEL_HTTP_LISTEN: `0.0.0.0:${HTTP_PORT}`,
      ...this.options.env,
    };
  }

  /**
   * Starts a NEW container for node `id` on its volume (the previous container, if any, must have
   * been removed with {@link remove}), attached to both networks before its process starts.
   */
  async start(id: number): Promise<StartedTestContainer> {
    if (this.containers.has(id)) throw new Error(`node ${id} already has a container`);
    const alias = nodeAlias(id);
    const container = await new RunnelNodeContainer(RUNNEL_IMAGE, this.accessNetworkName, this.accessIp(id), async (containerId) => {
      await this.docker.getNetwork(this.clusterNetwork.getId()).connect({ Container: containerId, EndpointConfig: { Aliases: [alias] } });
    })
      .withName(`${this.runId}-${alias}-${Date.now().toString(36)}`)
      .withHostname(alias)
      .withPullPolicy({ shouldPull: () => false })
      .withEnvironment(this.nodeEnv(id))
      .withEntrypoint(['/bin/sh', '-c'])
      .withCommand(NODE_COMMAND)
      .withBindMounts([{ source: this.volumeName(id), target: DATA_DIR, mode: 'rw' }])
      .withLabels({ 'runnel.test': this.runId })
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .withWaitStrategy(Wait.forLogMessage('runnel node started'))
      .start();
    this.containers.set(id, container);
    this.disconnected.delete(id);
    return container;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodeIds.map((id) => this.start(id)));
  }

  private raw(id: number): DockerContainer {
    return this.docker.getContainer(this.container(id).getId());
  }

  /** `docker kill`: SIGKILL, no controlled shutdown. The container stays, stopped. */
  async kill(id: number): Promise<void> {
    await this.raw(id).kill({ signal: 'SIGKILL' });
    await this.raw(id).wait();
  }

  /** Starts a killed or stopped container again (same container, same volume and addresses). */
  async restart(id: number): Promise<void> {
    await this.raw(id).start();
  }

  /** `docker stop`: SIGTERM (controlled shutdown), SIGKILL after `graceSeconds`. */
  async stop(id: number, graceSeconds = 20): Promise<void> {
    await this.raw(id).stop({ t: graceSeconds });
  }

  /** Removes node `id`'s container (its volume stays). */
  async remove(id: number): Promise<void> {
    const container = this.containers.get(id);
    if (container === undefined) return;
    this.containers.delete(id);
    // v: the image's anonymous volumes, if any; the named data volume stays.
    await this.docker.getContainer(container.getId()).remove({ force: true, v: true });
  }

  async pause(id: number): Promise<void> {
    await this.raw(id).pause();
  }

  async unpause(id: number): Promise<void> {
    await this.raw(id).unpause();
  }

  /** Cuts node `id` off from its peers (it stays reachable from the host over the access network). */
  async disconnect(id: number): Promise<void> {
    await this.docker.getNetwork(this.clusterNetwork.getId()).disconnect({ Container: this.container(id).getId(), Force: true });
    this.disconnected.add(id);
  }

  async reconnect(id: number): Promise<void> {
    await this.docker.getNetwork(this.clusterNetwork.getId()).connect({ Container: this.container(id).getId(), EndpointConfig: { Aliases: [nodeAlias(id)] } });
    this.disconnected.delete(id);
  }

  /** Runs a command in node `id`'s container. */
  async exec(id: number, command: string[]): Promise<{ exitCode: number; output: string }> {
    const result = await this.container(id).exec(command);
    return { exitCode: result.exitCode, output: result.output };
  }

  /** The last `bytes` of node `id`'s container log. */
  async logTail(id: number, bytes = 4_000): Promise<string> {
    const container = this.containers.get(id);
    if (container === undefined) return '(no container)';
    try {
      const buffer = await this.docker.getContainer(container.getId()).logs({ stdout: true, stderr: true, tail: 200 }) as unknown as Buffer;
      return demuxDockerLog(buffer).slice(-bytes);
    } catch (error) {
      return `(no log: ${(error as Error).message})`;
    }
  }

  /** Writes every node's whole container log to `dir`/node-N.log; returns the paths. */
  async dumpLogs(dir: string): Promise<string[]> {
    const paths: string[] = [];
    for (const id of this.nodeIds) {
      const container = this.containers.get(id);
      if (container === undefined) continue;
      const path = join(dir, `node-${id}.log`);
      try {
        const buffer = await this.docker.getContainer(container.getId()).logs({ stdout: true, stderr: true }) as unknown as Buffer;
        writeFileSync(path, demuxDockerLog(buffer));
        paths.push(path);
      } catch {
        // The container is gone; its tail was printed already.
      }
    }
    return paths;
  }

  async logTails(): Promise<string> {
    const tails = await Promise.all(this.nodeIds.map(async (id) => `--- node ${id}\n${await this.logTail(id)}`));
    return tails.join('\n');
  }

  /** Removes every container, network and volume this cluster created. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const id of [...this.containers.keys()]) {
      await this.remove(id).catch(() => undefined);
    }
    await this.clusterNetwork.stop().catch(() => undefined);
    await this.accessNetwork.remove().catch(() => undefined);
    for (const id of this.nodeIds) {
      await this.docker.getVolume(this.volumeName(id)).remove().catch(() => undefined);
    }
  }
}

/** Docker's log stream multiplexes stdout/stderr in 8-byte-header frames (no TTY). */
function demuxDockerLog(buffer: Buffer): string {
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return parts.join('');
}
