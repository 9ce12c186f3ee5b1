// The daemon's Prometheus metrics (GET /metrics): one Registry per daemon (tests run several daemons
// in one process), request metrics fed by the broker service wrapper (request-metrics.ts), and
// gauges that read live state only when scraped: each scrape takes one snapshot of the hosted
// partitions, the metadata image and the Raft status, and every collect() reads from it, so nothing
// on the produce/fetch path updates a gauge. See docs/observability.md for every series.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { HostedPartitionView } from '@runnel/broker';
import type { MetadataImage } from '@runnel/controller';
import type { RaftNodeCounters, RaftStatus } from '@runnel/raft';
import type { HealthAnswer } from './health.js';
import { BrokerRequestMetrics } from './request-metrics.js';

export interface MetricsSources {
  readonly raft: { status(): RaftStatus; counters(): RaftNodeCounters };
  readonly metadata: {
    readonly image: MetadataImage;
    readonly appliedOffset: number;
    readonly eventCounts: { brokerFencings: number; partitionLeaderElections: number };
  };
  /** Present on a node with the controller role. */
  readonly controller?: { readonly active: boolean };
  /** Present on a node with the broker role. */
  readonly broker?: {
    readonly replicaManager: { describe(): HostedPartitionView[] };
    readonly groupCoordinator: { committedOffsets(): Array<{ groupId: string; topic: string; partition: number; offset: number }> };
  };
  readonly readiness: () => HealthAnswer;
}

const RAFT_ROLES = ['follower', 'pre-candidate', 'candidate', 'leader', 'observer'] as const;

interface Snapshot {
  readonly partitions: readonly HostedPartitionView[];
  readonly image: MetadataImage;
  readonly raft: RaftStatus;
  readonly counters: RaftNodeCounters;
}

