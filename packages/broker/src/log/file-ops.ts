import * as fs from 'node:fs';

/**
 * The durability-relevant file operations, injectable so tests can count fsyncs or make them fail
 * (a disk error must reach every waiter as KAFKA_STORAGE_ERROR, never be swallowed).
 */
export interface FileOps {
  /** fsync of a file descriptor, off the event loop so appends keep arriving while the disk works. */
  fsync(fd: number): Promise<void>;
  /** Synchronous fsync, used where the caller must not continue before the data is durable. */
  fsyncSync(fd: number): void;
}

export const nodeFileOps: FileOps = {
  fsync: (fd) =>
    new Promise<void>((resolve, reject) => {
      fs.fsync(fd, (err) => (err === null ? resolve() : reject(err)));
    }),
  fsyncSync: (fd) => fs.fsyncSync(fd),
};

/** fsync a directory so a created, renamed or deleted entry survives power loss. */
export function fsyncDirSync(ops: FileOps, dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    ops.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function fsyncDir(ops: FileOps, dir: string): Promise<void> {
  const fd = fs.openSync(dir, 'r');
  try {
    await ops.fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes all of `data` at `position`; writeSync may write less than asked on some file systems. */
export function writeFullySync(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  // Bounded: every iteration writes at least one byte or throws.
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, position + done);
    if (n <= 0) throw new Error(`short write: wrote ${done} of ${data.length} bytes at ${position}`);
    done += n;
  }
}

/** Reads exactly `length` bytes at `position`, or fewer only at end of file. */
export function readFullySync(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}
