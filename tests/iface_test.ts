/** The interface against another interface over an in-memory link (no DPDK needed). */
import assert from "node:assert/strict";
import { starvable } from "./_host.ts";
import {
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_IPV4,
  ICMP_ECHO_REQUEST,
  IcmpHeader,
  Interface,
  type InterfaceConfig,
  InterfaceError,
  IPPROTO_ICMP,
  Ipv4Header,
  LoopbackDevice,
  parseIpv4,
  parseIpv4Address,
  parseUdp,
  PcapWriter,
  UdpHeader,
} from "../mod.ts";

const A_IP = parseIpv4Address("198.18.9.1");
const B_IP = parseIpv4Address("198.18.9.2");
const A_MAC = Uint8Array.of(2, 0, 0, 0, 0, 0xa);
const B_MAC = Uint8Array.of(2, 0, 0, 0, 0, 0xb);

/** A and B on one link; B gets `bOptions` (by default the same as A). */
function hosts(options: Partial<InterfaceConfig> = {}, bOptions: Partial<InterfaceConfig> = options) {
  const [da, db] = LoopbackDevice.pair();
  const a = new Interface(da, { mac: A_MAC, addresses: [{ ip: A_IP, prefix: 24 }], ...options });
  const b = new Interface(db, { mac: B_MAC, addresses: [{ ip: B_IP, prefix: 24 }], ...bOptions });
  let now = 0;
  const run = (rounds = 6) => {
    for (let i = 0; i < rounds; i++) {
      a.poll(now);
      b.poll(now);
      now += 1;
    }
  };
  return { a, b, da, db, run, advance: (ms: number) => (now += ms) };
}

Deno.test("the UDP send path writes the same header bytes as emitIpv4 / emitUdp", () => {
  const { a, da, db, run } = hosts();
  using sa = a.bindUdp(5000);
  sa.sendTo(Uint8Array.of(1), B_IP, 6000); // queued behind ARP: resolves, then leaves
  run(2);
  // Capture what a sends next, straight from the link, and rebuild it with the wire module (whose
  // checksums are computed in JS, independently of the C copy that large payloads take).
  for (const size of [33, 64, 200, 1001, 1472]) {
    const big = Uint8Array.from({ length: size }, (_, i) => (i * 11 + size) & 0xff);
    sa.sendTo(big, B_IP, 6000);
    a.poll(100);
    const frames: Uint8Array[] = [];
    db.receive((b, s, l) => frames.push(b.slice(s, s + l)));
    assert.equal(frames.length, 1);
    const f = frames[0];
    const h = new Ipv4Header();
    const l4 = parseIpv4(f, 14, f.length, h);
    const ipAgain = new Uint8Array(20);
    emitIpv4(ipAgain, 0, 20, h);
    assert.deepEqual(f.subarray(14, 34), ipAgain, `IPv4 header (${size})`);
    const u = new UdpHeader();
    const data = parseUdp(f, l4, f.length, h.src, h.dst, u);
    assert.deepEqual(f.subarray(data), big);
    const udpAgain = f.slice(l4);
    emitUdp(udpAgain, 0, udpAgain.length, h.src, h.dst, u);
    assert.deepEqual(f.subarray(l4), udpAgain, `UDP header and checksum (${size})`);
  }
  assert.equal(da.dropped, 0);
});

Deno.test("while the device has no free buffer, datagrams wait in the socket's bounded queue, in order", () => {
  const [la, lb] = LoopbackDevice.pair();
  const dev = starvable(la);
  const a = new Interface(dev, { mac: A_MAC, addresses: [{ ip: A_IP, prefix: 24 }] });
  const b = new Interface(lb, { mac: B_MAC, addresses: [{ ip: B_IP, prefix: 24 }] });
  using sa = a.bindUdp(5000, 3);
  using sb = b.bindUdp(6000, 16);
  const run = (from: number) => {
    for (let t = from; t < from + 4; t++) {
      a.poll(t);
      b.poll(t);
    }
  };
  sa.sendTo(Uint8Array.of(0), B_IP, 6000);
  run(0); // ARP resolved, datagram 0 delivered
  dev.starved = true;
  for (let i = 1; i <= 5; i++) assert.equal(sa.sendTo(Uint8Array.of(i), B_IP, 6000), i <= 3, `datagram ${i}`);
  assert.equal(sa.txDropped, 2, "the queue holds 3; two were dropped and counted");
  assert.equal(a.stats.deviceDropped, 0, "queued datagrams are not device drops");
  run(10);
  assert.equal(sb.queued, 1, "nothing left while starved");
  dev.starved = false;
  run(20);
  assert.deepEqual(Array.from({ length: sb.queued }, () => sb.recvFrom()!.data[0]), [0, 1, 2, 3]);
});

