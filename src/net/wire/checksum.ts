/**
 * The Internet checksum (RFC 1071), computed in software for ports without checksum offload.
 * The exported functions check their arguments; the hot paths call the unchecked forms
 * (`sumViewRaw`, `copyAndSumRaw`, `foldChecksum`) after checking the ranges themselves.
 *
 * @module
 */
import { badArgument, isBytes, isIntIn } from "../args.ts";
import { dataView, WireError } from "./error.ts";

function invalid(where: string, name: string, value: unknown, allowed: string): WireError {
  return new WireError("InvalidArgument", badArgument(where, name, value, allowed));
}

/** Throws unless `[start, end)` is a range of whole numbers within `[0, size]`. */
function checkRange(where: string, start: unknown, end: unknown, size: number): void {
  if (!isIntIn(start, 0, size)) throw invalid(where, "start", start, `a whole number 0–${size}`);
  if (!isIntIn(end, 0, size)) throw invalid(where, "end", end, `a whole number 0–${size}`);
}

function checkSum(where: string, sum: unknown): void {
  if (!isIntIn(sum, 0, Number.MAX_SAFE_INTEGER)) {
    throw invalid(where, "sum", sum, "a whole number ≥ 0 (a running sum)");
  }
}

/**
 * Adds `bytes[start .. end)` as big-endian 16-bit words to a running 32-bit sum (an odd last byte
 * is padded with zero). Fold and complement the result with {@linkcode finishChecksum}.
 * @throws {WireError} `InvalidArgument` for a range outside `bytes` or a bad sum.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number, sum: number = 0): number {
  if (!isBytes(bytes)) throw invalid("sumWords", "bytes", bytes, "a Uint8Array (not detached)");
  checkRange("sumWords", start, end, bytes.length);
  checkSum("sumWords", sum);
  sum = foldOnce(sum);
  return start >= end ? foldOnce(sum) : sumViewRaw(dataView(bytes), start, end, sum);
}

/** Folds a running sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  checkSum("finishChecksum", sum);
  return foldChecksum(foldOnce(sum));
}

/** {@linkcode finishChecksum} without the argument check (`sum` < 2³²). @internal */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function foldOnce(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The Internet checksum of `bytes[start .. end)`. A buffer that contains its own correct checksum gives 0.
 * @throws {WireError} `InvalidArgument` for a range outside `bytes`.
 */
export function internetChecksum(bytes: Uint8Array, start: number = 0, end: number = bytes?.length): number {
  return foldChecksum(sumWords(bytes, start, end));
}

/**
 * {@linkcode sumWords} over a `DataView`, four bytes per load: the form the hot paths use, with a
 * view they keep of their packet memory. Same result as `sumWords` on the same bytes.
 * @throws {WireError} `InvalidArgument` for a range outside `v` or a bad sum.
 */
export function sumView(v: DataView, start: number, end: number, sum: number = 0): number {
  if (!(v instanceof DataView)) throw invalid("sumView", "v", v, "a DataView");
  checkRange("sumView", start, end, v.byteLength);
  checkSum("sumView", sum);
  return sumViewRaw(v, start, end, foldOnce(sum));
}

/**
 * A summer of `v[start .. start + length)` in native code (returns the running sum, folded or
 * not, below 2³¹), or null. wire/ stays free of FFI: the interface installs one (`copySum`'s C).
 */
let nativeSum: ((v: DataView, start: number, length: number) => number) | null = null;

/**
 * From this many bytes a sum goes to the native summer. Measured (2026-12-02, with the C
 * copy-and-sum into a scratch the interface installed then; its sum in place, installed now, is
 * cheaper still): 1460 bytes ≈ 420 ns in the loop below and ≈ 75 in C, call included; 128 bytes ≈ 49
 * against ≈ 40, 96 about even; a header's 20–60 stay in JS (no call).
 */
const NATIVE_SUM_FROM = 128;

/**
 * Installs (or, with null, removes) the native summer {@linkcode sumViewRaw} uses for long ranges.
 * @internal
 */
export function setNativeSum(f: ((v: DataView, start: number, length: number) => number) | null): void {
  nativeSum = f;
}

/** {@linkcode sumView} without the argument checks (`sum` < 2³¹). @internal */
export function sumViewRaw(v: DataView, start: number, end: number, sum: number): number {
  if (end - start >= NATIVE_SUM_FROM && nativeSum !== null) {
    sum += nativeSum(v, start, end - start);
    sum = (sum & 0xffff) + (sum >>> 16);
    return (sum & 0xffff) + (sum >>> 16);
  }
  // Little-endian loads (no byte swap per load) and one swap of the folded sum at the end: the
  // one's-complement sum commutes with swapping the bytes of every word.
  let le = 0;
  let i = start;
  // Eight bytes per iteration (half the loop's compares and branches), then the last word.
  for (; i + 7 < end; i += 8) {
    const w = v.getUint32(i, true);
    const x = v.getUint32(i + 4, true);
    le += (w >>> 16) + (w & 0xffff) + (x >>> 16) + (x & 0xffff);
  }
  if (i + 3 < end) {
    const w = v.getUint32(i, true);
    le += (w >>> 16) + (w & 0xffff);
    i += 4;
  }
  if (i + 1 < end) {
    le += v.getUint16(i, true);
    i += 2;
  }
  if (i < end) le += v.getUint8(i);
  sum += swapFolded(le);
  return (sum & 0xffff) + (sum >>> 16);
}

/** `s` folded to 16 bits with its two bytes swapped (a little-endian word sum made big-endian). */
function swapFolded(s: number): number {
  // Past 2^32 (≥ 128 KiB summed in one call) the bit operators would drop the high bits.
  if (s > 0xffffffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ((s & 0xff) << 8) | (s >>> 8);
}

/**
 * Copies `length` bytes from `src[from ..]` to `dst[to ..]` and returns their sum as
 * {@linkcode sumWords} would compute it over the source (words counted from `from`): one pass
 * where a copy and a checksum would take two. Four bytes per load.
 * @throws {WireError} `InvalidArgument` for a range outside either view.
 */
export function copyAndSum(dst: DataView, to: number, src: DataView, from: number, length: number): number {
  if (!(dst instanceof DataView)) throw invalid("copyAndSum", "dst", dst, "a DataView");
  if (!(src instanceof DataView)) throw invalid("copyAndSum", "src", src, "a DataView");
  if (!isIntIn(length, 0, Math.min(dst.byteLength, src.byteLength))) {
    throw invalid(
      "copyAndSum",
      "length",
      length,
      `a whole number 0–${Math.min(dst.byteLength, src.byteLength)}`,
    );
  }
  if (!isIntIn(to, 0, dst.byteLength - length)) {
    throw invalid("copyAndSum", "to", to, `a whole number 0–${dst.byteLength - length}`);
  }
  if (!isIntIn(from, 0, src.byteLength - length)) {
    throw invalid("copyAndSum", "from", from, `a whole number 0–${src.byteLength - length}`);
  }
  return copyAndSumRaw(dst, to, src, from, length);
}

/** {@linkcode copyAndSum} without the argument checks (the caller checked both ranges). @internal */
export function copyAndSumRaw(
  dst: DataView,
  to: number,
  src: DataView,
  from: number,
  length: number,
): number {
  // Little-endian loads and stores, one swap at the end (as sumViewRaw).
  let sum = 0;
  let i = 0;
  // Eight bytes per iteration (half the loop's compares and branches), then the last word.
  for (; i + 7 < length; i += 8) {
    const w = src.getUint32(from + i, true);
    const x = src.getUint32(from + i + 4, true);
    dst.setUint32(to + i, w, true);
    dst.setUint32(to + i + 4, x, true);
    sum += (w >>> 16) + (w & 0xffff) + (x >>> 16) + (x & 0xffff);
  }
  if (i + 3 < length) {
    const w = src.getUint32(from + i, true);
    dst.setUint32(to + i, w, true);
    sum += (w >>> 16) + (w & 0xffff);
    i += 4;
  }
  if (i + 1 < length) {
    const w = src.getUint16(from + i, true);
    dst.setUint16(to + i, w, true);
    sum += w;
    i += 2;
  }
  if (i < length) {
    const w = src.getUint8(from + i);
    dst.setUint8(to + i, w);
    sum += w;
  }
  return swapFolded(sum);
}

/**
 * A `DataView` of exactly the bytes of `b`.
 * @throws {WireError} `InvalidArgument` when `b` is not a Uint8Array.
 */
export function viewOf(b: Uint8Array): DataView {
  if (!isBytes(b)) throw invalid("viewOf", "b", b, "a Uint8Array (not detached)");
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
