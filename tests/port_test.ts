import assert from "node:assert/strict";
import {
  MbufBatch,
  Mempool,
  MempoolError,
  Port,
  PortDevice,
  PortError,
  type PortErrorKind,
  Vdev,
} from "../mod.ts";
import { thrown } from "./_assert.ts";
import { runChild } from "./_child.ts";
import { testEal, uniqueName } from "./_eal.ts";
import { ringPort, vdevName } from "./_ring.ts";

testEal();

function expectKind(f: () => unknown, kind: PortErrorKind): PortError {
  const e = thrown(f, PortError);
  assert.equal(e.kind, kind, e.message);
  return e;
}

/** Fills `batch` with `count` frames whose bytes encode their index. */
function fillFrames(pool: Mempool, batch: MbufBatch, count: number, size = 64): void {
  assert.equal(pool.allocBulk(batch, count), true);
  for (let i = batch.length - count; i < batch.length; i++) {
    const at = batch.append(i, size);
    assert.ok(at >= 0);
    const bytes = batch.bytes(i);
    for (let k = 0; k < size; k++) bytes[at + k] = (i * 31 + k) & 0xff;
  }
}

Deno.test("net_ring: frames sent come back byte for byte, and the counters agree", () => {
  using pool = Mempool.createWithSize(uniqueName("ring"), 4096);
  using ring = Vdev.attach(vdevName("net_ring"));
  using port = Port.open(ring.portId, pool);
  assert.equal(port.state, "configured");
  port.start();
  assert.equal(port.state, "started");
  assert.equal(port.linkStatus.up, true);
  port.resetStats();

  const tx = new MbufBatch(32);
  fillFrames(pool, tx, 32, 100);
  const expected = Array.from({ length: 32 }, (_, i) => Array.from(tx.data(i)));
  assert.equal(port.txBurst(0, tx), 32);
  assert.equal(tx.length, 0, "the driver took them all");

  const rx = new MbufBatch(64);
  assert.equal(port.rxBurst(0, rx), 32);
  assert.equal(rx.length, 32);
  for (let i = 0; i < 32; i++) {
    assert.deepEqual(Array.from(rx.data(i)), expected[i], `frame ${i}`);
    assert.equal(rx.pktLen(i), 100);
  }
  assert.equal(port.rxBurst(0, rx), 0, "nothing more");
  const st = port.stats();
  assert.equal(st.opackets, 32);
  assert.equal(st.ipackets, 32);
  assert.equal(st.oerrors, 0);
  const xs = port.xstats();
  assert.equal(xs.get("tx_good_packets"), 32);
  assert.equal(xs.get("rx_good_packets"), 32);
  pool.freeBulk(rx);
  assert.equal(pool.inUse, 0, "every mbuf is back: none lost, none freed twice");
  port.resetStats();
  assert.equal(port.stats().ipackets, 0);
});

Deno.test("net_ring: a burst larger than the ring leaves the unsent mbufs with the caller", () => {
  using setup = ringPort("big", 8192);
  const { pool, port } = setup;
  const tx = new MbufBatch(3000);
  fillFrames(pool, tx, 3000);
  const before = Array.from({ length: 3000 }, (_, i) => tx.address(i));
  const sent = port.txBurst(0, tx);
  assert.ok(sent > 0 && sent < 3000, `the ring took ${sent}`);
  assert.equal(tx.length, 3000 - sent, "the unsent stay in the batch");
  for (let k = 0; k < tx.length; k++) {
    assert.equal(tx.address(k), before[sent + k], "moved to the front, in order");
  }
  assert.equal(port.stats().opackets, sent);

  // Retrying after draining the ring sends the rest; nothing is lost or freed twice.
  const rx = new MbufBatch(4096);
  let received = 0;
  for (let round = 0; round < 100 && (tx.length > 0 || received < 3000); round++) {
    received += port.rxBurst(0, rx);
    if (rx.free < 1024) pool.freeBulk(rx);
    if (tx.length > 0) port.txBurst(0, tx);
  }
  assert.equal(tx.length, 0);
  assert.equal(received, 3000);
  pool.freeBulk(rx);
  assert.equal(pool.inUse, 0);
});

Deno.test("rxBurst takes no more than the batch has room for", () => {
  using setup = ringPort("room", 1024);
  const { pool, port } = setup;
  const tx = new MbufBatch(20);
  fillFrames(pool, tx, 20);
  port.txBurst(0, tx);
  const rx = new MbufBatch(8);
  assert.equal(port.rxBurst(0, rx), 8);
  assert.equal(port.rxBurst(0, rx), 0, "a full batch receives nothing");
  pool.freeBulk(rx);
  assert.equal(port.rxBurst(0, rx), 8);
  pool.freeBulk(rx);
  assert.equal(port.rxBurst(0, rx), 4);
  pool.freeBulk(rx);
  assert.equal(pool.inUse, 0);
});

