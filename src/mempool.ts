/**
 * Packet buffer pools (`rte_pktmbuf_pool_create`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { cString, dpdk, strerror } from "./ffi.ts";
import {
  ealCleaningUp,
  ealNotRunningError,
  ealRunning,
  isolateSlot,
  requireEal,
  trackResource,
} from "./eal.ts";
import { allocOne, type Mbuf } from "./mbuf.ts";
import { batchAllocBulk, freeBulkFrom, MbufBatch } from "./mbuf_batch.ts";
import { mbufArg, MbufError } from "./mbuf_error.ts";
import { mapPoolMemory, unmapPoolMemory } from "./pool_memory.ts";
import { MempoolError } from "./mempool_error.ts";
import {
  type ArgError,
  checkBool,
  checkInt as checkIntArg,
  checkOptions,
  describeValue,
  intError,
  orDefault,
  typeError,
} from "./validate.ts";

export { MempoolError };
export type { MempoolErrorKind } from "./mempool_error.ts";

const logger = getLogger(["melin-dpdk", "mempool"]);

/** Mbufs in a pool made by {@linkcode Mempool.create}. */
export const DEFAULT_NUM_MBUFS = 8192;
/** Per-lcore cache size asked for by default (lowered for small pools, see {@linkcode Mempool.cacheSizeFor}). */
export const MBUF_CACHE_SIZE = 256;
/** "Any NUMA socket" (`SOCKET_ID_ANY`). */
export const SOCKET_ID_ANY: number = -1;
/** Ethernet header bytes counted by {@linkcode Mempool.createForMtu} (`RTE_ETHER_HDR_LEN`). */
export const ETHER_HDR_LEN = 14;
/** Ethernet CRC bytes counted by {@linkcode Mempool.createForMtu} (`RTE_ETHER_CRC_LEN`). */
export const ETHER_CRC_LEN = 4;
/** Smallest MTU accepted by {@linkcode Mempool.createForMtu} (`RTE_ETHER_MIN_MTU`, RFC 791). */
export const MIN_MTU = 68;

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const EEXIST = 17;
const ENOMEM = 12;
const EINVAL = 22;
const ENOSPC = 28;
const ENAMETOOLONG = 36;
/** `RTE_IOVA_VA` of `enum rte_iova_mode`. */
const RTE_IOVA_VA = 2;

/** Everything {@linkcode Mempool.createWithOptions} accepts. */
export interface MempoolOptions {
  /** Number of mbufs (default {@linkcode DEFAULT_NUM_MBUFS}). */
  numMbufs?: number;
  /** Bytes of packet buffer per mbuf, headroom included (default: DPDK's, 2176). */
  dataRoomSize?: number;
  /**
   * Per-lcore cache size, passed to DPDK as given. Default: {@linkcode MBUF_CACHE_SIZE} lowered to
   * the largest size DPDK accepts for `numMbufs` ({@linkcode Mempool.cacheSizeFor}).
   */
  cacheSize?: number;
  /** Application private bytes per mbuf, a multiple of 8 (default 0). */
  privSize?: number;
  /** NUMA socket to allocate on (default {@linkcode SOCKET_ID_ANY}). */
  socketId?: number;
  /**
   * Let mbufs straddle memory page boundaries (`RTE_MEMPOOL_F_NO_IOVA_CONTIG`). Without hugepages
   * DPDK otherwise gives every mbuf its own 4 KiB page: ~40% of the memory is padding, and every
   * mbuf header sits at the same page offset, so they all compete for the same few L1 cache sets
   * (on this project's test machines a header access then costs ~5 ns instead of ~0.3).
   *
   * Default: true when EAL runs without hugepages in IOVA-as-VA mode, where an object that
   * straddles pages is still contiguous for devices; otherwise false (DPDK's layout). Setting it
   * true under IOVA-as-PA without hugepages gives mbufs that a DMA-capable NIC cannot use.
   */
  packed?: boolean;
}

