/**
 * PortDevice on a real net_ring port, and the prefix forms of freeBulk and txBurst it relies on;
 * LoopbackDevice (pure TS: frames in place, order, bounds, no allocation per frame).
 */
import assert from "node:assert/strict";
import { LoopbackDevice, MbufBatch, MbufError, Mempool, PortDevice, PortError } from "../mod.ts";
import { thrown } from "./_assert.ts";
import { testEal, uniqueName } from "./_eal.ts";
import { ringPort } from "./_ring.ts";
import { batchLengths, REFILL_FAILED } from "../src/mbuf_batch.ts";
import { portFreeRx, portTxRefill } from "../src/port.ts";

testEal();

Deno.test("freeBulk(batch, count) frees a prefix; the rest move to the front", () => {
  using pool = Mempool.createWithSize(uniqueName("pfx"), 64);
  const b = new MbufBatch(8);
  assert.equal(pool.allocBulk(b, 8), true);
  const addrs = Array.from({ length: 8 }, (_, i) => b.address(i));
  pool.freeBulk(b, 3);
  assert.equal(b.length, 5);
  assert.equal(pool.inUse, 5);
  assert.deepEqual(Array.from({ length: 5 }, (_, i) => b.address(i)), addrs.slice(3));
  pool.freeBulk(b, 0);
  assert.equal(b.length, 5, "a count of 0 frees nothing");
  for (const bad of [-1, 6, 1.5, NaN]) {
    assert.equal(thrown(() => pool.freeBulk(b, bad), MbufError).kind, "InvalidArgument", String(bad));
  }
  assert.equal(b.length, 5, "a refused call changes nothing");
  pool.freeBulk(b);
  assert.equal(pool.inUse, 0);
});

Deno.test("after a prefix leaves, the layout columns follow their mbufs", () => {
  using pool = Mempool.createWithSize(uniqueName("pfxcol"), 64);
  const b = new MbufBatch(8);
  assert.equal(pool.allocBulk(b, 8, 10), true);
  for (let i = 0; i < 8; i++) assert.equal(b.setDataLen(i, 20 + i), true);
  const before = b.columns();
  const starts = Array.from(before.start);
  const lengths = Array.from(before.length);
  const addrs = Array.from({ length: 8 }, (_, i) => b.address(i));
  pool.freeBulk(b, 3);
  const after = b.columns();
  for (let i = 0; i < 5; i++) {
    assert.equal(b.address(i), addrs[i + 3]);
    assert.equal(after.start[i], starts[i + 3], `start of entry ${i}`);
    assert.equal(after.length[i], lengths[i + 3], `length of entry ${i}`);
    assert.equal(b.dataLen(i), 23 + i, `dataLen of entry ${i} (through the header column)`);
    assert.equal(b.at(i).start, starts[i + 3]);
  }
  pool.freeBulk(b);
  assert.equal(pool.inUse, 0);
});

Deno.test("txBurst(queue, batch, count) sends a prefix; the rest stay, in order", () => {
  using setup = ringPort("txp", 1024);
  const { pool, port } = setup;
  const tx = new MbufBatch(10);
  assert.equal(pool.allocBulk(tx, 10, 60), true);
  const addrs = Array.from({ length: 10 }, (_, i) => tx.address(i));
  assert.equal(port.txBurst(0, tx, 4), 4);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => tx.address(i)), addrs.slice(4));
  assert.equal(port.txBurst(0, tx, 0), 0);
  for (const bad of [-1, 7, 0.5]) {
    assert.equal(thrown(() => port.txBurst(0, tx, bad), MbufError).kind, "InvalidArgument", String(bad));
  }
  const rx = new MbufBatch(16);
  assert.equal(port.rxBurst(0, rx), 4, "exactly the prefix went out");
  pool.freeBulk(rx);
  pool.freeBulk(tx);
  assert.equal(pool.inUse, 0);
});

