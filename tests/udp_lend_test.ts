/**
 * UDP datagrams on a PortDevice are lent to their socket in place (no copy into its ring): read in
 * place after the poll, copied into the ring at the next poll when unread, dropped and counted
 * when the device is disposed first. On a real net_ring port (frames sent come back).
 */
import assert from "node:assert/strict";
import { Interface, MbufBatch, parseIpv4Address, PortDevice } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { arpFrame, udpFrame } from "./_fixtures.ts";
import { ringPort } from "./_ring.ts";

testEal();

const OUR_IP = parseIpv4Address("198.18.30.2");
const PEER_IP = parseIpv4Address("198.18.30.1");
const OUR_MAC = Uint8Array.of(2, 0, 0, 0, 0x30, 2);
const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0x30, 1);
const PORT = 7;

/** Payload `k` of a test: 24 bytes, all different between payloads. */
function payload(k: number): Uint8Array {
  return Uint8Array.from({ length: 24 }, (_, i) => (k * 31 + i) & 0xff);
}

function setup(tag: string) {
  const s = ringPort(tag, 512);
  const device = new PortDevice(s.port, s.pool);
  const iface = new Interface(device, { mac: OUR_MAC, addresses: [{ ip: OUR_IP, prefix: 24 }] });
  /** Puts frames on the wire (net_ring: they come back as the next poll's burst). */
  const inject = (frames: Uint8Array[]) => {
    const b = new MbufBatch(frames.length);
    assert.equal(s.pool.allocBulk(b, frames.length, 0), true);
    frames.forEach((f, i) => {
      assert.equal(b.setDataLen(i, f.length), true);
      const p = b.at(i);
      p.bytes.set(f, p.start);
    });
    assert.equal(s.port.txBurst(0, b), frames.length);
  };
  const datagram = (k: number, corrupt = false, port = PORT, options?: Uint8Array) => {
    const spec = { dstMac: OUR_MAC, srcMac: PEER_MAC, src: PEER_IP, dst: OUR_IP, options };
    const f = udpFrame(spec, 9000, port, payload(k));
    if (corrupt) f[f.length - 1] ^= 1;
    return f;
  };
  /** Overwrites every free mbuf's memory, as later traffic would. */
  const scribble = () => {
    const b = new MbufBatch(512);
    const n = s.pool.available;
    assert.equal(s.pool.allocBulk(b, n, 200), true);
    const c = b.columns();
    for (let i = 0; i < n; i++) c.bytes.fill(0xee, c.start[i] - 64, c.start[i] + 200);
    s.pool.freeBulk(b);
  };
  return {
    iface,
    device,
    inject,
    datagram,
    scribble,
    [Symbol.dispose]() {
      device[Symbol.dispose]();
      s[Symbol.dispose]();
    },
  };
}

Deno.test("a datagram is read in place in the frame, and one left unread survives the next poll", () => {
  using h = setup("lend");
  const { iface, inject, datagram, scribble } = h;
  using sock = iface.bindUdp(PORT, 8);
  inject([datagram(1), datagram(2), datagram(3)]);
  iface.poll(0);
  assert.equal(sock.queued, 3);
  const n = sock.recvView();
  assert.equal(n, 24);
  assert.notEqual(sock.rxStart % 1472, 0, "in the frame, not at a slot of the socket's ring");
  assert.deepEqual(sock.rxBytes.subarray(sock.rxStart, sock.rxStart + n), payload(1));
  assert.equal(sock.lastIp, PEER_IP);
  assert.equal(sock.lastPort, 9000);
  // Datagrams 2 and 3 stay unread across a poll that frees their frames; the pool's memory is
  // then overwritten: the socket must have copied them first.
  inject([datagram(4)]);
  iface.poll(1);
  scribble();
  assert.deepEqual(sock.recvFrom()?.data, payload(2));
  const out = new Uint8Array(64);
  assert.equal(sock.recvInto(out), 24);
  assert.deepEqual(out.subarray(0, 24), payload(3));
  assert.equal(sock.recvView(), 24, "datagram 4, lent at the second poll");
  assert.deepEqual(sock.rxBytes.subarray(sock.rxStart, sock.rxStart + 24), payload(4));
  assert.equal(sock.recvView(), -1);
  assert.equal(sock.rxDropped, 0);
  assert.equal(iface.stats.rxMalformed, 0);
});

Deno.test("the lending path checks the UDP checksum and the queue's bound", () => {
  using h = setup("lendck");
  const { iface, inject, datagram } = h;
  using sock = iface.bindUdp(PORT, 2);
  inject([datagram(1, true), datagram(2), datagram(3), datagram(4), datagram(5, true)]);
  iface.poll(0);
  assert.equal(iface.stats.rxMalformed, 2, "both corrupt ones, the second also with the queue full");
  assert.equal(sock.rxDropped, 1, "datagram 4: the queue holds two");
  assert.deepEqual(sock.recvFrom()?.data, payload(2));
  assert.deepEqual(sock.recvFrom()?.data, payload(3));
  assert.equal(sock.recvFrom(), null);
});

