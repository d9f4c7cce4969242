/**
 * A poll-driven IPv4 interface, in the manner of smoltcp's: no threads and no timers of its own;
 * the program calls {@linkcode Interface.poll} with the current time, and the interface answers
 * ARP and ICMP echo, resolves neighbours, and moves UDP datagrams between the device and sockets.
 * Everything the wire can grow is bounded and counted; nothing from the wire makes `poll` throw.
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
  ipv4ToString,
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
import { type Device, PortDevice } from "../phy/device.ts";
import type { PcapError } from "../phy/pcap.ts";
import { badArgument, isIntIn, isU32 } from "../args.ts";
import { ViewCache } from "../copy.ts";
import { InterfaceError } from "../error.ts";
import { MAX_SOCKET_QUEUE, UDP_SOCKET_TOKEN, UdpSocket } from "../socket/udp.ts";
import {
  DELIVER_BAD_CHECKSUM,
  DELIVER_DROPPED,
  DELIVERED,
  LendTally,
  SlotRing,
} from "../socket/slot_ring.ts";
import { NeighborCache, PendingTable } from "./neighbor.ts";
import { type Ipv4Cidr, Routes } from "./route.ts";
import { IcmpRateLimiter } from "./ratelimit.ts";
import { Reassembler } from "./fragment.ts";
import { Egress, ZERO_MAC } from "./egress.ts";
import { TcpConnections } from "./tcp_conns.ts";
import {
  checkConfig,
  checkDevice,
  checkMac,
  checkPcap,
  checkPromiscuous,
  checkVlan,
  type InterfaceConfig,
  limit,
} from "./config.ts";
import type { TcpConfig, TcpSocket } from "../socket/tcp.ts";
import type { TcpListener, TcpListenerOptions } from "../socket/tcp_listener.ts";

export { InterfaceError, type InterfaceErrorKind } from "../error.ts";
export type { Ipv4Cidr, Route } from "./route.ts";
export type { InterfaceConfig } from "./config.ts";
export { type Datagram, MAX_SOCKET_QUEUE, type UdpEgress, UdpSocket } from "../socket/udp.ts";

/** What the interface counted. */
export interface InterfaceStats {
  /** Frames received. */
  rxFrames: number;
  /** Frames handed to the device. */
  txFrames: number;
  /** Frames the parsers refused (malformed, bad checksum). */
  rxMalformed: number;
  /** Frames of other EtherTypes, IP packets for other hosts or of protocols we do not handle, ARP not for us. */
  rxIgnored: number;
  /** Frames addressed to another unicast MAC, dropped (the interface is not promiscuous). */
  rxOtherMac: number;
  /**
   * IPv4 datagrams for us from a source a host must not accept (RFC 1122 3.2.1.3: unspecified,
   * loopback, multicast, broadcast, class E, or our own address): dropped, never answered.
   */
  rxBadSource: number;
  /** Frames tagged for another VLAN, or tagged at all on an interface without one (VLAN 0 aside). */
  rxOtherVlan: number;
  /** IPv4 datagrams for us with malformed header options: answered with ICMP parameter problem. */
  rxBadOptions: number;
  /** IPv4 datagrams for us of a protocol we do not handle (not ICMP, UDP or TCP): answered with ICMP protocol unreachable. */
  rxUnknownProtocol: number;
  /** IPv4 fragments received for us. */
  rxFragments: number;
  /** Datagrams reassembled from fragments. */
  reassembled: number;
  /** Datagrams whose fragments did not all arrive in time (ICMP time exceeded when the first did). */
  reassemblyTimeouts: number;
  /** Datagrams dropped because fragments overlapped. */
  reassemblyOverlaps: number;
  /** Duplicate fragments ignored. */
  reassemblyDuplicates: number;
  /**
   * Fragments or datagrams dropped: reassembly at its limits, a datagram past 65 535 bytes, or
   * fragments that contradict each other.
   */
  reassemblyDropped: number;
  /** Fragments sent (packets above the MTU leave in fragments). */
  txFragments: number;
  /** ICMP echo requests answered. */
  echoReplies: number;
  /** UDP datagrams for ports with no socket (answered with ICMP port unreachable, rate permitting). */
  udpNoSocket: number;
  /** TCP segments received for us (checksum verified; malformed ones are in `rxMalformed`). */
  tcpSegmentsIn: number;
  /** TCP segments the connections sent. */
  tcpSegmentsOut: number;
  /** TCP segments that reached no connection and no listener (answered with RST unless an RST or a link broadcast). */
  tcpNoConnection: number;
  /** RSTs sent for segments that reached no connection (RFC 9293 3.10.7.1). */
  tcpResetsSent: number;
  /** SYNs to a listener dropped because the connection table was full (see `tcpMaxConnections`). */
  tcpConnectionsFull: number;
  /** ICMP errors sent. */
  icmpErrors: number;
  /** ICMP errors not sent because of the rate limit. */
  icmpRateLimited: number;
  /** ARP packets that taught us a neighbour's MAC (new or refreshed). */
  arpUpdates: number;
  /** ARP packets whose sender claimed one of our addresses: ignored. */
  arpConflicts: number;
  /** Neighbours evicted from a full cache. */
  neighborEvictions: number;
  /** Neighbours given up after unanswered ARP requests (their packets are in `txDropped`). */
  arpGaveUp: number;
  /** Packets to a new neighbour refused because the table of neighbours being resolved was full. */
  pendingOverflows: number;
  /** Packets dropped: no route, a full neighbour queue or table, or a neighbour given up. */
  txDropped: number;
  /** Packets dropped because they would exceed 65 535 bytes even in fragments (above the MTU they are fragmented). */
  txTooLarge: number;
  /** Frames the device did not take. */
  deviceDropped: number;
  /** Capture failures (at most 1: capture stops at the first; see {@linkcode Interface.captureError}). */
  captureFailures: number;
}

