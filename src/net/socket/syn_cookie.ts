/**
 * SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers a SYN statelessly,
 * with a SYN-ACK whose initial sequence number encodes what it would have kept — a keyed hash of
 * the 4-tuple and a coarse time counter, and the peer's MSS as an index into a small table — so
 * that the peer's ACK (acknowledging ISN + 1) proves the handshake without any memory held per
 * SYN. The layout is Linux's (`net/ipv4/syncookies.c`) with the MSS index moved under the hash:
 *
 * `ISN = H1(4-tuple) + SEQ(SYN) + (t << 26 | mssIndex << 24 | H2(4-tuple, t, mssIndex, options) mod 2^24)`
 *
 * `t` counts {@linkcode SYN_COOKIE_SLOT_MS} slots: its low 6 bits are in the ISN, the whole count is
 * under H2 (so a cookie does not come back to life when the 6 bits wrap, 64 slots later); a
 * cookie is good in its slot and the next one. H1 and H2 are SipHash-2-4 with two independent
 * random keys. Any other ACK number
 * fails unless 24 bits of H2 match: a forged ACK passes with a probability of about
 * 2 / 64 × 2^-24 per try (in Linux, a cookie's neighbours carry other MSS indices and pass).
 *
 * Window scale and SACK-permitted do not fit in the ISN: when the SYN carried timestamps they
 * ride in the low 6 bits of our SYN-ACK's TSval (which the peer echoes), as in Linux; without
 * timestamps the SYN-ACK offers neither (the connection runs without window scaling and SACK).
 * Unlike Linux, those bits (`options`, or {@linkcode SYN_COOKIE_NO_TIMESTAMPS}) are under H2 too:
 * an ACK whose TSecr claims options the SYN-ACK did not offer, or that drops the timestamps the
 * SYN-ACK carried, fails as a forged cookie would.
 *
 * @module
 */
import { checkInteger, SocketError } from "./error.ts";
import { SipHash24 } from "./isn.ts";

/** Length of a cookie time slot in ms (a cookie is accepted in its slot and the next). */
export const SYN_COOKIE_SLOT_MS = 64000;
/** The MSS values a cookie can carry (index 0 … 3); a peer's MSS is rounded down to one. */
export const SYN_COOKIE_MSS: readonly number[] = [536, 1300, 1440, 1460];

/** The `options` of a cookie whose SYN-ACK carried no timestamps (so neither window scale nor SACK). */
export const SYN_COOKIE_NO_TIMESTAMPS = 64;

const TS_BITS = 6;
const TS_MASK = (1 << TS_BITS) - 1;
const WS_NONE = 0xf;
const SACK_BIT = 0x10;

/** Makes and checks SYN cookies for one key (one listener). Nothing is allocated per call. */
export class SynCookies {
  readonly #h1: SipHash24;
  readonly #h2: SipHash24;
  readonly #buf = new Uint8Array(24);
  readonly #view = new DataView(this.#buf.buffer);

