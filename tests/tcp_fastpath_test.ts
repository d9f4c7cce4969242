/**
 * Header prediction (the TCP receive fast path) against the general path: the same transfers, on
 * the same virtual clock with the same seeded loss, reordering and duplication, run once with the
 * fast path and once without; every segment either side sends, every counter and every byte
 * received must be the same.
 */
import assert from "node:assert/strict";
import { type ByteRing, IsnGenerator, type TcpEgress, TcpSocket } from "../src/net/socket/mod.ts";
import { setTcpHeaderPrediction, tcpHeaderPredictions } from "../src/net/socket/tcp.ts";
import {
  emitTcp,
  IPPROTO_TCP,
  parseTcp,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
  TcpHeader,
  tcpHeaderLength,
} from "../src/net/wire/mod.ts";
import { rng } from "./_tcp_harness.ts";
import { ipFrame } from "./_fixtures.ts";
import { PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const A_IP = 0xc0a80001;
const B_IP = 0xc0a80002;

/** One direction: delay 1 ms, seeded loss, reordering (3 ms late) and duplication; a hash of all it carried. */
class Wire implements TcpEgress {
  readonly mtu = 1500;
  now = 0;
  hash = 0x811c9dc5;
  segments = 0;
  readonly queue: { at: number; bytes: Uint8Array; src: number; dst: number }[] = [];
  constructor(
    readonly rand: () => number,
    readonly loss: number,
    readonly reorder: number,
    readonly dup: number,
  ) {}
  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean {
    const hl = tcpHeaderLength(h);
    const bytes = new Uint8Array(hl + length);
    payload.peek(from, bytes, hl, length);
    emitTcp(bytes, 0, bytes.length, src, dst, h, length);
    this.segments++;
    for (const x of bytes) this.hash = Math.imul(this.hash ^ x, 0x01000193) >>> 0;
    if (this.rand() < this.loss) return true;
    const at = this.now + 1 + (this.rand() < this.reorder ? 3 : 0);
    this.#put({ at, bytes, src, dst });
    if (this.rand() < this.dup) this.#put({ at: at + 1, bytes, src, dst });
    return true;
  }
  #put(f: { at: number; bytes: Uint8Array; src: number; dst: number }): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].at > f.at) i--;
    this.queue.splice(i, 0, f);
  }
  deliver(now: number, to: TcpSocket, h: TcpHeader): void {
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      const f = this.queue.shift()!;
      const at = parseTcp(f.bytes, 0, f.bytes.length, f.src, f.dst, h);
      to.process(now, f.src, f.dst, h, f.bytes, at, f.bytes.length - at);
    }
  }
  get next(): number {
    return this.queue.length > 0 ? this.queue[0].at : Infinity;
  }
}

interface Outcome {
  hashes: [number, number];
  segments: [number, number];
  stats: [string, string];
  got: [number, number];
  end: number;
}

/**
 * B connects to A; B sends `bToA` bytes in chunks of up to `chunk`, A sends `aToB`, both close;
 * A reads in pieces of `readSize` (a small one keeps the window moving). Runs on a virtual clock.
 */
function run(
  prediction: boolean,
  seed: number,
  o: {
    bToA: number;
    aToB: number;
    loss: number;
    reorder: number;
    dup: number;
    chunk: number;
    readSize: number;
  },
): Outcome {
  setTcpHeaderPrediction(prediction);
  try {
    const rand = rng(seed);
    const ab = new Wire(rand, o.loss, o.reorder, o.dup);
    const ba = new Wire(rand, o.loss, o.reorder, o.dup);
    const isn = new IsnGenerator(new Uint8Array(16).fill(3));
    const cfg = {
      rxBufferSize: 16384,
      txBufferSize: 16384,
      isn,
      timeWait: 100,
      ackDelay: 5,
      nagle: seed % 2 === 0,
    };
    const a = new TcpSocket(cfg);
    const b = new TcpSocket(cfg);
    a.listen(A_IP, 5001);
    b.connect(B_IP, 40000, A_IP, 5001, 0);
    const src = Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) & 0xff);
    const sink = new Uint8Array(70000);
    let aSent = 0, bSent = 0, aGot = 0, bGot = 0;
    let check = 0;
    const h = new TcpHeader();
    let now = 0;
    for (let iter = 0; iter < 300_000 && now < 200_000; iter++) {
      ab.deliver(now, b, h);
      ba.deliver(now, a, h);
      if (b.isEstablished && b.maySend) {
        if (bSent < o.bToA) bSent += b.send(src, bSent % 251, Math.min(o.chunk, o.bToA - bSent));
        else b.close();
      }
      if (a.isEstablished && a.maySend) {
        if (aSent < o.aToB) aSent += a.send(src, aSent % 251, Math.min(o.chunk, o.aToB - aSent));
        else a.close();
      }
      for (let n; (n = a.recv(sink, 0, o.readSize)) > 0;) {
        for (let i = 0; i < n; i++) check = Math.imul(check ^ sink[i], 0x01000193) >>> 0;
        aGot += n;
      }
      for (let n; (n = b.recv(sink, 0, o.readSize)) > 0;) {
        for (let i = 0; i < n; i++) check = Math.imul(check ^ sink[i], 0x01000193) >>> 0;
        bGot += n;
      }
      ab.now = ba.now = now;
      a.dispatch(now, ab);
      b.dispatch(now, ba);
      if (a.state === "Closed" && b.state === "Closed") break;
      const next = Math.min(a.pollAt(), b.pollAt(), ab.next, ba.next);
      if (next === Infinity) break;
      now = next > now
        ? next
        : now + (ab.next > now && ba.next > now && a.pollAt() !== 0 && b.pollAt() !== 0 ? 1 : 0);
    }
    assert.equal(aGot, o.bToA, `seed ${seed}: A got every byte of B's`);
    assert.equal(bGot, o.aToB, `seed ${seed}: B got every byte of A's`);
    return {
      hashes: [ab.hash, ba.hash],
      segments: [ab.segments, ba.segments],
      stats: [JSON.stringify(a.stats), JSON.stringify(b.stats)],
      got: [aGot, check],
      end: now,
    };
  } finally {
    setTcpHeaderPrediction(true);
  }
}

