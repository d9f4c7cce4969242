/** PortDevice on a real net_ring port, and the prefix forms of freeBulk and txBurst it relies on. */
import assert from "node:assert/strict";
import { MbufBatch, MbufError, Mempool, PortDevice, PortError } from "../mod.ts";
import { thrown } from "./_assert.ts";
import { testEal, uniqueName } from "./_eal.ts";
import { ringPort } from "./_ring.ts";

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
