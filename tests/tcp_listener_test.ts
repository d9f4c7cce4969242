/**
 * The listener's SYN and accept queues (bounds, overflow counters, recycling), its pool (released
 * accepted sockets reused), TIME-WAIT reuse by a new SYN (RFC 6191) and the 4-tuple table
 * (against a Map model, with deletions in any order).
 */
import assert from "node:assert/strict";
import { IsnGenerator, SocketError, TcpListener, TcpSocket, TcpTable } from "../src/net/socket/mod.ts";
import {
  emitTcp,
  IPPROTO_TCP,
  parseTcp,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TcpHeader,
  tcpHeaderLength,
} from "../src/net/wire/mod.ts";
import { LOCAL_IP, RecordingEgress, rng } from "./_tcp_harness.ts";
import { ipFrame } from "./_fixtures.ts";
import { PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const isn = new IsnGenerator(new Uint8Array(16).fill(9));

function syn(port: number, seq = 1000): TcpHeader {
  const h = new TcpHeader();
  h.srcPort = port;
  h.dstPort = 80;
  h.seq = seq;
  h.flags = TCP_SYN;
  h.window = 65535;
  h.mss = 1460;
  return h;
}

/** Completes the handshake of `s` (a SYN-RECEIVED socket from `syn(port)`). */
function complete(s: TcpSocket, eg: RecordingEgress, now: number): void {
  s.dispatch(now, eg);
  const sa = eg.take().pop()!;
  const h = new TcpHeader();
  h.srcPort = sa.dstPort;
  h.dstPort = 80;
  h.seq = 1001;
  h.ack = (sa.seq + 1) >>> 0;
  h.flags = TCP_ACK;
  h.window = 65535;
  s.process(now, sa.dst, sa.src, h, new Uint8Array(0), 0, 0);
}

Deno.test("listener: SYN queue and accept queue are bounded and their overflows counted", () => {
  using l = new TcpListener(LOCAL_IP, 80, { backlog: 2, synBacklog: 3, socket: { isn } });
  const eg = new RecordingEgress();
  const socks: TcpSocket[] = [];
  for (let p = 1; p <= 4; p++) {
    const s = l.onSyn(0, 0x0a000100 + p, LOCAL_IP, syn(40000 + p));
    if (p <= 3) socks.push(s!);
    else assert.equal(s, null, "the fourth SYN finds the SYN queue full");
  }
  assert.deepEqual([l.pending, l.stats.synQueueOverflow, l.stats.synsAccepted], [3, 1, 3]);
  for (const s of socks) assert.equal(s.state, "SynReceived");
  for (const s of socks) complete(s, eg, 1);
  assert.equal(l.accept()?.remotePort, 40001, "first come, first accepted");
  assert.equal(l.ready, 1, "the third waits in the SYN queue: the accept queue holds 2");
  assert.equal(l.pending, 1);
  assert.equal(l.accept()?.remotePort, 40002);
  assert.equal(l.accept()?.remotePort, 40003);
  assert.equal(l.accept(), null);
  // Fill the accept queue: the next SYN overflows it.
  for (let p = 5; p <= 6; p++) complete(l.onSyn(2, 0x0a000100 + p, LOCAL_IP, syn(40000 + p))!, eg, 2);
  assert.equal(l.onSyn(3, 0x0a000107, LOCAL_IP, syn(40007)), null);
  assert.equal(l.stats.acceptQueueOverflow, 1);
  assert.equal(l.ready, 2);
});

Deno.test("listener: non-SYNs and other addresses are not taken; failed handshakes are recycled", () => {
  using l = new TcpListener(LOCAL_IP, 80, { backlog: 4, socket: { isn } });
  const h = syn(40001);
  h.flags = TCP_SYN | TCP_ACK;
  assert.equal(l.onSyn(0, 1, LOCAL_IP, h), null);
  h.flags = TCP_RST;
  assert.equal(l.onSyn(0, 1, LOCAL_IP, h), null);
  assert.equal(l.onSyn(0, 1, LOCAL_IP + 1, syn(40001)), null, "another local address");
  const s = l.onSyn(0, 0x0a000101, LOCAL_IP, syn(40001))!;
  const rst = new TcpHeader();
  Object.assign(rst, { srcPort: 40001, dstPort: 80, seq: 1001, flags: TCP_RST });
  s.process(1, 0x0a000101, LOCAL_IP, rst, new Uint8Array(0), 0, 0);
  assert.equal(l.accept(), null);
  assert.equal(l.stats.handshakesFailed, 1);
  const failed: TcpSocket[] = [];
  const storage = s.rxBytes;
  assert.equal(l.takeFailed(failed), 1);
  assert.equal(failed[0], s);
  assert.throws(() => s.recv(new Uint8Array(1)), (e) => e instanceof SocketError && e.kind === "Disposed");
  const again = l.onSyn(2, 0x0a000102, LOCAL_IP, syn(40002))!;
  assert.notEqual(again, s, "a fresh socket object …");
  assert.equal(again.rxBytes, storage, "… over the pool's storage");
  assert.notEqual(s.rxBytes, storage, "the old object shows none of it");
  assert.equal(again.remotePort, 40002);
  assert.throws(() => l.release(again), (e) => e instanceof SocketError && e.kind === "InvalidState");
  assert.throws(() => new TcpListener(0, 0), (e) => e instanceof SocketError && e.kind === "InvalidArgument");
  assert.throws(() => new TcpListener(0, 80, { backlog: 0 }), SocketError);
});

Deno.test("listener: release() refuses a socket accept did not hand out (SYN queue, accept queue)", () => {
  using l = new TcpListener(LOCAL_IP, 80, { backlog: 4, socket: { isn } });
  const eg = new RecordingEgress();
  const s = l.onSyn(0, 0x0a000101, LOCAL_IP, syn(40001))!;
  s.abort(); // the caller may abort a handshake; the listener recycles it, not the program
  assert.throws(() => l.release(s), (e) => e instanceof SocketError && e.kind === "InvalidState");
  const done = l.onSyn(0, 0x0a000102, LOCAL_IP, syn(40002))!;
  assert.notEqual(done, s, "the aborted one waits for takeFailed");
  complete(done, eg, 1);
  assert.equal(l.takeFailed([]), 1);
  assert.equal(l.pooled, 1, "the aborted one, pooled once");
  assert.equal(l.ready, 1);
  done.abort();
  assert.throws(() => l.release(done), (e) => e instanceof SocketError && e.kind === "InvalidState");
  assert.equal(l.pooled, 1, "aborted in the accept queue: not pooled by release");
  // The pool serves one handshake at a time: two SYNs get two sockets, both in the handshake.
  const a = l.onSyn(2, 0x0a000103, LOCAL_IP, syn(40003))!;
  const b = l.onSyn(2, 0x0a000104, LOCAL_IP, syn(40004))!;
  assert.notEqual(a, b);
  assert.deepEqual([a.state, a.remotePort, b.state, b.remotePort], [
    "SynReceived",
    40003,
    "SynReceived",
    40004,
  ]);
  // Once accepted (and closed), it may be released.
  assert.equal(l.accept(), done);
  l.release(done);
  assert.equal(l.pooled, 1);
});

Deno.test("listener: options and each call's arguments are checked, typed, before anything changes", () => {
  const invalid = (f: () => unknown, what: string) =>
    assert.throws(f, (e) => e instanceof SocketError && e.kind === "InvalidArgument", what);
  for (const options of [null, [], 5, "x", new Map()]) {
    invalid(() => new TcpListener(LOCAL_IP, 80, options as unknown as object), `options ${String(options)}`);
  }
  invalid(() => new TcpListener(LOCAL_IP, 80, { backlg: 5 } as unknown as object), "an unknown field");
  assert.match(
    (() => {
      try {
        new TcpListener(LOCAL_IP, 80, { backlg: 5 } as unknown as object);
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })(),
    /no field "backlg"; the fields are backlog, synBacklog, socket, synCookies/,
  );
  invalid(() => new TcpListener(LOCAL_IP, 80, { socket: null as unknown as object }), "socket null");
  invalid(() => new TcpListener(LOCAL_IP, 80, { synCookies: Symbol() as unknown as boolean }), "a symbol");
  invalid(() => new TcpListener(LOCAL_IP, 80, { backlog: 1n as unknown as number }), "a BigInt backlog");
  using l = new TcpListener(LOCAL_IP, 80, { synBacklog: 1, socket: { isn } });
  const bad: unknown[] = [1n, NaN, "5", -1, Infinity, undefined];
  for (const now of bad) {
    invalid(() => l.onSyn(now as number, 0x0a000101, LOCAL_IP, syn(40001)), `onSyn now ${now}`);
  }
  for (const ip of ["x", 2 ** 32, -1, 1.5, 1n]) {
    invalid(() => l.onSyn(0, ip as number, LOCAL_IP, syn(40001)), `onSyn src ${ip}`);
    invalid(() => l.onSyn(0, 0x0a000101, ip as number, syn(40001)), `onSyn dst ${ip}`);
  }
  assert.deepEqual([l.pending, l.pooled, l.stats.synsAccepted], [0, 0, 0], "nothing taken, nothing lost");
  assert.ok(l.onSyn(0, 0x0a000101, LOCAL_IP, syn(40001)) !== null); // the SYN queue (1) is full
  const out = new TcpHeader();
  for (const now of bad) {
    invalid(
      () => l.synCookie(now as number, 0x0a000102, LOCAL_IP, syn(40002), 1500, out),
      `synCookie now ${now}`,
    );
  }
  for (const mtu of [NaN, "1500", -5, 40, 1.5, 65536, 1500n]) {
    invalid(() => l.synCookie(0, 0x0a000102, LOCAL_IP, syn(40002), mtu as number, out), `mtu ${String(mtu)}`);
  }
  invalid(() => l.synCookie(0, "x" as unknown as number, LOCAL_IP, syn(40002), 1500, out), "synCookie src");
  assert.equal(l.stats.cookiesSent, 0);
  assert.equal(l.synCookie(0, 0x0a000102, LOCAL_IP, syn(40002), 1500, out), true);
  assert.equal(out.mss, 1460);
  invalid(() => l.cookiesPending(1n as unknown as number), "cookiesPending now");
  assert.equal(l.cookiesPending(1), true);
  l[Symbol.dispose]();
  assert.equal(l.cookiesPending(1), false, "a disposed listener takes no cookie");
});

Deno.test("listener: dispose aborts pending connections; use after dispose is a typed error", () => {
  const l = new TcpListener(0, 80, { socket: { isn } });
  const s = l.onSyn(0, 0x0a000101, LOCAL_IP, syn(40001))!;
  assert.equal(l.disposed, false);
  l[Symbol.dispose]();
  l[Symbol.dispose]();
  assert.equal(l.disposed, true);
  assert.equal(s.state, "Closed");
  assert.throws(() => l.accept(), (e) => e instanceof SocketError && e.kind === "Disposed");
});

Deno.test("TcpTable: O(1) 4-tuple lookup agrees with a Map through random inserts and deletes", () => {
  const rand = rng(77);
  const t = new TcpTable<number>(500, 12345);
  const model = new Map<string, number>();
  const key = (a: number, b: number, c: number, d: number) => `${a}/${b}/${c}/${d}`;
  const tuples: [number, number, number, number][] = [];
  for (let i = 0; i < 700; i++) {
    // Few distinct values per field: many collisions in the hash and in each field.
    tuples.push([
      0x0a000001 + (i % 3),
      80 + (i % 2),
      0xc0a80000 + Math.floor(rand() * 50),
      1024 + Math.floor(rand() * 40),
    ]);
  }
  for (let n = 0; n < 20000; n++) {
    const [a, b, c, d] = tuples[Math.floor(rand() * tuples.length)];
    const k = key(a, b, c, d);
    if (rand() < 0.55) {
      const ok = t.set(a, b, c, d, n);
      if (model.has(k) || model.size < 500) {
        assert.ok(ok);
        model.set(k, n);
      } else assert.equal(ok, false, "full");
    } else {
      assert.equal(t.delete(a, b, c, d), model.delete(k));
    }
    assert.equal(t.size, model.size);
    const [a2, b2, c2, d2] = tuples[Math.floor(rand() * tuples.length)];
    assert.equal(t.get(a2, b2, c2, d2), model.get(key(a2, b2, c2, d2)), `step ${n}`);
  }
  let seen = 0;
  t.forEach(() => seen++);
  assert.equal(seen, model.size);
  assert.throws(() => new TcpTable(0), SocketError);
  assert.throws(
    () => t.set(-1, 80, 1, 2, 0),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument",
  );
  assert.throws(
    () => t.set(1, 70000, 1, 2, 0),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument",
  );
});

Deno.test("TcpTable: mean probes per lookup stay a small constant from 10 to 100 000 entries (a scan would not)", async (t) => {
  const MAX_MEAN = 4; // linear probing at load ≤ ½ expects ~1.5 (hit) and ~2.5 (miss)
  type Tuple = [number, number, number, number];
  const patterns: Record<string, (rand: () => number, i: number) => Tuple> = {
    "random 4-tuples": (rand) => [
      Math.floor(rand() * 2 ** 32),
      Math.floor(rand() * 65536),
      Math.floor(rand() * 2 ** 32),
      Math.floor(rand() * 65536),
    ],
    // What a load generator sends one server: one local address and port, few peers, consecutive ports.
    "one server port, consecutive peer ports": (
      _,
      i,
    ) => [0x0a000001, 80, 0xc0a80001 + (i >>> 14), 1024 + (i & 0x3fff)],
  };
  for (const [name, make] of Object.entries(patterns)) {
    for (const n of [10, 1000, 100_000]) {
      await t.step(`${name}, ${n} entries`, () => {
        const rand = rng(n + name.length);
        const table = new TcpTable<number>(n, 0x9e3779b9);
        const seen = new Set<string>();
        const present: Tuple[] = [];
        for (let i = 0; present.length < n; i++) {
          const k = make(rand, i);
          if (seen.has(k.join("/"))) continue;
          seen.add(k.join("/"));
          present.push(k);
        }
        const absent: Tuple[] = [];
        for (let i = n; absent.length < n; i++) {
          const k = make(rand, i);
          if (!seen.has(k.join("/"))) absent.push(k);
        }
        const mean = (what: string, keys: Tuple[], op: (k: Tuple, i: number) => void) => {
          const before = table.probes;
          keys.forEach(op);
          const m = (table.probes - before) / keys.length;
          assert.ok(m >= 1, `${what}: at least one slot per call (${m})`);
          assert.ok(
            m <= MAX_MEAN,
            `${what}: mean ${m.toFixed(2)} probes per call > ${MAX_MEAN} at ${n} entries`,
          );
        };
        mean("set", present, (k, i) => assert.ok(table.set(...k, i)));
        assert.equal(table.size, n);
        mean("get (present)", present, (k, i) => assert.equal(table.get(...k), i));
        mean("get (absent)", absent, (k) => assert.equal(table.get(...k), undefined));
        const half = present.filter((_, i) => i % 2 === 0);
        mean("delete", half, (k) => assert.ok(table.delete(...k)));
        // Backward-shift deletion leaves no tombstones: misses stay short after churn.
        mean("get (deleted)", half, (k) => assert.equal(table.get(...k), undefined));
        mean(
          "get (kept)",
          present.filter((_, i) => i % 2 === 1),
          (k) => assert.notEqual(table.get(...k), undefined),
        );
      });
    }
  }
});

/** The test as a TCP peer on the wire of a `wireHost`: sends segments, reads what comes back. */
function wirePeer(w: ReturnType<typeof wireHost>, port: number) {
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };
  const peer = {
    /** The frame of one segment from PEER:port to US:80 (`payload` bytes "A", "B", …). */
    frame(flags: number, seq: number, ack = 0, payload = 0, ts?: [number, number]): Uint8Array {
      const h = new TcpHeader();
      Object.assign(h, { srcPort: port, dstPort: 80, seq: seq >>> 0, ack: ack >>> 0, flags, window: 65535 });
      if (flags & TCP_SYN) h.mss = 1460;
      if (ts) Object.assign(h, { hasTimestamps: true, tsVal: ts[0], tsEcr: ts[1] });
      const b = new Uint8Array(tcpHeaderLength(h) + payload);
      for (let i = 0; i < payload; i++) b[tcpHeaderLength(h) + i] = 0x41 + i % 26;
      emitTcp(b, 0, b.length, PEER, US, h, payload);
      return ipFrame(spec, b);
    },
    /** Sends one segment from PEER:port to US:80; returns the segments answered at once. */
    send(flags: number, seq: number, ack = 0, payload = 0, ts?: [number, number]): TcpHeader[] {
      w.inject(peer.frame(flags, seq, ack, payload, ts));
      w.iface.poll(w.now);
      return answers(w);
    },
  };
  return peer;
}

/** The segments a `wireHost` sent since the last call. */
function answers(w: ReturnType<typeof wireHost>): TcpHeader[] {
  return w.sent().map((f) => {
    const r = new TcpHeader();
    parseTcp(f, 34, f.length, US, PEER, r);
    return r;
  });
}

Deno.test("listener: a released socket is disposed once its storage is pooled: a stale reference never reaches the next connection", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80, { socket: { timestamps: false } });
  const p1 = wirePeer(w, 41000);
  let [sa] = p1.send(TCP_SYN, 1000);
  p1.send(TCP_ACK, 1001, sa.seq + 1);
  const a = l.accept()!;
  p1.send(TCP_RST, 1001);
  l.release(a);
  const disposed = (f: () => unknown, what: string) =>
    assert.throws(f, (e) => e instanceof SocketError && e.kind === "Disposed", what);
  disposed(() => a.recv(new Uint8Array(4)), "recv at once: its storage is in the pool");
  const p2 = wirePeer(w, 41001);
  [sa] = p2.send(TCP_SYN, 5000);
  p2.send(TCP_ACK, 5001, sa.seq + 1, 8);
  const b = l.accept()!;
  assert.equal(l.stats.socketsReused, 1);
  assert.notEqual(b, a);
  // The stale reference: every use throws, its getters show its own (closed) connection.
  const buf = new Uint8Array(16);
  disposed(() => a.recv(buf), "recv");
  disposed(() => a.recvView(), "recvView");
  disposed(() => a.send(new Uint8Array(4)), "send");
  disposed(() => a.sendView(), "sendView");
  disposed(() => a.close(), "close");
  disposed(() => a.abort(), "abort");
  disposed(() => a.listen(0, 80), "listen");
  assert.deepEqual([a.state, a.remotePort, a.recvQueue, a.sendCapacity], ["Closed", 41000, 0, 1]);
  l.release(a); // a second release: nothing (b untouched)
  assert.equal(b.state, "Established");
  assert.equal(new TextDecoder().decode(buf.subarray(0, b.recv(buf))), "ABCDEFGH", "b's data is b's");
  assert.equal(b.send(new Uint8Array(4)), 4);
  w.iface.poll(w.now);
  assert.equal(answers(w).length, 1);
  b.abort();
  w.iface.poll(w.now);
});

