/**
 * The storage under TCP sockets: the byte ring (wrap-around, out-of-order writes, sums), the
 * out-of-order assembler (merging, bounds) against a reference model, and SipHash-2-4 against
 * the reference vectors of its authors.
 */
import assert from "node:assert/strict";
import { Assembler, ByteRing, copyBytes, IsnGenerator, SipHash24 } from "../src/net/socket/mod.ts";
import { sumWords } from "../src/net/wire/mod.ts";
import { kindOf, rng } from "./_tcp_harness.ts";

/**
 * `rounds` random rings of `minCap … minCap + capSpan - 1` bytes, filled across the wrap:
 * `peekAndSum` of a random range copies it and its sum equals `sumWords` over the source.
 */
function checkPeekAndSum(seed: number, rounds: number, minCap: number, capSpan: number): void {
  const rand = rng(seed);
  const fold = (s: number) => {
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  for (let n = 0; n < rounds; n++) {
    const cap = minCap + Math.floor(rand() * capSpan);
    const r = new ByteRing(cap);
    const pre = Math.floor(rand() * cap);
    r.write(new Uint8Array(pre), 0, pre);
    r.consume(pre);
    const src = Uint8Array.from({ length: cap }, () => Math.floor(rand() * 256));
    r.write(src, 0, cap);
    const from = Math.floor(rand() * cap);
    const len = Math.floor(rand() * (cap - from + 1));
    const dst = new Uint8Array(cap + 16);
    const at = Math.floor(rand() * 8);
    const sum = r.peekAndSum(from, new DataView(dst.buffer), at, len);
    assert.deepEqual(dst.subarray(at, at + len), src.subarray(from, from + len));
    assert.equal(
      fold(sum),
      fold(sumWords(src, from, from + len)),
      `cap ${cap} pre ${pre} from ${from} len ${len}`,
    );
  }
}

Deno.test("ByteRing: FIFO across the wrap, partial writes when full, peek without consuming", () => {
  const r = new ByteRing(10);
  assert.equal(r.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7), 0, 7), 7);
  const out = new Uint8Array(10);
  assert.equal(r.read(out, 0, 5), 5);
  assert.deepEqual(out.subarray(0, 5), Uint8Array.of(1, 2, 3, 4, 5));
  assert.equal(r.write(Uint8Array.of(8, 9, 10, 11, 12, 13, 14, 15, 16), 0, 9), 8, "only 8 fit");
  assert.equal(r.length, 10);
  assert.equal(r.free, 0);
  assert.equal(r.contiguous(0, 10), 5, "positions 0..4 sit at the end of storage");
  r.peek(3, out, 0, 6);
  assert.deepEqual(out.subarray(0, 6), Uint8Array.of(9, 10, 11, 12, 13, 14));
  assert.equal(r.read(out, 0, 10), 10);
  assert.deepEqual(out, Uint8Array.of(6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  assert.equal(r.read(out, 0, 10), 0);
});

Deno.test("ByteRing: bytes written past the end keep their place when the ring empties (out-of-order data)", () => {
  const r = new ByteRing(8);
  r.write(Uint8Array.of(1, 2, 3), 0, 3);
  r.writeAt(5, Uint8Array.of(60, 70), 0, 2); // positions 5, 6: not readable yet
  const out = new Uint8Array(8);
  r.read(out, 0, 3); // empty now
  r.writeAt(0, Uint8Array.of(30, 40), 0, 2); // positions 0, 1 (the old 3, 4)
  r.commit(4);
  assert.equal(r.read(out, 0, 4), 4);
  assert.deepEqual(out.subarray(0, 4), Uint8Array.of(30, 40, 60, 70));
});

Deno.test("ByteRing: peekAndSum equals a copy then sumWords, whatever the wrap and parity", () => {
  checkPeekAndSum(11, 300, 1, 64);
});

Deno.test("ByteRing: segment-sized peekAndSum (the C copy) across the wrap equals a copy then sumWords", () => {
  checkPeekAndSum(12, 200, 64, 4000);
});

Deno.test("ByteRing: writes from and reads into alternating arrays of every size land in the right one", () => {
  // Each ring keeps a view of the last array written from and the last read into: switching
  // between arrays (a send from the caller's buffer, a receive from the pool's) must never reuse
  // the other array's view.
  const rand = rng(13);
  const r = new ByteRing(8192);
  const sources = [0, 1, 2].map((k) => Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + k * 101) & 0xff));
  const sinks = [new Uint8Array(3000), new Uint8Array(3000), new Uint8Array(3000).subarray(5)];
  const model: number[] = [];
  for (let step = 0; step < 2000; step++) {
    const len = [1, 3, 15, 16, 17, 255, 256, 257, 1460, 2900][Math.floor(rand() * 10)];
    if (rand() < 0.5) {
      const s = sources[Math.floor(rand() * 3)];
      const from = Math.floor(rand() * (s.length - len));
      const n = r.write(s, from, len);
      for (let i = 0; i < n; i++) model.push(s[from + i]);
    } else {
      const d = sinks[Math.floor(rand() * 3)];
      const to = Math.floor(rand() * (d.length - len));
      const n = r.read(d, to, len);
      const want = model.splice(0, n);
      for (let i = 0; i < n; i++) {
        if (d[to + i] !== want[i]) {
          assert.fail(`step ${step}: byte ${i} of ${n} is ${d[to + i]}, want ${want[i]}`);
        }
      }
    }
  }
});

