/**
 * Every public entry of the network stack checks its arguments (issue 10 §4): a bad value is its
 * module's typed error naming the argument, never a TypeError/RangeError from inside and never a
 * silent acceptance. Table-driven: [what, call, error class, kind, text the message must hold].
 */
import assert from "node:assert/strict";
import {
  copyAndSum,
  emitEthernet,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  finishChecksum,
  Interface,
  InterfaceError,
  internetChecksum,
  Ipv4Header,
  ipv4ToString,
  l4Checksum,
  LoopbackDevice,
  parseEthernet,
  parseIpv4,
  parseIpv4Address,
  parseUdp,
  PcapError,
  PcapWriter,
  PortError,
  pseudoHeaderSum,
  sumView,
  sumWords,
  UdpHeader,
  viewOf,
  VlanDemux,
  WireError,
} from "../mod.ts";
import { US, US_MAC, wireHost } from "./_host.ts";

// deno-lint-ignore no-explicit-any
type Cls = new (...args: any[]) => Error & { kind: string };
type Case = [string, () => unknown, Cls, string, string];

function check(cases: Case[]): void {
  for (const [what, call, cls, kind, text] of cases) {
    let thrown: unknown = undefined;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown !== undefined, `${what}: nothing thrown`);
    assert.ok(thrown instanceof cls, `${what}: expected ${cls.name}, got ${thrown}`);
    assert.equal(thrown.kind, kind, `${what}: ${thrown.message}`);
    assert.ok(thrown.message.includes(text), `${what}: "${thrown.message}" should mention ${text}`);
  }
}

// deno-lint-ignore no-explicit-any
const any = (v: unknown): any => v;
const IE = InterfaceError;

/** A Uint8Array whose buffer was transferred away. */
function detached(): Uint8Array {
  const b = new Uint8Array(8);
  structuredClone(b.buffer, { transfer: [b.buffer] });
  return b;
}

