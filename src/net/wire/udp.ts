/**
 * UDP over IPv4 (RFC 768). The checksum is always emitted, and checked whenever the sender set one
 * (a zero checksum means "none" in IPv4).
 *
 * @module
 */
import { foldChecksum, sumViewRaw } from "./checksum.ts";
import { dataView, need, needField, needHeader, WireError } from "./error.ts";
import { IPPROTO_UDP, pseudoHeaderSumRaw } from "./ipv4.ts";
import { badArgument, isU32 } from "../args.ts";

/** Length of a UDP header. */
export const UDP_HEADER_LENGTH = 8;

/** A UDP header, filled in place by {@linkcode parseUdp}. */
export class UdpHeader {
  /** Source port. */
  srcPort: number = 0;
  /** Destination port. */
  dstPort: number = 0;
  /** Length field: header and payload. */
  length: number = 8;
  /** Checksum field as received (0: the sender computed none). {@linkcode emitUdp} computes its own. */
  checksum: number = 0;
}

/**
 * Parses the UDP datagram at `b[off .. end)` (`end`: the end of the IP payload) into `out`, and
 * verifies its checksum under the pseudo-header of `src`/`dst`. Returns the payload offset; the
 * payload ends at `off + out.length`. With `verifyChecksum` false the caller checks a nonzero
 * `out.checksum` itself (e.g. while copying the payload, with `copyAndSum`); every other check
 * still runs.
 */
export function parseUdp(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  out: UdpHeader,
  verifyChecksum: boolean = true,
): number {
  need(b, off, end, UDP_HEADER_LENGTH, "UDP");
  if (!(out instanceof UdpHeader)) needHeader("parseUdp", out, UdpHeader); // (instanceof a constant: inlined)
  needAddresses("parseUdp", src, dst);
  const v = dataView(b);
  const ports = v.getUint32(off);
  const w1 = v.getUint32(off + 4);
  const len = w1 >>> 16;
  const checksum = w1 & 0xffff;
  if (len < UDP_HEADER_LENGTH) throw new WireError("BadLength", `UDP: length ${len} < 8`);
  if (off + len > end) {
    throw new WireError("Truncated", `UDP: length ${len} runs past the IP payload (${end - off})`);
  }
  if (verifyChecksum && checksum !== 0) {
    const sum = udpHeaderSum(src, dst, ports >>> 16, ports & 0xffff, len, checksum);
    if (foldChecksum(sumViewRaw(v, off + UDP_HEADER_LENGTH, off + len, sum)) !== 0) {
      throw new WireError("BadChecksum", "UDP: checksum");
    }
  }
  out.srcPort = ports >>> 16;
  out.dstPort = ports & 0xffff;
  out.length = len;
  out.checksum = checksum;
  return off + UDP_HEADER_LENGTH;
}

/**
 * Writes the UDP header for `h` at `b[off ..]` with its checksum over `b[off .. off + h.length)`:
 * write the payload (at `off + 8`) first. Returns the offset after the datagram.
 */
export function emitUdp(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  h: UdpHeader,
): number {
  if (!(h instanceof UdpHeader)) needHeader("emitUdp", h, UdpHeader); // (instanceof a constant: inlined)
  needField("emitUdp", "length", h.length, UDP_HEADER_LENGTH, 0xffff);
  needField("emitUdp", "srcPort", h.srcPort, 0, 0xffff);
  needField("emitUdp", "dstPort", h.dstPort, 0, 0xffff);
  needAddresses("emitUdp", src, dst);
  need(b, off, end, h.length, "UDP emit");
  const v = dataView(b);
  const payload = sumViewRaw(v, off + UDP_HEADER_LENGTH, off + h.length, 0);
  putUdpHeader(v, off, src, dst, h.srcPort, h.dstPort, h.length, payload);
  return off + h.length;
}

function needAddresses(what: string, src: unknown, dst: unknown): void {
  if (!isU32(src)) {
    throw new WireError("InvalidArgument", badArgument(what, "src", src, "a u32 IPv4 address"));
  }
  if (!isU32(dst)) {
    throw new WireError("InvalidArgument", badArgument(what, "dst", dst, "a u32 IPv4 address"));
  }
}

/**
 * The running sum a UDP checksum covers, but for the payload: the IPv4 pseudo-header and the
 * header's words (`checksum`: the field as it stands, 0 when computing one). @internal
 */
export function udpHeaderSum(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  length: number,
  checksum: number,
): number {
  return pseudoHeaderSumRaw(src, dst, IPPROTO_UDP, length) + srcPort + dstPort + length + checksum;
}

/**
 * Writes a UDP header at `v[off ..]` as two 32-bit stores, its checksum computed from the header
 * values and `payloadSum` (the payload's running sum, e.g. from `sumView` or `copyAndSum`).
 * The caller has checked the range and the length. @internal
 */
export function putUdpHeader(
  v: DataView,
  off: number,
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  length: number,
  payloadSum: number,
): void {
  const sp = srcPort & 0xffff;
  const dp = dstPort & 0xffff;
  const sum = foldChecksum(payloadSum + udpHeaderSum(src, dst, sp, dp, length, 0));
  v.setUint32(off, (sp << 16) | dp);
  v.setUint32(off + 4, (length << 16) | (sum === 0 ? 0xffff : sum)); // 0 would mean "no checksum"
}
