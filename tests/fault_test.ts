/**
 * FaultInjector: each fault with exact counts for a seed (byte fixtures over a LoopbackDevice, a
 * manual clock for the timed ones), checksums rejecting corrupted frames at an Interface, the
 * argument checks, and the same faults over a real DPDK net_ring port.
 */
import assert from "node:assert/strict";
import {
  FaultInjector,
  type FaultInjectorOptions,
  Interface,
  LoopbackDevice,
  parseIpv4Address,
  PortDevice,
  PortError,
} from "../mod.ts";
import { thrown } from "./_assert.ts";
import { testEal } from "./_eal.ts";
import { udpFrame } from "./_fixtures.ts";
import { ringPort } from "./_ring.ts";

const SRC_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const DST_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);

/** Frame `i`: Ethernet (EtherType 0x88b5, local experimental), its index as a u32, a pattern. */
function frame(i: number, length = 60 + (i % 64)): Uint8Array {
  const f = new Uint8Array(length);
  f.set(DST_MAC, 0);
  f.set(SRC_MAC, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  new DataView(f.buffer).setUint32(14, i);
  for (let k = 18; k < length; k++) f[k] = (i + k) & 0xff;
  return f;
}

const indexOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(14);

/** Writes `frames` through `dev` (txSlot + copy), then flushes. */
function send(dev: FaultInjector, frames: Uint8Array[]): number {
  for (const f of frames) {
    const at = dev.txSlot(f.length);
    assert.ok(at >= 0);
    dev.txBytes.set(f, at);
  }
  return dev.flush();
}

/** Everything `dev` receives now (copies). */
function drain(dev: { receive: FaultInjector["receive"] }): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (dev.receive((b, s, l) => out.push(b.slice(s, s + l))) > 0) { /* until empty */ }
  return out;
}

/** A lossy loopback pair: `a` wrapped, frames sent on it received on `b`. */
function wrapped(options: FaultInjectorOptions) {
  const [a, b] = LoopbackDevice.pair(1500, 1 << 16);
  return { fi: new FaultInjector(a, options), a, b };
}

const N = 1000;
const FRAMES = Array.from({ length: N }, (_, i) => frame(i));

Deno.test("FaultInjector without faults passes every frame unchanged, in order", () => {
  const { fi, b } = wrapped({ seed: 1 });
  assert.equal(fi.mtu, 1500);
  assert.equal(send(fi, FRAMES), 0);
  const got = drain(b);
  assert.deepEqual(got, FRAMES);
  assert.equal(fi.stats.tx.frames, N);
  assert.equal(fi.stats.tx.passed, N);
  assert.equal(fi.stats.tx.bytes, FRAMES.reduce((s, f) => s + f.length, 0));
  assert.equal(fi.stats.tx.passedBytes, fi.stats.tx.bytes);
  assert.equal(fi.nextEventAt(), null);
});

Deno.test("drop: exact drops for a seed, the same ones again, others for another seed", () => {
  const run = (seed: number) => {
    const { fi, b } = wrapped({ seed, tx: { drop: 0.1 } });
    send(fi, FRAMES);
    const got = drain(b).map(indexOf);
    assert.equal(got.length + fi.stats.tx.dropped, N);
    assert.equal(fi.stats.tx.passed, got.length);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], "order kept");
    return { got, dropped: fi.stats.tx.dropped };
  };
  const r = run(7);
  assert.equal(r.dropped, 92); // seed 7's draws (binomial(1000, 0.1): 100 ± 9.5)
  assert.deepEqual(run(7).got, r.got, "the same seed drops the same frames");
  const other = run(8);
  assert.notDeepEqual(other.got, r.got, "another seed drops others");
  assert.ok(Math.abs(other.dropped - 100) < 40);
  // drop 1 drops all, drop 0 none.
  const all = wrapped({ seed: 1, tx: { drop: 1 } });
  send(all.fi, FRAMES);
  assert.equal(drain(all.b).length, 0);
  assert.equal(all.fi.stats.tx.dropped, N);
});

