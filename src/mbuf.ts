/**
 * Single packet buffers ({@linkcode Mbuf}), with zero-copy access to their bytes through the
 * mapped pool memory (src/pool_memory.ts). Batches are in src/mbuf_batch.ts.
 *
 * Operations that change an mbuf (alloc, free, append, prepend, adj, trim, chain) call DPDK's own
 * inline functions through the shim, one FFI call each, so their semantics are DPDK's.
 *
 * @module
 */
import { typeError } from "./validate.ts";
import { checkLength, mbufArg, MbufError } from "./mbuf_error.ts";
import {
  addrAt,
  ffiAlloc,
  ffiAppend,
  ffiFree,
  hit,
  locate,
  locateData,
  mappedPools,
  type MbufPool,
  O_BUF_LEN,
  O_DATA_LEN,
  O_DATA_OFF,
  O_NB_SEGS,
  O_NEXT,
  O_PKT_LEN,
  O_PORT,
  O_REFCNT,
  poolChunk,
  regionStart,
  sym,
} from "./pool_memory.ts";

// Still importable from here, where they lived before the split (net/phy/device.ts names them so).
export { MbufError };
export { batchLengths, freeBulkFrom, MbufBatch } from "./mbuf_batch.ts";

function notConstructible(): MbufError {
  return new MbufError("InvalidArgument", "Mbuf objects come from Mempool.alloc() or MbufBatch.pop()");
}

function deadError(addr: number, pool: MbufPool): MbufError {
  return addr === 0
    ? new MbufError("Freed", "mbuf used after free (or after it was chained or pushed)")
    : new MbufError("PoolDisposed", `mbuf used after its pool ${JSON.stringify(pool.name)} was freed`);
}

const TOKEN = Symbol("melin-dpdk.mbuf");

// Private-field access handed out by the classes' static blocks (so it stays off the public API).
/** Hands an mbuf's address over (to a batch); the Mbuf object is unusable afterwards. @internal */
export let takeAddress: (m: Mbuf) => number;

/**
 * One packet buffer, owned by this object until {@linkcode Mbuf.free} (or `using`).
 * Get one from `Mempool.alloc()`. Use after free throws {@linkcode MbufError} `"Freed"`.
 */
export class Mbuf implements Disposable {
  #addr = 0;
  /** The pool the mbuf came from. */
  readonly pool: MbufPool;

  /** Not for use: mbufs come from `Mempool.alloc()` and `MbufBatch.pop()`. */
  constructor(token: symbol, address: number, pool: MbufPool) {
    if (token !== TOKEN) throw notConstructible();
    this.#addr = address;
    this.pool = pool;
  }

