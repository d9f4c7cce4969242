/**
 * SYN cookies (RFC 4987): the cookie itself (encoding, validation by 4-tuple, sequence number and
 * time slot, the TSval's option bits), a listener whose SYN queue is full answering statelessly
 * and turning a cookie's ACK into an accepted, working connection, and an interface under many
 * SYNs whose tables and queues stay put.
 */
import assert from "node:assert/strict";
import { IPPROTO_TCP, parseTcp, TCP_ACK, TCP_RST, TCP_SYN, TcpHeader, tcpHeaderLength } from "../mod.ts";
import { emitTcp } from "../src/net/wire/mod.ts";
import { IsnGenerator, SocketError, TcpListener, type TcpSocket } from "../src/net/socket/mod.ts";
import {
  SYN_COOKIE_MSS,
  SYN_COOKIE_NO_TIMESTAMPS,
  SYN_COOKIE_SLOT_MS,
  SynCookies,
} from "../src/net/socket/syn_cookie.ts";
import { LOCAL_IP, RecordingEgress, REMOTE_IP, rng } from "./_tcp_harness.ts";
import { ipFrame } from "./_fixtures.ts";
import { PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const isn = new IsnGenerator(new Uint8Array(16).fill(3));

interface SegSpec {
  flags: number;
  seq: number;
  ack?: number;
  srcPort?: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  ts?: [number, number];
  payload?: string;
  window?: number;
}

/** A parsed segment from the peer (through the wire format): header, bytes, payload offset and length. */
function seg(spec: SegSpec, src = REMOTE_IP, dst = LOCAL_IP): [TcpHeader, Uint8Array, number, number] {
  const h = new TcpHeader();
  h.srcPort = spec.srcPort ?? 40000;
  h.dstPort = 80;
  h.seq = spec.seq >>> 0;
  h.ack = (spec.ack ?? 0) >>> 0;
  h.flags = spec.flags;
  h.window = spec.window ?? 65535;
  h.mss = spec.mss ?? -1;
  h.windowScale = spec.windowScale ?? -1;
  h.sackPermitted = spec.sackPermitted ?? false;
  if (spec.ts) {
    h.hasTimestamps = true;
    h.tsVal = spec.ts[0] >>> 0;
    h.tsEcr = spec.ts[1] >>> 0;
  }
  const p = new TextEncoder().encode(spec.payload ?? "");
  const b = new Uint8Array(tcpHeaderLength(h) + p.length);
  b.set(p, tcpHeaderLength(h));
  const end = emitTcp(b, 0, b.length, src, dst, h, p.length);
  const out = new TcpHeader();
  const at = parseTcp(b, 0, end, src, dst, out);
  return [out, b, at, end - at];
}

/** A listener whose SYN queue (1) is full: one handshake from port 39999 waits in it. */
function fullListener(options: { backlog?: number } = {}): TcpListener {
  const l = new TcpListener(LOCAL_IP, 80, { backlog: options.backlog ?? 4, synBacklog: 1, socket: { isn } });
  const [h] = seg({ flags: TCP_SYN, seq: 5, srcPort: 39999, mss: 1460 });
  assert.ok(l.onSyn(0, REMOTE_IP, LOCAL_IP, h) !== null);
  return l;
}

/** Sends `spec` (a SYN) to `l` at `now`: the cookie SYN-ACK it answers with. */
function cookieFor(l: TcpListener, now: number, spec: SegSpec, src = REMOTE_IP): TcpHeader {
  const [h] = seg(spec, src);
  assert.equal(l.onSyn(now, src, LOCAL_IP, h), null, "the SYN queue is full");
  const out = new TcpHeader();
  assert.ok(l.synCookie(now, src, LOCAL_IP, h, 1500, out), "answered with a cookie");
  return out;
}

Deno.test("SYN cookie round trip: SYN → SYN-ACK with a cookie ISN → ACK with data → accepted, data both ways", () => {
  using l = fullListener();
  const synSeq = 0xfffffff0; // the ACK's sequence number wraps
  const now = 1234.5;
  const sa = cookieFor(l, now, {
    flags: TCP_SYN,
    seq: synSeq,
    mss: 1400,
    windowScale: 7,
    sackPermitted: true,
    ts: [777, 0],
  });
  assert.equal(sa.flags, TCP_SYN | TCP_ACK);
  assert.equal(sa.ack, (synSeq + 1) >>> 0);
  assert.equal(sa.srcPort, 80);
  assert.equal(sa.dstPort, 40000);
  assert.equal(sa.mss, 1460, "our MSS from the MTU");
  assert.equal(sa.windowScale, 1, "our shift for a 64 KiB receive ring");
  assert.ok(sa.sackPermitted);
  assert.ok(sa.hasTimestamps);
  assert.equal(sa.tsEcr, 777);
  assert.equal(SynCookies.windowScale(sa.tsVal), 7, "the peer's shift rides in the TSval");
  assert.ok(SynCookies.sackPermitted(sa.tsVal));
  assert.deepEqual([l.pending, l.ready, l.stats.cookiesSent, l.stats.synQueueOverflow], [1, 0, 1, 1]);
  // The third segment carries data, as a client's request often does.
  const [ack, b, at, len] = seg({
    flags: TCP_ACK,
    seq: synSeq + 1,
    ack: sa.seq + 1,
    ts: [778, sa.tsVal],
    payload: "GET / HTTP/1.1\r\n\r\n",
    window: 1000,
  });
  const r = l.onAck(now + 3, REMOTE_IP, LOCAL_IP, ack, b, at, len);
  assert.ok(r !== null && r !== "drop", "a valid cookie makes a connection");
  assert.equal(l.stats.cookiesValidated, 1);
  assert.equal(l.ready, 1, "queued for accept");
  const s = l.accept()!;
  assert.equal(s, r);
  assert.equal(s.state, "Established");
  assert.deepEqual([s.remoteIp, s.remotePort, s.localIp, s.localPort], [REMOTE_IP, 40000, LOCAL_IP, 80]);
  assert.ok(s.timestamps && s.sack);
  assert.deepEqual(s.windowScales, [1, 7], "[ours, theirs]");
  const got = new Uint8Array(100);
  assert.equal(new TextDecoder().decode(got.subarray(0, s.recv(got))), "GET / HTTP/1.1\r\n\r\n");
  // Our data: sequence numbers go on from the cookie, segments fit the cookie's MSS (1300).
  const eg = new RecordingEgress();
  assert.equal(s.send(new Uint8Array(4000).fill(7)), 4000);
  s.dispatch(now + 4, eg);
  const out = eg.take();
  assert.equal(s.mss, 1300, "the MSS the cookie carried (1400 rounded down to the table)");
  assert.ok(out.length >= 3);
  assert.equal(out[0].seq, (sa.seq + 1) >>> 0);
  assert.equal(out[0].ack, (synSeq + 1 + len) >>> 0, "the request acknowledged");
  assert.ok(out[0].window > 32000 && out[0].window <= 32768, `window field ${out[0].window}: scaled by 1`);
  for (const g of out) {
    assert.ok(g.payload.length <= 1300 - 12, `${g.payload.length} bytes: MSS minus the timestamps`);
    assert.ok((g.ts![0] - sa.tsVal | 0) >= 0, "TSvals do not go back from the cookie's");
    assert.equal(g.ts![1], 778);
  }
  // The peer acknowledges all: the connection works on as any other.
  const total = out.reduce((n, g) => n + g.payload.length, 0);
  const [ack2] = seg({
    flags: TCP_ACK,
    seq: synSeq + 1 + len,
    ack: sa.seq + 1 + total,
    ts: [800, out[0].ts![0]],
  });
  s.process(now + 10, REMOTE_IP, LOCAL_IP, ack2, new Uint8Array(0), 0, 0);
  assert.equal(s.sendQueue, 4000 - total);
  assert.equal(s.stats.dropBadAck + s.stats.dropPaws + s.stats.dropOutOfWindow, 0);
});

Deno.test("SYN cookie validation rejects a wrong ACK or sequence number, another 4-tuple, an expired slot", () => {
  using l = fullListener();
  const now = SYN_COOKIE_SLOT_MS - 1; // the last ms of slot 0
  const sa = cookieFor(l, now, { flags: TCP_SYN, seq: 1000, mss: 1460 });
  const tryAck = (t: number, o: Partial<SegSpec> = {}, src = REMOTE_IP) => {
    const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 1001, ack: sa.seq + 1, ...o }, src);
    return l.onAck(t, src, LOCAL_IP, h, b, at, len);
  };
  assert.equal(tryAck(now, { ack: sa.seq + 2 }), null, "ACK number off by one");
  assert.equal(tryAck(now, { ack: sa.seq }), null);
  assert.equal(tryAck(now, { seq: 1002 }), null, "another sequence number");
  assert.equal(tryAck(now, { srcPort: 40001 }), null, "another port");
  assert.equal(tryAck(now, {}, REMOTE_IP + 1), null, "another address");
  assert.equal(tryAck(now, { flags: TCP_ACK | TCP_RST }), null, "not a bare ACK");
  assert.equal(tryAck(now + 1 + SYN_COOKIE_SLOT_MS, {}), null, "two slots on: expired");
  assert.equal(l.stats.cookiesRejected, 6, "the RST is not even checked");
  assert.equal(l.stats.cookiesValidated, 0);
  assert.equal(l.ready, 0);
  // The next slot still takes it (a cookie is good in its slot and the next).
  const ok = tryAck(now + 1);
  assert.ok(ok !== null && ok !== "drop");
  assert.equal(ok.state, "Established");
  assert.equal(l.stats.cookiesValidated, 1);
  // Long after the last cookie, ACKs are not checked at all (no cookie can be valid).
  const rejected = l.stats.cookiesRejected;
  assert.equal(tryAck(now + 10 * SYN_COOKIE_SLOT_MS), null);
  assert.equal(l.stats.cookiesRejected, rejected, "not counted: not checked");
  // 64 slots on, the ISN's 6 slot bits match again; with cookies going out then, it is checked.
  const wrap = now + 64 * SYN_COOKIE_SLOT_MS;
  cookieFor(l, wrap, { flags: TCP_SYN, seq: 9, srcPort: 9 });
  assert.equal(tryAck(wrap), null, "64 slots on: still expired");
  assert.equal(l.stats.cookiesRejected, rejected + 1, "checked, and rejected");
  // A listener that never sent one checks nothing; one with cookies off answers nothing.
  using fresh = new TcpListener(LOCAL_IP, 80, { socket: { isn } });
  const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 1001, ack: sa.seq + 1 });
  assert.equal(fresh.onAck(now, REMOTE_IP, LOCAL_IP, h, b, at, len), null);
  assert.equal(fresh.stats.cookiesRejected, 0);
  using off = new TcpListener(LOCAL_IP, 80, { synBacklog: 1, synCookies: false, socket: { isn } });
  const [s1] = seg({ flags: TCP_SYN, seq: 5, srcPort: 1 });
  const [s2] = seg({ flags: TCP_SYN, seq: 5, srcPort: 2 });
  assert.ok(off.onSyn(0, REMOTE_IP, LOCAL_IP, s1) !== null);
  assert.equal(off.onSyn(0, REMOTE_IP, LOCAL_IP, s2), null);
  assert.equal(off.synCookie(0, REMOTE_IP, LOCAL_IP, s2, 1500, new TcpHeader()), false);
  assert.equal(off.stats.synQueueOverflow, 1);
  assert.throws(
    () => new TcpListener(0, 80, { synCookies: 1 as unknown as boolean }),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument",
  );
});

