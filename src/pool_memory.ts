/**
 * Pool memory, mapped once per chunk: how mbuf and batch code reach packet bytes without copies
 * or per-packet objects.
 *
 * A pool's memory lives in a few contiguous chunks (`rte_mempool_mem_iter`). Each chunk is mapped
 * once, when the pool is created, as one `ArrayBuffer`; an mbuf's header fields and packet bytes
 * are then read and written at an offset into it, in plain JavaScript. Header field offsets come
 * from the shim (`offsetof`), not from a copy of DPDK's struct in TypeScript. When the pool is
 * freed the chunk buffers are detached, so a stale `Uint8Array` reads as empty instead of touching
 * freed memory.
 *
 * Lookups leave the chunk they found in {@linkcode hit} (a module-level binding, so that the hot
 * paths allocate no result object); readers in other modules see it live.
 *
 * @module
 */
import { dpdk, type Symbols } from "./ffi.ts";
import { MbufError } from "./mbuf_error.ts";

/** What mbuf code needs from a pool (implemented by `Mempool`; kept minimal to avoid a cycle). */
export interface MbufPool {
  /** The pool's name. */
  readonly name: string;
  /** True once the pool was freed or EAL cleaned up. */
  readonly disposed: boolean;
  /** The pool's address as a number; throws once the pool is disposed. */
  readonly address: number;
}

/**
 * One contiguous piece of a pool's memory, mapped as an ArrayBuffer. @internal
 *
 * Addresses are handled as two 32-bit words (as they sit in a `BigUint64Array` of mbuf pointers):
 * arithmetic on 47-bit addresses as JS doubles costs several times more than the memory access
 * itself, while `(lo - chunk.lo) | 0` stays in int32 registers.
 */
export interface Chunk {
  /** Low 32 bits of the start address. */
  lo: number;
  /** High bits of the start address. */
  hi: number;
  /** Offset from which addresses in the chunk have high word `hi + 1` (≥ len when none do). */
  wrap: number;
  /** Length in bytes (< 2^31); 0 once unmapped. */
  len: number;
  /** The start address as a number (for FFI). */
  base: number;
  buffer: ArrayBuffer;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
  pool: MbufPool;
}

const chunks: Chunk[] = [];
/** Matches no address; stands in for "no last chunk" so lookups need no undefined check. @internal */
export const NO_CHUNK: Chunk = {
  // -0, not 0: these fields hold doubles in real chunks (addresses above 2^31), and a chunk object
  // that starts with small integers there has its map replaced when the first real chunk is made,
  // after which V8 checks the map of every chunk loaded from a field (MbufBatch.at, once a packet).
  lo: -0,
  hi: -1,
  wrap: -0,
  len: 0,
  base: -0,
  buffer: new ArrayBuffer(0),
  u8: new Uint8Array(0),
  u16: new Uint16Array(0),
  u32: new Uint32Array(0),
  pool: { name: "", disposed: true, address: 0 },
};
let lastChunk: Chunk = NO_CHUNK;
/** The chunk of the latest successful lookup. @internal */
export let hit: Chunk = NO_CHUNK;

/** Sets {@linkcode hit} (for a caller that found the chunk itself). @internal */
export function setHit(c: Chunk): void {
  hit = c;
}

/** The shim's symbols, once {@linkcode loadLayout} ran. @internal */
export let sym: Symbols;
// Hot FFI functions of the mbuf and batch code, held directly: a property lookup on the large
// symbols object costs more than the call itself. @internal
export let ffiAlloc: Symbols["mdp_pktmbuf_alloc"];
export let ffiFree: Symbols["mdp_pktmbuf_free"];
export let ffiAppend: Symbols["mdp_pktmbuf_append"];
export let ffiBatchAlloc: Symbols["mdp_batch_alloc"];
export let ffiBatchFree: Symbols["mdp_batch_free"];
export let ffiBatchRx: Symbols["mdp_batch_rx"];
export let ffiBatchTx: Symbols["mdp_batch_tx"];
export let ffiBatchTxSized: Symbols["mdp_batch_tx_sized"];
export let ffiDescribe: Symbols["mdp_batch_describe"];
export let ffiTxRefill: Symbols["mdp_batch_tx_refill"];
export let ffiFreeRx: Symbols["mdp_batch_free_rx"];
// Byte offsets in struct rte_mbuf (filled from the shim by loadLayout).
export let O_BUF_ADDR = -1;
export let O_DATA_OFF = 0;
export let O_REFCNT = 0;
export let O_NB_SEGS = 0;
export let O_PORT = 0;
export let O_PKT_LEN = 0;
export let O_DATA_LEN = 0;
export let O_BUF_LEN = 0;
export let O_NEXT = 0;

