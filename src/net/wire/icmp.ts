/**
 * ICMPv4 (RFC 792): echo request/reply, destination unreachable, time exceeded, parameter problem.
 *
 * @module
 */
import { internetChecksum } from "./checksum.ts";
import { need, needField, needHeader, put16, put32, u32, WireError } from "./error.ts";

/** Echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** Destination unreachable. */
export const ICMP_DEST_UNREACHABLE = 3;
/** Echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** Time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;
/** Parameter problem (the pointer is the first byte of `rest`). */
export const ICMP_PARAMETER_PROBLEM = 12;
/** Destination unreachable code: protocol unreachable. */
export const ICMP_PROTOCOL_UNREACHABLE = 2;
/** Destination unreachable code: port unreachable. */
export const ICMP_PORT_UNREACHABLE = 3;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMP_FRAGMENT_TIMEOUT = 1;

/** An ICMP header, filled in place by {@linkcode parseIcmp}. */
export class IcmpHeader {
  /** Type. */
  type: number = 0;
  /** Code. */
  code: number = 0;
  /** The 4 bytes after the checksum: identifier and sequence for echo, unused (0) for unreachable. */
  rest: number = 0;
  /** Echo identifier (high half of `rest`). */
  get id(): number {
    return this.rest >>> 16;
  }
  /** Echo sequence number (low half of `rest`). */
  get sequence(): number {
    return this.rest & 0xffff;
  }
}

/** Parses the ICMP message `b[off .. end)` into `out`, verifying its checksum; returns the data offset. */
export function parseIcmp(b: Uint8Array, off: number, end: number, out: IcmpHeader): number {
  need(b, off, end, 8, "ICMP");
  if (!(out instanceof IcmpHeader)) needHeader("parseIcmp", out, IcmpHeader); // (instanceof a constant: inlined)
  if (internetChecksum(b, off, end) !== 0) throw new WireError("BadChecksum", "ICMP: checksum");
  out.type = b[off];
  out.code = b[off + 1];
  out.rest = u32(b, off + 4);
  return off + 8;
}

/**
 * Writes an ICMP header for `h` at `b[off ..]` and the checksum over `b[off .. end)`: write the
 * data (at `off + 8`) first. Returns `end`.
 */
export function emitIcmp(b: Uint8Array, off: number, end: number, h: IcmpHeader): number {
  need(b, off, end, 8, "ICMP emit");
  if (!(h instanceof IcmpHeader)) needHeader("emitIcmp", h, IcmpHeader); // (instanceof a constant: inlined)
  needField("emitIcmp", "type", h.type, 0, 255);
  needField("emitIcmp", "code", h.code, 0, 255);
  needField("emitIcmp", "rest", h.rest, -0x80000000, 0xffffffff); // u32, or its int32 form ((id << 16) | seq)
  b[off] = h.type;
  b[off + 1] = h.code;
  put16(b, off + 2, 0);
  put32(b, off + 4, h.rest);
  put16(b, off + 2, internetChecksum(b, off, end));
  return end;
}
