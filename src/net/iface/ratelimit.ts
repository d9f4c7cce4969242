/**
 * The rate limit on ICMP errors we send (RFC 1122 3.2.2 lets a host limit them; RFC 1812 4.3.2.8
 * says how), shaped like Linux's: a global token bucket (`icmp_msgs_per_sec` 1000, `icmp_msgs_burst`
 * 50) and one per destination (`icmp_ratelimit` 1000 ms, a burst of 6), the latter in a fixed
 * table so that no sender can grow it.
 *
 * @module
 */

/** Slots of the per-destination table (destinations that share a slot share a bucket). */
const HOST_SLOTS = 256;

/** Token buckets for ICMP errors: {@linkcode IcmpRateLimiter.allow} says whether one may be sent. */
export class IcmpRateLimiter {
  #credit: number;
  #stamp = -Infinity;
  readonly #hostIp = new Float64Array(HOST_SLOTS).fill(-1);
  readonly #hostTokens = new Float64Array(HOST_SLOTS);
  readonly #hostStamp = new Float64Array(HOST_SLOTS);

  /**
   * `perSecond` errors a second overall with bursts of `burst` (0 per second: no error is ever
   * sent); per destination one every `hostIntervalMs` with bursts of `hostBurst` (0 ms: no
   * per-destination limit).
   */
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly hostIntervalMs: number,
    readonly hostBurst: number,
  ) {
    this.#credit = burst;
  }

  /** True when an ICMP error to `dst` may be sent at `now` (ms); takes its tokens if so. */
  allow(dst: number, now: number): boolean {
    if (this.perSecond === 0) return false;
    // Global bucket: credit accrues with time, capped at the burst.
    const elapsed = now - this.#stamp;
    if (elapsed > 0) {
      this.#credit = Math.min(this.burst, this.#credit + (elapsed * this.perSecond) / 1000);
      this.#stamp = now;
    }
    if (this.#credit < 1) return false;
    if (this.hostIntervalMs > 0) {
      const k = Math.imul(dst, 0x9e3779b1) >>> 24; // 256 slots
      const cap = this.hostIntervalMs * this.hostBurst;
      let tokens: number;
      if (this.#hostIp[k] !== dst) {
        this.#hostIp[k] = dst;
        tokens = cap;
      } else {
        tokens = Math.min(cap, this.#hostTokens[k] + Math.max(0, now - this.#hostStamp[k]));
      }
      this.#hostStamp[k] = now;
      if (tokens < this.hostIntervalMs) {
        this.#hostTokens[k] = tokens;
        return false;
      }
      this.#hostTokens[k] = tokens - this.hostIntervalMs;
    }
    this.#credit -= 1;
    return true;
  }
}
