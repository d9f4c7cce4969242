/**
 * Gaps found by the review of issues 10 and 12: each test fails on the reviewed code and says
 * what is expected instead.
 */
import assert from "node:assert/strict";
import { Interface, InterfaceError, LoopbackDevice, MbufBatch, Mempool, parseIpv4Address } from "../mod.ts";
import { testEal, uniqueName } from "./_eal.ts";

testEal();

Deno.test("Gap: MbufBatch.bytes(i) is the memory of packet i's pool, whichever chunk was looked up before", () => {
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
    // src/mbuf.ts MbufBatch.bytes: `dataOf(hit, this.#header(i))` reads `hit` before #header(i)
    // sets it, so it hands out the previous chunk: the write lands in pool b's mbuf.
    assert.equal(bb.data(0)[0], 0x11, "pool b's mbuf was not written");
    assert.equal(ba.data(0)[0], 0x77, "the write reached packet 0 of batch a");
  } finally {
    a.freeBulk(ba);
    b.freeBulk(bb);
  }
});

const CFG = { mac: Uint8Array.of(2, 0, 0, 0, 0, 1) };

Deno.test("Gap: an interface address must be a unicast host address", () => {
  for (const bad of ["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1", "240.0.0.1"]) {
    const lo = new LoopbackDevice();
    assert.throws(
      () => new Interface(lo, { ...CFG, addresses: [{ ip: parseIpv4Address(bad), prefix: 24 }] }),
      (e) => e instanceof InterfaceError && e.kind === "InvalidArgument",
      `addresses[0].ip ${bad} accepted`,
    );
  }
});

Deno.test("Gap: UdpSocket.sendTo with a detached buffer is InvalidArgument, not a TypeError", () => {
  const lo = new LoopbackDevice();
  const iface = new Interface(lo, { ...CFG, addresses: [{ ip: parseIpv4Address("10.0.0.1"), prefix: 24 }] });
  using s = iface.bindUdp(9000);
  const data = new Uint8Array(4);
  structuredClone(data.buffer, { transfer: [data.buffer] });
  assert.throws(
    () => s.sendTo(data, parseIpv4Address("10.0.0.2"), 9),
    (e) => e instanceof InterfaceError && e.kind === "InvalidArgument",
  );
});

Deno.test("Gap: a Worker that ends strands nothing: its vdev name and its pool's name can be used again (child)", async () => {
  const script = new URL("./child/gap_worker_exit.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, new TextDecoder().decode(r.stderr).slice(-2000));
  // Reviewed code: { threadGone: true, vdev: "AttachFailed", pool: "CreateFailed" }: the Worker's
  // vdev stays attached with no port, and its pool (8 mbufs out, reachable by nobody) is never freed.
  assert.deepEqual(JSON.parse(line), { threadGone: true, vdev: "reattached", pool: 64 });
});
