/**
 * Every public entry of the core modules (Eal, Mempool, Mbuf, MbufBatch, Port, Vdev) called with
 * hostile values: each must throw its module's typed error (InvalidArgument, or the documented
 * kind for an index or queue number out of range) whose message names the parameter and the
 * value — never a TypeError/RangeError from inside, never a silent acceptance.
 */
import assert from "node:assert/strict";
import {
  Eal,
  EalError,
  Mbuf,
  MbufBatch,
  MbufError,
  Mempool,
  MempoolError,
  Port,
  PortError,
  Vdev,
} from "../mod.ts";
import { describeValue } from "../src/validate.ts";
import { testEal, uniqueName } from "./_eal.ts";
import { ringPort, vdevName } from "./_ring.ts";

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error & { kind: string };

/** Values that are no whole number in any range. */
const NOT_INTEGERS: unknown[] = [NaN, 1.5, Infinity, -Infinity, 10n, "1", null, {}, [], true, Symbol("s")];
/** Whole numbers outside every unsigned range we take. */
const OUT_OF_RANGE: unknown[] = [-1, 2 ** 32, 2 ** 53];
const NOT_BOOLEANS: unknown[] = [1, 0, "true", null, 10n, {}];
const NOT_OBJECTS: unknown[] = [5, "x", true, 10n, null, [], Symbol("o"), new Map([["numMbufs", 1]])];
const NOT_STRINGS: unknown[] = [5, null, {}, [], 10n, true, Symbol("n")];

interface Case {
  /** The entry and parameter, e.g. "allocBulk count". */
  entry: string;
  /** Words the message must contain (the parameter's name). */
  names: string;
  values: unknown[];
  call: (v: unknown) => unknown;
  /** The kind expected for `v` (default InvalidArgument). */
  kind?: (v: unknown) => string;
  /** Whether the message must show the value (false for checks that only name the type). */
  showsValue?: boolean;
}

function check(c: Case, cls: ErrorClass): void {
  for (const v of c.values) {
    const label = `${c.entry}(${describeValue(v)})`;
    let error: unknown;
    let returned: unknown;
    try {
      returned = c.call(v);
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, `${label} was accepted (returned ${describeValue(returned)})`);
    assert.ok(
      error instanceof cls,
      `${label}: expected ${cls.name}, got ${error instanceof Error ? error.stack : String(error)}`,
    );
    const e = error as Error & { kind: string };
    assert.equal(e.kind, c.kind?.(v) ?? "InvalidArgument", `${label}: ${e.message}`);
    assert.ok(e.message.includes(c.names), `${label}: message does not name ${c.names}: ${e.message}`);
    if (c.showsValue !== false && e.kind === "InvalidArgument" && !Array.isArray(v)) {
      const shown = e.message.includes(describeValue(v)) ||
        (typeof v === "string" && e.message.includes(JSON.stringify(v)));
      assert.ok(shown, `${label}: message does not show the value: ${e.message}`);
    }
  }
}

const indexKind = (v: unknown) => typeof v === "number" ? "IndexOutOfRange" : "InvalidArgument";
const queueKind = (v: unknown) => typeof v === "number" ? "QueueOutOfRange" : "InvalidArgument";

Deno.test("Eal: hostile options and argv are EalError InvalidArgument naming the option", async (t) => {
  testEal(); // running: a check that let a value through would give ConflictingArgs instead
  const init = (o: unknown) => () => Eal.init(o as never);
  const cases: Case[] = [
    {
      entry: "Eal.init",
      names: "Eal.init",
      values: ["--no-huge", 42, null, true, 10n],
      call: (v) => init(v)(),
    },
    {
      entry: "memoryMb",
      names: "memoryMb",
      values: [...NOT_INTEGERS, 0, -1, 1_000_000, 2 ** 53],
      call: (v) => init({ memoryMb: v })(),
    },
    {
      entry: "vdevs",
      names: "vdevs",
      values: ["net_ring0", 5, null, {}, [5], [""], ["a\0"]],
      call: (v) => init({ vdevs: v })(),
    },
    {
      entry: "extraArgs",
      names: "extraArgs",
      values: ["-v", 5, null, [5], ["a\0"]],
      call: (v) => init({ extraArgs: v })(),
    },
    {
      entry: "logLevel",
      names: "logLevel",
      values: ["nonsense", "*:loud", ":error", "", 5, ["*:error", "x"], [5]],
      call: (v) => init({ logLevel: v })(),
    },
    {
      entry: "lcores",
      names: "lcores",
      values: ["", "0 1", ...NOT_STRINGS],
      call: (v) => init({ lcores: v })(),
    },
    {
      entry: "filePrefix",
      names: "filePrefix",
      values: ["", "a b", "a\0", ...NOT_STRINGS],
      call: (v) => init({ filePrefix: v })(),
    },
    ...(["noHuge", "noPci", "noShconf", "noTelemetry"] as const).map((k): Case => ({
      entry: k,
      names: k,
      values: NOT_BOOLEANS,
      call: (v) => init({ [k]: v })(),
    })),
    {
      entry: "options",
      names: "memory",
      values: [{ memory: 512 }],
      call: (v) => init(v)(),
      showsValue: false,
    },
    {
      entry: "argv",
      names: "argv",
      values: [[], [5], ["p", 5], ["p", "a\0"]],
      call: (v) => init(v)(),
      showsValue: false,
    },
    {
      entry: "argv that ends the process",
      names: "end the process",
      values: [["--help"], ["-h"], ["-vh"], ["--he"], ["--log-level=help"], ["--log-level", "help"]],
      call: (v) => init({ extraArgs: v })(),
      showsValue: false,
    },
    {
      entry: "argv -m",
      names: "-m",
      values: [["p", "-m", "1000000"], ["p", "-m1000000"], ["p", "-m", "x"]],
      call: (v) => init(v)(),
      showsValue: false,
    },
    {
      entry: "Eal.devOptions",
      names: "devOptions",
      values: NOT_OBJECTS,
      call: (v) => Eal.devOptions(v as never),
    },
  ];
  for (const c of cases) await t.step(c.entry, () => check(c, EalError));
  assert.equal(Eal.state, "running");
});

