/**
 * Copying payloads while summing them (the Internet checksum's words), between the few buffers the
 * stack sees: a pool's memory, a socket's storage, the caller's arrays. Shared by the interface and
 * the sockets.
 *
 * @module
 */
import { viewOf } from "./wire/mod.ts";
import { copyAndSumRaw } from "./wire/checksum.ts";
import { dpdk, type Symbols } from "../ffi.ts";
import { addressOfBuffer } from "../pool_memory.ts";
import { InterfaceError } from "./error.ts";

/**
 * Payloads from this size up are copied and summed in C (`rte_memcpy` and `rte_raw_cksum`, one
 * FFI call with two addresses); smaller ones in a JS loop of 32-bit loads, which V8 inlines into
 * the receive and send paths. Measured: 1472 bytes cost ≈ 58 ns in C and ≈ 450 in JS; at 32 bytes
 * the JS loop wins inside the stack.
 */
const C_COPY_FROM = 64;

/**
 * Copies `len` bytes from `src[from ..]` to `dst[to ..]` and returns their word sum (see
 * `copyAndSum`). The caller has checked both ranges against the views.
 */
export function copySum(dst: DataView, to: number, src: DataView, from: number, len: number): number {
  return len < C_COPY_FROM ? copyAndSumRaw(dst, to, src, from, len) : copySumLarge(dst, to, src, from, len);
}

let ffiCopyCksum: Symbols["mdp_copy_cksum"] | null = null;
// The addresses of the last eight buffers copied from or to, by identity: looked up once per
// buffer, not per datagram. Holding the buffers keeps those addresses valid.
const addrBuffers: ArrayBufferLike[] = [];
const addrValues: number[] = [];

function addressOf(v: DataView): number {
  const buffer = v.buffer;
  for (let k = 0; k < addrBuffers.length; k++) {
    if (addrBuffers[k] === buffer) return addrValues[k] + v.byteOffset;
  }
  const a = addressOfBuffer(buffer);
  if (a < 0) return -1; // resizable: it may move, never cache it
  if (addrBuffers.length === 8) {
    addrBuffers.shift();
    addrValues.shift();
  }
  addrBuffers.push(buffer);
  addrValues.push(a);
  return a + v.byteOffset;
}

function copySumLarge(dst: DataView, to: number, src: DataView, from: number, len: number): number {
  // A detached buffer's memory is gone: never hand its old address to C.
  if (
    (dst.buffer as ArrayBuffer).detached || (src.buffer as ArrayBuffer).detached ||
    !(to >= 0 && from >= 0 && to + len <= dst.byteLength && from + len <= src.byteLength)
  ) {
    // The callers check both ranges: reaching this is a bug in the stack, not the caller's input.
    throw new InterfaceError(
      "InvalidArgument",
      `copy of ${len} bytes from ${from} to ${to} runs past a buffer`,
    );
  }
  const d = addressOf(dst);
  const s = addressOf(src);
  if (d < 0 || s < 0) return copyAndSumRaw(dst, to, src, from, len);
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
  /** The view of {@linkcode ViewCache.bytes}. */
  view: DataView = viewOf(EMPTY);
  /** A view of `b`: the cached one when `b` is the array seen last. */
  of(b: Uint8Array): DataView {
    if (b !== this.bytes) {
      this.bytes = b;
      this.view = viewOf(b);
    }
    return this.view;
  }
}
