/**
 * Reusable batches of mbufs ({@linkcode MbufBatch}) for rx/tx bursts and bulk alloc/free, and the
 * allocation-free ways to walk them ({@linkcode PacketView}, {@linkcode BatchColumns}).
 *
 * @module
 */
import { describeValue, intError, typeError } from "./validate.ts";
import { checkLength, mbufArg, MbufError } from "./mbuf_error.ts";
import { Mbuf, takeAddress, wrapMbuf } from "./mbuf.ts";
import {
  type Chunk,
  dataOf,
  ffiAddressOf,
  ffiAppend,
  ffiBatchAlloc,
  ffiBatchFree,
  ffiBatchRx,
  ffiBatchTx,
  ffiBatchTxSized,
  ffiDescribe,
  ffiFreeRx,
  ffiTxRefill,
  hit,
  loadLayout,
  locate,
  locateData,
  locateWords,
  mapped,
  type MbufPool,
  NO_CHUNK,
  O_BUF_LEN,
  O_DATA_LEN,
  O_DATA_OFF,
  O_NB_SEGS,
  O_PKT_LEN,
  poolChunk,
  regionStart,
  setHit,
  sym,
} from "./pool_memory.ts";

/** The error for a batch index `i` that failed the hot-path test against `length`. */
function indexError(i: unknown, length: number): MbufError {
  return typeof i === "number"
    ? new MbufError("IndexOutOfRange", `batch index ${i} is outside 0..${length - 1}`)
    : intError(mbufArg, "batch index", i, 0, length - 1) as MbufError;
}

// Private-field access handed out by the classes' static blocks (so it stays off the public API).
/** Forgets the first `count` entries of a batch (freed or sent). */
export let batchDrop: (b: MbufBatch, count: number) => void;
/** Throws unless every pool of the batch's mbufs is live. */
export let batchAssertPoolsLive: (b: MbufBatch, what: string) => void;
/** Bulk-allocates `count` mbufs of `dataLen` bytes into the batch (one FFI call). */
export let batchAllocBulk: (
  b: MbufBatch,
  poolAddr: number,
  pool: MbufPool,
  count: number,
  dataLen: number,
) => boolean;
/** Receives into the batch (one FFI call); returns how many arrived. */
export let batchRx: (b: MbufBatch, port: number, queue: number, pool: MbufPool) => number;
/** Sends the batch's first `count` entries (one FFI call); returns how many the driver took. */
export let batchTx: (b: MbufBatch, port: number, queue: number, count: number) => number;
/**
 * Sets the first `count` entries' data and packet lengths from the length column (single-segment
 * mbufs), then sends them (one FFI call); returns how many the driver took. @internal
 */
export let batchTxSized: (b: MbufBatch, port: number, queue: number, count: number) => number;
/** The batch's data-length column, for a sender that fills mbufs and sends with batchTxSized. @internal */
export let batchLengths: (b: MbufBatch) => Uint16Array;
/** Set in batchTxRefill's result when the refill found too few mbufs in the pool (csrc). @internal */
export const REFILL_FAILED = 0x10000;
/**
 * For a sender that keeps spare mbufs in the batch (one FFI call): sets the first `count` entries'
 * lengths from the length column and sends them, moves the rest to the front (when all were sent,
 * the last entries fill the freed places; else the unsent come first, in order), then tops the batch up to `fillTo` entries with mbufs of `dataLen` bytes from `pool` (at
 * `poolAddr`, live: the caller checked). Returns how many the driver took, | REFILL_FAILED when
 * the pool had too few mbufs (none taken then). The caller checks `count <= length`,
 * `fillTo <= capacity` and `dataLen` against the pool's data room. @internal
 */
export let batchTxRefill: (
  b: MbufBatch,
  port: number,
  queue: number,
  count: number,
  poolAddr: number,
  pool: MbufPool,
  fillTo: number,
  dataLen: number,
) => number;
/**
 * For a receiver that keeps its last burst until the next (one FFI call): frees every entry, then
 * receives up to `capacity` packets of the port whose rx pool is `pool`, described. Returns how
 * many arrived. @internal
 */
export let batchFreeRx: (b: MbufBatch, port: number, queue: number, pool: MbufPool) => number;
/**
 * Maps the memory chunk of the batch's entries again when a program transferred its buffer away
 * (see pool_memory.ts `mapped`); `columns()` then has the memory back. For a device, once per burst
 * whose columns came back empty: not in `columns()` itself, which every burst runs. @internal
 */
