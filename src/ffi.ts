/**
 * The one FFI symbol table and the loader of the C shim.
 *
 * The shim (`csrc/shim_*.c`, built by `deno task build` into `build/`) re-exports what FFI
 * cannot reach in DPDK: inline functions, macros and the thread-local `rte_errno`. Exported DPDK
 * functions are listed here too and resolve through the shim's handle, which also searches the
 * DPDK libraries the shim links.
 *
 * The library is opened lazily, on the first call that needs it, so that importing this module
 * works on machines without DPDK (documentation, type checks).
 *
 * @module
 */

/** Environment variable that overrides the path of the shim library. */
export const SHIM_ENV_VAR = "MELIN_DPDK_SHIM";

/** The build command, named in errors when the library is missing. */
export const BUILD_COMMAND = "deno task build";

const SHIM_FILE = "libmelin_dpdk.so";

/** FFI signatures. Names starting with `mdp_` are the shim's; `rte_` are DPDK's own exports. */
export const SYMBOLS = {
  // EAL lifecycle (shim: serialized, process-wide state)
  mdp_eal_init: { parameters: ["buffer", "u32", "i32", "buffer"], result: "i32" },
  mdp_eal_args: { parameters: ["buffer", "u32"], result: "u32" },
  mdp_eal_state_ptr: { parameters: [], result: "pointer" },
  // Isolates using EAL (shim: "Isolates"): a slot and a liveness word each
  mdp_isolate_words_ptr: { parameters: [], result: "pointer" },
  mdp_const_max_isolates: { parameters: [], result: "u32" },
  mdp_isolate_open: { parameters: [], result: "i32" },
  mdp_eal_join: { parameters: ["i32"], result: "i32" }, // int32_t slot
  mdp_eal_leave: { parameters: ["i32"], result: "i32" }, // int32_t slot
  mdp_thread_register: { parameters: [], result: "i32" },
  mdp_lcore_id: { parameters: [], result: "i32" },
  mdp_errno: { parameters: [], result: "i32" },
  mdp_runtime_dir: { parameters: [], result: "pointer" },
  mdp_memory_limits_mb: { parameters: ["buffer"], result: "void" }, // uint32_t out[2]: physical, RTE_MAX_MEM_MB
  mdp_tsc_ms: { parameters: [], result: "f64" }, // ms on the TSC since EAL started; 0 before
  // Constants (macros and enum values)
  mdp_const_mbuf_default_buf_size: { parameters: [], result: "u32" },
  mdp_const_pktmbuf_headroom: { parameters: [], result: "u32" },
  mdp_const_mempool_namesize: { parameters: [], result: "u32" },
  mdp_const_mempool_cache_max_size: { parameters: [], result: "u32" },
  mdp_const_max_lcore: { parameters: [], result: "u32" },
  mdp_const_max_numa_nodes: { parameters: [], result: "u32" },
  mdp_const_e_rte_no_config: { parameters: [], result: "i32" },
  // Mempool
  mdp_mempool_facts: { parameters: ["pointer", "buffer"], result: "void" },
  mdp_mempool_chunks: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  // Pool registry (shim: "Pool registry"): process-wide slot + generation per pool
  mdp_pool_gens_ptr: { parameters: [], result: "pointer" },
  mdp_const_max_pools: { parameters: [], result: "u32" },
  mdp_pool_register: {
    parameters: [
      "pointer", // struct rte_mempool *mp
      "i32", // int32_t owner (isolate slot)
      "buffer", // int32_t *out: slot, generation
    ],
    result: "i32",
  },
  mdp_pool_lookup: {
    parameters: [
      "buffer", // const char *name
      "i32", // int32_t iso (isolate slot)
      "buffer", // int32_t *out: slot, generation, owned
    ],
    result: "pointer",
  },
  mdp_pool_unborrow: { parameters: ["i32", "i32"], result: "void" }, // int32_t slot, int32_t iso
  mdp_pool_free: {
    parameters: [
      "i32", // int32_t slot
      "i32", // int32_t gen
      "i32", // int32_t disown (keep the pool, ownerless, when mbufs are out)
      "buffer", // uint32_t *out_in_use
    ],
    result: "i32",
  },
  // Mbufs. Addresses cross as f64 (exact below 2^53): a 64-bit integer result would be a BigInt.
  mdp_addr_of: { parameters: ["pointer"], result: "f64" },
  mdp_mbuf_layout: { parameters: ["buffer"], result: "u32" },
  mdp_pktmbuf_alloc: { parameters: ["f64"], result: "f64" },
  mdp_pktmbuf_free: { parameters: ["f64"], result: "void" },
  mdp_pktmbuf_reset: { parameters: ["f64"], result: "void" },
  mdp_pktmbuf_append: { parameters: ["f64", "u32"], result: "f64" },
  mdp_pktmbuf_prepend: { parameters: ["f64", "u32"], result: "f64" },
  mdp_pktmbuf_adj: { parameters: ["f64", "u32"], result: "f64" },
  mdp_pktmbuf_trim: { parameters: ["f64", "u32"], result: "i32" },
  mdp_pktmbuf_chain: { parameters: ["f64", "f64"], result: "i32" },
  mdp_pktmbuf_read: { parameters: ["f64", "u32", "u32", "buffer"], result: "i32" },
  mdp_pktmbuf_copy: { parameters: ["f64", "f64", "u32", "u32"], result: "f64" },
  // Ports (shim: struct-filling and inline functions)
  mdp_eth_dev_info: { parameters: ["u16", "buffer", "buffer", "u32"], result: "i32" },
  mdp_eth_configure: { parameters: ["u16", "u16", "u16", "u32", "u32", "u32"], result: "i32" },
  mdp_eth_adjust_desc: { parameters: ["u16", "buffer"], result: "i32" },
  mdp_eth_macaddr: { parameters: ["u16", "buffer"], result: "i32" },
  mdp_eth_link: { parameters: ["u16", "buffer"], result: "i32" },
  mdp_eth_stats: { parameters: ["u16", "buffer"], result: "i32" },
  // Port claims (one isolate per port) and start/stop that the shim records; stop drains rx first
  mdp_port_claim: { parameters: ["u16", "i32", "u16"], result: "i32" }, // port, iso, nb_rxq
  mdp_port_release: { parameters: ["u16", "i32"], result: "void" }, // port, iso
  mdp_vdev_claim: { parameters: ["u16", "i32", "buffer"], result: "i32" }, // port, iso, const char *name
  mdp_vdev_detach: { parameters: ["u16", "buffer"], result: "i32" }, // uint16_t port, const char *name
  mdp_eth_start: { parameters: ["u16"], result: "i32" }, // uint16_t port
  mdp_eth_stop: { parameters: ["u16", "u16"], result: "i32" }, // uint16_t port, uint16_t nb_rxq
  // Batches: one memory block passed by address (csrc: "Batches"), so no typed array is marshalled.
  mdp_batch_describe: { parameters: ["f64", "u32", "u32", "u32", "f64", "u32"], result: "void" },
  mdp_batch_alloc: { parameters: ["f64", "f64", "u32", "u32", "u32", "u32", "f64", "u32"], result: "i32" },
  mdp_batch_free: { parameters: ["f64", "u32", "u32"], result: "void" },
  mdp_batch_rx: { parameters: ["u16", "u16", "f64", "u32", "u32", "f64", "u32"], result: "u32" },
  mdp_batch_tx: { parameters: ["u16", "u16", "f64", "u32"], result: "u32" },
  mdp_batch_tx_sized: { parameters: ["u16", "u16", "f64", "u32", "u32"], result: "u32" },
  // Send with lengths from the column, unsent and spares to the front, refill to fill_to: one call per flush
  mdp_batch_tx_refill: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "f64", // double batch (block address)
      "u32", // uint32_t cap
      "u32", // uint32_t n (entries to send)
      "u32", // uint32_t len (entries in the batch)
      "f64", // double mp (pool to refill from)
      "u32", // uint32_t fill_to
      "u32", // uint32_t data_len (of refilled mbufs)
      "f64", // double base (chunk to describe against)
      "u32", // uint32_t base_len
    ],
    result: "u32", // sent | 0x10000 when the refill failed
  },
  // Free the previous burst, receive and describe the next: one call per poll
  mdp_batch_free_rx: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "f64", // double batch (block address)
      "u32", // uint32_t cap
      "u32", // uint32_t free_n (the batch's length)
      "f64", // double base
      "u32", // uint32_t base_len
    ],
    result: "u32", // received
  },
  mdp_mbuf_tx_cksum_ipv4: { parameters: ["f64", "u32", "u32", "u32"], result: "i32" },
  // Copy and checksum: the bytes' sum as big-endian 16-bit words, folded, not complemented
  mdp_copy_cksum: { parameters: ["f64", "f64", "u32"], result: "u32" }, // double dst, double src, uint32_t n
  mdp_cksum: { parameters: ["f64", "u32"], result: "u32" }, // double src, uint32_t n (no copy)
  mdp_copy: { parameters: ["f64", "f64", "u32"], result: "void" }, // double dst, double src, uint32_t n (memmove)
  mdp_copy_cksum_level: { parameters: [], result: "i32" }, // the form in use: 2 AVX2, 0 baseline
  mdp_copy_cksum_base: { parameters: ["f64", "f64", "u32"], result: "u32" }, // as mdp_copy_cksum, baseline form
  mdp_cksum_base: { parameters: ["f64", "u32"], result: "u32" }, // as mdp_cksum, baseline form
  // DPDK exports: ports and devices
  rte_eth_dev_count_avail: { parameters: [], result: "u16" },
  rte_eth_dev_is_valid_port: { parameters: ["u16"], result: "i32" },
  rte_eth_dev_get_port_by_name: { parameters: ["buffer", "buffer"], result: "i32" },
  rte_eth_dev_get_name_by_port: { parameters: ["u16", "buffer"], result: "i32" },
  rte_eth_dev_socket_id: { parameters: ["u16"], result: "i32" },
  rte_eth_rx_queue_setup: { parameters: ["u16", "u16", "u16", "u32", "pointer", "pointer"], result: "i32" },
  rte_eth_tx_queue_setup: { parameters: ["u16", "u16", "u16", "u32", "pointer"], result: "i32" },
  rte_eth_dev_close: { parameters: ["u16"], result: "i32" },
  rte_eth_promiscuous_enable: { parameters: ["u16"], result: "i32" },
  rte_eth_promiscuous_disable: { parameters: ["u16"], result: "i32" },
  rte_eth_promiscuous_get: { parameters: ["u16"], result: "i32" },
  rte_eth_dev_set_mtu: { parameters: ["u16", "u16"], result: "i32" },
  rte_eth_dev_get_mtu: { parameters: ["u16", "buffer"], result: "i32" },
  rte_eth_stats_reset: { parameters: ["u16"], result: "i32" },
  rte_eth_xstats_reset: { parameters: ["u16"], result: "i32" },
  rte_eth_xstats_get_names: { parameters: ["u16", "buffer", "u32"], result: "i32" },
  rte_eth_xstats_get: { parameters: ["u16", "buffer", "u32"], result: "i32" },
  rte_dev_probe: { parameters: ["buffer"], result: "i32" },
  rte_eal_hotplug_remove: { parameters: ["buffer", "buffer"], result: "i32" },
  // DPDK exports
  rte_strerror: { parameters: ["i32"], result: "pointer" },
  rte_version: { parameters: [], result: "pointer" },
  rte_socket_count: { parameters: [], result: "u32" },
  rte_lcore_count: { parameters: [], result: "u32" },
  mdp_pktmbuf_pool_create: {
    parameters: ["buffer", "u32", "u32", "u16", "u16", "i32", "u32"],
    result: "pointer",
  },
  mdp_const_mempool_f_no_iova_contig: { parameters: [], result: "u32" },
  rte_eal_iova_mode: { parameters: [], result: "i32" },
  rte_eal_has_hugepages: { parameters: [], result: "i32" },
  rte_mempool_free: { parameters: ["pointer"], result: "void" }, // struct rte_mempool *mp
  rte_mempool_avail_count: { parameters: ["pointer"], result: "u32" },
  rte_mempool_in_use_count: { parameters: ["pointer"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded symbols. */
export type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Why the shim could not be loaded:
 * - `"PermissionDenied"`: Deno runs without `--allow-ffi` (or without ffi access to the shim's path).
 * - `"NotBuilt"`: the shim file is missing.
 * - `"LoadFailed"`: the file exists but could not be opened (e.g. built against another DPDK).
 * - `"NoLocalBuild"`: the package was loaded from a remote URL and `MELIN_DPDK_SHIM` is not set.
 */
export type LibraryLoadErrorKind = "PermissionDenied" | "NotBuilt" | "LoadFailed" | "NoLocalBuild";

/** The shim library could not be found or opened; `kind` says why, the message what to do. */
export class LibraryLoadError extends Error {
  /** The path that was tried. */
  readonly path: string;
  /** Why it failed. */
  readonly kind: LibraryLoadErrorKind;
  /** Creates the error for `path`. */
  constructor(path: string, message: string, options?: ErrorOptions & { kind?: LibraryLoadErrorKind }) {
    super(message, options);
    this.name = "LibraryLoadError";
    this.path = path;
    this.kind = options?.kind ?? "LoadFailed";
  }
}

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function envOverride(): string | undefined {
  // Reading the environment needs --allow-env; without it, the local build is used.
  const status = Deno.permissions.querySync({ name: "env", variable: SHIM_ENV_VAR });
  if (status.state !== "granted") return undefined;
  const value = Deno.env.get(SHIM_ENV_VAR);
  return value && value.length > 0 ? value : undefined;
}

/** Path of the shim: `$MELIN_DPDK_SHIM`, else `build/libmelin_dpdk.so` next to this package. */
export function shimPath(): string {
  const override = envOverride();
  if (override !== undefined) return override;
  const url = new URL(`../build/${SHIM_FILE}`, import.meta.url);
  if (url.protocol !== "file:") {
    throw new LibraryLoadError(
      url.href,
      `@melin/dpdk was loaded from ${url.protocol}// and has no local build of its C shim: ` +
        `build it in a checkout with \`${BUILD_COMMAND}\` and set ${SHIM_ENV_VAR} to the built ${SHIM_FILE}.`,
      { kind: "NoLocalBuild" },
    );
  }
  return decodeURIComponent(url.pathname);
}

/** The shim's symbols, opening the library on first use. */
export function dpdk(): Symbols {
  if (library !== undefined) return library.symbols;
  const path = shimPath();
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new LibraryLoadError(
        path,
        `@melin/dpdk needs FFI access to load its C shim ${path}: run Deno with --allow-ffi ` +
          `(e.g. deno run --allow-ffi --allow-read --allow-env main.ts). This is a permission problem, not a build problem.`,
        { cause: e, kind: "PermissionDenied" },
      );
    }
    const missing = /No such file|cannot open shared object/i.test(reason);
    throw new LibraryLoadError(
      path,
      missing
        ? `The @melin/dpdk C shim is not built (${path} is missing): run \`${BUILD_COMMAND}\` ` +
          `(it installs DPDK when needed), or set ${SHIM_ENV_VAR} to a built ${SHIM_FILE}.`
        : `Could not load the @melin/dpdk C shim ${path}: ${reason}. Rebuild it with \`${BUILD_COMMAND}\` ` +
          `against the installed DPDK (pkg-config --modversion libdpdk).`,
      { cause: e, kind: missing ? "NotBuilt" : "LoadFailed" },
    );
  }
  return library.symbols;
}

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `s`, for `const char*` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Reads a C string returned by DPDK ("" for NULL). */
export function readCString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** DPDK's text for an errno value (`rte_strerror`), including DPDK's own codes above 1000. */
export function strerror(errno: number): string {
  return readCString(dpdk().rte_strerror(errno));
}