  // Hot: kept tiny so that V8 inlines it; the error paths live in deadError.
  #live(): number {
    const a = this.#addr;
    if (a === 0 || this.pool.disposed) throw deadError(a, this.pool);
    return a;
  }

  /** Offset of the header in `hit`. */
  #hdr(): number {
    return locate(this.#live());
  }

  /** The mbuf's address (`struct rte_mbuf*`) as a number, for FFI interop. */
  get address(): number {
    return this.#live();
  }

  /** True once freed or handed over. */
  get freed(): boolean {
    return this.#addr === 0;
  }

  /** Bytes of data in this (first) segment (`data_len`). */
  get dataLen(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_DATA_LEN) >> 1];
  }

  /** Bytes of data in the whole packet, all segments (`pkt_len`). */
  get pktLen(): number {
    const o = this.#hdr();
    return hit.u32[(o + O_PKT_LEN) >> 2];
  }

  /** Offset of the data from the start of the buffer (`data_off`). */
  get dataOffset(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_DATA_OFF) >> 1];
  }

  /** Bytes free in front of the data (`rte_pktmbuf_headroom`). */
  get headroom(): number {
    return this.dataOffset;
  }

  /** Bytes free after the data in this segment (`rte_pktmbuf_tailroom`). */
  get tailroom(): number {
    const o = this.#hdr();
    const u16 = hit.u16;
    return u16[(o + O_BUF_LEN) >> 1] - u16[(o + O_DATA_OFF) >> 1] - u16[(o + O_DATA_LEN) >> 1];
  }

  /** Size of the buffer (`buf_len`). */
  get bufLen(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_BUF_LEN) >> 1];
  }

  /** Number of segments in the chain (`nb_segs`). */
  get nbSegs(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_NB_SEGS) >> 1];
  }

  /** Reference count (`refcnt`). */
  get refcnt(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_REFCNT) >> 1];
  }

  /** Input port (`port`; 65535 when none). */
  get port(): number {
    const o = this.#hdr();
    return hit.u16[(o + O_PORT) >> 1];
  }

  /** The data of this (first) segment: a live view of the mbuf's memory, no copy. */
  get data(): Uint8Array {
    const len = this.dataLen;
    const o = locateData(this.#addr);
    return hit.u8.subarray(o, o + len);
  }

  /** The data of each segment in order: live views, no copies. */
  *segments(): IterableIterator<Uint8Array> {
    let seg = this.#live();
    while (seg !== 0) {
      const o = locate(seg);
      const c = hit;
      const len = c.u16[(o + O_DATA_LEN) >> 1];
      const next = addrAt(c, o + O_NEXT);
      const d = locateData(seg);
      yield hit.u8.subarray(d, d + len);
      seg = next;
    }
  }

  /**
   * Copies `length` bytes from packet offset `offset`, across segments, as DPDK reads them
   * (`rte_pktmbuf_read`). Returns `null` when the range is past the packet's end.
   */
  read(offset: number, length: number, out?: Uint8Array): Uint8Array | null {
    checkLength("read offset", offset, 0xffffffff);
    checkLength("read", length, 0xffffffff);
    if (out === undefined) {
      out = new Uint8Array(length);
    } else if (!(out instanceof Uint8Array) || (out.buffer as ArrayBuffer).detached === true) {
      throw typeError(mbufArg, "read: out", out, "a Uint8Array");
    } else if (out.length < length) {
      throw new MbufError("InvalidArgument", `read: out holds ${out.length} < ${length} bytes`);
    }
    return sym.mdp_pktmbuf_read(this.#live(), offset, length, out as Uint8Array<ArrayBuffer>) === 0
      ? out.subarray(0, length)
      : null;
  }

  /**
   * A deep copy of `length` bytes from packet offset `offset` (default: the whole packet), all
   * segments, into new mbufs from `pool` (`rte_pktmbuf_copy`). Returns `null` when `pool` has too
   * few mbufs or the range is past the packet's end.
   * @throws {MbufError} `"InvalidArgument"` unless `pool` is a live `Mempool` of this isolate.
   */
  copy(pool: MbufPool, offset: number = 0, length: number = 0xffffffff): Mbuf | null {
    checkLength("copy offset", offset, 0xffffffff);
    checkLength("copy", length, 0xffffffff);
    // Only a pool whose memory this isolate mapped is real: an object that merely looks like an
    // MbufPool would hand C an address of its choosing.
    if (!poolChunk.has(pool)) {
      // Only a pool this isolate mapped once is asked (a look-alike's getters may throw anything).
      if (mappedPools.has(pool) && pool.disposed) {
        throw new MbufError(
          "PoolDisposed",
          `copy: the target pool ${JSON.stringify(String(pool.name))} was freed`,
        );
      }
      throw typeError(mbufArg, "copy: pool", pool, "a live Mempool of this isolate");
    }
    const a = sym.mdp_pktmbuf_copy(this.#live(), pool.address, offset, length);
    return a === 0 ? null : new Mbuf(TOKEN, a, pool);
  }

  #region(ptr: number, length: number): Uint8Array | null {
    if (ptr === 0) return null;
    const o = regionStart(ptr, length);
    return hit.u8.subarray(o, o + length);
  }

  /**
   * Grows the data by `n` bytes at the end of the last segment (`rte_pktmbuf_append`) and returns a
   * view of the new bytes, or `null` (nothing changed) when the tailroom is smaller than `n`.
   */
  append(n: number): Uint8Array | null {
    checkLength("append", n);
    return this.#region(ffiAppend(this.#live(), n), n);
  }

  /**
   * Grows the data by `n` bytes in front (`rte_pktmbuf_prepend`) and returns a view of the new
   * bytes, or `null` (nothing changed) when the headroom is smaller than `n`.
   */
  prepend(n: number): Uint8Array | null {
    checkLength("prepend", n);
    return this.#region(sym.mdp_pktmbuf_prepend(this.#live(), n), n);
  }

  /** Removes `n` bytes from the front (`rte_pktmbuf_adj`); `false` (nothing changed) if `n` > dataLen. */
  adj(n: number): boolean {
    checkLength("adj", n);
    return sym.mdp_pktmbuf_adj(this.#live(), n) !== 0;
  }

  /** Removes `n` bytes from the end (`rte_pktmbuf_trim`); `false` (nothing changed) if `n` exceeds the
   * last segment's data. */
  trim(n: number): boolean {
    checkLength("trim", n);
    return sym.mdp_pktmbuf_trim(this.#live(), n) === 0;
  }

  /** Empties the mbuf: length 0, data offset back to the default headroom (`rte_pktmbuf_reset`). */
  reset(): void {
    sym.mdp_pktmbuf_reset(this.#live());
  }

  /**
   * Appends `tail` (and its segments) to this packet's chain (`rte_pktmbuf_chain`). `tail` is
   * consumed: it is freed with this mbuf, and using the `tail` object afterwards throws.
   */
  chain(tail: Mbuf): void {
    if (tail === this) throw new MbufError("InvalidArgument", "chain: an mbuf cannot be chained to itself");
    if (!(tail instanceof Mbuf)) throw typeError(mbufArg, "chain: tail", tail, "an Mbuf");
    const rc = sym.mdp_pktmbuf_chain(this.#live(), tail.#live());
    if (rc !== 0) {
      throw new MbufError(
        "ChainTooLong",
        "chain: the chain would exceed DPDK's segment limit (RTE_MBUF_MAX_NB_SEGS)",
      );
    }
    tail.#addr = 0;
  }

  /** Returns the mbuf (its whole chain) to its pool (`rte_pktmbuf_free`). Use afterwards throws. */
  free(): void {
    const a = this.#addr;
    if (a === 0 || this.pool.disposed) throw deadError(a, this.pool);
    ffiFree(a);
    this.#addr = 0;
  }

  /** Frees the mbuf unless it was already freed or handed over. */
  [Symbol.dispose](): void {
    if (this.#addr !== 0 && !this.pool.disposed) this.free();
  }

  static {
    takeAddress = (m: Mbuf): number => {
      const a = m.#live();
      m.#addr = 0;
      return a;
    };
  }
}

/** Makes an owning Mbuf for an address from DPDK. @internal */
export function wrapMbuf(address: number, pool: MbufPool): Mbuf {
  return new Mbuf(TOKEN, address, pool);
}

/** A single mbuf from the pool at `poolAddr`, or null when empty. @internal */
export function allocOne(poolAddr: number, pool: MbufPool): Mbuf | null {
  const a = ffiAlloc(poolAddr);
  return a === 0 ? null : new Mbuf(TOKEN, a, pool);
}
