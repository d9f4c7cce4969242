/**
 * The receive side of an {@linkcode Interface}: every frame the device delivers goes through
 * {@linkcode Ingress.onFrame}, which checks it (MAC, VLAN, IPv4 header, source, destination),
 * answers ARP and ICMP echo, reassembles fragments, and hands UDP datagrams to their sockets and
 * TCP segments to the connection table. What cannot be handled is dropped and counted; nothing a
 * frame holds makes it throw. {@linkcode Egress} is the send side.
 *
 * @module
 */
import {
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  emitIcmp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_FRAGMENT_TIMEOUT,
  ICMP_PARAMETER_PROBLEM,
  ICMP_PORT_UNREACHABLE,
  ICMP_PROTOCOL_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  IcmpHeader,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  Ipv4Header,
  ipv4OptionsError,
  l4Checksum,
  parseArp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseUdp,
  UdpHeader,
  WireError,
} from "../wire/mod.ts";
import { udpHeaderSum } from "../wire/udp.ts";
import type { PortDevice } from "../phy/device.ts";
import { ViewCache } from "../copy.ts";
import { UDP_SOCKET_TOKEN, UdpSocket } from "../socket/udp.ts";
import {
  DELIVER_BAD_CHECKSUM,
  DELIVER_DROPPED,
  DELIVERED,
  LendTally,
  SlotRing,
} from "../socket/slot_ring.ts";
import type { NeighborCache } from "./neighbor.ts";
import type { Routes } from "./route.ts";
import type { IcmpRateLimiter } from "./ratelimit.ts";
import type { Reassembler } from "./fragment.ts";
import { type Egress, ZERO_MAC } from "./egress.ts";
import type { TcpConnections } from "./tcp_conns.ts";
import type { InterfaceStats } from "./interface.ts";

/** What the receive side shares with its interface (the interface builds and owns each part). */
export interface IngressParts {
  stats: InterfaceStats;
  mac: Uint8Array;
  /** The 802.1Q VLAN id, or -1 for none. */
  vlan: number;
  promiscuous: boolean;
  routes: Routes;
  neighbors: NeighborCache;
  icmpLimit: IcmpRateLimiter;
  reassembly: Reassembler;
  egress: Egress;
  tcp: TcpConnections;
  /**
   * The device when its received frames stay valid until its next `receive` (a
   * {@linkcode PortDevice}: it frees a burst when it receives the next), else null. Then the
   * receive fast path lends datagrams to their sockets in place (no copy), and the next poll
   * copies the ones still unread into their rings before the device reuses the frames.
   */
  lender: PortDevice | null;
}

/** The receive demultiplexer of one interface. */
export class Ingress {
  /** The time of the last poll (ms): the neighbour cache, ICMP rate limit and TCP read it, and the interface. */
  now = 0;
  /** The device's per-frame callback. */
  readonly onFrame = (b: Uint8Array, s: number, l: number): void => this.#receive(b, s, l);
  readonly stats: InterfaceStats;
  readonly mac: Uint8Array;
  readonly vlan: number;
  readonly #promiscuous: boolean;
  readonly #routes: Routes;
  readonly #neighbors: NeighborCache;
  readonly #icmpLimit: IcmpRateLimiter;
  readonly #reassembly: Reassembler;
  readonly #egress: Egress;
  readonly #tcp: TcpConnections;
  readonly #lender: PortDevice | null;
  /** Lent datagrams not read yet, over all the sockets (each ring counts into it). */
  readonly #lent = new LendTally();
  /** The UDP sockets by port, with their receive queues. */
  #sockets = new Map<number, UdpBinding>();
  /** The socket the last datagram went to: most traffic is for one port, and a Map lookup costs more. */
  #lastSocket: UdpBinding | null = null;
  /** The last source the receive fast path found to be a unicast peer (the check runs once per peer). */
  #lastPeer = -1;
  /** Whether the frame being handled was sent to our MAC (not broadcast or multicast). */
  #linkUnicast = true;
  // Reused parse state: no allocation per frame on the receive path.
  #eth = new EthernetHeader();
  #arp = new ArpPacket();
  #ip = new Ipv4Header();
  #icmp = new IcmpHeader();
  #udp = new UdpHeader();
  /** Our MAC as a u32 (bytes 0..3) and a u16 (bytes 4..5), for the receive fast path's check. */
  #macHead = 0;
  #macLow = 0;
  #rxView = new ViewCache();

