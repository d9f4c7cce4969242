/**
 * Copying payloads, while summing them (the Internet checksum's words) or not, between the few
 * buffers the stack sees: a pool's memory, a socket's storage, the caller's arrays. Shared by the
 * interface and the sockets.
 *
 * @module
 */
import { viewOf } from "./wire/mod.ts";
import { copyAndSumRaw } from "./wire/checksum.ts";
import { dpdk, type Symbols } from "../ffi.ts";
import { addressOfBuffer } from "../pool_memory.ts";
import { InterfaceError } from "./error.ts";

/**
 * Payloads from this size up are copied and summed in C (`mdp_copy_cksum`: one pass, one FFI call
 * with two addresses); smaller ones in a JS loop of 32-bit loads, which V8 inlines into the
 * receive and send paths. Measured (2026-12-02): 1448 bytes cost ≈ 60–70 ns through C, call
 * included, and ≈ 450 in JS; 64 bytes ≈ 30–35 either way; 16 bytes 11 in JS against 18.
 */
const C_COPY_FROM = 64;

/**
 * Copies `len` bytes from `src[from ..]` to `dst[to ..]` and returns their word sum (see
 * `copyAndSum`). The caller has checked both ranges against the views.
 */
export function copySum(dst: DataView, to: number, src: DataView, from: number, len: number): number {
  return len < C_COPY_FROM ? copyAndSumRaw(dst, to, src, from, len) : copySumLarge(dst, to, src, from, len);
}

/**
 * The sum `copySum` would return for `v[start .. start + length)`, without a copy, in C: the
 * native summer for `setNativeSum` (long checksums verified as a segment is parsed).
 */
export function sumNative(v: DataView, start: number, length: number): number {
  const a = checkedAddress(v, start, length, v, start);
  if (a < 0) return copyAndSumRaw(SUM_SCRATCH, 0, v, start, length);
  ffiSum ??= dpdk().mdp_cksum;
  return ffiSum(a + start, length);
}

/**
 * Copies `len` bytes from `src[from ..]` to `dst[to ..]` in C (`memmove`: the ranges may
 * overlap), for copies whose sum nobody needs; no object is made. The caller has checked both
 * ranges against the views.
 */
export function copyNative(dst: DataView, to: number, src: DataView, from: number, len: number): void {
  const d = checkedAddress(dst, to, len, src, from);
  const s = d < 0 ? -1 : addressOf(src);
  if (s < 0) {
    new Uint8Array(dst.buffer, dst.byteOffset + to, len).set(
      new Uint8Array(src.buffer, src.byteOffset + from, len),
    );
    return;
  }
  ffiCopy ??= dpdk().mdp_copy;
  ffiCopy(d + to, s + from, len);
}

let ffiCopyCksum: Symbols["mdp_copy_cksum"] | null = null;
let ffiSum: Symbols["mdp_cksum"] | null = null;
let ffiCopy: Symbols["mdp_copy"] | null = null;
/** Where `sumNative` copies when a view has no fixed address (a resizable buffer's). */
const SUM_SCRATCH = new DataView(new ArrayBuffer(65536));

// The addresses of the last sixteen views copied from or to (their buffer's address plus their
// offset), by identity: looked up once per view, not per datagram (the stack keeps its views).
// Holding the views keeps those addresses valid until a buffer is detached, which the range check
// before every use catches (a detached buffer's view throws on `byteLength`). Sixteen: a bulk
// transfer between two interfaces over a loopback pair already uses nine views (each interface's
// views of the frames, each socket's ring, the caller's arrays), and eight missed on every segment.
const VIEWS = 16;
const addrViews: (DataView | null)[] = new Array(VIEWS).fill(null);
const addrValues: number[] = new Array(VIEWS).fill(0);
let addrNext = 0;
// Every buffer's address once known (a fixed-length buffer never moves): a view past the table's
// sixteen (many connections, each with its rings) costs a lookup here, not an FFI call.
const bufferAddresses = new WeakMap<ArrayBufferLike, number>();

/** The address of `v`'s first byte, or -1 when its buffer may move (resizable). */
function addressOf(v: DataView): number {
  for (let k = 0; k < VIEWS; k++) {
    if (addrViews[k] === v) return addrValues[k];
  }
  return addressOfNew(v);
}

/** `addressOf` for a view not in the table: its buffer's address, from C once per buffer. */
function addressOfNew(v: DataView): number {
  const buffer = v.buffer;
  let a = bufferAddresses.get(buffer) ?? -1;
  if (a < 0) {
    a = addressOfBuffer(buffer);
    if (a < 0) return -1; // resizable: it may move, never cache it
    bufferAddresses.set(buffer, a);
  }
  addrViews[addrNext] = v;
  addrValues[addrNext] = a + v.byteOffset;
  addrNext = (addrNext + 1) % VIEWS;
  return a + v.byteOffset;
}

/**
 * Checks `[to, to + len)` of `dst` and `[from, from + len)` of `src` and returns `dst`'s address
 * (-1: copy in JS). A detached buffer's memory is gone: its view throws on `byteLength`, and its
 * old address never reaches C.
 */
function checkedAddress(dst: DataView, to: number, len: number, src: DataView, from: number): number {
  let inside: boolean;
  try {
    inside = to >= 0 && from >= 0 && len >= 0 && to + len <= dst.byteLength && from + len <= src.byteLength;
  } catch {
    inside = false; // detached
  }
  if (!inside) {
    // The callers check both ranges: reaching this is a bug in the stack, not the caller's input.
    throw new InterfaceError(
      "InvalidArgument",
      `copy of ${len} bytes from ${from} to ${to} runs past a buffer (or into a detached one)`,
    );
  }
  return addressOf(dst);
}

function copySumLarge(dst: DataView, to: number, src: DataView, from: number, len: number): number {
  const d = checkedAddress(dst, to, len, src, from);
  const s = d < 0 ? -1 : addressOf(src);
  if (s < 0) return copyAndSumRaw(dst, to, src, from, len);
  ffiCopyCksum ??= dpdk().mdp_copy_cksum;
  return ffiCopyCksum(d + to, s + from, len);
}

const EMPTY = new Uint8Array(0);

/**
 * Caches a `DataView` per byte array: the stack sees the same few arrays (a pool's memory, a
 * socket's ring, the caller's buffer) over and over, so views are made once, not per datagram.
 */
export class ViewCache {
  /** The array the cached view is of. */
  bytes: Uint8Array = EMPTY;
  /** Its length when the view was made. */
  length = 0;
  /** The view of {@linkcode ViewCache.bytes}. */
  view: DataView = viewOf(EMPTY);
  /**
   * A view of `b`: the cached one when `b` is the array seen last, at the same length. (An array
   * over a resizable buffer changes length as the buffer does; a view made before covers the old
   * range, past the end after a shrink.)
   */
  of(b: Uint8Array): DataView {
    if (b !== this.bytes || b.length !== this.length) {
      this.bytes = b;
      this.length = b.length;
      this.view = viewOf(b);
    }
    return this.view;
  }
}
