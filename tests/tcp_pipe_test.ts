/**
 * Two of our TCP sockets connected through an in-memory segment pipe (emit → bytes → parse →
 * feed) on a virtual clock that jumps to the next event: byte-exact transfers with seeded loss,
 * simultaneous open and close.
 */
import assert from "node:assert/strict";
import { type ByteRing, IsnGenerator, type TcpEgress, TcpSocket } from "../src/net/socket/mod.ts";
import { emitTcp, parseTcp, TcpHeader, tcpHeaderLength } from "../src/net/wire/mod.ts";
import { assertBytes, rng } from "./_tcp_harness.ts";

const A_IP = 0xc0a80001;
const B_IP = 0xc0a80002;

interface InFlight {
  at: number;
  bytes: Uint8Array;
  src: number;
  dst: number;
}

/** One direction of the pipe: delay, seeded loss. */
class Link implements TcpEgress {
  now = 0;
  readonly queue: InFlight[] = [];
  sent = 0;
  lost = 0;
  /** Fractions of segments delayed past later ones and sent twice. */
  reorder = 0;
  duplicate = 0;
  constructor(
    readonly mtu: number,
    readonly delay: number,
    readonly loss: number,
    readonly rand: () => number,
  ) {}
  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean {
    const hl = tcpHeaderLength(h);
    const bytes = new Uint8Array(hl + length);
    payload.peek(from, bytes, hl, length);
    emitTcp(bytes, 0, bytes.length, src, dst, h, length);
    this.sent++;
    if (this.rand() < this.loss) {
      this.lost++;
      return true;
    }
    const late = this.rand() < this.reorder ? 3 : 0;
    this.#enqueue({ at: this.now + this.delay + late, bytes, src, dst });
    if (this.rand() < this.duplicate) this.#enqueue({ at: this.now + this.delay + 1, bytes, src, dst });
    return true;
  }
  #enqueue(f: InFlight): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].at > f.at) i--;
    this.queue.splice(i, 0, f);
  }
  /** Delivers what has arrived by `now` to `to`. */
  deliver(now: number, to: TcpSocket, h: TcpHeader): number {
    let n = 0;
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      const f = this.queue.shift()!;
      const at = parseTcp(f.bytes, 0, f.bytes.length, f.src, f.dst, h);
      to.process(now, f.src, f.dst, h, f.bytes, at, f.bytes.length - at);
      n++;
    }
    return n;
  }
  nextArrival(): number {
    return this.queue.length > 0 ? this.queue[0].at : Infinity;
  }
}

function pattern(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + salt + (i >>> 11)) & 0xff;
  return b;
}

interface Run {
  aGot: Uint8Array;
  bGot: Uint8Array;
  now: number;
  a: TcpSocket;
  b: TcpSocket;
  ab: Link;
  ba: Link;
}

/**
 * B connects to A (listening); B sends `bToA` bytes, A sends `aToB`; each closes after sending
 * all; runs until both are closed (or TIME-WAIT) or the virtual clock passes `limit` ms.
 */
export function transfer(
  bToA: number,
  aToB: number,
  loss: number,
  seed: number,
  limit = 600_000,
  reorder = 0,
  duplicate = 0,
): Run {
  const rand = rng(seed);
  const ab = new Link(1500, 1, loss, rand);
  const ba = new Link(1500, 1, loss, rand);
  ab.reorder = ba.reorder = reorder;
  ab.duplicate = ba.duplicate = duplicate;
  const isn = new IsnGenerator(new Uint8Array(16).fill(7));
  const cfg = { rxBufferSize: 65536, txBufferSize: 65536, isn, timeWait: 1000 };
  const a = new TcpSocket(cfg);
  const b = new TcpSocket(cfg);
  a.listen(A_IP, 5001);
  b.connect(B_IP, 40000, A_IP, 5001, 0);
  const fromB = pattern(bToA, 1);
  const fromA = pattern(aToB, 2);
  const aGot = new Uint8Array(bToA);
  const bGot = new Uint8Array(aToB);
  let aSent = 0, bSent = 0, aRecv = 0, bRecv = 0;
  let aEof = false, bEof = false;
  const h = new TcpHeader();
  let now = 0;
  for (let iter = 0; iter < 2_000_000; iter++) {
    ab.deliver(now, b, h);
    ba.deliver(now, a, h);
    // Applications.
    if (a.maySend && a.isEstablished && aSent < aToB) aSent += a.send(fromA, aSent, aToB - aSent);
    if (b.maySend && b.isEstablished && bSent < bToA) bSent += b.send(fromB, bSent, bToA - bSent);
    if (a.maySend && a.isEstablished && aSent === aToB) a.close();
    if (b.maySend && b.isEstablished && bSent === bToA) b.close();
    for (let n; !aEof && (n = a.recv(aGot, aRecv, Math.min(5000, aGot.length - aRecv))) !== 0;) {
      if (n < 0) aEof = true;
      else aRecv += n;
      if (aRecv === aGot.length && a.recvQueue === 0 && !a.mayRecv) aEof = true;
    }
    for (let n; !bEof && (n = b.recv(bGot, bRecv, Math.min(5000, bGot.length - bRecv))) !== 0;) {
      if (n < 0) bEof = true;
      else bRecv += n;
      if (bRecv === bGot.length && b.recvQueue === 0 && !b.mayRecv) bEof = true;
    }
    ab.now = ba.now = now;
    a.dispatch(now, ab);
    b.dispatch(now, ba);
    if (a.state === "Closed" && b.state === "Closed") break;
    if (now > limit) break;
    const next = Math.min(a.pollAt(), b.pollAt(), ab.nextArrival(), ba.nextArrival());
    if (next === Infinity) break;
    now = Math.max(now, next === 0 ? now : next);
    if (next === 0 || next <= now) {
      // Something is due at once: run again at the same time, but never spin in place.
      if (ab.nextArrival() > now && ba.nextArrival() > now && a.pollAt() !== 0 && b.pollAt() !== 0) now++;
    }
  }
  return { aGot: aGot.subarray(0, aRecv), bGot: bGot.subarray(0, bRecv), now, a, b, ab, ba };
}

