/**
 * The error type of packet buffer pools ({@linkcode MempoolError}).
 *
 * @module
 */

/**
 * What went wrong with a pool:
 * - `"InvalidName"`: empty, contains a NUL byte, or longer than DPDK allows; nothing was created.
 * - `"InvalidArgument"`: a size, MTU or socket id that DPDK would misread (e.g. a data room that
 *   does not fit its 16-bit field); nothing was created.
 * - `"CreateFailed"`: DPDK refused; `errno`/`errnoText` say why (name exists, out of memory,
 *   invalid size or cache, EAL not started).
 * - `"Disposed"`: the pool was freed (by dispose or {@linkcode Eal.cleanup}, in this isolate or, for
 *   a handle from {@linkcode Mempool.lookup}, by its owner) and cannot be used.
 * - `"InUse"`: the pool cannot be freed while a port uses it or while mbufs are out of it (in
 *   batches, `Mbuf`s, driver queues): `inUse` says how many. Close the ports, free the mbufs.
 */
export type MempoolErrorKind = "InvalidName" | "InvalidArgument" | "CreateFailed" | "Disposed" | "InUse";

/** A pool error; `kind` discriminates, the message says what to change. */
export class MempoolError extends Error {
  /** Which error this is. */
  readonly kind: MempoolErrorKind;
  /** The pool name involved. */
  readonly poolName: string;
  /** `rte_errno` for `"CreateFailed"`, else `null`. */
  readonly errno: number | null;
  /** DPDK's text for `errno` (`rte_strerror`), or `""`. */
  readonly errnoText: string;
  /** For `"InUse"` refused because mbufs are out: how many (`rte_mempool_in_use_count`); else 0. */
  readonly inUse: number;

  /** Creates an error; `message` should say what to change. */
  constructor(
    kind: MempoolErrorKind,
    poolName: string,
    message: string,
    details: { errno?: number; errnoText?: string; cause?: unknown; inUse?: number } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = "MempoolError";
    this.kind = kind;
    this.poolName = poolName;
    this.errno = details.errno ?? null;
    this.errnoText = details.errnoText ?? "";
    this.inUse = details.inUse ?? 0;
  }
}