Deno.test("duplicate: each duplicated frame arrives twice, right after itself", () => {
  const { fi, b } = wrapped({ seed: 3, tx: { duplicate: 0.2 } });
  send(fi, FRAMES);
  const got = drain(b).map(indexOf);
  const d = fi.stats.tx.duplicated;
  assert.equal(d, 198); // seed 3's draws
  assert.equal(got.length, N + d);
  assert.equal(fi.stats.tx.passed, N + d);
  let twice = 0;
  for (let i = 0, want = 0; i < got.length; want++) {
    assert.equal(got[i], want);
    if (got[i + 1] === want) {
      twice++;
      i += 2;
    } else i++;
  }
  assert.equal(twice, d);
});

Deno.test("corrupt: exactly one bit flipped, inside the IP datagram", () => {
  const { fi, b } = wrapped({ seed: 5, tx: { corrupt: 0.3 } });
  send(fi, FRAMES);
  const got = drain(b);
  assert.equal(got.length, N);
  let changed = 0;
  for (let i = 0; i < N; i++) {
    let bits = 0;
    for (let k = 0; k < got[i].length; k++) {
      let x = got[i][k] ^ FRAMES[i][k];
      if (x !== 0) assert.ok(k >= 14, `byte ${k} of frame ${i}: the Ethernet header stays`);
      for (; x; x &= x - 1) bits++;
    }
    assert.ok(bits <= 1);
    changed += bits;
  }
  assert.equal(changed, fi.stats.tx.corrupted);
  assert.equal(changed, 307); // seed 5's draws

  // IPv4 in a 60-byte (padded) frame: the bit lands in the 28-byte datagram, never in the padding.
  const spec = { dstMac: DST_MAC, srcMac: SRC_MAC, src: 0x0a000001, dst: 0x0a000002 };
  const udp = udpFrame(spec, 1000, 2000, Uint8Array.of(1, 2, 3, 4));
  const padded = new Uint8Array(60);
  padded.set(udp);
  const c = wrapped({ seed: 9, tx: { corrupt: 1 } });
  send(c.fi, Array.from({ length: 200 }, () => padded));
  const corrupted = drain(c.b);
  assert.equal(corrupted.length, 200, "every corrupted frame arrives");
  assert.equal(c.fi.stats.tx.corrupted, 200);
  for (const f of corrupted) {
    const k = f.findIndex((x, j) => x !== padded[j]);
    assert.ok(k >= 14 && k < 14 + 32, `flipped byte ${k} is inside the datagram`);
  }
});

Deno.test("corrupt: the receiving Interface's checksums reject every corrupted datagram", () => {
  const A = parseIpv4Address("10.1.0.1");
  const B = parseIpv4Address("10.1.0.2");
  const spec = { dstMac: DST_MAC, srcMac: SRC_MAC, src: A, dst: B };
  const datagrams = Array.from({ length: 300 }, (_, i) => udpFrame(spec, 4000, 5000, frame(i, 200)));
  for (const rate of [0, 1]) {
    const [a, bDev] = LoopbackDevice.pair(1500, 4096);
    const fi = new FaultInjector(a, { seed: 11, tx: { corrupt: rate } });
    const b = new Interface(bDev, { mac: DST_MAC, addresses: [{ ip: B, prefix: 24 }] });
    using sock = b.bindUdp(5000, 1024);
    send(fi, datagrams);
    b.poll(0);
    while (b.poll(0)) { /* drain */ }
    let got = 0;
    while (sock.recvFrom() !== null) got++;
    if (rate === 0) {
      assert.equal(got, datagrams.length);
    } else {
      assert.equal(fi.stats.tx.corrupted, datagrams.length);
      assert.equal(got, 0, "no corrupted datagram reaches the socket");
      // Each was refused by a checksum (IP header or UDP), or, with its address or protocol
      // changed (the header checksum is verified after those), ignored as not ours.
      const s = b.stats;
      assert.equal(s.rxFrames, datagrams.length);
      assert.equal(
        s.rxMalformed + s.rxIgnored + s.rxOtherMac + s.rxBadSource + s.udpNoSocket,
        datagrams.length,
      );
      assert.ok(s.rxMalformed > datagrams.length * 0.8, `checksums rejected ${s.rxMalformed}`);
    }
  }
});

/** A manual clock: `clock.now` is what the injector reads. */
function manual() {
  const c = { now: 0, read: () => c.now };
  return c;
}