interface Limits {
  defaultBufSize: number;
  headroom: number;
  maxNameLength: number;
  maxCacheSize: number;
  maxNumaNodes: number;
  eRteNoConfig: number;
}
let limits: Limits | undefined;
function dpdkLimits(): Limits {
  if (limits === undefined) {
    const s = dpdk();
    limits = {
      defaultBufSize: s.mdp_const_mbuf_default_buf_size(),
      headroom: s.mdp_const_pktmbuf_headroom(),
      maxNameLength: s.mdp_const_mempool_namesize() - 1,
      maxCacheSize: s.mdp_const_mempool_cache_max_size(),
      maxNumaNodes: s.mdp_const_max_numa_nodes(),
      eRteNoConfig: s.mdp_const_e_rte_no_config(),
    };
  }
  return limits;
}

const encoder = new TextEncoder();

function checkName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new MempoolError(
      "InvalidName",
      typeof name === "string" ? name : "",
      `Mempool name must be a non-empty string, got ${describeValue(name)}`,
    );
  }
  if (name.includes("\0")) {
    throw new MempoolError(
      "InvalidName",
      name,
      `Mempool name ${JSON.stringify(name)} contains a NUL byte; DPDK would cut it there`,
    );
  }
  const max = dpdkLimits().maxNameLength;
  const bytes = encoder.encode(name).length;
  if (bytes > max) {
    throw new MempoolError(
      "InvalidName",
      name,
      `Mempool name ${JSON.stringify(name)} is ${bytes} bytes; DPDK allows at most ${max} ` +
        `(RTE_MEMPOOL_NAMESIZE - 1): use a shorter name`,
    );
  }
  return name;
}

/** InvalidArgument errors about pool `name` ("" for static helpers). */
function poolArg(name: string): ArgError {
  return (message) =>
    new MempoolError(
      "InvalidArgument",
      name,
      name === "" ? message : `Mempool ${JSON.stringify(name)}: ${message}`,
    );
}

function checkInt(name: string, what: string, v: unknown, min: number, max: number, why = ""): number {
  return checkIntArg(poolArg(name), what, v, min, max, why);
}

const OPTION_NAMES = [
  "numMbufs",
  "dataRoomSize",
  "cacheSize",
  "privSize",
  "socketId",
  "packed",
] as const satisfies readonly (keyof MempoolOptions)[];

function createFailedHint(errno: number, name: string, o: Required<MempoolOptions>): string {
  switch (errno) {
    case EEXIST:
      return `a pool named ${JSON.stringify(name)} already exists: pick another name, dispose that pool, ` +
        `or get it with Mempool.lookup()`;
    case ENOMEM: {
      const mib = Math.ceil((o.numMbufs * (o.dataRoomSize + o.privSize + 128)) / (1 << 20));
      return `not enough DPDK memory for ${o.numMbufs} mbufs of ${o.dataRoomSize} bytes (about ${mib} MiB ` +
        `or more): give EAL more memory (memoryMb / -m) or make the pool smaller`;
    }
    case EINVAL:
      return `invalid size or cache: numMbufs must be ≥ 1, cacheSize ≤ ${dpdkLimits().maxCacheSize} and ` +
        `cacheSize × 1.5 ≤ numMbufs (largest valid cache for ${o.numMbufs} mbufs: ` +
        `${Mempool.cacheSizeFor(o.numMbufs, dpdkLimits().maxCacheSize)}), privSize a multiple of 8`;
    case ENOSPC:
      return "DPDK has no free memzone left: free pools you no longer use";
    case ENAMETOOLONG:
      return `use a name of at most ${dpdkLimits().maxNameLength} bytes`;
    default:
      return "DPDK's log output says more";
  }
}

/**
 * The generations of the shim's pool registry (csrc: "Pool registry"), mapped once: a handle is
 * live while `gens[slot] === gen`, one load, in every isolate at once. 0 marks a freed slot;
 * a handle disposed in this isolate sets its own generation to DEAD_GEN, which never matches.
 */
let gens: Int32Array = new Int32Array(1);
const DEAD_GEN = -1;
const EBUSY = 16;
const ESTALE = 116;

function mapGenerations(): void {
  if (gens.length > 1) return;
  const s = dpdk();
  const ptr = s.mdp_pool_gens_ptr()!;
  gens = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4 * s.mdp_const_max_pools()));
}