Deno.test("SYN cookie: the encoded MSS is used; without timestamps no window scale nor SACK", () => {
  for (
    const [peer, want] of [[536, 536], [1000, 536], [1300, 1300], [1439, 1300], [1440, 1440], [9000, 1460], [
      -1,
      536,
    ]]
  ) {
    using l = fullListener();
    const sa = cookieFor(l, 10, { flags: TCP_SYN, seq: 99, mss: peer, windowScale: 5, sackPermitted: true });
    assert.equal(sa.hasTimestamps, false);
    assert.equal(sa.windowScale, -1, "nowhere to keep the peer's shift: not offered");
    assert.equal(sa.sackPermitted, false);
    const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 100, ack: sa.seq + 1 });
    const s = l.onAck(20, REMOTE_IP, LOCAL_IP, h, b, at, len) as TcpSocket;
    assert.equal(s.state, "Established");
    s.dispatch(20, new RecordingEgress());
    assert.equal(s.mss, want, `peer MSS ${peer}`);
    assert.deepEqual(s.windowScales, [0, 0]);
    assert.equal(s.sack || s.timestamps, false);
  }
  // Timestamps without window scale: the TSval says "none".
  using l = fullListener();
  const sa = cookieFor(l, 10, { flags: TCP_SYN, seq: 99, mss: 1460, ts: [5, 0] });
  assert.equal(sa.windowScale, -1);
  assert.equal(sa.sackPermitted, false);
  // An ACK whose TSecr claims window scale 14 and SACK (offered by neither side), or some other
  // option bit, or that drops the timestamps: not one of our cookies (the bits are under the hash).
  for (const tsEcr of [(sa.tsVal & ~63) | 0x1e, sa.tsVal ^ 0x20, sa.tsVal ^ 1, sa.tsVal ^ 0x10]) {
    const [f, fb, fat, flen] = seg({ flags: TCP_ACK, seq: 100, ack: sa.seq + 1, ts: [6, tsEcr >>> 0] });
    assert.equal(l.onAck(20, REMOTE_IP, LOCAL_IP, f, fb, fat, flen), null, `TSecr ${tsEcr >>> 0}`);
  }
  const [nt, nb, nat, nlen] = seg({ flags: TCP_ACK, seq: 100, ack: sa.seq + 1 });
  assert.equal(l.onAck(20, REMOTE_IP, LOCAL_IP, nt, nb, nat, nlen), null, "no timestamps");
  assert.equal(l.stats.cookiesRejected, 5);
  assert.equal(l.ready, 0);
  const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 100, ack: sa.seq + 1, ts: [6, sa.tsVal] });
  const s = l.onAck(20, REMOTE_IP, LOCAL_IP, h, b, at, len) as TcpSocket;
  assert.ok(s.timestamps);
  assert.equal(s.sack, false);
  assert.deepEqual(s.windowScales, [0, 0]);
});

