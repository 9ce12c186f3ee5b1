// Kafka's variable-length integers (org.apache.kafka.common.utils.ByteUtils), which are
// protobuf's sint32/sint64: zigzag maps signed to unsigned so small magnitudes of either sign are
// short (0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3 ...), then 7 bits per byte, least significant group
// first, high bit set on every byte but the last. varint carries an int32 in at most 5 bytes,
// varlong an int64 in at most 10.
//
// Numbers vs bigint: every varlong Runnel writes is a timestamp delta, and millisecond timestamps
// fit in 2^53 for the next 285,000 years, so the number API covers any safe integer
// (|v| <= 2^53 - 1) without allocating. The 64-bit work is done on two 32-bit halves, never on a
// float holding more than 53 bits. The bigint API covers the full int64 range for the rare caller
// that needs it. Reading a varlong into a number throws CORRUPT_MESSAGE when the value is not a
// safe integer rather than returning a rounded value.

const TWO_POW_32 = 4294967296;

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
}

function assertInt32(value: number): void {
  if (!isInt32(value)) throw new RangeError(`varint value must be an int32, got ${value}`);
}

function assertSafeInteger(value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`varlong value must be a safe integer, got ${value}`);
}

function assertInt64(value: bigint): void {
  if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`varlong value must be an int64, got ${value}`);
}

/** Bytes the unsigned 32-bit `u` takes as a varint (1..5). */
function sizeOfUnsigned32(u: number): number {
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Bytes the unsigned 64-bit value (zhi * 2^32 + zlo) takes as a varint (1..10). */
function sizeOfUnsigned64(zlo: number, zhi: number): number {
  if (zhi === 0) return sizeOfUnsigned32(zlo);
  const bits = 64 - Math.clz32(zhi);
  return Math.ceil(bits / 7);
}

function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

export function sizeOfVarint(value: number): number {
  assertInt32(value);
  return sizeOfUnsigned32(zigzag32(value));
}

// Scratch halves of the zigzagged 64-bit value; module-level so the hot path allocates nothing.
// Safe because every use is synchronous and completes before the next call.
let scratchLo = 0;
let scratchHi = 0;

/** Zigzags the int64 whose two's complement halves are (hi: int32, lo: uint32) into scratchLo/scratchHi. */
function zigzag64(lo: number, hi: number): void {
  const sign = hi >> 31;
  scratchLo = ((lo << 1) ^ sign) >>> 0;
  scratchHi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
}

function zigzag64FromNumber(value: number): void {
  // ToUint32 is arithmetic modulo 2^32 and the division by 2^32 is exact, so both halves are exact
  // for every safe integer, negative ones included.
  zigzag64(value >>> 0, Math.floor(value / TWO_POW_32) | 0);
}

function zigzag64FromBigInt(value: bigint): void {
  zigzag64(Number(BigInt.asUintN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
}

/** True when `value` is small enough that the int32 varint path produces the same bytes as varlong. */
function fitsZigzag32(value: number): boolean {
  return value >= -0x40000000 && value < 0x40000000;
}

export function sizeOfVarlong(value: number): number {
  assertSafeInteger(value);
  if (fitsZigzag32(value)) return sizeOfUnsigned32(zigzag32(value));
  zigzag64FromNumber(value);
  return sizeOfUnsigned64(scratchLo, scratchHi);
}

export function sizeOfVarlongBigInt(value: bigint): number {
  assertInt64(value);
  zigzag64FromBigInt(value);
  return sizeOfUnsigned64(scratchLo, scratchHi);
}

function writeUnsigned32(buf: Uint8Array, position: number, u: number): number {
  let pos = position;
  let rest = u;
  while (rest > 0x7f) {
    buf[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buf[pos++] = rest;
  return pos;
}

function writeUnsigned64(buf: Uint8Array, position: number, lo: number, hi: number): number {
  let pos = position;
  let zlo = lo;
  let zhi = hi;
  while (zhi !== 0 || zlo > 0x7f) {
    buf[pos++] = (zlo & 0x7f) | 0x80;
    zlo = ((zlo >>> 7) | (zhi << 25)) >>> 0;
    zhi >>>= 7;
  }
  buf[pos++] = zlo;
  return pos;
}

/**
 * Writes `value` (an int32) as a zigzag varint at `position` and returns the position after it.
 * The caller guarantees room for sizeOfVarint(value) bytes (ByteWriter does).
 */
export function writeVarintAt(buf: Uint8Array, position: number, value: number): number {
  assertInt32(value);
  return writeUnsigned32(buf, position, zigzag32(value));
}

/** Writes a safe-integer `value` as a zigzag varlong at `position`; returns the position after it. */
export function writeVarlongAt(buf: Uint8Array, position: number, value: number): number {
  assertSafeInteger(value);
  if (fitsZigzag32(value)) return writeUnsigned32(buf, position, zigzag32(value));
  zigzag64FromNumber(value);
  return writeUnsigned64(buf, position, scratchLo, scratchHi);
}

/** Writes any int64 `value` as a zigzag varlong at `position`; returns the position after it. */
export function writeVarlongBigIntAt(buf: Uint8Array, position: number, value: bigint): number {
  assertInt64(value);
  zigzag64FromBigInt(value);
  return writeUnsigned64(buf, position, scratchLo, scratchHi);
}

/** Encodes one varint into a fresh array (tests, one-off use; hot paths use ByteWriter). */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(sizeOfVarint(value));
  writeVarintAt(out, 0, value);
  return out;
}

export function encodeVarlong(value: number | bigint): Uint8Array {
  if (typeof value === 'bigint') {
    const out = new Uint8Array(sizeOfVarlongBigInt(value));
    writeVarlongBigIntAt(out, 0, value);
    return out;
  }
  const out = new Uint8Array(sizeOfVarlong(value));
  writeVarlongAt(out, 0, value);
  return out;
}

/** Halves of a decoded (already un-zigzagged) int64: hi is an int32, lo a uint32. */
export interface Int64Halves {
  lo: number;
  hi: number;
}

/** The number (hi * 2^32 + lo), or null when it is not a safe integer. Exact whenever it is safe. */
export function int64HalvesToNumber(lo: number, hi: number): number | null {
  const value = hi * TWO_POW_32 + lo;
  return Number.isSafeInteger(value) ? value : null;
}

export function int64HalvesToBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

/**
 * Un-zigzags the unsigned 64-bit (zhi, zlo) into signed halves. Exported for ByteReader, which
 * accumulates the raw groups itself so it can bounds-check each byte.
 */
export function unzigzag64(zlo: number, zhi: number, out: Int64Halves): void {
  const mask = -(zlo & 1);
  out.lo = (((zlo >>> 1) | (zhi << 31)) ^ mask) >>> 0;
  out.hi = ((zhi >>> 1) ^ mask) | 0;
}

export function unzigzag32(z: number): number {
  return (z >>> 1) ^ -(z & 1);
}
