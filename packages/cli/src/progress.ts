// A progress bar for long CLI work, drawn on stderr only when the user watches a terminal; otherwise
// a no-op, so piped and scripted runs keep their output quiet and machine-readable.
import { SingleBar } from 'cli-progress';

export interface Progress {
  update(value: number): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

/** `unit` names what `total` counts (records, bytes, partitions). */
export function startProgress(enabled: boolean, total: number, unit: string): Progress {
  if (!enabled || total <= 0) return NO_PROGRESS;
  const bar = new SingleBar({ format: `{bar} {percentage}% | {value}/{total} ${unit} | {eta}s left`, stream: process.stderr, hideCursor: true, clearOnComplete: true });
  bar.start(total, 0);
  return {
    update: (value) => bar.update(Math.min(value, total)),
    stop: () => bar.stop(),
  };
}

/** Whether this process talks to a person at a terminal (both streams: the bar goes to stderr). */
export function interactiveTerminal(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}
