/**
 * Fuzzing the parsers: random frames and mutations of real ones. Every input is parsed twice, in
 * buffers whose bytes past the view differ (0x00 vs 0xff): the outcomes must be identical (so no
 * parser reads past the view), and the only exception allowed is a WireError.
 *
 * 100k inputs by default; more with MELIN_FUZZ_ITERATIONS=N, another seed with MELIN_FUZZ_SEED=N.
 */
import assert from "node:assert/strict";
import {
  ArpPacket,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IcmpHeader,
  Interface,
  internetChecksum,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  Ipv4Header,
  ipv4OptionsError,
  l4Checksum,
  LoopbackDevice,
  parseArp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseTcp,
  parseUdp,
  TcpHeader,
  UdpHeader,
  type UdpSocket,
  WireError,
} from "../mod.ts";
import { KERNEL_ARP_REPLY, KERNEL_UDP } from "./_fixtures.ts";

const ITERATIONS = Number(Deno.env.get("MELIN_FUZZ_ITERATIONS") ?? 100_000);
const SEED = Number(Deno.env.get("MELIN_FUZZ_SEED") ?? 0x5eed);

/** xorshift32: deterministic, so a failure can be replayed from its seed and index. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const eth = new EthernetHeader();
const ip = new Ipv4Header();
const arp = new ArpPacket();
const icmp = new IcmpHeader();
const udp = new UdpHeader();
const tcp = new TcpHeader();

/** Parses as deep as the frame goes; returns a description of what was found or why it stopped. */
function parseChain(b: Uint8Array, end: number): string {
  try {
    const l3 = parseEthernet(b, 0, end, eth);
    if (eth.etherType === ETHERTYPE_ARP) {
      parseArp(b, l3, end, arp);
      return `arp ${arp.operation} ${arp.senderIp} ${arp.targetIp} ${arp.senderMac} ${arp.targetMac}`;
    }
    if (eth.etherType !== ETHERTYPE_IPV4) return `eth ${eth.etherType} ${eth.vlanId}`;
    const l4 = parseIpv4(b, l3, end, ip);
    const ipEnd = l3 + ip.totalLength;
    const head = `ip ${ip.src} ${ip.dst} ${ip.protocol} ${ip.totalLength} ${ip.headerLength}`;
    if (ip.isFragment) return `${head} fragment`;
    if (ip.protocol === IPPROTO_UDP) {
      const p = parseUdp(b, l4, ipEnd, ip.src, ip.dst, udp);
      return `${head} udp ${udp.srcPort} ${udp.dstPort} ${udp.length} ${b.subarray(p, l4 + udp.length)}`;
    }
    if (ip.protocol === IPPROTO_ICMP) {
      const p = parseIcmp(b, l4, ipEnd, icmp);
      return `${head} icmp ${icmp.type} ${icmp.code} ${icmp.rest} ${b.subarray(p, ipEnd)}`;
    }
    return head;
  } catch (e) {
    if (e instanceof WireError) return `error ${e.kind}`;
    throw e;
  }
}

Deno.test(`fuzz: ${ITERATIONS} random and mutated frames give typed errors and never read past the view`, () => {
  const rand = rng(SEED);
  const seeds = [KERNEL_ARP_REPLY, KERNEL_UDP];
  const low = new Uint8Array(256);
  const high = new Uint8Array(256);
  const outcomes = new Map<string, number>();
  for (let n = 0; n < ITERATIONS; n++) {
    let frame: Uint8Array;
    const mode = rand();
    if (mode < 0.3) {
      frame = Uint8Array.from({ length: Math.floor(rand() * 128) }, () => Math.floor(rand() * 256));
      if (rand() < 0.5 && frame.length >= 14) frame.set(rand() < 0.5 ? [8, 0] : [8, 6], 12);
    } else {
      const base = seeds[Math.floor(rand() * seeds.length)];
      frame = base.slice(0, Math.max(0, base.length - (rand() < 0.3 ? Math.floor(rand() * base.length) : 0)));
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips && frame.length > 0; k++) {
        frame[Math.floor(rand() * frame.length)] = Math.floor(rand() * 256);
      }
    }
    low.fill(0x00);
    high.fill(0xff);
    low.set(frame);
    high.set(frame);
    let a: string;
    let b: string;
    try {
      a = parseChain(low, frame.length);
      b = parseChain(high, frame.length);
    } catch (e) {
      assert.fail(`seed ${SEED} input ${n}: untyped exception ${e} for ${Array.from(frame)}`);
    }
    assert.equal(a, b, `seed ${SEED} input ${n}: the outcome depends on bytes past the view`);
    const kind = a.split(" ").slice(0, 2).join(" ");
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
  }
  // The run must reach deep parsers, not only fail at the first byte.
  for (const reached of ["arp 2", "error BadChecksum", "error Truncated"]) {
    assert.ok((outcomes.get(reached) ?? 0) > 0, `never reached ${reached}: ${JSON.stringify([...outcomes])}`);
  }
  assert.ok([...outcomes.keys()].some((k) => k.startsWith("ip ")), "some inputs parse as IPv4");
});

