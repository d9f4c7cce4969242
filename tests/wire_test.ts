/**
 * Wire formats from byte fixtures. The ARP and UDP frames were sent by the Linux kernel through a
 * tap (so their checksums come from an implementation other than ours); the IPv4 header is the
 * well-known example from the IPv4 header checksum literature; the checksum known answer is RFC
 * 1071's.
 */
import assert from "node:assert/strict";
import {
  ARP_REPLY,
  ArpPacket,
  emitArp,
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ICMP_ECHO_REQUEST,
  IcmpHeader,
  internetChecksum,
  IPPROTO_UDP,
  Ipv4Header,
  ipv4ToString,
  parseArp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseIpv4Address,
  parseUdp,
  UdpHeader,
  WireError,
  type WireErrorKind,
} from "../mod.ts";
import { hex, KERNEL_ARP_REPLY, KERNEL_UDP } from "./_fixtures.ts";

/** IPv4 header 192.168.0.1 → 192.168.0.199, UDP, total length 115, checksum 0xb861. */
const IPV4_EXAMPLE = hex("45000073000040004011b861c0a80001c0a800c7");

function kindOf(f: () => unknown): WireErrorKind {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof WireError, `expected a WireError, got ${e}`);
    return e.kind;
  }
  assert.fail("expected a WireError, nothing was thrown");
}

Deno.test("Internet checksum: RFC 1071 known answer, and 0 over data that contains its checksum", () => {
  const data = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(internetChecksum(data), 0x220d);
  assert.equal(internetChecksum(IPV4_EXAMPLE), 0);
  assert.equal(internetChecksum(Uint8Array.of(0x01)), 0xfeff, "an odd byte is padded with zero");
});

Deno.test("Ethernet + ARP: the kernel's ARP reply parses field by field and re-emits byte for byte", () => {
  const eth = new EthernetHeader();
  const at = parseEthernet(KERNEL_ARP_REPLY, 0, KERNEL_ARP_REPLY.length, eth);
  assert.equal(at, 14);
  assert.equal(eth.etherType, ETHERTYPE_ARP);
  assert.equal(eth.vlanId, -1);
  assert.deepEqual(eth.dst, hex("02005e100002"));
  assert.deepEqual(eth.src, hex("26859969fb3a"));
  const arp = new ArpPacket();
  parseArp(KERNEL_ARP_REPLY, at, KERNEL_ARP_REPLY.length, arp);
  assert.equal(arp.operation, ARP_REPLY);
  assert.equal(ipv4ToString(arp.senderIp), "198.18.77.1");
  assert.equal(ipv4ToString(arp.targetIp), "198.18.77.2");
  assert.deepEqual(arp.senderMac, eth.src);
  assert.deepEqual(arp.targetMac, eth.dst);

  const out = new Uint8Array(KERNEL_ARP_REPLY.length);
  const next = emitEthernet(out, 0, out.length, eth);
  assert.equal(emitArp(out, next, out.length, arp), 42);
  assert.deepEqual(out, KERNEL_ARP_REPLY);
});

Deno.test("IPv4 + UDP: the kernel's datagram parses, checksums verify, and it re-emits byte for byte", () => {
  const f = KERNEL_UDP;
  const eth = new EthernetHeader();
  const ip = new Ipv4Header();
  const udp = new UdpHeader();
  const l3 = parseEthernet(f, 0, f.length, eth);
  assert.equal(eth.etherType, ETHERTYPE_IPV4);
  const l4 = parseIpv4(f, l3, f.length, ip);
  assert.equal(l4, 34);
  assert.equal(ip.protocol, IPPROTO_UDP);
  assert.equal(ip.totalLength, 44);
  assert.equal(ip.ttl, 64);
  assert.equal(ip.dontFragment, true);
  assert.equal(ip.isFragment, false);
  assert.equal(ipv4ToString(ip.src), "198.18.77.1");
  assert.equal(ipv4ToString(ip.dst), "198.18.77.2");
  const payload = parseUdp(f, l4, l3 + ip.totalLength, ip.src, ip.dst, udp);
  assert.equal(udp.srcPort, 40001);
  assert.equal(udp.dstPort, 40002);
  assert.equal(udp.length, 24);
  assert.equal(new TextDecoder().decode(f.subarray(payload, l4 + udp.length)), "hello from linux");

  const out = new Uint8Array(f.length);
  out.set(f.subarray(payload), 42); // the payload first, then the headers around it
  emitEthernet(out, 0, out.length, eth);
  emitIpv4(out, 14, out.length, ip);
  emitUdp(out, 34, out.length, ip.src, ip.dst, udp);
  assert.deepEqual(out, f, "our checksums equal the kernel's");
});

Deno.test("IPv4 emit reproduces the textbook header and checksum", () => {
  const ip = new Ipv4Header();
  Object.assign(ip, {
    totalLength: 0x73,
    id: 0,
    dontFragment: true,
    ttl: 64,
    protocol: IPPROTO_UDP,
    src: parseIpv4Address("192.168.0.1"),
    dst: parseIpv4Address("192.168.0.199"),
  });
  const out = new Uint8Array(20);
  emitIpv4(out, 0, 20, ip);
  assert.deepEqual(out, IPV4_EXAMPLE);
});

