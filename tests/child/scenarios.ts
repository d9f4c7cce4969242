/**
 * Scenarios that need a process of their own, because EAL starts once per process, ever:
 * behaviour before init, after cleanup, and failed inits. Each prints JSON lines (`report`)
 * that the parent test asserts on.
 */
import {
  Eal,
  EalError,
  Interface,
  MbufBatch,
  MbufError,
  Mempool,
  MempoolError,
  parseIpv4Address,
  Port,
  PortDevice,
  PortError,
  Vdev,
} from "../../mod.ts";

function report(label: string, value: unknown): void {
  console.log(JSON.stringify({ label, ...describe(value) }));
}

function describe(v: unknown): Record<string, unknown> {
  if (v instanceof MempoolError) {
    return {
      class: "MempoolError",
      kind: v.kind,
      inUse: v.inUse,
      errno: v.errno,
      errnoText: v.errnoText,
      message: v.message,
      causeClass: v.cause instanceof EalError ? "EalError" : null,
      causeKind: v.cause instanceof EalError ? v.cause.kind : null,
    };
  }
  if (v instanceof EalError) {
    return {
      class: "EalError",
      kind: v.kind,
      errno: v.errno,
      errnoText: v.errnoText,
      hint: v.hint,
      message: v.message,
    };
  }
  if (v instanceof PortError) return { class: "PortError", kind: v.kind, errno: v.errno, message: v.message };
  if (v instanceof MbufError) return { class: "MbufError", kind: v.kind, message: v.message };
  if (v instanceof Error) return { class: v.constructor.name, message: v.message };
  return { value: v };
}

function attempt(label: string, f: () => unknown): void {
  try {
    const returned = f();
    console.log(JSON.stringify({ label, returned: String(returned) }));
  } catch (e) {
    report(label, e);
  }
}

let jobArgs: readonly string[] = [];