/**
 * Registers a user (a port, a device) that keeps the pool from being freed; returns its release.
 * @throws {MempoolError} `"InvalidArgument"` when `pool` is not a real {@linkcode Mempool}. @internal
 */
export let holdPool: (pool: Mempool, user: string) => () => void;

/** True when `x` is a pool made by this module (not an object that merely looks like one). @internal */
export let isMempool: (x: unknown) => x is Mempool;

/** This isolate's live handles by registry slot, so that lookup returns the same object. */
const poolsBySlot = new Map<number, Mempool>();

/**
 * A pool of packet buffers (mbufs) in DPDK memory.
 *
 * Create one with {@linkcode Mempool.create} (8192 mbufs, cache 256, default data room),
 * {@linkcode Mempool.createWithSize}, {@linkcode Mempool.createForMtu} or
 * {@linkcode Mempool.createWithOptions}; free it with `using` or `[Symbol.dispose]()`.
 *
 * @example
 * ```ts
 * import { Eal, Mempool } from "@melin/dpdk";
 * Eal.init(Eal.devOptions());
 * using pool = Mempool.createForMtu("jumbo", 4096, 9000);
 * console.log(pool.dataRoomSize); // 9146
 * ```
 */
export class Mempool implements Disposable {
  /** The pool's name (unique among the process's pools). */
  readonly name: string;
  /** Total number of mbufs. */
  readonly capacity: number;
  /** Per-lcore cache size DPDK uses for this pool. */
  readonly cacheSize: number;
  /** Bytes of packet buffer per mbuf, headroom included. */
  readonly dataRoomSize: number;
  /** Application private bytes per mbuf. */
  readonly privSize: number;
  /** NUMA socket the memory is on (`SOCKET_ID_ANY`, -1, when created with it). */
  readonly socketId: number;
  /** True when mbufs may straddle page boundaries (see {@linkcode MempoolOptions.packed}). */
  readonly packed: boolean;
  /** True when this object frees the pool on dispose; false for a pool found by lookup that
   * another isolate or C code created. */
  readonly owned: boolean;
  #ptr: Deno.PointerObject | null = null;
  /** The pool's address as a number for hot-path FFI calls; 0 once disposed. */
  #addr = 0;
  /** The pool's registry slot and generation: live while `gens[#slot] === #gen`. */
  #slot = 0;
  #gen = 0;
  /** Data bytes a fresh mbuf can hold after the headroom. */
  #room = 0;
  #untrack: () => void;
  /** Users (ports) that need the pool; dispose refuses while there are any. */
  #users = new Set<string>();

  static {
    isMempool = (x): x is Mempool => typeof x === "object" && x !== null && #gen in x;
    holdPool = (pool, user) => {
      if (!isMempool(pool)) {
        throw new MempoolError("InvalidArgument", "", `${user}: ${String(pool)} is not a Mempool`);
      }
      pool.#liveAddr("hold");
      pool.#users.add(user);
      return () => pool.#users.delete(user);
    };
  }

  private constructor(ptr: Deno.PointerObject, name: string, owned: boolean, slot: number, gen: number) {
    const facts = new Int32Array(7);
    dpdk().mdp_mempool_facts(ptr, facts);
    this.#ptr = ptr;
    this.name = name;
    this.capacity = facts[0];
    this.cacheSize = facts[1];
    this.socketId = facts[2];
    this.dataRoomSize = facts[3];
    this.privSize = facts[4];
    this.packed = facts[6] === 1;
    this.owned = owned;
    this.#room = Math.max(0, this.dataRoomSize - dpdkLimits().headroom);
    this.#addr = dpdk().mdp_addr_of(ptr);
    this.#slot = slot;
    this.#gen = gen;
    mapPoolMemory(this, ptr);
    this.#untrack = trackResource(this);
    poolsBySlot.set(slot, this);
  }

  /** A pool of {@linkcode DEFAULT_NUM_MBUFS} mbufs with DPDK's default data room (2176 bytes). */
  static create(name: string, socketId: number = SOCKET_ID_ANY): Mempool {
    return Mempool.createWithOptions(name, { numMbufs: DEFAULT_NUM_MBUFS, socketId });
  }