Deno.test("TcpSocket over pooled storage: takes a closed socket's rings, emptied; refuses what does not fit", () => {
  const old = new TcpSocket({ rxBufferSize: 4096, txBufferSize: 2048 });
  const rx = old.rxBytes;
  const eg = new RecordingEgress();
  old.connect(LOCAL_IP, 1234, 0x0a000101, 80, 0);
  assert.equal(old.send(new Uint8Array(100)), 100);
  const typed = (f: () => unknown, kind: string, what: string) =>
    assert.throws(f, (e) => e instanceof SocketError && e.kind === kind, what);
  typed(
    () => new TcpSocket({ rxBufferSize: 4096, txBufferSize: 2048 }, old),
    "InvalidState",
    "an open socket",
  );
  old.abort();
  old.dispatch(1, eg);
  typed(() => new TcpSocket({ rxBufferSize: 4096 }, old), "InvalidArgument", "other ring sizes");
  typed(() => new TcpSocket({}, {} as TcpSocket), "InvalidArgument", "not a socket");
  const s = new TcpSocket({ rxBufferSize: 4096, txBufferSize: 2048 }, old);
  assert.equal(s.rxBytes, rx);
  assert.deepEqual([s.state, s.sendQueue, s.recvQueue, s.sendCapacity], ["Closed", 0, 0, 2048]);
  typed(() => old.send(new Uint8Array(1)), "Disposed", "the old object");
  typed(() => new TcpSocket({ rxBufferSize: 4096, txBufferSize: 2048 }, old), "InvalidState", "taken twice");
  s.connect(LOCAL_IP, 1235, 0x0a000101, 80, 2);
  s.dispatch(2, eg);
  assert.equal(eg.take().length, 1, "the new socket works");
});

