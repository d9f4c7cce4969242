/**
 * The interface's way out: route, neighbour, headers, device. Every packet the interface and its
 * sockets send goes through one {@linkcode Egress}: UDP datagrams written straight into a device
 * buffer when the next hop is known, anything else queued behind ARP, fragmented above the MTU,
 * or dropped and counted; and the sockets' send queues waiting for a free buffer. It is the
 * {@linkcode UdpEgress} each UDP socket is handed and the {@linkcode TcpEgress} the TCP sockets
 * dispatch through, so a socket reaches the send path and nothing else of the interface.
 *
 * @module
 */
import {
  ARP_LENGTH,
  ARP_REQUEST,
  ArpPacket,
  emitArp,
  emitUdp,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IPPROTO_UDP,
  UDP_HEADER_LENGTH,
  UdpHeader,
  viewOf,
} from "../wire/mod.ts";
import { udpHeaderSum } from "../wire/udp.ts";
import { emitTcp, type TcpHeader, tcpHeaderLength } from "../wire/tcp.ts";
import { IPPROTO_TCP } from "../wire/ipv4.ts";
import { foldChecksum, setNativeSum } from "../wire/checksum.ts";
import { fragmentPayloadSize, putIpv4Header } from "../wire/ipv4.ts";
import type { Device } from "../phy/device.ts";
import { PcapError, type PcapWriter } from "../phy/pcap.ts";
import { copySum, sumNative, ViewCache } from "../copy.ts";
import type { UdpEgress } from "../socket/udp.ts";
import type { TcpEgress } from "../socket/tcp.ts";
import type { ByteRing } from "../socket/ring.ts";
import type { SlotRing } from "../socket/slot_ring.ts";
import type { Neighbor, NeighborCache, PendingTable } from "./neighbor.ts";
import type { Routes } from "./route.ts";
import type { InterfaceStats } from "./interface.ts";

// Long checksums (a TCP segment's payload, verified as it is parsed) go to C: one FFI call that
// sums in place, a fraction of the JS loop's time for a full segment.
setNativeSum(sumNative);

/** The Ethernet broadcast address. */
const BROADCAST: Uint8Array = new Uint8Array(6).fill(0xff);
/** The all-zero MAC (an ARP request's unknown target). */
export const ZERO_MAC: Uint8Array = new Uint8Array(6);

/** The send path of one interface (see the module's doc). */
export class Egress implements UdpEgress, TcpEgress {
  /** The time of the poll being run (ms), set by the interface. */
  now = 0;
  /** Why capture stopped, once it failed; null while it works. */
  captureError: PcapError | null = null;
  readonly #device: Device;
  readonly #stats: InterfaceStats;
  readonly #routes: Routes;
  readonly #neighbors: NeighborCache;
  readonly #pending: PendingTable;
  readonly #mac: Uint8Array;
  readonly #vlan: number;
  /** Ethernet header length of every frame: 14, or 18 with our VLAN tag. */
  readonly #l2: number;
  /** Payload bytes per fragment on this MTU. */
  readonly #fragmentSize: number;
  /** The largest IP payload that fits in one frame: MTU − 20. */
  readonly #maxInFrame: number;
  /** Bytes 2..5 of our MAC as a u32 (the last word of an Ethernet header's addresses). */
  readonly #macTail: number;
  readonly #unbind: (port: number) => void;
  #pcap: PcapWriter | undefined;
  /**
   * The last destination sent to, its source address and neighbour entry. Neighbour entries are
   * updated in place, and an evicted one is marked expired; its expiry is checked on use.
   */
  #lastDst = -1;
  #lastSrc = 0;
  #lastNeighbour: Neighbor | null = null;
  /**
   * The constant part of the headers to the last destination from its source (the header
   * template; all int32, so no number crossing a call is boxed): the IPv4 header's word sum without
   * its protocol, total length and id, the UDP pseudo-header's without the length, and the header
   * words that hold the two addresses.
   */
  #ipBase = 0;
  #udpPseudo = 0;
  #srcHigh = 0;
  #srcLowDstHigh = 0;
  #dstLow = 0;
  #ipId = 1;
  /** Send queues of sockets with datagrams waiting (the device had no buffer when they were sent), and their ports. */
  #backlog: SlotRing[] = [];
  #backlogPorts: number[] = [];
  #txView = new ViewCache();
  #txUdp = new UdpHeader();
  #txArp = new ArpPacket();

