/**
 * The Linux kernel as a real peer: a net_tap port whose kernel side gets an IPv4 address, and a
 * veth pair between two net_af_packet ports. Our program sends hand-built frames and checks what
 * comes back field by field. Interface names and addresses are unique to the run; every interface
 * is removed at the end.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { MbufBatch, Mempool, Port, Vdev } from "../mod.ts";
import { internetChecksum } from "../src/net/wire/checksum.ts";
import { testEal, uniqueName } from "./_eal.ts";
import { interfaceExists, ipString, runTag, sh } from "./_net.ts";
import { openTap, type Tap } from "./_tap.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02);
const BROADCAST = new Uint8Array(6).fill(0xff);

/** Sends one frame built by `build` into an mbuf of `len` bytes. */
function sendFrame(tap: Tap, len: number, build: (b: Uint8Array, v: DataView) => void, offload?: number) {
  const batch = new MbufBatch(1);
  assert.equal(tap.pool.allocBulk(batch, 1), true);
  const at = batch.append(0, len);
  const bytes = batch.bytes(0).subarray(at, at + len);
  build(bytes, new DataView(bytes.buffer, bytes.byteOffset, len));
  if (offload !== undefined) assert.equal(batch.requestTxChecksum(0, 14, 20, offload), true);
  assert.equal(tap.port.txBurst(0, batch), 1, "the tap took the frame");
}

/** Polls for up to `ms` for a frame `match` accepts; frees everything received. Returns a copy. */
async function receive(tap: Tap, match: (f: Uint8Array) => boolean, ms = 3000): Promise<Uint8Array> {
  const rx = new MbufBatch(32);
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      if (tap.port.rxBurst(0, rx) > 0) {
        for (let i = 0; i < rx.length; i++) {
          const frame = rx.data(i);
          if (match(frame)) return frame.slice();
        }
        tap.pool.freeBulk(rx);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    if (rx.length > 0) tap.pool.freeBulk(rx);
  }
  assert.fail(`no matching frame from the kernel within ${ms} ms`);
}

function ethernet(b: Uint8Array, v: DataView, dst: Uint8Array, type: number): void {
  b.set(dst, 0);
  b.set(OUR_MAC, 6);
  v.setUint16(12, type);
}

function ipv4Header(
  b: Uint8Array,
  v: DataView,
  tap: Tap,
  protocol: number,
  payloadLen: number,
  id: number,
): void {
  const o = 14;
  v.setUint8(o, 0x45);
  v.setUint8(o + 1, 0);
  v.setUint16(o + 2, 20 + payloadLen);
  v.setUint16(o + 4, id);
  v.setUint16(o + 6, 0x4000); // don't fragment
  v.setUint8(o + 8, 64);
  v.setUint8(o + 9, protocol);
  v.setUint16(o + 10, 0);
  b.set(tap.ourIp, o + 12);
  b.set(tap.kernelIp, o + 16);
  v.setUint16(o + 10, internetChecksum(b, o, o + 20));
}

async function arpResolve(tap: Tap): Promise<Uint8Array> {
  sendFrame(tap, 42, (b, v) => {
    ethernet(b, v, BROADCAST, 0x0806);
    v.setUint16(14, 1); // Ethernet
    v.setUint16(16, 0x0800); // IPv4
    v.setUint8(18, 6);
    v.setUint8(19, 4);
    v.setUint16(20, 1); // request
    b.set(OUR_MAC, 22);
    b.set(tap.ourIp, 28);
    b.set(new Uint8Array(6), 32);
    b.set(tap.kernelIp, 38);
  });
  return await receive(tap, (f) => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[21] === 2);
}