function partitionLabels(p: HostedPartitionView): { topic: string; partition: string } {
  return { topic: p.topic, partition: String(p.partition) };
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly requests: BrokerRequestMetrics;
  private current: Snapshot | undefined;

  constructor(private readonly sources: MetricsSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });
    this.requests = new BrokerRequestMetrics(registry);
    const snap = (): Snapshot => this.current ?? this.take();

    // ---- Raft (the metadata quorum)
    const raftGauge = (name: string, help: string, read: (s: Snapshot) => number): void => {
      new Gauge({ name, help, registers: [registry], collect() {
        this.set(read(snap()));
      } });
    };
    raftGauge('runnel_raft_term', 'Current Raft term of the metadata quorum as this node knows it', (s) => s.raft.term);
    raftGauge('runnel_raft_commit_index', 'Highest metadata log index this node knows to be committed', (s) => s.raft.commitIndex);
    raftGauge('runnel_raft_applied_index', 'Highest metadata log index this node has applied', (s) => s.raft.appliedIndex);
    raftGauge('runnel_raft_leader_id', 'Node id of the metadata quorum leader this node knows (0: none known)', (s) => s.raft.leaderId);
    new Gauge({ name: 'runnel_raft_role', help: 'This node\'s Raft role: 1 for the current role, 0 for the others', labelNames: ['role'], registers: [registry], collect() {
      const role = snap().raft.role;
      for (const r of RAFT_ROLES) this.set({ role: r }, r === role ? 1 : 0);
    } });
    const raftCounter = (name: string, help: string, read: (c: RaftNodeCounters) => number): void => {
      new Counter({ name, help, registers: [registry], collect() {
        this.reset();
        this.inc(read(snap().counters));
      } });
    };
    raftCounter('runnel_raft_leader_changes_total', 'Times this node learned of a new metadata quorum leader since it started', (c) => c.leaderChanges);
    raftCounter('runnel_raft_elections_started_total', 'Elections this node started as a candidate (each in a new term) since it started', (c) => c.electionsStarted);
    new Gauge({ name: 'runnel_metadata_applied_offset', help: 'Raft index of the last metadata record batch this node applied to its image', registers: [registry], collect() {
      this.set(sources.metadata.appliedOffset);
    } });

    // ---- Controller decisions seen in the metadata log, and the active controller's view
    const eventCounter = (name: string, help: string, read: (c: { brokerFencings: number; partitionLeaderElections: number }) => number): void => {
      new Counter({ name, help, registers: [registry], collect() {
        this.reset();
        this.inc(read(sources.metadata.eventCounts));
      } });
    };
    eventCounter('runnel_controller_broker_fencings_total', 'Brokers fenced by the controller (FenceBroker records applied from the metadata log since this node started)', (c) => c.brokerFencings);
    eventCounter('runnel_controller_partition_leader_elections_total', 'Partitions given a new leader by the controller (PartitionChange records naming a leader, applied since this node started)', (c) => c.partitionLeaderElections);
    new Gauge({ name: 'runnel_controller_active', help: '1 on the active controller, 0 elsewhere', registers: [registry], collect() {
      this.set(sources.controller?.active === true ? 1 : 0);
    } });
    new Gauge({ name: 'runnel_controller_fenced_brokers', help: 'Registered brokers that are fenced (reported by the active controller; 0 elsewhere)', registers: [registry], collect() {
      if (sources.controller?.active !== true) {
        this.set(0);
        return;
      }
      let fenced = 0;
      for (const broker of snap().image.brokers.values()) if (broker.fenced) fenced += 1;
      this.set(fenced);
    } });

    // ---- Cluster-wide partition health, from this node's metadata image
    new Gauge({ name: 'runnel_cluster_under_replicated_partitions', help: 'Partitions whose ISR is smaller than their replica set (cluster-wide, from the metadata image)', registers: [registry], collect() {
      let count = 0;
      for (const topic of snap().image.topicsById.values()) for (const p of topic.partitions) if (p.isr.length < p.replicas.length) count += 1;
      this.set(count);
    } });
    new Gauge({ name: 'runnel_cluster_offline_partitions', help: 'Partitions with no leader (cluster-wide, from the metadata image)', registers: [registry], collect() {
      let count = 0;
      for (const topic of snap().image.topicsById.values()) for (const p of topic.partitions) if (p.leader < 0) count += 1;
      this.set(count);
    } });
    new Gauge({ name: 'runnel_node_ready', help: '1 while GET /readyz answers 200, else 0', registers: [registry], collect() {
      this.set(sources.readiness().ok ? 1 : 0);
    } });

    if (sources.broker !== undefined) this.registerBrokerMetrics(sources.broker, snap);
  }

  private registerBrokerMetrics(broker: NonNullable<MetricsSources['broker']>, snap: () => Snapshot): void {
    const registry = this.registry;
    const labelNames = ['topic', 'partition'] as const;
    const partitionGauge = (name: string, help: string, read: (p: HostedPartitionView) => number): void => {
      new Gauge({ name, help, labelNames, registers: [registry], collect() {
        // Reset first: a partition moved away or deleted must stop being reported.
        this.reset();
        for (const p of snap().partitions) this.set(partitionLabels(p), read(p));
      } });
    };
    partitionGauge('runnel_partition_log_end_offset', 'Offset the next record appended to this replica gets', (p) => p.logEndOffset);
    partitionGauge('runnel_partition_high_watermark', 'Offset up to which records are committed (visible to consumers)', (p) => p.highWatermark);
    partitionGauge('runnel_partition_log_start_offset', 'First offset still in this replica\'s log (retention moves it)', (p) => p.logStartOffset);
    partitionGauge('runnel_partition_isr_size', 'In-sync replicas of the partition, as this replica knows them', (p) => p.isr.length);
    partitionGauge('runnel_partition_leader', '1 if this broker leads the partition, else 0', (p) => (p.role === 'leader' ? 1 : 0));

    const groupLabels = ['group', 'topic', 'partition'] as const;
    const groupGauge = (name: string, help: string, read: (committed: number, highWatermark: number) => number): void => {
      new Gauge({ name, help, labelNames: groupLabels, registers: [registry], collect() {
        this.reset();
        const highWatermarks = new Map<string, number>();
        for (const p of snap().partitions) highWatermarks.set(`${p.topic}\u0000${p.partition}`, p.highWatermark);
        for (const o of broker.groupCoordinator.committedOffsets()) {
          const highWatermark = highWatermarks.get(`${o.topic}\u0000${o.partition}`);
          // Lag needs the partition's high watermark, known here only for partitions with a replica on this broker.
          if (highWatermark === undefined) continue;
          this.set({ group: o.groupId, topic: o.topic, partition: String(o.partition) }, read(o.offset, highWatermark));
        }
      } });
    };
    groupGauge('runnel_group_committed_offset', 'Committed offset of a group coordinated by this broker, per partition', (committed) => committed);
    groupGauge('runnel_group_lag_records', 'High watermark minus committed offset, for groups this broker coordinates (partitions with a replica here)', (committed, hw) => Math.max(0, hw - committed));
  }

  private take(): Snapshot {
    this.current = {
      partitions: this.sources.broker?.replicaManager.describe() ?? [],
      image: this.sources.metadata.image,
      raft: this.sources.raft.status(),
      counters: this.sources.raft.counters(),
    };
    return this.current;
  }

  /** The text exposition, from one fresh snapshot of the node's state. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.take();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