  /**
   * The send path of an interface on `device` with our `mac` and `vlan` (-1: none), sharing the
   * interface's counters, routes, neighbour cache and table of neighbours being resolved;
   * `unbind(port)` frees a port whose socket closed.
   */
  constructor(
    device: Device,
    mac: Uint8Array,
    vlan: number,
    stats: InterfaceStats,
    routes: Routes,
    neighbors: NeighborCache,
    pending: PendingTable,
    pcap: PcapWriter | undefined,
    unbind: (port: number) => void,
  ) {
    this.#device = device;
    this.#mac = mac;
    this.#vlan = vlan;
    this.#stats = stats;
    this.#routes = routes;
    this.#neighbors = neighbors;
    this.#pending = pending;
    this.#pcap = pcap;
    this.#unbind = unbind;
    this.#l2 = vlan < 0 ? 14 : 18;
    this.#fragmentSize = fragmentPayloadSize(device.mtu);
    this.#maxInFrame = device.mtu - 20;
    this.#macTail = (mac[2] << 24) | (mac[3] << 16) | (mac[4] << 8) | mac[5]; // int32: no box
  }

  /** The device's MTU. */
  get mtu(): number {
    return this.#device.mtu;
  }

  /** True while capture is on (the interface captures what it receives through {@linkcode Egress.capture}). */
  get capturing(): boolean {
    return this.#pcap !== undefined;
  }

  /** See {@linkcode UdpEgress.isUnicastPeer}. */
  isUnicastPeer(ip: number): boolean {
    return this.#routes.isUnicastPeer(ip);
  }

  /** See {@linkcode UdpEgress.backlogged}. */
  backlogged(port: number, queue: SlotRing): void {
    if (!this.#backlog.includes(queue)) {
      this.#backlog.push(queue);
      this.#backlogPorts.push(port);
    }
  }

  /** See {@linkcode UdpEgress.release}. */
  release(port: number, queue: SlotRing): void {
    this.#unbind(port);
    const k = this.#backlog.indexOf(queue); // a closed socket's queued datagrams are dropped
    if (k >= 0) {
      this.#backlog.splice(k, 1);
      this.#backlogPorts.splice(k, 1);
    }
  }

  /** True when sockets have datagrams waiting for a device buffer. */
  get hasBacklog(): boolean {
    return this.#backlog.length > 0;
  }

  /** Sends what sockets queued while the device had no buffer; keeps the ones still waiting. */
  drainBacklog(): boolean {
    let sent = false;
    let keep = 0;
    const list = this.#backlog;
    const ports = this.#backlogPorts;
    for (let k = 0; k < list.length; k++) {
      const q = list[k];
      const port = ports[k];
      while (q.count > 0) {
        const i = q.first;
        if (!this.send(port, q.ip[i], q.port[i], q.view, i * q.slotSize, q.len[i])) break; // no buffer yet
        q.shift();
        sent = true;
      }
      if (q.count > 0) {
        ports[keep] = port;
        list[keep++] = q;
      }
    }
    list.length = keep;
    ports.length = keep;
    return sent;
  }