Deno.test("PortDevice: frames of any length leave at flush with their lengths; spares go back on dispose", () => {
  using setup = ringPort("dev", 1024);
  const { pool, port } = setup;
  const dev = new PortDevice(port, pool, { burst: 8 });
  const lengths = [60, 1514, 42, 14, 999, 61, 62, 63, 64, 100, 200]; // 11 frames: more than a burst
  for (const [k, len] of lengths.entries()) {
    const at = dev.txSlot(len);
    assert.ok(at >= 0, `slot for frame ${k}`);
    for (let i = 0; i < len; i++) dev.txBytes[at + i] = (k * 13 + i) & 0xff;
  }
  for (const bad of [pool.dataRoom + 1, -1, 1.5]) {
    assert.equal(thrown(() => dev.txSlot(bad), PortError).kind, "InvalidArgument", `a frame of ${bad} bytes`);
  }
  assert.equal(dev.flush(), 0, "nothing dropped");
  const got: number[][] = [];
  while (got.length < lengths.length) {
    if (dev.receive((b, s, l) => got.push(Array.from(b.subarray(s, s + l)))) === 0) break;
  }
  assert.equal(got.length, lengths.length, "every frame came back");
  for (const [k, len] of lengths.entries()) {
    assert.deepEqual(got[k], Array.from({ length: len }, (_, i) => (k * 13 + i) & 0xff), `frame ${k}`);
  }
  assert.ok(pool.inUse > 0, "spare mbufs are held between polls");
  dev[Symbol.dispose]();
  dev[Symbol.dispose](); // idempotent
  assert.equal(pool.inUse, 0, "dispose returned the spares");
  for (const use of [() => dev.txSlot(60), () => dev.flush(), () => dev.receive(() => {})]) {
    assert.equal(thrown(use, PortError).kind, "Closed");
  }
});

Deno.test("PortDevice: a pool whose mbufs cannot hold an MTU-sized frame is refused up front", () => {
  using setup = ringPort("mtu", 256);
  const { port } = setup;
  using small = Mempool.createForMtu(uniqueName("small"), 256, 576);
  const e = thrown(() => new PortDevice(port, small), PortError);
  assert.equal(e.kind, "InvalidArgument");
  assert.match(e.message, /createForMtu/);
  using ok = new PortDevice(port, small, { mtu: 576 });
  assert.ok(ok.txSlot(576 + 14) >= 0);
});

Deno.test("PortDevice: frames the driver refuses are dropped and counted, not leaked", () => {
  // net_ring's ring holds 1024 frames: a second round of 1024 without receiving overflows it.
  using setup = ringPort("drop", 4096);
  const { pool, port } = setup;
  using dev = new PortDevice(port, pool, { burst: 64 });
  let dropped = 0;
  for (let k = 0; k < 2048; k++) {
    assert.ok(dev.txSlot(60) >= 0);
    if (k % 64 === 63) dropped += dev.flush();
  }
  dropped += dev.flush();
  assert.ok(dropped > 0, "some frames found the ring full");
  let received = 0;
  const rx = new MbufBatch(256);
  for (let n = port.rxBurst(0, rx); n > 0; n = port.rxBurst(0, rx)) {
    received += n;
    pool.freeBulk(rx);
  }
  assert.equal(received + dropped, 2048, "each frame was either sent or dropped");
  dev[Symbol.dispose]();
  assert.equal(pool.inUse, 0, "none leaked");
});