  constructor(p: IngressParts) {
    this.stats = p.stats;
    this.mac = p.mac;
    this.vlan = p.vlan;
    this.#promiscuous = p.promiscuous;
    this.#routes = p.routes;
    this.#neighbors = p.neighbors;
    this.#icmpLimit = p.icmpLimit;
    this.#reassembly = p.reassembly;
    this.#egress = p.egress;
    this.#tcp = p.tcp;
    this.#lender = p.lender;
    const m = p.mac;
    this.#macHead = ((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0;
    this.#macLow = (m[4] << 8) | m[5];
  }

  /** True when a UDP socket is bound on `port`. */
  isBound(port: number): boolean {
    return this.#sockets.has(port);
  }

  /**
   * A UDP socket on `port` (checked and free) sending through the egress, with queues of
   * `capacity` slots of `maxPayload` bytes each way.
   */
  bind(port: number, capacity: number, maxPayload: number): UdpSocket {
    const rx = new SlotRing(capacity, maxPayload);
    if (this.#lender !== null) {
      rx.lender = this.#lender;
      rx.tally = this.#lent;
    }
    const s = new UdpSocket(this.#egress, port, rx, new SlotRing(capacity, maxPayload), UDP_SOCKET_TOKEN);
    this.#sockets.set(port, new UdpBinding(port, s, rx));
    return s;
  }

  /** The socket on `port` closed (through {@linkcode Egress.release}). */
  unbind(port: number): void {
    this.#sockets.get(port)?.rx.settle(); // its unread datagrams stay readable, in the ring
    this.#sockets.delete(port);
    if (this.#lastSocket?.port === port) this.#lastSocket = null;
  }

  /**
   * Copies the datagrams lent in place and not read yet into their rings, before the device
   * reuses the frames: only when the app left some (a counter check otherwise).
   */
  settle(): void {
    if (this.#lent.unread === 0) return;
    for (const b of this.#sockets.values()) if (b.rx.count > 0) b.rx.settle();
  }

  /** Ends the reassemblies past their deadline at `now` (an ICMP time exceeded for each, RFC 792). */
  expireReassembly(now: number): void {
    this.#reassembly.expire(now, this.#onReassemblyTimeout);
    this.#syncReassembly();
  }

  #onReassemblyTimeout = (quote: Uint8Array, linkUnicast: boolean): void => {
    // RFC 792 / 1122 3.3.2: time exceeded (fragment reassembly) when the first fragment came.
    this.#sendIcmpError(ICMP_TIME_EXCEEDED, ICMP_FRAGMENT_TIMEOUT, 0, quote, 0, quote.length, linkUnicast);
  };

  #syncReassembly(): void {
    const r = this.#reassembly.stats;
    const s = this.stats;
    s.reassembled = r.reassembled;
    s.reassemblyTimeouts = r.timeouts;
    s.reassemblyOverlaps = r.overlaps;
    s.reassemblyDuplicates = r.duplicates;
    s.reassemblyDropped = r.dropped;
  }

  #receive(b: Uint8Array, start: number, length: number): void {
    this.stats.rxFrames++;
    if (this.#egress.capturing) this.#egress.capture(b, start, length);
    if (this.#receiveFast(b, start, length)) return;
    const end = start + length;
    if (this.#taggedNotOurs(b, start, end)) return;
    try {
      const eth = this.#eth;
      const l3 = parseEthernet(b, start, end, eth);
      const dst = eth.dst;
      this.#linkUnicast = (dst[0] & 1) === 0;
      if (this.#linkUnicast && !this.#promiscuous && !sameMac(dst, this.mac)) {
        this.stats.rxOtherMac++;
        return;
      }
      // Ours: untagged or priority-tagged (VLAN 0) without a VLAN; tagged with ours with one.
      if (this.vlan < 0 ? eth.vlanId > 0 : eth.vlanId !== this.vlan) {
        this.stats.rxOtherVlan++;
        return;
      }
      if (eth.etherType === ETHERTYPE_ARP) return this.#receiveArp(b, l3, end);
      if (eth.etherType !== ETHERTYPE_IPV4) {
        this.stats.rxIgnored++;
        return;
      }
      const ip = this.#ip;
      const l4 = parseIpv4(b, l3, end, ip);
      if (!this.#routes.isOurs(ip.dst)) {
        this.stats.rxIgnored++;
        return;
      }
      if (!this.#routes.isUnicastPeer(ip.src)) {
        this.stats.rxBadSource++;
        return;
      }
      const ipEnd = l3 + ip.totalLength;
      if (ip.headerLength > 20) {
        const bad = ipv4OptionsError(b, l3, ip.headerLength);
        if (bad >= 0) {
          this.stats.rxBadOptions++;
          this.#sendIcmpError(ICMP_PARAMETER_PROBLEM, 0, (bad << 24) >>> 0, b, l3, ipEnd, this.#linkUnicast);
          return;
        }
      }
      if (ip.isFragment) return this.#receiveFragment(b, l3, l4, ipEnd);
      this.#dispatch(b, l3, l4, ipEnd);
    } catch (e) {
      this.#refused(e);
    }
  }

  /**
   * Counts (`rxOtherVlan`) and drops a frame with an 802.1ad service tag outside or with stacked
   * tags (QinQ): tagged for a VLAN that is not ours, on any interface. (The Ethernet parser refuses
   * stacked tags as unsupported, which the catch in `#receive` would count as merely ignored.)
   */
  #taggedNotOurs(b: Uint8Array, start: number, end: number): boolean {
    if (!(end - start >= 18 && end <= b.length)) return false;
    const type = (b[start + 12] << 8) | b[start + 13];
    const inner = (b[start + 16] << 8) | b[start + 17];
    if (
      type === ETHERTYPE_QINQ ||
      (type === ETHERTYPE_VLAN && (inner === ETHERTYPE_VLAN || inner === ETHERTYPE_QINQ))
    ) {
      this.stats.rxOtherVlan++;
      return true;
    }
    return false;
  }

  /**
   * Counts a frame a parser refused: `Unsupported` (well formed, of a kind this stack does not
   * handle: an 802.3 LLC frame such as a spanning-tree BPDU, ARP for other hardware) as ignored,
   * anything else as malformed. Rethrows what is not a WireError (a bug, not the wire).
   */
  #refused(e: unknown): void {
    if (!(e instanceof WireError)) throw e;
    if (e.kind === "Unsupported") this.stats.rxIgnored++;
    else this.stats.rxMalformed++;
  }

  /** Hands the datagram in `#ip` (header at `b[l3 ..]`, payload `b[l4 .. end)`) to its protocol. */
  #dispatch(b: Uint8Array, l3: number, l4: number, end: number): void {
    const protocol = this.#ip.protocol;
    if (protocol === IPPROTO_UDP) return this.#receiveUdp(b, l3, l4, end);
    if (protocol === IPPROTO_ICMP) return this.#receiveIcmp(b, l4, end);
    if (protocol === IPPROTO_TCP) {
      const ip = this.#ip;
      return this.#tcp.receive(this.now, ip.src, ip.dst, b, l4, end, this.#linkUnicast, this.#egress);
    }
    this.stats.rxUnknownProtocol++;
    this.#sendIcmpError(ICMP_DEST_UNREACHABLE, ICMP_PROTOCOL_UNREACHABLE, 0, b, l3, end, this.#linkUnicast);
  }

  #receiveFragment(b: Uint8Array, l3: number, l4: number, end: number): void {
    this.stats.rxFragments++;
    const ip = this.#ip;
    const whole = this.#reassembly.add(ip, b, l3, l4, end, this.#linkUnicast, this.now);
    this.#syncReassembly();
    if (whole === null) return;
    // The reassembled datagram as if it had come in one piece (its header is the first fragment's).
    ip.totalLength = whole.bytes.length;
    ip.moreFragments = false;
    ip.fragmentOffset = 0;
    this.#linkUnicast = whole.linkUnicast;
    this.#dispatch(whole.bytes, 0, whole.headerLength, whole.bytes.length);
  }

