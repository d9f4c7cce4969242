/**
 * ARP for IPv4 over Ethernet (RFC 826).
 *
 * @module
 */
import { need, needField, needHeader, put16, put32, u16, u32, WireError } from "./error.ts";

/** ARP request. */
export const ARP_REQUEST = 1;
/** ARP reply. */
export const ARP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LENGTH = 28;

/** An Ethernet/IPv4 ARP packet, filled in place by {@linkcode parseArp}. IPv4 addresses are u32. */
export class ArpPacket {
  /** {@linkcode ARP_REQUEST} or {@linkcode ARP_REPLY}. */
  operation: number = ARP_REQUEST;
  /** Sender hardware address. */
  readonly senderMac: Uint8Array = new Uint8Array(6);
  /** Sender IPv4 address. */
  senderIp: number = 0;
  /** Target hardware address (zero in a request). */
  readonly targetMac: Uint8Array = new Uint8Array(6);
  /** Target IPv4 address. */
  targetIp: number = 0;
}

/** Parses the ARP packet at `b[off .. end)` into `out`. Only Ethernet/IPv4 ARP is accepted. */
export function parseArp(b: Uint8Array, off: number, end: number, out: ArpPacket): void {
  need(b, off, end, ARP_LENGTH, "ARP");
  if (!(out instanceof ArpPacket)) needHeader("parseArp", out, ArpPacket); // (instanceof a constant: inlined)
  if (u16(b, off) !== 1 || u16(b, off + 2) !== 0x0800) {
    throw new WireError(
      "Unsupported",
      `ARP: hardware ${u16(b, off)} / protocol 0x${u16(b, off + 2).toString(16)}`,
    );
  }
  if (b[off + 4] !== 6 || b[off + 5] !== 4) {
    throw new WireError("BadLength", `ARP: address lengths ${b[off + 4]}/${b[off + 5]}, expected 6/4`);
  }
  const op = u16(b, off + 6);
  if (op !== ARP_REQUEST && op !== ARP_REPLY) throw new WireError("BadField", `ARP: operation ${op}`);
  out.operation = op;
  for (let i = 0; i < 6; i++) {
    out.senderMac[i] = b[off + 8 + i];
    out.targetMac[i] = b[off + 18 + i];
  }
  out.senderIp = u32(b, off + 14);
  out.targetIp = u32(b, off + 24);
}

/** Writes `p` at `b[off ..]`; returns the offset after it. */
export function emitArp(b: Uint8Array, off: number, end: number, p: ArpPacket): number {
  need(b, off, end, ARP_LENGTH, "ARP emit");
  if (!(p instanceof ArpPacket)) needHeader("emitArp", p, ArpPacket); // (instanceof a constant: inlined)
  needField("emitArp", "senderIp", p.senderIp, 0, 0xffffffff);
  needField("emitArp", "targetIp", p.targetIp, 0, 0xffffffff);
  if (p.operation !== ARP_REQUEST && p.operation !== ARP_REPLY) {
    throw new WireError("BadField", `ARP emit: operation ${p.operation}`);
  }
  put16(b, off, 1);
  put16(b, off + 2, 0x0800);
  b[off + 4] = 6;
  b[off + 5] = 4;
  put16(b, off + 6, p.operation);
  b.set(p.senderMac, off + 8);
  put32(b, off + 14, p.senderIp);
  b.set(p.targetMac, off + 18);
  put32(b, off + 24, p.targetIp);
  return off + ARP_LENGTH;
}
