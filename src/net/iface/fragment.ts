/**
 * IPv4 reassembly (RFC 791, RFC 815; a host MUST reassemble: RFC 1122 3.3.2), bounded: a limit
 * on datagrams in flight and on the bytes they hold (Linux's `ipfrag_high_thresh`, 4 MiB), a
 * timeout (Linux's `ipfrag_time`, 30 s), and no datagram past 65 535 bytes. Overlapping
 * fragments drop the whole datagram (as RFC 5722 asks for IPv6 and Linux does for IPv4); an exact
 * duplicate is ignored. Every outcome is counted.
 *
 * @module
 */
import { IPV4_FLAGS_OFFSET, IPV4_TOTAL_LENGTH_OFFSET } from "../wire/ipv4.ts";

/**
 * What each fragment costs besides its payload, in the byte budget: tiny fragments must not hold
 * far more memory than the limit says (Linux charges an skb's true size the same way).
 */
export const FRAGMENT_OVERHEAD = 64;
/**
 * Most fragments one datagram may have: 64 KiB at an MTU of 200 or more. Beyond, the datagram is
 * dropped (each fragment is checked against those held: this bounds that work too).
 */
export const MAX_FRAGMENTS = 512;

interface Piece {
  off: number;
  end: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  deadline: number;
  pieces: Piece[];
  /** Payload bytes held. */
  bytes: number;
  /** Bytes charged to the budget: payload plus {@linkcode FRAGMENT_OVERHEAD} per fragment. */
  charged: number;
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  total: number;
  /** The first fragment's IP header (options included), once it arrived. */
  header: Uint8Array | null;
  /** The first fragment's header and first 8 payload bytes: what an ICMP error quotes. */
  quote: Uint8Array | null;
  /** Whether the first fragment came to our MAC (not a link-layer broadcast). */
  linkUnicast: boolean;
}

/** What the reassembler counted. */
export interface ReassemblyStats {
  /** Datagrams put back together. */
  reassembled: number;
  /** Datagrams given up at the timeout. */
  timeouts: number;
  /** Datagrams dropped because two fragments overlapped. */
  overlaps: number;
  /** Exact duplicate fragments ignored. */
  duplicates: number;
  /**
   * Fragments dropped because the datagrams in flight or the bytes they hold were at their limit,
   * or datagrams dropped because they would exceed 65 535 bytes or {@linkcode MAX_FRAGMENTS}
   * fragments, or their fragments contradict each other (two different ends, data past the end,
   * a non-last fragment not a multiple of 8).
   */
  dropped: number;
}

/** The fields of a received fragment that reassembly needs (from the parsed IPv4 header). */
export interface FragmentInfo {
  src: number;
  dst: number;
  id: number;
  protocol: number;
  headerLength: number;
  fragmentOffset: number;
  moreFragments: boolean;
}

/** A reassembled datagram: `bytes` holds the IP header (`headerLength` bytes) and the whole payload. */
export interface Reassembled {
  bytes: Uint8Array;
  headerLength: number;
  linkUnicast: boolean;
}

/** Datagrams being reassembled, bounded in count and bytes, expiring `timeoutMs` after their first fragment. */
export class Reassembler {
  /** Counters. */
  readonly stats: ReassemblyStats = { reassembled: 0, timeouts: 0, overlaps: 0, duplicates: 0, dropped: 0 };
  // Map order is arrival order of each datagram's first fragment, hence deadline order.
  readonly #map = new Map<string, Datagram>();
  #memory = 0;

  /**
   * At most `maxDatagrams` in flight holding at most `maxBytes` in all (payload plus
   * {@linkcode FRAGMENT_OVERHEAD} per fragment), each for `timeoutMs`.
   */
  constructor(readonly maxDatagrams: number, readonly maxBytes: number, readonly timeoutMs: number) {}

  /** Datagrams in flight. */
  get size(): number {
    return this.#map.size;
  }

