/**
 * TCP carried by the Interface: two interfaces over a LoopbackDevice pair (connect, listen,
 * accept, transfers both ways, close), RST for segments to no connection, ephemeral ports, the
 * TCP timers in pollAt, and the interface's TCP counters.
 */
import assert from "node:assert/strict";
import {
  emitTcp as emitTcpWire,
  Interface,
  type InterfaceConfig,
  InterfaceError,
  IPPROTO_TCP,
  LoopbackDevice,
  parseIpv4Address,
  parseTcp,
  SocketError,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TcpHeader,
  type TcpSocket,
} from "../mod.ts";
import { thrown } from "./_assert.ts";
import { ipFrame } from "./_fixtures.ts";
import { hostPair, PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const A_IP = parseIpv4Address("198.18.7.1");
const B_IP = parseIpv4Address("198.18.7.2");
const A_MAC = Uint8Array.of(2, 0, 0, 0, 7, 0xa);
const B_MAC = Uint8Array.of(2, 0, 0, 0, 7, 0xb);

function pair(optionsA: Partial<InterfaceConfig> = {}, optionsB: Partial<InterfaceConfig> = optionsA) {
  return hostPair(A_IP, B_IP, [A_MAC, B_MAC], optionsA, optionsB);
}

const pattern = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i + seed) % 251);

/** Moves `data` from `from` to `to` through the pair, polling as it goes; returns what arrived. */
function transfer(h: ReturnType<typeof pair>, from: TcpSocket, to: TcpSocket, data: Uint8Array): Uint8Array {
  const got = new Uint8Array(data.length);
  let sent = 0;
  let received = 0;
  for (let guard = 0; received < data.length && guard < 200_000; guard++) {
    if (sent < data.length) sent += from.send(data, sent);
    h.run(1);
    for (let n = 1; n > 0 && received < data.length;) {
      n = to.recv(got, received);
      if (n > 0) received += n;
    }
  }
  assert.equal(received, data.length, `${received} of ${data.length} bytes arrived`);
  return got;
}

Deno.test("TCP over the interface: connect, accept, data both ways, orderly close", () => {
  const h = pair();
  using listener = h.b.listenTcp(8080, { backlog: 4 });
  const client = h.a.connectTcp(B_IP, 8080);
  assert.equal(client.state, "SynSent");
  assert.ok(client.localPort >= 49152, `ephemeral port ${client.localPort}`);
  assert.equal(client.localIp, A_IP);
  h.run(10);
  assert.equal(client.state, "Established");
  const server = listener.accept();
  assert.ok(server !== null, "the listener accepted the connection");
  assert.equal(server.state, "Established");
  assert.equal(server.remotePort, client.localPort);
  assert.equal(h.b.tableSizes.tcpConnections, 1);
  for (const size of [1, 1460, 1461, 100_000, 1 << 20]) {
    const up = pattern(size, size);
    assert.deepEqual(transfer(h, client, server, up), up, `${size} bytes up`);
    const down = pattern(size, size + 7);
    assert.deepEqual(transfer(h, server, client, down), down, `${size} bytes down`);
  }
  client.close();
  h.run(10);
  assert.equal(server.recv(new Uint8Array(1)), -1, "the server sees the end of the stream");
  assert.equal(server.state, "CloseWait");
  server.close();
  h.run(10);
  assert.equal(server.state, "Closed");
  assert.equal(client.state, "TimeWait");
  assert.equal(h.b.tableSizes.tcpConnections, 0, "the closed connection left b's table");
  assert.equal(h.a.tableSizes.tcpConnections, 1, "TIME-WAIT keeps its 4-tuple");
  assert.ok(h.a.stats.tcpSegmentsOut > 700 && h.b.stats.tcpSegmentsIn > 700);
  assert.equal(h.a.stats.tcpNoConnection + h.b.stats.tcpNoConnection, 0);
  assert.equal(h.a.stats.rxMalformed + h.b.stats.rxMalformed, 0);
});