/** Reads the mbuf layout and the hot FFI functions from the shim (once). @internal */
export function loadLayout(): void {
  if (O_BUF_ADDR >= 0) return;
  sym = dpdk();
  ffiAlloc = sym.mdp_pktmbuf_alloc;
  ffiFree = sym.mdp_pktmbuf_free;
  ffiAppend = sym.mdp_pktmbuf_append;
  ffiBatchAlloc = sym.mdp_batch_alloc;
  ffiBatchFree = sym.mdp_batch_free;
  ffiBatchRx = sym.mdp_batch_rx;
  ffiBatchTx = sym.mdp_batch_tx;
  ffiBatchTxSized = sym.mdp_batch_tx_sized;
  ffiDescribe = sym.mdp_batch_describe;
  ffiTxRefill = sym.mdp_batch_tx_refill;
  ffiFreeRx = sym.mdp_batch_free_rx;
  const l = new Int32Array(12);
  sym.mdp_mbuf_layout(l);
  [O_BUF_ADDR, O_DATA_OFF, O_REFCNT, O_NB_SEGS, O_PORT, O_PKT_LEN, O_DATA_LEN, O_BUF_LEN] = l;
  O_NEXT = l[9];
  // The reads below use u16/u32 views: every field must sit at a multiple of its size.
  for (const [o, size] of [[O_DATA_OFF, 2], [O_PKT_LEN, 4], [O_BUF_ADDR, 4], [O_NEXT, 4]]) {
    if (o % size !== 0) throw new Error(`melin-dpdk: unexpected struct rte_mbuf layout ${Array.from(l)}`);
  }
}

/** Maps the memory chunks of the pool at `ptr`. Called once when a `Mempool` object is made. @internal */
export function mapPoolMemory(pool: MbufPool, ptr: Deno.PointerObject): void {
  loadLayout();
  const cap = 64;
  const pairs = new BigUint64Array(2 * cap);
  const n = sym.mdp_mempool_chunks(ptr, pairs, cap);
  if (n > cap) throw new Error(`melin-dpdk: pool ${pool.name} has ${n} memory chunks (more than ${cap})`);
  for (let i = 0; i < n; i++) {
    const start = Number(pairs[2 * i]);
    const len = Number(pairs[2 * i + 1]);
    if (start % 8 !== 0) throw new Error(`melin-dpdk: pool ${pool.name} chunk at ${start} is not 8-aligned`);
    if (len >= 2 ** 31) {
      throw new Error(`melin-dpdk: pool ${pool.name} has a chunk of ${len} bytes (≥ 2 GiB)`);
    }
    const buffer = mapChunk(start, len);
    const [u8, u16, u32] = viewsOf(buffer, len);
    const lo = start % 4294967296;
    const chunk: Chunk = {
      lo,
      hi: Math.floor(start / 4294967296),
      wrap: 4294967296 - lo,
      len,
      base: start,
      buffer,
      u8,
      u16,
      u32,
      pool,
    };
    chunks.push(chunk);
    if (!poolChunk.has(pool)) poolChunk.set(pool, chunk);
  }
  mappedPools.add(pool);
}

/** The first memory chunk of each mapped pool: the base that burst calls describe packets against. */
export const poolChunk = new Map<MbufPool, Chunk>();
/** Every pool this isolate ever mapped (live or freed): real pools, as opposed to look-alikes. */
export const mappedPools = new WeakSet<MbufPool>();

/**
 * Maps chunk `c` again when its buffer was detached by someone else: the views of pool memory the
 * library hands out (`PacketView.bytes`, `BatchColumns.bytes`, a lent datagram's `rxBytes`) are of
 * the chunk's own buffer, and a program may transfer it away. The memory is DPDK's and did not
 * move, so a fresh mapping of it is the same bytes. A freed pool's chunks (len 0) stay unmapped.
 * Returns `c`. @internal
 */
export function mapped(c: Chunk): Chunk {
  if (c.u8.length !== c.len) remap(c);
  return c;
}

/**
 * `u8`, a view of a chunk's memory the library handed out (a received frame's bytes), as it is
 * mapped now: `u8` itself unless a program transferred its buffer away since, then the chunk's
 * fresh mapping (made here if no call made it yet). For a holder of frame bytes across calls: a
 * socket's lent datagrams. @internal
 */
export function remapped(u8: Uint8Array): Uint8Array {
  if (u8.length !== 0) return u8;
  const c = replaced.get(u8) ?? chunks.find((c) => c.u8 === u8);
  return c === undefined ? u8 : mapped(c).u8;
}
/** The chunk each replaced (detached) view belonged to. */
const replaced = new WeakMap<Uint8Array, Chunk>();

function remap(c: Chunk): void {
  replaced.set(c.u8, c);
  c.buffer = mapChunk(c.base, c.len);
  [c.u8, c.u16, c.u32] = viewsOf(c.buffer, c.len);
}