Deno.test("recvView hands out datagrams in place; sendTo takes an offset and a length", () => {
  const { a, b, run } = hosts();
  using sa = a.bindUdp(5000);
  using sb = b.bindUdp(6000);
  const buf = Uint8Array.from({ length: 40 }, (_, i) => i);
  assert.equal(sa.sendTo(buf, B_IP, 6000, 10, 7), true);
  assert.equal(sa.sendTo(buf, B_IP, 6000, 40), true, "an empty datagram at the very end");
  run();
  let n = sb.recvView();
  assert.equal(n, 7);
  assert.deepEqual(sb.rxBytes.subarray(sb.rxStart, sb.rxStart + n), buf.subarray(10, 17));
  assert.equal(sb.lastIp, A_IP);
  assert.equal(sb.lastPort, 5000);
  // Echo straight from the ring.
  sb.sendTo(sb.rxBytes, sb.lastIp, sb.lastPort, sb.rxStart, n);
  n = sb.recvView();
  assert.equal(n, 0);
  assert.equal(sb.recvView(), -1, "nothing more");
  run();
  assert.deepEqual(sa.recvFrom()?.data, buf.subarray(10, 17));
  for (const [offset, length] of [[-1, 1], [0, 41], [39, 2], [1.5, 1], [0, -1]]) {
    assert.throws(() => sa.sendTo(buf, B_IP, 6000, offset, length), InterfaceError, `${offset}, ${length}`);
  }
});

Deno.test("two interfaces resolve each other by ARP and exchange UDP both ways, sizes 1 to MTU", () => {
  const { a, b, run } = hosts();
  using sa = a.bindUdp(5000);
  using sb = b.bindUdp(6000);
  for (const size of [1, 2, 63, 64, 65, 100, 1001, 1472]) { // both sides of the JS/C copy threshold, odd tails
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    assert.equal(sa.sendTo(payload, B_IP, 6000), true);
    run();
    const got = sb.recvFrom();
    assert.ok(got, `datagram of ${size} arrived`);
    assert.deepEqual(got.data, payload);
    assert.equal(got.ip, A_IP);
    assert.equal(got.port, 5000);
    sb.sendTo(got.data, got.ip, got.port);
    run();
    assert.deepEqual(sa.recvFrom()?.data, payload, `echo of ${size} came back`);
  }
  assert.deepEqual(a.neighbour(B_IP), B_MAC);
  assert.deepEqual(b.neighbour(A_IP), A_MAC);
  assert.throws(() => sa.sendTo(new Uint8Array(1473), B_IP, 6000), InterfaceError);
});

Deno.test("ICMP: echo requests get replies; a closed UDP port gets port unreachable", () => {
  const { a, b, da, run } = hosts();
  using sa = a.bindUdp(5000);
  sa.sendTo(Uint8Array.of(1), B_IP, 6000); // resolves ARP both ways; nobody listens on 6000
  run();
  assert.equal(b.stats.udpNoSocket, 1);
  // Hand-built echo request from A's MAC/IP, injected on A's device towards B.
  const frame = new Uint8Array(14 + 20 + 8 + 4);
  const eth = new EthernetHeader();
  eth.dst.set(B_MAC);
  eth.src.set(A_MAC);
  eth.etherType = ETHERTYPE_IPV4;
  emitEthernet(frame, 0, 14, eth);
  const ip = new Ipv4Header();
  Object.assign(ip, { totalLength: 32, protocol: IPPROTO_ICMP, src: A_IP, dst: B_IP, id: 9 });
  frame.set([9, 8, 7, 6], 42);
  const icmp = new IcmpHeader();
  icmp.type = ICMP_ECHO_REQUEST;
  icmp.rest = (77 << 16) | 1;
  emitIcmp(frame, 34, 46, icmp);
  emitIpv4(frame, 14, 34, ip);
  const at = da.txSlot(frame.length);
  da.txBytes.set(frame, at);
  da.flush();
  const before = b.stats.echoReplies;
  run();
  assert.equal(b.stats.echoReplies, before + 1);
  assert.equal(a.stats.rxIgnored >= 2, true, "A received the port unreachable and the echo reply");
});