Deno.test("TCP pipe: 1 MiB one way and 100 KiB back arrive byte-exact over a clean link", () => {
  const r = transfer(1 << 20, 100_000, 0, 1);
  assert.equal(r.aGot.length, 1 << 20);
  assertBytes(r.aGot, pattern(1 << 20, 1), "r.aGot");
  assertBytes(r.bGot, pattern(100_000, 2), "r.bGot");
  assert.equal(r.a.state, "Closed");
  assert.equal(r.b.state, "Closed");
  assert.equal(r.a.stats.retransmits + r.b.stats.retransmits, 0, "no loss, no retransmission");
  assert.equal(r.a.closeReason, "Closed");
});

Deno.test("TCP pipe: 1 MiB arrives byte-exact with 1 % seeded loss each way", () => {
  for (const seed of [7, 99]) {
    const r = transfer(1 << 20, 50_000, 0.01, seed);
    assert.ok(r.ab.lost + r.ba.lost > 0, "the link lost segments");
    assert.equal(r.aGot.length, 1 << 20, `seed ${seed}: got ${r.aGot.length} by t=${r.now}`);
    assertBytes(r.aGot, pattern(1 << 20, 1), "r.aGot");
    assertBytes(r.bGot, pattern(50_000, 2), "r.bGot");
    assert.ok(r.a.stats.retransmits + r.b.stats.retransmits > 0);
    assert.ok(r.b.stats.fastRetransmits > 0, "losses inside a window are repaired by fast retransmit");
    assert.ok(r.a.stats.outOfOrder > 0, "segments after a hole were kept");
    assert.equal(r.a.state, "Closed");
    assert.equal(r.b.state, "Closed");
  }
});

Deno.test("TCP pipe: 1 MiB byte-exact through reordering (3 %), duplication (2 %) and loss (1 %)", () => {
  const r = transfer(1 << 20, 50_000, 0.01, 5, 600_000, 0.03, 0.02);
  assertBytes(r.aGot, pattern(1 << 20, 1), "r.aGot");
  assertBytes(r.bGot, pattern(50_000, 2), "r.bGot");
  assert.ok(r.a.stats.outOfOrder > 0);
  assert.ok(r.a.stats.dropOutOfWindow > 0, "duplicates were recognized as such");
  assert.equal(r.a.state, "Closed");
  assert.equal(r.b.state, "Closed");
});

Deno.test("TCP pipe: 10 % loss still delivers every byte (timeouts and backoff)", () => {
  const r = transfer(200_000, 20_000, 0.1, 3, 3_600_000);
  assertBytes(r.aGot, pattern(200_000, 1), "r.aGot");
  assertBytes(r.bGot, pattern(20_000, 2), "r.bGot");
  assert.ok(r.b.stats.timeouts > 0);
});

Deno.test("TCP pipe: simultaneous open and simultaneous close", () => {
  const isn = new IsnGenerator(new Uint8Array(16).fill(3));
  const ab = new Link(1500, 5, 0, rng(1));
  const ba = new Link(1500, 5, 0, rng(2));
  const a = new TcpSocket({ isn, timeWait: 100 });
  const b = new TcpSocket({ isn, timeWait: 100 });
  a.connect(A_IP, 7000, B_IP, 7001, 0);
  b.connect(B_IP, 7001, A_IP, 7000, 0);
  const h = new TcpHeader();
  const run = (until: number, step = 1) => {
    for (let now = until - 100; now <= until; now += step) {
      ab.now = ba.now = now;
      ab.deliver(now, b, h);
      ba.deliver(now, a, h);
      a.dispatch(now, ab);
      b.dispatch(now, ba);
    }
  };
  run(100);
  assert.equal(a.state, "Established");
  assert.equal(b.state, "Established");
  a.send(new TextEncoder().encode("ping"));
  b.send(new TextEncoder().encode("pong"));
  a.close();
  b.close();
  ab.now = ba.now = 101;
  a.dispatch(101, ab);
  b.dispatch(101, ba);
  assert.equal(a.state, "FinWait1");
  run(200);
  // Both FINs crossed: CLOSING on both sides, then TIME-WAIT, then closed after 2 MSL.
  const buf = new Uint8Array(10);
  assert.equal(new TextDecoder().decode(buf.subarray(0, a.recv(buf))), "pong");
  assert.equal(a.recv(buf), -1, "end of stream");
  assert.equal(new TextDecoder().decode(buf.subarray(0, b.recv(buf))), "ping");
  assert.equal(a.state, "TimeWait");
  assert.equal(b.state, "TimeWait");
  run(400);
  assert.equal(a.state, "Closed");
  assert.equal(b.state, "Closed");
});