  /** A pool of `numMbufs` mbufs with DPDK's default data room. */
  static createWithSize(name: string, numMbufs: number, socketId: number = SOCKET_ID_ANY): Mempool {
    return Mempool.createWithOptions(name, { numMbufs, socketId });
  }

  /**
   * A pool whose mbufs hold one frame of `mtu` bytes of payload:
   * data room = mtu + 14 (Ethernet header) + 4 (CRC) + headroom (128).
   * `mtu` ranges from {@linkcode MIN_MTU} to {@linkcode Mempool.maxMtu} (65389), the largest whose
   * data room fits DPDK's 16-bit field.
   */
  static createForMtu(
    name: string,
    numMbufs: number,
    mtu: number,
    socketId: number = SOCKET_ID_ANY,
  ): Mempool {
    checkName(name);
    checkInt(name, "mtu", mtu, MIN_MTU, Mempool.maxMtu, " (its data room must fit DPDK's 16-bit field)");
    return Mempool.createWithOptions(name, { numMbufs, socketId, dataRoomSize: Mempool.dataRoomForMtu(mtu) });
  }

  /** A pool with every parameter of `rte_pktmbuf_pool_create`; unset ones take the defaults. */
  static createWithOptions(name: string, options: MempoolOptions = {}): Mempool {
    checkName(name);
    options = checkOptions<MempoolOptions>(poolArg(name), "options", options, OPTION_NAMES);
    const lim = dpdkLimits();
    const numMbufs = checkInt(name, "numMbufs", orDefault(options.numMbufs, DEFAULT_NUM_MBUFS), 0, MAX_U32);
    const o: Required<MempoolOptions> = {
      numMbufs,
      dataRoomSize: checkInt(
        name,
        "dataRoomSize",
        orDefault(options.dataRoomSize, lim.defaultBufSize),
        lim.headroom,
        MAX_U16,
        ` (DPDK stores it in 16 bits, and it includes the ${lim.headroom}-byte headroom)`,
      ),
      cacheSize: checkInt(
        name,
        "cacheSize",
        orDefault(options.cacheSize, Mempool.cacheSizeFor(numMbufs)),
        0,
        MAX_U32,
      ),
      privSize: checkInt(name, "privSize", orDefault(options.privSize, 0), 0, MAX_U16),
      socketId: checkInt(
        name,
        "socketId",
        orDefault(options.socketId, SOCKET_ID_ANY),
        SOCKET_ID_ANY,
        lim.maxNumaNodes - 1,
        " (SOCKET_ID_ANY is -1)",
      ),
      packed: options.packed ?? false, // the default is settled below, once EAL is known to run
    };
    if (options.packed !== undefined) checkBool(poolArg(name), "packed", options.packed);
    if (!ealRunning()) {
      const cause = ealNotRunningError(`Mempool.create(${JSON.stringify(name)})`);
      const errno = lim.eRteNoConfig;
      const errnoText = strerror(errno);
      throw new MempoolError("CreateFailed", name, `${cause.message} (rte_errno ${errno}: ${errnoText})`, {
        errno,
        errnoText,
        cause,
      });
    }
    requireEal("Mempool.create");
    const s = dpdk();
    // Packed by default where it costs nothing: no hugepages, IOVA as VA (see MempoolOptions.packed).
    o.packed = options.packed ?? (s.rte_eal_has_hugepages() === 0 && s.rte_eal_iova_mode() === RTE_IOVA_VA);
    const ptr = s.mdp_pktmbuf_pool_create(
      cString(name),
      o.numMbufs,
      o.cacheSize,
      o.privSize,
      o.dataRoomSize,
      o.socketId,
      o.packed ? s.mdp_const_mempool_f_no_iova_contig() : 0,
    );
    if (ptr === null) {
      const errno = s.mdp_errno();
      const errnoText = strerror(errno);
      throw new MempoolError(
        "CreateFailed",
        name,
        `Could not create mempool ${JSON.stringify(name)} (${o.numMbufs} mbufs, cache ${o.cacheSize}, ` +
          `data room ${o.dataRoomSize}, socket ${o.socketId}): rte_errno ${errno} (${errnoText}): ` +
          createFailedHint(errno, name, o),
        { errno, errnoText },
      );
    }
    mapGenerations();
    const reg = new Int32Array(2);
    if (s.mdp_pool_register(ptr, isolateSlot(), reg) !== 0) {
      s.rte_mempool_free(ptr);
      throw new MempoolError(
        "CreateFailed",
        name,
        `Could not create mempool ${JSON.stringify(name)}: the shim's pool registry is full ` +
          `(${s.mdp_const_max_pools()} pools): free pools you no longer use`,
      );
    }
    const pool = new Mempool(ptr, name, true, reg[0], reg[1]);
    logger.info("Created mempool {name}: {numMbufs} mbufs on socket {socketId}", {
      name,
      numMbufs: o.numMbufs,
      socketId: o.socketId,
      cacheSize: pool.cacheSize,
      dataRoomSize: pool.dataRoomSize,
      packed: o.packed,
    });
    return pool;
  }

