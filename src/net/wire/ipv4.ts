/**
 * IPv4 headers (RFC 791). Options are skipped (their length is honoured, their content ignored).
 *
 * @module
 */
import { finishChecksum, internetChecksum, sumWords } from "./checksum.ts";
import { need, put16, put32, u16, u32, WireError } from "./error.ts";

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
 * padding, are not part of the packet).
 */
export function parseIpv4(b: Uint8Array, off: number, end: number, out: Ipv4Header): number {
  need(b, off, end, 20, "IPv4");
  const vihl = b[off];
  if (vihl >>> 4 !== 4) throw new WireError("BadVersion", `IPv4: version ${vihl >>> 4}`);
  const hl = (vihl & 0x0f) * 4;
  if (hl < 20) throw new WireError("BadLength", `IPv4: header length ${hl} < 20`);
  need(b, off, end, hl, "IPv4 header with options");
  const total = u16(b, off + 2);
  if (total < hl) throw new WireError("BadLength", `IPv4: total length ${total} < header length ${hl}`);
  if (off + total > end) {
    throw new WireError("Truncated", `IPv4: total length ${total} runs past the view (${end - off} bytes)`);
  }
  if (internetChecksum(b, off, off + hl) !== 0) throw new WireError("BadChecksum", "IPv4: header checksum");
  const frag = u16(b, off + 6);
  if (frag & 0x8000) throw new WireError("BadField", "IPv4: reserved flag set");
  out.headerLength = hl;
  out.tos = b[off + 1];
  out.totalLength = total;
  out.id = u16(b, off + 4);
  out.dontFragment = (frag & 0x4000) !== 0;
  out.moreFragments = (frag & 0x2000) !== 0;
  out.fragmentOffset = (frag & 0x1fff) * 8;
  out.ttl = b[off + 8];
  out.protocol = b[off + 9];
  out.src = u32(b, off + 12);
  out.dst = u32(b, off + 16);
  return off + hl;
}

/**
 * Writes a 20-byte header (no options) for `h` at `b[off ..]`, with its checksum; `h.totalLength`
 * must already count the payload. Returns the payload offset.
 */
export function emitIpv4(b: Uint8Array, off: number, end: number, h: Ipv4Header): number {
  need(b, off, end, 20, "IPv4 emit");
  if (
    h.totalLength < 20 || h.totalLength > 0xffff || h.fragmentOffset % 8 !== 0 || h.fragmentOffset > 0xfff8
  ) {
    throw new WireError(
      "BadField",
      `IPv4 emit: total length ${h.totalLength} / fragment offset ${h.fragmentOffset}`,
    );
  }
  b[off] = 0x45;
  b[off + 1] = h.tos;
  put16(b, off + 2, h.totalLength);
  put16(b, off + 4, h.id);
  put16(
    b,
    off + 6,
    (h.dontFragment ? 0x4000 : 0) | (h.moreFragments ? 0x2000 : 0) | (h.fragmentOffset / 8),
  );
  b[off + 8] = h.ttl;
  b[off + 9] = h.protocol;
  put16(b, off + 10, 0);
  put32(b, off + 12, h.src);
  put32(b, off + 16, h.dst);
  put16(b, off + 10, internetChecksum(b, off, off + 20));
  h.headerLength = 20;
  return off + 20;
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