Deno.test("Mempool: hostile sizes, names and options are MempoolError InvalidArgument", async (t) => {
  testEal();
  const name = uniqueName("val");
  const ints = [...NOT_INTEGERS, ...OUT_OF_RANGE];
  const cases: Case[] = [
    {
      entry: "createWithSize numMbufs",
      names: "numMbufs",
      values: ints,
      call: (v) => Mempool.createWithSize(name, v as number),
    },
    {
      entry: "create socketId",
      names: "socketId",
      values: [...NOT_INTEGERS, -2, 2 ** 31],
      call: (v) => Mempool.create(name, v as number),
    },
    {
      entry: "createForMtu mtu",
      names: "mtu",
      values: [...NOT_INTEGERS, 67, 65390],
      call: (v) => Mempool.createForMtu(name, 64, v as number),
    },
    {
      entry: "createForMtu numMbufs",
      names: "numMbufs",
      values: ints,
      call: (v) => Mempool.createForMtu(name, v as number, 1500),
    },
    ...(["numMbufs", "dataRoomSize", "cacheSize", "privSize", "socketId"] as const).map((k): Case => ({
      entry: `createWithOptions ${k}`,
      names: k,
      values: [...NOT_INTEGERS, k === "socketId" ? -2 : -1, 2 ** 32],
      call: (v) => Mempool.createWithOptions(name, { [k]: v }),
    })),
    {
      entry: "createWithOptions packed",
      names: "packed",
      values: NOT_BOOLEANS,
      call: (v) => Mempool.createWithOptions(name, { packed: v as boolean }),
    },
    {
      entry: "createWithOptions options",
      names: "options",
      values: NOT_OBJECTS,
      call: (v) => Mempool.createWithOptions(name, v as never),
    },
    {
      entry: "createWithOptions unknown field",
      names: "numMbuf",
      values: [{ numMbuf: 64 }],
      call: (v) => Mempool.createWithOptions(name, v as never),
      showsValue: false,
    },
    {
      entry: "cacheSizeFor numMbufs",
      names: "numMbufs",
      values: ints,
      call: (v) => Mempool.cacheSizeFor(v as number),
    },
    {
      entry: "cacheSizeFor wanted",
      names: "wanted",
      values: ints,
      call: (v) => Mempool.cacheSizeFor(1024, v as number),
    },
    {
      entry: "dataRoomForMtu",
      names: "mtu",
      values: [...NOT_INTEGERS, 0, 65390],
      call: (v) => Mempool.dataRoomForMtu(v as number),
    },
  ];
  for (const c of cases) await t.step(c.entry, () => check(c, MempoolError));
  await t.step("non-string names are InvalidName", () => {
    for (
      const f of [(v: unknown) => Mempool.create(v as string), (v: unknown) => Mempool.lookup(v as string)]
    ) {
      check({
        entry: "name",
        names: "name",
        values: NOT_STRINGS,
        call: f,
        kind: () => "InvalidName",
      }, MempoolError);
    }
  });
  assert.equal(Mempool.lookup(name), null, "nothing was created");
});

