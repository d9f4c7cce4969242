/**
 * What a caller can do to the memory it shares with the sockets: transfer (detach) the buffers
 * the sockets hand out (`TcpSocket.rxBytes`/`txBytes`, `UdpSocket.rxBytes`), pass arrays over
 * resizable buffers that change length between calls, detach an array after a send, and read
 * a socket's data into the socket's own ring. None of it may stop the interface, throw anything but
 * a typed error, or move the wrong bytes. Two interfaces over a LoopbackDevice pair.
 */
import assert from "node:assert/strict";
import { InterfaceError, parseIpv4Address, type TcpSocket } from "../mod.ts";
import { hostPair } from "./_host.ts";

const A_IP = parseIpv4Address("198.18.9.1");
const B_IP = parseIpv4Address("198.18.9.2");

const pair = () =>
  hostPair(A_IP, B_IP, [Uint8Array.of(2, 0, 0, 0, 9, 1), Uint8Array.of(2, 0, 0, 0, 9, 2)], {}, {}, 1024);

function connected(h: ReturnType<typeof pair>): { client: TcpSocket; server: TcpSocket } {
  const listener = h.b.listenTcp(80, { backlog: 1 });
  const client = h.a.connectTcp(B_IP, 80);
  h.run(10);
  const server = listener.accept();
  assert.ok(server !== null && client.isEstablished, "connected");
  listener[Symbol.dispose]();
  return { client, server };
}

const pattern = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 251);

/** Every byte the server has, read out after polling until `n` arrived (or the rounds ran out). */
function drain(h: ReturnType<typeof pair>, s: TcpSocket, n: number): Uint8Array {
  const got = new Uint8Array(n);
  let have = 0;
  for (let r = 0; r < 200 && have < n; r++) {
    h.run(1);
    have += Math.max(0, s.recv(got, have));
  }
  return got.subarray(0, have);
}

/** Transfers `buf` away (detaches it); returns the error when it cannot be transferred. */
function transferAway(buf: ArrayBufferLike): unknown {
  try {
    structuredClone(buf, { transfer: [buf as ArrayBuffer] });
    return null;
  } catch (e) {
    return e;
  }
}

Deno.test("caller buffers: the memory a socket hands out cannot be detached, and the connection goes on", () => {
  const h = pair();
  const { client, server } = connected(h);
  const data = pattern(20_000);
  assert.equal(client.send(data), data.length);
  h.run(1); // some in flight, some still queued in txBytes
  // Transferred, the rings' memory would be gone: every poll threw from the transmit path before.
  for (
    const [what, bytes] of [["client txBytes", client.txBytes], ["server rxBytes", server.rxBytes]] as const
  ) {
    assert.ok(transferAway(bytes.buffer) !== null, `${what}: the transfer is refused`);
    assert.ok(bytes.length > 0, `${what}: still its bytes`);
  }
  assert.deepEqual(drain(h, server, data.length), data, "everything arrives, in order");
  // The loopback link's frames too (Device.txBytes, the bytes onFrame gets).
  assert.ok(h.a.device.txBytes.length > 0);
  assert.ok(
    transferAway(h.a.device.txBytes.buffer) !== null,
    "LoopbackDevice.txBytes: the transfer is refused",
  );

  const u = h.b.bindUdp(7);
  const c = h.a.bindUdp(9000);
  assert.ok(c.sendTo(pattern(100), B_IP, 7));
  h.run(2);
  assert.equal(u.recvView(), 100);
  assert.ok(transferAway(u.rxBytes.buffer) !== null, "UdpSocket.rxBytes: the transfer is refused");
  assert.ok(c.sendTo(pattern(50, 3), B_IP, 7));
  h.run(2);
  const out = new Uint8Array(100);
  assert.equal(u.recvInto(out), 50);
  assert.deepEqual(out.subarray(0, 50), pattern(50, 3));
});

Deno.test("caller buffers: arrays over a resizable buffer are read and written at their length of the moment", () => {
  const h = pair();
  const { client, server } = connected(h);
  const rab = new ArrayBuffer(32, { maxByteLength: 4096 });
  const src = new Uint8Array(rab); // length-tracking: follows the buffer
  const sink = new Uint8Array(new ArrayBuffer(32, { maxByteLength: 4096 }));
  // 32 bytes (the words loop), then grown to 100 (past the view made at 32), 1000 (the C copy),
  // then shrunk to 16 (the old views lie out of bounds).
  let seed = 0;
  for (const n of [32, 100, 1000, 16, 40]) {
    rab.resize(n);
    src.set(pattern(n, ++seed));
    assert.equal(client.send(src), n, `send of ${n}`);
    (sink.buffer as ArrayBuffer).resize(n);
    let have = 0;
    for (let r = 0; r < 50 && have < n; r++) {
      h.run(1);
      have += Math.max(0, server.recv(sink, have));
    }
    assert.equal(have, n, `recv of ${n}`);
    assert.deepEqual(sink, pattern(n, seed), `the ${n} bytes`);
  }

  const u = h.b.bindUdp(7);
  const c = h.a.bindUdp(9000);
  const out = new Uint8Array(new ArrayBuffer(16, { maxByteLength: 2048 }));
  for (const n of [16, 200, 24]) {
    rab.resize(n);
    src.set(pattern(n, ++seed));
    assert.ok(c.sendTo(src, B_IP, 7), `UDP send of ${n}`);
    h.run(2);
    (out.buffer as ArrayBuffer).resize(n);
    assert.equal(u.recvInto(out), n, `UDP receive of ${n}`);
    assert.deepEqual(out, pattern(n, seed), `the ${n} UDP bytes`);
  }
});

Deno.test("caller buffers: an array detached after a send is refused on the next send, not sent empty", () => {
  const h = pair();
  const c = h.a.bindUdp(9000);
  const u = h.b.bindUdp(7);
  const data = pattern(64);
  assert.ok(c.sendTo(data, B_IP, 7));
  assert.equal(transferAway(data.buffer), null);
  const e = (() => {
    try {
      c.sendTo(data, B_IP, 7);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(e instanceof InterfaceError && e.kind === "InvalidArgument", String(e));
  assert.match(String(e), /detached/);
  h.run(2);
  assert.equal(u.recvView(), 64, "the first datagram");
  assert.equal(u.recvView(), -1, "and no empty one after it");
});

Deno.test("caller buffers: recv into the socket's own ring gets the bytes that were sent", () => {
  const h = pair();
  const { client, server } = connected(h);
  // Lengths on both sides of the words loop and of the C copy; the destination a few bytes past
  // the data in the same storage, where a forward copy reads bytes it already overwrote.
  let seed = 0;
  for (const [n, shift] of [[10, 1], [40, 1], [40, 3], [600, 1]]) {
    const data = pattern(n, ++seed);
    assert.equal(client.send(data), n);
    h.run(4);
    assert.equal(server.recvQueue, n);
    const at = server.rxOffset + shift;
    assert.ok(at + n <= server.rxBytes.length, "room in the storage for the test");
    assert.equal(server.recv(server.rxBytes, at, n), n);
    assert.deepEqual(server.rxBytes.subarray(at, at + n), data, `${n} bytes, ${shift} on`);
  }
});