  /**
   * The common case in a few loads: an IPv4 frame to our MAC (tagged with our VLAN if we have
   * one, else untagged) without options, not a fragment, from a unicast peer to one of our
   * addresses, header checksum good, carrying a UDP datagram for a bound socket or a TCP segment.
   * The datagram is delivered (its UDP checksum verified on the copy), the segment handed to the
   * connections as the general path would, and true is returned. Anything else returns false
   * having counted nothing, and goes through the parsers, which type every error.
   */
  #receiveFast(b: Uint8Array, start: number, length: number): boolean {
    const end = start + length;
    const l3 = this.vlan < 0
      ? (length >= 42 && end <= b.length && b[start + 12] === 0x08 && b[start + 13] === 0x00
        ? start + 14
        : -1)
      : this.#taggedL3(b, start, length);
    if (l3 < 0) return false;
    const v = this.#rxView.of(b);
    if (v.getUint32(start) !== this.#macHead || v.getUint16(start + 4) !== this.#macLow) return false;
    const w0 = v.getUint32(l3);
    const total = w0 & 0xffff;
    // Version 4, header length 20; the datagram fits in the frame.
    if ((w0 >>> 24) !== 0x45 || total < 28 || l3 + total > end) return false;
    const w1 = v.getUint32(l3 + 4);
    const w2 = v.getUint32(l3 + 8);
    // Flags and fragment offset: only Don't Fragment may be set; the protocol is UDP or TCP.
    const protocol = (w2 >>> 16) & 0xff;
    if ((w1 & 0xbfff) !== 0 || (protocol !== IPPROTO_UDP && protocol !== IPPROTO_TCP)) return false;
    const src = v.getUint32(l3 + 12);
    const dst = v.getUint32(l3 + 16);
    // ipv4WordsSum written out by hand (see #emitHeaders); the differential fuzz test holds this
    // path to parseIpv4's verdicts.
    let sum = (w0 >>> 16) + total + (w1 >>> 16) + (w1 & 0xffff) + (w2 >>> 16) + (w2 & 0xffff) +
      (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    if (
      (sum & 0xffff) + (sum >>> 16) !== 0xffff || (dst !== this.#routes.primary && !this.#routes.isOurs(dst))
    ) {
      return false;
    }
    if (src !== this.#lastPeer) {
      if (!this.#routes.isUnicastPeer(src)) return false;
      this.#lastPeer = src;
    }
    const l4 = l3 + 20;
    if (protocol === IPPROTO_TCP) {
      // What the general path would do next (#dispatch), without its parsers' header objects.
      try {
        this.#tcp.receive(this.now, src, dst, b, l4, l3 + total, true, this.#egress);
      } catch (e) {
        this.#refused(e);
      }
      return true;
    }
    const ports = v.getUint32(l4);
    const w4 = v.getUint32(l4 + 4);
    const udpLength = w4 >>> 16;
    if (udpLength < 8 || l4 + udpLength > l3 + total) return false;
    const dstPort = ports & 0xffff;
    const s = this.#socketOn(dstPort);
    if (s === null) return false;
    const checksum = w4 & 0xffff;
    const srcPort = ports >>> 16;
    const partial = checksum === 0 ? -1 : udpHeaderSum(src, dst, srcPort, dstPort, udpLength, checksum);
    const rx = s.rx;
    let r: number;
    if (this.#lender !== null) {
      r = rx.lend(v, b, l4 + 8, udpLength - 8, src, srcPort, partial);
    } else {
      r = rx.deliver(v, l4 + 8, udpLength - 8, src, srcPort, partial);
    }
    if (r !== DELIVERED) {
      if (r === DELIVER_DROPPED) s.socket.rxDropped++;
      else this.stats.rxMalformed++;
    }
    return true;
  }

  /** Where IPv4 starts in a frame tagged with our VLAN (802.1Q: TPID 0x8100, our id, any priority), or -1. */
  #taggedL3(b: Uint8Array, start: number, length: number): number {
    if (!(length >= 46 && start + length <= b.length && b[start + 16] === 0x08 && b[start + 17] === 0x00)) {
      return -1;
    }
    const tci = ((b[start + 14] & 0x0f) << 8) | b[start + 15];
    return b[start + 12] === 0x81 && b[start + 13] === 0x00 && tci === this.vlan ? start + 18 : -1;
  }

  /** The socket bound on `port`, or null; the last one found is checked first. */
  #socketOn(port: number): UdpBinding | null {
    const last = this.#lastSocket;
    if (last !== null && last.port === port) return last;
    const s = this.#sockets.get(port) ?? null;
    if (s !== null) this.#lastSocket = s;
    return s;
  }

  #learn(ip: number, mac: Uint8Array): void {
    this.#neighbors.fill(ip, mac, this.now);
    this.stats.arpUpdates++;
    this.stats.neighborEvictions = this.#neighbors.evictions;
    this.#egress.resolved(ip);
  }