Deno.test("PortDevice: port, pool, queue, burst and MTU are checked up front", () => {
  using setup = ringPort("args", 256);
  const { pool, port } = setup;
  // deno-lint-ignore no-explicit-any
  const any = (v: unknown): any => v;
  const cases: [string, () => unknown, string][] = [
    ["queue 5 on a 1-queue port", () => new PortDevice(port, pool, { queue: 5 }), "queue"],
    ["queue -1", () => new PortDevice(port, pool, { queue: -1 }), "queue"],
    ["queue NaN", () => new PortDevice(port, pool, { queue: NaN }), "queue"],
    ["burst 0", () => new PortDevice(port, pool, { burst: 0 }), "burst"],
    ["burst 1e6", () => new PortDevice(port, pool, { burst: 1e6 }), "burst"],
    ["burst BigInt", () => new PortDevice(port, pool, { burst: any(32n) }), "32n"],
    ["mtu NaN", () => new PortDevice(port, pool, { mtu: NaN }), "mtu"],
    ["mtu 10", () => new PortDevice(port, pool, { mtu: 10 }), "mtu"],
    ["not a port", () => new PortDevice(any({ id: 0 }), pool), "port"],
    ["not a pool", () => new PortDevice(port, any({ name: "p", dataRoom: 4096 })), "pool"],
    ["options not an object", () => new PortDevice(port, pool, any(5)), "options"],
  ];
  const before = pool.inUse;
  for (const [what, f, text] of cases) {
    const e = thrown(f, PortError);
    assert.equal(e.kind, "InvalidArgument", what);
    assert.ok(e.message.includes(text), `${what}: ${e.message}`);
  }
  assert.equal(pool.inUse, before, "a refused device took nothing");
  using dev = new PortDevice(port, pool);
  assert.equal(thrown(() => dev.receive(any(null)), PortError).kind, "InvalidArgument");
});

Deno.test("portTxRefill: lengths from the column; unsent and spares move to the front in order; top-up", () => {
  using setup = ringPort("refill", 4096);
  const { pool, port } = setup;
  // Fill net_ring's ring until it refuses, then make room for exactly 3 frames.
  const fill = new MbufBatch(256);
  for (;;) {
    assert.equal(pool.allocBulk(fill, fill.free, 60), true);
    if (port.txBurst(0, fill) < 256) break;
  }
  pool.freeBulk(fill);
  const three = new MbufBatch(3);
  assert.equal(port.rxBurst(0, three), 3);
  pool.freeBulk(three);

  const b = new MbufBatch(8);
  assert.equal(pool.allocBulk(b, 8, 14), true);
  const addrs = Array.from({ length: 8 }, (_, i) => b.address(i));
  const lengths = batchLengths(b);
  for (let i = 0; i < 8; i++) lengths[i] = 100 + i; // frames 0..5 get lengths 100..105; 6, 7 stay spares
  const inUse = pool.inUse;
  const r = portTxRefill(port, 0, b, 6, pool, 8, 14);
  assert.equal(r, 3, "three sent, refill fine");
  assert.equal(b.length, 8, "topped up to fill_to");
  assert.deepEqual(Array.from({ length: 5 }, (_, i) => b.address(i)), addrs.slice(3), "unsent, then spares");
  const c = b.columns();
  for (let i = 0; i < 5; i++) {
    assert.equal(c.length[i], 103 + i, `length column moved with entry ${i}`);
    assert.equal(b.dataLen(i), i < 3 ? 103 + i : 14, `entry ${i}'s mbuf (the unsent got their lengths)`);
  }
  for (let i = 5; i < 8; i++) {
    assert.ok(!addrs.includes(b.address(i)), `entry ${i} is a fresh mbuf`);
    assert.ok(c.start[i] >= 0, `entry ${i} described`);
    assert.equal(c.length[i], 14);
    assert.equal(b.dataLen(i), 14);
    assert.equal(b.at(i).start, c.start[i]);
  }
  assert.equal(pool.inUse, inUse + 3, "three fresh mbufs; the three sent wait in the ring");
  // The three sent arrive last, with the lengths from the column.
  const rx = new MbufBatch(256);
  const got: number[] = [];
  for (let n = port.rxBurst(0, rx); n > 0; n = port.rxBurst(0, rx)) {
    for (let i = 0; i < n; i++) got.push(rx.dataLen(i));
    pool.freeBulk(rx);
  }
  assert.deepEqual(got.slice(-3), [100, 101, 102]);

  // All sent: the last spares fill the freed places (spares are interchangeable), columns along.
  pool.freeBulk(b, 3); // the unsent frames
  assert.equal(pool.allocBulk(b, 3, 14), true);
  const spares = Array.from({ length: 6 }, (_, i) => b.address(i + 2));
  const spareStarts = Array.from({ length: 6 }, (_, i) => b.columns().start[i + 2]);
  lengths[0] = 70;
  lengths[1] = 71;
  assert.equal(portTxRefill(port, 0, b, 2, pool, 0, 14), 2);
  assert.equal(b.length, 6);
  const now = Array.from({ length: 6 }, (_, i) => b.address(i));
  assert.deepEqual([...now].sort(), [...spares].sort(), "the same spares, none lost or doubled");
  for (let i = 0; i < 6; i++) {
    assert.equal(
      b.columns().start[i],
      spareStarts[spares.indexOf(now[i])],
      `start of entry ${i} moved with it`,
    );
    assert.equal(b.at(i).start, b.columns().start[i]);
    assert.equal(b.dataLen(i), 14);
  }
  assert.equal(port.rxBurst(0, rx), 2);
  assert.deepEqual([rx.dataLen(0), rx.dataLen(1)], [70, 71]);
  pool.freeBulk(rx);

  // An empty pool: the send still happens, the refill is reported and takes nothing.
  const hog: { free(): void }[] = [];
  for (let m = pool.alloc(); m !== null; m = pool.alloc()) hog.push(m);
  pool.freeBulk(b, 4);
  assert.equal(b.length, 2);
  const r2 = portTxRefill(port, 0, b, 1, pool, 8, 14);
  assert.equal(r2 & 0xffff, 1, "sent");
  assert.equal(r2 & REFILL_FAILED, REFILL_FAILED, "refill failure reported");
  assert.equal(b.length, 1, "only the spare is left");
  assert.equal(port.rxBurst(0, rx), 1);
  pool.freeBulk(rx);
  pool.freeBulk(b);
  for (const m of hog) m.free();
  assert.equal(pool.inUse, 0, "nothing leaked");
});

