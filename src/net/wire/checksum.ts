/**
 * The Internet checksum (RFC 1071), computed in software for ports without checksum offload.
 *
 * @module
 */
import { dataView } from "./error.ts";

/**
 * Adds `bytes[start .. end)` as big-endian 16-bit words to a running 32-bit sum (an odd last byte
 * is padded with zero). Fold and complement the result with {@linkcode finishChecksum}.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  if (!(start >= 0 && end <= bytes.length)) {
    throw new RangeError(`sumWords: [${start}, ${end}) is outside the ${bytes.length} bytes`);
  }
  return start >= end ? (sum & 0xffff) + (sum >>> 16) : sumView(dataView(bytes), start, end, sum);
}

/** Folds a running sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The Internet checksum of `bytes[start .. end)`. A buffer that contains its own correct checksum gives 0. */
export function internetChecksum(bytes: Uint8Array, start: number = 0, end: number = bytes.length): number {
  return finishChecksum(sumWords(bytes, start, end));
}

/**
 * {@linkcode sumWords} over a `DataView`, four bytes per load: the form the hot paths use, with a
 * view they keep of their packet memory. Same result as `sumWords` on the same bytes.
 */
export function sumView(v: DataView, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 3 < end; i += 4) {
    const w = v.getUint32(i);
    sum += (w >>> 16) + (w & 0xffff);
  }
  if (i + 1 < end) {
    sum += v.getUint16(i);
    i += 2;
  }
  if (i < end) sum += v.getUint8(i) << 8;
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * Copies `length` bytes from `src[from ..]` to `dst[to ..]` and returns their sum as
 * {@linkcode sumWords} would compute it over the source (words counted from `from`): one pass
 * where a copy and a checksum would take two. Four bytes per load; the caller checks both ranges.
 */
export function copyAndSum(dst: DataView, to: number, src: DataView, from: number, length: number): number {
  let sum = 0;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    const w = src.getUint32(from + i);
    dst.setUint32(to + i, w);
    sum += (w >>> 16) + (w & 0xffff);
  }
  if (i + 1 < length) {
    const w = src.getUint16(from + i);
    dst.setUint16(to + i, w);
    sum += w;
    i += 2;
  }
  if (i < length) {
    const w = src.getUint8(from + i);
    dst.setUint8(to + i, w);
    sum += w << 8;
  }
  return (sum & 0xffff) + (sum >>> 16);
}

/** A `DataView` of exactly the bytes of `b`. */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