Deno.test("net_tap: the kernel answers our ARP request and our ICMP echo request", async (t) => {
  using tap = await openTap();
  assert.equal(await interfaceExists(tap.iface), true);
  assert.equal(tap.port.info().driverName, "net_tap");
  assert.equal(tap.port.linkStatus.up, true);

  await t.step("ARP: who-has the kernel's address gets a reply, field by field", async () => {
    const f = await arpResolve(tap);
    const v = new DataView(f.buffer);
    assert.deepEqual(f.subarray(0, 6), OUR_MAC, "Ethernet destination: us");
    assert.deepEqual(f.subarray(6, 12), tap.kernelMac, "Ethernet source: the kernel's interface");
    assert.equal(v.getUint16(14), 1, "hardware type Ethernet");
    assert.equal(v.getUint16(16), 0x0800, "protocol IPv4");
    assert.equal(f[18], 6);
    assert.equal(f[19], 4);
    assert.equal(v.getUint16(20), 2, "opcode reply");
    assert.deepEqual(f.subarray(22, 28), tap.kernelMac, "sender MAC");
    assert.deepEqual(f.subarray(28, 32), tap.kernelIp, "sender IP");
    assert.deepEqual(f.subarray(32, 38), OUR_MAC, "target MAC");
    assert.deepEqual(f.subarray(38, 42), tap.ourIp, "target IP");
  });

  await t.step("ICMP: an echo request gets an echo reply with the same id, sequence and data", async () => {
    const payload = Uint8Array.from({ length: 56 }, (_, i) => (i * 13 + 1) & 0xff);
    const icmpLen = 8 + payload.length;
    sendFrame(tap, 14 + 20 + icmpLen, (b, v) => {
      ethernet(b, v, tap.kernelMac, 0x0800);
      ipv4Header(b, v, tap, 1, icmpLen, 0x1234);
      const o = 34;
      v.setUint8(o, 8); // echo request
      v.setUint8(o + 1, 0);
      v.setUint16(o + 2, 0);
      v.setUint16(o + 4, 0xbeef); // identifier
      v.setUint16(o + 6, 7); // sequence
      b.set(payload, o + 8);
      v.setUint16(o + 2, internetChecksum(b, o, o + icmpLen));
    });
    const f = await receive(tap, (f) => f.length >= 42 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 1);
    const v = new DataView(f.buffer);
    assert.deepEqual(f.subarray(0, 6), OUR_MAC);
    assert.deepEqual(f.subarray(6, 12), tap.kernelMac);
    assert.equal(f[14] >> 4, 4, "IPv4");
    const ihl = (f[14] & 0xf) * 4;
    assert.equal(internetChecksum(f, 14, 14 + ihl), 0, "IPv4 header checksum is valid");
    assert.equal(v.getUint16(16), 20 + icmpLen, "total length");
    assert.equal(f[23], 1, "protocol ICMP");
    assert.ok(f[22] > 0, "TTL set");
    assert.deepEqual(f.subarray(26, 30), tap.kernelIp, "source: the kernel");
    assert.deepEqual(f.subarray(30, 34), tap.ourIp, "destination: us");
    const o = 14 + ihl;
    assert.equal(f[o], 0, "type echo reply");
    assert.equal(f[o + 1], 0, "code 0");
    assert.equal(internetChecksum(f, o, o + icmpLen), 0, "ICMP checksum is valid");
    assert.equal(v.getUint16(o + 4), 0xbeef, "identifier");
    assert.equal(v.getUint16(o + 6), 7, "sequence");
    assert.deepEqual(f.subarray(o + 8, o + icmpLen), payload, "data echoed intact");
    const st = tap.port.stats();
    assert.ok(st.opackets >= 2 && st.ipackets >= 2, JSON.stringify(st));
  });
});

