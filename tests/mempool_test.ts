import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  DEFAULT_NUM_MBUFS,
  MBUF_CACHE_SIZE,
  MbufBatch,
  Mempool,
  MempoolError,
  type MempoolErrorKind,
  MIN_MTU,
  SOCKET_ID_ANY,
} from "../mod.ts";
import { thrown } from "./_assert.ts";
import { testEal, uniqueName } from "./_eal.ts";

testEal();

function expectKind(f: () => unknown, kind: MempoolErrorKind): MempoolError {
  const e = thrown(f, MempoolError);
  assert.equal(e.kind, kind, e.message);
  return e;
}

Deno.test("Mempool.create: 8192 mbufs, cache 256, default data room, all available", () => {
  const name = uniqueName("def");
  using pool = Mempool.create(name);
  assert.equal(DEFAULT_NUM_MBUFS, 8192);
  assert.equal(MBUF_CACHE_SIZE, 256);
  assert.equal(pool.name, name);
  assert.equal(pool.capacity, 8192);
  assert.equal(pool.cacheSize, 256);
  assert.equal(pool.dataRoomSize, 2176);
  assert.equal(pool.dataRoomSize, Mempool.defaultDataRoomSize);
  assert.equal(pool.socketId, SOCKET_ID_ANY);
  assert.equal(pool.privSize, 0);
  assert.equal(pool.available, pool.capacity);
  assert.equal(pool.inUse, 0);
  assert.equal(pool.isFull, true);
  assert.equal(pool.isEmpty, false);
  assert.equal(pool.owned, true);
  assert.equal(pool.disposed, false);
  assert.notEqual(Deno.UnsafePointer.value(pool.pointer), 0);
});

Deno.test("layout: without hugepages (IOVA as VA) pools are packed by default; packed: false is DPDK's page per mbuf", () => {
  // Where mbufs sit within a 4 KiB page tells the layouts apart.
  const pageOffsets = (pool: Mempool) => {
    const b = new MbufBatch(64);
    assert.equal(pool.allocBulk(b, 64), true);
    const offsets = new Set(Array.from({ length: 64 }, (_, i) => b.address(i) % 4096));
    pool.freeBulk(b);
    return offsets.size;
  };
  using byDefault = Mempool.createWithSize(uniqueName("lay"), 512);
  using packed = Mempool.createWithOptions(uniqueName("lay"), { numMbufs: 512, packed: true });
  using paged = Mempool.createWithOptions(uniqueName("lay"), { numMbufs: 512, packed: false });
  assert.deepEqual([byDefault.packed, packed.packed, paged.packed], [true, true, false]);
  assert.equal(Mempool.lookup(paged.name)?.packed, false);
  assert.equal(pageOffsets(paged), 1, "one mbuf per page: every header at the same page offset");
  assert.ok(pageOffsets(packed) > 16, "packed mbufs sit at many page offsets");
  assert.ok(pageOffsets(byDefault) > 16, "the default here (no hugepages, IOVA as VA) is packed");
  for (const pool of [byDefault, packed, paged]) {
    assert.equal(pool.available, 512);
    assert.equal(pool.dataRoom, pool.dataRoomSize - 128, "the data room after the headroom");
    const m = pool.alloc()!;
    assert.equal(m.tailroom, pool.dataRoom);
    m.free();
  }
});

Deno.test("DPDK constants come from the headers", () => {
  assert.equal(Mempool.maxNameLength, 25);
  assert.equal(Mempool.headroom, 128);
  assert.equal(Mempool.maxCacheSize, 512);
  assert.equal(Mempool.maxMtu, 65535 - 14 - 4 - 128);
});

Deno.test("Mempool.createWithSize and socketId", () => {
  using pool = Mempool.createWithSize(uniqueName("sz"), 1000, 0);
  assert.equal(pool.capacity, 1000);
  assert.equal(pool.available, 1000);
  assert.equal(pool.socketId, 0);
  assert.equal(pool.dataRoomSize, 2176);
});