  /**
   * Sends one TCP segment (see {@linkcode TcpEgress.transmit}): the header `h` and `length` bytes
   * of `payload` from position `from`, copied and summed straight into a device buffer when the
   * next hop is known; queued behind ARP otherwise (a copy), or dropped and counted without a
   * route (TCP retransmits). Returns false, having sent nothing, when the device has no free
   * buffer: the socket tries again on its next dispatch.
   */
  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean {
    const hl = tcpHeaderLength(h);
    const tcpLength = hl + length;
    // The neighbour of the last destination, as `send` keeps it (a connection sends to one peer).
    let n: Neighbor | undefined = this.#lastNeighbour ?? undefined;
    if ((dst | 0) !== this.#lastDst || n === undefined || n.expires <= this.now) {
      const hop = this.#routes.nextHop(dst);
      if (hop < 0) {
        this.#stats.txDropped++;
        return true;
      }
      n = this.#neighbors.lookup(hop, this.now);
      if (n !== undefined) this.#remember(dst, this.#routes.sourceFor(hop), n);
    }
    if (n === undefined || tcpLength > this.#maxInFrame) {
      this.#transmitSlow(src, dst, h, payload, from, length);
      return true;
    }
    // The template holds the route's source: a connection bound to another of our addresses
    // writes its headers in full.
    const o = (src | 0) === this.#lastSrc && this.#l2 === 14
      ? this.#emitTemplate(n, IPPROTO_TCP, tcpLength)
      : this.#emitHeaders(n, src, dst, IPPROTO_TCP, tcpLength);
    if (o < 0) return false;
    const b = this.#device.txBytes;
    const sum = length > 0 ? payload.peekAndSum(from, this.#txView.view, o + hl, length) : 0;
    emitTcp(b, o, o + tcpLength, src, dst, h, length, sum);
    const l2 = this.#l2;
    this.#sent(b, o - 20 - l2, l2 + 20 + tcpLength);
    return true;
  }

  /**
   * {@linkcode Egress.transmit} without a known neighbour or past one frame (queued behind ARP,
   * or fragmented). A method of its own: the closure it makes, in `transmit`'s body, would have V8
   * allocate a context for every segment, fast path included.
   */
  #transmitSlow(
    src: number,
    dst: number,
    h: TcpHeader,
    payload: ByteRing,
    from: number,
    length: number,
  ): void {
    const hl = tcpHeaderLength(h);
    const tcpLength = hl + length;
    this.sendIp(dst, IPPROTO_TCP, tcpLength, (b, o) => {
      if (length > 0) payload.peek(from, b, o + hl, length);
      emitTcp(b, o, o + tcpLength, src, dst, h, length);
    }, src);
  }

  /** `ip` was resolved: sends the packets that waited for it. */
  resolved(ip: number): void {
    const p = this.#pending.take(ip);
    if (p !== undefined) {
      for (const q of p.queue) {
        this.sendIp(q.dst, q.protocol, q.segment.length, (b, o) => b.set(q.segment, o), q.src);
      }
    }
  }

  /** Sends an ARP request for `ip` (a bound function: the pending table calls it back). */
  requestArp = (ip: number): void => this.sendArp(ARP_REQUEST, BROADCAST, ip, ZERO_MAC);

  /**
   * Sends one UDP datagram, its payload `data[from .. from + length)`: written straight
   * into a device buffer when the next hop is known and it fits in one frame (queued behind ARP
   * otherwise, sent in fragments above the MTU, or dropped and counted without a route). Returns
   * false, having sent nothing, when the device has no free buffer. `dst` may be given as a u32
   * or as the same bits in an int32 (`ip | 0`, what the socket passes: never boxed).
   */
  send(srcPort: number, dst: number, dstPort: number, data: DataView, from: number, length: number): boolean {
    const n = this.#lastNeighbour;
    const udpLength = UDP_HEADER_LENGTH + length;
    if (
      (dst | 0) !== this.#lastDst || n === null || n.expires <= this.now || udpLength > this.#maxInFrame ||
      this.#l2 !== 14
    ) {
      return this.#sendRouted(srcPort, dst >>> 0, dstPort, data, from, length);
    }
    return this.#sendTemplate(n, srcPort, dstPort, data, from, length); // the common case
  }