Deno.test("delay: frames are held until their time, and nextEventAt says when", () => {
  const clock = manual();
  const { fi, b } = wrapped({ seed: 1, tx: { delayMs: 10 }, clock: clock.read });
  send(fi, FRAMES.slice(0, 5));
  assert.equal(fi.stats.tx.held, 5);
  assert.equal(fi.nextEventAt(), 10);
  assert.equal(drain(b).length, 0);
  clock.now = 4;
  send(fi, FRAMES.slice(5, 8));
  clock.now = 9.999;
  fi.flush();
  assert.equal(drain(b).length, 0);
  clock.now = 10;
  fi.flush();
  assert.deepEqual(drain(b).map(indexOf), [0, 1, 2, 3, 4]);
  assert.equal(fi.nextEventAt(), 14);
  clock.now = 20;
  fi.receive(() => assert.fail("nothing comes in")); // receive releases due tx frames too
  assert.deepEqual(drain(b).map(indexOf), [5, 6, 7]);
  assert.equal(fi.nextEventAt(), null);
  assert.equal(fi.stats.tx.held, 0);
});

Deno.test("delay with jitter: each frame leaves within [delay, delay + jitter)", () => {
  const clock = manual();
  const { fi, b } = wrapped({ seed: 2, tx: { delayMs: 5, jitterMs: 3 }, clock: clock.read });
  send(fi, FRAMES.slice(0, 200));
  const arrival = new Map<number, number>();
  let overtaken = 0;
  let last = -1;
  for (let t = 0; t <= 8; t += 0.01) {
    clock.now = t;
    fi.flush();
    for (const i of drain(b).map(indexOf)) {
      arrival.set(i, t);
      if (i < last) overtaken++;
      last = Math.max(last, i);
    }
  }
  assert.equal(arrival.size, 200);
  for (const t of arrival.values()) assert.ok(t >= 5 && t < 8.01);
  assert.ok(overtaken > 50, "jitter reorders");
});

Deno.test("reorder: held-back frames are overtaken by the ones after them", () => {
  const clock = manual();
  const { fi, b } = wrapped({ seed: 4, tx: { reorder: 0.1, reorderMs: 3.5 }, clock: clock.read });
  const got: number[] = [];
  for (let i = 0; i < N; i++) { // one frame per ms
    clock.now = i;
    send(fi, [FRAMES[i]]);
    got.push(...drain(b).map(indexOf));
  }
  clock.now = N + 10;
  fi.flush();
  got.push(...drain(b).map(indexOf));
  assert.equal(got.length, N);
  assert.equal(fi.stats.tx.reordered, 103); // seed 4's draws
  // A frame held 3.5 ms arrives after the 3 sent after it (at i + 1, i + 2, i + 3): it is late.
  const late = new Set<number>();
  for (let k = 0; k < got.length; k++) {
    if (got.slice(k + 1).some((x) => x < got[k])) continue;
    if (got.slice(0, k).some((x) => x > got[k])) late.add(got[k]);
  }
  assert.equal(late.size, fi.stats.tx.reordered);
  // Sent at i and due at i + 3.5, it comes after the frames sent at i + 1 … i + 3 and before the
  // one sent at i + 4 (those not held back themselves).
  const pos = new Map(got.map((x, k) => [x, k]));
  for (const i of late) {
    for (let j = i + 1; j <= i + 4 && j < N; j++) {
      if (late.has(j)) continue;
      assert.equal(pos.get(j)! < pos.get(i)!, j < i + 4, `frame ${j} against held-back frame ${i}`);
    }
  }
  assert.deepEqual([...got].sort((x, y) => x - y), FRAMES.map((_, i) => i));
});