Deno.test("SYN cookie: a valid cookie with the accept queue full is dropped and counted", () => {
  using l = fullListener({ backlog: 1 });
  const sa = cookieFor(l, 0, { flags: TCP_SYN, seq: 1, srcPort: 1 });
  const sb = cookieFor(l, 0, { flags: TCP_SYN, seq: 1, srcPort: 2 });
  const ack = (sa: TcpHeader, port: number) => {
    const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 2, ack: sa.seq + 1, srcPort: port });
    return l.onAck(1, REMOTE_IP, LOCAL_IP, h, b, at, len);
  };
  assert.ok(ack(sa, 1) instanceof Object);
  assert.equal(ack(sb, 2), "drop");
  assert.equal(l.stats.acceptQueueOverflow, 1);
  const out = new TcpHeader();
  const [h] = seg({ flags: TCP_SYN, seq: 1, srcPort: 3 });
  assert.equal(
    l.synCookie(2, REMOTE_IP, LOCAL_IP, h, 1500, out),
    false,
    "no cookie while the accept queue is full",
  );
});

Deno.test("SYN cookie: onAck checks its time, addresses and payload range before it takes a socket", () => {
  using l = fullListener({ backlog: 2 });
  const sa = cookieFor(l, 0, { flags: TCP_SYN, seq: 1000, srcPort: 2 });
  const [h, b, at, len] = seg({ flags: TCP_ACK, seq: 1001, ack: sa.seq + 1, srcPort: 2, payload: "abcd" });
  const detached = new Uint8Array(10);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const ranges: [unknown, unknown, unknown][] = [
    [detached, 0, 0],
    [null, 0, 0],
    [b, -1, 2],
    [b, at, len + 1],
    [b, at, -1],
    [b, 1.5, 2],
    [b, "0", 2],
    [b, at, 1n],
    [b, b.length + 1, 0],
  ];
  const invalid = (f: () => unknown, what: string) =>
    assert.throws(f, (e) => e instanceof SocketError && e.kind === "InvalidArgument", what);
  for (const [p, o, n] of ranges) {
    invalid(() => l.onAck(1, REMOTE_IP, LOCAL_IP, h, p as Uint8Array, o as number, n as number), `${o} ${n}`);
  }
  for (const now of [NaN, 1n, "1", -1]) {
    invalid(() => l.onAck(now as number, REMOTE_IP, LOCAL_IP, h, b, at, len), `now ${String(now)}`);
  }
  invalid(() => l.onAck(1, 2 ** 32, LOCAL_IP, h, b, at, len), "src");
  assert.deepEqual([l.ready, l.stats.cookiesValidated, l.stats.cookiesRejected], [0, 0, 0], "nothing taken");
  const s = l.onAck(1, REMOTE_IP, LOCAL_IP, h, b, at, len) as TcpSocket;
  assert.equal(s.state, "Established");
  assert.equal(s.recvQueue, 4);
  assert.deepEqual([l.ready, l.stats.cookiesValidated], [1, 1]);
});