Deno.test("net_null: receive generates frames, transmit drops them", () => {
  using pool = Mempool.createWithSize(uniqueName("null"), 1024);
  using dev = Vdev.attach(vdevName("net_null"), "size=128");
  using port = Port.open(dev.portId, pool);
  port.start();
  const rx = new MbufBatch(32);
  assert.equal(port.rxBurst(0, rx), 32);
  assert.equal(rx.dataLen(0), 128);
  assert.equal(port.txBurst(0, rx), 32);
  assert.equal(rx.length, 0);
  assert.equal(pool.inUse, 0, "the driver freed what it took");
  const st = port.stats();
  assert.equal(st.ipackets, 32);
  assert.equal(st.opackets, 32);
});

Deno.test("port facts: info, MAC, link, MTU, socket, promiscuous, descriptors", () => {
  using pool = Mempool.createWithSize(uniqueName("facts"), 1024);
  using ring = Vdev.attach(vdevName("net_ring"));
  using port = Port.open(ring.portId, pool, { rxDescriptors: 512, txDescriptors: 256, promiscuous: true });
  const info = port.info();
  assert.equal(info.driverName, "net_ring");
  assert.equal(info.deviceName, ring.name);
  assert.ok(info.maxRxQueues >= 1);
  assert.equal(port.macAddress.length, 17);
  assert.equal(port.socketId, 0, "SOCKET_ID_ANY (-1) maps to 0");
  assert.equal(port.rxDescriptors, 512);
  assert.equal(port.txDescriptors, 256);
  assert.equal(port.linkStatus.up, false, "not started yet");
  assert.equal(typeof port.mtu, "number");
  assert.equal(port.promiscuous, true);
  assert.deepEqual(
    { ...port.txChecksumOffload },
    { ipv4: false, udp: false, tcp: false },
    "net_ring offers none",
  );
  assert.equal(Port.count() >= 1, true);
});

Deno.test("lifecycle errors are typed: start twice, burst when stopped, bad queue, use after close", () => {
  using pool = Mempool.createWithSize(uniqueName("life"), 1024);
  using ring = Vdev.attach(vdevName("net_ring"));
  const port = Port.open(ring.portId, pool, { rxQueues: 2, txQueues: 2 });
  const batch = new MbufBatch(4);
  expectKind(() => port.rxBurst(0, batch), "NotStarted");
  expectKind(() => port.txBurst(0, batch), "NotStarted");
  port.start();
  expectKind(() => port.start(), "AlreadyStarted");
  assert.equal(port.rxBurst(1, batch), 0, "queue 1 exists");
  expectKind(() => port.rxBurst(2, batch), "QueueOutOfRange");
  expectKind(() => port.txBurst(-1, batch), "QueueOutOfRange");
  expectKind(() => port.rxBurst(0.5, batch), "QueueOutOfRange");
  port.stop();
  port.stop(); // harmless
  assert.equal(port.state, "stopped");
  expectKind(() => port.rxBurst(0, batch), "NotStarted");
  port.start();
  port.close();
  assert.equal(port.state, "closed");
  port.close(); // idempotent
  for (
    const use of [() => port.start(), () => port.rxBurst(0, batch), () => port.stats(), () => port.info()]
  ) {
    expectKind(use, "Closed");
  }
});

Deno.test("open errors: unknown port, open twice, out-of-range options", () => {
  using pool = Mempool.createWithSize(uniqueName("open"), 1024);
  expectKind(() => Port.open(4000, pool), "NotFound");
  expectKind(() => Port.open("net_nonexistent9", pool), "NotFound");
  using ring = Vdev.attach(vdevName("net_ring"));
  for (
    const o of [{ rxQueues: 0 }, { txQueues: 1000 }, { rxDescriptors: 0 }, { mtu: 10 }, { rxQueues: 1.5 }]
  ) {
    expectKind(() => Port.open(ring.portId, pool, o), "InvalidArgument");
  }
  using port = Port.open(ring.name, pool);
  assert.equal(port.id, ring.portId, "a device name resolves to its port");
  expectKind(() => Port.open(ring.portId, pool), "InUse");
});

Deno.test("teardown order: a pool or vdev in use by a port cannot be freed", () => {
  const pool = Mempool.createWithSize(uniqueName("order"), 1024);
  const ring = Vdev.attach(vdevName("net_ring"));
  const port = Port.open(ring.portId, pool);
  port.start();
  const e = thrown(() => pool[Symbol.dispose](), MempoolError);
  assert.equal(e.kind, "InUse");
  assert.match(e.message, /port \d+/);
  assert.equal(pool.available > 0, true, "the pool is intact");
  expectKind(() => ring.detach(), "InUse");
  port.stop();
  assert.equal(thrown(() => pool[Symbol.dispose](), MempoolError).kind, "InUse", "stopped is not closed");
  port.close();
  ring.detach();
  assert.equal(ring.attached, false);
  pool[Symbol.dispose]();
  assert.equal(pool.disposed, true);
  expectKind(() => Port.open(ring.portId, pool), "NotFound");
});

