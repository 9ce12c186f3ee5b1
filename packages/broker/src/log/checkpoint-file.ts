import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, fsyncDirSync } from './file-ops.js';
import type { FileOps } from './file-ops.js';

/**
 * Kafka's checkpoint file format: a version line, a count line, then one line per entry of
 * space-separated integers. Written atomically (tmp + fsync + rename + dir fsync) so a crash leaves
 * either the old or the new file, never a torn one.
 */
const CHECKPOINT_VERSION = 0;
/** A checkpoint larger than this is not one of ours; refuse rather than allocate without bound. */
const CHECKPOINT_ENTRIES_MAX = 1_000_000;

export type CheckpointEntry = readonly number[];

export class CheckpointFile {
  readonly path: string;

  constructor(
    readonly dir: string,
    readonly name: string,
    /** Integers per entry line, e.g. 2 for (epoch, startOffset). */
    private readonly fieldsPerEntry: number,
    private readonly ops: FileOps,
  ) {
    this.path = path.join(dir, name);
  }

  private render(entries: readonly CheckpointEntry[]): string {
    const lines = [String(CHECKPOINT_VERSION), String(entries.length)];
    for (const entry of entries) {
      if (entry.length !== this.fieldsPerEntry || !entry.every(Number.isSafeInteger)) {
        throw new Error(`${this.name}: bad checkpoint entry ${JSON.stringify(entry)}`);
      }
      lines.push(entry.join(' '));
    }
    return `${lines.join('\n')}\n`;
  }

  /**
   * The same atomic write with the fsyncs off the event loop, for periodic checkpoints: a blocking
   * fsync under disk load stalls every produce and fetch of the process for its duration. The caller
   * must not start another write of this file before the returned promise settles.
   */
  async writeAsync(entries: readonly CheckpointEntry[]): Promise<void> {
    const text = this.render(entries);
    const tmpPath = `${this.path}.tmp`;
    const handle = await fs.promises.open(tmpPath, 'w');
    try {
      await handle.writeFile(text);
      await this.ops.fsync(handle.fd);
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmpPath, this.path);
    await fsyncDir(this.ops, this.dir);
  }

  write(entries: readonly CheckpointEntry[]): void {
    const text = this.render(entries);
    const tmpPath = `${this.path}.tmp`;
    const fd = fs.openSync(tmpPath, 'w');
    try {
      fs.writeFileSync(fd, text);
      this.ops.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmpPath, this.path);
    fsyncDirSync(this.ops, this.dir);
  }

  /** Entries, or undefined when the file does not exist. Throws on a malformed file. */
  read(): number[][] | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const lines = text.split('\n').filter((line) => line.length > 0);
    const version = Number(lines[0]);
    const count = Number(lines[1]);
    if (version !== CHECKPOINT_VERSION) throw new Error(`${this.path}: unsupported checkpoint version ${lines[0] ?? '(none)'}`);
    if (!Number.isSafeInteger(count) || count < 0 || count > CHECKPOINT_ENTRIES_MAX || lines.length !== count + 2) {
      throw new Error(`${this.path}: malformed checkpoint (count ${lines[1] ?? '(none)'}, ${lines.length - 2} entry lines)`);
    }
    return lines.slice(2).map((line) => {
      const fields = line.trim().split(/\s+/).map(Number);
      if (fields.length !== this.fieldsPerEntry || !fields.every(Number.isSafeInteger)) {
        throw new Error(`${this.path}: malformed checkpoint line "${line}"`);
      }
      return fields;
    });
  }
}