Deno.test("rate limit: a token bucket paces frames, and its full queue drops the tail", () => {
  const clock = manual();
  const { fi, b } = wrapped({
    seed: 1,
    tx: { rateBytesPerSec: 100_000, queueFrames: 10 },
    clock: clock.read,
  });
  // 50 frames of 1000 bytes at t = 0: the bucket starts full (1518 bytes), so the first leaves at
  // once, the second when 482 more bytes have come in (4.82 ms), each next one 10 ms later; 10 wait
  // in the queue, the other 39 are dropped.
  send(fi, Array.from({ length: 50 }, (_, i) => frame(i, 1000)));
  assert.deepEqual(drain(b).map(indexOf), [0]);
  assert.equal(fi.stats.tx.queued, 10);
  assert.equal(fi.stats.tx.queueDrops, 39);
  const times: number[] = [];
  const got: number[] = [];
  for (let t = fi.nextEventAt(); t !== null; t = fi.nextEventAt()) {
    clock.now = t;
    times.push(+t.toFixed(6));
    fi.flush();
    got.push(...drain(b).map(indexOf));
  }
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(times, [4.82, 14.82, 24.82, 34.82, 44.82, 54.82, 64.82, 74.82, 84.82, 94.82]);

  // Offered at twice the rate for 10 s (virtual), it delivers the rate.
  const c2 = manual();
  const s = wrapped({ seed: 1, tx: { rateBytesPerSec: 1_000_000, queueFrames: 20 }, clock: c2.read });
  let bytes = 0;
  for (let t = 0; t < 10_000; t += 0.5) { // 1000 bytes every 0.5 ms: 2 MB/s
    c2.now = t;
    send(s.fi, [frame(0, 1000)]);
    bytes += drain(s.b).reduce((n, f) => n + f.length, 0);
  }
  assert.ok(Math.abs(bytes - 10_000_000) <= 1518 + 20_000, `delivered ${bytes} bytes in 10 s at 1 MB/s`);
  assert.equal(s.fi.stats.tx.queueDrops + s.fi.stats.tx.passed + s.fi.stats.tx.held, 20_000);
});

Deno.test("queueFrames 0: a policer, frames without tokens are dropped at once", () => {
  const clock = manual();
  const { fi, b } = wrapped({
    seed: 1,
    tx: { rateBytesPerSec: 1000, burstBytes: 3000, queueFrames: 0 },
    clock: clock.read,
  });
  send(fi, Array.from({ length: 5 }, (_, i) => frame(i, 1000)));
  assert.deepEqual(drain(b).map(indexOf), [0, 1, 2]);
  assert.equal(fi.stats.tx.queueDrops, 2);
  assert.equal(fi.nextEventAt(), null);
});

Deno.test("rx faults apply to received frames, from a stream of their own", () => {
  const [a, b] = LoopbackDevice.pair(1500, 4096);
  const fi = new FaultInjector(b, { seed: 7, rx: { drop: 0.1 } });
  for (const f of FRAMES) {
    const at = a.txSlot(f.length);
    a.txBytes.set(f, at);
  }
  a.flush();
  const got = drain(fi);
  assert.equal(fi.stats.rx.frames, N);
  assert.equal(got.length, N - fi.stats.rx.dropped);
  assert.equal(fi.stats.rx.passed, got.length);
  assert.equal(fi.stats.tx.frames, 0);
  // Not tx's stream: seed 7 on tx drops 92 (see above).
  assert.equal(fi.stats.rx.dropped, 102);
  // At most `burst` frames per receive call.
  const fi2 = new FaultInjector(LoopbackDevice.pair()[0], { seed: 1, burst: 4, rx: {} });
  assert.equal(fi2.receive(() => {}), 0);
});

Deno.test("maxHeld bounds the frames held; beyond, they are dropped and counted", () => {
  const clock = manual();
  const { fi, b } = wrapped({ seed: 1, maxHeld: 16, tx: { delayMs: 1 }, clock: clock.read });
  send(fi, FRAMES.slice(0, 40));
  assert.equal(fi.stats.tx.held, 16);
  assert.equal(fi.stats.tx.heldOverflow, 24);
  clock.now = 1;
  fi.flush();
  assert.equal(drain(b).length, 16);
  fi.clear();
  assert.equal(fi.stats.tx.held, 0);
});

Deno.test("the inner device's refusals are reported by flush and counted", () => {
  const [a, b] = LoopbackDevice.pair(1500, 8); // b holds 8 frames
  const fi = new FaultInjector(a, { seed: 1 });
  assert.equal(send(fi, FRAMES.slice(0, 20)), 12);
  assert.equal(fi.stats.tx.deviceDrops, 12);
  assert.equal(drain(b).length, 8);
});