Deno.test("Mempool.createForMtu: data room = mtu + 14 + 4 + 128, bounds checked", async (t) => {
  for (const [mtu, room] of [[1500, 1646], [9000, 9146], [MIN_MTU, 214], [65389, 65535]]) {
    await t.step(`mtu ${mtu}`, () => {
      using pool = Mempool.createForMtu(uniqueName("mtu"), 64, mtu);
      assert.equal(pool.dataRoomSize, room);
      assert.equal(Mempool.dataRoomForMtu(mtu), room);
    });
  }
  for (const mtu of [MIN_MTU - 1, 65390, 70000, 1500.5, -1, Number.NaN]) {
    await t.step(`mtu ${mtu} is rejected before DPDK sees it`, () => {
      const name = uniqueName("badmtu");
      const e = expectKind(() => Mempool.createForMtu(name, 64, mtu), "InvalidArgument");
      assert.match(e.message, /mtu must be a whole number from 68 to 65389/);
      assert.equal(Mempool.lookup(name), null, "nothing was created");
    });
  }
});

Deno.test("cache size is the largest DPDK accepts for small pools", async (t) => {
  for (const [n, cache] of [[1, 1], [2, 1], [383, 255], [384, 256], [8192, 256]]) {
    await t.step(`${n} mbufs → cache ${cache}`, () => {
      assert.equal(Mempool.cacheSizeFor(n), cache);
      using pool = Mempool.createWithSize(uniqueName("cache"), n);
      assert.equal(pool.cacheSize, cache);
      assert.equal(pool.capacity, n);
      assert.equal(pool.available, n);
    });
  }
});

Deno.test("InvalidName: empty, NUL byte, longer than 25 bytes; 25 bytes works", () => {
  expectKind(() => Mempool.create(""), "InvalidName");
  expectKind(() => Mempool.create("a\0b"), "InvalidName");
  const long = expectKind(() => Mempool.create("x".repeat(26)), "InvalidName");
  assert.match(long.message, /26 bytes; DPDK allows at most 25/);
  expectKind(() => Mempool.create("é".repeat(13)), "InvalidName"); // 26 UTF-8 bytes
  expectKind(() => Mempool.lookup(""), "InvalidName");
  const name = `n${Date.now()}`.padEnd(25, "z");
  using pool = Mempool.createWithSize(name, 64);
  assert.equal(pool.name, name);
});

Deno.test("InvalidArgument: values DPDK would misread are refused before the call", async (t) => {
  const cases: [string, (name: string) => unknown][] = [
    ["numMbufs -1", (n) => Mempool.createWithSize(n, -1)],
    ["numMbufs 1.5", (n) => Mempool.createWithSize(n, 1.5)],
    ["numMbufs 2^32", (n) => Mempool.createWithSize(n, 2 ** 32)],
    ["dataRoomSize 70000 (would wrap to 4464)", (n) => Mempool.createWithOptions(n, { dataRoomSize: 70000 })],
    ["dataRoomSize below the headroom", (n) => Mempool.createWithOptions(n, { dataRoomSize: 100 })],
    ["socketId -2", (n) => Mempool.createWithSize(n, 64, -2)],
    ["socketId 32", (n) => Mempool.createWithSize(n, 64, 32)],
    ["packed not a boolean", (n) => Mempool.createWithOptions(n, { packed: 1 as unknown as boolean })],
  ];
  for (const [label, f] of cases) {
    await t.step(label, () => {
      const name = uniqueName("arg");
      expectKind(() => f(name), "InvalidArgument");
      assert.equal(Mempool.lookup(name), null, "nothing was created");
    });
  }
});

