/** Byte fixtures shared by the wire tests and the fuzzer (frames the Linux kernel sent through a tap). */

/** Bytes from hex, spaces allowed. */
export function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (h) => parseInt(h, 16));
}

/** ARP reply from Linux (198.18.77.1 is at 26:85:99:69:fb:3a), to 02:00:5e:10:00:02 / 198.18.77.2. */
export const KERNEL_ARP_REPLY = hex(
  "02005e100002 26859969fb3a 0806 0001 0800 06 04 0002 26859969fb3a c6124d01 02005e100002 c6124d02",
);
/** UDP datagram from a Linux socket 198.18.77.1:40001 to 198.18.77.2:40002, "hello from linux". */
export const KERNEL_UDP = hex(
  "02005e100002 26859969fb3a 0800 4500002c3a1f40004011da79c6124d01c6124d02 9c419c42001887ec" +
    "68656c6c6f2066726f6d206c696e7578",
);

import {
  ArpPacket,
  emitArp,
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IcmpHeader,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  Ipv4Header,
  UdpHeader,
} from "../mod.ts";

/** Fields of a test frame; anything left out gets a plain value. */
export interface FrameSpec {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  vlan?: number;
  src: number;
  dst: number;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  fragmentOffset?: number;
  protocol?: number;
  /** IPv4 options (a multiple of 4 bytes); the checksum covers them. */
  options?: Uint8Array;
}

/** An Ethernet + IPv4 frame carrying `payload` (the IP payload, written as given). */
export function ipFrame(spec: FrameSpec, payload: Uint8Array): Uint8Array {
  const eth = new EthernetHeader();
  eth.dst.set(spec.dstMac);
  eth.src.set(spec.srcMac);
  eth.vlanId = spec.vlan ?? -1;
  eth.etherType = ETHERTYPE_IPV4;
  const l2 = eth.length;
  const opt = spec.options ?? new Uint8Array(0);
  const hl = 20 + opt.length;
  const f = new Uint8Array(l2 + hl + payload.length);
  emitEthernet(f, 0, l2, eth);
  const ip = Object.assign(new Ipv4Header(), {
    totalLength: hl + payload.length,
    protocol: spec.protocol ?? IPPROTO_UDP,
    src: spec.src,
    dst: spec.dst,
    ttl: spec.ttl ?? 64,
    id: spec.id ?? 1,
    dontFragment: spec.dontFragment ?? (spec.moreFragments || spec.fragmentOffset ? false : true),
    moreFragments: spec.moreFragments ?? false,
    fragmentOffset: spec.fragmentOffset ?? 0,
  });
  emitIpv4(f, l2, l2 + 20, ip);
  if (opt.length > 0) {
    // Rewrite the header with options: IHL, total length, then the checksum over all of it.
    f[l2] = 0x40 | (hl / 4);
    f.set(opt, l2 + 20);
    f[l2 + 10] = 0;
    f[l2 + 11] = 0;
    let sum = 0;
    for (let i = 0; i < hl; i += 2) sum += (f[l2 + i] << 8) | f[l2 + i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const ck = ~sum & 0xffff;
    f[l2 + 10] = ck >>> 8;
    f[l2 + 11] = ck & 0xff;
  }
  f.set(payload, l2 + hl);
  return f;
}

/** A UDP datagram (header and payload, checksum over the pseudo-header of `src`/`dst`). */
export function udpSegment(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  const seg = new Uint8Array(8 + data.length);
  seg.set(data, 8);
  emitUdp(
    seg,
    0,
    seg.length,
    src,
    dst,
    Object.assign(new UdpHeader(), { srcPort, dstPort, length: seg.length }),
  );
  return seg;
}

/** An ICMP message (type, code, the 4 "rest" bytes, then `data`), with its checksum. */
export function icmpMessage(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m.set(data, 8);
  const h = new IcmpHeader();
  h.type = type;
  h.code = code;
  h.rest = rest;
  emitIcmp(m, 0, m.length, h);
  return m;
}

/** An Ethernet + UDP/IPv4 frame. */
export function udpFrame(spec: FrameSpec, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  return ipFrame({ ...spec, protocol: IPPROTO_UDP }, udpSegment(spec.src, spec.dst, srcPort, dstPort, data));
}

/** An Ethernet + ICMP echo request frame. */
export function echoFrame(spec: FrameSpec, id: number, seq: number, data: Uint8Array): Uint8Array {
  return ipFrame({ ...spec, protocol: IPPROTO_ICMP }, icmpMessage(8, 0, (id << 16) | seq, data));
}

/** An Ethernet + ARP frame. */
export function arpFrame(
  op: number,
  ethDst: Uint8Array,
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
): Uint8Array {
  const f = new Uint8Array(42);
  const eth = new EthernetHeader();
  eth.dst.set(ethDst);
  eth.src.set(senderMac);
  eth.etherType = ETHERTYPE_ARP;
  emitEthernet(f, 0, 14, eth);
  const a = new ArpPacket();
  a.operation = op;
  a.senderMac.set(senderMac);
  a.senderIp = senderIp;
  a.targetMac.set(targetMac);
  a.targetIp = targetIp;
  emitArp(f, 14, 42, a);
  return f;
}

/** The Internet checksum of `bytes[start .. end)` plus `init`, written independently of src/net/wire. */
export function ones(bytes: Uint8Array, start: number, end: number, init = 0): number {
  let sum = init;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The big-endian 16-bit word at `o`. */
export const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/** The big-endian 32-bit word at `o`, unsigned. */
export const be32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