Deno.test("TCP over the interface: pollAt carries the TCP timers (TIME-WAIT, retransmission)", () => {
  const h = pair();
  using listener = h.b.listenTcp(80);
  const client = h.a.connectTcp(B_IP, 80, { timeWait: 5000 });
  assert.equal(h.a.pollAt(h.now), h.now, "a SYN to send: due now");
  h.run(10);
  const server = listener.accept()!;
  assert.equal(h.a.pollAt(h.now), null, "established and idle: nothing scheduled");
  client.close();
  h.run(10);
  server.close();
  h.run(10);
  assert.equal(client.state, "TimeWait");
  const at = h.a.pollAt(h.now)!;
  assert.ok(at > h.now && at <= h.now + 5000, `TIME-WAIT ends at ${at} (now ${h.now})`);
  h.a.poll(at - 1);
  assert.equal(client.state, "TimeWait");
  h.a.poll(at);
  assert.equal(client.state, "Closed");
  assert.equal(h.a.tableSizes.tcpConnections, 0);
  assert.equal(h.a.pollAt(at), null);

  // A SYN nobody answers: retransmitted when pollAt says.
  const lonely = h.a.connectTcp(parseIpv4Address("198.18.7.9"), 80, { initialRto: 1000 });
  h.a.poll(at);
  // Unresolved: the SYN waits behind ARP, whose retry and the RTO are both scheduled.
  const next = h.a.pollAt(at)!;
  assert.ok(next > at && next <= at + 1000, `next ${next}`);
  assert.equal(lonely.state, "SynSent");
  lonely.abort();
  h.a.poll(next);
  assert.equal(h.a.tableSizes.tcpConnections, 0);
});

Deno.test("TCP over the interface: a listener's backlog bounds the accept queue; many connections", () => {
  const h = pair();
  using listener = h.b.listenTcp(9000, { backlog: 100 });
  const clients = Array.from({ length: 100 }, () => h.a.connectTcp(B_IP, 9000));
  assert.equal(new Set(clients.map((c) => c.localPort)).size, 100, "100 distinct ephemeral ports");
  h.run(20);
  // b was not resolved yet: 16 SYNs waited behind ARP (arpQueueLimit), the others were dropped
  // there and are retransmitted after the initial RTO (1 s).
  assert.equal(clients.filter((c) => c.state === "Established").length, 16);
  assert.equal(h.a.stats.txDropped, 84);
  h.run(1100);
  assert.ok(clients.every((c) => c.state === "Established"));
  const servers: TcpSocket[] = [];
  for (let s = listener.accept(); s !== null; s = listener.accept()) servers.push(s);
  assert.equal(servers.length, 100);
  for (const [i, c] of clients.entries()) c.send(pattern(100, i));
  h.run(10);
  const byPort = new Map(servers.map((s) => [s.remotePort, s]));
  for (const [i, c] of clients.entries()) {
    const buf = new Uint8Array(200);
    assert.equal(byPort.get(c.localPort)!.recv(buf), 100);
    assert.deepEqual(buf.subarray(0, 100), pattern(100, i));
  }
  // Full queues: further SYNs are dropped and counted, not answered with RST (nor with SYN
  // cookies, which tcp_syncookie_test.ts covers).
  using small = h.b.listenTcp(9001, { backlog: 2, synCookies: false });
  const more = Array.from({ length: 4 }, () => h.a.connectTcp(B_IP, 9001));
  h.run(20);
  assert.equal(more.filter((c) => c.state === "Established").length, 2);
  assert.ok(small.stats.synQueueOverflow + small.stats.acceptQueueOverflow > 0, "overflow counted");
  assert.equal(h.b.stats.tcpResetsSent, 0);
  for (const c of more) c.abort();
  h.run(2);
});

