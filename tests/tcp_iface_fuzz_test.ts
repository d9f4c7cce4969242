/**
 * Hostile TCP at the interface: segments of a real connection, mutated field by field (flags,
 * sequence and acknowledgement numbers, window, options, ports) with their checksums fixed so
 * they reach the connection table and the listener, are thrown at an interface with a listener
 * and live connections. Poll never throws, the connection table stays within its bound, and the
 * live connection still carries data byte-exact afterwards.
 */
import assert from "node:assert/strict";
import {
  Interface,
  IPPROTO_TCP,
  l4Checksum,
  LoopbackDevice,
  parseIpv4Address,
  type TcpSocket,
} from "../mod.ts";
import { rng } from "./_tcp_harness.ts";

const A_IP = parseIpv4Address("198.18.8.1");
const B_IP = parseIpv4Address("198.18.8.2");

Deno.test("TCP at the interface: 20 000 mutated segments never make poll throw; the table stays bounded", () => {
  const [da, db] = LoopbackDevice.pair(1500, 8192);
  const captured: Uint8Array[] = [];
  // a's frames to b pass through here: kept as the fuzz's seeds.
  const tap = {
    mtu: db.mtu,
    get txBytes() {
      return db.txBytes;
    },
    receive: (f: (b: Uint8Array, s: number, l: number) => void) =>
      db.receive((b, s, l) => {
        if (l > 34 && b[s + 23] === IPPROTO_TCP && captured.length < 200) captured.push(b.slice(s, s + l));
        f(b, s, l);
      }),
    txSlot: (n: number) => db.txSlot(n),
    flush: () => db.flush(),
  };
  const a = new Interface(da, {
    mac: Uint8Array.of(2, 0, 0, 0, 8, 1),
    addresses: [{ ip: A_IP, prefix: 24 }],
  });
  const b = new Interface(tap, {
    mac: Uint8Array.of(2, 0, 0, 0, 8, 2),
    addresses: [{ ip: B_IP, prefix: 24 }],
    tcpMaxConnections: 64,
  });
  let now = 0;
  const run = (n = 4) => {
    for (let i = 0; i < n; i++) {
      a.poll(now);
      b.poll(now);
      now += 1;
    }
  };
  using listener = b.listenTcp(80, { backlog: 8 });
  const client = a.connectTcp(B_IP, 80);
  run(10);
  const server = listener.accept()!;
  const data = Uint8Array.from({ length: 30_000 }, (_, i) => i % 251);
  const echo = (from: TcpSocket, to: TcpSocket) => {
    const got = new Uint8Array(data.length);
    let sent = 0;
    let n = 0;
    for (let guard = 0; n < data.length && guard < 20_000; guard++) {
      if (sent < data.length) sent += from.send(data, sent);
      run(1);
      for (let k = to.recv(got, n); k > 0; k = to.recv(got, n)) n += k;
    }
    assert.equal(n, data.length);
    assert.deepEqual(got, data);
  };
  echo(client, server);
  assert.ok(captured.length > 10, `${captured.length} seeds`);

  const random = rng(7);
  const pick = (n: number) => Math.floor(random() * n);
  for (let i = 0; i < 20_000; i++) {
    const f = captured[pick(captured.length)].slice();
    const tcp = 34;
    const hl = (f[tcp + 12] >>> 4) * 4;
    for (let m = 1 + pick(3); m > 0; m--) {
      const at = tcp + [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19][pick(18)];
      if (random() < 0.15 && hl > 20) f[tcp + 20 + pick(hl - 20)] = pick(256); // an option byte
      else f[at] = random() < 0.3 ? f[at] ^ (1 << pick(8)) : pick(256);
    }
    f[tcp + 16] = 0;
    f[tcp + 17] = 0;
    const sum = l4Checksum(f, tcp, f.length, A_IP, B_IP, IPPROTO_TCP);
    f[tcp + 16] = sum >>> 8;
    f[tcp + 17] = sum & 0xff;
    const at = da.txSlot(f.length);
    da.txBytes.set(f, at);
    da.flush();
    b.poll(now); // must not throw
    if (i % 64 === 0) {
      now += 1;
      a.poll(now);
    }
    assert.ok(b.tableSizes.tcpConnections <= 64);
  }
  const s = b.stats;
  assert.ok(s.tcpSegmentsIn > 10_000, `${s.tcpSegmentsIn} segments reached TCP`);
  assert.ok(s.tcpResetsSent > 0 && s.tcpNoConnection > 0);
  // Accept whatever the fuzz opened, then: the real connection may have been reset by a mutated
  // RST in its window (RFC 5961 makes that unlikely, not impossible); a fresh one works.
  while (listener.accept() !== null) { /* drain */ }
  run(2000); // timers: half-open connections time out or are reset
  const c2 = a.connectTcp(B_IP, 80);
  run(10);
  const s2 = listener.accept();
  assert.ok(s2 !== null, "the listener still accepts");
  echo(c2, s2);
});