Deno.test("FaultInjector refuses bad arguments with PortError InvalidArgument naming them", () => {
  const dev = new LoopbackDevice();
  const bad: [unknown, unknown, RegExp][] = [
    [null, { seed: 1 }, /device must be a Device/],
    [{ mtu: 1500 }, { seed: 1 }, /device must be a Device/],
    [dev, undefined, /options must be an object/],
    [dev, {}, /seed must be a u32.*got undefined/],
    [dev, { seed: -1 }, /seed must be a u32/],
    [dev, { seed: 2 ** 32 }, /seed must be a u32/],
    [dev, { seed: 1.5 }, /seed must be a u32/],
    [dev, { seed: 1, sede: 2 }, /unknown option "sede"/],
    [dev, { seed: 1, clock: 5 }, /clock must be a function/],
    [dev, { seed: 1, maxHeld: 0 }, /maxHeld must be a whole number 1–1048576/],
    [dev, { seed: 1, burst: 2000 }, /burst must be a whole number 1–1024/],
    [dev, { seed: 1, tx: 3 }, /tx: config must be an object/],
    [dev, { seed: 1, tx: { dorp: 0.1 } }, /tx: unknown option "dorp"/],
    [dev, { seed: 1, tx: { drop: 1.5 } }, /tx: drop must be a number 0–1, got 1.5/],
    [dev, { seed: 1, rx: { drop: NaN } }, /rx: drop must be a number 0–1/],
    [dev, { seed: 1, rx: { corrupt: -0.1 } }, /rx: corrupt must be a number 0–1/],
    [dev, { seed: 1, rx: { duplicate: "0.1" } }, /rx: duplicate must be a number 0–1, got "0.1"/],
    [dev, { seed: 1, tx: { reorder: 2 } }, /reorder must be a number 0–1/],
    [dev, { seed: 1, tx: { reorderMs: 0 } }, /reorderMs must be a number of ms > 0 and ≤ 2³²/],
    [dev, { seed: 1, tx: { delayMs: -1 } }, /delayMs must be a number of ms 0–2³²/],
    [dev, { seed: 1, tx: { delayMs: Infinity } }, /delayMs must be/],
    [dev, { seed: 1, tx: { jitterMs: NaN } }, /jitterMs must be/],
    [dev, { seed: 1, tx: { rateBytesPerSec: -5 } }, /rateBytesPerSec must be a finite number/],
    [dev, { seed: 1, tx: { burstBytes: 1000 } }, /burstBytes must be a number of bytes 1518–/],
    [dev, { seed: 1, tx: { queueFrames: -1 } }, /queueFrames must be a whole number 0–1048576/],
    [dev, { seed: 1, tx: { queueFrames: 1.5 } }, /queueFrames must be/],
  ];
  for (const [d, o, re] of bad) {
    const e = thrown(() => new FaultInjector(d as LoopbackDevice, o as FaultInjectorOptions), PortError);
    assert.equal(e.kind, "InvalidArgument");
    assert.match(e.message, re);
  }
  const fi = new FaultInjector(dev, { seed: 1 });
  assert.match(
    thrown(() => fi.txSlot(1519), PortError).message,
    /txSlot: length must be a whole number 0–1518/,
  );
  assert.match(thrown(() => fi.txSlot(-1), PortError).message, /txSlot/);
  assert.match(
    thrown(() => fi.receive(null as unknown as () => void), PortError).message,
    /receive: onFrame must be a function/,
  );
});

Deno.test("the clock's value is checked: NaN, a BigInt or a string is a PortError, not a wrong schedule", () => {
  let now: unknown = 0;
  const { fi, b } = wrapped({ seed: 1, tx: { delayMs: 5 }, clock: () => now as number });
  for (const bad of [NaN, Infinity, 10n, "5", undefined]) {
    now = bad;
    for (const [what, f] of [["flush", () => fi.flush()], ["receive", () => fi.receive(() => {})]] as const) {
      const e = thrown(f, PortError);
      assert.equal(e.kind, "InvalidArgument", `${what} with clock ${String(bad)}`);
      assert.match(
        e.message,
        new RegExp(`FaultInjector\\.${what}: the clock returned .*finite number of ms`),
      );
    }
  }
  // A frame sent while the clock was NaN is not released at once (it is not sent at all).
  now = 0;
  fi.txSlot(60);
  now = NaN;
  assert.equal(thrown(() => fi.txSlot(60), PortError).kind, "InvalidArgument");
  now = 1;
  assert.equal(fi.flush(), 0);
  assert.equal(drain(b).length, 0, "nothing leaves before its 5 ms delay");
  assert.equal(fi.nextEventAt(), 6);
  now = 6;
  fi.flush();
  assert.equal(drain(b).length, 1);
});