Deno.test("SynCookies: random ACK numbers almost never pass; TSval bits never run ahead of the clock", () => {
  const c = new SynCookies(new Uint8Array(32).fill(1));
  const rand = rng(4242);
  let passed = 0;
  for (let i = 0; i < 200_000; i++) {
    const rip = (rand() * 2 ** 32) >>> 0;
    const port = (rand() * 65536) >>> 0;
    const seq = (rand() * 2 ** 32) >>> 0;
    if (c.check(5000, LOCAL_IP, 80, rip, port, seq, (rand() * 2 ** 32) >>> 0) !== 0) passed++;
  }
  assert.ok(passed <= 3, `${passed} of 200000 forged cookies passed (expected ≈ 0.1)`);
  for (const mss of SYN_COOKIE_MSS) {
    const k = c.make(5000, LOCAL_IP, 80, REMOTE_IP, 1234, 42, mss);
    assert.equal(c.check(5000, LOCAL_IP, 80, REMOTE_IP, 1234, 42, k), mss);
    assert.equal(c.check(5000, LOCAL_IP, 80, REMOTE_IP, 1234, 42, k ^ 1), 0);
  }
  // The options (TSval bits) are under the hash: each validates with its own value only.
  for (let o = 0; o <= SYN_COOKIE_NO_TIMESTAMPS; o++) {
    const k = c.make(5000, LOCAL_IP, 80, REMOTE_IP, 1234, 42, 1460, o);
    for (let e = 0; e <= SYN_COOKIE_NO_TIMESTAMPS; e++) {
      assert.equal(c.check(5000, LOCAL_IP, 80, REMOTE_IP, 1234, 42, k, e), e === o ? 1460 : 0, `${o} ${e}`);
    }
  }
  for (let i = 0; i < 10_000; i++) {
    const clock = (rand() * 2 ** 32) >>> 0;
    const ws = Math.floor(rand() * 16) - 1;
    const sack = rand() < 0.5;
    const ts = SynCookies.tsVal(clock, ws, sack);
    const behind = (clock - ts) >>> 0;
    assert.ok(behind < 128, `TSval ${ts} is ${behind} behind ${clock}`);
    assert.equal(SynCookies.windowScale(ts), ws);
    assert.equal(SynCookies.sackPermitted(ts), sack);
  }
  assert.throws(() => new SynCookies(new Uint8Array(16)), SocketError);
});