  #receiveArp(b: Uint8Array, off: number, end: number): void {
    const a = this.#arp;
    parseArp(b, off, end, a);
    const r = this.#routes;
    if (r.isOurs(a.senderIp)) {
      // Another host claims our address (or our own frame came back): never let it into the cache.
      this.stats.arpConflicts++;
      return;
    }
    const forUs = r.isOurs(a.targetIp);
    // A sender we may learn: a unicast host on one of our subnets, with a unicast MAC.
    const learnable = r.isUnicastPeer(a.senderIp) && r.onLink(a.senderIp) !== undefined &&
      (a.senderMac[0] & 1) === 0 && !sameMac(a.senderMac, ZERO_MAC);
    let used = false;
    // Learn the sender when the packet is for us, or refresh what we already know (RFC 826).
    if (learnable && (forUs || this.#neighbors.has(a.senderIp))) {
      this.#learn(a.senderIp, a.senderMac);
      used = true;
    }
    // Answer requests for our address, ARP probes (sender 0.0.0.0, RFC 5227) included.
    if (forUs && a.operation === ARP_REQUEST && (a.senderIp === 0 || learnable)) {
      this.#egress.sendArp(ARP_REPLY, a.senderMac, a.senderIp, a.senderMac, a.targetIp);
      used = true;
    }
    if (!used) this.stats.rxIgnored++;
  }

