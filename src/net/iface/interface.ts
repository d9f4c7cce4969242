/**
 * A poll-driven IPv4 interface, in the manner of smoltcp's: no threads and no timers of its own;
 * the program calls {@linkcode Interface.poll} with the current time, and the interface answers
 * ARP and ICMP echo, resolves neighbours, and moves UDP datagrams between the device and sockets.
 * Everything the wire can grow is bounded and counted; nothing from the wire makes `poll` throw.
 *
 * @module
 */
import { ipv4ToString } from "../wire/mod.ts";
import { type Device, PortDevice } from "../phy/device.ts";
import type { PcapError } from "../phy/pcap.ts";
import { badArgument, isIntIn, isU32 } from "../args.ts";
import { InterfaceError } from "../error.ts";
import { MAX_SOCKET_QUEUE, type UdpSocket } from "../socket/udp.ts";
import { NeighborCache, PendingTable } from "./neighbor.ts";
import { type Ipv4Cidr, Routes } from "./route.ts";
import { IcmpRateLimiter } from "./ratelimit.ts";
import { Reassembler } from "./fragment.ts";
import { Egress } from "./egress.ts";
import { Ingress } from "./ingress.ts";
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
  /** Frames the parsers refused as malformed (bad lengths or fields, bad checksum); the kinds they do not handle are `rxIgnored`. */
  rxMalformed: number;
  /**
   * Frames of other EtherTypes or of a kind the parsers do not handle (802.3 LLC frames such as
   * spanning-tree BPDUs, ARP for other hardware), IP packets for other hosts or of protocols we do
   * not handle, ARP not for us.
   */
  rxIgnored: number;
  /** Frames addressed to another unicast MAC, dropped (the interface is not promiscuous). */
  rxOtherMac: number;
  /**
   * IPv4 datagrams for us from a source a host must not accept (RFC 1122 3.2.1.3: unspecified,
   * loopback, multicast, broadcast, class E, or our own address): dropped, never answered.
   */
  rxBadSource: number;
  /** Frames tagged for another VLAN, or tagged at all on an interface without one (VLAN 0 aside); 802.1ad and stacked (QinQ) tags count here. */
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
  readonly #neighbors: NeighborCache;
  readonly #pending: PendingTable;
  readonly #reassembly: Reassembler;
  /** The send path, shared with the sockets (each sees it as its {@linkcode UdpEgress}). */
  readonly #egress: Egress;
  readonly #tcp: TcpConnections;
  /** The receive side: demultiplexing, ARP, ICMP, reassembly, UDP delivery. */
  readonly #ingress: Ingress;

  /**
   * An interface on `device` with `config`.
   * @throws {InterfaceError} `InvalidArgument` for a bad device, MAC, address, route, gateway or
   * limit (the message names it, shows the value and the allowed range).
   */
  constructor(device: Device, config: InterfaceConfig) {
    this.device = checkDevice(device);
    checkConfig(config);
    this.mac = checkMac(config.mac);
    this.#routes = new Routes(config.addresses, config.routes ?? [], config.gateway);
    const promiscuous = checkPromiscuous(config.promiscuous);
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
    const icmpLimit = new IcmpRateLimiter(
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
      (port) => this.#ingress.unbind(port),
    );
    this.#tcp = new TcpConnections(limit(config, "tcpMaxConnections", 4096, 1, 1 << 22), this.stats);
    this.#ingress = new Ingress({
      stats: this.stats,
      mac: this.mac,
      vlan: this.vlan,
      promiscuous,
      routes: this.#routes,
      neighbors: this.#neighbors,
      icmpLimit,
      reassembly: this.#reassembly,
      egress: this.#egress,
      tcp: this.#tcp,
      lender: device instanceof PortDevice ? device : null,
    });
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
    if (this.#ingress.isBound(port)) {
      throw new InterfaceError("PortInUse", `UDP port ${port} is already bound`);
    }
    return this.#ingress.bind(port, capacity, maxPayload);
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
    return this.#tcp.connect(this.#routes.sourceFor(hop), ip, port, options, this.#ingress.now);
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
    return this.#neighbors.lookup(ip, this.#ingress.now)?.mac ?? null;
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
    const ingress = this.#ingress;
    ingress.now = now;
    const egress = this.#egress;
    egress.now = now;
    // Datagrams lent in place and not read yet move into their rings before the frames go back.
    ingress.settle();
    let work = this.device.receive(ingress.onFrame) > 0;
    if (egress.hasBacklog && egress.drainBacklog()) work = true;
    if (this.#tcp.active && this.#tcp.dispatch(now, egress)) work = true;
    if (this.#pending.size > 0 || this.#reassembly.size > 0) {
      const sentBefore = this.stats.txFrames;
      const dropped = this.#pending.due(now, egress.requestArp);
      if (dropped > 0) this.stats.txDropped += dropped;
      this.stats.arpGaveUp = this.#pending.gaveUp;
      if (this.#reassembly.size > 0) ingress.expireReassembly(now);
      if (this.stats.txFrames !== sentBefore) work = true;
    }
    egress.flush();
    return work;
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
}