Deno.test("SynCookies: a cookie is good in its slot and the next, never again when the ISN's 6-bit slot wraps", () => {
  const c = new SynCookies(new Uint8Array(32).fill(2));
  const S = SYN_COOKIE_SLOT_MS;
  for (const made of [0, 5 * S + 17, 63 * S + S - 1, 2 ** 40 + 3, 2 ** 33 * S + 1]) {
    const k = c.make(made, LOCAL_IP, 80, REMOTE_IP, 1234, 42, 1460);
    const at = (t: number) => c.check(t, LOCAL_IP, 80, REMOTE_IP, 1234, 42, k);
    const start = made - (made % S); // the slot's first ms
    assert.equal(at(made), 1460);
    assert.equal(at(start + 2 * S - 1), 1460, "the next slot");
    assert.equal(at(start + 2 * S), 0, "two slots on");
    for (let wraps = 1; wraps <= 3; wraps++) {
      assert.equal(at(made + wraps * 64 * S), 0, `${wraps} × 64 slots later (the ISN's slot bits match)`);
      assert.equal(at(made + (wraps * 64 + 1) * S), 0, `${wraps} × 64 + 1 slots later`);
    }
    if (made >= 64 * S) assert.equal(at(made - 64 * S), 0, "64 slots earlier");
  }
});