Deno.test("ARP: requests are rate limited, waiting datagrams are bounded, entries expire", () => {
  const [da] = LoopbackDevice.pair();
  const lonely = new Interface(da, {
    mac: A_MAC,
    addresses: [{ ip: A_IP, prefix: 24 }],
    arpQueueLimit: 3,
    arpRequestIntervalMs: 100,
  });
  using s = lonely.bindUdp(5000);
  for (let i = 0; i < 5; i++) s.sendTo(Uint8Array.of(i), B_IP, 6000);
  lonely.poll(0);
  assert.equal(lonely.stats.txDropped, 2, "only 3 datagrams wait for the neighbour");
  const requests = () => lonely.stats.txFrames;
  assert.equal(requests(), 1, "one ARP request");
  lonely.poll(50);
  assert.equal(requests(), 1, "no second request within the interval");
  lonely.poll(100);
  assert.equal(requests(), 2, "retried after the interval");
  // No route: outside our /24 and no gateway.
  s.sendTo(Uint8Array.of(1), parseIpv4Address("203.0.113.5"), 7);
  lonely.poll(101);
  assert.equal(lonely.stats.txDropped, 3);

  const { a, b, run, advance } = hosts();
  using sa = a.bindUdp(5000);
  sa.sendTo(Uint8Array.of(1), B_IP, 1);
  run();
  assert.ok(a.neighbour(B_IP));
  advance(60_001);
  a.poll(Number.MAX_SAFE_INTEGER);
  assert.equal(a.neighbour(B_IP), null, "expired");
  void b;
});

Deno.test("UDP sockets: bounded receive queues drop and count; ports bind once", () => {
  const { a, b, run } = hosts();
  using sa = a.bindUdp(5000, 64);
  using sb = b.bindUdp(6000, 4);
  assert.throws(() => b.bindUdp(6000), (e: unknown) => e instanceof InterfaceError && e.kind === "PortInUse");
  assert.throws(() => b.bindUdp(70000), InterfaceError);
  for (let i = 0; i < 10; i++) sa.sendTo(Uint8Array.of(i), B_IP, 6000);
  run();
  assert.equal(sb.queued, 4);
  assert.equal(sb.rxDropped, 6);
  assert.deepEqual([0, 1, 2, 3].map(() => sb.recvFrom()!.data[0]), [0, 1, 2, 3]);
  sb.close();
  using again = b.bindUdp(6000);
  assert.equal(again.port, 6000, "the port is free after close");
});