Deno.test("ByteRing: a write from the ring's own memory (its storage or a view of it) appends the source's bytes as they were", () => {
  // The source lies in the very space being written, and the write wraps: copied in two parts
  // straight from it, the first part overwrites the bytes the second part still reads.
  for (const [cap, first] of [[64, 5], [64, 30], [1024, 300]]) {
    for (const view of [false, true]) {
      const r = new ByteRing(cap);
      const filler = Uint8Array.from({ length: cap }, (_, i) => (i * 7 + 3) & 255);
      r.write(filler, 0, cap - first);
      r.consume(cap - first - 4); // 4 bytes held; the free space starts `first` bytes before the end
      const from = cap - first - 2;
      const len = first + 2; // the source runs to the end of storage: its last 2 bytes go after the wrap
      const want = r.storage.slice(from, from + len);
      const held = r.storage.slice(cap - first - 4, cap - first);
      const src = view ? r.storage.subarray(1) : r.storage;
      assert.equal(r.write(src, view ? from - 1 : from, len), len);
      const got = new Uint8Array(4 + len);
      assert.equal(r.read(got, 0, got.length), got.length);
      assert.deepEqual(got.subarray(0, 4), held, `cap ${cap} first ${first} view ${view}: the held bytes`);
      assert.deepEqual(got.subarray(4), want, `cap ${cap} first ${first} view ${view}: the written bytes`);
    }
  }
});