Deno.test("vdev attach errors: unknown driver, bad name, a probe that makes no port", () => {
  const bogus = expectKind(() => Vdev.attach("net_bogus0"), "UnknownDriver");
  assert.equal(bogus.errno, 19, "ENODEV, not DPDK's EFAULT");
  expectKind(() => Vdev.attach("not a name"), "InvalidArgument");
  expectKind(() => Vdev.attach("net_ring9", "a\0b"), "InvalidArgument");
  const missing = `mdnone${Deno.pid % 100000}`;
  const e = expectKind(() => Vdev.attach(vdevName("net_af_packet"), `iface=${missing}`), "AttachFailed");
  assert.match(e.message, /created no port|errno/);
});

Deno.test("Eal.cleanup closes started ports before freeing their pools (child process)", async () => {
  const r = await runChild("cleanup-with-port");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  assert.equal(by.sent.value, 8);
  assert.equal(by["port-state"].value, "closed");
  assert.equal(by["pool-disposed"].value, true);
  assert.equal(by.rx.class, "PortError");
  assert.equal(by.rx.kind, "Closed");
});

Deno.test("mbufs of a pool still in a driver queue: it refuses dispose (InUse, how many) until the port drains them", () => {
  using r = ringPort("q_a", 512);
  const b = Mempool.createWithSize(uniqueName("q_b"), 256);
  const batch = new MbufBatch(16);
  fillFrames(b, batch, 16);
  assert.equal(r.port.txBurst(0, batch), 16, "16 of b's mbufs wait in the ring");
  const e = thrown(() => b[Symbol.dispose](), MempoolError);
  assert.equal(e.kind, "InUse");
  assert.equal(e.inUse, 16);
  assert.equal(b.disposed, false);
  r.port.stop(); // drains the receive queue: the frames go back to b
  assert.equal(b.available, 256);
  b[Symbol.dispose]();
  assert.equal(b.disposed, true);
});

Deno.test("frames still queued in a net_ring come back when PortDevice, port and vdev are torn down", () => {
  const pool = Mempool.createWithSize(uniqueName("td"), 256);
  const ring = Vdev.attach(vdevName("net_ring"));
  const port = Port.open(ring.portId, pool);
  port.start();
  const dev = new PortDevice(port, pool);
  for (let i = 0; i < 20; i++) {
    const at = dev.txSlot(60);
    assert.ok(at >= 0);
    dev.txBytes.fill(i, at, at + 60);
  }
  assert.equal(dev.flush(), 0, "all 20 wait in the ring");
  dev[Symbol.dispose]();
  port.close();
  ring.detach();
  assert.equal(pool.available, 256, "every frame came back to the pool");
  pool[Symbol.dispose]();
});

Deno.test("a PortDevice holds its tx pool as a port holds its rx pool: dispose is InUse until the device goes", () => {
  using r = ringPort("dev_rx", 256);
  const tx = Mempool.createWithSize(uniqueName("dev_tx"), 256);
  const dev = new PortDevice(r.port, tx);
  const e = thrown(() => tx[Symbol.dispose](), MempoolError);
  assert.equal(e.kind, "InUse");
  assert.match(e.message, /PortDevice on port/);
  assert.ok(dev.txSlot(60) >= 0, "the device still sends");
  assert.equal(dev.flush(), 0);
  dev[Symbol.dispose]();
  r.port.stop();
  tx[Symbol.dispose]();
  assert.equal(tx.disposed, true);
});

Deno.test("a port drains its receive queues on stop: the pool is full after stop and after close", () => {
  using r = ringPort("drain", 256);
  const batch = new MbufBatch(32);
  fillFrames(r.pool, batch, 32);
  assert.equal(r.port.txBurst(0, batch), 32);
  assert.equal(r.pool.available, 256 - 32);
  r.port.stop();
  assert.equal(r.pool.available, 256);
  r.port.start();
  fillFrames(r.pool, batch, 8);
  assert.equal(r.port.txBurst(0, batch), 8);
  r.port.close(); // started: drained, stopped, closed
  assert.equal(r.pool.available, 256);
});

Deno.test("Vdev.attach of a name already attached is AlreadyAttached, not a second phantom Vdev", () => {
  testEal();
  const name = vdevName("net_null");
  using first = Vdev.attach(name);
  const ports = Port.count();
  const e = expectKind(() => Vdev.attach(name), "AlreadyAttached");
  assert.equal(e.portId, first.portId);
  assert.match(e.message, new RegExp(`${name}.*already attached`));
  assert.equal(Port.count(), ports, "no port was added");
  assert.equal(first.attached, true);
  first.detach(); // the one real device goes away cleanly (a phantom would have made this fail later)
  using again = Vdev.attach(name); // and the name is free again
  assert.equal(again.attached, true);
});