  /**
   * Creates a cookie maker keyed with 32 bytes of `key` (default: from the system's secure
   * random source).
   * @throws {SocketError} `InvalidArgument` unless `key` holds 32 bytes.
   */
  constructor(key: Uint8Array = crypto.getRandomValues(new Uint8Array(32))) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new SocketError("InvalidArgument", `SynCookies: key must be 32 bytes, got ${key?.length}`);
    }
    this.#h1 = new SipHash24(key.subarray(0, 16));
    this.#h2 = new SipHash24(key.subarray(16, 32));
  }

  /** The index into {@linkcode SYN_COOKIE_MSS} for a peer's MSS (0 when none or below 536). */
  static mssIndex(mss: number): number {
    let i = SYN_COOKIE_MSS.length - 1;
    while (i > 0 && SYN_COOKIE_MSS[i] > mss) i--;
    return i;
  }

  /** The time slot at `now` (ms), mod 64: what a cookie carries. */
  static slot(now: number): number {
    return Math.floor(now / SYN_COOKIE_SLOT_MS) & 0x3f;
  }

  /** The count of time slots at `now` (ms), whole: what H2 covers. */
  static counter(now: number): number {
    return Math.floor(now / SYN_COOKIE_SLOT_MS);
  }

  /**
   * The cookie (our ISN) for a SYN from `remoteIp:remotePort` with sequence number `peerSeq`
   * to `localIp:localPort` at `now`, carrying the MSS `mss` (rounded down to the table) and the
   * SYN-ACK's `options` ({@linkcode SynCookies.options}: the low bits of its TSval; without
   * timestamps {@linkcode SYN_COOKIE_NO_TIMESTAMPS}).
   */
  make(
    now: number,
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    peerSeq: number,
    mss: number,
    options: number = SYN_COOKIE_NO_TIMESTAMPS,
  ): number {
    const counter = SynCookies.counter(now);
    const ports = ((localPort & 0xffff) << 16) | (remotePort & 0xffff);
    const h1 = this.#h1.hash3(localIp, remoteIp, ports);
    const index = SynCookies.mssIndex(mss);
    const h2 = this.#second(localIp, remoteIp, ports, counter, index, options);
    return (h1 + peerSeq + (((counter & 0x3f) << 26) | (index << 24) | (h2 & 0xffffff))) >>> 0;
  }

  /**
   * Checks `cookie` (the peer's ACK number − 1) for an ACK whose sequence number − 1 is
   * `peerSeq`, at `now`, with the `options` its TSecr echoes (`tsEcr & 63`; without timestamps
   * {@linkcode SYN_COOKIE_NO_TIMESTAMPS}): the MSS it carries, or 0 when it is not one of ours
   * (another 4-tuple, another sequence number, other options, or older than the previous time slot).
   */
  check(
    now: number,
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    peerSeq: number,
    cookie: number,
    options: number = SYN_COOKIE_NO_TIMESTAMPS,
  ): number {
    const ports = ((localPort & 0xffff) << 16) | (remotePort & 0xffff);
    const h1 = this.#h1.hash3(localIp, remoteIp, ports);
    const x = (cookie - h1 - peerSeq) >>> 0;
    const current = SynCookies.counter(now);
    const age = (current - (x >>> 26)) & 0x3f;
    if (age > 1 || current - age < 0) return 0;
    const index = (x >>> 24) & 3;
    // The whole counter of the current or previous slot: a cookie 64 slots older fails here.
    if (
      (x & 0xffffff) !== (this.#second(localIp, remoteIp, ports, current - age, index, options) & 0xffffff)
    ) {
      return 0;
    }
    return SYN_COOKIE_MSS[index];
  }

  /**
   * Our SYN-ACK's TSval under a cookie: `clock` (what the connection's TSval would be now) with
   * the window scale the peer offered (`windowScale` 0 … 14, or -1 for none) and its
   * SACK-permitted in the low 6 bits, never above `clock` (so later TSvals do not go back).
   */
  static tsVal(clock: number, windowScale: number, sackPermitted: boolean): number {
    const bits = SynCookies.options(windowScale, sackPermitted);
    let ts = ((clock & ~TS_MASK) | bits) >>> 0;
    if (((ts - clock) | 0) > 0) ts = ((((clock & ~TS_MASK) >>> 0) - (1 << TS_BITS)) | bits) >>> 0;
    return ts;
  }

  /**
   * The low TSval bits (0 … 31) that carry the peer's window scale (`windowScale` 0 … 14, or -1
   * for none) and SACK-permitted: a cookie's `options`.
   */
  static options(windowScale: number, sackPermitted: boolean): number {
    checkInteger("SynCookies.options: windowScale", windowScale, -1, 14);
    return (windowScale < 0 ? WS_NONE : windowScale) | (sackPermitted ? SACK_BIT : 0);
  }

  /** The `options` a cookie's echoed TSval (the ACK's TSecr) claims, for `check`. */
  static echoedOptions(tsEcr: number): number {
    return tsEcr & TS_MASK;
  }

  /** The window scale a cookie's echoed TSval (the ACK's TSecr) carries, -1 for none. */
  static windowScale(tsEcr: number): number {
    const ws = tsEcr & 0xf;
    return ws === WS_NONE || ws > 14 ? -1 : ws;
  }

  /** Whether a cookie's echoed TSval (the ACK's TSecr) carries SACK-permitted. */
  static sackPermitted(tsEcr: number): boolean {
    return (tsEcr & SACK_BIT) !== 0;
  }

  /** H2 over the 4-tuple, the whole slot counter, the MSS index and the options. */
  #second(
    localIp: number,
    remoteIp: number,
    ports: number,
    counter: number,
    index: number,
    options: number,
  ): number {
    const v = this.#view;
    v.setUint32(0, localIp >>> 0, true);
    v.setUint32(4, remoteIp >>> 0, true);
    v.setUint32(8, ports >>> 0, true);
    v.setUint32(12, counter >>> 0, true);
    v.setUint32(16, Math.floor(counter / 2 ** 32) >>> 0, true);
    v.setUint32(20, (index | (options << 8)) >>> 0, true);
    return this.#h2.hash(this.#buf, 0, 24);
  }
}