Deno.test("CreateFailed carries rte_errno and DPDK's text", async (t) => {
  await t.step("duplicate name: EEXIST; the name is reusable after dispose", () => {
    const name = uniqueName("dup");
    const first = Mempool.createWithSize(name, 64);
    const e = expectKind(() => Mempool.createWithSize(name, 64), "CreateFailed");
    assert.equal(e.errno, 17);
    assert.equal(e.errnoText, "File exists");
    assert.equal(e.poolName, name);
    assert.match(e.message, /already exists/);
    assert.equal(first.available, 64, "the existing pool is untouched");
    first[Symbol.dispose]();
    using again = Mempool.createWithSize(name, 64);
    assert.equal(again.capacity, 64);
  });
  await t.step("0 mbufs: EINVAL", () => {
    const e = expectKind(() => Mempool.createWithSize(uniqueName("zero"), 0), "CreateFailed");
    assert.equal(e.errno, 22);
    assert.equal(e.errnoText, "Invalid argument");
    assert.match(e.message, /numMbufs must be ≥ 1/);
  });
  await t.step("explicit cache above the limit: EINVAL, hint gives the largest valid cache", () => {
    const e1 = expectKind(
      () => Mempool.createWithOptions(uniqueName("c"), { numMbufs: 1000, cacheSize: 513 }),
      "CreateFailed",
    );
    assert.equal(e1.errno, 22);
    const e2 = expectKind(
      () => Mempool.createWithOptions(uniqueName("c"), { numMbufs: 256, cacheSize: 256 }),
      "CreateFailed",
    );
    assert.equal(e2.errno, 22);
    assert.match(e2.message, /largest valid cache for 256 mbufs: 171/);
  });
  await t.step("private size not a multiple of 8: EINVAL", () => {
    const e = expectKind(
      () => Mempool.createWithOptions(uniqueName("p"), { numMbufs: 64, privSize: 3 }),
      "CreateFailed",
    );
    assert.equal(e.errno, 22);
  });
  await t.step("more mbufs than EAL memory holds: ENOMEM, nothing left behind", () => {
    const name = uniqueName("huge");
    const e = expectKind(() => Mempool.createWithSize(name, 1_000_000), "CreateFailed");
    assert.equal(e.errno, 12);
    assert.equal(e.errnoText, "Cannot allocate memory");
    assert.match(e.message, /memoryMb/);
    assert.equal(Mempool.lookup(name), null);
    using after = Mempool.createWithSize(uniqueName("after"), 4096);
    assert.equal(after.available, 4096, "DPDK memory is usable after the failure");
  });
});

Deno.test("lookup returns the owning instance; after dispose it finds nothing", () => {
  const name = uniqueName("look");
  const pool = Mempool.createWithSize(name, 128);
  assert.equal(Mempool.lookup(name), pool);
  assert.equal(Mempool.lookup(uniqueName("never")), null);
  pool[Symbol.dispose]();
  assert.equal(Mempool.lookup(name), null);
});

Deno.test("dispose: idempotent, `using` frees at scope end, use after dispose throws", () => {
  const name = uniqueName("disp");
  {
    using scoped = Mempool.createWithSize(name, 64);
    assert.equal(Mempool.lookup(name), scoped);
  }
  assert.equal(Mempool.lookup(name), null, "freed at the end of the using block");

  const pool = Mempool.createWithSize(uniqueName("disp2"), 64);
  pool[Symbol.dispose]();
  pool[Symbol.dispose]();
  assert.equal(pool.disposed, true);
  for (const use of [() => pool.available, () => pool.inUse, () => pool.pointer, () => pool.isFull]) {
    const e = expectKind(use, "Disposed");
    assert.match(e.message, /freed/);
  }
  assert.equal(pool.capacity, 64, "plain facts stay readable");
});

Deno.test("MempoolError kinds are a closed union and instanceof works", () => {
  const describe = (k: MempoolErrorKind): string => {
    switch (k) {
      case "InvalidName":
      case "InvalidArgument":
      case "CreateFailed":
      case "Disposed":
      case "InUse":
        return k;
      default: {
        const never: never = k;
        return never;
      }
    }
  };
  const e = expectKind(() => Mempool.create(""), "InvalidName");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "MempoolError");
  assert.equal(describe(e.kind), "InvalidName");
});

Deno.test("creating a pool logs name, numMbufs and socketId at info through LogTape", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: ["melin-dpdk"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  try {
    const name = uniqueName("log");
    const pool = Mempool.createWithSize(name, 100, 0);
    pool[Symbol.dispose]();
    const created = records.find((r) => r.properties.name === name && r.level === "info");
    assert.ok(created, `records: ${JSON.stringify(records.map((r) => r.message))}`);
    assert.deepEqual(created.category, ["melin-dpdk", "mempool"]);
    assert.equal(created.properties.numMbufs, 100);
    assert.equal(created.properties.socketId, 0);
  } finally {
    await reset();
  }
});
