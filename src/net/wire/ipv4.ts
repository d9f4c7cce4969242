/**
 * IPv4 headers (RFC 791). Options are skipped (their length is honoured, their content ignored).
 *
 * @module
 */
import { finishChecksum, sumView, sumWords } from "./checksum.ts";
import { dataView, need, WireError } from "./error.ts";

/** IP protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** An IPv4 header, filled in place by {@linkcode parseIpv4}. Addresses are u32. */
export class Ipv4Header {
  /** Header length in bytes (20–60). */
  headerLength: number = 20;
  /** DSCP and ECN bits. */
  tos: number = 0;
  /** Total length: header and payload. */
  totalLength: number = 20;
  /** Identification. */
  id: number = 0;
  /** Don't Fragment. */
  dontFragment: boolean = true;
  /** More Fragments. */
  moreFragments: boolean = false;
  /** Fragment offset in bytes. */
  fragmentOffset: number = 0;
  /** Time to live. */
  ttl: number = 64;
  /** Payload protocol ({@linkcode IPPROTO_ICMP}, {@linkcode IPPROTO_UDP}, …). */
  protocol: number = 0;
  /** Source address. */
  src: number = 0;
  /** Destination address. */
  dst: number = 0;
  /** True when this is a fragment (more to come, or not the first). */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }
}

/**
 * Parses the IPv4 header at `b[off .. end)` into `out` and verifies its checksum. Returns the
 * payload offset; the payload ends at `off + out.totalLength` (bytes after it, e.g. Ethernet
 * padding, are not part of the packet). With `verifyChecksum` false the caller checks the header
 * checksum itself (e.g. with `sumView`); every other check still runs.
 */
export function parseIpv4(
  b: Uint8Array,
  off: number,
  end: number,
  out: Ipv4Header,
  verifyChecksum: boolean = true,
): number {
  need(b, off, end, 20, "IPv4");
  // Five 32-bit loads give every field and, summed by halves, the header checksum.
  const v = dataView(b);
  const w0 = v.getUint32(off);
  const vihl = w0 >>> 24;
  if (vihl >>> 4 !== 4) throw new WireError("BadVersion", `IPv4: version ${vihl >>> 4}`);
  const hl = (vihl & 0x0f) * 4;
  if (hl < 20) throw new WireError("BadLength", `IPv4: header length ${hl} < 20`);
  need(b, off, end, hl, "IPv4 header with options");
  const total = w0 & 0xffff;
  if (total < hl) throw new WireError("BadLength", `IPv4: total length ${total} < header length ${hl}`);
  if (off + total > end) {
    throw new WireError("Truncated", `IPv4: total length ${total} runs past the view (${end - off} bytes)`);
  }
  const w1 = v.getUint32(off + 4);
  const w2 = v.getUint32(off + 8);
  const src = v.getUint32(off + 12);
  const dst = v.getUint32(off + 16);
  if (verifyChecksum) {
    let sum = ipv4WordsSum(w0, w1, w2, src, dst);
    if (hl > 20) sum = sumView(v, off + 20, off + hl, sum);
    if (finishChecksum(sum) !== 0) throw new WireError("BadChecksum", "IPv4: header checksum");
  }
  const frag = w1 & 0xffff;
  if (frag & 0x8000) throw new WireError("BadField", "IPv4: reserved flag set");
  out.headerLength = hl;
  out.tos = (w0 >>> 16) & 0xff;
  out.totalLength = total;
  out.id = w1 >>> 16;
  out.dontFragment = (frag & 0x4000) !== 0;
  out.moreFragments = (frag & 0x2000) !== 0;
  out.fragmentOffset = (frag & 0x1fff) * 8;
  out.ttl = w2 >>> 24;
  out.protocol = (w2 >>> 16) & 0xff;
  out.src = src;
  out.dst = dst;
  return off + hl;
}

/**
 * Writes a 20-byte header (no options) for `h` at `b[off ..]`, with its checksum; `h.totalLength`
 * must already count the payload. Returns the payload offset.
 */
export function emitIpv4(b: Uint8Array, off: number, end: number, h: Ipv4Header): number {
  need(b, off, end, 20, "IPv4 emit");
  if (
    !Number.isInteger(h.totalLength) || h.totalLength < 20 || h.totalLength > 0xffff ||
    !Number.isInteger(h.fragmentOffset) || h.fragmentOffset % 8 !== 0 || h.fragmentOffset < 0 ||
    h.fragmentOffset > 0xfff8
  ) {
    throw new WireError(
      "BadField",
      `IPv4 emit: total length ${h.totalLength} / fragment offset ${h.fragmentOffset}`,
    );
  }
  const flags = (h.dontFragment ? 0x4000 : 0) | (h.moreFragments ? 0x2000 : 0) | (h.fragmentOffset / 8);
  putIpv4Header(dataView(b), off, h.tos, h.totalLength, h.id, flags, h.ttl, h.protocol, h.src, h.dst);
  h.headerLength = 20;
  return off + 20;
}

/**
 * The one's-complement running sum of a 20-byte IPv4 header given as its five big-endian words
 * (unsigned or int32): 0 after {@linkcode finishChecksum} when the checksum inside `w2` is right.
 * @internal
 */
export function ipv4WordsSum(w0: number, w1: number, w2: number, src: number, dst: number): number {
  return (w0 >>> 16) + (w0 & 0xffff) + (w1 >>> 16) + (w1 & 0xffff) + (w2 >>> 16) + (w2 & 0xffff) +
    (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
}

/**
 * Writes a 20-byte IPv4 header (no options) at `v[off ..]` from field values, as five 32-bit
 * stores, with its checksum computed from those values (no bytes read back). `flags` is the
 * 16-bit flags and fragment-offset field. The caller has checked the range and the lengths.
 * @internal
 */
export function putIpv4Header(
  v: DataView,
  off: number,
  tos: number,
  totalLength: number,
  id: number,
  flags: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  // Words as int32 (small integers to V8; `>>>` in the sum and setUint32 read them unsigned).
  const w0 = (((0x45 << 8) | (tos & 0xff)) << 16) | totalLength;
  const w1 = ((id & 0xffff) << 16) | flags;
  const w2 = ((ttl & 0xff) << 24) | ((protocol & 0xff) << 16);
  const sum = finishChecksum(ipv4WordsSum(w0, w1, w2, src, dst));
  v.setUint32(off, w0);
  v.setUint32(off + 4, w1);
  v.setUint32(off + 8, w2 | sum);
  v.setUint32(off + 12, src);
  v.setUint32(off + 16, dst);
}

/** The running sum of the IPv4 pseudo-header that UDP and TCP checksums cover. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** The checksum of an L4 segment `b[off .. end)` under the IPv4 pseudo-header. 0 when it verifies. */
export function l4Checksum(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  protocol: number,
): number {
  return finishChecksum(sumWords(b, off, end, pseudoHeaderSum(src, dst, protocol, end - off)));
}

/** Dotted form of a u32 IPv4 address. */
export function ipv4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** The u32 form of a dotted IPv4 address. @throws {WireError} `BadField` for anything else. */
export function parseIpv4Address(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const parts = m?.slice(1).map(Number);
  if (!parts || parts.some((p) => p > 255)) throw new WireError("BadField", `not an IPv4 address: ${text}`);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}
