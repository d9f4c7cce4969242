import assert from "node:assert/strict";
import { type Mbuf, MbufBatch, MbufError, type MbufErrorKind, Mempool, MempoolError } from "../mod.ts";
import { thrown } from "./_assert.ts";
import { runChild } from "./_child.ts";
import { wrapMbuf } from "../src/mbuf.ts";
import { O_REFCNT } from "../src/pool_memory.ts";
import { testEal, uniqueName } from "./_eal.ts";

testEal();

function expectKind(f: () => unknown, kind: MbufErrorKind): MbufError {
  const e = thrown(f, MbufError);
  assert.equal(e.kind, kind, e.message);
  return e;
}

/** The packet's bytes as DPDK reads them (rte_pktmbuf_read in the shim). */
function dpdkBytes(m: Mbuf): number[] {
  return Array.from(m.read(0, m.pktLen) ?? assert.fail("read failed"));
}

Deno.test("a new mbuf: reset, default headroom, empty; facts from DPDK", () => {
  using pool = Mempool.createWithSize(uniqueName("facts"), 64);
  using m = pool.alloc() ?? assert.fail("pool empty");
  assert.equal(m.pool, pool);
  assert.equal(m.dataLen, 0);
  assert.equal(m.pktLen, 0);
  assert.equal(m.dataOffset, Mempool.headroom);
  assert.equal(m.headroom, 128);
  assert.equal(m.bufLen, pool.dataRoomSize);
  assert.equal(m.tailroom, pool.dataRoomSize - 128);
  assert.equal(m.nbSegs, 1);
  assert.equal(m.refcnt, 1);
  assert.equal(m.port, 0xffff);
  assert.equal(m.data.length, 0);
  assert.equal(pool.inUse, 1);
  assert.equal(pool.available, 63);
});

Deno.test("allocating the whole pool, one more gives null, freeing refills it step by step", () => {
  const n = 500;
  using pool = Mempool.createWithSize(uniqueName("whole"), n);
  const taken: Mbuf[] = [];
  for (let i = 0; i < n; i++) taken.push(pool.alloc() ?? assert.fail(`alloc ${i} failed`));
  assert.equal(pool.alloc(), null, "one more than the pool holds");
  assert.equal(pool.available, 0);
  assert.equal(pool.isEmpty, true);
  assert.equal(pool.inUse, n);
  assert.equal(new Set(taken.map((m) => m.address)).size, n, "every mbuf is distinct");
  let expected = 0;
  for (const m of taken) {
    m.free();
    expected++;
    assert.equal(pool.available, expected, "the avail count rises by exactly one per free");
  }
  assert.equal(pool.isFull, true);
  assert.equal(pool.inUse, 0);
});

Deno.test("bulk alloc of 0, cache-1, cache, cache+1, 1.5×cache, 2×cache; too many takes nothing", async (t) => {
  using pool = Mempool.createWithSize(uniqueName("bulk"), 1024);
  const cache = pool.cacheSize;
  assert.equal(cache, 256);
  const batch = new MbufBatch(2048);
  for (const count of [0, cache - 1, cache, cache + 1, cache * 1.5, cache * 2]) {
    await t.step(`${count}`, () => {
      assert.equal(pool.allocBulk(batch, count), true);
      assert.equal(batch.length, count);
      assert.equal(pool.inUse, count);
      assert.equal(pool.available, 1024 - count);
      const addrs = new Set(Array.from({ length: count }, (_, i) => batch.address(i)));
      assert.equal(addrs.size, count);
      pool.freeBulk(batch);
      assert.equal(batch.length, 0);
      assert.equal(pool.available, 1024);
    });
  }
  await t.step("more than the pool holds", () => {
    assert.equal(pool.allocBulk(batch, 1025), false);
    assert.equal(batch.length, 0);
    assert.equal(pool.available, 1024, "nothing was taken");
  });
  await t.step("more than what is left", () => {
    assert.equal(pool.allocBulk(batch, 600), true);
    assert.equal(pool.allocBulk(batch, 500), false);
    assert.equal(batch.length, 600);
    assert.equal(pool.available, 424, "the failed call took nothing");
    assert.equal(pool.allocBulk(batch, 424), true);
    assert.equal(pool.isEmpty, true);
    pool.freeBulk(batch);
    assert.equal(pool.isFull, true);
  });
});