Deno.test("listener: in one poll, a failed handshake then a SYN that reuses TIME-WAIT: each 4-tuple keeps its own entry", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80, { socket: { timestamps: false } });
  const t = wirePeer(w, 40000);
  const x = wirePeer(w, 40010);
  const [sa] = t.send(TCP_SYN, 1000);
  t.send(TCP_ACK, 1001, sa.seq + 1);
  const s = l.accept()!;
  s.close();
  w.iface.poll(w.now);
  const [fin] = answers(w);
  t.send(TCP_ACK | TCP_FIN, 1001, fin.seq + 1);
  assert.equal(s.state, "TimeWait");
  assert.equal(x.send(TCP_SYN, 1000)[0].flags, TCP_SYN | TCP_ACK, "X in the handshake");
  assert.equal(w.iface.tableSizes.tcpConnections, 2);
  // One batch: X's RST (its handshake fails, back to Listen), then T's new SYN (TIME-WAIT reuse).
  // Checking the listener for the reuse must not hand X's socket on before X's entry is gone.
  w.inject(x.frame(TCP_RST, 1001), t.frame(TCP_SYN, 500_000));
  const r = answers(w);
  assert.deepEqual(r.map((h) => [h.dstPort, h.flags]), [[40000, TCP_SYN | TCP_ACK]]);
  assert.equal(l.stats.timeWaitReused, 1);
  assert.equal(w.iface.tableSizes.tcpConnections, 1, "T's new handshake only; X's entry is gone");
  t.send(TCP_ACK, 500_001, r[0].seq + 1, 3);
  const s2 = l.accept()!;
  assert.equal(s2.remotePort, 40000);
  // X connects again: answered, and its segments are not fed to T's new connection.
  assert.deepEqual(x.send(TCP_SYN, 7000).map((h) => [h.dstPort, h.flags]), [[40010, TCP_SYN | TCP_ACK]]);
  assert.equal(s2.stats.dropIgnored, 0);
  assert.equal(w.iface.tableSizes.tcpConnections, 2);
});