  #receiveIcmp(b: Uint8Array, off: number, end: number): void {
    const h = this.#icmp;
    const data = parseIcmp(b, off, end, h);
    if (h.type !== ICMP_ECHO_REQUEST) {
      this.stats.rxIgnored++;
      return;
    }
    const length = end - off;
    const payload = b.slice(data, end);
    const rest = h.rest;
    const to = this.#ip.src;
    const from = this.#ip.dst;
    this.stats.echoReplies++;
    this.#egress.sendIp(to, IPPROTO_ICMP, length, (out, o) => {
      out.set(payload, o + 8);
      h.type = ICMP_ECHO_REPLY;
      h.code = 0;
      h.rest = rest;
      emitIcmp(out, o, o + length, h);
    }, from);
  }

  #receiveUdp(b: Uint8Array, l3: number, off: number, end: number): void {
    const ip = this.#ip;
    const h = this.#udp;
    const data = parseUdp(b, off, end, ip.src, ip.dst, h, false);
    const s = this.#socketOn(h.dstPort);
    if (s !== null) {
      // The payload's words are summed while it is copied into the socket: one pass over it.
      const sum = h.checksum === 0
        ? -1
        : udpHeaderSum(ip.src, ip.dst, h.srcPort, h.dstPort, h.length, h.checksum);
      const r = s.rx.deliver(this.#rxView.of(b), data, off + h.length - data, ip.src, h.srcPort, sum);
      if (r === DELIVER_BAD_CHECKSUM) throw new WireError("BadChecksum", "UDP: checksum");
      if (r === DELIVER_DROPPED) s.socket.rxDropped++;
      return;
    }
    if (h.checksum !== 0 && l4Checksum(b, off, off + h.length, ip.src, ip.dst, IPPROTO_UDP) !== 0) {
      throw new WireError("BadChecksum", "UDP: checksum");
    }
    this.stats.udpNoSocket++;
    this.#sendIcmpError(ICMP_DEST_UNREACHABLE, ICMP_PORT_UNREACHABLE, 0, b, l3, end, this.#linkUnicast);
  }

  /**
   * Sends an ICMP error about the IPv4 datagram at `b[l3 .. end)` (its source was checked on the
   * way in), quoting its header and the first 8 bytes of its payload (RFC 792), unless RFC 1122
   * 3.2.2 forbids it — the datagram came as a link-layer broadcast or multicast, is a non-first
   * fragment, or is itself an ICMP error — or the rate limit says no.
   */
  #sendIcmpError(
    type: number,
    code: number,
    rest: number,
    b: Uint8Array,
    l3: number,
    end: number,
    linkUnicast: boolean,
  ): void {
    const hl = (b[l3] & 0x0f) * 4;
    const fragmentOffset = ((b[l3 + 6] << 8) | b[l3 + 7]) & 0x1fff;
    const protocol = b[l3 + 9];
    const src = ((b[l3 + 12] << 24) | (b[l3 + 13] << 16) | (b[l3 + 14] << 8) | b[l3 + 15]) >>> 0;
    const dst = ((b[l3 + 16] << 24) | (b[l3 + 17] << 16) | (b[l3 + 18] << 8) | b[l3 + 19]) >>> 0;
    if (!linkUnicast || fragmentOffset !== 0) return;
    if (protocol === IPPROTO_ICMP && !isIcmpQuery(b, l3 + hl, end)) return;
    if (!this.#icmpLimit.allow(src, this.now)) {
      this.stats.icmpRateLimited++;
      return;
    }
    const quoted = b.slice(l3, Math.min(end, l3 + hl + 8));
    const length = 8 + quoted.length;
    this.stats.icmpErrors++;
    this.#egress.sendIp(src, IPPROTO_ICMP, length, (out, o) => {
      out.set(quoted, o + 8);
      const icmp = this.#icmp;
      icmp.type = type;
      icmp.code = code;
      icmp.rest = rest;
      emitIcmp(out, o, o + length, icmp);
    }, dst);
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];
}

/** True when the ICMP message at `b[off .. end)` is a query (echo, timestamp, …), not an error. */
function isIcmpQuery(b: Uint8Array, off: number, end: number): boolean {
  if (off >= end) return false; // too short to tell: treat as an error, send nothing
  const t = b[off];
  return t === 0 || t === 8 || t === 13 || t === 14 || t === 15 || t === 16 || t === 17 || t === 18;
}

/** A bound UDP socket and the receive queue the interface fills. */
class UdpBinding {
  constructor(readonly port: number, readonly socket: UdpSocket, readonly rx: SlotRing) {}
}
