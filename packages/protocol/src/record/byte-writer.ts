import {
  sizeOfVarint,
  sizeOfVarlong,
  sizeOfVarlongBigInt,
  writeVarintAt,
  writeVarlongAt,
  writeVarlongBigIntAt,
} from './varint.js';

/** Node's Buffer limit on 64-bit platforms is larger, but a batch's length is an int32. */
export const WRITER_CAPACITY_BYTES_MAX = 0x7fffffff;

/**
 * A growable big-endian writer. Callers that can compute the exact size up front (the batch
 * encoder does) pass it as the initial capacity, so the buffer is allocated once and never copied;
 * growth (doubling) is the fallback for callers that cannot.
 */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(
    initialCapacityBytes = 256,
    private readonly capacityBytesMax = WRITER_CAPACITY_BYTES_MAX,
  ) {
    if (!Number.isInteger(initialCapacityBytes) || initialCapacityBytes < 0 || initialCapacityBytes > capacityBytesMax) {
      throw new RangeError(`initial capacity ${initialCapacityBytes} is outside [0, ${capacityBytesMax}]`);
    }
    this.buf = Buffer.allocUnsafe(initialCapacityBytes);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buf.length) return;
    if (needed > this.capacityBytesMax) {
      throw new RangeError(`writer would grow to ${needed} bytes, above its ${this.capacityBytesMax}-byte limit`);
    }
    const grown = Buffer.allocUnsafe(Math.min(this.capacityBytesMax, Math.max(needed, this.buf.length * 2, 64)));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  writeInt8(value: number): this {
    this.ensure(1);
    this.pos = this.buf.writeInt8(value, this.pos);
    return this;
  }

  writeInt16(value: number): this {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(value, this.pos);
    return this;
  }

  writeInt32(value: number): this {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(value, this.pos);
    return this;
  }

  writeUInt32(value: number): this {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(value, this.pos);
    return this;
  }

  /** A safe integer as a big-endian int64, without going through bigint. */
  writeInt64(value: number): this {
    this.ensure(8);
    this.pos = writeInt64At(this.buf, this.pos, value);
    return this;
  }

  writeVarint(value: number): this {
    this.ensure(sizeOfVarint(value));
    this.pos = writeVarintAt(this.buf, this.pos, value);
    return this;
  }

  writeVarlong(value: number): this {
    this.ensure(sizeOfVarlong(value));
    this.pos = writeVarlongAt(this.buf, this.pos, value);
    return this;
  }

  writeVarlongBigInt(value: bigint): this {
    this.ensure(sizeOfVarlongBigInt(value));
    this.pos = writeVarlongBigIntAt(this.buf, this.pos, value);
    return this;
  }

  writeBytes(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Writes `text` as UTF-8; `byteLength` must be Buffer.byteLength(text) (the caller has it from sizing). */
  writeUtf8(text: string, byteLength: number): this {
    this.ensure(byteLength);
    const written = this.buf.write(text, this.pos, byteLength, 'utf8');
    if (written !== byteLength) throw new RangeError(`UTF-8 length mismatch: wrote ${written} bytes, sized ${byteLength}`);
    this.pos += written;
    return this;
  }

  /** Skips `bytes` bytes (left unspecified) to be filled later through `buffer`, e.g. a header. */
  reserve(bytes: number): number {
    this.ensure(bytes);
    const at = this.pos;
    this.pos += bytes;
    return at;
  }

  /** The bytes written so far. A view, not a copy: do not keep writing after taking it. */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** The underlying buffer, for patching reserved fields in place. Valid until the next write. */
  get buffer(): Buffer {
    return this.buf;
  }
}

const TWO_POW_32 = 4294967296;

/** Writes a safe integer as a big-endian two's complement int64; returns the position after it. */
export function writeInt64At(buf: Buffer, position: number, value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 field must be a safe integer, got ${value}`);
  buf.writeInt32BE(Math.floor(value / TWO_POW_32) | 0, position);
  buf.writeUInt32BE(value >>> 0, position + 4);
  return position + 8;
}

/** Reads a big-endian int64 as a number, or null when it is not a safe integer. */
export function readInt64At(buf: Buffer, position: number): number | null {
  const value = buf.readInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
  return Number.isSafeInteger(value) ? value : null;
}
