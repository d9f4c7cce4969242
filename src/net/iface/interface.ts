/**
 * A poll-driven IPv4 interface, in the manner of smoltcp's: no threads and no timers of its own;
 * the program calls {@linkcode Interface.poll} with the current time, and the interface answers
 * ARP and ICMP echo, resolves neighbours, and moves UDP datagrams between the device and sockets.
 *
 * @module
 */
import {
  ARP_LENGTH,
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  emitArp,
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_PORT_UNREACHABLE,
  IcmpHeader,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  Ipv4Header,
  ipv4ToString,
  parseArp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseUdp,
  UDP_HEADER_LENGTH,
  UdpHeader,
  WireError,
} from "../wire/mod.ts";
import type { Device } from "../phy/device.ts";
import type { PcapWriter } from "../phy/pcap.ts";

/** An address on the interface: `ip` (u32) with its prefix length. */
export interface Ipv4Cidr {
  /** The address. */
  ip: number;
  /** Prefix length, 0–32. */
  prefix: number;
}

/** A static route: `ip/prefix` is reached through the neighbour `via` (all u32). */
export interface Route {
  /** Destination network. */
  ip: number;
  /** Prefix length, 0–32. */
  prefix: number;
  /** Next hop, on one of our subnets. */
  via: number;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

function inNet(ip: number, net: number, prefix: number): boolean {
  const m = maskOf(prefix);
  return ((ip & m) >>> 0) === ((net & m) >>> 0);
}

/** Configuration of an {@linkcode Interface}. */
export interface InterfaceConfig {
  /** Our MAC address. */
  mac: Uint8Array;
  /** Our addresses and their subnets. */
  addresses: Ipv4Cidr[];
  /** Static routes: destinations in `ip/prefix` go through `via` (longest prefix wins). */
  routes?: readonly Route[];
  /** Next hop for destinations outside our subnets and routes (u32), if any. */
  gateway?: number;
  /** How long a learned neighbour stays valid, ms (default 60 000). */
  arpExpiryMs?: number;
  /** Minimum time between ARP requests for the same address, ms (default 1 000). */
  arpRequestIntervalMs?: number;
  /** Datagrams queued per unresolved neighbour before new ones are dropped (default 16). */
  arpQueueLimit?: number;
  /** Optional capture of every frame sent and received. */
  pcap?: PcapWriter;
}

/** What the interface counted. */
export interface InterfaceStats {
  /** Frames received. */
  rxFrames: number;
  /** Frames handed to the device. */
  txFrames: number;
  /** Frames the parsers refused (malformed, bad checksum). */
  rxMalformed: number;
  /** Frames for other hosts, other EtherTypes or protocols we do not handle. */
  rxIgnored: number;
  /** IPv4 fragments, dropped by policy (no reassembly). */
  rxFragments: number;
  /** ICMP echo requests answered. */
  echoReplies: number;
  /** UDP datagrams for ports with no socket (answered with ICMP port unreachable). */
  udpNoSocket: number;
  /** Datagrams dropped because no route or neighbour queue had room. */
  txDropped: number;
  /** Frames the device did not take. */
  deviceDropped: number;
}

/** A received UDP datagram. */
export interface Datagram {
  /** The payload (a copy). */
  data: Uint8Array;
  /** Sender address (u32). */
  ip: number;
  /** Sender port. */
  port: number;
}

/** The interface's errors: a bad configuration or call; `kind` says which. */
export class InterfaceError extends Error {
  /** `"InvalidArgument"`, `"PortInUse"` or `"TooLarge"`. */
  readonly kind: "InvalidArgument" | "PortInUse" | "TooLarge";
  /** Creates an error. */
  constructor(kind: InterfaceError["kind"], message: string) {
    super(message);
    this.name = "InterfaceError";
    this.kind = kind;
  }
}

/**
 * Copies `len` bytes from `src[so ..]` to `dst[at ..]`. Short copies run as a plain loop: the
 * `set` builtin and the `subarray` view it needs cost more than the copy itself below ~64 bytes.
 */
function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, so: number, len: number): void {
  if (len < 64) {
    for (let i = 0; i < len; i++) dst[at + i] = src[so + i];
  } else {
    dst.set(src.subarray(so, so + len), at);
  }
}

/**
 * A fixed ring of datagram slots in one buffer: copying a payload in or out allocates nothing, so
 * the per-datagram cost stays independent of the garbage collector.
 */
