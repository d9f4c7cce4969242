/**
 * Ethernet II frames, with an optional 802.1Q VLAN tag.
 *
 * @module
 */
import { need, needField, needHeader, put16, u16, WireError } from "./error.ts";

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType (TPID) of an 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** EtherType (TPID) of an 802.1ad service tag, the outer tag of QinQ (not parsed: see {@linkcode parseEthernet}). */
export const ETHERTYPE_QINQ = 0x88a8;

/** An Ethernet header, filled in place by {@linkcode parseEthernet} (reuse one per loop). */
export class EthernetHeader {
  /** Destination MAC. */
  readonly dst: Uint8Array = new Uint8Array(6);
  /** Source MAC. */
  readonly src: Uint8Array = new Uint8Array(6);
  /** EtherType of the payload (after any VLAN tag). */
  etherType: number = 0;
  /** VLAN id (0–4095), or -1 when the frame has no 802.1Q tag. */
  vlanId: number = -1;
  /** VLAN priority (PCP, 0–7); 0 without a tag. */
  vlanPriority: number = 0;
  /** Header length: 14, or 18 with a VLAN tag. */
  get length(): number {
    return this.vlanId >= 0 ? 18 : 14;
  }
}

/** Parses the Ethernet header of `b[off .. end)` into `out`; returns the payload offset. */
export function parseEthernet(b: Uint8Array, off: number, end: number, out: EthernetHeader): number {
  need(b, off, end, 14, "Ethernet");
  if (!(out instanceof EthernetHeader)) needHeader("parseEthernet", out, EthernetHeader); // (instanceof a constant: inlined)
  for (let i = 0; i < 6; i++) {
    out.dst[i] = b[off + i];
    out.src[i] = b[off + 6 + i];
  }
  let type = u16(b, off + 12);
  out.vlanId = -1;
  out.vlanPriority = 0;
  if (type === ETHERTYPE_VLAN) {
    need(b, off, end, 18, "Ethernet with 802.1Q tag");
    const tci = u16(b, off + 14);
    out.vlanPriority = tci >>> 13;
    out.vlanId = tci & 0x0fff;
    type = u16(b, off + 16);
    if (type === ETHERTYPE_VLAN) throw new WireError("Unsupported", "Ethernet: stacked VLAN tags (QinQ)");
  }
  if (type < 0x0600) {
    throw new WireError("Unsupported", `Ethernet: 802.3 length field ${type}, not an EtherType`);
  }
  out.etherType = type;
  return off + out.length;
}

/** Writes `h` at `b[off ..]` (at most up to `end`); returns the payload offset. */
export function emitEthernet(b: Uint8Array, off: number, end: number, h: EthernetHeader): number {
  if (!(h instanceof EthernetHeader)) needHeader("emitEthernet", h, EthernetHeader); // (instanceof a constant: inlined)
  needField("emitEthernet", "vlanId", h.vlanId, -1, 0x0fff);
  needField("emitEthernet", "vlanPriority", h.vlanPriority, 0, 7);
  needField("emitEthernet", "etherType", h.etherType, 0x0600, 0xffff);
  const len = h.length;
  need(b, off, end, len, "Ethernet emit");
  // Six-byte copies as loops: the set() builtin costs more than the copy at this size.
  const dst = h.dst;
  const src = h.src;
  for (let i = 0; i < 6; i++) {
    b[off + i] = dst[i];
    b[off + 6 + i] = src[i];
  }
  if (h.vlanId >= 0) {
    put16(b, off + 12, ETHERTYPE_VLAN);
    put16(b, off + 14, (h.vlanPriority << 13) | h.vlanId);
  }
  put16(b, off + len - 2, h.etherType);
  return off + len;
}