Deno.test("portFreeRx frees the held burst and receives the next in one call", () => {
  using setup = ringPort("freerx", 1024);
  const { pool, port } = setup;
  const tx = new MbufBatch(8);
  assert.equal(pool.allocBulk(tx, 5, 70), true);
  assert.equal(port.txBurst(0, tx), 5);
  const rx = new MbufBatch(8);
  assert.equal(pool.allocBulk(rx, 2, 10), true);
  assert.equal(pool.inUse, 7);
  assert.equal(portFreeRx(port, 0, rx), 5);
  assert.equal(pool.inUse, 5, "the two held were freed");
  assert.equal(rx.length, 5);
  const c = rx.columns();
  for (let i = 0; i < 5; i++) {
    assert.equal(c.length[i], 70);
    assert.equal(rx.at(i).start, c.start[i]);
  }
  assert.equal(portFreeRx(port, 0, rx), 0);
  assert.equal(rx.length, 0);
  assert.equal(pool.inUse, 0, "nothing leaked");
  port.stop();
  assert.equal(thrown(() => portFreeRx(port, 0, rx), PortError).kind, "NotStarted");
  assert.equal(thrown(() => portTxRefill(port, 0, tx, 0, pool, 8, 14), PortError).kind, "NotStarted");
});

Deno.test("PortDevice: partial sends keep frame order; a received burst is held until the next receive", () => {
  using setup = ringPort("order", 4096);
  const { pool, port } = setup;
  const dev = new PortDevice(port, pool, { burst: 64 });
  let dropped = 0;
  for (let k = 0; k < 2048; k++) {
    const at = dev.txSlot(60);
    assert.ok(at >= 0);
    dev.txBytes[at] = k & 0xff;
    dev.txBytes[at + 1] = k >> 8;
    if (k % 64 === 63) dropped += dev.flush();
  }
  assert.ok(dropped > 0, "some frames found the ring full");
  const seen: number[] = [];
  let held = 0;
  for (let n = dev.receive((b, s) => seen.push(b[s] | (b[s + 1] << 8))); n > 0;) {
    held = n;
    assert.ok(pool.inUse >= held, "the burst is held after receive");
    n = dev.receive((b, s) => seen.push(b[s] | (b[s + 1] << 8)));
  }
  assert.ok(held > 0);
  assert.equal(seen.length + dropped, 2048);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i] > seen[i - 1], `frame ${seen[i]} after ${seen[i - 1]}`);
  }
  dev[Symbol.dispose]();
  assert.equal(pool.inUse, 0, "dispose returned spares and the held burst");
});