Deno.test("Mempool and Mbuf: hostile counts, lengths, indexes and objects are MbufError", async (t) => {
  testEal();
  using pool = Mempool.createWithSize(uniqueName("valm"), 256);
  const batch = new MbufBatch(8);
  assert.ok(pool.allocBulk(batch, 4, 10));
  using m = pool.alloc()!;
  m.append(20);
  using other = pool.alloc()!;
  const ints = [...NOT_INTEGERS, ...OUT_OF_RANGE];
  const notBatches = [undefined, null, {}, [], 5, "b", new BigUint64Array(8)];
  // An object that only looks like a pool (a real address of its choosing) crashed C: that case
  // runs in a child process (eal_test.ts, "copy-fake-pool").
  const cases: Case[] = [
    {
      entry: "allocBulk batch",
      names: "batch",
      values: notBatches,
      call: (v) => pool.allocBulk(v as MbufBatch),
      showsValue: false,
    },
    {
      entry: "allocBulk count",
      names: "count",
      values: ints,
      call: (v) => pool.allocBulk(batch, v as number),
    },
    {
      entry: "allocBulk dataLen",
      names: "dataLen",
      values: [...ints, 65535],
      call: (v) => pool.allocBulk(batch, 1, v as number),
    },
    {
      entry: "freeBulk batch",
      names: "batch",
      values: notBatches,
      call: (v) => pool.freeBulk(v as MbufBatch),
      showsValue: false,
    },
    {
      entry: "freeBulk count",
      names: "count",
      values: [...ints, 5],
      call: (v) => pool.freeBulk(batch, v as number),
    },
    {
      entry: "new Mbuf",
      names: "Mempool.alloc",
      values: [Symbol("t"), undefined, 0],
      call: (v) => new Mbuf(v as symbol, 0, pool),
      showsValue: false,
    },
    ...(["append", "prepend", "adj", "trim"] as const).map((k): Case => ({
      entry: `Mbuf.${k}`,
      names: k,
      values: [...NOT_INTEGERS, -1, 65536],
      call: (v) => m[k](v as number),
    })),
    { entry: "Mbuf.read offset", names: "read offset", values: ints, call: (v) => m.read(v as number, 1) },
    { entry: "Mbuf.read length", names: "read", values: ints, call: (v) => m.read(0, v as number) },
    {
      entry: "Mbuf.read out",
      names: "out",
      values: [null, {}, [], "x", 5, new Uint16Array(4)],
      call: (v) => m.read(0, 1, v as Uint8Array),
    },
    {
      entry: "Mbuf.copy pool",
      names: "pool",
      values: [null, {}, 5, "p"],
      call: (v) => m.copy(v as Mempool),
      showsValue: false,
    },
    { entry: "Mbuf.copy offset", names: "copy offset", values: ints, call: (v) => m.copy(pool, v as number) },
    { entry: "Mbuf.copy length", names: "copy", values: ints, call: (v) => m.copy(pool, 0, v as number) },
    {
      entry: "Mbuf.chain",
      names: "tail",
      values: [null, {}, 5, "t", batch],
      call: (v) => m.chain(v as Mbuf),
      showsValue: false,
    },
    {
      entry: "new MbufBatch",
      names: "capacity",
      values: [...NOT_INTEGERS, 0, 65536],
      call: (v) => new MbufBatch(v as number),
    },
    ...(["at", "dataLen", "pktLen", "bytes", "dataIndex", "data", "address"] as const).map((k): Case => ({
      entry: `MbufBatch.${k}`,
      names: "index",
      values: [...NOT_INTEGERS, -1, 4, 2 ** 32],
      call: (v) => batch[k](v as number),
      kind: indexKind,
    })),
    {
      entry: "MbufBatch.append index",
      names: "index",
      values: [...NOT_INTEGERS, 4],
      call: (v) => batch.append(v as number, 1),
      kind: indexKind,
    },
    {
      entry: "MbufBatch.append n",
      names: "append",
      values: [...NOT_INTEGERS, -1, 65536],
      call: (v) => batch.append(0, v as number),
    },
    {
      entry: "MbufBatch.setDataLen index",
      names: "index",
      values: [...NOT_INTEGERS, 4],
      call: (v) => batch.setDataLen(v as number, 1),
      kind: indexKind,
    },
    {
      entry: "MbufBatch.setDataLen n",
      names: "setDataLen",
      values: [...NOT_INTEGERS, -1, 65536],
      call: (v) => batch.setDataLen(0, v as number),
    },
    {
      entry: "requestTxChecksum index",
      names: "index",
      values: [...NOT_INTEGERS, 4],
      call: (v) => batch.requestTxChecksum(v as number, 14, 20, 17),
      kind: indexKind,
    },
    {
      entry: "requestTxChecksum l2Len",
      names: "l2Len",
      values: [...NOT_INTEGERS, -1, 128],
      call: (v) => batch.requestTxChecksum(0, v as number, 20, 17),
    },
    {
      entry: "requestTxChecksum l3Len",
      names: "l3Len",
      values: [...NOT_INTEGERS, -1, 512],
      call: (v) => batch.requestTxChecksum(0, 14, v as number, 17),
    },
    {
      entry: "requestTxChecksum l4Protocol",
      names: "l4Protocol",
      values: [...NOT_INTEGERS, 1, -1],
      call: (v) => batch.requestTxChecksum(0, 14, 20, v as number),
    },
    {
      entry: "MbufBatch.push",
      names: "m",
      values: [null, {}, 5, "m", batch],
      call: (v) => batch.push(v as Mbuf),
      showsValue: false,
    },
  ];
  for (const c of cases) await t.step(c.entry, () => check(c, MbufError));
  assert.equal(batch.length, 4, "no call changed the batch");
  assert.equal(m.dataLen, 20, "no call changed the mbuf");
  assert.equal(other.freed, false);
  pool.freeBulk(batch);
});