Deno.test("Interface: the constructor refuses bad devices, MACs, addresses and limits", () => {
  const dev = new LoopbackDevice();
  const ok = { mac: US_MAC, addresses: [{ ip: US, prefix: 24 }] };
  const cfg = (extra: object) => any({ ...ok, ...extra });
  const cases: Case[] = [
    ["no device", () => new Interface(any(undefined), ok), IE, "InvalidArgument", "device"],
    [
      "a device without methods",
      () => new Interface(any({ mtu: 1500 }), ok),
      IE,
      "InvalidArgument",
      "device",
    ],
    [
      "a device with MTU NaN",
      () => new Interface(any({ ...dev, receive() {}, txSlot() {}, flush() {}, mtu: NaN }), ok),
      IE,
      "InvalidArgument",
      "device.mtu",
    ],
    ["no config", () => new Interface(dev, any(undefined)), IE, "InvalidArgument", "config"],
    ["mac as text", () => new Interface(dev, cfg({ mac: "abcdef" })), IE, "InvalidArgument", '"abcdef"'],
    [
      "mac of 5 bytes",
      () => new Interface(dev, cfg({ mac: new Uint8Array(5) })),
      IE,
      "InvalidArgument",
      "mac",
    ],
    [
      "multicast mac",
      () => new Interface(dev, cfg({ mac: Uint8Array.of(1, 0, 0x5e, 0, 0, 1) })),
      IE,
      "InvalidArgument",
      "mac",
    ],
    ["zero mac", () => new Interface(dev, cfg({ mac: new Uint8Array(6) })), IE, "InvalidArgument", "mac"],
    ["no address", () => new Interface(dev, cfg({ addresses: [] })), IE, "InvalidArgument", "addresses"],
    [
      "prefix 33",
      () => new Interface(dev, cfg({ addresses: [{ ip: US, prefix: 33 }] })),
      IE,
      "InvalidArgument",
      "prefix",
    ],
    [
      "address NaN",
      () => new Interface(dev, cfg({ addresses: [{ ip: NaN, prefix: 8 }] })),
      IE,
      "InvalidArgument",
      "ip",
    ],
    [
      "BigInt address",
      () => new Interface(dev, cfg({ addresses: [{ ip: 5n, prefix: 8 }] })),
      IE,
      "InvalidArgument",
      "5n",
    ],
    [
      "gateway off-link",
      () => new Interface(dev, cfg({ gateway: 0x08080808 })),
      IE,
      "InvalidArgument",
      "gateway",
    ],
    [
      "cache limit 0",
      () => new Interface(dev, cfg({ neighborCacheLimit: 0 })),
      IE,
      "InvalidArgument",
      "neighborCacheLimit",
    ],
    [
      "cache limit 1.5",
      () => new Interface(dev, cfg({ neighborCacheLimit: 1.5 })),
      IE,
      "InvalidArgument",
      "neighborCacheLimit",
    ],
    [
      "pending limit NaN",
      () => new Interface(dev, cfg({ pendingLimit: NaN })),
      IE,
      "InvalidArgument",
      "pendingLimit",
    ],
    [
      "expiry BigInt",
      () => new Interface(dev, cfg({ arpExpiryMs: 1n })),
      IE,
      "InvalidArgument",
      "arpExpiryMs",
    ],
    [
      "max requests 0",
      () => new Interface(dev, cfg({ arpMaxRequests: 0 })),
      IE,
      "InvalidArgument",
      "arpMaxRequests",
    ],
    [
      "icmp rate -1",
      () => new Interface(dev, cfg({ icmpErrorsPerSecond: -1 })),
      IE,
      "InvalidArgument",
      "icmpErrorsPerSecond",
    ],
    [
      "promiscuous text",
      () => new Interface(dev, cfg({ promiscuous: "yes" })),
      IE,
      "InvalidArgument",
      "promiscuous",
    ],
    ["pcap not a writer", () => new Interface(dev, cfg({ pcap: {} })), IE, "InvalidArgument", "pcap"],
    ...["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1", "240.0.0.1", "10.0.0.255"].map((
      bad,
    ): Case => [
      `address ${bad}`,
      () => new Interface(dev, cfg({ addresses: [{ ip: parseIpv4Address(bad), prefix: 24 }] })),
      IE,
      "InvalidArgument",
      `addresses[0].ip must be a unicast host address`,
    ]),
    [
      "duplicate address",
      () => new Interface(dev, cfg({ addresses: [{ ip: US, prefix: 24 }, { ip: US, prefix: 16 }] })),
      IE,
      "InvalidArgument",
      "addresses[1].ip",
    ],
    ["gateway ourselves", () => new Interface(dev, cfg({ gateway: US })), IE, "InvalidArgument", "gateway"],
    ["gateway NaN", () => new Interface(dev, cfg({ gateway: NaN })), IE, "InvalidArgument", "NaN"],
    [
      "route via NaN",
      () => new Interface(dev, cfg({ routes: [{ ip: 0x0a000000, prefix: 8, via: NaN }] })),
      IE,
      "InvalidArgument",
      "NaN",
    ],
    [
      "a typo in a key",
      () => new Interface(dev, cfg({ maxNeighbours: 8 })),
      IE,
      "InvalidArgument",
      "maxNeighbours",
    ],
  ];
  check(cases);
});