/**
 * Puts `frame` on the wire to `iface`, polls (which must not throw), discards its replies (ARP,
 * ICMP: not under test) and returns what `sock` received, if anything.
 */
function deliverOne(peer: LoopbackDevice, iface: Interface, sock: UdpSocket, frame: Uint8Array, n: number) {
  injectOne(peer, iface, frame, n);
  return sock.recvFrom();
}

/** Puts `frame` on the wire to `iface`, polls it at `n` (which must not throw) and discards its replies. */
function injectOne(peer: LoopbackDevice, iface: Interface, frame: Uint8Array, n: number): void {
  const at = peer.txSlot(frame.length);
  peer.txBytes.set(frame, at);
  peer.flush();
  try {
    iface.poll(n);
  } catch (e) {
    assert.fail(`seed ${SEED} input ${n}: poll threw ${e} for ${Array.from(frame)}`);
  }
  peer.receive(() => {});
}

/** What the wire parsers say an interface at `ourIp` with a socket on `port` must deliver, or null. */
function expectedDelivery(f: Uint8Array, ourIp: number, port: number): string | null {
  try {
    const l3 = parseEthernet(f, 0, f.length, eth);
    if (eth.etherType !== ETHERTYPE_IPV4) return null;
    const l4 = parseIpv4(f, l3, f.length, ip);
    if (ip.dst !== ourIp || ip.isFragment || ip.protocol !== IPPROTO_UDP) return null;
    const p = parseUdp(f, l4, l3 + ip.totalLength, ip.src, ip.dst, udp);
    if (udp.dstPort !== port) return null;
    return `${ip.src} ${udp.srcPort} ${f.subarray(p, l4 + udp.length)}`;
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

Deno.test(`fuzz: the interface delivers exactly what the parsers accept (${ITERATIONS / 5} frames)`, () => {
  // The interface has its own fast path for plain UDP frames; it must agree with the parsers on
  // every input: deliver the same datagrams, refuse the rest, never throw.
  const rand = rng(SEED ^ 0x1f);
  const ourIp = 0xc6124d02; // KERNEL_UDP's destination
  const port = 0x9c42;
  const [peer, dev] = LoopbackDevice.pair(1500, 4096);
  const iface = new Interface(dev, {
    mac: KERNEL_UDP.slice(0, 6),
    addresses: [{ ip: ourIp, prefix: 24 }],
    reassemblyMaxBytes: 0, // the model delivers no fragment; reassembly has tests of its own
  });
  using sock = iface.bindUdp(port, 4);
  // A second seed with a 700-byte payload: large payloads take the C copy-and-sum path.
  const big = new Uint8Array(14 + 20 + 8 + 700);
  big.set(KERNEL_UDP.subarray(0, 14));
  const bigIp = Object.assign(new Ipv4Header(), {
    totalLength: 728,
    protocol: IPPROTO_UDP,
    src: 0xc6124d01,
    dst: ourIp,
  });
  emitIpv4(big, 14, 34, bigIp);
  for (let i = 42; i < big.length; i++) big[i] = i * 13;
  emitUdp(
    big,
    34,
    big.length,
    bigIp.src,
    ourIp,
    Object.assign(new UdpHeader(), { srcPort: 4000, dstPort: port, length: 708 }),
  );
  let delivered = 0;
  for (let n = 0; n < ITERATIONS / 5; n++) {
    let frame: Uint8Array;
    if (rand() < 0.1) {
      frame = Uint8Array.from({ length: Math.floor(rand() * 96) }, () => Math.floor(rand() * 256));
    } else {
      const seed = rand() < 0.5 ? KERNEL_UDP : big;
      frame = seed.slice(0, seed.length - (rand() < 0.2 ? Math.floor(rand() * 20) : 0));
      const flips = rand() < 0.2 ? 0 : 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; k++) {
        frame[14 + Math.floor(rand() * (frame.length - 14))] = Math.floor(rand() * 256);
      }
    }
    const want = expectedDelivery(frame, ourIp, port);
    const got = deliverOne(peer, iface, sock, frame, n);
    assert.equal(
      got === null ? null : `${got.ip} ${got.port} ${got.data}`,
      want,
      `seed ${SEED} input ${n}: ${Array.from(frame)}`,
    );
    if (got !== null) delivered++;
  }
  assert.ok(
    delivered > ITERATIONS / 50,
    `only ${delivered} frames delivered: the run must exercise delivery`,
  );
  assert.equal(iface.stats.rxFrames, ITERATIONS / 5);
});

/** The RFC 1122 source rule, written out here (not taken from the interface): may `src` be answered? */
function isPeerSource(src: number, ourIp: number, prefix: number): boolean {
  const top = src >>> 24;
  const mask = (~0 << (32 - prefix)) >>> 0;
  const broadcast = (ourIp | ~mask) >>> 0;
  return !(top === 0 || top === 127 || top >= 224 || src === broadcast || src === ourIp);
}

for (const vlan of [undefined, 5]) {
  Deno.test(`fuzz: header fields mutated, checksums recomputed: fast path and parsers agree (${ITERATIONS / 10} frames, VLAN ${vlan ?? "none"})`, () => {
    // Byte flips nearly always break a checksum first, so both paths refuse for the same reason.
    // Here fields change (flags, TTL, addresses, ports, lengths, IHL and options, protocol, MAC) and
    // the checksums are mostly recomputed, so each rule of the fast path is tested on its own.
    const rand = rng(SEED ^ 0x2b ^ (vlan ?? 0));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const ourIp = 0xc6124d02;
    const peerIp = 0xc6124d01;
    const ourMac = KERNEL_UDP.slice(0, 6);
    const port = 0x9c42;
    const [peer, dev] = LoopbackDevice.pair(1500, 4096);
    const iface = new Interface(dev, {
      mac: ourMac,
      addresses: [{ ip: ourIp, prefix: 24 }],
      promiscuous: false,
      reassemblyMaxBytes: 0, // fragments are dropped: reassembly has tests of its own
      vlan,
    });
    using sock = iface.bindUdp(port, 4);
    const sources = [
      peerIp,
      peerIp,
      peerIp,
      0x08080808,
      0,
      0x7f000001,
      0xe0000001,
      0xffffffff,
      0xc6124dff,
      ourIp,
      0xf0000001,
    ];
    const dests = [ourIp, ourIp, ourIp, ourIp, peerIp, 0xc6124d03, 0xffffffff, 0xc6124dff, 0xe0000001];
    const macs = fuzzMacs(ourMac);
    const counts = new Map<string, number>();
    let delivered = 0;
    for (let n = 0; n < ITERATIONS / 10; n++) {
      const size = pick([0, 1, 4, 17, 32, 100, 700]);
      let options = new Uint8Array(0);
      const o = rand();
      if (o < 0.1) options = Uint8Array.from([1, 1, 1, 0]); // NOPs, EOL
      else if (o < 0.15) {
        options = Uint8Array.from(
          { length: 4 * (1 + Math.floor(rand() * 10)) },
          () => Math.floor(rand() * 256),
        );
      }
      const hl = 20 + options.length;
      let udpLength = 8 + size;
      let total = hl + udpLength;
      const f = new Uint8Array(14 + total + 32); // room for lengths that grow
      const v = new DataView(f.buffer);
      f.set(pick(macs), 0);
      f.set(KERNEL_UDP.subarray(6, 12), 6);
      v.setUint16(12, rand() < 0.97 ? ETHERTYPE_IPV4 : 0x86dd);
      const [vihl, flags] = mutatedIpv4Head(rand, hl);
      const ttl = rand() < 0.2 ? pick([0, 1, 255]) : Math.floor(rand() * 256);
      const protocol = rand() < 0.93 ? IPPROTO_UDP : pick([IPPROTO_ICMP, 6, 0, 255]);
      const src = pick(sources);
      const dst = pick(dests);
      const r = rand();
      if (r < 0.05) total += 1 + Math.floor(rand() * 30);
      else if (r < 0.1) total -= 1 + Math.floor(rand() * Math.min(total, 30));
      const srcPort = Math.floor(rand() * 65536);
      const dstPort = rand() < 0.85 ? port : Math.floor(rand() * 65536);
      const u = rand();
      if (u < 0.05) udpLength += 1 + Math.floor(rand() * 30);
      else if (u < 0.1) udpLength = Math.floor(rand() * udpLength);
      v.setUint32(14, (vihl << 24) | (Math.floor(rand() * 4) << 16) | (total & 0xffff));
      v.setUint32(18, (Math.floor(rand() * 65536) << 16) | flags);
      v.setUint32(22, (ttl << 24) | (protocol << 16));
      v.setUint32(26, src);
      v.setUint32(30, dst);
      f.set(options, 34);
      const l4 = 14 + hl;
      v.setUint32(l4, (srcPort << 16) | dstPort);
      v.setUint16(l4 + 4, udpLength & 0xffff);
      for (let i = 0; i < size; i++) f[l4 + 8 + i] = Math.floor(rand() * 256);
      if (rand() < 0.9) {
        const c = internetChecksum(f, 14, 14 + hl);
        v.setUint16(24, c);
      }
      const ck = rand();
      if (ck < 0.05) {
        v.setUint16(l4 + 6, 0); // "no checksum"
      } else if (ck < 0.95) {
        const end = Math.min(l4 + (udpLength & 0xffff), f.length);
        const c = l4Checksum(f, l4, end, src, dst, IPPROTO_UDP);
        v.setUint16(l4 + 6, c === 0 ? 0xffff : c);
      } else {
        v.setUint16(l4 + 6, Math.floor(rand() * 65536));
      }
      let frame = f.subarray(0, Math.min(f.length, 14 + Math.max(total, 0) + (rand() < 0.2 ? 4 : 0)));
      // An 802.1Q tag (any priority) on some frames: none, priority-tagged, ours, another.
      const tag = vlan === undefined ? pick([-1, -1, -1, -1, 0, 5]) : pick([5, 5, 5, 5, 5, -1, 0, 6]);
      if (tag >= 0 && frame.length >= 14) {
        const t = new Uint8Array(frame.length + 4);
        t.set(frame.subarray(0, 12));
        t.set([0x81, 0, (Math.floor(rand() * 8) << 5) | (tag >> 8), tag & 0xff], 12);
        t.set(frame.subarray(12), 16);
        frame = t;
      }
      let want = expectedDelivery(frame, ourIp, port);
      const l3 = tag >= 0 ? 18 : 14;
      // The rules beyond the parsers: our MAC (or a group MAC), a source we may answer, options
      // that are well formed.
      if (
        want !== null &&
        (!(sameMac(frame, ourMac) || (frame[0] & 1) === 1) || !isPeerSource(src, ourIp, 24) ||
          ipv4OptionsError(frame, l3, (frame[l3] & 15) * 4) >= 0 ||
          (vlan === undefined ? eth.vlanId > 0 : eth.vlanId !== vlan))
      ) want = null;
      const got = deliverOne(peer, iface, sock, frame, n);
      assert.equal(
        got === null ? null : `${got.ip} ${got.port} ${got.data}`,
        want,
        `seed ${SEED} input ${n}: ${Array.from(frame)}`,
      );
      if (got !== null) delivered++;
      const why = want !== null
        ? "delivered"
        : expectedDelivery(frame, ourIp, port) === null
        ? "parsers refuse"
        : "rules refuse";
      counts.set(why, (counts.get(why) ?? 0) + 1);
    }
    // Every kind of outcome must be common, or the run proves little.
    for (const k of ["delivered", "parsers refuse", "rules refuse"]) {
      assert.ok((counts.get(k) ?? 0) > ITERATIONS / 500, `${k}: ${JSON.stringify([...counts])}`);
    }
    assert.equal(delivered, counts.get("delivered"));
  });
}

Deno.test(`fuzz: TCP segments with IPv4 fields mutated: the connections take exactly what the parsers accept (${ITERATIONS / 10} frames)`, () => {
  // TCP frames take the interface's fast path too (plain IPv4 to our MAC) and go straight to the
  // connections; they must take what the general path would, no more (a fragment, a bad header
  // checksum, another destination, a source we may not answer) and no less (options, padding).
  // What the connections took shows in tcpSegmentsIn (counted once the TCP checksum verifies).
  const rand = rng(SEED ^ 0x7c);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const ourIp = 0xc6124d02;
  const peerIp = 0xc6124d01;
  const ourMac = KERNEL_UDP.slice(0, 6);
  const [peer, dev] = LoopbackDevice.pair(1500, 4096);
  const iface = new Interface(dev, {
    mac: ourMac,
    addresses: [{ ip: ourIp, prefix: 24 }],
    reassemblyMaxBytes: 0, // fragments are dropped: reassembly has tests of its own
  });
  using _listener = iface.listenTcp(80); // SYNs to it open handshakes; the rest draw RSTs or nothing
  const sources = [peerIp, peerIp, peerIp, peerIp, 0, 0x7f000001, 0xe0000001, 0xc6124dff, ourIp];
  const dests = [ourIp, ourIp, ourIp, ourIp, peerIp, 0xc6124d03, 0xffffffff];
  const macs = fuzzMacs(ourMac);
  const counts = new Map<string, number>();
  for (let n = 0; n < ITERATIONS / 10; n++) {
    const size = pick([0, 0, 1, 17, 100, 700]);
    let options = new Uint8Array(0);
    if (rand() < 0.1) options = Uint8Array.from([1, 1, 1, 0]); // NOPs, EOL
    const hl = 20 + options.length;
    const tcpHl = rand() < 0.5 ? 20 : 32; // bare, or NOP NOP timestamps
    let total = hl + tcpHl + size;
    const f = new Uint8Array(14 + total + 32);
    const v = new DataView(f.buffer);
    f.set(pick(macs), 0);
    f.set(KERNEL_UDP.subarray(6, 12), 6);
    v.setUint16(12, ETHERTYPE_IPV4);
    const [vihl, flags] = mutatedIpv4Head(rand, hl);
    const protocol = rand() < 0.95 ? IPPROTO_TCP : pick([IPPROTO_UDP, 0, 255]);
    const src = pick(sources);
    const dst = pick(dests);
    const r = rand();
    if (r < 0.05) total += 1 + Math.floor(rand() * 30);
    else if (r < 0.1) total -= 1 + Math.floor(rand() * Math.min(total, 30));
    v.setUint32(14, (vihl << 24) | (total & 0xffff));
    v.setUint32(18, (Math.floor(rand() * 65536) << 16) | flags);
    v.setUint32(22, (64 << 24) | (protocol << 16));
    v.setUint32(26, src);
    v.setUint32(30, dst);
    f.set(options, 34);
    const l4 = 14 + hl;
    v.setUint32(l4, (Math.floor(1 + rand() * 65535) << 16) | pick([80, 80, 81]));
    v.setUint32(l4 + 4, Math.floor(rand() * 2 ** 32));
    v.setUint32(l4 + 8, Math.floor(rand() * 2 ** 32));
    const tcpFlags = pick([0x02, 0x02, 0x10, 0x18, 0x11, 0x04, 0x12, 0x03]);
    v.setUint32(l4 + 12, ((tcpHl / 4) << 28) | (tcpFlags << 16) | 0xffff);
    if (tcpHl === 32) v.setUint32(l4 + 20, 0x0101080a); // NOP NOP TS 10
    for (let i = l4 + tcpHl; i < l4 + tcpHl + size; i++) f[i] = Math.floor(rand() * 256);
    if (rand() < 0.9) v.setUint16(24, internetChecksum(f, 14, 14 + hl));
    if (rand() < 0.9) {
      const end = Math.min(14 + Math.max(total, 0), f.length);
      if (end >= l4 + 18) v.setUint16(l4 + 16, l4Checksum(f, l4, end, src, dst, IPPROTO_TCP));
    }
    // Ethernet padding on some frames: it must not count as TCP payload.
    const frame = f.subarray(0, Math.min(f.length, 14 + Math.max(total, 0) + (rand() < 0.3 ? 6 : 0)));
    const before = iface.stats.tcpSegmentsIn;
    injectOne(peer, iface, frame, n);
    const took = iface.stats.tcpSegmentsIn - before;
    const why = expectedTcp(frame, ourIp, ourMac);
    assert.equal(took, why === "taken" ? 1 : 0, `seed ${SEED} input ${n}: ${Array.from(frame)}`);
    counts.set(why, (counts.get(why) ?? 0) + 1);
  }
  // Each reason must be common, or the run proves little.
  for (const k of ["taken", "refused by parsers", "refused by rules", "refused by TCP"]) {
    assert.ok((counts.get(k) ?? 0) > ITERATIONS / 1000, `${k}: ${JSON.stringify([...counts])}`);
  }
});

/**
 * Whether an interface at `ourIp`/`ourMac` (no VLAN, no reassembly) must hand `f` to its
 * connections: "taken", or which check refuses it (the IPv4 parsers, the interface's rules, TCP's own).
 */
function expectedTcp(f: Uint8Array, ourIp: number, ourMac: Uint8Array): string {
  let why = "refused by parsers";
  try {
    const l3 = parseEthernet(f, 0, f.length, eth);
    if (eth.etherType !== ETHERTYPE_IPV4 || eth.vlanId > 0) return why;
    const l4 = parseIpv4(f, l3, f.length, ip);
    why = "refused by rules";
    if (
      ip.dst !== ourIp || ip.isFragment || ip.protocol !== IPPROTO_TCP ||
      !(sameMac(f, ourMac) || (f[0] & 1) === 1) || !isPeerSource(ip.src, ourIp, 24) ||
      ipv4OptionsError(f, l3, ip.headerLength) >= 0
    ) return why;
    why = "refused by TCP";
    parseTcp(f, l4, l3 + ip.totalLength, ip.src, ip.dst, tcp);
    return "taken";
  } catch (e) {
    if (e instanceof WireError) return why;
    throw e;
  }
}

/** The destination MACs the field-mutation fuzzes pick from: ours most often, another host's, broadcast. */
function fuzzMacs(ourMac: Uint8Array): Uint8Array[] {
  return [ourMac, ourMac, ourMac, ourMac, Uint8Array.of(2, 0, 0, 0, 0, 9), new Uint8Array(6).fill(0xff)];
}

/**
 * An IPv4 header's first byte for a header of `hl` bytes (now and then any byte: another version or
 * length) and its flags and fragment offset (Don't Fragment mostly; now and then the reserved bit,
 * More Fragments, an offset).
 */
function mutatedIpv4Head(rand: () => number, hl: number): [vihl: number, flags: number] {
  let vihl = 0x40 | (hl / 4);
  if (rand() < 0.03) vihl = Math.floor(rand() * 256);
  let flags = rand() < 0.7 ? 0x4000 : 0;
  if (rand() < 0.1) flags |= 0x8000; // reserved
  if (rand() < 0.1) flags |= 0x2000; // more fragments
  if (rand() < 0.1) flags |= Math.floor(rand() * 0x2000); // offset
  return [vihl, flags];
}

function sameMac(frame: Uint8Array, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[i] !== mac[i]) return false;
  return true;
}