  /** When the oldest datagram in flight times out (ms), or `Infinity` when none is in flight. */
  get nextDeadline(): number {
    for (const d of this.#map.values()) return d.deadline; // map order is deadline order
    return Infinity;
  }

  /** Bytes held, as charged to the budget (payload plus {@linkcode FRAGMENT_OVERHEAD} per fragment). */
  get memory(): number {
    return this.#memory;
  }

  /**
   * Adds the fragment whose payload is `b[l4 .. end)`; `b[l3 ..]` is its IP header. Returns the
   * datagram when this fragment completed it, else null (kept, ignored or dropped: counted).
   */
  add(
    f: FragmentInfo,
    b: Uint8Array,
    l3: number,
    l4: number,
    end: number,
    linkUnicast: boolean,
    now: number,
  ): Reassembled | null {
    const off = f.fragmentOffset;
    const len = end - l4;
    const stop = off + len;
    const key = `${f.src}:${f.dst}:${f.id}:${f.protocol}`;
    let d = this.#map.get(key);
    if (
      (f.moreFragments && (len % 8 !== 0 || len === 0)) || f.headerLength + stop > 0xffff ||
      (d !== undefined && (!this.#consistent(d, f.moreFragments, stop) || d.pieces.length >= MAX_FRAGMENTS))
    ) {
      if (d !== undefined) this.#drop(d);
      this.stats.dropped++;
      return null;
    }
    if (d !== undefined) {
      for (const p of d.pieces) {
        if (p.off === off && p.end === stop) {
          this.stats.duplicates++;
          return null;
        }
        if (off < p.end && p.off < stop) {
          this.#drop(d);
          this.stats.overlaps++;
          return null;
        }
      }
    }
    const cost = len + FRAGMENT_OVERHEAD;
    if (this.#memory + cost > this.maxBytes || (d === undefined && this.#map.size >= this.maxDatagrams)) {
      this.stats.dropped++;
      return null;
    }
    if (d === undefined) {
      d = {
        key,
        deadline: now + this.timeoutMs,
        pieces: [],
        bytes: 0,
        charged: 0,
        total: -1,
        header: null,
        quote: null,
        linkUnicast: true,
      };
      this.#map.set(key, d);
    }
    let k = d.pieces.length;
    while (k > 0 && d.pieces[k - 1].off > off) k--;
    d.pieces.splice(k, 0, { off, end: stop, data: b.slice(l4, end) });
    d.bytes += len;
    d.charged += cost;
    this.#memory += cost;
    if (!f.moreFragments) d.total = stop;
    if (off === 0) {
      d.header = b.slice(l3, l4);
      d.quote = b.slice(l3, Math.min(end, l4 + 8));
      d.linkUnicast = linkUnicast;
    }
    return this.#complete(d);
  }

  /** A fragment ending at `stop` (the last one when `!more`) fits what `d` already holds. */
  #consistent(d: Datagram, more: boolean, stop: number): boolean {
    if (!more) {
      if (d.total >= 0 && d.total !== stop) return false;
      for (const p of d.pieces) if (p.end > stop) return false;
      return true;
    }
    return d.total < 0 || stop <= d.total;
  }

  #complete(d: Datagram): Reassembled | null {
    if (d.total < 0 || d.header === null || d.bytes !== d.total) return null;
    // Sorted and non-overlapping, with as many bytes as the total: contiguous from 0.
    const hl = d.header.length;
    const out = new Uint8Array(hl + d.total);
    out.set(d.header, 0);
    const totalLength = hl + d.total;
    out[IPV4_TOTAL_LENGTH_OFFSET] = totalLength >>> 8;
    out[IPV4_TOTAL_LENGTH_OFFSET + 1] = totalLength & 0xff;
    out[IPV4_FLAGS_OFFSET] &= 0x40; // keep DF; clear MF and the offset
    out[IPV4_FLAGS_OFFSET + 1] = 0;
    for (const p of d.pieces) out.set(p.data, hl + p.off);
    this.#remove(d);
    this.stats.reassembled++;
    return { bytes: out, headerLength: hl, linkUnicast: d.linkUnicast };
  }

  #remove(d: Datagram): void {
    this.#map.delete(d.key);
    this.#memory -= d.charged;
  }

  #drop(d: Datagram): void {
    this.#remove(d);
  }

  /**
   * Gives up the datagrams whose timeout passed at `now`, calling `onTimeout(quote, linkUnicast)`
   * for each that had its first fragment (RFC 792: time exceeded, code 1). One comparison when
   * none is due.
   */
  expire(now: number, onTimeout: (quote: Uint8Array, linkUnicast: boolean) => void): void {
    for (const d of this.#map.values()) {
      if (d.deadline > now) return;
      this.#remove(d);
      this.stats.timeouts++;
      if (d.quote !== null) onTimeout(d.quote, d.linkUnicast);
    }
  }
}