Deno.test("PortDevice: an empty pool refuses slots until a receive frees the held burst", () => {
  using setup = ringPort("lowpool", 64);
  const { pool, port } = setup;
  using dev = new PortDevice(port, pool, { burst: 8 });
  const hog: { free(): void }[] = [];
  for (let m = pool.alloc(); m !== null; m = pool.alloc()) hog.push(m);
  for (const m of hog.splice(0, 8)) m.free(); // exactly one burst's worth left
  for (let k = 0; k < 8; k++) assert.ok(dev.txSlot(60) >= 0, `slot ${k}`);
  assert.equal(dev.flush(), 0);
  assert.equal(dev.txSlot(60), -1, "the top-up after the flush found the pool empty");
  assert.equal(dev.receive(() => {}), 8);
  assert.equal(dev.txSlot(60), -1, "the received burst is still held");
  assert.equal(dev.receive(() => {}), 0);
  assert.ok(dev.txSlot(60) >= 0, "freed by the next receive");
  dev[Symbol.dispose]();
  for (const m of hog) m.free();
  assert.equal(pool.inUse, 0);
});

/** Writes frame `k` (length from k, bytes from k) through `dev`; returns its length. */
function putFrame(dev: LoopbackDevice, k: number, mtu = 1500): number {
  const len = 14 + ((k * 37) % (mtu + 4));
  const at = dev.txSlot(len);
  for (let i = 0; i < len; i++) dev.txBytes[at + i] = (k + i) & 0xff;
  return len;
}

/** Receives everything waiting on `dev`; checks each frame is putFrame's `next` one, byte for byte. */
function takeFrames(dev: LoopbackDevice, next: { k: number }, mtu = 1500): number {
  let total = 0;
  for (;;) {
    const n = dev.receive((b, s, l) => {
      const k = next.k++;
      assert.equal(l, 14 + ((k * 37) % (mtu + 4)), `frame ${k}: length`);
      for (let i = 0; i < l; i++) {
        if (b[s + i] !== ((k + i) & 0xff)) assert.fail(`frame ${k}: byte ${i} is ${b[s + i]}`);
      }
    });
    if (n === 0) return total;
    assert.ok(n <= 32, "at most a burst per receive");
    total += n;
  }
}

Deno.test("LoopbackDevice: frames arrive whole and in order, only after flush, as the queue grows", () => {
  const [a, b] = LoopbackDevice.pair(1500, 4096);
  const next = { k: 0 };
  let k = 0;
  for (const burst of [1, 3, 17, 64, 200, 1000, 5]) {
    for (let i = 0; i < burst; i++) putFrame(a, k++);
    assert.equal(b.receive(() => assert.fail("nothing before the flush")), 0);
    assert.equal(a.flush(), 0);
    assert.equal(b.queued, burst);
    assert.equal(takeFrames(b, next), burst);
  }
  assert.equal(next.k, k);
  // Written while the receiver still holds frames: they stay behind them.
  for (let i = 0; i < 40; i++) putFrame(a, k++);
  a.flush();
  for (let i = 0; i < 40; i++) putFrame(a, k++);
  assert.equal(b.queued, 40, "the second 40 are not flushed yet");
  a.flush();
  assert.equal(takeFrames(b, next), 80);
  assert.equal(a.dropped, 0);
});