Deno.test("TCP over the interface: a connection table at its limit drops SYNs and refuses connectTcp", () => {
  const h = pair({}, { tcpMaxConnections: 2 });
  using _listener = h.b.listenTcp(7000);
  const clients = [0, 1].map(() => h.a.connectTcp(B_IP, 7000));
  h.run(10);
  assert.equal(clients.filter((c) => c.state === "Established").length, 2);
  assert.equal(h.b.tableSizes.tcpConnections, 2);
  clients.push(h.a.connectTcp(B_IP, 7000));
  h.run(10);
  assert.equal(clients[2].state, "SynSent");
  assert.equal(h.b.stats.tcpConnectionsFull, 1, "the third SYN was dropped, not answered");
  assert.equal(h.b.stats.tcpResetsSent, 0);
  assert.equal(thrown(() => h.b.connectTcp(A_IP, 1), InterfaceError).kind, "PortInUse");
  for (const c of clients) c.abort();
  h.run(2);
  assert.equal(h.b.tableSizes.tcpConnections, 0, "RSTs closed b's side");
});

const PEER_TO_US = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };

/** A TCP segment from the peer's `srcPort` to our port 81 (20-byte header, `payload` zero bytes). */
function segTo81(srcPort: number, flags: number, seq: number, ack: number, payload: number): Uint8Array {
  const t = new TcpHeader();
  Object.assign(t, { srcPort, dstPort: 81, seq, ack, flags, window: 1000 });
  const b = new Uint8Array(20 + payload);
  emitTcpInto(b, t, PEER, US);
  return b;
}

Deno.test("TCP: a segment to no connection is answered with RST (RFC 9293 3.10.7.1), an RST never", () => {
  const w = wireHost();
  w.learnPeer();
  const spec = PEER_TO_US;
  const seg = (flags: number, seq: number, ack: number, payload = 0) =>
    segTo81(40000, flags, seq, ack, payload);
  w.inject(ipFrame(spec, seg(TCP_SYN, 1000, 0)));
  let r = readTcp(w.sent());
  assert.equal(r.flags, TCP_RST | TCP_ACK, "a SYN without ACK: RST+ACK");
  assert.equal(r.seq, 0);
  assert.equal(r.ack, 1001, "ACK = SEG.SEQ + SEG.LEN (the SYN counts)");
  assert.equal(r.srcPort, 81);
  assert.equal(r.dstPort, 40000);
  w.inject(ipFrame(spec, seg(TCP_ACK, 5, 777, 10)));
  r = readTcp(w.sent());
  assert.equal(r.flags, TCP_RST, "with ACK: RST, seq = SEG.ACK");
  assert.equal(r.seq, 777);
  w.inject(ipFrame(spec, seg(TCP_RST, 5, 0)));
  assert.equal(w.sent().length, 0, "an RST is never answered");
  const bcast = { ...spec, dstMac: new Uint8Array(6).fill(0xff) };
  w.inject(ipFrame(bcast, seg(TCP_SYN, 1, 0)));
  assert.equal(w.sent().length, 0, "nor a segment that came as a link broadcast");
  assert.equal(w.iface.stats.tcpNoConnection, 4);
  assert.equal(w.iface.stats.tcpResetsSent, 2);
  assert.equal(w.iface.stats.rxUnknownProtocol, 0, "TCP is no longer protocol unreachable");
  // A bad checksum is malformed, not answered.
  const bad = seg(TCP_SYN, 1, 0);
  bad[16] ^= 1;
  w.inject(ipFrame(spec, bad));
  assert.equal(w.sent().length, 0);
  assert.equal(w.iface.stats.rxMalformed, 1);
});