/** A Worker running a job of jobs.ts, with step flags shared with it and its reports collected. */
function startJob(job: string, extra: Record<string, unknown> = {}) {
  const sab = new SharedArrayBuffer(64);
  const flags = new Int32Array(sab);
  const worker = new Worker(new URL("./jobs.ts", import.meta.url), { type: "module" });
  const reports: Record<string, unknown>[] = [];
  const ended = new Promise<void>((resolve) => {
    worker.onmessage = (e) => {
      if (e.data.label === "end") resolve();
      else reports.push(e.data);
    };
  });
  jobArgs = Eal.current?.args ?? jobArgs; // after this thread's cleanup: the arguments EAL ran with
  worker.postMessage({ job, args: jobArgs, sab, ...extra });
  return {
    worker,
    ended,
    reports,
    signal: (i: number) => {
      Atomics.store(flags, i, 1);
      Atomics.notify(flags, i);
    },
    /** Waits (without blocking this thread's event loop) until the Worker sets flag i. */
    waitFor: async (i: number) => {
      const deadline = Date.now() + 20_000;
      while (Atomics.load(flags, i) === 0) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for the ${job} Worker's step ${i}`);
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    isSet: (i: number) => Atomics.load(flags, i) === 1,
  };
}

/** Waits until the registered lcores are back to `count` (Workers' threads exit after they end). */
async function lcoresBackTo(eal: Eal, count: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (eal.lcoreCount > count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return eal.lcoreCount;
}

const [scenario, ...rest] = Deno.args;
switch (scenario) {
  case "before-init": {
    report("state", Eal.state);
    report("current", Eal.current);
    attempt("create", () => Mempool.create("early"));
    attempt("lookup", () => Mempool.lookup("early"));
    attempt("now", () => Eal.now());
    break;
  }
  case "after-cleanup": {
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("doomed", 1024);
    report("available-before", pool.available);
    const clockBefore = Eal.now();
    Eal.cleanup();
    report("clock-after-cleanup", Eal.now() - clockBefore);
    report("state", Eal.state);
    report("current", Eal.current);
    report("disposed", pool.disposed);
    attempt("available", () => pool.available);
    attempt("pointer", () => pool.pointer);
    attempt("create", () => Mempool.create("late"));
    attempt("lookup", () => Mempool.lookup("doomed"));
    attempt("init", () => Eal.init(Eal.devOptions({ memoryMb: 128 })));
    attempt("cleanup-again", () => Eal.cleanup());
    pool[Symbol.dispose]();
    report("dispose-after-cleanup", "ok");
    break;
  }
  case "init": {
    // rest[0]: JSON EalOptions merged over devOptions
    const overrides = JSON.parse(rest[0] ?? "{}");
    attempt("init", () => Eal.init(Eal.devOptions(overrides)).args.join(" "));
    report("state", Eal.state);
    break;
  }
  case "init-retry": {
    // rest[0]: JSON EalOptions (over devOptions) that fail; then a retry with valid options.
    attempt("first", () => Eal.init(Eal.devOptions(JSON.parse(rest[0]))));
    report("state-after-failure", Eal.state);
    attempt("retry", () => Eal.init(Eal.devOptions({ memoryMb: 64 })));
    attempt("create", () => Mempool.create("after_failure"));
    report("dir", Eal.runtimeDir);
    break;
  }
  case "copy-fake-pool": {
    // Mbuf.copy into objects that type-check as MbufPool but are no live pool: a typed error, no crash.
    Eal.init(Eal.devOptions({ memoryMb: 64 }));
    const pool = Mempool.createWithSize("copy_src", 64);
    const m = pool.alloc()!;
    m.append(10);
    attempt("fake", () => m.copy({ name: "fake", disposed: false, address: 4096 }));
    attempt("fake-real-address", () => m.copy({ name: "fake", disposed: false, address: pool.address }));
    const gone = Mempool.createWithSize("copy_gone", 64);
    gone[Symbol.dispose]();
    attempt("disposed", () => m.copy(gone));
    report("copy-into-real", m.copy(pool)?.dataLen);
    break;
  }
  case "runtime-dir": {
    // Starts EAL (rest[0]: "cleanup" to end it first) and exits normally.
    Eal.init(Eal.devOptions({ memoryMb: 64 }));
    const dir = Eal.runtimeDir;
    report("dir", dir);
    report("files", [...Deno.readDirSync(dir)].length);
    if (rest[0] === "cleanup") Eal.cleanup();
    break;
  }
  case "hold-prefix": {
    // Starts EAL with a shared runtime config under the given prefix, then waits to be killed.
    Eal.init(Eal.devOptions({ filePrefix: rest[0], memoryMb: 64 }));
    report("ready", true);
    await new Promise((r) => setTimeout(r, 20_000));
    break;
  }
  case "hold-dev": {
    // Starts EAL with the dev options (runtime dir melin-dpdk-<pid>), then waits to be killed.
    Eal.init(Eal.devOptions({ memoryMb: 64 }));
    report("ready", Eal.runtimeDir);
    await new Promise((r) => setTimeout(r, 20_000));
    break;
  }
  case "worker-lcore": {
    const eal = Eal.init(Eal.devOptions({ memoryMb: 64 }));
    report("main-lcore", eal.lcoreId);
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const fromWorker = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(eal.args);
    });
    // Counted while the Worker lives: once its thread exits, the thread-exit hook unregisters it.
    report("lcore-count", eal.lcoreCount);
    worker.terminate();
    report("worker", fromWorker);
    break;
  }
  case "cleanup-with-port": {
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("cleanup_pool", 1024);
    const ring = Vdev.attach("net_ring0");
    const port = Port.open(ring.portId, pool);
    port.start();
    const batch = new MbufBatch(8);
    pool.allocBulk(batch);
    report("sent", port.txBurst(0, batch));
    Eal.cleanup(); // the ring still holds 8 mbufs; the port must close before the pool goes
    report("port-state", port.state);
    report("pool-disposed", pool.disposed);
    attempt("rx", () => port.rxBurst(0, batch));
    break;
  }
  case "worker-cleanup": {
    // A Worker leaves EAL while this thread holds a pool, a view, a port and a socket and runs a
    // hot loop: nothing here may notice (EAL stays while this isolate uses it).
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("main_pool", 1024);
    const m = pool.alloc()!;
    const view = m.append(64)!;
    view.fill(5);
    const ring = Vdev.attach("net_ring0");
    const port = Port.open(ring.portId, pool);
    port.start();
    const dev = new PortDevice(port, pool);
    const iface = new Interface(dev, {
      mac: Uint8Array.of(2, 0, 0, 0, 0, 1),
      addresses: [{ ip: parseIpv4Address("198.18.7.1"), prefix: 24 }],
    });
    const sock = iface.bindUdp(5000);
    const job = startJob("cleanup");
    job.signal(0); // the Worker may clean up now
    const batch = new MbufBatch(32);
    let loops = 0;
    let after = 0;
    const deadline = Date.now() + 20_000;
    while (after < 20_000 && Date.now() < deadline) {
      pool.allocBulk(batch);
      pool.freeBulk(batch);
      pool.alloc()?.free();
      loops++;
      if (job.isSet(1)) after++; // the Worker has left: keep going a while
    }
    report("worker-done", job.isSet(1));
    report("loops-after", after);
    await job.ended;
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    report("state", Eal.state);
    report("view", view[63]);
    report("data", m.data[0]);
    report("send", sock.sendTo(Uint8Array.of(1, 2, 3), parseIpv4Address("198.18.7.2"), 6000));
    iface.poll(0);
    report("tx", port.stats().opackets);
    m.free();
    sock.close();
    dev[Symbol.dispose]();
    port.close();
    ring.detach();
    report("pool-full", pool.isFull);
    pool[Symbol.dispose]();
    Eal.cleanup(); // the last user: EAL ends
    report("state-end", Eal.state);
    break;
  }
  case "main-cleanup-first": {
    // This thread leaves EAL while a Worker runs a hot loop: the Worker goes on; when it ends
    // (its thread exits, no cleanup of its own), EAL ends for the process.
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("main_first", 256);
    const job = startJob("hot");
    await job.waitFor(0);
    Eal.cleanup();
    report("state", Eal.state);
    report("pool-disposed", pool.disposed);
    job.signal(1);
    await job.ended;
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    // The Worker's thread exit ends EAL shortly after: a new Worker cannot join any more.
    let late: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && late?.kind !== "CleanedUp"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const j = startJob("use", { name: `late${i}` });
      await j.ended;
      late = j.reports.find((x) => x.label === "use");
    }
    report("late-worker", late);
    break;
  }
  case "batch-after-cleanup": {
    // Same isolate: mbufs in a batch and an Mbuf when EAL ends. Every access is a typed error.
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("batch_pool", 256);
    const batch = new MbufBatch(8);
    pool.allocBulk(batch); // not described yet: the next access would read mbuf headers in C
    const filled = new MbufBatch(8);
    pool.allocBulk(filled, 8, 60); // described
    const m = pool.alloc()!;
    const view = m.append(16)!;
    Eal.cleanup();
    for (const [name, b] of [["batch", batch], ["filled", filled]] as const) {
      attempt(`${name}-at`, () => b.at(0));
      attempt(`${name}-dataLen`, () => b.dataLen(0));
      attempt(`${name}-pktLen`, () => b.pktLen(0));
      attempt(`${name}-columns`, () => b.columns());
      attempt(`${name}-setDataLen`, () => b.setDataLen(0, 1));
      attempt(`${name}-data`, () => b.data(0));
      attempt(`${name}-pop`, () => b.pop());
    }
    attempt("mbuf-dataLen", () => m.dataLen);
    report("view-length", view.length);
    break;
  }
  case "lookup-across-isolates": {
    // A Worker borrows this isolate's pool; this isolate disposes it, then makes another.
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("shared_pool", 512);
    const address = pool.address;
    const job = startJob("lookup", { name: "shared_pool" });
    await job.waitFor(0);
    attempt("dispose-held", () => pool[Symbol.dispose]()); // the Worker holds one of its mbufs
    report("in-use-held", pool.inUse);
    job.signal(5);
    await job.waitFor(6);
    attempt("dispose", () => pool[Symbol.dispose]());
    job.signal(1);
    await job.waitFor(2);
    const next = Mempool.createWithSize("next_pool", 512);
    report("same-address", next.address === address);
    job.signal(3);
    await job.waitFor(4);
    await job.ended;
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    report("next-full", next.isFull);
    // Once the last handle let go, the name is free again.
    attempt("recreate", () => Mempool.createWithSize("shared_pool", 512).capacity);
    break;
  }
  case "port-two-isolates": {
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("port_pool", 512);
    const ring = Vdev.attach("net_ring0");
    const port = Port.open(ring.portId, pool);
    port.start();
    const job = startJob("open-port", { port: port.id });
    await job.waitFor(0);
    await job.ended;
    report("state-here", port.state);
    const batch = new MbufBatch(4);
    pool.allocBulk(batch);
    report("still-works", port.txBurst(0, batch) + port.rxBurst(0, batch));
    pool.freeBulk(batch);
    port.close();
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    ring.detach();
    break;
  }
  case "worker-caches": {
    // Workers fill their lcore caches of this pool, then end: the mbufs must come back.
    const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const base = eal.lcoreCount;
    const pool = Mempool.createWithSize("cache_pool", 2048);
    report("cache-size", pool.cacheSize);
    for (let i = 0; i < 5; i++) {
      const job = startJob("cache", { name: "cache_pool" });
      await job.ended;
    }
    report("lcores-after", await lcoresBackTo(eal, base));
    report("lcores-base", base);
    report("available", pool.available);
    const got = [];
    for (let m = pool.alloc(); m !== null; m = pool.alloc()) got.push(m);
    report("allocatable", got.length);
    for (const m of got) m.free();
    // A Worker that leaves EAL but goes on running gives its cache and lcore id back at once.
    const job = startJob("cache-cleanup", { name: "cache_pool" });
    await job.waitFor(0);
    report("lcores-while-alive", eal.lcoreCount);
    const got2 = [];
    for (let m = pool.alloc(); m !== null; m = pool.alloc()) got2.push(m);
    report("allocatable-while-alive", got2.length);
    for (const m of got2) m.free();
    job.signal(1);
    await job.ended;
    break;
  }
  case "port-exit": {
    // A Worker ends with a started port holding frames: its thread's exit drains and closes it.
    const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const base = eal.lcoreCount;
    const pool = Mempool.createWithSize("exit_pool", 512);
    const ring = Vdev.attach("net_ring0");
    const job = startJob("port-exit", { name: "exit_pool", port: ring.portId });
    await job.ended;
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    report("lcores-after", await lcoresBackTo(eal, base));
    report("lcores-base", base);
    report("available", pool.available);
    attempt("detach", () => ring.detach());
    attempt("dispose", () => pool[Symbol.dispose]());
    break;
  }
  case "borrow-port": {
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("lent_pool", 512);
    const nul = Vdev.attach("net_null0");
    const job = startJob("borrow-port", { name: "lent_pool", port: nul.portId });
    await job.waitFor(0);
    attempt("owner-dispose", () => pool[Symbol.dispose]());
    job.signal(1);
    await job.ended;
    for (const r of job.reports) console.log(JSON.stringify({ ...r, label: `worker-${r.label}` }));
    attempt("recreate", () => Mempool.createWithSize("lent_pool", 512).capacity);
    nul.detach();
    break;
  }
  case "worker-lifetimes": {
    // More Worker lifetimes than DPDK has lcore ids (RTE_MAX_LCORE, 128): each gives its id back.
    const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const base = eal.lcoreCount;
    const total = Number(rest[0] ?? 200);
    let ok = 0;
    let failed: unknown = null;
    for (let i = 0; i < total; i += 4) {
      const jobs = [0, 1, 2, 3].filter((k) => i + k < total).map((k) =>
        startJob("use", { name: `${i + k}` })
      );
      for (const j of jobs) {
        await j.ended;
        const r = j.reports.find((x) => x.label === "use");
        if ((r?.value as { got?: boolean } | undefined)?.got === true) ok++;
        else failed ??= j.reports;
      }
    }
    report("ok", ok);
    report("failed", failed);
    report("lcores-after", await lcoresBackTo(eal, base));
    report("lcores-base", base);
    break;
  }
  case "fake-pools": {
    // Objects that type-check as pools never reach C.
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("real_pool", 256);
    const m = pool.alloc()!;
    m.append(8);
    const fake = { name: "fake", disposed: false, address: 4096 };
    attempt("copy", () => m.copy(fake));
    attempt("copy-proto", () => m.copy(Object.create(Mempool.prototype)));
    const ring = Vdev.attach("net_ring0");
    attempt("port-open", () => Port.open(ring.portId, fake as unknown as Mempool));
    const port = Port.open(ring.portId, pool);
    attempt("device", () => new PortDevice(port, { ...fake, dataRoom: 2048 } as unknown as Mempool));
    attempt("copy-real", () => m.copy(pool)!.dataLen);
    break;
  }
  default:
    console.error(`unknown scenario ${scenario}`);
    Deno.exit(2);
}
