/**
 * Initial sequence numbers per RFC 6528 (`ISN = M + F(4-tuple, secret)`, `M` a clock ticking every
 * 4 µs) and ephemeral-port offsets per RFC 6056 (algorithm 3), both from SipHash-2-4, a keyed
 * hash written here on 32-bit halves (no BigInt, no allocation per call).
 *
 * @module
 */
import { SocketError } from "./error.ts";

/** SipHash-2-4 with a 128-bit key; results as two 32-bit halves. */
export class SipHash24 {
  readonly #k = new Uint32Array(4); // k0 lo, k0 hi, k1 lo, k1 hi
  /** Low 32 bits of the last hash. */
  lo: number = 0;
  /** High 32 bits of the last hash. */
  hi: number = 0;
  // v0..v3 as lo/hi pairs
  #v = new Uint32Array(8);

  /**
   * Creates a hasher keyed with the 16 bytes of `key` (little-endian halves, as the reference).
   * @throws {SocketError} `InvalidArgument` unless `key` holds 16 bytes.
   */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 16) {
      throw new SocketError("InvalidArgument", `SipHash24: key must be 16 bytes, got ${key?.length}`);
    }
    for (let i = 0; i < 4; i++) {
      this.#k[i] = (key[4 * i] | (key[4 * i + 1] << 8) | (key[4 * i + 2] << 16) | (key[4 * i + 3] << 24)) >>>
        0;
    }
  }

  /** A hasher with a key from the system's secure random source. */
  static random(): SipHash24 {
    return new SipHash24(crypto.getRandomValues(new Uint8Array(16)));
  }

  /** Hashes `bytes[off .. off + len)`; returns the low 32 bits (the high ones are in `hi`). */
  hash(bytes: Uint8Array, off: number, len: number): number {
    this.#init();
    const full = len - (len & 7);
    for (let i = 0; i < full; i += 8) {
      const a = off + i;
      this.#block(
        (bytes[a] | (bytes[a + 1] << 8) | (bytes[a + 2] << 16) | (bytes[a + 3] << 24)) >>> 0,
        (bytes[a + 4] | (bytes[a + 5] << 8) | (bytes[a + 6] << 16) | (bytes[a + 7] << 24)) >>> 0,
      );
    }
    let lo = 0;
    let hi = (len & 0xff) << 24;
    for (let i = full; i < len; i++) {
      const byte = bytes[off + i];
      const k = i - full;
      if (k < 4) lo |= byte << (8 * k);
      else hi |= byte << (8 * (k - 4));
    }
    this.#block(lo >>> 0, hi >>> 0);
    return this.#finish();
  }

  /** Hashes three 32-bit words (as 12 little-endian bytes), without a byte buffer. */
  hash3(a: number, b: number, c: number): number {
    this.#init();
    this.#block(a >>> 0, b >>> 0);
    this.#block(c >>> 0, (12 << 24) >>> 0);
    return this.#finish();
  }

  #init(): void {
    const k = this.#k;
    const v = this.#v;
    v[0] = k[0] ^ 0x70736575;
    v[1] = k[1] ^ 0x736f6d65;
    v[2] = k[2] ^ 0x6e646f6d;
    v[3] = k[3] ^ 0x646f7261;
    v[4] = k[0] ^ 0x6e657261;
    v[5] = k[1] ^ 0x6c796765;
    v[6] = k[2] ^ 0x79746573;
    v[7] = k[3] ^ 0x74656462;
  }

  #block(mlo: number, mhi: number): void {
    const v = this.#v;
    v[6] ^= mlo;
    v[7] ^= mhi;
    this.#rounds(2);
    v[0] ^= mlo;
    v[1] ^= mhi;
  }

  #finish(): number {
    const v = this.#v;
    v[4] ^= 0xff;
    this.#rounds(4);
    this.lo = (v[0] ^ v[2] ^ v[4] ^ v[6]) >>> 0;
    this.hi = (v[1] ^ v[3] ^ v[5] ^ v[7]) >>> 0;
    return this.lo;
  }

  #rounds(n: number): void {
    const v = this.#v;
    let v0l = v[0], v0h = v[1], v1l = v[2], v1h = v[3], v2l = v[4], v2h = v[5], v3l = v[6], v3h = v[7];
    let t: number, l: number, h: number;
    for (let r = 0; r < n; r++) {
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      l = v0l + v1l;
      v0h = (v0h + v1h + (l > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = l >>> 0;
      h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
      v1h = h;
      v1l = (v1l ^ v0l) >>> 0;
      v1h = (v1h ^ v0h) >>> 0;
      t = v0l;
      v0l = v0h;
      v0h = t;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      l = v2l + v3l;
      v2h = (v2h + v3h + (l > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = l >>> 0;
      h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
      v3h = h;
      v3l = (v3l ^ v2l) >>> 0;
      v3h = (v3h ^ v2h) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      l = v0l + v3l;
      v0h = (v0h + v3h + (l > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = l >>> 0;
      h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
      v3h = h;
      v3l = (v3l ^ v0l) >>> 0;
      v3h = (v3h ^ v0h) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      l = v2l + v1l;
      v2h = (v2h + v1h + (l > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = l >>> 0;
      h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
      v1h = h;
      v1l = (v1l ^ v2l) >>> 0;
      v1h = (v1h ^ v2h) >>> 0;
      t = v2l;
      v2l = v2h;
      v2h = t;
    }
    v[0] = v0l;
    v[1] = v0h;
    v[2] = v1l;
    v[3] = v1h;
    v[4] = v2l;
    v[5] = v2h;
    v[6] = v3l;
    v[7] = v3h;
  }
}

/**
 * Initial sequence numbers per RFC 6528: a keyed hash of the connection's 4-tuple plus a clock
 * that ticks every 4 µs, so successive connections of one 4-tuple get increasing numbers and an
 * off-path attacker cannot guess them.
 */
export class IsnGenerator {
  readonly #hash: SipHash24;
  /** Creates a generator; without a key, a random one. */
  constructor(key?: Uint8Array) {
    this.#hash = key === undefined ? SipHash24.random() : new SipHash24(key);
  }
  /** The ISN for the 4-tuple at `nowMs` (milliseconds on any monotonic clock). */
  next(localIp: number, localPort: number, remoteIp: number, remotePort: number, nowMs: number): number {
    const f = this.#hash.hash3(localIp, remoteIp, ((localPort & 0xffff) << 16) | (remotePort & 0xffff));
    return (f + Math.floor(nowMs * 250)) >>> 0; // 250 ticks of 4 µs per millisecond
  }
  /**
   * RFC 6056 algorithm 3's offset for choosing an ephemeral port towards `remoteIp:remotePort`:
   * try `first + (offset + k) % count` for k = 0, 1, … until a port is free.
   */
  portOffset(localIp: number, remoteIp: number, remotePort: number): number {
    return this.#hash.hash3(localIp ^ 0x5bd1e995, remoteIp, remotePort & 0xffff);
  }
}
