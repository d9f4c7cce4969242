/**
 * Connections by 4-tuple in O(1): a fixed-capacity open-addressing hash table (linear probing,
 * backward-shift deletion, so no tombstones accumulate). The hash is keyed with a random seed
 * so a peer cannot aim its 4-tuples at one chain. Nothing is allocated after construction.
 *
 * @module
 */
import { badArgument, isU32 } from "../args.ts";
import { checkInteger, SocketError } from "./error.ts";

/** A table from (local IP, local port, remote IP, remote port) to values of type `T`. */
export class TcpTable<T> {
  readonly #localIp: Uint32Array;
  readonly #remoteIp: Uint32Array;
  readonly #ports: Uint32Array; // localPort << 16 | remotePort
  readonly #used: Uint8Array;
  readonly #values: (T | undefined)[];
  readonly #mask: number;
  readonly #limit: number;
  readonly #seed: number;
  #size = 0;
  #probes = 0;

  /**
   * Creates a table for up to `capacity` entries (its slots: the next power of two ≥ 2 × capacity).
   * @throws {SocketError} `InvalidArgument` unless `capacity` is a whole number in 1 … 2^22.
   */
  constructor(capacity: number, seed: number = crypto.getRandomValues(new Uint32Array(1))[0]) {
    checkInteger("TcpTable: capacity", capacity, 1, 1 << 22);
    let slots = 2;
    while (slots < 2 * capacity) slots *= 2;
    this.#localIp = new Uint32Array(slots);
    this.#remoteIp = new Uint32Array(slots);
    this.#ports = new Uint32Array(slots);
    this.#used = new Uint8Array(slots);
    this.#values = new Array(slots).fill(undefined);
    this.#mask = slots - 1;
    this.#limit = capacity;
    this.#seed = seed >>> 0;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }
  /** Most entries it holds. */
  get capacity(): number {
    return this.#limit;
  }
  /**
   * Slots examined so far by {@linkcode get}, {@linkcode set} and {@linkcode delete} (one per slot
   * compared, including the empty slot that ends a miss, and each slot the deletion shift visits).
   * It only grows; take the difference over a span of calls. With hashing working, the mean per
   * call stays a small constant whatever the size (load ≤ ½: about 1.5 for a hit, 2.5 for a miss);
   * a mean that grows with {@linkcode size} means the 4-tuples are piling into one run.
   */
  get probes(): number {
    return this.#probes;
  }

  #slot(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    if (
      typeof localIp !== "number" || typeof localPort !== "number" || typeof remoteIp !== "number" ||
      typeof remotePort !== "number"
    ) {
      throw new SocketError("InvalidArgument", "TcpTable: addresses and ports must be numbers");
    }
    // Keyed mixing of the three words (murmur3's multiply-rotate and finalizer).
    let h = this.#seed;
    h = mix(h, localIp);
    h = mix(h, remoteIp);
    h = mix(h, ((localPort & 0xffff) << 16) | (remotePort & 0xffff));
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.#mask;
  }

  /** The value for the 4-tuple, or undefined. */
  get(localIp: number, localPort: number, remoteIp: number, remotePort: number): T | undefined {
    const ports = (((localPort & 0xffff) << 16) | (remotePort & 0xffff)) >>> 0;
    for (let i = this.#slot(localIp, localPort, remoteIp, remotePort);; i = (i + 1) & this.#mask) {
      this.#probes++;
      if (this.#used[i] === 0) return undefined;
      if (
        this.#ports[i] === ports && this.#localIp[i] === localIp >>> 0 && this.#remoteIp[i] === remoteIp >>> 0
      ) {
        return this.#values[i];
      }
    }
  }

  /**
   * Adds or replaces the value for the 4-tuple. Returns false (nothing changed) when the table
   * is full and the 4-tuple is new.
   * @throws {SocketError} `InvalidArgument` for an address that is not a u32 or a port beyond 16 bits.
   */
  set(localIp: number, localPort: number, remoteIp: number, remotePort: number, value: T): boolean {
    if (!isU32(localIp) || !isU32(remoteIp)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("TcpTable.set", "address", isU32(localIp) ? remoteIp : localIp, "a u32 IPv4 address"),
      );
    }
    checkInteger("TcpTable.set: localPort", localPort, 0, 0xffff);
    checkInteger("TcpTable.set: remotePort", remotePort, 0, 0xffff);
    const ports = (((localPort & 0xffff) << 16) | (remotePort & 0xffff)) >>> 0;
    let i = this.#slot(localIp, localPort, remoteIp, remotePort);
    for (;; i = (i + 1) & this.#mask) {
      this.#probes++;
      if (this.#used[i] === 0) break;
      if (
        this.#ports[i] === ports && this.#localIp[i] === localIp >>> 0 && this.#remoteIp[i] === remoteIp >>> 0
      ) {
        this.#values[i] = value;
        return true;
      }
    }
    if (this.#size === this.#limit) return false;
    this.#used[i] = 1;
    this.#localIp[i] = localIp;
    this.#remoteIp[i] = remoteIp;
    this.#ports[i] = ports;
    this.#values[i] = value;
    this.#size++;
    return true;
  }

  /** Removes the 4-tuple; returns whether it was there. */
  delete(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    const ports = (((localPort & 0xffff) << 16) | (remotePort & 0xffff)) >>> 0;
    let i = this.#slot(localIp, localPort, remoteIp, remotePort);
    for (;; i = (i + 1) & this.#mask) {
      this.#probes++;
      if (this.#used[i] === 0) return false;
      if (
        this.#ports[i] === ports && this.#localIp[i] === localIp >>> 0 && this.#remoteIp[i] === remoteIp >>> 0
      ) {
        break;
      }
    }
    // Backward-shift: move later entries of the run into the hole when their home allows it.
    const m = this.#mask;
    let hole = i;
    for (let j = (i + 1) & m; this.#used[j] !== 0; j = (j + 1) & m) {
      this.#probes++;
      const home = this.#slot(
        this.#localIp[j],
        this.#ports[j] >>> 16,
        this.#remoteIp[j],
        this.#ports[j] & 0xffff,
      );
      // j may move to the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      this.#localIp[hole] = this.#localIp[j];
      this.#remoteIp[hole] = this.#remoteIp[j];
      this.#ports[hole] = this.#ports[j];
      this.#values[hole] = this.#values[j];
      hole = j;
    }
    this.#used[hole] = 0;
    this.#values[hole] = undefined;
    this.#size--;
    return true;
  }

  /** Calls `fn` for every value (in slot order). */
  forEach(fn: (value: T) => void): void {
    for (let i = 0; i <= this.#mask; i++) if (this.#used[i] !== 0) fn(this.#values[i] as T);
  }
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