Deno.test("ByteRing: copies check their arrays, positions and ranges (detached, fractional, BigInt, past the end, over held bytes)", () => {
  const r = new ByteRing(64);
  r.write(Uint8Array.of(1, 2, 3, 4), 0, 4);
  const gone = new Uint8Array(new ArrayBuffer(8));
  structuredClone(gone.buffer, { transfer: [gone.buffer] }); // detached: length 0
  const bytes = new Uint8Array(16);
  const any = (x: unknown) => x as number;
  for (
    const [what, f] of [
      ["write from a detached array", () => r.write(gone, 0, 1)],
      ["read into a detached array", () => r.read(gone, 0, 1)],
      ["write at 1.5", () => r.write(bytes, 1.5, 1)],
      ["write of NaN bytes", () => r.write(bytes, 0, NaN)],
      ["write of a BigInt length", () => r.write(bytes, 0, any(2n))],
      ["write past the end", () => r.write(bytes, 10, 7)],
      ["peek into a string", () => r.peek(0, any("x") as unknown as Uint8Array, 0, 1)],
      ["writeAt from -1", () => r.writeAt(0, bytes, -1, 1)],
      // Positions and counts are whole numbers too: consume(0.5) had left 5.5 bytes held.
      ["writeAt at 1.5", () => r.writeAt(4.5, bytes, 0, 1)],
      ["writeAt over the bytes held", () => r.writeAt(3, bytes, 0, 1)],
      ["commit of 2.5", () => r.commit(2.5)],
      ["consume of 0.5", () => r.consume(0.5)],
      ["peek at 1.5", () => r.peek(1.5, bytes, 0, 1)],
      ["peek of 1.5 bytes", () => r.peek(0, bytes, 0, 1.5)],
      ["peekAndSum into 0.5", () => r.peekAndSum(0, new DataView(bytes.buffer), 0.5, 1)],
    ] as const
  ) assert.equal(kindOf(f), "InvalidArgument", what);
  assert.equal(r.length, 4, "the refused calls changed nothing");
  const held = new Uint8Array(4);
  r.peek(0, held, 0, 4);
  assert.deepEqual(held, Uint8Array.of(1, 2, 3, 4));
  copyBytes(gone, 0, bytes, 0, 0); // nothing to copy: no view of the detached buffer is made
  copyBytes(bytes, 0, gone, 0, 0);
  assert.match(
    String((() => {
      try {
        r.write(gone, 0, 1);
      } catch (e) {
        return e;
      }
    })()),
    /detached/,
  );
  assert.equal(r.write(gone, 0, 0), 0, "nothing from nothing");
});

Deno.test("ByteRing: capacity is validated", () => {
  for (const c of [0, -1, 1.5, 2 ** 31]) {
    assert.equal(kindOf(() => new ByteRing(c)), "InvalidArgument", `${c}`);
  }
});

Deno.test("Assembler: merges touching and overlapping ranges, refuses one range too many, advances", () => {
  const a = new Assembler(3);
  assert.ok(a.add(10, 5)); // [10,15)
  assert.ok(a.add(20, 5)); // [20,25)
  assert.ok(a.add(30, 5)); // [30,35)
  assert.equal(a.add(40, 1), false, "a fourth disjoint range");
  assert.equal(a.count, 3);
  assert.ok(a.add(15, 5), "fills [15,20): joins two ranges");
  assert.deepEqual([a.count, a.start(0), a.end(0), a.start(1), a.end(1)], [2, 10, 25, 30, 35]);
  assert.ok(a.add(0, 100), "covers everything");
  assert.deepEqual([a.count, a.start(0), a.end(0)], [1, 0, 100]);
  assert.equal(a.removeFront(), 100);
  assert.ok(a.isEmpty);
  a.add(5, 5);
  assert.equal(a.removeFront(), 0, "the front is missing");
  a.add(20, 5);
  a.advance(7); // 7 bytes arrived in order: [5,10) → [0,3), [20,25) → [13,18)
  assert.deepEqual([a.start(0), a.end(0), a.start(1), a.end(1)], [0, 3, 13, 18]);
  assert.equal(a.removeFront(), 3);
  assert.deepEqual([a.count, a.start(0), a.end(0)], [1, 10, 15]);
  a.advance(20);
  assert.ok(a.isEmpty);
  assert.equal(kindOf(() => new Assembler(0)), "InvalidArgument");
});

Deno.test("Assembler: random segments against a bitmap model", () => {
  const rand = rng(5);
  for (let round = 0; round < 200; round++) {
    const a = new Assembler(4);
    const have = new Uint8Array(200);
    for (let k = 0; k < 30; k++) {
      const off = Math.floor(rand() * 150);
      const len = 1 + Math.floor(rand() * 30);
      if (a.add(off, len)) have.fill(1, off, off + len);
      // The model: ranges are exactly the runs of 1s.
      const runs: number[] = [];
      for (let i = 0; i < have.length; i++) {
        if (have[i] && (i === 0 || !have[i - 1])) runs.push(i);
        if (have[i] && (i === have.length - 1 || !have[i + 1])) runs.push(i + 1);
      }
      const got: number[] = [];
      for (let i = 0; i < a.count; i++) got.push(a.start(i), a.end(i));
      assert.deepEqual(got, runs, `round ${round} step ${k}`);
      assert.ok(a.count <= 4);
    }
  }
});