Deno.test("leave times stay finite: a held frame always shows in nextEventAt; no rate underflows to none", () => {
  const clock = manual();
  const dev = new LoopbackDevice();
  for (const rate of [1e-310, 1e-321, 0.5, Number.MIN_VALUE]) {
    const e = thrown(() => new FaultInjector(dev, { seed: 1, tx: { rateBytesPerSec: rate } }), PortError);
    assert.match(e.message, /rateBytesPerSec must be a finite number of bytes\/s ≥ 1, or 0 for no limit/);
  }
  for (const k of ["delayMs", "jitterMs", "reorderMs"]) {
    for (const v of [2 ** 32 + 1, 1e308]) {
      const e = thrown(() => new FaultInjector(dev, { seed: 1, tx: { [k]: v } }), PortError);
      assert.match(e.message, new RegExp(`${k} must be a number of ms .*2³²`));
    }
  }
  // Every limit at once, at its extreme: the frames are held and nextEventAt says until when.
  const { fi } = wrapped({
    seed: 1,
    clock: clock.read,
    tx: { rateBytesPerSec: 1, delayMs: 2 ** 32, jitterMs: 2 ** 32, reorder: 1, reorderMs: 2 ** 32 },
  });
  send(fi, Array.from({ length: 3 }, (_, i) => frame(i, 1000)));
  assert.equal(fi.stats.tx.held, 3);
  assert.equal(fi.stats.tx.queued, 2, "a rate of 1 B/s queues what the first burst does not cover");
  const next = fi.nextEventAt();
  assert.ok(next !== null && Number.isFinite(next) && next >= 2 * 2 ** 32, `nextEventAt ${next}`);
});

Deno.test("clear() empties the bucket's backlog too: the next frame leaves at once", () => {
  const clock = manual();
  const { fi, b } = wrapped({ seed: 1, clock: clock.read, tx: { rateBytesPerSec: 1000, queueFrames: 100 } });
  send(fi, Array.from({ length: 50 }, (_, i) => frame(i, 1000)));
  assert.equal(fi.stats.tx.held, 49, "the first one left; a backlog of ≈ 48 s at 1 kB/s");
  assert.equal(fi.nextEventAt(), 482);
  fi.clear();
  assert.equal(fi.nextEventAt(), null);
  assert.equal(send(fi, [frame(7, 100)]), 0);
  assert.equal(fi.nextEventAt(), null, "a full bucket: the frame left at once");
  assert.equal(drain(b).map(indexOf).join(), "0,7", "the first frame left before clear, then the new one");
});

Deno.test("maxHeldBytes bounds the bytes held each way; oversized buffers are not kept; dispose", () => {
  const clock = manual();
  const [a, b] = LoopbackDevice.pair(9000, 1 << 10);
  const jumbo = new FaultInjector(b, {
    seed: 1,
    clock: clock.read,
    rx: { delayMs: 1 },
    maxHeldBytes: 100_000,
  });
  for (let i = 0; i < 20; i++) {
    const at = a.txSlot(9000);
    a.txBytes.fill(1, at, at + 9000);
  }
  a.flush();
  jumbo.receive(() => {});
  const s = jumbo.stats.rx;
  assert.equal(s.held, 11, "eleven buffers of 9018 bytes fit in 100 000");
  assert.equal(s.heldBytes, 11 * 9018);
  assert.equal(s.heldOverflow, 9);
  assert.ok(s.spareBytes <= 100_000, `spares ${s.spareBytes}`);
  const bad = thrown(() => new FaultInjector(b, { seed: 1, maxHeldBytes: 9017 }), PortError);
  assert.match(bad.message, /maxHeldBytes must be a whole number of bytes 9018–2⁴⁰/);

  // An inner device that hands over a frame longer than its MTU allows: passed on, its enlarged
  // buffer not kept for reuse.
  const big = new Uint8Array(4000);
  let give = 1;
  const odd = {
    mtu: 1500,
    txBytes: new Uint8Array(0),
    txSlot: () => -1,
    flush: () => 0,
    receive(f: (bytes: Uint8Array, start: number, length: number) => void) {
      if (give === 0) return 0;
      give--;
      f(big, 0, big.length);
      return 1;
    },
  };
  const fi = new FaultInjector(odd, { seed: 1, clock: clock.read });
  const lengths: number[] = [];
  assert.equal(fi.receive((_, __, l) => lengths.push(l)), 1);
  assert.deepEqual(lengths, [4000]);
  assert.equal(fi.stats.rx.spareBytes, 0, "the 4000-byte buffer went to the collector");
  give = 1;
  odd.receive = function (f) {
    if (give === 0) return 0;
    give--;
    f(big, 0, 100);
    return 1;
  };
  fi.receive(() => {});
  assert.equal(fi.stats.rx.spareBytes, 1518, "a usual buffer is kept");

  // Dispose: held frames and spares dropped, later calls Closed, idempotent, the inner device untouched.
  const w = wrapped({ seed: 1, clock: clock.read, tx: { delayMs: 10 } });
  send(w.fi, FRAMES.slice(0, 5));
  assert.equal(w.fi.stats.tx.held, 5);
  w.fi.txSlot(60);
  w.fi[Symbol.dispose]();
  w.fi[Symbol.dispose]();
  assert.equal(w.fi.stats.tx.held, 0);
  assert.equal(w.fi.stats.tx.heldBytes, 0);
  assert.equal(w.fi.stats.tx.spareBytes, 0);
  assert.equal(w.fi.nextEventAt(), null);
  for (const f of [() => w.fi.flush(), () => w.fi.txSlot(60), () => w.fi.receive(() => {})]) {
    const e = thrown(f, PortError);
    assert.equal(e.kind, "Closed");
    assert.match(e.message, /the injector was disposed/);
  }
  clock.now = 20;
  assert.equal(drain(w.b).length, 0, "no held frame leaves after dispose");
  assert.ok(w.a.txSlot(60) >= 0, "the inner device still works (a slot, not -1)");
  {
    using scoped = new FaultInjector(new LoopbackDevice(), { seed: 1 });
    assert.ok(scoped.txSlot(60) >= 0);
  }
});