  /**
   * `send` of an untagged datagram that fits one frame to the remembered destination, whose
   * neighbour is `n`: its headers from the template.
   */
  #sendTemplate(
    n: Neighbor,
    srcPort: number,
    dstPort: number,
    data: DataView,
    from: number,
    length: number,
  ): boolean {
    const udpLength = UDP_HEADER_LENGTH + length;
    const o = this.#emitTemplate(n, IPPROTO_UDP, udpLength);
    if (o < 0) return false;
    const v = this.#txView.view; // of the device's txBytes, set by #emitTemplate
    // The payload is summed as it is copied; the header's words are added from their values.
    const payload = copySum(v, o + UDP_HEADER_LENGTH, data, from, length);
    let sum = foldChecksum(payload + this.#udpPseudo + 2 * udpLength + srcPort + dstPort);
    if (sum === 0) sum = 0xffff; // 0 would mean "no checksum"
    v.setUint32(o, (srcPort << 16) | dstPort);
    v.setUint32(o + 4, (udpLength << 16) | sum);
    this.#stats.txFrames++;
    if (this.#pcap !== undefined) this.capture(this.#device.txBytes, o - 34, 34 + udpLength);
    return true;
  }

  /**
   * `#emitHeaders` from the template, for an untagged frame from the remembered source to the
   * remembered destination, whose neighbour is `n`: Ethernet and IPv4 (TOS 0, Don't Fragment, TTL
   * 64) headers as nine stores, the header sum from the template's plus the protocol, length and
   * id. Returns the payload's index in `device.txBytes`, or -1 when the device has no free buffer.
   * The send-path tests hold these bytes to known answers.
   */
  #emitTemplate(n: Neighbor, protocol: number, length: number): number {
    const device = this.#device;
    const start = device.txSlot(34 + length);
    if (start < 0) return -1;
    const v = this.#txView.of(device.txBytes);
    const total = 20 + length;
    const id = this.#ipId = (this.#ipId + 1) & 0xffff;
    let sum = this.#ipBase + protocol + total + id; // < 2^19: two folds leave 16 bits
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = ~((sum & 0xffff) + (sum >>> 16)) & 0xffff;
    v.setUint32(start, n.head0);
    v.setUint32(start + 4, n.head1);
    v.setUint32(start + 8, this.#macTail);
    v.setUint32(start + 12, 0x08004500); // IPv4; version 4, header length 20, TOS 0
    v.setUint32(start + 16, (total << 16) | id);
    v.setUint32(start + 20, 0x40004000 | protocol); // Don't Fragment, TTL 64
    v.setUint32(start + 24, (sum << 16) | this.#srcHigh);
    v.setUint32(start + 28, this.#srcLowDstHigh);
    v.setUint16(start + 32, this.#dstLow);
    return start + 34;
  }

  /** The next hop to `dst` (a u32) is `n`, from our address `src`: the header template for it. */
  #remember(dst: number, src: number, n: Neighbor): void {
    const d = dst | 0;
    const s = src | 0;
    this.#lastDst = d;
    this.#lastSrc = s;
    this.#lastNeighbour = n;
    const addresses = (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff);
    this.#ipBase = 0x4500 + 0x4000 + (64 << 8) + addresses;
    this.#udpPseudo = addresses + IPPROTO_UDP;
    this.#srcHigh = s >>> 16;
    this.#srcLowDstHigh = (s << 16) | (d >>> 16);
    this.#dstLow = d & 0xffff;
  }

  /**
   * `send` when the template does not apply: another destination (looked up, and remembered
   * when its neighbour is known), a neighbour to resolve or expired, a datagram above the MTU or
   * a VLAN-tagged frame.
   */
  #sendRouted(
    srcPort: number,
    dst: number,
    dstPort: number,
    data: DataView,
    from: number,
    length: number,
  ): boolean {
    let n = this.#lastNeighbour;
    let src = this.#lastSrc >>> 0;
    if ((dst | 0) !== this.#lastDst || n === null || n.expires <= this.now) {
      const hop = this.#routes.nextHop(dst);
      if (hop < 0) {
        this.#stats.txDropped++;
        return true;
      }
      n = this.#neighbors.lookup(hop, this.now) ?? null;
      src = this.#routes.sourceFor(hop);
      if (n !== null) this.#remember(dst, src, n);
      else if ((dst | 0) === this.#lastDst) this.#lastNeighbour = null; // expired
    }
    const udpLength = UDP_HEADER_LENGTH + length;
    if (n === null || udpLength > this.#maxInFrame) {
      this.sendIp(dst, IPPROTO_UDP, udpLength, (b, o, src) => {
        const h = this.#txUdp;
        h.srcPort = srcPort;
        h.dstPort = dstPort;
        h.length = udpLength;
        copySum(viewOf(b), o + UDP_HEADER_LENGTH, data, from, length); // emitUdp sums it
        emitUdp(b, o, o + udpLength, src, dst, h);
      });
      return true;
    }
    if (this.#l2 === 14) return this.#sendTemplate(n, srcPort, dstPort, data, from, length); // remembered above
    const o = this.#emitHeaders(n, src, dst, IPPROTO_UDP, udpLength);
    if (o < 0) return false;
    const b = this.#device.txBytes;
    const v = this.#txView.view; // of b, set by #emitHeaders
    const payload = copySum(v, o + UDP_HEADER_LENGTH, data, from, length);
    let sum = foldChecksum(payload + udpHeaderSum(src, dst, srcPort, dstPort, udpLength, 0));
    if (sum === 0) sum = 0xffff; // 0 would mean "no checksum"
    v.setUint32(o, (srcPort << 16) | dstPort);
    v.setUint32(o + 4, (udpLength << 16) | sum);
    const l2 = this.#l2;
    this.#sent(b, o - 20 - l2, l2 + 20 + udpLength);
    return true;
  }

  /**
   * Takes a device buffer for an IPv4 packet of `length` payload bytes to the neighbour `n` (Don't
   * Fragment, the next id) and writes its Ethernet (with our VLAN tag, if any) and IPv4 headers.
   * Returns the payload's index in `device.txBytes`, or -1 when the device has no free buffer (the
   * caller counts or queues).
   */
  #emitHeaders(n: Neighbor, src: number, dst: number, protocol: number, length: number): number {
    if (this.#l2 !== 14) return this.#emitHeadersAny(n, src, dst, protocol, length, 0x4000, this.#nextId());
    const start = this.#device.txSlot(34 + length);
    if (start < 0) return -1;
    // Ethernet and IPv4 headers as nine 32/16-bit stores (byte stores cost about as much each).
    const v = this.#txView.of(this.#device.txBytes);
    v.setUint32(start, n.head0);
    v.setUint32(start + 4, n.head1);
    v.setUint32(start + 8, this.#macTail);
    v.setUint16(start + 12, ETHERTYPE_IPV4);
    // putIpv4Header's stores for TOS 0, Don't Fragment, TTL 64, written out by hand: through the
    // call, the whole echo measured ≈ 6 ns slower per datagram (V8 stops inlining in this path).
    // The send-path tests hold these bytes to known answers.
    const o = start + 14;
    const total = 20 + length;
    const id = this.#ipId = (this.#ipId + 1) & 0xffff;
    const ttlProto = (64 << 8) | protocol;
    const sum = foldChecksum(
      0x4500 + total + id + 0x4000 + ttlProto + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff),
    );
    v.setUint32(o, 0x45000000 | total);
    v.setUint32(o + 4, (id << 16) | 0x4000);
    v.setUint32(o + 8, (ttlProto << 16) | sum);
    v.setUint32(o + 12, src);
    v.setUint32(o + 16, dst);
    return o + 20;
  }

  #nextId(): number {
    return this.#ipId = (this.#ipId + 1) & 0xffff;
  }

  /**
   * `#emitHeaders` for any frame: tagged or not, any `flags` (the flags and
   * fragment-offset field) and `id` (fragments of one datagram share theirs).
   */
  #emitHeadersAny(
    n: Neighbor,
    src: number,
    dst: number,
    protocol: number,
    length: number,
    flags: number,
    id: number,
  ): number {
    const l2 = this.#l2;
    const start = this.#device.txSlot(l2 + 20 + length);
    if (start < 0) return -1;
    const v = this.#txView.of(this.#device.txBytes);
    v.setUint32(start, n.head0);
    v.setUint32(start + 4, n.head1);
    v.setUint32(start + 8, this.#macTail);
    if (l2 === 18) v.setUint32(start + 12, 0x81000000 | this.#vlan);
    v.setUint16(start + l2 - 2, ETHERTYPE_IPV4);
    putIpv4Header(v, start + l2, 0, 20 + length, id, flags, 64, protocol, src, dst);
    return start + l2 + 20;
  }

  /**
   * Sends an IPv4 packet whose payload `build` writes at `o`; queues it behind ARP when needed.
   * A packet above the MTU leaves in fragments (RFC 791); one past 65 535 bytes is dropped and
   * counted in `txTooLarge`.
   */
  sendIp(
    dst: number,
    protocol: number,
    length: number,
    build: (b: Uint8Array, o: number, src: number) => void,
    src?: number,
  ): void {
    if (20 + length > 0xffff) {
      this.#stats.txTooLarge++;
      return;
    }
    const hop = this.#routes.nextHop(dst);
    if (hop < 0) {
      this.#stats.txDropped++;
      return;
    }
    const source = src ?? this.#routes.sourceFor(hop);
    const n = this.#neighbors.lookup(hop, this.now);
    if (n === undefined) {
      const p = this.#pending.open(hop);
      if (p === undefined) {
        this.#stats.pendingOverflows = this.#pending.overflows;
        this.#stats.txDropped++;
        return;
      }
      if (p.requests === 0) {
        this.requestArp(hop);
        this.#pending.requested(p, this.now);
      }
      if (this.#pending.full(p, length)) {
        this.#stats.txDropped++;
      } else {
        const segment = new Uint8Array(length);
        build(segment, 0, source);
        this.#pending.enqueue(p, { dst, src: source, protocol, segment });
      }
      return;
    }
    if (20 + length > this.#device.mtu) {
      const segment = new Uint8Array(length);
      build(segment, 0, source);
      this.#sendFragments(n, source, dst, protocol, segment);
      return;
    }
    const o = this.#emitHeaders(n, source, dst, protocol, length);
    if (o < 0) {
      this.#stats.deviceDropped++;
      return;
    }
    const b = this.#device.txBytes;
    build(b, o, source);
    this.#sent(b, o - 20 - this.#l2, this.#l2 + 20 + length);
  }

  /** Sends `segment` (an IP payload above the MTU) as fragments of one datagram (RFC 791 3.2). */
  #sendFragments(n: Neighbor, src: number, dst: number, protocol: number, segment: Uint8Array): void {
    const size = this.#fragmentSize;
    const id = this.#nextId();
    for (let off = 0; off < segment.length; off += size) {
      const len = Math.min(size, segment.length - off);
      const more = off + len < segment.length;
      const o = this.#emitHeadersAny(n, src, dst, protocol, len, (more ? 0x2000 : 0) | (off >>> 3), id);
      if (o < 0) {
        this.#stats.deviceDropped++; // the datagram cannot be whole: send no more of it
        break;
      }
      const b = this.#device.txBytes;
      b.set(segment.subarray(off, off + len), o);
      this.#stats.txFragments++;
      this.#sent(b, o - 20 - this.#l2, this.#l2 + 20 + len);
    }
  }

  sendArp(op: number, ethDst: Uint8Array, targetIp: number, targetMac: Uint8Array, senderIp?: number): void {
    const l2 = this.#l2;
    const start = this.#device.txSlot(l2 + ARP_LENGTH);
    if (start < 0) {
      this.#stats.deviceDropped++;
      return;
    }
    const bytes = this.#device.txBytes;
    for (let i = 0; i < 6; i++) {
      bytes[start + i] = ethDst[i];
      bytes[start + 6 + i] = this.#mac[i];
    }
    if (l2 === 18) {
      bytes[start + 12] = 0x81;
      bytes[start + 13] = 0x00;
      bytes[start + 14] = this.#vlan >>> 8;
      bytes[start + 15] = this.#vlan & 0xff;
    }
    bytes[start + l2 - 2] = ETHERTYPE_ARP >>> 8;
    bytes[start + l2 - 1] = ETHERTYPE_ARP & 0xff;
    const a = this.#txArp;
    a.operation = op;
    a.senderMac.set(this.#mac);
    a.senderIp = senderIp ?? this.#routes.sourceFor(targetIp);
    a.targetMac.set(targetMac);
    a.targetIp = targetIp;
    emitArp(bytes, start + l2, start + l2 + ARP_LENGTH, a);
    this.#sent(bytes, start, l2 + ARP_LENGTH);
  }

  #sent(b: Uint8Array, start: number, length: number): void {
    this.#stats.txFrames++;
    if (this.#pcap !== undefined) this.capture(b, start, length);
  }

  /** Writes a frame to the capture; the first failure stops capture, counted, its error kept. */
  capture(b: Uint8Array, start: number, length: number): void {
    try {
      this.#pcap!.write(b, start, length);
    } catch (e) {
      this.#pcap = undefined;
      this.#stats.captureFailures++;
      this.captureError = e instanceof PcapError ? e : new PcapError("WriteFailed", String(e), { cause: e });
    }
  }

  flush(): void {
    this.#stats.deviceDropped += this.#device.flush();
  }
}