Deno.test("a closed socket's unread datagrams stay readable; a disposed device's are dropped and counted", () => {
  using h = setup("lendend");
  const { iface, device, inject, datagram, scribble } = h;
  const a = iface.bindUdp(PORT, 8);
  inject([datagram(1), datagram(2)]);
  iface.poll(0);
  a.close(); // its datagrams move into its ring now
  inject([datagram(3)]);
  iface.poll(1); // frees the frames of 1 and 2
  scribble();
  assert.deepEqual(a.recvFrom()?.data, payload(1));
  assert.deepEqual(a.recvFrom()?.data, payload(2));

  using b = iface.bindUdp(PORT, 8);
  inject([datagram(4), datagram(5)]);
  iface.poll(2);
  device[Symbol.dispose](); // the frames go back to the pool unread
  scribble();
  assert.equal(b.queued, 0, "their memory is gone");
  assert.equal(b.recvFrom(), null);
  assert.equal(b.recvView(), -1);
  assert.equal(b.rxDropped, 2, "counted");
});

Deno.test("lent and copied datagrams interleave in one ring, over several sockets, in order", () => {
  using h = setup("lendmix");
  const { iface, inject, datagram, scribble } = h;
  using a = iface.bindUdp(PORT, 8);
  using b = iface.bindUdp(PORT + 1, 8);
  // An IPv4 header with a no-op option takes the parsers' path, which copies into the ring.
  const nop = Uint8Array.of(1, 1, 1, 0);
  inject([datagram(1), datagram(2, false, PORT, nop), datagram(3), datagram(4, false, PORT + 1)]);
  iface.poll(0);
  assert.equal(a.queued, 3);
  assert.equal(b.queued, 1);
  inject([datagram(5, false, PORT + 1)]);
  iface.poll(1); // frees the first burst's frames: the lent ones of both sockets are copied first
  scribble();
  const read = (s: typeof a) => Array.from({ length: s.queued }, () => Array.from(s.recvFrom()!.data));
  assert.deepEqual(read(a), [1, 2, 3].map((k) => Array.from(payload(k))));
  assert.deepEqual(read(b), [4, 5].map((k) => Array.from(payload(k))));
  assert.equal(iface.stats.rxMalformed, 0);
});

Deno.test("a program that transfers the pool's memory away (rxBytes.buffer) does not stop the interface", () => {
  using h = setup("lend_transfer");
  const { iface, inject, datagram } = h;
  using sock = iface.bindUdp(PORT, 8);
  inject([arpFrame(2, OUR_MAC, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP), datagram(1)]); // the peer known: replies leave at once
  iface.poll(0);
  assert.equal(sock.recvView(), 24);
  assert.ok(sock.sendTo(payload(4), PEER_IP, 9000)); // the device now holds a view of its spares
  const pool = sock.rxBytes;
  // The pool's memory is DPDK's, mapped once per chunk: the transfer detaches this isolate's view
  // of it, which the next poll maps again (the memory itself never moved).
  const moved = structuredClone(pool.buffer, { transfer: [pool.buffer as ArrayBuffer] });
  assert.equal(pool.length, 0, "detached");
  // A reply before the next poll: written into the device's spare mbufs, whose view it held too.
  const sent = iface.stats.txFrames;
  assert.ok(sock.sendTo(payload(5), PEER_IP, 9000));
  iface.flush();
  assert.equal(iface.stats.txFrames, sent + 1, "the reply went out");
  for (let round = 0; round < 3; round++) {
    inject([datagram(10 + round), datagram(20 + round)]);
    iface.poll(1 + round);
    assert.equal(sock.recvView(), 24, `round ${round}: the first datagram`);
    assert.deepEqual(sock.rxBytes.subarray(sock.rxStart, sock.rxStart + 24), payload(10 + round));
    const out = new Uint8Array(24);
    assert.equal(sock.recvInto(out), 24, `round ${round}: the second`);
    assert.deepEqual(out, payload(20 + round));
    assert.ok(sock.sendTo(out, PEER_IP, 9000), "a reply goes out");
  }
  assert.equal(iface.stats.rxMalformed, 0);
  assert.ok(moved.byteLength > 0);

  // Datagrams still lent when the memory is transferred: read at once, and kept across a poll.
  inject([datagram(30), datagram(31), datagram(32)]);
  iface.poll(10);
  assert.equal(sock.recvView(), 24);
  structuredClone(sock.rxBytes.buffer, { transfer: [sock.rxBytes.buffer as ArrayBuffer] });
  assert.equal(sock.recvView(), 24, "the second, read after the transfer");
  assert.deepEqual(sock.rxBytes.subarray(sock.rxStart, sock.rxStart + 24), payload(31));
  iface.poll(11); // the third, unread, is copied into the ring before the frames go back
  const out = new Uint8Array(24);
  assert.equal(sock.recvInto(out), 24, "the third, after a poll");
  assert.deepEqual(out, payload(32));

  // Unread when the memory is transferred, and the pool mapped again by another call (inject's
  // batch) before the poll copies it into the ring.
  inject([datagram(40), datagram(41)]);
  iface.poll(12);
  assert.equal(sock.recvView(), 24);
  structuredClone(sock.rxBytes.buffer, { transfer: [sock.rxBytes.buffer as ArrayBuffer] });
  inject([datagram(42)]);
  iface.poll(13);
  for (const k of [41, 42]) {
    assert.equal(sock.recvInto(out), 24, `datagram ${k}`);
    assert.deepEqual(out, payload(k));
  }
});
