/**
 * Scenarios that need a process of their own, because EAL starts once per process, ever:
 * behaviour before init, after cleanup, and failed inits. Each prints JSON lines (`report`)
 * that the parent test asserts on.
 */
import {
  Eal,
  EalError,
  MbufBatch,
  MbufError,
  Mempool,
  MempoolError,
  Port,
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

const [scenario, ...rest] = Deno.args;
switch (scenario) {
  case "before-init": {
    report("state", Eal.state);
    report("current", Eal.current);
    attempt("create", () => Mempool.create("early"));
    attempt("lookup", () => Mempool.lookup("early"));
    break;
  }
  case "after-cleanup": {
    Eal.init(Eal.devOptions({ memoryMb: 128 }));
    const pool = Mempool.createWithSize("doomed", 1024);
    report("available-before", pool.available);
    Eal.cleanup();
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
  case "worker-lcore": {
    const eal = Eal.init(Eal.devOptions({ memoryMb: 64 }));
    report("main-lcore", eal.lcoreId);
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const fromWorker = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(eal.args);
    });
    worker.terminate();
    report("worker", fromWorker);
    report("lcore-count", eal.lcoreCount);
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
  default:
    console.error(`unknown scenario ${scenario}`);
    Deno.exit(2);
}