Deno.test("a reused mbuf comes back with data offset reset and length 0", () => {
  using pool = Mempool.createWithSize(uniqueName("reuse"), 64);
  const m = pool.alloc()!;
  const addr = m.address;
  m.append(100)!.fill(0xab);
  assert.equal(m.adj(30), true);
  assert.equal(m.dataOffset, 158);
  m.free();
  using again = pool.alloc()!;
  assert.equal(again.address, addr, "the per-lcore cache hands back the same mbuf");
  assert.equal(again.dataOffset, 128);
  assert.equal(again.dataLen, 0);
  assert.equal(again.pktLen, 0);
});

Deno.test("append/prepend/adj/trim: inside bounds they work, past them nothing changes", async (t) => {
  using pool = Mempool.createWithSize(uniqueName("edit"), 64);
  using m = pool.alloc()!;
  const room = m.tailroom;

  await t.step("append up to the tailroom, not one byte more", () => {
    assert.equal(m.append(room + 1), null);
    assert.equal(m.dataLen, 0);
    const all = m.append(room) ?? assert.fail("append(tailroom) failed");
    assert.equal(all.length, room);
    assert.equal(m.tailroom, 0);
    assert.equal(m.append(1), null);
    assert.equal(m.trim(room), true);
    assert.equal(m.dataLen, 0);
  });

  await t.step("data stays contiguous and intact through edits", () => {
    const body = m.append(10)!;
    body.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const head = m.prepend(3)!;
    head.set([0xa, 0xb, 0xc]);
    assert.deepEqual(Array.from(m.data), [0xa, 0xb, 0xc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(dpdkBytes(m), Array.from(m.data));
    assert.equal(m.headroom, 125);
    assert.equal(m.adj(4), true);
    assert.equal(m.trim(2), true);
    assert.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(m.pktLen, 7);
  });

  await t.step("prepend up to the headroom, adj and trim up to the length", () => {
    const len = m.dataLen;
    const hr = m.headroom;
    assert.equal(m.prepend(hr + 1), null);
    assert.equal(m.dataLen, len, "failed prepend changed nothing");
    assert.notEqual(m.prepend(hr), null);
    assert.equal(m.headroom, 0);
    assert.equal(m.adj(hr), true);
    assert.equal(m.adj(len + 1), false);
    assert.equal(m.trim(len + 1), false);
    assert.equal(m.dataLen, len, "failed adj/trim changed nothing");
    assert.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(m.adj(len), true);
    assert.equal(m.dataLen, 0);
  });

  await t.step("bad lengths are typed errors", () => {
    for (const n of [-1, 1.5, Number.NaN, 70000]) {
      expectKind(() => m.append(n), "InvalidArgument");
      expectKind(() => m.prepend(n), "InvalidArgument");
      expectKind(() => m.adj(n), "InvalidArgument");
      expectKind(() => m.trim(n), "InvalidArgument");
    }
  });

  await t.step("reset empties it", () => {
    m.append(50);
    m.reset();
    assert.equal(m.dataLen, 0);
    assert.equal(m.dataOffset, 128);
  });
});

Deno.test("bytes written through data are the bytes DPDK sees, and vice versa", () => {
  using pool = Mempool.createWithSize(uniqueName("bytes"), 64);
  using m = pool.alloc()!;
  const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff);
  m.append(payload.length)!.set(payload);
  assert.deepEqual(m.read(0, 1000), payload, "DPDK reads what we wrote");
  assert.deepEqual(m.read(990, 10), payload.subarray(990), "at an offset");
  assert.equal(m.read(995, 10), null, "past the end");

  // DPDK writes: rte_pktmbuf_copy copies into a new mbuf; we read it in place.
  using copy = m.copy(pool) ?? assert.fail("copy failed");
  assert.notEqual(copy.address, m.address);
  assert.deepEqual(copy.data, payload, "DPDK's copy is visible through the zero-copy view");
  using part = m.copy(pool, 100, 50) ?? assert.fail("partial copy failed");
  assert.deepEqual(part.data, payload.subarray(100, 150));

  // The view is live memory, not a copy.
  const v1 = m.data;
  const v2 = m.data;
  v1[0] = 0xee;
  assert.equal(v2[0], 0xee);
  assert.equal(m.read(0, 1)![0], 0xee);
});

Deno.test("multi-segment chains: nbSegs, segments, pktLen, freed whole", () => {
  using pool = Mempool.createWithSize(uniqueName("chain"), 64);
  const head = pool.alloc()!;
  head.append(3)!.set([1, 2, 3]);
  const mid = pool.alloc()!;
  mid.append(2)!.set([4, 5]);
  const tail = pool.alloc()!;
  tail.append(4)!.set([6, 7, 8, 9]);
  mid.chain(tail);
  head.chain(mid);
  assert.equal(head.nbSegs, 3);
  assert.equal(head.pktLen, 9);
  assert.equal(head.dataLen, 3);
  assert.deepEqual([...head.segments()].map((s) => Array.from(s)), [[1, 2, 3], [4, 5], [6, 7, 8, 9]]);
  assert.deepEqual(dpdkBytes(head), [1, 2, 3, 4, 5, 6, 7, 8, 9], "DPDK reads across segments");
  // append and trim act on the last segment, as in DPDK
  head.append(1)![0] = 10;
  assert.deepEqual([...head.segments()].at(-1), Uint8Array.of(6, 7, 8, 9, 10));
  assert.equal(head.pktLen, 10);
  expectKind(() => tail.dataLen, "Freed");
  expectKind(() => mid.free(), "Freed");
  expectKind(() => head.chain(head), "InvalidArgument");
  assert.equal(pool.inUse, 3);
  head.free();
  assert.equal(pool.inUse, 0, "freeing the head frees the whole chain");
  assert.equal(pool.isFull, true);
});

Deno.test("a chain longer than DPDK's segment limit is a ChainTooLong error", () => {
  using pool = Mempool.createWithOptions(uniqueName("long"), { numMbufs: 65537, dataRoomSize: 128 });
  const batch = new MbufBatch(1);
  // Grow at the front: rte_pktmbuf_chain walks the head's chain to its end, so this stays O(n).
  let head = pool.alloc()!;
  for (let i = 1; i < 65535; i++) {
    const seg = pool.alloc()!;
    seg.chain(head);
    head = seg;
  }
  assert.equal(head.nbSegs, 65535);
  const extra = pool.alloc()!;
  expectKind(() => head.chain(extra), "ChainTooLong");
  assert.equal(extra.freed, false, "the rejected tail stays owned by the caller");
  batch.push(extra);
  pool.freeBulk(batch);
  head.free();
  assert.equal(pool.inUse, 0);
});

Deno.test("use after free, double free and use after the pool is gone are typed errors", () => {
  const pool = Mempool.createWithSize(uniqueName("uaf"), 64);
  const m = pool.alloc()!;
  m.free();
  assert.equal(m.freed, true);
  expectKind(() => m.free(), "Freed");
  expectKind(() => m.dataLen, "Freed");
  expectKind(() => m.append(1), "Freed");
  m[Symbol.dispose](); // harmless after free
  assert.equal(pool.inUse, 0, "the double free did not reach DPDK");

  const live = pool.alloc()!;
  const view = live.append(16)!;
  view.fill(7);
  const batch = new MbufBatch(4);
  pool.allocBulk(batch, 2);
  // Freeing a pool with mbufs out would hand them out again from the next pool at its address.
  const e = thrown(() => pool[Symbol.dispose](), MempoolError);
  assert.equal(e.kind, "InUse");
  assert.equal(e.inUse, 3, "one Mbuf and two in the batch");
  assert.match(e.message, /3 mbuf\(s\) out/);
  assert.equal(pool.disposed, false, "a refused dispose changes nothing");
  assert.deepEqual(Array.from(live.data), new Array(16).fill(7));
  assert.equal(batch.dataLen(0), 0);
  live.free();
  pool.freeBulk(batch);
  pool[Symbol.dispose]();
  assert.equal(pool.disposed, true);
  assert.equal(view.length, 0, "a stale view is detached, not a window on freed memory");
  expectKind(() => live.dataLen, "Freed");
  assert.equal(thrown(() => pool.freeBulk(batch), MempoolError).kind, "Disposed");
  assert.equal(thrown(() => pool.alloc(), MempoolError).kind, "Disposed");
});

Deno.test("MbufBatch: walking packets allocates nothing per packet; indices and room are checked", () => {
  using pool = Mempool.createWithSize(uniqueName("walk"), 256);
  const batch = new MbufBatch();
  assert.equal(batch.capacity, 32);
  assert.equal(pool.allocBulk(batch), true);
  assert.equal(batch.length, 32);
  assert.equal(batch.free, 0);
  for (let i = 0; i < batch.length; i++) {
    const at = batch.append(i, 4 + i);
    assert.ok(at >= 0);
    batch.bytes(i)[at] = i;
  }
  const bytes0 = batch.bytes(0);
  for (let i = 0; i < batch.length; i++) {
    assert.equal(batch.bytes(i), bytes0, "one mapped buffer serves every packet of the pool");
    assert.equal(batch.dataLen(i), 4 + i);
    assert.equal(batch.pktLen(i), 4 + i);
    assert.equal(batch.bytes(i)[batch.dataIndex(i)], i);
    assert.equal(batch.data(i)[0], i);
  }
  const view = batch.at(0);
  for (let i = 0; i < batch.length; i++) {
    const p = batch.at(i);
    assert.equal(p, view, "at() repositions one PacketView instead of making one per packet");
    assert.equal(p.bytes, bytes0);
    assert.equal(p.start, batch.dataIndex(i));
    assert.equal(p.length, 4 + i);
    assert.equal(p.bytes[p.start], i);
    p.bytes[p.start] = 100 + i; // written in place: visible to DPDK
  }
  for (let i = 0; i < batch.length; i++) assert.equal(batch.data(i)[0], 100 + i);
  expectKind(() => batch.at(32), "IndexOutOfRange");
  expectKind(() => batch.at(0.5), "IndexOutOfRange");
  expectKind(() => batch.dataLen(32), "IndexOutOfRange");
  expectKind(() => batch.dataLen(-1), "IndexOutOfRange");
  expectKind(() => pool.allocBulk(batch, 1), "BatchFull");
  expectKind(() => new MbufBatch(0), "InvalidArgument");

  const last = batch.pop() ?? assert.fail("pop gave null");
  assert.equal(batch.length, 31);
  assert.equal(last.dataLen, 4 + 31);
  assert.deepEqual(last.read(0, 1), Uint8Array.of(131), "DPDK reads the byte written through at()");
  const extra = pool.alloc()!;
  batch.push(last);
  expectKind(() => last.dataLen, "Freed");
  expectKind(() => batch.push(extra), "BatchFull");
  assert.equal(extra.freed, false, "a refused push leaves the mbuf with the caller");
  extra.free();
  assert.equal(pool.inUse, 32);
  pool.freeBulk(batch);
  assert.equal(pool.inUse, 0);
  assert.equal(pool.isFull, true);
});

Deno.test("setDataLen: in place, bounded by the buffer, equal to what DPDK sees", () => {
  using pool = Mempool.createWithSize(uniqueName("setlen"), 64);
  const batch = new MbufBatch(2);
  pool.allocBulk(batch);
  const room = pool.dataRoomSize - Mempool.headroom;
  assert.equal(batch.setDataLen(0, room + 1), false);
  assert.equal(batch.dataLen(0), 0, "a refused length changes nothing");
  assert.equal(batch.setDataLen(0, room), true);
  assert.equal(batch.pktLen(0), room);
  assert.equal(batch.setDataLen(0, 6), true);
  batch.data(0).set([1, 2, 3, 4, 5, 6]);
  const m = batch.pop()!; // packet 1
  const first = batch.pop()!; // packet 0
  assert.deepEqual(first.read(0, 6), Uint8Array.of(1, 2, 3, 4, 5, 6), "DPDK sees the length and bytes");
  assert.equal(first.read(0, 7), null, "and no more");
  assert.equal(first.tailroom, room - 6);
  m.append(1);
  first.chain(m);
  batch.push(first);
  assert.throws(
    () => batch.setDataLen(0, 1),
    (e: unknown) => e instanceof MbufError && e.kind === "InvalidArgument",
  );
  assert.throws(() => batch.setDataLen(0, -1), MbufError);
  pool.freeBulk(batch);
  assert.equal(pool.inUse, 0);
});

Deno.test("allocBulk with a data length; columns() agree with at() and with DPDK", () => {
  using pool = Mempool.createWithSize(uniqueName("cols"), 256);
  const batch = new MbufBatch(16);
  const room = pool.dataRoomSize - Mempool.headroom;
  assert.throws(() => pool.allocBulk(batch, 4, room + 1), (e: unknown) => e instanceof MbufError);
  assert.equal(batch.length, 0, "a refused length takes nothing");
  assert.equal(pool.allocBulk(batch, 8, 60), true);
  const cols = batch.columns();
  for (let i = 0; i < 8; i++) {
    assert.equal(cols.length[i], 60);
    assert.equal(batch.pktLen(i), 60);
    const p = batch.at(i);
    assert.equal(cols.start[i], p.start);
    assert.equal(cols.bytes, p.bytes);
    cols.bytes[cols.start[i]] = 0x40 + i;
  }
  // Entries added later are described on first use (a pushed mbuf too, or -1: then use at()).
  assert.equal(pool.allocBulk(batch, 4), true);
  const m = pool.alloc()!;
  m.append(3)!.set([7, 8, 9]);
  batch.push(m);
  const again = batch.columns();
  assert.equal(again.length[9], 0);
  const st = again.start[12];
  assert.ok(st === -1 || st === batch.at(12).start, `column ${st} agrees with at()`);
  assert.deepEqual(Array.from(batch.data(12)), [7, 8, 9], "at()/data() still find it");
  assert.equal(batch.at(12).length, 3);
  const first = batch.address(0);
  // DPDK sees the bytes written through the columns.
  batch.setDataLen(0, 1);
  const moved = new MbufBatch(1);
  while (batch.length > 1) batch.pop()!.free();
  moved.push(batch.pop()!);
  assert.equal(moved.address(0), first);
  assert.deepEqual(moved.data(0), Uint8Array.of(0x40));
  pool.freeBulk(moved);
  assert.equal(pool.inUse, 0);
});

Deno.test("pool counters stay exact through single, bulk and chain operations", () => {
  using pool = Mempool.createWithSize(uniqueName("count"), 400);
  const batch = new MbufBatch(64);
  const singles = [pool.alloc()!, pool.alloc()!];
  pool.allocBulk(batch, 64);
  assert.equal(pool.inUse, 66);
  singles[0].chain(singles[1]);
  assert.equal(pool.inUse, 66);
  singles[0].free();
  assert.equal(pool.inUse, 64);
  assert.equal(pool.available, 336);
  pool.freeBulk(batch);
  assert.equal(pool.available + pool.inUse, pool.capacity);
  assert.equal(pool.isFull, true);
});

Deno.test("append(0) and prepend(0) on a full mbuf whose buffer ends at the end of its pool's memory", () => {
  using pool = Mempool.createWithSize(uniqueName("edge"), 64);
  const all: Mbuf[] = [];
  for (let m = pool.alloc(); m !== null; m = pool.alloc()) all.push(m);
  assert.equal(all.length, 64);
  // The mbuf at the highest address is the last object of the pool's memory chunk.
  const last = all.reduce((a, b) => (b.address > a.address ? b : a));
  for (const m of all) {
    assert.notEqual(m.append(m.tailroom), null);
    assert.equal(m.tailroom, 0);
    const empty = m.append(0);
    assert.ok(empty instanceof Uint8Array && empty.length === 0, "an empty view, not NotMapped");
    assert.equal(m.prepend(0)?.length, 0);
  }
  assert.equal(last.tailroom, 0);
  for (const m of all) m.free();
  const batch = new MbufBatch(64);
  assert.equal(pool.allocBulk(batch), true);
  for (let i = 0; i < batch.length; i++) {
    assert.equal(batch.setDataLen(i, pool.dataRoom), true);
    assert.ok(batch.append(i, 0) >= 0, `batch.append(${i}, 0)`);
  }
  pool.freeBulk(batch);
});

Deno.test("Mbuf.copy, Port.open and PortDevice accept real pools only: a look-alike never reaches C (child process)", async () => {
  const r = await runChild("fake-pools");
  assert.equal(r.code, 0, `exited with ${r.code} (SIGSEGV is 139): ${r.stderr.slice(-2000)}`);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  for (const op of ["copy", "copy-proto"]) {
    assert.equal(by[op].class, "MbufError", op);
    assert.equal(by[op].kind, "InvalidArgument", op);
  }
  assert.equal(by["port-open"].class, "PortError");
  assert.equal(by["port-open"].kind, "InvalidArgument");
  assert.equal(by.device.kind, "InvalidArgument");
  assert.equal(by["copy-real"].returned, "8");
});

Deno.test("MbufBatch.bytes(i) is the memory of packet i's pool, whichever chunk was looked up before", () => {
  using a = Mempool.createWithSize(uniqueName("gap_a"), 64);
  using b = Mempool.createWithSize(uniqueName("gap_b"), 64);
  const ba = new MbufBatch(4);
  const bb = new MbufBatch(4);
  try {
    a.allocBulk(ba, 1, 16);
    b.allocBulk(bb, 1, 16);
    ba.data(0).fill(0x22);
    bb.data(0).fill(0x11);
    bb.dataLen(0); // the last lookup was in b's memory
    // The documented way to write packet 0 of `ba` without a view per packet:
    const mem = ba.bytes(0);
    const at = ba.dataIndex(0);
    mem.fill(0x77, at, at + 16);
    // bytes(i) must look packet i up before it reads the chunk found (else: the previous one, b's).
    assert.equal(bb.data(0)[0], 0x11, "pool b's mbuf was not written");
    assert.equal(ba.data(0)[0], 0x77, "the write reached packet 0 of batch a");
  } finally {
    a.freeBulk(ba);
    b.freeBulk(bb);
  }
});

Deno.test("MbufBatch.at: a pushed mbuf (outside the layout columns) is found from its address", () => {
  using pool = Mempool.createWithSize(uniqueName("atpush"), 64);
  const batch = new MbufBatch(4);
  assert.ok(pool.allocBulk(batch, 2, 5));
  const m = pool.alloc()!;
  m.append(7)!.fill(9);
  batch.push(m);
  assert.equal(batch.columns().start[2], -1, "a pushed entry has no column start");
  for (let i = 0; i < 2; i++) batch.at(i).bytes[batch.at(i).start] = i; // fast path first
  const p = batch.at(2);
  assert.equal(p.length, 7);
  assert.equal(p.start, batch.dataIndex(2));
  assert.equal(p.bytes[p.start], 9);
  assert.equal(batch.at(1).length, 5);
  assert.equal(batch.at(1).bytes[batch.at(1).start], 1);
  pool.freeBulk(batch);
});

/** Sets an mbuf's reference count in place, as rte_mbuf_refcnt_set does (a second holder of it). */
function setRefcnt(address: number, n: number): void {
  const p = Deno.UnsafePointer.create(BigInt(address)) ?? assert.fail("null mbuf");
  new DataView(Deno.UnsafePointerView.getArrayBuffer(p, 64)).setUint16(O_REFCNT, n, true);
}

Deno.test("freeBulk: a shared mbuf (refcnt 2) keeps its other reference; the rest return", () => {
  using pool = Mempool.createWithSize(uniqueName("fbshared"), 64);
  for (const at of [0, 2, 3]) { // first, middle, last: each entry is checked, not only the first
    const batch = new MbufBatch(4);
    assert.ok(pool.allocBulk(batch, 4));
    const a = batch.address(at);
    setRefcnt(a, 2);
    const other = wrapMbuf(a, pool); // the second holder
    pool.freeBulk(batch);
    assert.equal(pool.inUse, 1, `entry ${at}: only the shared mbuf is still out`);
    assert.equal(other.refcnt, 1, "its count went down by one");
    other.free();
    assert.equal(pool.inUse, 0);
    // Every mbuf is handed out once: the shared one was not put back twice.
    const all = new MbufBatch(64);
    assert.ok(pool.allocBulk(all, 64));
    assert.equal(new Set(Array.from({ length: 64 }, (_, i) => all.address(i))).size, 64);
    assert.equal(pool.allocBulk(new MbufBatch(1), 1), false, "the pool holds exactly 64");
    pool.freeBulk(all);
  }
});

Deno.test("freeBulk: a batch from two pools and a batch with a chain each return every mbuf to its own pool", () => {
  using a = Mempool.createWithSize(uniqueName("fbmix_a"), 64);
  using b = Mempool.createWithSize(uniqueName("fbmix_b"), 64);
  const batch = new MbufBatch(8);
  assert.ok(a.allocBulk(batch, 3));
  for (let i = 0; i < 3; i++) batch.push(b.alloc()!);
  assert.ok(a.allocBulk(batch, 2));
  assert.equal(a.inUse, 5);
  assert.equal(b.inUse, 3);
  a.freeBulk(batch);
  assert.equal(a.inUse, 0, "pool a got back its five");
  assert.equal(b.inUse, 0, "pool b got back its three");
  assert.equal(a.available, 64);
  assert.equal(b.available, 64);
  // A chain among single mbufs: its second segment goes back too.
  assert.ok(a.allocBulk(batch, 3));
  const head = a.alloc()!;
  const tail = a.alloc()!;
  head.append(10);
  tail.append(10);
  head.chain(tail);
  batch.push(head);
  assert.equal(a.inUse, 5);
  a.freeBulk(batch);
  assert.equal(a.inUse, 0, "the chain's tail was freed with its head");
});

Deno.test("MbufBatch.append refuses a chained packet (its new bytes would be outside bytes(i)); Mbuf.append takes it", () => {
  using a = Mempool.createWithSize(uniqueName("appchain_a"), 64);
  using b = Mempool.createWithSize(uniqueName("appchain_b"), 64);
  const head = a.alloc()!;
  const tail = b.alloc()!; // another pool: another memory
  head.append(8)!.fill(1);
  tail.append(8)!.fill(2);
  head.chain(tail);
  const batch = new MbufBatch(2);
  batch.push(head);
  const e = expectKind(() => batch.append(0, 4), "InvalidArgument");
  assert.match(e.message, /several segments.*Mbuf\.append/);
  assert.equal(batch.pktLen(0), 16, "nothing changed");
  const m = batch.pop()!;
  const grown = m.append(4) ?? assert.fail("tailroom");
  grown.fill(3);
  assert.equal(m.pktLen, 20);
  assert.deepEqual(
    dpdkBytes(m).slice(8),
    [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3],
    "the new bytes end the last segment",
  );
  m.free();
  assert.equal(a.inUse + b.inUse, 0);
});

Deno.test("a program that transfers a pool's memory away (m.data.buffer) still reads and writes mbufs", () => {
  using pool = Mempool.createWithSize(uniqueName("transfer"), 64);
  using m = pool.alloc() ?? assert.fail("pool empty");
  const view = m.append(4) ?? assert.fail("append failed");
  view.set([1, 2, 3, 4]);
  // The mbuf views are of the chunk's own ArrayBuffer; the memory is DPDK's and stays where it is.
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  assert.equal(view.length, 0, "detached");
  assert.equal(m.dataLen, 4, "the header read again from the memory, mapped anew");
  assert.deepEqual(Array.from(m.data), [1, 2, 3, 4]);
  using n = pool.alloc() ?? assert.fail("pool empty");
  (n.append(3) ?? assert.fail("append failed")).set([7, 8, 9]);
  assert.deepEqual(dpdkBytes(n), [7, 8, 9]);
});