Deno.test("Interface and UdpSocket: bindUdp, sendTo, recvInto, neighbour, poll", () => {
  const h = wireHost();
  const i = h.iface;
  const s = i.bindUdp(5000, 2);
  const d = new Uint8Array(10);
  const gone = detached();
  check([
    ["bindUdp NaN", () => i.bindUdp(NaN), IE, "InvalidArgument", "NaN"],
    ["bindUdp 0", () => i.bindUdp(0), IE, "InvalidArgument", "1–65535"],
    ["bindUdp 1e9", () => i.bindUdp(1e9), IE, "InvalidArgument", "1000000000"],
    ["bindUdp 7n", () => i.bindUdp(any(7n)), IE, "InvalidArgument", "7n"],
    ["bindUdp text", () => i.bindUdp(any("7")), IE, "InvalidArgument", '"7"'],
    ["bindUdp capacity 0", () => i.bindUdp(7, 0), IE, "InvalidArgument", "capacity"],
    ["bindUdp capacity 1e9", () => i.bindUdp(7, 1e9), IE, "InvalidArgument", "capacity"],
    ["bindUdp twice", () => i.bindUdp(5000), IE, "PortInUse", "5000"],
    ["new UdpSocket", () => new (any(s.constructor))(i, 7, 1), IE, "InvalidArgument", "bindUdp"],
    ["sendTo ip NaN", () => s.sendTo(d, NaN, 9), IE, "InvalidArgument", "ip"],
    ["sendTo ip -1", () => s.sendTo(d, -1, 9), IE, "InvalidArgument", "ip"],
    ["sendTo ip 2^32", () => s.sendTo(d, 2 ** 32, 9), IE, "InvalidArgument", "ip"],
    ["sendTo ip BigInt", () => s.sendTo(d, any(1n), 9), IE, "InvalidArgument", "1n"],
    ["sendTo broadcast", () => s.sendTo(d, 0xffffffff, 9), IE, "InvalidArgument", "255.255.255.255"],
    [
      "sendTo subnet broadcast",
      () => s.sendTo(d, parseIpv4Address("10.255.255.255"), 9),
      IE,
      "InvalidArgument",
      "unicast",
    ],
    [
      "sendTo loopback",
      () => s.sendTo(d, parseIpv4Address("127.0.0.1"), 9),
      IE,
      "InvalidArgument",
      "127.0.0.1",
    ],
    ["sendTo ourselves", () => s.sendTo(d, US, 9), IE, "InvalidArgument", "our own"],
    ["sendTo port NaN", () => s.sendTo(d, US + 1, NaN), IE, "InvalidArgument", "port"],
    ["sendTo port 0", () => s.sendTo(d, US + 1, 0), IE, "InvalidArgument", "port"],
    ["sendTo port 70000", () => s.sendTo(d, US + 1, 70000), IE, "InvalidArgument", "port"],
    ["sendTo port BigInt", () => s.sendTo(d, US + 1, any(9n)), IE, "InvalidArgument", "9n"],
    ["sendTo data text", () => s.sendTo(any("hello"), US + 1, 9), IE, "InvalidArgument", "data"],
    ["sendTo offset -1", () => s.sendTo(d, US + 1, 9, -1), IE, "InvalidArgument", "offset"],
    ["sendTo offset 11", () => s.sendTo(d, US + 1, 9, 11), IE, "InvalidArgument", "offset"],
    ["sendTo offset BigInt", () => s.sendTo(d, US + 1, 9, any(1n)), IE, "InvalidArgument", "1n"],
    ["sendTo length 11", () => s.sendTo(d, US + 1, 9, 0, 11), IE, "InvalidArgument", "length"],
    ["sendTo length NaN", () => s.sendTo(d, US + 1, 9, 0, NaN), IE, "InvalidArgument", "NaN"],
    ["sendTo length BigInt", () => s.sendTo(d, US + 1, 9, 0, any(2n)), IE, "InvalidArgument", "2n"],
    ["sendTo too large", () => s.sendTo(new Uint8Array(1473), US + 1, 9), IE, "TooLarge", "1473"],
    ["recvInto text", () => s.recvInto(any("x")), IE, "InvalidArgument", "out"],
    ["sendTo detached", () => s.sendTo(gone, US + 1, 9), IE, "InvalidArgument", "detached"],
    ["recvInto detached", () => s.recvInto(gone), IE, "InvalidArgument", "detached"],
    ["isUnicastPeer NaN", () => i.isUnicastPeer(NaN), IE, "InvalidArgument", "NaN"],
    ["neighbour NaN", () => i.neighbour(NaN), IE, "InvalidArgument", "ip"],
    ["poll NaN", () => i.poll(NaN), IE, "InvalidArgument", "now"],
    ["poll text", () => i.poll(any("1")), IE, "InvalidArgument", "now"],
    ["poll BigInt", () => i.poll(any(1n)), IE, "InvalidArgument", "1n"],
  ]);
  assert.equal(s.txDropped, 0, "nothing was queued by a refused call");
  s.close();
  check([["sendTo after close", () => s.sendTo(d, US + 1, 9), IE, "Closed", "closed"]]);
});