Deno.test("SYN cookies over the interface: 20 000 SYNs leave its tables and queues as they were; a real client gets in", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(80, { backlog: 8, synBacklog: 4 });
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };
  const frame = (o: SegSpec) => ipFrame(spec, seg(o, PEER, US)[1]);
  const before = w.iface.tableSizes;
  const rand = rng(99);
  for (let i = 0; i < 20_000; i += 100) {
    const batch: Uint8Array[] = [];
    for (let k = 0; k < 100; k++) {
      batch.push(frame({ flags: TCP_SYN, seq: (rand() * 2 ** 32) >>> 0, srcPort: 1024 + i + k, mss: 1460 }));
    }
    w.inject(...batch);
    w.iface.poll(w.now);
    w.sent();
    w.now += 1;
  }
  assert.equal(l.pending, 4, "the SYN queue holds its 4 (their SYN-ACKs unanswered)");
  assert.equal(l.ready, 0);
  assert.equal(l.stats.cookiesSent, 20_000 - 4);
  assert.equal(w.iface.tableSizes.tcpConnections, before.tcpConnections + 4, "nothing per cookie");
  assert.equal(w.iface.tableSizes.neighbors, 1);
  // A real client during the flood: SYN, cookie SYN-ACK, ACK with data; our answer arrives.
  w.inject(frame({ flags: TCP_SYN, seq: 5000, srcPort: 55555, mss: 1460, ts: [1, 0], windowScale: 2 }));
  const frames = w.sent();
  assert.equal(frames.length, 1);
  const sa = new TcpHeader();
  const f = frames[0];
  parseTcp(f, 34, f.length, US, PEER, sa);
  assert.equal(sa.flags, TCP_SYN | TCP_ACK);
  w.inject(
    frame({ flags: TCP_ACK, seq: 5001, ack: sa.seq + 1, srcPort: 55555, ts: [2, sa.tsVal], payload: "ping" }),
  );
  const s = l.accept()!;
  assert.ok(s !== null, "accepted");
  assert.equal(s.remotePort, 55555);
  const buf = new Uint8Array(16);
  assert.equal(new TextDecoder().decode(buf.subarray(0, s.recv(buf))), "ping");
  s.send(new TextEncoder().encode("pong"));
  w.iface.poll(w.now);
  const reply = new TcpHeader();
  const rf = w.sent().at(-1)!;
  const at = parseTcp(rf, 34, rf.length, US, PEER, reply);
  assert.equal(new TextDecoder().decode(rf.subarray(at)), "pong");
  assert.equal(reply.seq, (sa.seq + 1) >>> 0);
  assert.equal(reply.ack, 5005);
  assert.equal(l.stats.cookiesValidated, 1);
  assert.equal(w.iface.tableSizes.tcpConnections, before.tcpConnections + 5);
  // A forged ACK draws the usual RST (and is counted as a rejected cookie).
  w.inject(frame({ flags: TCP_ACK, seq: 1, ack: 12345, srcPort: 4444 }));
  const rst = new TcpHeader();
  const rr = w.sent()[0];
  parseTcp(rr, 34, rr.length, US, PEER, rst);
  assert.equal(rst.flags, TCP_RST);
  assert.equal(l.stats.cookiesRejected, 1);
});