export let batchRemap: (b: MbufBatch) => void;
/** Frees the first `count` entries (one FFI call); the caller then drops them. */
let batchFree: (b: MbufBatch, count: number) => void;

// ---- MbufBatch ------------------------------------------------------------------------------

/** See {@linkcode MbufBatch.columns}. */
export interface BatchColumns {
  /** The mapped pool memory that holds the packets. */
  bytes: Uint8Array;
  /** Index in `bytes` of each packet's first data byte, or -1 (use `at(i)` for that one). */
  readonly start: Int32Array;
  /** Each packet's first-segment data length. */
  readonly length: Uint16Array;
}

/**
 * Where one packet's data is, without a view or object per packet: `bytes[start .. start+length)`
 * is the data of its first segment. {@linkcode MbufBatch.at} returns the same PacketView object
 * for every index (it is repositioned, not reallocated), so read its fields before the next `at`.
 */
export class PacketView {
  /** The mapped pool memory that holds the packet (shared by all packets of the pool). */
  bytes: Uint8Array = new Uint8Array(0);
  /** Index in `bytes` of the first data byte. */
  start = 0;
  /** Bytes of data in the first segment (`data_len`). */
  length = 0;
}

// Placeholders the column fields start with (replaced in the constructor): a field declared without
// one starts as undefined, and V8 then checks the typed array's map at every load in at().
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_I32 = new Int32Array(0);
const EMPTY_U16 = new Uint16Array(0);

/** Default capacity of an {@linkcode MbufBatch}: DPDK's usual burst size. */
export const DEFAULT_BATCH_SIZE = 32;

/**
 * A reusable array of up to `capacity` mbufs for hot paths: `Mempool.allocBulk` fills it and
 * `Mempool.freeBulk` empties it with one FFI call each, and rx/tx bursts use it.
 *
 * Walk it without allocating per packet: {@linkcode MbufBatch.at} positions a reusable
 * {@linkcode PacketView} on packet `i`: `bytes` is the whole mapped memory chunk that holds it (the
 * same object for every packet of a pool) and `start`/`length` say where its data is.
 *
 * @example Touch the first byte of every packet, no allocation
 * ```ts
 * for (let i = 0; i < batch.length; i++) {
 *   const p = batch.at(i); // the same PacketView each time, repositioned
 *   p.bytes[p.start] ^= 1;
 *   total += p.length;
 * }
 * ```
 */
export class MbufBatch {
  /** Maximum number of mbufs. */
  readonly capacity: number = 0;
  /** The mbuf addresses (`struct rte_mbuf*[]`), for FFI; entries `0 .. length-1` are live. */
  readonly addresses: BigUint64Array<ArrayBuffer>;
  #words: Uint32Array = EMPTY_U32;
  // Layout columns, written in C for the whole batch on first use (see csrc: "Batch layout"):
  // offsets in #layout of each packet's header and data (-1: locate it from TS), and its data_len.
  // Entries from #described on are not written yet.
  #hdr: Int32Array = EMPTY_I32;
  #start: Int32Array = EMPTY_I32;
  #dlen: Uint16Array = EMPTY_U16;
  #layout: Chunk = NO_CHUNK;
  #described = 0;
  /** Keeps the block (and so its address) alive for as long as the batch. */
  #block: ArrayBuffer;
  #blockAddr = 0;
  #length = 0;
  /**
   * The pool of the first mbuf put in since the batch was last empty (of every mbuf unless
   * #mixed); left as it is when the batch empties, so that refilling from the same pool stores
   * nothing. Whenever it is a pool, #layout is that pool's chunk.
   */
  #pool: MbufPool | null = null;
  #mixed = false;

