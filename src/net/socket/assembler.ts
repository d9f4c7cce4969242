/**
 * Out-of-order reassembly bookkeeping: which byte ranges past the in-order point have arrived.
 * The bytes themselves sit in the receive ring; this only records where. Bounded: it holds at
 * most a fixed number of disjoint ranges, and refuses (without change) a segment that would
 * need one more.
 *
 * @module
 */
import { badArgument } from "../args.ts";
import { checkInteger, SocketError } from "./error.ts";

/** Disjoint, sorted ranges `[start, end)` of offsets relative to the in-order point (offset 0). */
export class Assembler {
  readonly #starts: Int32Array;
  readonly #ends: Int32Array;
  #count = 0;

  /**
   * Creates an assembler for up to `maxRanges` disjoint ranges.
   * @throws {SocketError} `InvalidArgument` unless `maxRanges` is a whole number in 1 … 1024.
   */
  constructor(maxRanges: number) {
    checkInteger("Assembler: maxRanges", maxRanges, 1, 1024);
    this.#starts = new Int32Array(maxRanges);
    this.#ends = new Int32Array(maxRanges);
  }

  /** Disjoint ranges held. */
  get count(): number {
    return this.#count;
  }
  /** Most ranges it can hold. */
  get capacity(): number {
    return this.#starts.length;
  }
  /** True when nothing past the in-order point has arrived. */
  get isEmpty(): boolean {
    return this.#count === 0;
  }
  /** Start of range `i` (0 ≤ i < count). */
  start(i: number): number {
    return this.#starts[i];
  }
  /** End (exclusive) of range `i`. */
  end(i: number): number {
    return this.#ends[i];
  }
  /** Forgets every range. */
  clear(): void {
    this.#count = 0;
  }

  /**
   * Records that `[offset, offset + length)` arrived (merging with what it touches). Returns
   * false, changing nothing, when that would take more ranges than the capacity. `offset ≥ 0`,
   * `length > 0`.
   * @throws {SocketError} `InvalidArgument` for an offset or length that is not a whole number in range.
   */
  add(offset: number, length: number): boolean {
    if (
      !(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length > 0 &&
        offset + length <= 2 ** 31 - 1)
    ) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("Assembler.add", "range", `[${offset}, ${offset} + ${length})`, "offset ≥ 0, length ≥ 1"),
      );
    }
    const s = this.#starts;
    const e = this.#ends;
    const end = offset + length;
    let i = 0;
    while (i < this.#count && e[i] < offset) i++; // first range ending at or after offset
    let j = i;
    while (j < this.#count && s[j] <= end) j++; // ranges i .. j-1 touch the new one
    if (i === j) {
      if (this.#count === s.length) return false;
      for (let k = this.#count; k > i; k--) {
        s[k] = s[k - 1];
        e[k] = e[k - 1];
      }
      s[i] = offset;
      e[i] = end;
      this.#count++;
      return true;
    }
    if (s[i] > offset) s[i] = offset;
    e[i] = e[j - 1] > end ? e[j - 1] : end;
    const removed = j - i - 1;
    if (removed > 0) {
      for (let k = i + 1; k + removed < this.#count; k++) {
        s[k] = s[k + removed];
        e[k] = e[k + removed];
      }
      this.#count -= removed;
    }
    return true;
  }

  /**
   * Moves the in-order point `n` bytes on (bytes that arrived in order): ranges it covers are
   * dropped or cut, the rest renumbered. Never needs a range, so in-order data is always accepted.
   * @throws {SocketError} `InvalidArgument` unless `n` is a whole number ≥ 0.
   */
  advance(n: number): void {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("Assembler.advance", "n", n, "a whole number ≥ 0"),
      );
    }
    const s = this.#starts;
    const e = this.#ends;
    let k = 0;
    for (let i = 0; i < this.#count; i++) {
      if (e[i] <= n) continue;
      s[k] = s[i] > n ? s[i] - n : 0;
      e[k] = e[i] - n;
      k++;
    }
    this.#count = k;
  }

  /**
   * Removes the range that starts at offset 0, if any, and moves the in-order point past it:
   * returns its length (0 when the front is still missing). The other ranges are renumbered.
   */
  removeFront(): number {
    if (this.#count === 0 || this.#starts[0] !== 0) return 0;
    const s = this.#starts;
    const e = this.#ends;
    const n = e[0];
    this.#count--;
    for (let k = 0; k < this.#count; k++) {
      s[k] = s[k + 1] - n;
      e[k] = e[k + 1] - n;
    }
    return n;
  }
}