function checkOptions(where: string, options: unknown): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InterfaceError("InvalidArgument", badArgument(where, "options", options, "an options object"));
  }
}

/** A poll-driven IPv4 host on one {@linkcode Device}. */
export class Interface {
  /**
   * The link. Receive from it only through {@linkcode Interface.poll}: on a `PortDevice`, the
   * sockets may read datagrams in place in frames the device holds until its next `receive`.
   */
  readonly device: Device;
  /** Our MAC. */
  readonly mac: Uint8Array;
  /** Counters. */
  readonly stats: InterfaceStats = {
    rxFrames: 0,
    txFrames: 0,
    rxMalformed: 0,
    rxIgnored: 0,
    rxOtherMac: 0,
    rxBadSource: 0,
    rxOtherVlan: 0,
    rxBadOptions: 0,
    rxUnknownProtocol: 0,
    rxFragments: 0,
    reassembled: 0,
    reassemblyTimeouts: 0,
    reassemblyOverlaps: 0,
    reassemblyDuplicates: 0,
    reassemblyDropped: 0,
    txFragments: 0,
    echoReplies: 0,
    udpNoSocket: 0,
    tcpSegmentsIn: 0,
    tcpSegmentsOut: 0,
    tcpNoConnection: 0,
    tcpResetsSent: 0,
    tcpConnectionsFull: 0,
    icmpErrors: 0,
    icmpRateLimited: 0,
    arpUpdates: 0,
    arpConflicts: 0,
    neighborEvictions: 0,
    arpGaveUp: 0,
    pendingOverflows: 0,
    txDropped: 0,
    txTooLarge: 0,
    deviceDropped: 0,
    captureFailures: 0,
  };
  /** The 802.1Q VLAN id the interface is on, or -1 for none. */
  readonly vlan: number;
  readonly #routes: Routes;
  readonly #promiscuous: boolean;
  readonly #neighbors: NeighborCache;
  readonly #pending: PendingTable;
  readonly #icmpLimit: IcmpRateLimiter;
  readonly #reassembly: Reassembler;
  /** The send path, shared with the sockets (each sees it as its {@linkcode UdpEgress}). */
  readonly #egress: Egress;
  readonly #tcp: TcpConnections;
  /** The UDP sockets by port, with their receive queues. */
  #sockets = new Map<number, UdpBinding>();
  /** The socket the last datagram went to: most traffic is for one port, and a Map lookup costs more. */
  #lastSocket: UdpBinding | null = null;
  /** The last source the receive fast path found to be a unicast peer (the check runs once per peer). */
  #lastPeer = -1;
  /** Whether the frame being handled was sent to our MAC (not broadcast or multicast). */
  #linkUnicast = true;
  #now = 0;
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
  #onFrame = (b: Uint8Array, s: number, l: number) => this.#receive(b, s, l);
  /**
   * The device when its received frames stay valid until its next `receive` (a
   * {@linkcode PortDevice}: it frees a burst when it receives the next), else null. Then the
   * receive fast path lends datagrams to their sockets in place (no copy), and the next poll
   * copies the ones still unread into their rings before the device reuses the frames.
   */
  readonly #lender: PortDevice | null;
  /** Lent datagrams not read yet, over all the sockets (each ring counts into it). */
  readonly #lent = new LendTally();