/** The `len` bytes of pool memory at address `start` as an ArrayBuffer (DPDK's memory, not copied). */
function mapChunk(start: number, len: number): ArrayBuffer {
  return Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(BigInt(start))!, len);
}

/** A chunk's byte, 16-bit and 32-bit views of its buffer. */
function viewsOf(buffer: ArrayBuffer, len: number): [Uint8Array, Uint16Array, Uint32Array] {
  return [
    new Uint8Array(buffer),
    new Uint16Array(buffer, 0, len >>> 1),
    new Uint32Array(buffer, 0, len >>> 2),
  ];
}

/** Forgets a pool's chunks and detaches their buffers, so stale views read as empty. @internal */
export function unmapPoolMemory(pool: MbufPool): void {
  poolChunk.delete(pool);
  for (let i = chunks.length - 1; i >= 0; i--) {
    const c = chunks[i];
    if (c.pool !== pool) continue;
    chunks.splice(i, 1);
    c.len = 0;
    c.buffer.transfer(0);
    if (lastChunk === c) lastChunk = NO_CHUNK;
    if (hit === c) hit = NO_CHUNK;
  }
}

/** The address of an ArrayBuffer's memory, as a number (backing stores never move). @internal */
export function ffiAddressOf(buffer: ArrayBuffer): number {
  return sym.mdp_addr_of(Deno.UnsafePointer.of(buffer));
}

/**
 * The address of `buffer`'s memory as a number, for FFI calls that take `f64` addresses, or -1
 * when it may move (a resizable or growable buffer can be reallocated). The caller keeps `buffer`
 * alive, and checks that it is not detached, for as long as it uses the address. @internal
 */
export function addressOfBuffer(buffer: ArrayBufferLike): number {
  if ((buffer as ArrayBuffer).resizable || (buffer as SharedArrayBuffer).growable) return -1;
  loadLayout();
  return sym.mdp_addr_of(Deno.UnsafePointer.of(buffer as ArrayBuffer));
}

function notMapped(addr: number): MbufError {
  return new MbufError(
    "NotMapped",
    `address 0x${addr.toString(16)} is in no live mempool of this isolate: its pool was freed, or it ` +
      `was made outside this isolate (get it with Mempool.lookup first)`,
  );
}

/** Offset of the address (lo, hi) in chunk `c`, or -1 when it is not in it. */
function offsetIn(c: Chunk, lo: number, hi: number): number {
  const o = (lo - c.lo) | 0;
  return o >= 0 && o < c.len && hi === (o < c.wrap ? c.hi : c.hi + 1) ? o : -1;
}

/** Offset of the address (lo, hi) in its chunk; the chunk is left in `hit`. @internal */
export function locateWords(lo: number, hi: number): number {
  let o = offsetIn(lastChunk, lo, hi);
  if (o < 0) {
    for (let i = 0; i < chunks.length && o < 0; i++) {
      o = offsetIn(chunks[i], lo, hi);
      if (o >= 0) lastChunk = chunks[i];
    }
    if (o < 0) throw notMapped(hi * 4294967296 + (lo >>> 0));
  }
  hit = mapped(lastChunk);
  return o;
}

/** Offset of `addr` (a number) in its chunk; the chunk is left in `hit`. @internal */
export function locate(addr: number): number {
  return locateWords(addr >>> 0, Math.floor(addr / 4294967296));
}

/**
 * Offset (chunk in `hit`) of a region of `length` bytes at `addr` that DPDK returned. An empty
 * region may start just past the end of its buffer, which can be the end of a chunk (the last
 * mbuf of a pool): it is placed from its last byte before, which is in the same mbuf. @internal
 */
export function regionStart(addr: number, length: number): number {
  return length > 0 ? locate(addr) : locate(addr - 1) + 1;
}

/** Reads a 64-bit address field at byte offset `off` of the chunk `c`, as a number. @internal */
export function addrAt(c: Chunk, off: number): number {
  return c.u32[(off >> 2) + 1] * 4294967296 + c.u32[off >> 2];
}

/** Offset (left in `hit`) of the packet data of the mbuf whose header is at offset `o` of `c`. @internal */
export function dataOf(c: Chunk, o: number): number {
  const b = (o + O_BUF_ADDR) >> 2;
  const bLo = c.u32[b];
  const dataOff = c.u16[(o + O_DATA_OFF) >> 1];
  const hi = bLo > 4294967295 - dataOff ? c.u32[b + 1] + 1 : c.u32[b + 1];
  const lo = (bLo + dataOff) | 0;
  const d = offsetIn(c, lo, hi);
  if (d >= 0) {
    hit = c;
    return d;
  }
  return locateWords(lo >>> 0, hi); // data in another chunk (an indirect mbuf)
}

/** Offset (left in `hit`) of the packet data of the mbuf at `addr`. @internal */
export function locateData(addr: number): number {
  const o = locate(addr);
  return dataOf(hit, o);
}