Deno.test("header prediction: every segment, counter and byte equals the general path's", async (t) => {
  const cases = [
    {
      name: "clean, bulk one way",
      bToA: 300_000,
      aToB: 0,
      loss: 0,
      reorder: 0,
      dup: 0,
      chunk: 65536,
      readSize: 65536,
    },
    {
      name: "clean, both ways, small reads",
      bToA: 100_000,
      aToB: 80_000,
      loss: 0,
      reorder: 0,
      dup: 0,
      chunk: 3000,
      readSize: 700,
    },
    {
      name: "ping-pong sized writes",
      bToA: 2000,
      aToB: 2000,
      loss: 0,
      reorder: 0,
      dup: 0,
      chunk: 1,
      readSize: 1,
    },
    {
      name: "2 % loss",
      bToA: 200_000,
      aToB: 30_000,
      loss: 0.02,
      reorder: 0,
      dup: 0,
      chunk: 65536,
      readSize: 4096,
    },
    {
      name: "loss, reordering, duplicates",
      bToA: 150_000,
      aToB: 50_000,
      loss: 0.03,
      reorder: 0.05,
      dup: 0.05,
      chunk: 9000,
      readSize: 1500,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      for (const seed of [1, 2, 3]) {
        const before = tcpHeaderPredictions();
        const fast = run(true, seed, c);
        const predicted = tcpHeaderPredictions() - before;
        assert.ok(predicted > 0, `seed ${seed}: the fast path took no segment`);
        const general = run(false, seed, c);
        assert.equal(tcpHeaderPredictions() - before, predicted, "off: the fast path takes none");
        assert.deepEqual(fast, general, `seed ${seed}`);
      }
    });
  }
});

Deno.test("interface: in-order data copied into the ring while its checksum is verified; a bad sum leaves nothing", () => {
  const w = wireHost();
  w.learnPeer();
  using l = w.iface.listenTcp(81, { socket: { rxBufferSize: 4096 } });
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: IPPROTO_TCP };
  const t = new TcpHeader();
  const seg = (flags: number, seq: number, ack: number, data: Uint8Array = new Uint8Array(0)) => {
    t.reset();
    Object.assign(t, { srcPort: 40000, dstPort: 81, seq, ack, flags, window: 65535 });
    const b = new Uint8Array(20 + data.length);
    b.set(data, 20);
    emitTcp(b, 0, b.length, PEER, US, t, data.length);
    return ipFrame(spec, b);
  };
  const answer = () => {
    const frames = w.sent();
    assert.equal(frames.length, 1, `one answer (got ${frames.length})`);
    parseTcp(frames[0], 34, frames[0].length, US, PEER, t);
    return t;
  };
  w.inject(seg(TCP_SYN, 1000, 0));
  const iss = answer().seq;
  w.inject(seg(TCP_ACK, 1001, iss + 1));
  const s = l.accept()!;
  assert.equal(s.state, "Established");
  const rand = rng(7);
  const chunk = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const got: number[] = [];
  const drain = () => {
    const b = new Uint8Array(8192);
    const n = s.recv(b);
    got.push(...b.subarray(0, n));
    w.iface.poll(w.now); // the window update goes out now, not as if answering the next segment
    w.sent();
  };
  let seq = 1001;
  const want: number[] = [];
  // Sizes around the placement threshold, and enough of them to wrap the 4096-byte ring.
  for (const n of [1000, 255, 256, 1460, 300, 1460, 1460, 700, 1200]) {
    const good = chunk(n);
    // The same segment with a bit flipped in its payload, then in its header: dropped as malformed.
    for (const at of [34 + 20 + (n >> 1), 34 + 14]) {
      const bad = seg(TCP_ACK | TCP_PSH, seq, iss + 1, good);
      bad[at] ^= 0x10;
      const before = { q: s.recvQueue, m: w.iface.stats.rxMalformed, i: s.stats.segmentsIn };
      w.inject(bad);
      assert.equal(w.sent().length, 0, `${n} bytes, bad sum at ${at}: no answer`);
      assert.equal(w.iface.stats.rxMalformed, before.m + 1, "counted as malformed");
      assert.equal(s.recvQueue, before.q, "nothing readable");
      assert.equal(s.stats.segmentsIn, before.i, "the socket never saw it");
    }
    w.inject(seg(TCP_ACK | TCP_PSH, seq, iss + 1, good));
    w.sent();
    seq += n;
    want.push(...good);
    assert.equal(s.recvQueue + got.length, want.length, `${n} bytes taken`);
    if (s.recvQueue > 2048) drain();
  }
  drain();
  assert.deepEqual(got, want, "every byte as sent, none of the corrupted copies");
});