Deno.test("ICMP echo and 802.1Q tags round-trip; options are skipped by their length", () => {
  const frame = new Uint8Array(18 + 24 + 8 + 4);
  const eth = new EthernetHeader();
  eth.dst.set(hex("ffffffffffff"));
  eth.src.set(hex("020000000001"));
  eth.vlanId = 42;
  eth.vlanPriority = 5;
  eth.etherType = ETHERTYPE_IPV4;
  const l3 = emitEthernet(frame, 0, frame.length, eth);
  assert.equal(l3, 18);
  // An IPv4 header with 4 bytes of options (IHL 6), written by hand.
  frame.set(hex("46000024 0001 0000 40 01 0000 c0000201 c0000202 01010100"), l3);
  const ck = internetChecksum(frame, l3, l3 + 24);
  frame[l3 + 10] = ck >>> 8;
  frame[l3 + 11] = ck & 0xff;
  const icmp = new IcmpHeader();
  icmp.type = ICMP_ECHO_REQUEST;
  icmp.rest = (0xbeef << 16) | 7;
  frame.set([1, 2, 3, 4], l3 + 24 + 8);
  emitIcmp(frame, l3 + 24, frame.length, icmp);

  const e2 = new EthernetHeader();
  const ip = new Ipv4Header();
  const i2 = new IcmpHeader();
  assert.equal(parseEthernet(frame, 0, frame.length, e2), 18);
  assert.equal(e2.vlanId, 42);
  assert.equal(e2.vlanPriority, 5);
  assert.equal(e2.etherType, ETHERTYPE_IPV4);
  const l4 = parseIpv4(frame, 18, frame.length, ip);
  assert.equal(ip.headerLength, 24);
  assert.equal(l4, 42, "the payload starts after the options");
  const data = parseIcmp(frame, l4, 18 + ip.totalLength, i2);
  assert.equal(i2.type, ICMP_ECHO_REQUEST);
  assert.equal(i2.id, 0xbeef);
  assert.equal(i2.sequence, 7);
  assert.deepEqual(frame.subarray(data, data + 4), Uint8Array.of(1, 2, 3, 4));
});

Deno.test("malformed input is a typed WireError, never another exception", async (t) => {
  const eth = new EthernetHeader();
  const ip = new Ipv4Header();
  const udp = new UdpHeader();
  const arp = new ArpPacket();
  const icmp = new IcmpHeader();
  const mutate = (src: Uint8Array, at: number, v: number) => {
    const c = src.slice();
    c[at] = v;
    return c;
  };
  const parseAll = (f: Uint8Array, end = f.length) => {
    const l3 = parseEthernet(f, 0, end, eth);
    if (eth.etherType === ETHERTYPE_ARP) return parseArp(f, l3, end, arp);
    const l4 = parseIpv4(f, l3, end, ip);
    if (ip.protocol === IPPROTO_UDP) return parseUdp(f, l4, l3 + ip.totalLength, ip.src, ip.dst, udp);
    return parseIcmp(f, l4, l3 + ip.totalLength, icmp);
  };

  await t.step("every truncation of both kernel frames", () => {
    for (const f of [KERNEL_ARP_REPLY, KERNEL_UDP]) {
      for (let end = 0; end < f.length; end++) {
        const k = kindOf(() => parseAll(f, end));
        assert.ok(k === "Truncated" || k === "BadLength", `end ${end}: ${k}`);
      }
    }
  });
  await t.step("bad version, header length, total length, checksums", () => {
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 14, 0x65))), "BadVersion");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 14, 0x44))), "BadLength", "IHL 4");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 14, 0x4f))), "Truncated", "options past the view");
    assert.equal(
      kindOf(() => parseAll(mutate(KERNEL_UDP, 17, 0xff))),
      "Truncated",
      "total length past the view",
    );
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 17, 0x10))), "BadLength", "total length < header");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 22, 0x3f))), "BadChecksum", "IPv4 checksum");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 50, 0x00))), "BadChecksum", "UDP checksum");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_UDP, 39, 0x04))), "BadLength", "UDP length < 8");
  });
  await t.step("bad ARP and Ethernet fields", () => {
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_ARP_REPLY, 18, 8))), "BadLength", "hardware length 8");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_ARP_REPLY, 21, 9))), "BadField", "operation 9");
    assert.equal(kindOf(() => parseAll(mutate(KERNEL_ARP_REPLY, 15, 6))), "Unsupported", "hardware type 6");
    const dot3 = mutate(mutate(KERNEL_UDP, 12, 0x00), 13, 0x40);
    assert.equal(kindOf(() => parseAll(dot3)), "Unsupported", "802.3 length field");
    const qinq = new Uint8Array(22);
    qinq.set(hex("8100 0001 8100"), 12);
    assert.equal(kindOf(() => parseAll(qinq)), "Unsupported", "stacked VLAN tags");
  });
  await t.step("emit into a view that is too small", () => {
    assert.equal(kindOf(() => emitEthernet(new Uint8Array(13), 0, 13, eth)), "Truncated");
    assert.equal(kindOf(() => emitIpv4(new Uint8Array(30), 15, 30, ip)), "Truncated");
    assert.equal(kindOf(() => emitArp(new Uint8Array(28), 1, 28, arp)), "Truncated");
    assert.equal(kindOf(() => parseIpv4Address("256.1.1.1")), "BadField");
  });
  await t.step("emit refuses field values the header cannot hold", () => {
    for (
      const bad of [{ totalLength: 19 }, { totalLength: 20.5 }, { fragmentOffset: 4 }, { fragmentOffset: -8 }]
    ) {
      const h = Object.assign(new Ipv4Header(), { totalLength: 40 }, bad);
      assert.equal(kindOf(() => emitIpv4(new Uint8Array(40), 0, 40, h)), "BadField", JSON.stringify(bad));
    }
    for (const length of [7, 8.5, 0x10000]) {
      const u = Object.assign(new UdpHeader(), { length });
      assert.equal(
        kindOf(() => emitUdp(new Uint8Array(0x10010), 0, 0x10010, 1, 2, u)),
        "BadField",
        `${length}`,
      );
    }
  });
});