Deno.test("LoopbackDevice: beyond capacity frames are dropped at flush and counted; the rest arrive", () => {
  const [a, b] = LoopbackDevice.pair(1500, 8);
  for (let k = 0; k < 5; k++) putFrame(a, k);
  a.flush();
  for (let k = 5; k < 12; k++) putFrame(a, k); // 3 more fit
  assert.equal(a.flush(), 4);
  assert.equal(a.dropped, 4);
  const next = { k: 0 };
  assert.equal(takeFrames(b, next), 8);
  assert.equal(next.k, 8);
  putFrame(a, 8); // room again
  assert.equal(a.flush(), 0);
  assert.equal(takeFrames(b, next), 1);
});

Deno.test("LoopbackDevice: a device looped to itself may send from inside receive without harm", () => {
  const d = new LoopbackDevice(1500, 1024);
  let k = 0;
  for (; k < 3; k++) putFrame(d, k);
  d.flush();
  // Each received frame is checked, then answered by two more (the queue grows under receive).
  const next = { k: 0 };
  let seen = 0;
  while (seen < 500) {
    const n = d.receive((b, s, l) => {
      const want = next.k++;
      const copy = b.slice(s, s + l);
      if (k < 600) {
        putFrame(d, k++);
        putFrame(d, k++);
      }
      assert.deepEqual(b.slice(s, s + l), copy, `frame ${want} unchanged by the sends inside its call`);
      assert.equal(l, 14 + ((want * 37) % 1504));
      for (let i = 0; i < l; i++) if (copy[i] !== ((want + i) & 0xff)) assert.fail(`frame ${want} byte ${i}`);
    });
    d.flush();
    if (n === 0) break;
    seen += n;
  }
  assert.ok(seen >= 500);
});

Deno.test("LoopbackDevice: steady traffic allocates nothing per frame (txBytes stays one array)", () => {
  const [a, b] = LoopbackDevice.pair(1500, 1024);
  const next = { k: 0 };
  let k = 0;
  for (let i = 0; i < 64; i++) putFrame(a, k++); // grows to its working size
  a.flush();
  takeFrames(b, next);
  putFrame(a, k++);
  const store = a.txBytes;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 20; i++) {
      putFrame(a, k++);
      assert.ok(a.txBytes === store, "the same storage, frame after frame");
    }
    a.flush();
    takeFrames(b, next);
  }
  assert.equal(next.k, k);
});

Deno.test("LoopbackDevice: both directions of a pair share one array; either growing keeps the other's frames", () => {
  const [a, b] = LoopbackDevice.pair(1500, 4096);
  const toB = { k: 0 };
  const toA = { k: 0 };
  let ka = 0, kb = 0;
  for (let round = 0; round < 6; round++) {
    // B holds 3 frames while A's queue grows past its slots, and the other way round.
    for (let i = 0; i < 3; i++) putFrame(b, kb++);
    b.flush();
    for (let i = 0; i < 40 << round; i++) putFrame(a, ka++);
    a.flush();
    assert.equal(takeFrames(a, toA), 3);
    assert.equal(takeFrames(b, toB), 40 << round);
  }
  putFrame(a, ka++);
  const store = a.txBytes;
  putFrame(b, kb++);
  assert.ok(b.txBytes === store, "one array for both directions");
  a.flush();
  b.flush();
  assert.equal(takeFrames(a, toA) + takeFrames(b, toB), 2);
  assert.equal(toA.k, kb);
  assert.equal(toB.k, ka);
});

Deno.test("LoopbackDevice: jumbo MTU with a huge capacity starts small and grows", () => {
  const [a, b] = LoopbackDevice.pair(65535, 1 << 20);
  assert.ok(a.txSlot(0) >= 0);
  assert.ok(a.txBytes.length <= 2 * 16 * 65600, "no capacity-sized allocation up front (16 slots each way)");
  a.flush();
  const next = { k: 0 };
  assert.equal(b.receive(() => next.k++), 1);
  const at = a.txSlot(65553);
  a.txBytes[at + 65552] = 7;
  a.flush();
  assert.equal(b.receive((bytes, s, l) => assert.equal(bytes[s + l - 1], 7)), 1);
});