Deno.test("pcap: every frame sent and received is captured, in order, in a valid pcap file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const [da, db] = LoopbackDevice.pair();
    {
      using pcap = new PcapWriter(path);
      const a = new Interface(da, { mac: A_MAC, addresses: [{ ip: A_IP, prefix: 24 }], pcap });
      const b = new Interface(db, { mac: B_MAC, addresses: [{ ip: B_IP, prefix: 24 }] });
      using s = a.bindUdp(5000);
      s.sendTo(new TextEncoder().encode("captured"), B_IP, 9);
      for (let t = 0; t < 6; t++) {
        a.poll(t);
        b.poll(t);
      }
    }
    const bytes = await Deno.readFile(path);
    const v = new DataView(bytes.buffer);
    assert.equal(v.getUint32(0, true), 0xa1b2c3d4);
    assert.equal(v.getUint32(20, true), 1, "Ethernet link type");
    let off = 24;
    const kinds: string[] = [];
    while (off < bytes.length) {
      const len = v.getUint32(off + 8, true);
      const f = bytes.subarray(off + 16, off + 16 + len);
      const type = (f[12] << 8) | f[13];
      kinds.push(type === 0x0806 ? `arp${f[21]}` : `ip${f[23]}`);
      off += 16 + len;
    }
    assert.equal(off, bytes.length, "records tile the file exactly");
    // As A saw them: ARP request out, ARP reply in, the datagram out, ICMP port unreachable in.
    assert.deepEqual(kinds, ["arp1", "arp2", "ip17", "ip1"]);
    // And a real reader agrees.
    const out = await new Deno.Command("tcpdump", { args: ["-nr", path], stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.success, true, new TextDecoder().decode(out.stderr));
    assert.match(text, /ARP, Request who-has 198\.18\.9\.2 tell 198\.18\.9\.1/);
    assert.match(text, /198\.18\.9\.1\.5000 > 198\.18\.9\.2\.9: UDP, length 8/);
    assert.match(text, /udp port 9 unreachable/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("routing: off-link destinations go to a route's next hop, else the default gateway", () => {
  const far = parseIpv4Address("203.0.113.5");
  const routed = parseIpv4Address("192.0.2.7");
  const cases: [Partial<InterfaceConfig>, number][] = [
    [{ gateway: B_IP }, far],
    [{ routes: [{ ip: parseIpv4Address("192.0.2.0"), prefix: 24, via: B_IP }] }, routed],
  ];
  for (const [config, dst] of cases) {
    const { a, b, run } = hosts(config, {}); // B's gateway would be itself
    using s = a.bindUdp(5000);
    s.sendTo(Uint8Array.of(1, 2, 3), dst, 53);
    run();
    assert.deepEqual(a.neighbour(B_IP), B_MAC, "A resolved the next hop, not the destination");
    assert.equal(a.stats.txDropped, 0);
    assert.equal(b.stats.rxIgnored, 1, "B got the datagram for another host (it does not forward)");
  }
  const { a } = hosts({ routes: [{ ip: parseIpv4Address("192.0.2.0"), prefix: 24, via: B_IP }] });
  using s = a.bindUdp(5000);
  s.sendTo(Uint8Array.of(1), far, 53);
  a.poll(0);
  assert.equal(a.stats.txDropped, 1, "no route and no gateway: dropped and counted");
  assert.throws(
    () => new Interface(LoopbackDevice.pair()[0], { mac: A_MAC, addresses: [{ ip: A_IP, prefix: 33 }] }),
    InterfaceError,
  );
});

Deno.test("a datagram waiting for ARP keeps its bytes when its socket slot is reused", () => {
  const { a, b } = hosts();
  using sa = a.bindUdp(5000, 1); // one slot: the second sendTo reuses it
  using sb = b.bindUdp(6000);
  assert.equal(sa.sendTo(Uint8Array.of(1, 1, 1), B_IP, 6000), true);
  a.poll(0); // B's MAC is unknown: the datagram waits for ARP, its slot is free again
  assert.equal(sa.sendTo(Uint8Array.of(2, 2, 2), B_IP, 6000), true);
  for (let t = 1; t < 8; t++) {
    b.poll(t);
    a.poll(t);
  }
  assert.deepEqual(sb.recvFrom()?.data, Uint8Array.of(1, 1, 1), "the queued datagram is intact");
  assert.deepEqual(sb.recvFrom()?.data, Uint8Array.of(2, 2, 2));
});

Deno.test("lastIp: 0 before any datagram, the sender (above 2^31) after recvInto and recvView, assignable, and set again by the next datagram from the same sender", () => {
  const { a, b, run } = hosts();
  using sa = a.bindUdp(5000);
  using sb = b.bindUdp(6000);
  assert.ok(A_IP > 2 ** 31, "the sender's address is above 2^31 (a heap number to V8)");
  assert.equal(sb.lastIp, 0);
  const buf = Uint8Array.of(1, 2, 3);
  for (let i = 0; i < 4; i++) sa.sendTo(buf, B_IP, 6000);
  run();
  const out = new Uint8Array(8);
  assert.equal(sb.recvInto(out), 3);
  assert.equal(sb.lastIp, A_IP);
  sb.lastIp = 7; // a public property: the application may write it
  assert.equal(sb.lastIp, 7);
  assert.equal(sb.recvView(), 3);
  assert.equal(sb.lastIp, A_IP, "recvView sets it again though the sender did not change");
  sb.lastIp = 7;
  assert.equal(sb.recvInto(out), 3);
  assert.equal(sb.lastIp, A_IP, "so does recvInto");
  assert.equal(sb.recvView(), 3);
  assert.equal(sb.lastIp, A_IP);
  assert.equal(sb.lastPort, 5000);
});
