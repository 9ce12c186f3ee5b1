import type { PartitionState, TopicImage } from './metadata-image.js';
import { NO_LEADER, type LeaderRecoveryState, type PartitionChangeRecord } from './records.js';

// Leader election and ISR changes for one partition (Kafka's PartitionChangeBuilder): given the
// current state and who may lead, produce at most one PartitionChange record.

export interface ElectionOptions {
  /** May this broker lead or join the ISR? (registered, unfenced, not in controlled shutdown) */
  eligible: (brokerId: number) => boolean;
  /** Remove this broker from the ISR, unless it is the last member (an empty ISR would forget who has the data). */
  removeFromIsr?: number;
  /** unclean.leader.election.enable for this topic. */
  uncleanAllowed: boolean;
}

export interface UncleanElection {
  topicName: string;
  topicId: string;
  partition: number;
  leader: number;
  /** The ISR that was given up: records acknowledged by them and not by the new leader are lost. */
  previousIsr: readonly number[];
}

export interface PartitionChangeDecision {
  record: PartitionChangeRecord | null;
  unclean: UncleanElection | null;
}

const sameMembers = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]);

/**
 * Keeps a live leader if it may stay; otherwise elects the first replica (preferred order) that is
 * in the ISR and eligible; failing that, an out-of-sync eligible replica only when unclean election
 * is allowed (the ISR is then reset to it and the partition marked recovering); failing that, no
 * leader (offline), with the ISR kept so the partition comes back as soon as one member does.
 */
export function electLeader(topic: TopicImage, state: PartitionState, options: ElectionOptions): PartitionChangeDecision {
  let isr = [...state.isr];
  if (options.removeFromIsr !== undefined && isr.includes(options.removeFromIsr) && isr.length > 1) {
    isr = isr.filter((id) => id !== options.removeFromIsr);
  }
  let leader = state.leader;
  let leaderRecoveryState: LeaderRecoveryState = state.leaderRecoveryState;
  let unclean: UncleanElection | null = null;
  const leaderMayStay = leader !== NO_LEADER && isr.includes(leader) && options.eligible(leader);
  if (!leaderMayStay) {
    const clean = state.replicas.find((id) => isr.includes(id) && options.eligible(id));
    const outOfSync = options.uncleanAllowed ? state.replicas.find((id) => options.eligible(id)) : undefined;
    if (clean !== undefined) {
      leader = clean;
    } else if (outOfSync !== undefined) {
      unclean = { topicName: topic.name, topicId: topic.topicId, partition: state.partition, leader: outOfSync, previousIsr: state.isr };
      leader = outOfSync;
      isr = [outOfSync];
      leaderRecoveryState = 'recovering';
    } else {
      leader = NO_LEADER;
    }
  }
  return { record: changeRecord(state, { leader, isr, leaderRecoveryState }), unclean };
}

/** Moves leadership to the preferred (first) replica when it is in the ISR and eligible. */
export function electPreferredLeader(state: PartitionState, eligible: (brokerId: number) => boolean): PartitionChangeRecord | null {
  const preferred = state.replicas[0];
  if (preferred === undefined || preferred === state.leader) return null;
  // A recovering partition's leader is rebuilding after an unclean election; moving it would lose that.
  if (state.leaderRecoveryState !== 'recovered' || !state.isr.includes(preferred) || !eligible(preferred)) return null;
  return changeRecord(state, { leader: preferred, isr: [...state.isr], leaderRecoveryState: state.leaderRecoveryState });
}

/** Only the fields that differ, so replaying a record never rewrites what it did not decide. */
export function changeRecord(
  state: PartitionState,
  target: { leader: number; isr: number[]; leaderRecoveryState: LeaderRecoveryState },
): PartitionChangeRecord | null {
  const record: PartitionChangeRecord = { type: 'PartitionChange', version: 1, topicId: state.topicId, partition: state.partition };
  let changed = false;
  if (target.leader !== state.leader) {
    record.leader = target.leader;
    changed = true;
  }
  if (!sameMembers(target.isr, state.isr)) {
    record.isr = target.isr;
    changed = true;
  }
  if (target.leaderRecoveryState !== state.leaderRecoveryState) {
    record.leaderRecoveryState = target.leaderRecoveryState;
    changed = true;
  }
  return changed ? record : null;
}