Deno.test("listener: a SYN to a connection in TIME-WAIT with a higher sequence number opens a new one (RFC 6191)", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80, { socket: { timestamps: false } });
  const peer = wirePeer(w, 40000);
  const [sa] = peer.send(TCP_SYN, 1000);
  assert.equal(sa.flags, TCP_SYN | TCP_ACK);
  peer.send(TCP_ACK, 1001, sa.seq + 1, 5);
  const s = l.accept()!;
  assert.equal(s.recv(new Uint8Array(10)), 5);
  // We close first: FIN, the peer's ACK and FIN, our ACK: TIME-WAIT (60 s by default).
  s.close();
  w.iface.poll(w.now);
  const [fin] = w.sent().map((f) => {
    const r = new TcpHeader();
    parseTcp(f, 34, f.length, US, PEER, r);
    return r;
  });
  assert.ok(fin.flags & TCP_FIN);
  peer.send(TCP_ACK | TCP_FIN, 1006, fin.seq + 1);
  assert.equal(s.state, "TimeWait");
  const tw = w.iface.tableSizes.tcpConnections;
  // An old SYN (at or below RCV.NXT = 1007) still gets the challenge ACK and leaves TIME-WAIT be.
  let r = peer.send(TCP_SYN, 1005);
  assert.equal(r.length, 1);
  assert.equal(r[0].flags, TCP_ACK);
  assert.equal(r[0].ack, 1007);
  assert.equal(s.state, "TimeWait");
  assert.equal(l.stats.timeWaitReused, 0);
  // The peer reconnects from the same port at once, with a higher sequence number.
  r = peer.send(TCP_SYN, 500_000);
  assert.equal(r.length, 1);
  assert.equal(r[0].flags, TCP_SYN | TCP_ACK, "a new handshake, not a challenge ACK");
  assert.equal(r[0].ack, 500_001);
  assert.equal(s.state, "Closed", "TIME-WAIT ended");
  assert.equal(l.stats.timeWaitReused, 1);
  peer.send(TCP_ACK, 500_001, r[0].seq + 1, 3);
  const s2 = l.accept()!;
  assert.notEqual(s2, null);
  assert.equal(s2.state, "Established");
  assert.equal(s2.remotePort, 40000);
  assert.equal(s2.recv(new Uint8Array(10)), 3);
  w.iface.poll(w.now);
  w.sent();
  assert.equal(w.iface.tableSizes.tcpConnections, tw, "the new connection took the old one's place");
  s2.send(new Uint8Array(4));
  w.iface.poll(w.now);
  assert.equal(w.sent().length, 1, "the new connection sends");
  // The old entry, dropped at that dispatch, must not take the 4-tuple's table entry with it.
  assert.deepEqual(peer.send(TCP_ACK, 500_004, r[0].seq + 5, 2), []);
  assert.equal(s2.recv(new Uint8Array(10)), 2, "segments still reach the new connection");
  assert.equal(s2.sendQueue, 0);
});

