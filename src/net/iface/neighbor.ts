/**
 * The neighbour cache (IPv4 → MAC, learned by ARP) and the table of packets waiting for a
 * neighbour to be resolved. Both are bounded: the wire cannot grow them past their limits.
 *
 * @module
 */

/** A resolved neighbour. Entries are updated in place; an evicted one is marked expired for good. */
export interface Neighbor {
  /** Its IPv4 address (u32). */
  readonly ip: number;
  /** Its MAC. */
  readonly mac: Uint8Array;
  /** When it stops being valid (ms, the interface's clock); -Infinity once evicted. */
  expires: number;
  /** The first 8 bytes of an Ethernet header to it, as two u32 words: its MAC, then ours' first 2. */
  head0: number;
  head1: number;
}

/**
 * IPv4 → MAC with expiry and a fixed capacity. When full, learning a new neighbour evicts the one
 * refreshed longest ago (which is also the one that expires first): O(1), no scan.
 */
export class NeighborCache {
  /** Neighbours evicted to make room. */
  evictions = 0;
  readonly #map = new Map<number, Neighbor>();
  readonly #ourHead: number;

  /** A cache of at most `capacity` neighbours, each valid `expiryMs` after it was last learned. */
  constructor(ourMac: Uint8Array, readonly capacity: number, readonly expiryMs: number) {
    this.#ourHead = (ourMac[0] << 8) | ourMac[1];
  }

  /** How many entries are held (expired ones included until evicted or refreshed). */
  get size(): number {
    return this.#map.size;
  }

  /** The entry for `ip` if it is valid at `now`. */
  lookup(ip: number, now: number): Neighbor | undefined {
    const n = this.#map.get(ip);
    return n !== undefined && n.expires > now ? n : undefined;
  }

  /** True when `ip` has an entry, valid or not (RFC 826: such entries are refreshed by any ARP). */
  has(ip: number): boolean {
    return this.#map.has(ip);
  }

  /** Learns (or refreshes) `ip` at `mac`, valid until `now + expiryMs`; returns the entry. */
  fill(ip: number, mac: Uint8Array, now: number): Neighbor {
    let n = this.#map.get(ip);
    if (n !== undefined) {
      this.#map.delete(ip); // re-inserted below: Map order is refresh order
      n.mac.set(mac.subarray(0, 6));
    } else {
      if (this.#map.size >= this.capacity) this.#evictOldest();
      n = { ip, mac: mac.slice(0, 6), expires: 0, head0: 0, head1: 0 };
    }
    n.expires = now + this.expiryMs;
    n.head0 = ((mac[0] << 24) | (mac[1] << 16) | (mac[2] << 8) | mac[3]) >>> 0;
    n.head1 = ((mac[4] << 24) | (mac[5] << 16) | this.#ourHead) >>> 0;
    this.#map.set(ip, n);
    return n;
  }

  #evictOldest(): void {
    for (const [ip, n] of this.#map) {
      n.expires = -Infinity; // whoever still holds the entry sees it expired
      this.#map.delete(ip);
      this.evictions++;
      return;
    }
  }
}

/** A packet waiting for its next hop to be resolved: rendered when queued, so it owns its bytes. */
export interface PendingPacket {
  /** Final destination (u32). */
  dst: number;
  /** Source address (u32). */
  src: number;
  /** IP protocol. */
  protocol: number;
  /** The IP payload. */
  segment: Uint8Array;
}

/** A neighbour being resolved. */
export interface PendingEntry {
  /** The next hop's address. */
  readonly ip: number;
  /** ARP requests sent for it so far. */
  requests: number;
  /** When the last one was sent. */
  lastRequest: number;
  /** The packets waiting for it (at most the table's `queueLimit`, `queueBytes` in all). */
  readonly queue: PendingPacket[];
  /** Their IP payload bytes. */
  bytes: number;
}

/**
 * Neighbours being resolved and their waiting packets, bounded in entries and packets per entry.
 * An entry is given up (its packets dropped) when `maxRequests` ARP requests went unanswered.
 * {@linkcode PendingTable.due} costs one comparison when no request is due.
 */
export class PendingTable {
  /** Entries given up after `maxRequests` unanswered requests. */
  gaveUp = 0;
  /** New neighbours refused because the table was full. */
  overflows = 0;
  readonly #map = new Map<number, PendingEntry>();
  /** No entry needs a request before this time. */
  #nextDue = Infinity;