Deno.test("net_tap: UDP with checksums offloaded to the port reaches a kernel UDP socket", async () => {
  using tap = await openTap();
  const off = tap.port.txChecksumOffload;
  assert.equal(off.ipv4 && off.udp, true, `net_tap offers IPv4/UDP checksum offload: ${JSON.stringify(off)}`);
  const socket = dgram.createSocket("udp4");
  try {
    const bound = new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, ipString(tap.kernelIp), () => resolve());
    });
    await bound;
    const kernelPort = socket.address().port;
    const got = new Promise<{ msg: Uint8Array; from: dgram.RemoteInfo }>((resolve) =>
      socket.once("message", (msg, from) => resolve({ msg: new Uint8Array(msg), from }))
    );
    const payload = new TextEncoder().encode("checksums by the port, not by us");
    const udpLen = 8 + payload.length;
    sendFrame(tap, 14 + 20 + udpLen, (b, v) => {
      ethernet(b, v, tap.kernelMac, 0x0800);
      ipv4Header(b, v, tap, 17, udpLen, 0x2222);
      v.setUint16(14 + 10, 0xdead); // a wrong IPv4 checksum: the offload must replace it
      const o = 34;
      v.setUint16(o, 40000);
      v.setUint16(o + 2, kernelPort);
      v.setUint16(o + 4, udpLen);
      v.setUint16(o + 6, 0);
      b.set(payload, o + 8);
    }, 17);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("no datagram")), 3000)
    );
    const { msg, from } = await Promise.race([got, timeout]);
    assert.deepEqual(msg, payload, "the kernel accepted both checksums and delivered the payload");
    assert.equal(from.address, ipString(tap.ourIp));
    assert.equal(from.port, 40000);
  } finally {
    socket.close();
  }
});

Deno.test("net_tap: closing the port and detaching the vdev removes the kernel interface", async () => {
  const tap = await openTap();
  const iface = tap.iface;
  assert.equal(await interfaceExists(iface), true);
  tap[Symbol.dispose]();
  assert.equal(await interfaceExists(iface), false);
});

Deno.test("net_af_packet: frames cross a veth pair between two DPDK ports byte for byte", async () => {
  const a = `mdva${runTag()}`;
  const b = `mdvb${runTag()}`;
  await sh("ip", "link", "add", a, "type", "veth", "peer", "name", b);
  try {
    for (const dev of [a, b]) {
      await sh("ip", "link", "set", "dev", dev, "addrgenmode", "none");
      // Without this the packet socket sees unfinished checksums and merged segments.
      await sh("ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off");
      await sh("ip", "link", "set", "dev", dev, "up");
    }
    using pool = Mempool.createWithSize(uniqueName("afp"), 2048);
    using va = Vdev.attach(`net_af_packet_a${runTag()}`, `iface=${a}`);
    using vb = Vdev.attach(`net_af_packet_b${runTag()}`, `iface=${b}`);
    using pa = Port.open(va.portId, pool, { promiscuous: true });
    using pb = Port.open(vb.portId, pool, { promiscuous: true });
    assert.equal(pa.info().driverName, "net_af_packet");
    pa.start();
    pb.start();
    const tx = new MbufBatch(8);
    assert.equal(pool.allocBulk(tx, 8, 80), true);
    const c = tx.columns();
    const sent: number[][] = [];
    for (let i = 0; i < 8; i++) {
      const f = c.bytes.subarray(c.start[i], c.start[i] + 80);
      f.set(Uint8Array.of(0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa, 0x88, 0xb5)); // local experimental type
      for (let k = 14; k < 80; k++) f[k] = (i * 17 + k) & 0xff;
      sent.push(Array.from(f));
    }
    assert.equal(pa.txBurst(0, tx), 8);
    const rx = new MbufBatch(32);
    const got: number[][] = [];
    const deadline = Date.now() + 3000;
    while (got.length < 8 && Date.now() < deadline) {
      if (pb.rxBurst(0, rx) > 0) {
        for (let i = 0; i < rx.length; i++) {
          const f = rx.data(i);
          if (f[12] === 0x88 && f[13] === 0xb5) got.push(Array.from(f));
        }
        pool.freeBulk(rx);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.deepEqual(got, sent, "all 8 frames arrived intact and in order");
    pa.close();
    pb.close();
  } finally {
    await sh("ip", "link", "del", a);
  }
  assert.equal(await interfaceExists(a), false);
  assert.equal(await interfaceExists(b), false);
});