Deno.test("listener: with timestamps, a SYN with a newer TSval reuses TIME-WAIT even at a lower sequence number; an older one does not", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80);
  const peer = wirePeer(w, 40001);
  const [sa] = peer.send(TCP_SYN, 1000, 0, 0, [100, 0]);
  assert.ok(sa.hasTimestamps);
  peer.send(TCP_ACK, 1001, sa.seq + 1, 0, [101, sa.tsVal]);
  const s = l.accept()!;
  s.close();
  w.iface.poll(w.now);
  w.sent();
  peer.send(TCP_ACK | TCP_FIN, 1001, sa.seq + 2, 0, [102, sa.tsVal]);
  assert.equal(s.state, "TimeWait");
  let r = peer.send(TCP_SYN, 5000, 0, 0, [90, 0]); // higher sequence number, older timestamp (PAWS)
  assert.equal(r.length, 1);
  assert.equal(r[0].flags, TCP_ACK);
  assert.equal(s.state, "TimeWait");
  r = peer.send(TCP_SYN, 10, 0, 0, [200, 0]); // lower sequence number, newer timestamp
  assert.equal(r[0].flags, TCP_SYN | TCP_ACK);
  assert.equal(s.state, "Closed");
  assert.equal(l.stats.timeWaitReused, 1);
});