Deno.test("TCP: a listening port drops a bare FIN or data without ACK (RFC 9293 3.10.7.2), resets an ACK", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(81);
  const spec = PEER_TO_US;
  const seg = (flags: number, seq: number, ack: number, payload = 0) =>
    segTo81(40001, flags, seq, ack, payload);
  w.inject(ipFrame(spec, seg(TCP_FIN, 1000, 0)));
  assert.equal(w.sent().length, 0, "a bare FIN: dropped");
  w.inject(ipFrame(spec, seg(0, 1000, 0, 10)));
  assert.equal(w.sent().length, 0, "data without ACK: dropped");
  assert.equal(l.stats.droppedNoSynAck, 2);
  assert.equal(w.iface.stats.tcpResetsSent, 0);
  w.inject(ipFrame(spec, seg(TCP_ACK, 5, 777)));
  const r = readTcp(w.sent());
  assert.equal(r.flags, TCP_RST, "an ACK to a listener: RST, seq = SEG.ACK");
  assert.equal(r.seq, 777);
  assert.equal(l.stats.droppedNoSynAck, 2);
});

Deno.test("TCP: connectTcp and listenTcp check their arguments", () => {
  const h = pair();
  for (const bad of [0, -1, 65536, 1.5, NaN, "80", 80n]) {
    assert.equal(thrown(() => h.a.connectTcp(B_IP, bad as number), InterfaceError).kind, "InvalidArgument");
    assert.equal(thrown(() => h.a.listenTcp(bad as number), InterfaceError).kind, "InvalidArgument");
  }
  for (const bad of [0, A_IP, 0xffffffff, parseIpv4Address("127.0.0.1"), -1, "1.2.3.4", 2n]) {
    assert.equal(thrown(() => h.a.connectTcp(bad as number, 80), InterfaceError).kind, "InvalidArgument");
  }
  assert.match(
    thrown(() => h.a.connectTcp(parseIpv4Address("203.0.113.5"), 80), InterfaceError).message,
    /no route/,
  );
  for (const bad of [null, 5, "x", [], true]) {
    assert.equal(
      thrown(() => h.a.connectTcp(B_IP, 80, bad as never), InterfaceError).kind,
      "InvalidArgument",
    );
    assert.equal(thrown(() => h.a.listenTcp(80, bad as never), InterfaceError).kind, "InvalidArgument");
  }
  assert.equal(
    thrown(() => h.a.connectTcp(B_IP, 80, { rxBufferSize: 0 }), SocketError).kind,
    "InvalidArgument",
  );
  assert.equal(thrown(() => h.a.listenTcp(80, { backlog: 0 }), SocketError).kind, "InvalidArgument");
  assert.equal(h.a.tableSizes.tcpConnections, 0, "a refused connectTcp leaves nothing behind");
  const l = h.a.listenTcp(80);
  assert.equal(thrown(() => h.a.listenTcp(80), InterfaceError).kind, "PortInUse");
  l[Symbol.dispose]();
  using again = h.a.listenTcp(80); // a disposed listener frees its port
  assert.equal(again.localPort, 80);
});

function emitTcpInto(b: Uint8Array, t: TcpHeader, src: number, dst: number): void {
  // Through the wire module's emitter: header, no options, checksum over the pseudo-header.
  emitTcpWire(b, 0, b.length, src, dst, t, b.length - 20);
}

function readTcp(frames: Uint8Array[]): TcpHeader {
  assert.equal(frames.length, 1, `one frame answered (got ${frames.length})`);
  const f = frames[0];
  assert.equal(f[23], IPPROTO_TCP);
  const t = new TcpHeader();
  const src = ((f[26] << 24) | (f[27] << 16) | (f[28] << 8) | f[29]) >>> 0;
  const dst = ((f[30] << 24) | (f[31] << 16) | (f[32] << 8) | f[33]) >>> 0;
  parseTcp(f, 34, f.length, src, dst, t);
  return t;
}