Deno.test("PcapWriter: paths, snap lengths, write ranges and times; a closed writer is Closed", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const w = new PcapWriter(path);
    const b = new Uint8Array(10);
    const PE = PcapError;
    check([
      ["undefined path", () => new PcapWriter(any(undefined)), PE, "InvalidArgument", "path"],
      ["empty path", () => new PcapWriter(""), PE, "InvalidArgument", "path"],
      ["numeric path", () => new PcapWriter(any(42)), PE, "InvalidArgument", "42"],
      ["snap 0", () => new PcapWriter(path + ".x", 0), PE, "InvalidArgument", "snapLength"],
      ["snap NaN", () => new PcapWriter(path + ".x", NaN), PE, "InvalidArgument", "snapLength"],
      ["a directory", () => new PcapWriter("/"), PE, "OpenFailed", "/"],
      ["write text", () => w.write(any("abc"), 0, 3), PE, "InvalidArgument", "bytes"],
      ["write detached", () => w.write(detached(), 0, 0), PE, "InvalidArgument", "detached"],
      ["start -1", () => w.write(b, -1, 2), PE, "InvalidArgument", "start"],
      ["start 1.5", () => w.write(b, 1.5, 2), PE, "InvalidArgument", "start"],
      ["past the end", () => w.write(b, 5, 6), PE, "InvalidArgument", "10"],
      ["length NaN", () => w.write(b, 0, NaN), PE, "InvalidArgument", "length"],
      ["BigInt length", () => w.write(b, 0, any(2n)), PE, "InvalidArgument", "2n"],
      ["time NaN", () => w.write(b, 0, 2, NaN), PE, "InvalidArgument", "timeMs"],
      ["time negative", () => w.write(b, 0, 2, -1), PE, "InvalidArgument", "timeMs"],
    ]);
    w.write(b, 0, 10, 1000);
    w.close();
    check([["write after close", () => w.write(b, 0, 1), PE, "Closed", "closed"]]);
    assert.equal((await Deno.stat(path)).size, 24 + 16 + 10, "refused writes wrote nothing");
    assert.equal(await Deno.stat(path + ".x").catch(() => null), null, "no file for a refused snap length");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("LoopbackDevice: MTU, capacity, txSlot and receive", () => {
  const d = new LoopbackDevice(1500, 4);
  check([
    ["mtu NaN", () => new LoopbackDevice(NaN), PortError, "InvalidArgument", "mtu"],
    ["mtu 10", () => LoopbackDevice.pair(10), PortError, "InvalidArgument", "mtu"],
    ["capacity 0", () => new LoopbackDevice(1500, 0), PortError, "InvalidArgument", "capacity"],
    ["txSlot -1", () => d.txSlot(-1), PortError, "InvalidArgument", "length"],
    ["txSlot above MTU + 18", () => d.txSlot(1519), PortError, "InvalidArgument", "1519"],
    ["txSlot BigInt", () => d.txSlot(any(5n)), PortError, "InvalidArgument", "5n"],
    ["receive without a callback", () => d.receive(any(null)), PortError, "InvalidArgument", "onFrame"],
    ["VlanDemux of nothing", () => new VlanDemux(any(undefined)), PortError, "InvalidArgument", "device"],
    ["VlanDemux capacity 0", () => new VlanDemux(d, 0), PortError, "InvalidArgument", "capacity"],
    ["VlanDemux view 4095", () => new VlanDemux(d).view(4095), PortError, "InvalidArgument", "vlan"],
    ["VlanDemux view 0", () => new VlanDemux(d).view(0), PortError, "InvalidArgument", "vlan"],
  ]);
});

Deno.test("wire helpers: views, offsets, header objects, emitted fields, addresses", () => {
  const b = new Uint8Array(64);
  const WE = WireError;
  const udp = (o: Partial<UdpHeader>) => Object.assign(new UdpHeader(), { length: 8 }, o);
  const ip4 = (o: Partial<Ipv4Header>) => Object.assign(new Ipv4Header(), { totalLength: 20 }, o);
  check([
    [
      "parse a string",
      () => parseEthernet(any("frame"), 0, 5, new EthernetHeader()),
      WE,
      "InvalidArgument",
      "bytes",
    ],
    ["parse at 1.5", () => parseIpv4(b, 1.5, 64, new Ipv4Header()), WE, "InvalidArgument", "offset"],
    ["parse at NaN", () => parseIpv4(b, NaN, 64, new Ipv4Header()), WE, "InvalidArgument", "offset"],
    ["parse at a BigInt", () => parseIpv4(b, any(0n), 64, new Ipv4Header()), WE, "InvalidArgument", "0n"],
    ["end a BigInt", () => parseUdp(b, 0, any(64n), 1, 2, new UdpHeader()), WE, "InvalidArgument", "64n"],
    [
      "the wrong header class",
      () => parseIpv4(b, 0, 64, any(new UdpHeader())),
      WE,
      "InvalidArgument",
      "Ipv4Header",
    ],
    ["parseUdp src NaN", () => parseUdp(b, 0, 64, NaN, 2, new UdpHeader()), WE, "InvalidArgument", "src"],
    ["emit TTL 256", () => emitIpv4(b, 0, 64, ip4({ ttl: 256 })), WE, "BadField", "ttl"],
    ["emit id -1", () => emitIpv4(b, 0, 64, ip4({ id: -1 })), WE, "BadField", "id"],
    ["emit src 1.5", () => emitIpv4(b, 0, 64, ip4({ src: 1.5 })), WE, "BadField", "src"],
    ["emit port 70000", () => emitUdp(b, 0, 64, 1, 2, udp({ srcPort: 70000 })), WE, "BadField", "srcPort"],
    ["emit UDP dst NaN", () => emitUdp(b, 0, 64, 1, NaN, udp({})), WE, "InvalidArgument", "dst"],
    [
      "emit EtherType 5",
      () => emitEthernet(b, 0, 64, Object.assign(new EthernetHeader(), { etherType: 5 })),
      WE,
      "BadField",
      "etherType",
    ],
    ["sumWords detached", () => sumWords(detached(), 0, 0), WE, "InvalidArgument", "detached"],
    ["viewOf detached", () => viewOf(detached()), WE, "InvalidArgument", "detached"],
    [
      "parse a detached buffer",
      () => parseIpv4(detached(), 0, 0, new Ipv4Header()),
      WE,
      "Truncated",
      "needs",
    ],
    ["sumWords -1", () => sumWords(b, -1, 4), WE, "InvalidArgument", "start"],
    ["sumWords past the end", () => sumWords(b, 0, 65), WE, "InvalidArgument", "end"],
    ["sumWords sum NaN", () => sumWords(b, 0, 4, NaN), WE, "InvalidArgument", "sum"],
    ["sumView a Uint8Array", () => sumView(any(b), 0, 4), WE, "InvalidArgument", "DataView"],
    ["internetChecksum of nothing", () => internetChecksum(any(undefined)), WE, "InvalidArgument", "bytes"],
    ["finishChecksum NaN", () => finishChecksum(NaN), WE, "InvalidArgument", "sum"],
    ["finishChecksum BigInt", () => finishChecksum(any(1n)), WE, "InvalidArgument", "1n"],
    ["copyAndSum too long", () => copyAndSum(viewOf(b), 0, viewOf(b), 10, 60), WE, "InvalidArgument", "from"],
    ["viewOf null", () => viewOf(any(null)), WE, "InvalidArgument", "null"],
    ["pseudoHeaderSum length -1", () => pseudoHeaderSum(1, 2, 17, -1), WE, "InvalidArgument", "length"],
    ["l4Checksum protocol 300", () => l4Checksum(b, 0, 8, 1, 2, 300), WE, "InvalidArgument", "protocol"],
    ["ipv4ToString -1", () => ipv4ToString(-1), WE, "InvalidArgument", "ip"],
    ["ipv4ToString BigInt", () => ipv4ToString(any(1n)), WE, "InvalidArgument", "1n"],
    ["parseIpv4Address 42", () => parseIpv4Address(any(42)), WE, "InvalidArgument", "42"],
  ]);
  // inet_pton's dotted quad: no leading zeros, no spaces, four parts, each 0–255.
  for (
    const bad of [
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3.00",
      "00.0.0.0",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "1..2.3",
      "0x1.2.3.4",
      "١.2.3.4",
    ]
  ) {
    check([[bad, () => parseIpv4Address(bad), WE, "BadField", "dotted-quad"]]);
  }
  assert.equal(parseIpv4Address("0.0.0.0"), 0);
  assert.equal(parseIpv4Address("10.0.200.255"), 0x0a00c8ff);
  assert.equal(parseIpv4Address("255.255.255.255"), 0xffffffff);
});