Deno.test("SipHash-2-4: the reference vectors (key 00..0f, messages 00..n-1)", () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const h = new SipHash24(key);
  const msg = Uint8Array.from({ length: 64 }, (_, i) => i);
  const want: [number, string][] = [
    [0, "726fdb47dd0e0e31"],
    [1, "74f839c593dc67fd"],
    [8, "93f5f5799a932462"],
    [12, "751e8fbc860ee5fb"],
    [15, "a129ca6149be45e5"],
  ];
  for (const [n, hex] of want) {
    h.hash(msg, 0, n);
    assert.equal(h.hi.toString(16).padStart(8, "0") + h.lo.toString(16).padStart(8, "0"), hex, `length ${n}`);
  }
  // hash3 is the 12-byte hash of three little-endian words.
  const lo = h.hash3(0x03020100, 0x07060504, 0x0b0a0908);
  assert.equal(h.hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0"), "751e8fbc860ee5fb");
  assert.equal(kindOf(() => new SipHash24(new Uint8Array(15))), "InvalidArgument");
});

Deno.test("ISNs (RFC 6528): keyed per 4-tuple, advancing with the 4 µs clock", () => {
  const g = new IsnGenerator(new Uint8Array(16).fill(1));
  const a = g.next(1, 1000, 2, 80, 0);
  assert.equal(g.next(1, 1000, 2, 80, 1), (a + 250) >>> 0, "250 ticks per millisecond");
  assert.notEqual(g.next(1, 1001, 2, 80, 0), a, "another port, another number");
  assert.notEqual(new IsnGenerator(new Uint8Array(16).fill(2)).next(1, 1000, 2, 80, 0), a, "another key");
  const r1 = new IsnGenerator().next(1, 1000, 2, 80, 0);
  const r2 = new IsnGenerator().next(1, 1000, 2, 80, 0);
  assert.notEqual(r1, r2, "random keys differ");
  assert.notEqual(g.portOffset(1, 2, 80), g.portOffset(1, 2, 81));
});

Deno.test("copyBytes: overlapping ranges of one buffer copy as memmove (copyWithin) does, lengths 0 … 100 and C's", () => {
  const fresh = () => Uint8Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 0xff);
  for (const len of [...Array(101).keys(), 256, 300]) {
    for (const [to, from] of [[1, 0], [3, 0], [4, 1], [9, 2], [0, 1], [2, 7], [5, 5]]) {
      const got = fresh();
      const want = fresh();
      copyBytes(got, to, got, from, len); // the same view
      want.copyWithin(to, from, from + len);
      assert.deepEqual(got, want, `same view: len ${len} to ${to} from ${from}`);
      const buf = fresh();
      const low = new Uint8Array(buf.buffer, 0, 400);
      const high = new Uint8Array(buf.buffer, 2, 400); // high[i] is low[i + 2]
      copyBytes(high, to, low, from, len); // two views of one buffer: destination 2 bytes further
      const want2 = fresh();
      want2.copyWithin(to + 2, from, from + len);
      assert.deepEqual(buf, want2, `two views: len ${len} to ${to} from ${from}`);
    }
  }
});

Deno.test("copyBytes: every length 0 … 100 at unaligned offsets equals a byte loop", () => {
  const src = Uint8Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 0xff);
  for (let len = 0; len <= 100; len++) {
    for (const [to, from] of [[0, 0], [1, 3], [7, 2], [3, 5]]) {
      const dst = new Uint8Array(128).fill(0xee);
      copyBytes(dst, to, src, from, len);
      const want = new Uint8Array(128).fill(0xee);
      for (let i = 0; i < len; i++) want[to + i] = src[from + i];
      assert.deepEqual(dst, want, `len ${len} to ${to} from ${from}`);
    }
  }
});
