/**
 * UDP over IPv4 (RFC 768). The checksum is always emitted, and checked whenever the sender set one
 * (a zero checksum means "none" in IPv4).
 *
 * @module
 */
import { need, put16, u16, WireError } from "./error.ts";
import { IPPROTO_UDP, l4Checksum } from "./ipv4.ts";

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
}

/**
 * Parses the UDP datagram at `b[off .. end)` (`end`: the end of the IP payload) into `out`, and
 * verifies its checksum under the pseudo-header of `src`/`dst`. Returns the payload offset; the
 * payload ends at `off + out.length`.
 */
export function parseUdp(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  out: UdpHeader,
): number {
  need(b, off, end, UDP_HEADER_LENGTH, "UDP");
  const len = u16(b, off + 4);
  if (len < UDP_HEADER_LENGTH) throw new WireError("BadLength", `UDP: length ${len} < 8`);
  if (off + len > end) {
    throw new WireError("Truncated", `UDP: length ${len} runs past the IP payload (${end - off})`);
  }
  if (u16(b, off + 6) !== 0 && l4Checksum(b, off, off + len, src, dst, IPPROTO_UDP) !== 0) {
    throw new WireError("BadChecksum", "UDP: checksum");
  }
  out.srcPort = u16(b, off);
  out.dstPort = u16(b, off + 2);
  out.length = len;
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
  need(b, off, end, h.length, "UDP emit");
  if (h.length < UDP_HEADER_LENGTH || h.length > 0xffff) {
    throw new WireError("BadField", `UDP emit: length ${h.length}`);
  }
  put16(b, off, h.srcPort);
  put16(b, off + 2, h.dstPort);
  put16(b, off + 4, h.length);
  put16(b, off + 6, 0);
  const sum = l4Checksum(b, off, off + h.length, src, dst, IPPROTO_UDP);
  put16(b, off + 6, sum === 0 ? 0xffff : sum); // 0 would mean "no checksum"
  return off + h.length;
}