testEal();

Deno.test("over a DPDK net_ring port: the same faults for the same seed as over a loopback device", () => {
  const options = (clock: () => number): FaultInjectorOptions => ({
    seed: 42,
    tx: { drop: 0.2, duplicate: 0.2, corrupt: 0.1 },
    rx: { reorder: 0.2, reorderMs: 2, drop: 0.05 },
    clock,
  });
  const run = (dev: PortDevice | LoopbackDevice) => {
    const clock = manual();
    const fi = new FaultInjector(dev, options(clock.read));
    const got: Uint8Array[] = [];
    for (let k = 0; k < 20; k++) { // 20 bursts of 16, one per ms
      clock.now = k;
      send(fi, FRAMES.slice(16 * k, 16 * k + 16));
      for (let spin = 0; spin < 1000 && got.length < fi.stats.tx.passed - fi.stats.rx.dropped; spin++) {
        fi.receive((b, s, l) => got.push(b.slice(s, s + l)));
        if (fi.stats.rx.frames === fi.stats.tx.passed) break;
      }
    }
    clock.now = 100;
    for (let spin = 0; spin < 100; spin++) fi.receive((b, s, l) => got.push(b.slice(s, s + l)));
    return { got, stats: structuredClone(fi.stats) };
  };
  using ring = ringPort("fault", 2048);
  using port = new PortDevice(ring.port, ring.pool);
  const overPort = run(port);
  const overLoop = run(new LoopbackDevice(1500, 4096)); // frames come back to itself, as net_ring's
  const s = overPort.stats;
  assert.equal(s.tx.frames, 320);
  assert.equal(s.tx.deviceDrops, 0);
  assert.equal(s.rx.frames, s.tx.passed, "every frame the port took came back");
  assert.equal(overPort.got.length, s.rx.passed);
  assert.equal(s.tx.passed, 320 - s.tx.dropped + s.tx.duplicated);
  assert.equal(s.rx.passed, s.rx.frames - s.rx.dropped);
  assert.ok(s.tx.dropped > 0 && s.tx.duplicated > 0 && s.tx.corrupted > 0 && s.rx.reordered > 0);
  assert.deepEqual(overPort.stats, overLoop.stats);
  assert.deepEqual(overPort.got, overLoop.got, "the same frames, bytes and order");
  assert.deepEqual([s.tx.dropped, s.tx.duplicated, s.tx.corrupted, s.rx.reordered, s.rx.dropped], [
    56,
    56,
    28,
    60,
    11,
  ]);
});
