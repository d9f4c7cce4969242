/**
 * IPv4 headers (RFC 791). Options are skipped (their length is honoured, their content ignored).
 *
 * @module
 */
import { foldChecksum, sumViewRaw, sumWords } from "./checksum.ts";
import { dataView, need, needField, needHeader, WireError } from "./error.ts";
import { badArgument, isIntIn, isU32, shown } from "../args.ts";

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
  if (!(out instanceof Ipv4Header)) needHeader("parseIpv4", out, Ipv4Header); // (instanceof a constant: inlined)
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
    if (hl > 20) sum = sumViewRaw(v, off + 20, off + hl, sum);
    if (foldChecksum(sum) !== 0) throw new WireError("BadChecksum", "IPv4: header checksum");
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
  if (!(h instanceof Ipv4Header)) needHeader("emitIpv4", h, Ipv4Header); // (instanceof a constant: inlined)
  needField("emitIpv4", "tos", h.tos, 0, 255);
  needField("emitIpv4", "id", h.id, 0, 0xffff);
  needField("emitIpv4", "ttl", h.ttl, 0, 255);
  needField("emitIpv4", "protocol", h.protocol, 0, 255);
  needField("emitIpv4", "src", h.src, 0, 0xffffffff);
  needField("emitIpv4", "dst", h.dst, 0, 0xffffffff);
  if (typeof h.dontFragment !== "boolean" || typeof h.moreFragments !== "boolean") {
    throw new WireError("BadField", "emitIpv4: dontFragment and moreFragments must be booleans");
  }
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
  const sum = foldChecksum(ipv4WordsSum(w0, w1, w2, src, dst));
  v.setUint32(off, w0);
  v.setUint32(off + 4, w1);
  v.setUint32(off + 8, w2 | sum);
  v.setUint32(off + 12, src);
  v.setUint32(off + 16, dst);
}

/**
 * The running sum of the IPv4 pseudo-header that UDP and TCP checksums cover.
 * @throws {WireError} `InvalidArgument` for an address that is not a u32, a protocol or length out of range.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  checkPseudo("pseudoHeaderSum", src, dst, protocol);
  if (!isIntIn(length, 0, 0xffff)) {
    throw new WireError(
      "InvalidArgument",
      badArgument("pseudoHeaderSum", "length", length, "a whole number 0–65535"),
    );
  }
  return pseudoHeaderSumRaw(src, dst, protocol, length);
}

function checkPseudo(what: string, src: unknown, dst: unknown, protocol: unknown): void {
  if (!isU32(src)) {
    throw new WireError("InvalidArgument", badArgument(what, "src", src, "a u32 IPv4 address"));
  }
  if (!isU32(dst)) {
    throw new WireError("InvalidArgument", badArgument(what, "dst", dst, "a u32 IPv4 address"));
  }
  if (!isIntIn(protocol, 0, 255)) {
    throw new WireError("InvalidArgument", badArgument(what, "protocol", protocol, "a whole number 0–255"));
  }
}

/** {@linkcode pseudoHeaderSum} without the argument checks. @internal */
export function pseudoHeaderSumRaw(src: number, dst: number, protocol: number, length: number): number {
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
  checkPseudo("l4Checksum", src, dst, protocol);
  if (!isIntIn(off, 0, 0xffffffff) || !isIntIn(end, off, off + 0xffff)) {
    throw new WireError(
      "InvalidArgument",
      `l4Checksum: off ${off} and end ${end} must be whole numbers with 0 ≤ end − off ≤ 65535`,
    );
  }
  return foldChecksum(sumWords(b, off, end, pseudoHeaderSumRaw(src, dst, protocol, end - off)));
}

/**
 * Dotted form of a u32 IPv4 address.
 * @throws {WireError} `InvalidArgument` when `ip` is not a u32.
 */
export function ipv4ToString(ip: number): string {
  if (!isU32(ip)) {
    throw new WireError("InvalidArgument", badArgument("ipv4ToString", "ip", ip, "a u32 IPv4 address"));
  }
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/**
 * The u32 form of a dotted-quad IPv4 address, as `inet_pton` reads it: four decimal numbers 0–255
 * without leading zeros (`"01.2.3.4"` is refused, not read as 1.2.3.4 or as octal).
 * @throws {WireError} `BadField` for text that is not such an address, `InvalidArgument` for a non-string.
 */
export function parseIpv4Address(text: string): number {
  if (typeof text !== "string") {
    throw new WireError("InvalidArgument", badArgument("parseIpv4Address", "text", text, "a string"));
  }
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(text);
  const parts = m?.slice(1).map(Number);
  if (!parts || parts.some((p) => p > 255)) {
    throw new WireError(
      "BadField",
      `parseIpv4Address: not a dotted-quad IPv4 address: ${JSON.stringify(text)}`,
    );
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** Offset of the total-length field in an IPv4 header. */
export const IPV4_TOTAL_LENGTH_OFFSET = 2;
/** Offset of the flags and fragment-offset field in an IPv4 header. */
export const IPV4_FLAGS_OFFSET = 6;

/**
 * Checks the options of the IPv4 header at `b[off .. off + headerLength)` for well-formedness
 * (RFC 791 3.1): end of list (0) stops, no-operation (1) is one byte, any other option has a
 * length byte of at least 2 and ends within the header. Returns -1 when they are well formed,
 * else the offset from the header's start of the first bad option's type byte: the pointer an
 * ICMP parameter problem carries (as Linux's `ip_options_compile` does).
 * @throws {WireError} `Truncated` when the header is not within `b`, `InvalidArgument` for bad arguments.
 */
export function ipv4OptionsError(b: Uint8Array, off: number, headerLength: number): number {
  if (!isIntIn(headerLength, 20, 60)) {
    throw new WireError(
      "InvalidArgument",
      badArgument("ipv4OptionsError", "headerLength", headerLength, "a whole number 20–60"),
    );
  }
  need(b, off, b?.length, headerLength, "IPv4 options");
  const end = off + headerLength;
  let i = off + 20;
  while (i < end) {
    const type = b[i];
    if (type === 0) return -1; // end of option list: the rest is padding
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return i - off; // no room for the length byte
    const len = b[i + 1];
    if (len < 2 || i + len > end) return i - off;
    i += len;
  }
  return -1;
}

/**
 * The most payload bytes a fragment may carry on a link of `mtu` with an IPv4 header of
 * `headerLength` bytes: a multiple of 8 (RFC 791), at least 8.
 * @throws {WireError} `InvalidArgument` when the MTU cannot carry a fragment.
 */
export function fragmentPayloadSize(mtu: number, headerLength: number = 20): number {
  if (!isIntIn(headerLength, 20, 60) || !isIntIn(mtu, headerLength + 8, 0xffff)) {
    throw new WireError(
      "InvalidArgument",
      `fragmentPayloadSize: MTU ${shown(mtu)} cannot carry a header of ${
        shown(headerLength)
      } bytes and 8 of payload`,
    );
  }
  return ((mtu - headerLength) >>> 3) << 3;
}