  /** An empty batch with room for `capacity` mbufs (1 to 65535; default 32). */
  constructor(capacity: number = DEFAULT_BATCH_SIZE) {
    if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1 || capacity > 0xffff) {
      throw intError(mbufArg, "MbufBatch capacity", capacity, 1, 0xffff);
    }
    this.capacity = capacity;
    // One block for the pointers and the layout columns (csrc: "Batches"), handed to C by address.
    const block = new ArrayBuffer(capacity * 18);
    this.addresses = new BigUint64Array(block, 0, capacity);
    this.#words = new Uint32Array(block, 0, 2 * capacity);
    this.#hdr = new Int32Array(block, 8 * capacity, capacity);
    this.#start = new Int32Array(block, 12 * capacity, capacity);
    this.#dlen = new Uint16Array(block, 16 * capacity, capacity);
    loadLayout();
    this.#block = block;
    this.#blockAddr = ffiAddressOf(block);
    this.#columns = { bytes: this.#columns.bytes, start: this.#start, length: this.#dlen };
  }

  /** Number of mbufs in the batch. */
  get length(): number {
    return this.#length;
  }

  /** Room left. */
  get free(): number {
    return this.capacity - this.#length;
  }

  #commit(count: number, pool: MbufPool): void {
    if (this.#length === 0) {
      if (this.#pool !== pool) {
        this.#pool = pool;
        this.#layout = this.#chunkOf(pool);
      }
      this.#mixed = false;
    } else if (this.#pool !== pool) {
      this.#mixed = true;
    }
    this.#length += count;
  }

  /** Forgets the first `count` entries (freed or sent); the rest move to the front. */
  #drop(count: number): void {
    const keep = this.#length - count;
    if (keep > 0) this.#shift(count, keep); // out of line: the whole-burst case stays small to inline
    this.#length = keep;
    const d = this.#described - count;
    this.#described = d > 0 ? d : 0;
  }

  /** Moves entries [count, count + keep) to the front. */
  #shift(count: number, keep: number): void {
    // One plain loop over the pointers' 32-bit words and the columns: four copyWithin calls cost
    // ≈ 110 ns per burst (each a call into the runtime), far more than moving a burst's entries.
    const w = this.#words;
    const hdr = this.#hdr;
    const start = this.#start;
    const dlen = this.#dlen;
    for (let i = 0, j = count; i < keep; i++, j++) {
      w[2 * i] = w[2 * j];
      w[2 * i + 1] = w[2 * j + 1];
      hdr[i] = hdr[j];
      start[i] = start[j];
      dlen[i] = dlen[j];
    }
  }

  /** Throws unless every pool of the batch's mbufs is live. */
  #assertPoolsLive(what: string): void {
    if (this.#length === 0) return;
    if (!this.#mixed) {
      if (this.#pool!.disposed) throw poolGone(what, this.#pool!);
      return;
    }
    this.#assertMixedPoolsLive(what); // out of line: the one-pool case stays small to inline
  }

  #assertMixedPoolsLive(what: string): void {
    for (let i = 0; i < this.#length; i++) {
      const a = this.#addr(i);
      try {
        locate(a);
      } catch {
        throw poolGone(what, { name: `at 0x${a.toString(16)}`, disposed: true, address: 0 }); // unmapped: freed
      }
      if (hit.pool.disposed) throw poolGone(what, hit.pool);
    }
  }

  static {
    batchDrop = (b, count) => b.#drop(count);
    batchRemap = (b) => void mapped(b.#layout);
    batchAssertPoolsLive = (b, what) => b.#assertPoolsLive(what);
    batchAllocBulk = (b, poolAddr, pool, count, dataLen) => {
      const at = b.#length;
      // Describe now only when the caller is about to fill the packets; otherwise on first use.
      const l = dataLen > 0 ? b.#layoutFor(pool) : NO_CHUNK;
      if (ffiBatchAlloc(poolAddr, b.#blockAddr, b.capacity, at, count, dataLen, l.base, l.len) !== 0) {
        return false;
      }
      b.#commit(count, pool);
      if (l.len > 0 && b.#described === at) b.#described = at + count;
      return true;
    };
    batchRx = (b, port, queue, pool) => {
      const at = b.#length;
      if (at === b.capacity) return 0;
      const l = b.#layoutFor(pool);
      const n = ffiBatchRx(port, queue, b.#blockAddr, b.capacity, at, l.base, l.len);
      if (n > 0) {
        b.#commit(n, pool);
        if (l.len > 0 && b.#described === at) b.#described = at + n;
      }
      return n;
    };
    batchTx = (b, port, queue, count) => ffiBatchTx(port, queue, b.#blockAddr, count);
    batchTxSized = (b, port, queue, count) => ffiBatchTxSized(port, queue, b.#blockAddr, b.capacity, count);
    batchLengths = (b) => b.#dlen;
    batchTxRefill = (b, port, queue, count, poolAddr, pool, fillTo, dataLen) => {
      b.#assertPoolsLive("txBurst"); // C reads the mbufs it sends
      const len = b.#length;
      // Refilled entries are described against the pool's chunk when the batch holds only its mbufs.
      const l = len === 0 || b.#pool === pool ? b.#chunkOf(pool) : b.#layout;
      const r = ffiTxRefill(
        port,
        queue,
        b.#blockAddr,
        b.capacity,
        count,
        len,
        poolAddr,
        fillTo,
        dataLen,
        l.base,
        l.len,
      );
      const sent = r & 0xffff;
      const keep = len - sent;
      b.#length = keep;
      // All sent: C moved spares from the end into the freed places, so the described entries are
      // a prefix only if all were. Else the rest moved in order.
      const d = b.#described;
      b.#described = sent === count ? (d === len ? keep : 0) : (d > sent ? d - sent : 0);
      if ((r & REFILL_FAILED) === 0 && fillTo > keep) {
        b.#commit(fillTo - keep, pool);
        if (l.len > 0 && b.#described === keep) b.#described = fillTo;
      }
      return r;
    };
    batchFreeRx = (b, port, queue, pool) => {
      b.#assertPoolsLive("rxBurst"); // C frees the held entries
      const l = b.#chunkOf(pool);
      const n = ffiFreeRx(port, queue, b.#blockAddr, b.capacity, b.#length, l.base, l.len);
      b.#length = 0;
      b.#described = 0;
      if (n > 0) {
        b.#commit(n, pool);
        if (l.len > 0) b.#described = n;
      }
      return n;
    };
    batchFree = (b, count) => ffiBatchFree(b.#blockAddr, 0, count);
  }

  /**
   * The first memory chunk of `pool` (NO_CHUNK when unmapped), remembered for the last pool asked:
   * a Map lookup per burst costs more than the rest of the bookkeeping. A remembered chunk that
   * was unmapped since has length 0 and a detached buffer, as NO_CHUNK: the same to every user.
   */
  #chunkOf(pool: MbufPool): Chunk {
    if (pool === this.#chunkPool) return this.#chunkMemo;
    const c = poolChunk.get(pool) ?? NO_CHUNK;
    this.#chunkPool = pool;
    this.#chunkMemo = c;
    return c;
  }
  #chunkPool: MbufPool | null = null;
  #chunkMemo: Chunk = NO_CHUNK;

  /** The chunk new entries of `pool` are described against. */
  #layoutFor(pool: MbufPool): Chunk {
    return this.#length === 0 ? this.#chunkOf(pool) : this.#layout; // #commit then sets #layout
  }

  /**
   * Has C write the layout columns of the entries not described yet (one FFI call). C reads the
   * mbuf headers: never those of a freed pool (or after EAL cleanup), where it would fault.
   */
  #describe(): void {
    this.#assertPoolsLive("MbufBatch");
    const from = this.#described;
    const l = this.#layout;
    ffiDescribe(this.#blockAddr, this.capacity, from, this.#length - from, l.base, l.len);
    this.#described = this.#length;
  }

  #addr(i: number): number {
    return this.#words[2 * i + 1] * 4294967296 + this.#words[2 * i];
  }

  #check(i: number): number {
    if (!(typeof i === "number" && i >= 0 && i < this.#length && Number.isInteger(i))) {
      throw indexError(i, this.#length);
    }
    return this.#addr(i);
  }

  /** The reusable cursor {@linkcode MbufBatch.at} positions. */
  readonly view: PacketView = new PacketView();

  /**
   * Positions {@linkcode MbufBatch.view} on packet `i` and returns it: one lookup for the data's
   * place and lengths, no allocation. The fastest way to walk a batch.
   */
  at(i: number): PacketView {
    // One test for the common case: described entries are a prefix of the live ones.
    if (!(typeof i === "number" && (i >>> 0) === i && i < this.#described)) this.#atPrepare(i);
    const v = this.view;
    const st = this.#start[i];
    const l = this.#layout;
    // -1 (not in the layout chunk) fails too, and so does every start once the chunk is unmapped
    // (its len is 0). Small-integer compares against the chunk's len: against `u8.length` (a
    // typed array's length, not a small integer) at() cost ≈ 1 ns more per packet.
    if (st >= 0 && st < l.len) {
      const u8 = l.u8;
      if (v.bytes !== u8) v.bytes = u8; // a compare costs less than a pointer store's write barrier
      v.start = st;
      v.length = this.#dlen[i];
      return v;
    }
    return this.#atSlow(i);
  }

  /** Checks index `i` and describes the entries not described yet. */
  #atPrepare(i: number): void {
    if (!(typeof i === "number" && (i >>> 0) === i && i < this.#length)) this.#check(i);
    if (i >= this.#described) this.#describe();
  }

  /** at() for an entry outside the layout chunk (or once that chunk is unmapped). */
  #atSlow(i: number): PacketView {
    const v = this.view;
    const o = this.#locateSlow(i, "at");
    const c = hit;
    v.length = c.u16[(o + O_DATA_LEN) >> 1];
    v.start = dataOf(c, o);
    v.bytes = hit.u8;
    return v;
  }

  /**
   * The batch's layout columns, for the tightest loops: packet `i`'s first-segment data is
   * `bytes[start[i] .. start[i] + length[i])`. An entry whose `start` is -1 lies outside `bytes`
   * (another memory chunk of a multi-chunk pool, or a pushed mbuf): use {@linkcode MbufBatch.at}
   * for it. Valid until the batch changes; `length` does not follow later edits made through
   * other means than this batch.
   */
  columns(): BatchColumns {
    if (this.#described < this.#length) this.#describe();
    // The same rule as at(): entries of a freed pool are an error, not an empty view.
    if (this.#length > 0 && this.#layout.len === 0) this.#assertPoolsLive("columns");
    const c = this.#columns;
    const u8 = this.#layout.u8;
    if (c.bytes !== u8) c.bytes = u8; // a compare costs less than a pointer store's write barrier
    return c;
  }
  #columns: BatchColumns = { bytes: new Uint8Array(0), start: new Int32Array(0), length: new Uint16Array(0) };

  /** Offset of packet `i`'s header, its chunk left in `hit`. */
  #header(i: number): number {
    if (!(typeof i === "number" && (i >>> 0) === i && i < this.#length)) this.#check(i);
    if (i >= this.#described) this.#describe();
    const h = this.#hdr[i];
    if (h >= 0 && this.#start[i] >= 0 && this.#layout.len !== 0) {
      setHit(mapped(this.#layout)); // per-packet calls map a transferred chunk again (see batchRemap)
      return h;
    }
    return this.#locateSlow(i, "MbufBatch");
  }

  /**
   * Offset (chunk in `hit`) of mbuf `i`'s header, found from its address: for entries outside the
   * layout chunk, and once that chunk is unmapped (its pool freed: a typed error, not NotMapped).
   */
  #locateSlow(i: number, what: string): number {
    if (this.#layout.len === 0) this.#assertPoolsLive(what);
    const w = this.#words;
    return locateWords(w[2 * i], w[2 * i + 1]);
  }

  /** Address of mbuf `i`, as a number. */
  address(i: number): number {
    return this.#check(i);
  }

  /** `data_len` of mbuf `i` (first segment). */
  dataLen(i: number): number {
    const o = this.#header(i);
    return hit.u16[(o + O_DATA_LEN) >> 1];
  }

  /** `pkt_len` of mbuf `i` (all segments). */
  pktLen(i: number): number {
    const o = this.#header(i);
    return hit.u32[(o + O_PKT_LEN) >> 2];
  }

  /** The mapped memory that holds packet `i`'s data; index it from {@linkcode MbufBatch.dataIndex}. */
  bytes(i: number): Uint8Array {
    const o = this.#header(i); // first: it sets `hit`, which dataOf reads
    dataOf(hit, o);
    return hit.u8;
  }

  /** Index in {@linkcode MbufBatch.bytes} of the first data byte of packet `i`. */
  dataIndex(i: number): number {
    const o = this.#header(i);
    return dataOf(hit, o);
  }

  /** The data of packet `i` (first segment) as its own view (allocates a view; no copy). */
  data(i: number): Uint8Array {
    const len = this.dataLen(i);
    const o = locateData(this.#addr(i));
    return hit.u8.subarray(o, o + len);
  }

  /**
   * Grows single-segment packet `i` by `n` bytes at the end (`rte_pktmbuf_append`); returns the
   * index in `bytes(i)` of the first new byte, or -1 (nothing changed) when the tailroom is too
   * small.
   * @throws {MbufError} `"InvalidArgument"` for a chained packet (its new bytes would go into its
   * last segment, which need not be in `bytes(i)`: take it out with `pop()` and use
   * {@linkcode Mbuf.append}, which returns a view) or a bad `n`.
   */
  append(i: number, n: number): number {
    checkLength("append", n);
    const a = this.#check(i);
    this.#assertPoolsLive("append"); // DPDK writes into the mbuf: never into a freed pool
    const o = this.#header(i);
    const u16 = hit.u16;
    if (u16[(o + O_NB_SEGS) >> 1] !== 1) {
      throw new MbufError(
        "InvalidArgument",
        `append: packet ${i} has several segments, and its new bytes would be in the last one, outside ` +
          `bytes(${i}); take it out with pop() and use Mbuf.append`,
      );
    }
    const p = ffiAppend(a, n);
    if (p === 0) return -1;
    this.#dlen[i] = u16[(o + O_DATA_LEN) >> 1];
    return regionStart(p, n);
  }

  /**
   * Sets the data length of single-segment packet `i` to `n` bytes, in place and without an FFI
   * call (for filling a burst): what `rte_pktmbuf_append` does to `data_len` and `pkt_len`.
   * Returns false (nothing changed) when `n` exceeds the room after the data offset.
   * @throws {MbufError} `"InvalidArgument"` for a chained packet or a bad `n`.
   */
  setDataLen(i: number, n: number): boolean {
    const o = this.#header(i);
    const c = hit;
    const u16 = c.u16;
    if (!(typeof n === "number" && (n >>> 0) === n && n <= 0xffff)) checkLength("setDataLen", n);
    if (u16[(o + O_NB_SEGS) >> 1] !== 1) {
      throw new MbufError("InvalidArgument", `setDataLen: packet ${i} has several segments; use append/trim`);
    }
    if (n > u16[(o + O_BUF_LEN) >> 1] - u16[(o + O_DATA_OFF) >> 1]) return false;
    u16[(o + O_DATA_LEN) >> 1] = n;
    c.u32[(o + O_PKT_LEN) >> 2] = n;
    this.#dlen[i] = n;
    return true;
  }

  /**
   * Asks the port to compute packet `i`'s IPv4 (and, for `l4Protocol` 17 UDP or 6 TCP, its L4)
   * checksum on transmit: sets the mbuf's offload flags and header lengths, zeroes the IPv4
   * checksum and writes the pseudo-header sum DPDK drivers expect into the L4 checksum field.
   * Only for ports whose `txChecksumOffload` has those flags; otherwise compute checksums in
   * software. Returns false (nothing changed) when the headers are not all in the first segment.
   */
  requestTxChecksum(i: number, l2Len: number, l3Len: number, l4Protocol: number): boolean {
    checkLength("l2Len", l2Len, 127);
    checkLength("l3Len", l3Len, 511);
    if (l4Protocol !== 0 && l4Protocol !== 6 && l4Protocol !== 17) {
      throw new MbufError(
        "InvalidArgument",
        `l4Protocol must be 0 (none), 6 (TCP) or 17 (UDP), got ${describeValue(l4Protocol)}`,
      );
    }
    const a = this.#check(i);
    this.#assertPoolsLive("requestTxChecksum");
    return sym.mdp_mbuf_tx_cksum_ipv4(a, l2Len, l3Len, l4Protocol) === 0;
  }

  /** Moves `m` into the batch (`m` is unusable afterwards). */
  push(m: Mbuf): void {
    if (!(m instanceof Mbuf)) throw typeError(mbufArg, "push: m", m, "an Mbuf");
    if (this.#length === this.capacity) {
      throw new MbufError("BatchFull", `MbufBatch is full (${this.capacity} mbufs)`);
    }
    const pool = m.pool;
    const a = takeAddress(m);
    this.#words[2 * this.#length] = a % 4294967296;
    this.#words[2 * this.#length + 1] = Math.floor(a / 4294967296);
    const at = this.#length;
    this.#hdr[at] = -1; // located from TS when used
    this.#start[at] = -1;
    this.#commit(1, pool);
    if (this.#described === at) this.#described = at + 1;
  }

  /** Takes the last mbuf out as an owning {@linkcode Mbuf}, or `null` when empty. */
  pop(): Mbuf | null {
    if (this.#length === 0) return null;
    const a = this.#addr(this.#length - 1);
    if (this.#layout.len === 0) this.#assertPoolsLive("pop");
    locate(a);
    const pool = hit.pool;
    this.#length--;
    if (this.#described > this.#length) this.#described = this.#length;
    if (this.#length === 0) this.#pool = null;
    return wrapMbuf(a, pool);
  }
}

function poolGone(what: string, pool: MbufPool): MbufError {
  return new MbufError(
    "PoolDisposed",
    `${what}: the batch holds mbufs of pool ${JSON.stringify(pool.name)}, which was freed`,
  );
}

/** Frees the batch's first `count` mbufs in one call; the rest move to the front. @internal */
export function freeBulkFrom(batch: MbufBatch, count: number): void {
  batchAssertPoolsLive(batch, "freeBulk"); // the caller (Mempool.freeBulk) has checked EAL
  if (count === 0) return;
  batchFree(batch, count);
  batchDrop(batch, count);
}