class SlotRing {
  readonly bytes: Uint8Array;
  readonly len: Uint16Array;
  readonly ip: Uint32Array;
  readonly port: Uint16Array;
  head = 0;
  count = 0;
  constructor(readonly capacity: number, readonly slotSize: number) {
    this.bytes = new Uint8Array(capacity * slotSize);
    this.len = new Uint16Array(capacity);
    this.ip = new Uint32Array(capacity);
    this.port = new Uint16Array(capacity);
  }
  /** Copies `src[off .. off+len)` in; false when full. */
  push(src: Uint8Array, off: number, len: number, ip: number, port: number): boolean {
    if (this.count === this.capacity) return false;
    const slot = (this.head + this.count) % this.capacity;
    copyBytes(this.bytes, slot * this.slotSize, src, off, len);
    this.len[slot] = len;
    this.ip[slot] = ip;
    this.port[slot] = port;
    this.count++;
    return true;
  }
  /** Index of the oldest slot (check `count` first). */
  get first(): number {
    return this.head;
  }
  shift(): void {
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }
}

/** A UDP socket bound on an {@linkcode Interface}. Queues are bounded: overflow drops and counts. */
export class UdpSocket implements Disposable {
  /** The local port. */
  readonly port: number;
  /** Datagrams dropped because the receive queue was full. */
  rxDropped = 0;
  /** Datagrams dropped because the send queue was full. */
  txDropped = 0;
  /** Sender address of the datagram the last {@linkcode UdpSocket.recvInto} returned. */
  lastIp = 0;
  /** Sender port of the datagram the last {@linkcode UdpSocket.recvInto} returned. */
  lastPort = 0;
  #rx: SlotRing;
  #tx: SlotRing;
  #iface: Interface;
  #closed = false;

  /** Made by {@linkcode Interface.bindUdp}. */
  constructor(iface: Interface, port: number, capacity: number) {
    this.#iface = iface;
    this.port = port;
    const slot = Math.max(0, iface.device.mtu - 28);
    this.#rx = new SlotRing(capacity, slot);
    this.#tx = new SlotRing(capacity, slot);
  }