  /**
   * Finds a pool by name (`rte_mempool_lookup`), or `null`. A pool this isolate created comes back
   * as the same object; a pool made elsewhere (another isolate, C code) comes back with
   * `owned: false`, and disposing that handle does not free the pool. Such a handle follows the
   * pool: once its owner disposes it, `disposed` is true and every use throws `Disposed` (the
   * memory stays until this handle is disposed too, so nothing in flight touches freed memory).
   * @throws {EalError} when EAL does not run.
   */
  static lookup(name: string): Mempool | null {
    checkName(name);
    requireEal("Mempool.lookup");
    mapGenerations();
    const out = new Int32Array(3);
    const ptr = dpdk().mdp_pool_lookup(cString(name), isolateSlot(), out);
    if (ptr === null) return null;
    const known = poolsBySlot.get(out[0]);
    if (known !== undefined && known.#gen === out[1]) return known;
    return new Mempool(ptr, name, out[2] === 1, out[0], out[1]);
  }

  /**
   * The cache size {@linkcode Mempool.create} uses for `numMbufs`: {@linkcode MBUF_CACHE_SIZE},
   * lowered to the largest size DPDK accepts. DPDK refuses a cache whose flush threshold
   * (cache × 1.5, rounded down) exceeds the pool, so cache 256 needs at least 384 mbufs.
   */
  static cacheSizeFor(numMbufs: number, wanted: number = MBUF_CACHE_SIZE): number {
    checkInt("", "Mempool.cacheSizeFor: numMbufs", numMbufs, 0, MAX_U32);
    checkInt("", "Mempool.cacheSizeFor: wanted", wanted, 0, MAX_U32);
    // Largest c with floor(1.5 c) <= n is ceil(2 (n + 1) / 3) - 1.
    const largest = Math.max(0, Math.ceil((2 * (numMbufs + 1)) / 3) - 1);
    return Math.min(wanted, dpdkLimits().maxCacheSize, largest);
  }

  /** The data room {@linkcode Mempool.createForMtu} gives for `mtu`. */
  static dataRoomForMtu(mtu: number): number {
    checkInt(
      "",
      "Mempool.dataRoomForMtu: mtu",
      mtu,
      MIN_MTU,
      Mempool.maxMtu,
      " (its data room must fit 16 bits)",
    );
    return mtu + ETHER_HDR_LEN + ETHER_CRC_LEN + dpdkLimits().headroom;
  }

  /** Largest MTU whose data room fits DPDK's 16-bit field (65389 with a 128-byte headroom). */
  static get maxMtu(): number {
    return MAX_U16 - ETHER_HDR_LEN - ETHER_CRC_LEN - dpdkLimits().headroom;
  }

  /** Longest pool name DPDK accepts, in UTF-8 bytes (`RTE_MEMPOOL_NAMESIZE - 1`, 25). */
  static get maxNameLength(): number {
    return dpdkLimits().maxNameLength;
  }

  /** DPDK's default data room per mbuf (`RTE_MBUF_DEFAULT_BUF_SIZE`, 2176). */
  static get defaultDataRoomSize(): number {
    return dpdkLimits().defaultBufSize;
  }

  /** Bytes reserved in front of packet data in each mbuf (`RTE_PKTMBUF_HEADROOM`, 128). */
  static get headroom(): number {
    return dpdkLimits().headroom;
  }

  /** Largest per-lcore cache DPDK allows (`RTE_MEMPOOL_CACHE_MAX_SIZE`, 512). */
  static get maxCacheSize(): number {
    return dpdkLimits().maxCacheSize;
  }

  #live(what: string): Deno.PointerObject {
    if (gens[this.#slot] === this.#gen && this.#ptr !== null) return this.#ptr;
    const where = `Mempool ${JSON.stringify(this.name)}.${what}`;
    if (!ealRunning()) {
      throw new MempoolError("Disposed", this.name, `${where}: EAL was cleaned up, and the pool with it`, {
        cause: ealNotRunningError(`Mempool.${what}`),
      });
    }
    throw new MempoolError(
      "Disposed",
      this.name,
      this.#gen !== DEAD_GEN && !this.owned
        ? `${where}: the pool was freed by the isolate that owns it (dispose this handle too)`
        : `${where}: the pool was freed`,
    );
  }

  /**
   * The pool's address for hot paths: throws unless the pool is live. One load: the registry
   * generation is 0 once the pool is freed (by any isolate) or EAL ended, and this handle's own
   * is DEAD_GEN once this isolate disposed it or left EAL.
   */
  #liveAddr(what: string): number {
    if (gens[this.#slot] !== this.#gen) this.#live(what);
    return this.#addr;
  }

  /**
   * Takes one mbuf (`rte_pktmbuf_alloc`): reset, data offset at the default headroom, length 0.
   * Returns `null` when the pool is empty: exhaustion is normal on a hot path, not an exception.
   */
  alloc(): Mbuf | null {
    if (gens[this.#slot] !== this.#gen) this.#live("alloc");
    return allocOne(this.#addr, this);
  }

  /**
   * Takes `count` mbufs (default: the batch's free room) into `batch` after its current entries,
   * in one call (`rte_pktmbuf_alloc_bulk`). All or nothing: returns `false` and takes none when the
   * pool holds fewer than `count`. With `dataLen`, each mbuf gets that many data bytes (as
   * `rte_pktmbuf_append` would), ready to be filled through `batch.at(i)`.
   * @throws {MbufError} `"BatchFull"` when `count` exceeds the batch's free room;
   * `"InvalidArgument"` for a bad count or a `dataLen` beyond the data room after the headroom.
   */
  allocBulk(batch: MbufBatch, count?: number, dataLen: number = 0): boolean {
    const a = this.#liveAddr("allocBulk");
    if (!(batch instanceof MbufBatch)) throw typeError(mbufArg, "allocBulk: batch", batch, "an MbufBatch");
    if (count === undefined) count = batch.free;
    else if (!(typeof count === "number" && (count >>> 0) === count)) {
      throw intError(mbufArg, "allocBulk: count", count, 0, batch.free);
    }
    if (count > batch.free) {
      throw new MbufError(
        "BatchFull",
        `allocBulk: ${count} mbufs do not fit; the batch has room for ${batch.free}`,
      );
    }
    if (!(typeof dataLen === "number" && (dataLen >>> 0) === dataLen && dataLen <= this.#room)) {
      throw intError(
        mbufArg,
        "allocBulk: dataLen",
        dataLen,
        0,
        this.#room,
        " (the data room after the headroom)",
      );
    }
    return batchAllocBulk(batch, a, this, count, dataLen);
  }

  /**
   * Returns the first `count` mbufs of `batch` (default: all) to their pool
   * (`rte_pktmbuf_free_bulk`, one call; mbufs of other pools go back to theirs); the batch's
   * remaining entries move to the front.
   * @throws {MbufError} `"InvalidArgument"` when `count` is not a whole number up to `batch.length`.
   */
  freeBulk(batch: MbufBatch, count?: number): void {
    this.#liveAddr("freeBulk");
    if (!(batch instanceof MbufBatch)) throw typeError(mbufArg, "freeBulk: batch", batch, "an MbufBatch");
    if (count === undefined) count = batch.length;
    else if (!(typeof count === "number" && (count >>> 0) === count && count <= batch.length)) {
      throw intError(mbufArg, "freeBulk: count", count, 0, batch.length, " (the batch's length)");
    }
    freeBulkFrom(batch, count);
  }

  /** Data bytes a fresh mbuf holds after its headroom: the largest single-segment frame. */
  get dataRoom(): number {
    return this.#room;
  }

  /** The pool's address as a number (for FFI calls that take `f64` addresses). */
  get address(): number {
    return this.#liveAddr("address");
  }

  /** The raw `struct rte_mempool*`, e.g. for `rte_eth_rx_queue_setup`. */
  get pointer(): Deno.PointerObject {
    return this.#live("pointer");
  }

  /** Mbufs free in the pool, per-lcore caches included (`rte_mempool_avail_count`; ≈50 ns). */
  get available(): number {
    return dpdk().rte_mempool_avail_count(this.#live("available"));
  }

  /** Mbufs taken out of the pool (`rte_mempool_in_use_count`). */
  get inUse(): number {
    return dpdk().rte_mempool_in_use_count(this.#live("inUse"));
  }

  /** True when every mbuf is in the pool. */
  get isFull(): boolean {
    return this.available === this.capacity;
  }

  /** True when no mbuf is left in the pool. */
  get isEmpty(): boolean {
    return this.available === 0;
  }

  /** True once the pool was freed (here, or by its owner in another isolate) or EAL cleaned up. */
  get disposed(): boolean {
    return gens[this.#slot] !== this.#gen;
  }

  /**
   * Frees the pool (`rte_mempool_free`) if this object owns it; a handle from
   * {@linkcode Mempool.lookup} of another isolate's pool only lets go of it. Idempotent; after it,
   * every use throws `MempoolError` `"Disposed"`.
   * @throws {MempoolError} `"InUse"` (nothing changes) while a port uses the pool or mbufs are out
   * of it — in batches, `Mbuf`s or driver queues, in any isolate: `inUse` says how many. Freeing
   * it then would hand those mbufs out again from the next pool made at the same address.
   */
  [Symbol.dispose](): void {
    const ptr = this.#ptr;
    if (ptr === null) return;
    const live = gens[this.#slot] === this.#gen;
    const cleaning = ealCleaningUp();
    // Also for a handle whose pool its owner freed: the memory lasts until this handle lets go,
    // and a port of this isolate may still take mbufs from it.
    if (this.#users.size > 0 && !cleaning) {
      throw new MempoolError(
        "InUse",
        this.name,
        `Mempool ${JSON.stringify(this.name)} is still used by ${[...this.#users].join(", ")}: ` +
          `stop and close those ports first (their queues hold the pool's mbufs)`,
      );
    }
    if (live && this.owned) {
      // During Eal.cleanup a pool with mbufs out stays, without owner, for whoever holds them.
      const out = new Uint32Array(1);
      const rc = dpdk().mdp_pool_free(this.#slot, this.#gen, cleaning ? 1 : 0, out);
      if (rc === -EBUSY) {
        throw new MempoolError(
          "InUse",
          this.name,
          `Mempool ${JSON.stringify(this.name)} still has ${out[0]} mbuf(s) out (in batches, Mbufs or ` +
            `driver queues): free them (pool.freeBulk, m.free()) and close ports using it first`,
          { inUse: out[0] },
        );
      }
      if (rc === 1) {
        logger.warn("Eal.cleanup: mempool {name} keeps {inUse} mbufs out; it stays, without owner", {
          name: this.name,
          inUse: out[0],
        });
      } else if (rc !== -ESTALE) logger.debug("Freed mempool {name}", { name: this.name });
    }
    this.#ptr = null;
    this.#addr = 0;
    this.#gen = DEAD_GEN;
    this.#untrack();
    if (poolsBySlot.get(this.#slot) === this) poolsBySlot.delete(this.#slot);
    unmapPoolMemory(this); // this isolate's views of the memory go first, then its borrow
    if (!this.owned) dpdk().mdp_pool_unborrow(this.#slot, isolateSlot());
  }
}