  /**
   * An interface on `device` with `config`.
   * @throws {InterfaceError} `InvalidArgument` for a bad device, MAC, address, route, gateway or
   * limit (the message names it, shows the value and the allowed range).
   */
  constructor(device: Device, config: InterfaceConfig) {
    this.device = checkDevice(device);
    this.#lender = device instanceof PortDevice ? device : null;
    checkConfig(config);
    this.mac = checkMac(config.mac);
    const m = this.mac;
    this.#macHead = ((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0;
    this.#macLow = (m[4] << 8) | m[5];
    this.#routes = new Routes(config.addresses, config.routes ?? [], config.gateway);
    this.#promiscuous = checkPromiscuous(config.promiscuous);
    const DAY = 86_400_000;
    this.#neighbors = new NeighborCache(
      this.mac,
      limit(config, "neighborCacheLimit", 1024, 1, 1 << 20),
      limit(config, "arpExpiryMs", 60_000, 1, DAY),
    );
    this.#pending = new PendingTable(
      limit(config, "pendingLimit", 64, 1, 1 << 16),
      limit(config, "arpQueueLimit", 16, 0, 1 << 16),
      limit(config, "arpQueueBytes", 212_992, 0, 1 << 30),
      limit(config, "arpRequestIntervalMs", 1_000, 1, DAY),
      limit(config, "arpMaxRequests", 3, 1, 1000),
    );
    this.#icmpLimit = new IcmpRateLimiter(
      limit(config, "icmpErrorsPerSecond", 1000, 0, 1_000_000),
      limit(config, "icmpErrorBurst", 50, 1, 1_000_000),
      limit(config, "icmpHostIntervalMs", 1000, 0, DAY),
      limit(config, "icmpHostBurst", 6, 1, 1000),
    );
    checkPcap(config.pcap);
    this.vlan = checkVlan(config.vlan);
    this.#reassembly = new Reassembler(
      limit(config, "reassemblyMaxDatagrams", 256, 1, 1 << 16),
      limit(config, "reassemblyMaxBytes", 4 << 20, 0, 1 << 30),
      limit(config, "reassemblyTimeoutMs", 30_000, 1, 600_000),
    );
    this.#egress = new Egress(
      this.device,
      this.mac,
      this.vlan,
      this.stats,
      this.#routes,
      this.#neighbors,
      this.#pending,
      config.pcap,
      (port) => this.#unbind(port),
    );
    this.#tcp = new TcpConnections(limit(config, "tcpMaxConnections", 4096, 1, 1 << 22), this.stats);
  }

  /** Why capture stopped, once it failed (see {@linkcode InterfaceConfig.pcap}); null while it works. */
  get captureError(): PcapError | null {
    return this.#egress.captureError;
  }

  /** Our first address. */
  get ip(): number {
    return this.#routes.primary;
  }

  /** How many datagrams are being reassembled and the bytes they hold, as charged to `reassemblyMaxBytes`. */
  get reassembly(): { datagrams: number; bytes: number } {
    return { datagrams: this.#reassembly.size, bytes: this.#reassembly.memory };
  }

  /** Our addresses. */
  get addresses(): Ipv4Cidr[] {
    return this.#routes.addresses;
  }

  /**
   * True when `ip` (u32) is a unicast host we may send to and answer: not 0/8, 127/8, multicast,
   * class E, a broadcast of our subnets or one of our addresses (RFC 1122 3.2.1.3).
   */
  isUnicastPeer(ip: number): boolean {
    if (!isU32(ip)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.isUnicastPeer", "ip", ip, "a u32 IPv4 address"),
      );
    }
    return this.#routes.isUnicastPeer(ip);
  }

  /**
   * Binds a UDP socket on `port` (1–65535) with queues of `capacity` datagrams (1–4096, default 64),
   * each slot `maxPayload` bytes (1–65507; default the MTU − 28, what fits in one frame). Datagrams
   * up to `maxPayload` are sent (in fragments above the MTU) and received (reassembled); larger
   * ones are refused on send (`TooLarge`) and dropped on receive (counted in `rxDropped`). The
   * queues are preallocated: 2 × capacity × maxPayload bytes.
   * @throws {InterfaceError} `InvalidArgument` for a bad port, capacity or size, `PortInUse` when bound.
   */
  bindUdp(port: number, capacity: number = 64, maxPayload: number = this.device.mtu - 28): UdpSocket {
    if (!isIntIn(port, 1, 0xffff)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.bindUdp", "port", port, "a whole number 1–65535"),
      );
    }
    if (!isIntIn(capacity, 1, MAX_SOCKET_QUEUE)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.bindUdp", "capacity", capacity, `a whole number 1–${MAX_SOCKET_QUEUE}`),
      );
    }
    if (!isIntIn(maxPayload, 1, 65507)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.bindUdp", "maxPayload", maxPayload, "a whole number 1–65507"),
      );
    }
    if (this.#sockets.has(port)) throw new InterfaceError("PortInUse", `UDP port ${port} is already bound`);
    const rx = new SlotRing(capacity, maxPayload);
    if (this.#lender !== null) {
      rx.lender = this.#lender;
      rx.tally = this.#lent;
    }
    const s = new UdpSocket(this.#egress, port, rx, new SlotRing(capacity, maxPayload), UDP_SOCKET_TOKEN);
    this.#sockets.set(port, new UdpBinding(port, s, rx));
    return s;
  }

  /**
   * Opens a TCP connection to `ip:port` (a unicast host) from our address towards it and an
   * ephemeral port (RFC 6056); the SYN leaves at the next poll. `options` configure the socket
   * (buffer sizes, Nagle, timers). Polls dispatch the socket whenever it has something to do until
   * it is closed (then it leaves the connection table: a closed socket is not reused).
   * @throws {InterfaceError} `InvalidArgument` for a bad address or port or no route to `ip`;
   * `PortInUse` when the connection table is full or no ephemeral port is free towards the peer.
   * @throws {SocketError} `InvalidArgument` for bad `options`.
   */
  connectTcp(ip: number, port: number, options: TcpConfig = {}): TcpSocket {
    if (!this.isUnicastPeer(ip)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.connectTcp", "ip", ip, "a u32 unicast host address (see isUnicastPeer)"),
      );
    }
    if (!isIntIn(port, 1, 0xffff)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.connectTcp", "port", port, "a whole number 1–65535"),
      );
    }
    checkOptions("Interface.connectTcp", options);
    const hop = this.#routes.nextHop(ip);
    if (hop < 0) {
      throw new InterfaceError(
        "InvalidArgument",
        `Interface.connectTcp: no route to ${ipv4ToString(ip)} (add a route or a gateway)`,
      );
    }
    return this.#tcp.connect(this.#routes.sourceFor(hop), ip, port, options, this.#now);
  }

  /**
   * Listens for TCP connections on `port` (1–65535, on all our addresses). The listener's
   * `accept()` hands out established connections; its SYN and accept queues are bounded by
   * `options.backlog` (default 128) and `options.synBacklog` (default: the backlog), overflow
   * dropped and counted in its `stats`. Disposing the listener closes the port.
   * @throws {InterfaceError} `InvalidArgument` for a bad port, `PortInUse` when a listener holds it.
   * @throws {SocketError} `InvalidArgument` for bad `options`.
   */
  listenTcp(port: number, options: TcpListenerOptions = {}): TcpListener {
    if (!isIntIn(port, 1, 0xffff)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.listenTcp", "port", port, "a whole number 1–65535"),
      );
    }
    checkOptions("Interface.listenTcp", options);
    return this.#tcp.listen(port, options);
  }

  /** The socket on `port` closed (through {@linkcode Egress.release}). */
  #unbind(port: number): void {
    this.#sockets.get(port)?.rx.settle(); // its unread datagrams stay readable, in the ring
    this.#sockets.delete(port);
    if (this.#lastSocket?.port === port) this.#lastSocket = null;
  }

  /**
   * The MAC learned for `ip` (u32), if any and not expired.
   * @throws {InterfaceError} `InvalidArgument` when `ip` is not a u32.
   */
  neighbour(ip: number): Uint8Array | null {
    if (!isU32(ip)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.neighbour", "ip", ip, "a u32 IPv4 address"),
      );
    }
    return this.#neighbors.lookup(ip, this.#now)?.mac ?? null;
  }

  /** How many neighbours the cache holds and how many are being resolved (for monitoring). */
  get tableSizes(): { neighbors: number; pending: number; tcpConnections: number } {
    return { neighbors: this.#neighbors.size, pending: this.#pending.size, tcpConnections: this.#tcp.size };
  }

  /**
   * Does all pending work at time `now` (ms ≥ 0, any monotonic clock: `performance.now()`): receives and answers frames,
   * sends queued datagrams, dispatches the TCP connections (data, ACKs, timers), retries ARP,
   * expires reassembly. Returns true when anything happened.
   * Never throws on anything a frame holds: what cannot be handled is dropped and counted in
   * {@linkcode Interface.stats}.
   * @throws {InterfaceError} `InvalidArgument` when `now` is not a finite number ≥ 0.
   */
  poll(now: number): boolean {
    if (typeof now !== "number" || !(now >= 0 && now - now === 0)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.poll", "now", now, "a finite number of ms ≥ 0"),
      );
    }
    this.#now = now;
    const egress = this.#egress;
    egress.now = now;
    // Datagrams lent in place and not read yet move into their rings before the frames go back.
    if (this.#lent.unread > 0) this.#settle();
    let work = this.device.receive(this.#onFrame) > 0;
    if (egress.hasBacklog && egress.drainBacklog()) work = true;
    if (this.#tcp.active && this.#tcp.dispatch(now, egress)) work = true;
    if (this.#pending.size > 0 || this.#reassembly.size > 0) {
      const sentBefore = this.stats.txFrames;
      const dropped = this.#pending.due(now, egress.requestArp);
      if (dropped > 0) this.stats.txDropped += dropped;
      this.stats.arpGaveUp = this.#pending.gaveUp;
      if (this.#reassembly.size > 0) {
        this.#reassembly.expire(now, this.#onReassemblyTimeout);
        this.#syncReassembly();
      }
      if (this.stats.txFrames !== sentBefore) work = true;
    }
    egress.flush();
    return work;
  }

  /** Copies the unread lent datagrams into their rings (see #lender): only when the app left some. */
  #settle(): void {
    for (const b of this.#sockets.values()) if (b.rx.count > 0) b.rx.settle();
  }

  /**
   * When {@linkcode Interface.poll} next needs to be called (smoltcp's `poll_at`), as a time on
   * the clock `poll` is given (ms): `now` when work is waiting (datagrams queued for a device
   * buffer, a TCP connection with something to send), else the earliest of the TCP timers
   * (retransmission, delayed ACK, probes, keep-alive, TIME-WAIT), the next ARP request or give-up
   * and the next reassembly timeout; null when nothing is scheduled (poll then only has to run when frames arrive or a
   * socket sends). The time may be past: poll at once. Frames waiting in the device are not
   * seen here: a program that sleeps until this time still polls for them as often as its
   * latency needs. (A neighbour's expiry schedules nothing: the entry is checked when used.)
   * @throws {InterfaceError} `InvalidArgument` when `now` is not a finite number ≥ 0.
   */
  pollAt(now: number): number | null {
    if (typeof now !== "number" || !(now >= 0 && now - now === 0)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.pollAt", "now", now, "a finite number of ms ≥ 0"),
      );
    }
    if (this.#egress.hasBacklog) return now;
    const tcp = this.#tcp.active ? this.#tcp.pollAt() : Infinity;
    if (tcp <= 0) return now; // a connection has something to send
    const pending = this.#pending.nextDue;
    const reassembly = this.#reassembly.nextDeadline;
    let at = pending < reassembly ? pending : reassembly;
    if (tcp < at) at = tcp;
    return at === Infinity ? null : at;
  }

  /**
   * How long from `now` until {@linkcode Interface.poll} next needs to be called (smoltcp's
   * `poll_delay`), in ms: 0 when it is due already, null when nothing is scheduled (see
   * {@linkcode Interface.pollAt}).
   * @throws {InterfaceError} `InvalidArgument` when `now` is not a finite number ≥ 0.
   */
  pollDelay(now: number): number | null {
    if (typeof now !== "number" || !(now >= 0 && now - now === 0)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("Interface.pollDelay", "now", now, "a finite number of ms ≥ 0"),
      );
    }
    const at = this.pollAt(now);
    return at === null ? null : at > now ? at - now : 0;
  }

  /**
   * Sends the frames written since the last poll or flush now, without receiving or any other
   * work (what {@linkcode Interface.poll} does last): for an application that answers right after
   * a poll and wants its replies out before the next one.
   */
  flush(): void {
    this.#egress.flush();
  }

  #onReassemblyTimeout = (quote: Uint8Array, linkUnicast: boolean) => {
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
      if (!(e instanceof WireError)) throw e;
      this.stats.rxMalformed++;
    }
  }

  /** Hands the datagram in `#ip` (header at `b[l3 ..]`, payload `b[l4 .. end)`) to its protocol. */
  #dispatch(b: Uint8Array, l3: number, l4: number, end: number): void {
    const protocol = this.#ip.protocol;
    if (protocol === IPPROTO_UDP) return this.#receiveUdp(b, l3, l4, end);
    if (protocol === IPPROTO_ICMP) return this.#receiveIcmp(b, l4, end);
    if (protocol === IPPROTO_TCP) {
      const ip = this.#ip;
      return this.#tcp.receive(this.#now, ip.src, ip.dst, b, l4, end, this.#linkUnicast, this.#egress);
    }
    this.stats.rxUnknownProtocol++;
    this.#sendIcmpError(ICMP_DEST_UNREACHABLE, ICMP_PROTOCOL_UNREACHABLE, 0, b, l3, end, this.#linkUnicast);
  }

  #receiveFragment(b: Uint8Array, l3: number, l4: number, end: number): void {
    this.stats.rxFragments++;
    const ip = this.#ip;
    const whole = this.#reassembly.add(ip, b, l3, l4, end, this.#linkUnicast, this.#now);
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
   * addresses, carrying a UDP datagram for a bound socket, header checksum good. It is delivered
   * (its UDP checksum verified on the copy) and true is returned. Anything else returns false
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
    // Flags and fragment offset: only Don't Fragment may be set; the protocol is UDP.
    if ((w1 & 0xbfff) !== 0 || ((w2 >>> 16) & 0xff) !== IPPROTO_UDP) return false;
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
    this.#neighbors.fill(ip, mac, this.#now);
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
    if (!this.#icmpLimit.allow(src, this.#now)) {
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
