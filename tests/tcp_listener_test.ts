/**
 * The listener's SYN and accept queues (bounds, overflow counters, recycling) and the 4-tuple
 * table (against a Map model, with deletions in any order).
 */
import assert from "node:assert/strict";
import { IsnGenerator, SocketError, TcpListener, type TcpSocket, TcpTable } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_RST, TCP_SYN, TcpHeader } from "../src/net/wire/mod.ts";
import { LOCAL_IP, RecordingEgress, rng } from "./_tcp_harness.ts";

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
  assert.equal(l.takeFailed(failed), 1);
  assert.equal(failed[0], s);
  const again = l.onSyn(2, 0x0a000102, LOCAL_IP, syn(40002))!;
  assert.equal(again, s, "the pool's socket is reused");
  assert.equal(again.remotePort, 40002);
  assert.throws(() => l.release(again), (e) => e instanceof SocketError && e.kind === "InvalidState");
  assert.throws(() => new TcpListener(0, 0), (e) => e instanceof SocketError && e.kind === "InvalidArgument");
  assert.throws(() => new TcpListener(0, 80, { backlog: 0 }), SocketError);
});

Deno.test("listener: dispose aborts pending connections; use after dispose is a typed error", () => {
  const l = new TcpListener(0, 80, { socket: { isn } });
  const s = l.onSyn(0, 0x0a000101, LOCAL_IP, syn(40001))!;
  l[Symbol.dispose]();
  l[Symbol.dispose]();
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