Deno.test("listener: a released accepted socket goes back to the pool once closed and out of the table", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80, { backlog: 2, socket: { timeWait: 1000 } });
  const connect = (port: number): TcpSocket => {
    const peer = wirePeer(w, port);
    const [sa] = peer.send(TCP_SYN, 1000);
    peer.send(TCP_ACK, 1001, sa.seq + 1);
    return l.accept()!;
  };
  const a = connect(41000);
  const storage = [a.rxBytes, a.txBytes];
  // Released while still open: refused. Once closed by an RST it is out of the table; released, reused.
  assert.throws(() => l.release(a), (e) => e instanceof SocketError && e.kind === "InvalidState");
  assert.throws(
    () => l.release(new TcpListener(0, 81).accept() ?? ({} as TcpSocket)),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument",
  );
  wirePeer(w, 41000).send(TCP_RST, 1001);
  assert.equal(a.state, "Closed");
  assert.equal(l.pooled, 0);
  w.iface.poll(w.now); // the dispatch drops its 4-tuple
  l.release(a);
  l.release(a); // twice: nothing more
  assert.equal(l.pooled, 1);
  assert.equal(l.stats.socketsReused, 1);
  const b = connect(41001);
  assert.notEqual(b, a, "a fresh socket object …");
  assert.ok(b.rxBytes === storage[0] && b.txBytes === storage[1], "… over the same storage");
  assert.equal(b.remotePort, 41001);
  assert.equal(b.state, "Established");
  // Released before the interface dropped it: reused only once it has.
  b.abort();
  l.release(b);
  assert.equal(l.pooled, 0, "still in the table");
  w.iface.poll(w.now);
  w.sent();
  assert.equal(l.pooled, 1);
  // Released in TIME-WAIT (1 s here): reused when TIME-WAIT ends.
  const c = connect(41002);
  assert.equal(c.rxBytes, storage[0]);
  c.close();
  w.iface.poll(w.now);
  const fin = new TcpHeader();
  const f = w.sent()[0];
  parseTcp(f, 34, f.length, US, PEER, fin);
  wirePeer(w, 41002).send(TCP_ACK | TCP_FIN, 1001, fin.seq + 1);
  assert.equal(c.state, "TimeWait");
  l.release(c);
  assert.equal(l.pooled, 0);
  w.now += 1000;
  w.iface.poll(w.now);
  assert.equal(c.state, "Closed");
  assert.equal(l.pooled, 1);
  assert.equal(l.stats.socketsReused, 3);
  // Without release (the program still holds it), a closed socket is never reused.
  const d = connect(41003);
  d.abort();
  w.iface.poll(w.now);
  w.sent();
  assert.equal(l.pooled, 0);
  assert.notEqual(connect(41004), d);
});