Deno.test("TCP: ephemeral ports (RFC 6056) are spread, skip listening ports, and run out with a typed error", () => {
  const h = pair({ tcpMaxConnections: 20_000 });
  const tiny = { rxBufferSize: 1, txBufferSize: 1 };
  const first = Array.from({ length: 64 }, () => h.a.connectTcp(B_IP, 80, tiny).localPort);
  assert.ok(first.every((p) => p >= 49152 && p <= 65535));
  assert.equal(new Set(first).size, 64);
  const ports = new Set(first);
  let listening = 49152;
  while (ports.has(listening)) listening++;
  using _l = h.a.listenTcp(listening);
  for (let i = first.length; i < 16384 - 1; i++) ports.add(h.a.connectTcp(B_IP, 80, tiny).localPort);
  assert.equal(ports.size, 16383, "every port but the listening one");
  assert.ok(!ports.has(listening), "the listening port is never an ephemeral port");
  const e = thrown(() => h.a.connectTcp(B_IP, 80, tiny), InterfaceError);
  assert.equal(e.kind, "PortInUse");
  assert.match(e.message, /every ephemeral port/);
  assert.ok(
    h.a.connectTcp(B_IP, 82, tiny).localPort >= 49152,
    "towards another peer port, ports are free again",
  );
});

Deno.test("TCP: disposing a listener closes its port: its queued connections are reset, new SYNs get RST", () => {
  const h = pair();
  const listener = h.b.listenTcp(5000);
  const queued = h.a.connectTcp(B_IP, 5000);
  h.run(10);
  assert.equal(queued.state, "Established", "in the accept queue, never accepted");
  assert.equal(h.b.tableSizes.tcpConnections, 1);
  listener[Symbol.dispose]();
  h.run(10);
  assert.equal(queued.state, "Closed");
  assert.equal(queued.closeReason, "Reset");
  assert.equal(h.b.tableSizes.tcpConnections, 0);
  const late = h.a.connectTcp(B_IP, 5000);
  h.run(10);
  assert.equal(late.closeReason, "Refused");
  assert.equal(h.b.stats.tcpResetsSent, 1);
  assert.equal(h.a.tableSizes.tcpConnections, 0);
});

Deno.test("TCP through the same egress as UDP: on a VLAN, and on a 576-byte MTU (MSS 536, no frame above it)", () => {
  for (const [mtu, vlan] of [[1500, 5], [576, undefined]] as const) {
    const [da, db] = LoopbackDevice.pair(mtu, 4096);
    const biggest = [0, 0];
    const watch = (d: LoopbackDevice, k: number) => ({
      mtu: d.mtu,
      get txBytes() {
        return d.txBytes;
      },
      receive: (f: (b: Uint8Array, s: number, l: number) => void) =>
        d.receive((b, s, l) => {
          biggest[k] = Math.max(biggest[k], l);
          f(b, s, l);
        }),
      txSlot: (n: number) => d.txSlot(n),
      flush: () => d.flush(),
    });
    const a = new Interface(watch(da, 0), { mac: A_MAC, addresses: [{ ip: A_IP, prefix: 24 }], vlan });
    const b = new Interface(watch(db, 1), { mac: B_MAC, addresses: [{ ip: B_IP, prefix: 24 }], vlan });
    const h = {
      a,
      b,
      now: 0,
      run(rounds = 8) {
        for (let i = 0; i < rounds; i++) {
          a.poll(h.now);
          b.poll(h.now);
          h.now += 1;
        }
      },
    };
    using listener = b.listenTcp(443);
    const client = a.connectTcp(B_IP, 443);
    h.run(10);
    const server = listener.accept()!;
    assert.equal(client.mss, mtu - 40, `MSS on a ${mtu}-byte MTU`);
    const data = pattern(200_000, mtu);
    assert.deepEqual(transfer(h as ReturnType<typeof pair>, client, server, data), data);
    const l2 = vlan === undefined ? 14 : 18;
    assert.equal(biggest[1], mtu + l2, "full-sized segments, never above the MTU");
  }
});