  /**
   * At most `capacity` neighbours, `queueLimit` packets and `queueBytes` bytes each; a request every
   * `intervalMs`, at most `maxRequests` per neighbour.
   */
  constructor(
    readonly capacity: number,
    readonly queueLimit: number,
    readonly queueBytes: number,
    readonly intervalMs: number,
    readonly maxRequests: number,
  ) {}

  /** Neighbours being resolved. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * When {@linkcode PendingTable.due} next has work (a request to repeat or an entry to give up),
   * in ms; `Infinity` when no neighbour is being resolved. Never later than the true time; earlier
   * when the entry that was due first has been resolved since (the next `due` recomputes it).
   */
  get nextDue(): number {
    return this.#map.size === 0 ? Infinity : this.#nextDue;
  }

  /** The entry for `ip`, if it is being resolved. */
  get(ip: number): PendingEntry | undefined {
    return this.#map.get(ip);
  }

  /**
   * The entry for `ip`, made when missing (then `requests` is 0: the caller sends the first
   * request and calls {@linkcode PendingTable.requested}); undefined when the table is full.
   */
  open(ip: number): PendingEntry | undefined {
    let p = this.#map.get(ip);
    if (p !== undefined) return p;
    if (this.#map.size >= this.capacity) {
      this.overflows++;
      return undefined;
    }
    p = { ip, requests: 0, lastRequest: 0, queue: [], bytes: 0 };
    this.#map.set(ip, p);
    return p;
  }

  /**
   * Queues `packet` on `p` unless that would pass the packet or byte limit; returns whether it did.
   */
  enqueue(p: PendingEntry, packet: PendingPacket): boolean {
    if (p.queue.length >= this.queueLimit || p.bytes + packet.segment.length > this.queueBytes) return false;
    p.queue.push(packet);
    p.bytes += packet.segment.length;
    return true;
  }

  /**
   * True when a packet of `length` bytes would be refused by {@linkcode PendingTable.enqueue}
   * (checked before rendering it).
   */
  full(p: PendingEntry, length: number): boolean {
    return p.queue.length >= this.queueLimit || p.bytes + length > this.queueBytes;
  }

  /** Records that a request for `p` went out at `now`. */
  requested(p: PendingEntry, now: number): void {
    p.requests++;
    p.lastRequest = now;
    const due = now + this.intervalMs;
    if (due < this.#nextDue) this.#nextDue = due;
  }

  /** Removes and returns the entry for `ip` (it was resolved), if any. */
  take(ip: number): PendingEntry | undefined {
    const p = this.#map.get(ip);
    if (p !== undefined) this.#map.delete(ip);
    return p;
  }

  /**
   * At `now`, calls `request(ip)` for each entry whose interval has passed and that may still be
   * asked for, and gives up the others. Returns how many packets the given-up entries held.
   */
  due(now: number, request: (ip: number) => void): number {
    if (now < this.#nextDue) return 0;
    let dropped = 0;
    let next = Infinity;
    for (const [ip, p] of this.#map) {
      let at = p.lastRequest + this.intervalMs;
      if (now >= at) {
        if (p.requests >= this.maxRequests) {
          this.#map.delete(ip);
          this.gaveUp++;
          dropped += p.queue.length;
          continue;
        }
        request(ip);
        p.requests++;
        p.lastRequest = now;
        at = now + this.intervalMs;
      }
      if (at < next) next = at;
    }
    this.#nextDue = next;
    return dropped;
  }
}