Deno.test("Port and Vdev: hostile ids, pools, options, queues and batches are typed errors", async (t) => {
  testEal();
  using r = ringPort("valp", 512);
  const batch = new MbufBatch(4);
  const notBatches = [undefined, null, {}, [], 5, "b"];
  const portCases: Case[] = [
    {
      entry: "Port.open id",
      names: "port id",
      values: [...NOT_INTEGERS.filter((v) => typeof v !== "string"), -1, 65536],
      call: (v) => Port.open(v as number, r.pool),
    },
    {
      entry: "Port.open name",
      names: "port name",
      values: ["", "net\0ring"],
      call: (v) => Port.open(v as string, r.pool),
    },
    {
      entry: "Port.open pool",
      names: "pool",
      values: [null, {}, 5, "pool", batch],
      call: (v) => Port.open(r.port.id, v as Mempool),
      showsValue: false,
    },
    {
      entry: "Port.open options",
      names: "options",
      values: NOT_OBJECTS,
      call: (v) => Port.open(r.port.id, r.pool, v as never),
    },
    {
      entry: "Port.open unknown field",
      names: "rxQueue",
      values: [{ rxQueue: 2 }],
      call: (v) => Port.open(r.port.id, r.pool, v as never),
      showsValue: false,
    },
    ...(["rxQueues", "txQueues", "rxDescriptors", "txDescriptors", "mtu"] as const).map((k): Case => ({
      entry: `Port.open ${k}`,
      names: k,
      values: [...NOT_INTEGERS, -1, 2 ** 32],
      call: (v) => Port.open(r.port.id, r.pool, { [k]: v }),
    })),
    ...(["promiscuous", "txChecksumOffload", "rxChecksumOffload"] as const).map((k): Case => ({
      entry: `Port.open ${k}`,
      names: k,
      values: NOT_BOOLEANS,
      call: (v) => Port.open(r.port.id, r.pool, { [k]: v }),
    })),
    {
      entry: "rxBurst queue",
      names: "queue",
      values: [...NOT_INTEGERS, -1, 1],
      call: (v) => r.port.rxBurst(v as number, batch),
      kind: queueKind,
    },
    {
      entry: "txBurst queue",
      names: "queue",
      values: [...NOT_INTEGERS, -1, 1],
      call: (v) => r.port.txBurst(v as number, batch),
      kind: queueKind,
    },
    {
      entry: "Vdev.attach name",
      names: "name",
      values: [...NOT_STRINGS, "", "x y", "net_a\0"],
      call: (v) => Vdev.attach(v as string),
    },
    {
      entry: "Vdev.attach args",
      names: "args",
      values: [...NOT_STRINGS, "a\0b"],
      call: (v) => Vdev.attach(vdevName("net_null"), v as string),
    },
  ];
  for (const c of portCases) await t.step(c.entry, () => check(c, PortError));
  const batchCases: Case[] = [
    {
      entry: "rxBurst batch",
      names: "batch",
      values: notBatches,
      call: (v) => r.port.rxBurst(0, v as MbufBatch),
      showsValue: false,
    },
    {
      entry: "txBurst batch",
      names: "batch",
      values: notBatches,
      call: (v) => r.port.txBurst(0, v as MbufBatch),
      showsValue: false,
    },
    {
      entry: "txBurst count",
      names: "count",
      values: [...NOT_INTEGERS, -1, 1],
      call: (v) => r.port.txBurst(0, batch, v as number),
    },
  ];
  for (const c of batchCases) await t.step(c.entry, () => check(c, MbufError));
  assert.equal(r.port.state, "started", "the port is untouched");
  assert.equal(Port.count() >= 1, true);
});