  /** Queues a copy of `data` for `ip:port`; it leaves at the next poll. False when the send queue is full. */
  sendTo(data: Uint8Array, ip: number, port: number): boolean {
    if (this.#closed) throw new InterfaceError("InvalidArgument", `UDP socket ${this.port} is closed`);
    if (!((port >>> 0) === port && port > 0 && port <= 0xffff)) {
      throw new InterfaceError("InvalidArgument", `UDP destination port ${port} out of range`);
    }
    if (data.length > this.#tx.slotSize) {
      throw new InterfaceError(
        "TooLarge",
        `UDP payload ${data.length} exceeds MTU ${this.#iface.device.mtu} - 28`,
      );
    }
    if (this.#tx.push(data, 0, data.length, ip >>> 0, port)) return true;
    this.txDropped++;
    return false;
  }

  /** The oldest received datagram as a copy, or null. (See {@linkcode UdpSocket.recvInto} for no allocation.) */
  recvFrom(): Datagram | null {
    const r = this.#rx;
    if (r.count === 0) return null;
    const i = r.first;
    const o = i * r.slotSize;
    const d = { data: r.bytes.slice(o, o + r.len[i]), ip: r.ip[i], port: r.port[i] };
    r.shift();
    return d;
  }

  /**
   * Copies the oldest received datagram into `out` and returns its length (sender in
   * {@linkcode UdpSocket.lastIp} / {@linkcode UdpSocket.lastPort}), or -1 when none is waiting.
   * @throws {InterfaceError} `TooLarge` when `out` is too small (the datagram stays queued).
   */
  recvInto(out: Uint8Array): number {
    const r = this.#rx;
    if (r.count === 0) return -1;
    const i = r.first;
    const len = r.len[i];
    if (out.length < len) {
      throw new InterfaceError("TooLarge", `recvInto: ${len} bytes do not fit in ${out.length}`);
    }
    const o = i * r.slotSize;
    copyBytes(out, 0, r.bytes, o, len);
    this.lastIp = r.ip[i];
    this.lastPort = r.port[i];
    r.shift();
    return len;
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.#rx.count;
  }

  /** Unbinds the port. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#iface.unbind(this);
  }

  /** Same as {@linkcode UdpSocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Copies a received payload in; counts a drop when full. */
  deliver(b: Uint8Array, off: number, len: number, ip: number, port: number): void {
    if (!this.#rx.push(b, off, len, ip, port)) this.rxDropped++;
  }

  /** @internal The send queue. */
  get outgoing(): SlotRing {
    return this.#tx;
  }
}

interface Neighbour {
  mac: Uint8Array;
  expires: number;
}

interface Pending {
  lastRequest: number;
  /**
   * Packets waiting for this neighbour: their final destination and source, and the IP payload
   * rendered when queued (so it owns its bytes, whatever the caller's buffer holds later).
   */
  queue: { dst: number; src: number; protocol: number; segment: Uint8Array }[];
}

const BROADCAST = new Uint8Array(6).fill(0xff);

/** A poll-driven IPv4 host on one {@linkcode Device}. */
export class Interface {
  /** The link. */
  readonly device: Device;
  /** Our MAC. */
  readonly mac: Uint8Array;
  /** Counters. */
  readonly stats: InterfaceStats = {
    rxFrames: 0,
    txFrames: 0,
    rxMalformed: 0,
    rxIgnored: 0,
    rxFragments: 0,
    echoReplies: 0,
    udpNoSocket: 0,
    txDropped: 0,
    deviceDropped: 0,
  };
  #addresses: Ipv4Cidr[];
  #gateway: number | undefined;
  #routes: Route[];
  #expiry: number;
  #interval: number;
  #queueLimit: number;
  #pcap: PcapWriter | undefined;
  #neighbours = new Map<number, Neighbour>();
  #pending = new Map<number, Pending>();
  #sockets = new Map<number, UdpSocket>();
  #now = 0;
  #ipId = 1;
  // Reused parse state: no allocation per frame on the receive path.
  #eth = new EthernetHeader();
  #arp = new ArpPacket();
  #ip = new Ipv4Header();
  #icmp = new IcmpHeader();
  #udp = new UdpHeader();
  #txUdp = new UdpHeader();
  #txIp = new Ipv4Header();
  #onFrame = (b: Uint8Array, s: number, l: number) => this.#receive(b, s, l);

  /** An interface on `device` with `config`. */
  constructor(device: Device, config: InterfaceConfig) {
    if (config.mac.length !== 6) throw new InterfaceError("InvalidArgument", "mac must be 6 bytes");
    if (config.addresses.length === 0) {
      throw new InterfaceError("InvalidArgument", "at least one address is needed");
    }
    for (const a of config.addresses) {
      if (!((a.prefix >>> 0) === a.prefix && a.prefix <= 32)) {
        throw new InterfaceError(
          "InvalidArgument",
          `prefix ${a.prefix} of ${ipv4ToString(a.ip)} out of range`,
        );
      }
    }
    this.device = device;
    this.mac = config.mac.slice();
    this.#addresses = config.addresses.map((a) => ({ ip: a.ip >>> 0, prefix: a.prefix }));
    this.#gateway = config.gateway === undefined ? undefined : config.gateway >>> 0;
    for (const r of config.routes ?? []) {
      if (!((r.prefix >>> 0) === r.prefix && r.prefix <= 32)) {
        throw new InterfaceError("InvalidArgument", `route prefix ${r.prefix} out of range`);
      }
    }
    // Longest prefix first, so the first match wins.
    this.#routes = (config.routes ?? []).map((r) => ({ ip: r.ip >>> 0, prefix: r.prefix, via: r.via >>> 0 }))
      .sort((a, b) => b.prefix - a.prefix);
    this.#expiry = config.arpExpiryMs ?? 60_000;
    this.#interval = config.arpRequestIntervalMs ?? 1_000;
    this.#queueLimit = config.arpQueueLimit ?? 16;
    this.#pcap = config.pcap;
  }

  /** Our first address. */
  get ip(): number {
    return this.#addresses[0].ip;
  }

  /** Binds a UDP socket on `port` with queues of `capacity` datagrams (default 64). */
  bindUdp(port: number, capacity = 64): UdpSocket {
    if (!((port >>> 0) === port && port > 0 && port <= 0xffff)) {
      throw new InterfaceError("InvalidArgument", `UDP port ${port} out of range`);
    }
    if (this.#sockets.has(port)) throw new InterfaceError("PortInUse", `UDP port ${port} is already bound`);
    const s = new UdpSocket(this, port, capacity);
    this.#sockets.set(port, s);
    return s;
  }

  /** @internal */
  unbind(s: UdpSocket): void {
    if (this.#sockets.get(s.port) === s) this.#sockets.delete(s.port);
  }

  /** The MAC learned for `ip`, if any and not expired. */
  neighbour(ip: number): Uint8Array | null {
    const n = this.#neighbours.get(ip >>> 0);
    return n !== undefined && n.expires > this.#now ? n.mac : null;
  }

  /**
   * Does all pending work at time `now` (ms, any monotonic clock): receives and answers frames,
   * sends queued datagrams, retries ARP. Returns true when anything happened.
   */
  poll(now: number): boolean {
    this.#now = now;
    let work = this.device.receive(this.#onFrame) > 0;
    for (const s of this.#sockets.values()) {
      const q = s.outgoing;
      while (q.count > 0) {
        work = true;
        const i = q.first;
        const len = q.len[i];
        const dst = q.ip[i];
        const dstPort = q.port[i];
        const at = i * q.slotSize;
        this.#sendIp(dst, IPPROTO_UDP, UDP_HEADER_LENGTH + len, (b, o, src) => {
          copyBytes(b, o + UDP_HEADER_LENGTH, q.bytes, at, len);
          const h = this.#txUdp;
          h.srcPort = s.port;
          h.dstPort = dstPort;
          h.length = UDP_HEADER_LENGTH + len;
          emitUdp(b, o, o + h.length, src, dst, h);
        });
        q.shift();
      }
    }
    for (const [ip, p] of this.#pending) {
      if (now - p.lastRequest >= this.#interval) {
        p.lastRequest = now;
        this.#sendArp(ARP_REQUEST, BROADCAST, ip, new Uint8Array(6));
        work = true;
      }
    }
    this.#flush();
    return work;
  }

  #isOurs(ip: number): boolean {
    for (const a of this.#addresses) if (a.ip === ip) return true;
    return false;
  }

  #onLink(ip: number): Ipv4Cidr | undefined {
    for (const a of this.#addresses) if (inNet(ip, a.ip, a.prefix)) return a;
    return undefined;
  }

  /** The neighbour that `dst` is reached through: itself on-link, else a route's, else the gateway. */
  #nextHop(dst: number): number | undefined {
    if (this.#onLink(dst) !== undefined) return dst;
    for (const r of this.#routes) if (inNet(dst, r.ip, r.prefix)) return r.via;
    return this.#gateway;
  }

  #receive(b: Uint8Array, start: number, length: number): void {
    this.stats.rxFrames++;
    this.#pcap?.write(b, start, length);
    const end = start + length;
    try {
      const l3 = parseEthernet(b, start, end, this.#eth);
      if (this.#eth.etherType === ETHERTYPE_ARP) return this.#receiveArp(b, l3, end);
      if (this.#eth.etherType !== ETHERTYPE_IPV4) {
        this.stats.rxIgnored++;
        return;
      }
      const ip = this.#ip;
      const l4 = parseIpv4(b, l3, end, ip);
      if (!this.#isOurs(ip.dst)) {
        this.stats.rxIgnored++;
        return;
      }
      if (ip.isFragment) {
        this.stats.rxFragments++;
        return;
      }
      const ipEnd = l3 + ip.totalLength;
      if (ip.protocol === IPPROTO_ICMP) return this.#receiveIcmp(b, l4, ipEnd);
      if (ip.protocol === IPPROTO_UDP) return this.#receiveUdp(b, l3, l4, ipEnd);
      this.stats.rxIgnored++;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.stats.rxMalformed++;
    }
  }

  #learn(ip: number, mac: Uint8Array): void {
    const n = this.#neighbours.get(ip);
    if (n !== undefined) {
      n.mac.set(mac);
      n.expires = this.#now + this.#expiry;
    } else {
      this.#neighbours.set(ip, { mac: mac.slice(), expires: this.#now + this.#expiry });
    }
    const p = this.#pending.get(ip);
    if (p !== undefined) {
      this.#pending.delete(ip);
      for (const q of p.queue) {
        this.#sendIp(q.dst, q.protocol, q.segment.length, (b, o) => b.set(q.segment, o), q.src);
      }
    }
  }

  #receiveArp(b: Uint8Array, off: number, end: number): void {
    const a = this.#arp;
    parseArp(b, off, end, a);
    const forUs = this.#isOurs(a.targetIp);
    // Learn the sender when the packet is for us, or refresh what we already know (RFC 826).
    if (forUs || this.#neighbours.has(a.senderIp)) this.#learn(a.senderIp, a.senderMac);
    if (forUs && a.operation === ARP_REQUEST) {
      this.#sendArp(ARP_REPLY, a.senderMac, a.senderIp, a.senderMac, a.targetIp);
    } else if (!forUs) {
      this.stats.rxIgnored++;
    }
  }

  #receiveIcmp(b: Uint8Array, off: number, end: number): void {
    const h = this.#icmp;
    const data = parseIcmp(b, off, end, h);
    if (h.type !== ICMP_ECHO_REQUEST) {
      this.stats.rxIgnored++;
      return;
    }
    const payload = b.slice(data, end);
    const rest = h.rest;
    const to = this.#ip.src;
    const from = this.#ip.dst;
    this.stats.echoReplies++;
    this.#sendIp(to, IPPROTO_ICMP, 8 + payload.length, (out, o) => {
      out.set(payload, o + 8);
      h.type = ICMP_ECHO_REPLY;
      h.code = 0;
      h.rest = rest;
      emitIcmp(out, o, o + 8 + payload.length, h);
    }, from);
  }

  #receiveUdp(b: Uint8Array, l3: number, off: number, end: number): void {
    const ip = this.#ip;
    const h = this.#udp;
    const data = parseUdp(b, off, end, ip.src, ip.dst, h);
    const s = this.#sockets.get(h.dstPort);
    if (s !== undefined) {
      s.deliver(b, data, off + h.length - data, ip.src, h.srcPort);
      return;
    }
    this.stats.udpNoSocket++;
    // ICMP port unreachable quotes the IP header and the first 8 bytes of the datagram.
    const quoted = b.slice(l3, Math.min(end, off + 8));
    const to = ip.src;
    const from = ip.dst;
    this.#sendIp(to, IPPROTO_ICMP, 8 + quoted.length, (out, o) => {
      out.set(quoted, o + 8);
      const icmp = this.#icmp;
      icmp.type = ICMP_DEST_UNREACHABLE;
      icmp.code = ICMP_PORT_UNREACHABLE;
      icmp.rest = 0;
      emitIcmp(out, o, o + 8 + quoted.length, icmp);
    }, from);
  }

  /** Sends an IPv4 packet whose payload `build` writes at `o`; queues it behind ARP when needed. */
  #sendIp(
    dst: number,
    protocol: number,
    length: number,
    build: (b: Uint8Array, o: number, src: number) => void,
    src?: number,
  ): void {
    const hop = this.#nextHop(dst);
    if (hop === undefined) {
      this.stats.txDropped++;
      return;
    }
    const source = src ?? (this.#onLink(hop) ?? this.#addresses[0]).ip;
    const n = this.#neighbours.get(hop);
    if (n === undefined || n.expires <= this.#now) {
      let p = this.#pending.get(hop);
      if (p === undefined) {
        p = { lastRequest: this.#now, queue: [] };
        this.#pending.set(hop, p);
        this.#sendArp(ARP_REQUEST, BROADCAST, hop, new Uint8Array(6));
      }
      if (p.queue.length >= this.#queueLimit) {
        this.stats.txDropped++;
      } else {
        const segment = new Uint8Array(length);
        build(segment, 0, source);
        p.queue.push({ dst, src: source, protocol, segment });
      }
      return;
    }
    const slot = this.device.txSlot(14 + 20 + length);
    if (slot === null) {
      this.stats.deviceDropped++;
      return;
    }
    const b = slot.bytes;
    const eth = this.#eth;
    for (let i = 0; i < 6; i++) {
      eth.dst[i] = n.mac[i];
      eth.src[i] = this.mac[i];
    }
    eth.vlanId = -1;
    eth.etherType = ETHERTYPE_IPV4;
    const l3 = emitEthernet(b, slot.start, slot.start + 14, eth);
    const ip = this.#txIp;
    ip.totalLength = 20 + length;
    ip.id = this.#ipId = (this.#ipId + 1) & 0xffff;
    ip.protocol = protocol;
    ip.src = source;
    ip.dst = dst;
    build(b, l3 + 20, source);
    emitIpv4(b, l3, l3 + 20, ip);
    this.#sent(b, slot.start, 34 + length);
  }

  #sendArp(op: number, ethDst: Uint8Array, targetIp: number, targetMac: Uint8Array, senderIp?: number): void {
    const slot = this.device.txSlot(14 + ARP_LENGTH);
    if (slot === null) {
      this.stats.deviceDropped++;
      return;
    }
    const eth = this.#eth;
    eth.dst.set(ethDst);
    eth.src.set(this.mac);
    eth.vlanId = -1;
    eth.etherType = ETHERTYPE_ARP;
    const o = emitEthernet(slot.bytes, slot.start, slot.start + 14, eth);
    const a = new ArpPacket();
    a.operation = op;
    a.senderMac.set(this.mac);
    a.senderIp = senderIp ?? (this.#onLink(targetIp) ?? this.#addresses[0]).ip;
    a.targetMac.set(targetMac);
    a.targetIp = targetIp;
    emitArp(slot.bytes, o, o + ARP_LENGTH, a);
    this.#sent(slot.bytes, slot.start, 14 + ARP_LENGTH);
  }

  #sent(b: Uint8Array, start: number, length: number): void {
    this.stats.txFrames++;
    this.#pcap?.write(b, start, length);
  }

  #flush(): void {
    this.stats.deviceDropped += this.device.flush();
  }
}
