import { corruptMessage } from './corrupt.js';
import {
  VARINT_BYTES_MAX,
  VARLONG_BYTES_MAX,
  int64HalvesToBigInt,
  int64HalvesToNumber,
  unzigzag32,
  unzigzag64,
} from './varint.js';
import type { Int64Halves } from './varint.js';

/**
 * A bounds-checked cursor over [position, end) of a buffer. Every read that would cross `end`
 * throws CORRUPT_MESSAGE instead of reading a neighbouring batch's bytes or returning undefined:
 * the input is untrusted (a client's produce request, a torn segment file).
 *
 * Varint overflow follows Kafka's ByteUtils: a varint may take at most 5 bytes and a varlong 10;
 * a longer one is corrupt, and bits beyond 32/64 in the last byte are dropped as Kafka drops them,
 * so Runnel never rejects a batch that Kafka itself would read.
 */
export class ByteReader {
  position: number;
  private readonly halves: Int64Halves = { lo: 0, hi: 0 };

  constructor(
    readonly buf: Buffer,
    position = 0,
    readonly end = buf.length,
  ) {
    if (position < 0 || end > buf.length || position > end) {
      throw new RangeError(`reader window [${position}, ${end}) is outside a buffer of ${buf.length} bytes`);
    }
    this.position = position;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  private need(bytes: number, what: string): void {
    if (this.end - this.position < bytes) {
      throw corruptMessage(`${what} needs ${bytes} bytes at position ${this.position}, only ${this.end - this.position} remain`, {
        position: this.position,
      });
    }
  }

  private nextByte(what: string): number {
    if (this.position >= this.end) throw corruptMessage(`${what} runs past the end at position ${this.position}`, { position: this.position });
    return this.buf[this.position++] as number;
  }

  readInt8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.position++);
  }

  readVarint(): number {
    const first = this.nextByte('varint');
    if (first < 0x80) return unzigzag32(first);
    let z = first & 0x7f;
    for (let i = 1; i < VARINT_BYTES_MAX; i++) {
      const b = this.nextByte('varint');
      z |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return unzigzag32(z >>> 0);
    }
    throw corruptMessage(`varint longer than ${VARINT_BYTES_MAX} bytes ending at position ${this.position}`, { position: this.position });
  }

  private readVarlongHalves(): Int64Halves {
    let zlo = 0;
    let zhi = 0;
    for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
      const b = this.nextByte('varlong');
      const bits = b & 0x7f;
      const shift = 7 * i;
      if (shift < 28) {
        zlo |= bits << shift;
      } else if (shift === 28) {
        // The fifth group straddles the halves: 4 bits to the low word, 3 to the high word.
        zlo |= bits << 28;
        zhi |= bits >>> 4;
      } else {
        zhi |= bits << (shift - 32);
      }
      if (b < 0x80) {
        unzigzag64(zlo >>> 0, zhi >>> 0, this.halves);
        return this.halves;
      }
    }
    throw corruptMessage(`varlong longer than ${VARLONG_BYTES_MAX} bytes ending at position ${this.position}`, { position: this.position });
  }

  /** A varlong as a number; CORRUPT_MESSAGE when it is outside the safe-integer range (see varint.ts). */
  readVarlong(): number {
    const first = this.buf[this.position];
    if (first !== undefined && first < 0x80 && this.position < this.end) {
      this.position++;
      return unzigzag32(first);
    }
    const start = this.position;
    const { lo, hi } = this.readVarlongHalves();
    const value = int64HalvesToNumber(lo, hi);
    if (value === null) {
      throw corruptMessage(`varlong at position ${start} is outside the safe integer range`, { position: start });
    }
    return value;
  }

  readVarlongBigInt(): bigint {
    const { lo, hi } = this.readVarlongHalves();
    return int64HalvesToBigInt(lo, hi);
  }

  /** A view of the next `length` bytes (no copy: it aliases the underlying buffer). */
  readBytes(length: number): Buffer {
    this.need(length, 'byte field');
    const view = this.buf.subarray(this.position, this.position + length);
    this.position += length;
    return view;
  }

  readUtf8(length: number): string {
    this.need(length, 'string field');
    const text = this.buf.toString('utf8', this.position, this.position + length);
    this.position += length;
    return text;
  }
}

/** Decodes one varint from the start of `bytes` (tests, one-off use). Throws CORRUPT_MESSAGE when malformed. */
export function decodeVarint(bytes: Uint8Array): { value: number; sizeBytes: number } {
  const reader = new ByteReader(toBuffer(bytes));
  const value = reader.readVarint();
  return { value, sizeBytes: reader.position };
}

export function decodeVarlong(bytes: Uint8Array): { value: number; sizeBytes: number } {
  const reader = new ByteReader(toBuffer(bytes));
  const value = reader.readVarlong();
  return { value, sizeBytes: reader.position };
}

export function decodeVarlongBigInt(bytes: Uint8Array): { value: bigint; sizeBytes: number } {
  const reader = new ByteReader(toBuffer(bytes));
  const value = reader.readVarlongBigInt();
  return { value, sizeBytes: reader.position };
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
