/**
 * The error type of mbufs and batches ({@linkcode MbufError}), and their argument checks.
 *
 * @module
 */
import { type ArgError, intError } from "./validate.ts";

/**
 * What went wrong with an mbuf or batch:
 * - `"Freed"`: the mbuf was freed (or handed over: chained, pushed into a batch).
 * - `"PoolDisposed"`: the mbuf's pool was freed (or EAL cleaned up).
 * - `"InvalidArgument"`: a length or count that is not a whole number in range.
 * - `"IndexOutOfRange"`: a batch index outside `0 .. length-1`.
 * - `"BatchFull"`: more mbufs than the batch has room for.
 * - `"ChainTooLong"`: chaining would exceed DPDK's segment limit.
 * - `"NotMapped"`: an address outside every live pool of this isolate (e.g. a pool made by C code
 *   and not found with `Mempool.lookup`).
 */
export type MbufErrorKind =
  | "Freed"
  | "PoolDisposed"
  | "InvalidArgument"
  | "IndexOutOfRange"
  | "BatchFull"
  | "ChainTooLong"
  | "NotMapped";

/** An mbuf or batch error; `kind` discriminates. */
export class MbufError extends Error {
  /** Which error this is. */
  readonly kind: MbufErrorKind;
  /** Creates an error. */
  constructor(kind: MbufErrorKind, message: string) {
    super(message);
    this.name = "MbufError";
    this.kind = kind;
  }
}

/** Builds MbufError InvalidArgument (for the validate.ts checks; mempool.ts and port.ts too). @internal */
export const mbufArg: ArgError = (message) => new MbufError("InvalidArgument", message);

/** Throws MbufError InvalidArgument unless `n` is a whole number in 0..`max`. @internal */
export function checkLength(what: string, n: number, max = 0xffff): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
    throw intError(mbufArg, `${what}: length`, n, 0, max);
  }
}