Deno.test("TCP: an idle connection costs no dispatch, and the program's send/recv/close are seen at the next poll", () => {
  const h = pair();
  using listener = h.b.listenTcp(80, { socket: { rxBufferSize: 4000, ackDelay: 0 } });
  const client = h.a.connectTcp(B_IP, 80, { ackDelay: 0 });
  h.run(10);
  const server = listener.accept()!;
  const outA = () => h.a.stats.tcpSegmentsOut;
  const outB = () => h.b.stats.tcpSegmentsOut;
  const before = [outA(), outB()];
  h.run(50);
  assert.deepEqual([outA(), outB()], before, "idle: nothing sent");
  assert.equal(h.a.pollAt(h.now), null);
  // send: the segment leaves at the very next poll of the sender.
  client.send(pattern(1000));
  assert.equal(h.a.pollAt(h.now), h.now, "a send makes the interface due");
  h.a.poll(h.now);
  assert.equal(outA(), before[0] + 1);
  h.run(4);
  // Fill the server's 4000-byte window, then read it all: the window update goes at b's next poll.
  client.send(pattern(8000));
  h.run(10);
  // 1000 + two full segments (1448 bytes: timestamps take 12): the last 104 bytes of window are too
  // small to send (silly-window avoidance).
  assert.equal(server.recvQueue, 3896, "the window is full");
  const sentB = outB();
  const buf = new Uint8Array(8000);
  assert.equal(server.recv(buf), 3896);
  h.b.poll(h.now);
  assert.equal(outB(), sentB + 1, "the window update");
  h.run(10);
  assert.ok(server.recvQueue > 0, "the rest flows");
  // close: the FIN leaves at the next poll.
  while (server.recv(buf) > 0) h.run(2);
  const sentA = outA();
  client.close();
  h.a.poll(h.now);
  assert.equal(outA(), sentA + 1, "the FIN");
  h.run(4);
  assert.equal(server.state, "CloseWait");
  server.abort();
  h.b.poll(h.now);
  assert.equal(h.b.tableSizes.tcpConnections, 0, "aborted: out of the table at once");
  h.run(4);
  assert.equal(client.closeReason, "Reset");
});

Deno.test("TCP: segments of two connections in one burst each reach their own socket, both ways", () => {
  // The demultiplexer keeps the connection the last segment went to: segments that alternate
  // between two 4-tuples (differing in the client's port only) must still find their own.
  const h = pair();
  using listener = h.b.listenTcp(8080, { backlog: 4 });
  const clients = [h.a.connectTcp(B_IP, 8080), h.a.connectTcp(B_IP, 8080)];
  h.run(10);
  const accepted = [listener.accept()!, listener.accept()!];
  const servers = clients.map((c) => accepted.find((s) => s.remotePort === c.localPort)!);
  assert.ok(servers[0] !== servers[1] && servers.every((s) => s !== undefined));
  const got = [[], [], [], []] as number[][];
  const buf = new Uint8Array(64);
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 2; k++) {
      clients[k].send(pattern(7, 10 * round + k)); // both segments leave in one poll of a
      servers[k].send(pattern(5, 10 * round + k + 50));
    }
    h.run(2);
    for (const [i, s] of [...servers, ...clients].entries()) {
      for (let n = s.recv(buf); n > 0; n = s.recv(buf)) got[i].push(...buf.subarray(0, n));
    }
  }
  for (let k = 0; k < 2; k++) {
    const up = Array.from({ length: 20 }, (_, r) => [...pattern(7, 10 * r + k)]).flat();
    const down = Array.from({ length: 20 }, (_, r) => [...pattern(5, 10 * r + k + 50)]).flat();
    assert.deepEqual(got[k], up, `client ${k} → its server`);
    assert.deepEqual(got[2 + k], down, `server ${k} → its client`);
    assert.equal(
      clients[k].stats.dropIgnored + servers[k].stats.dropIgnored,
      0,
      "no segment to the wrong socket",
    );
  }
  assert.ok(h.b.stats.tcpSegmentsIn >= 40, `${h.b.stats.tcpSegmentsIn} segments in`);
});