Deno.test("SYN cookies over the interface: SYN queues larger than the table: handshakes take half its room, cookies the rest", () => {
  // 4 entries, a SYN queue of 8: unbounded, the flood's handshakes would fill the table.
  const w = wireHost({ tcpMaxConnections: 4 });
  w.learnPeer();
  using l = w.iface.listenTcp(80, { synBacklog: 8, socket: { synRetries: 0, timestamps: false } });
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };
  const send = (...o: SegSpec[]) => {
    w.inject(...o.map((x) => ipFrame(spec, seg(x, PEER, US)[1])));
    return w.sent().map((f) => {
      const r = new TcpHeader();
      parseTcp(f, 34, f.length, US, PEER, r);
      return r;
    });
  };
  const flood: SegSpec[] = [];
  for (let p = 0; p < 20; p++) flood.push({ flags: TCP_SYN, seq: 1, srcPort: 30000 + p, mss: 1460 });
  assert.equal(send(...flood).length, 20, "every SYN answered");
  assert.equal(l.pending, 2, "handshakes: size + handshakes < 4");
  assert.equal(w.iface.tableSizes.tcpConnections, 2);
  assert.equal(l.stats.cookiesSent, 18);
  assert.equal(w.iface.stats.tcpConnectionsFull, 0);
  // Two real clients during the flood come in on cookies: the room the handshakes left.
  const connect = (port: number) => {
    const [sa] = send({ flags: TCP_SYN, seq: 5000, srcPort: port, mss: 1460 });
    assert.equal(sa?.flags, TCP_SYN | TCP_ACK, `port ${port}: a SYN-ACK`);
    send({ flags: TCP_ACK, seq: 5001, ack: sa.seq + 1, srcPort: port, payload: "hi" });
    return l.accept();
  };
  const a = connect(50000)!;
  const b = connect(50001)!;
  assert.deepEqual([a?.remotePort, b?.remotePort, a?.recvQueue, b?.recvQueue], [50000, 50001, 2, 2]);
  assert.equal(l.stats.cookiesValidated, 2);
  assert.equal(w.iface.tableSizes.tcpConnections, 4, "full");
  assert.deepEqual(send(...flood.slice(2, 5)), [], "a full table drops SYNs");
  assert.equal(w.iface.stats.tcpConnectionsFull, 3);
  // The flood's handshakes time out (1 s, no retries): their room comes back, half of it for
  // handshakes again (size 2 + handshakes 0 < 4), then cookies.
  w.now += 1500;
  w.iface.poll(w.now);
  w.sent();
  assert.deepEqual([w.iface.tableSizes.tcpConnections, l.pending], [2, 0]);
  send(...flood);
  assert.deepEqual([w.iface.tableSizes.tcpConnections, l.pending], [3, 1]);
  assert.equal(l.stats.cookiesSent, 18 + 2 + 19);
  a.abort();
  b.abort();
});

Deno.test("SYN cookies over the interface: with the connection table full a cookie's ACK is dropped, not reset", () => {
  const w = wireHost({ tcpMaxConnections: 2 });
  w.learnPeer();
  const l = w.iface.listenTcp(80, { synBacklog: 1 });
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };
  const send = (o: SegSpec) => {
    w.inject(ipFrame(spec, seg(o, PEER, US)[1]));
    return w.sent().map((f) => {
      const r = new TcpHeader();
      parseTcp(f, 34, f.length, US, PEER, r);
      return r;
    });
  };
  const stray = { flags: TCP_ACK, seq: 1, ack: 777, srcPort: 9 };
  send({ flags: TCP_SYN, seq: 1, srcPort: 1 }); // fills the SYN queue (table: 1)
  const [sa] = send({ flags: TCP_SYN, seq: 1, srcPort: 2 });
  assert.equal(l.stats.cookiesSent, 1);
  const client = w.iface.connectTcp(PEER, 5000); // table: 2, full
  assert.equal(w.iface.tableSizes.tcpConnections, 2);
  assert.deepEqual(
    send({ flags: TCP_ACK, seq: 2, ack: sa.seq + 1, srcPort: 2 }).filter((r) => r.flags & TCP_RST),
    [],
  );
  assert.equal(w.iface.stats.tcpConnectionsFull, 1);
  assert.equal(send(stray).filter((r) => r.flags & TCP_RST).length, 0, "cookies pending: no RST while full");
  // Two slots after the last cookie, an ACK to the listener is reset as before.
  w.now += 2 * SYN_COOKIE_SLOT_MS;
  w.iface.poll(w.now);
  w.sent();
  w.learnPeer(); // (the neighbour entry expired meanwhile)
  assert.equal(w.iface.tableSizes.tcpConnections, 2, "still full");
  assert.equal(send({ ...stray, srcPort: 10 }).filter((r) => r.flags & TCP_RST).length, 1);
  // Disposed, the listener waits for no cookie: its port's ACKs are reset, even with the table full.
  client.abort();
  w.iface.poll(w.now);
  w.sent();
  send({ flags: TCP_SYN, seq: 1, srcPort: 3 }); // a cookie again (the SYN queue still full)
  assert.equal(l.stats.cookiesSent, 2);
  l[Symbol.dispose]();
  w.iface.poll(w.now); // its handshake aborted (RST), out of the table
  w.sent();
  w.iface.connectTcp(PEER, 5001);
  w.iface.connectTcp(PEER, 5002);
  assert.equal(w.iface.tableSizes.tcpConnections, 2, "full again");
  assert.equal(
    send({ ...stray, srcPort: 11 }).filter((r) => r.flags & TCP_RST && r.dstPort === 11).length,
    1,
  );
});
