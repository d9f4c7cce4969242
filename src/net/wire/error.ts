/**
 * The one error type of the wire formats.
 *
 * @module
 */
import { badArgument, isIntIn } from "../args.ts";

/**
 * Why bytes were refused:
 * - `"Truncated"`: the view ends before the header (or the length a header claims) does.
 * - `"BadLength"`: a length field contradicts the header or the buffer.
 * - `"BadChecksum"`: a checksum does not verify.
 * - `"BadVersion"`: not IPv4.
 * - `"Unsupported"`: a well-formed packet of a kind this stack does not handle.
 * - `"BadField"`: a field value the format does not allow (or an emit argument out of range).
 * - `"InvalidArgument"`: a call's argument of the wrong type or outside its range (not a
 *   Uint8Array, an offset that is not a whole number, a header object of the wrong class); the
 *   message names it, shows the value and says what is allowed.
 */
export type WireErrorKind =
  | "Truncated"
  | "BadLength"
  | "BadChecksum"
  | "BadVersion"
  | "Unsupported"
  | "BadField"
  | "InvalidArgument";

/** A packet that cannot be parsed or emitted; `kind` says why. Parsers throw nothing else. */
export class WireError extends Error {
  /** Why. */
  readonly kind: WireErrorKind;
  /** Creates an error. */
  constructor(kind: WireErrorKind, message: string) {
    super(message);
    this.name = "WireError";
    this.kind = kind;
  }
}

/**
 * Throws `Truncated` unless `[off, off + need)` lies within `[0, end)` of `b`, and
 * `InvalidArgument` when `b` is not a Uint8Array or `off`/`end` are not whole numbers ≥ 0.
 */
export function need(b: Uint8Array, off: number, end: number, need: number, what: string): void {
  // typeof before any arithmetic: a BigInt would throw TypeError there.
  if (
    !(b instanceof Uint8Array) || typeof off !== "number" || typeof end !== "number" ||
    (off >>> 0) !== off || (end >>> 0) !== end
  ) {
    throw new WireError("InvalidArgument", invalidView(what, b, off, end));
  }
  if (!(off >= 0 && end <= b.length && off + need <= end)) {
    throw new WireError(
      "Truncated",
      `${what}: needs ${need} bytes at ${off}, the view ends at ${Math.min(end, b.length)}`,
    );
  }
}

function invalidView(what: string, b: unknown, off: unknown, end: unknown): string {
  if (!(b instanceof Uint8Array)) return badArgument(what, "bytes", b, "a Uint8Array");
  if (typeof off !== "number" || (off >>> 0) !== off) {
    return badArgument(what, "offset", off, "a whole number ≥ 0");
  }
  return badArgument(what, "end", end, "a whole number ≥ 0");
}

/** Throws `InvalidArgument` unless `out` is an instance of `cls` (a header object to fill or emit). */
export function needHeader(what: string, out: unknown, cls: abstract new () => unknown): void {
  if (!(out instanceof cls)) {
    throw new WireError("InvalidArgument", badArgument(what, "header", out, `a ${cls.name}`));
  }
}

/** Throws `BadField` unless `v` is a whole number in `[lo, hi]` (a field about to be emitted). */
export function needField(what: string, name: string, v: unknown, lo: number, hi: number): void {
  if (!isIntIn(v, lo, hi)) {
    throw new WireError("BadField", badArgument(what, name, v, `a whole number ${lo}–${hi}`));
  }
}

/** Reads a big-endian u16. */
export function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Reads a big-endian u32 (as an unsigned number). */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes a big-endian u16. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes a big-endian u32. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

let viewBytes: Uint8Array = new Uint8Array(0);
let viewCached: DataView = new DataView(viewBytes.buffer);

/**
 * A `DataView` of exactly the bytes of `b`, for reading and writing fields four bytes at a time.
 * The last one is kept: packets come from a few large arrays (a pool's memory), so a view is
 * made once per array, not per packet.
 */
export function dataView(b: Uint8Array): DataView {
  if (b !== viewBytes) {
    viewCached = new DataView(b.buffer, b.byteOffset, b.byteLength);
    viewBytes = b;
  }
  return viewCached;
}
