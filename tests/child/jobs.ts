/// <reference lib="deno.worker" />
/**
 * A Worker for the multi-isolate scenarios of scenarios.ts. It gets `{ job, args, sab, name, port }`,
 * runs the job, and posts `{ label, ... }` reports (errors described by kind), then `{ label: "end" }`.
 * Steps are synchronised with the parent through `flags` (an Int32Array on a SharedArrayBuffer):
 * `signal(i)` sets flag i, `waitFor(i)` blocks until the parent sets it.
 */
import { Eal, EalError, MbufBatch, Mempool, MempoolError, Port, PortError } from "../../mod.ts";

interface JobMessage {
  job: string;
  args: string[];
  sab: SharedArrayBuffer;
  name?: string;
  port?: number;
}

let flags: Int32Array;

function signal(i: number): void {
  Atomics.store(flags, i, 1);
  Atomics.notify(flags, i);
}

function waitFor(i: number): void {
  while (Atomics.load(flags, i) === 0) Atomics.wait(flags, i, 0, 10_000);
}

function describe(v: unknown): Record<string, unknown> {
  if (v instanceof MempoolError || v instanceof EalError || v instanceof PortError) {
    return { class: v.name, kind: v.kind, message: v.message };
  }
  if (v instanceof Error) return { class: v.constructor.name, message: v.message };
  return { value: v };
}

function report(label: string, value: unknown): void {
  self.postMessage({ label, ...describe(value) });
}

function attempt(label: string, f: () => unknown): void {
  try {
    report(label, f());
  } catch (e) {
    report(label, e);
  }
}

self.onmessage = (e: MessageEvent<JobMessage>) => {
  const { job, args, sab, name, port } = e.data;
  flags = new Int32Array(sab);
  switch (job) {
    case "cleanup": {
      // Uses EAL, then leaves it while the parent runs a hot loop (flag 0: the loop runs).
      const eal = Eal.init(args);
      const pool = Mempool.createWithSize(`w_cleanup_${eal.lcoreId}`, 256);
      const m = pool.alloc()!;
      m.free();
      waitFor(0);
      Eal.cleanup();
      report("state", Eal.state);
      report("pool-disposed", pool.disposed);
      attempt("alloc", () => pool.alloc());
      attempt("init-again", () => Eal.init(args));
      signal(1);
      break;
    }
    case "lookup": {
      // Borrows the parent's pool; the parent disposes it (flag 1), then makes a new one (flag 2).
      Eal.init(args);
      const pool = Mempool.lookup(name!)!;
      report("owned", pool.owned);
      const batch = new MbufBatch(8);
      report("alloc-bulk", pool.allocBulk(batch));
      pool.freeBulk(batch);
      report("available", pool.available);
      const held = pool.alloc()!; // an mbuf out: the owner's dispose must refuse (flag 5: it did)
      signal(0);
      waitFor(5);
      held.free();
      signal(6);
      waitFor(1);
      report("disposed", pool.disposed);
      attempt("available-after", () => pool.available);
      attempt("alloc-after", () => pool.alloc());
      attempt("alloc-bulk-after", () => pool.allocBulk(batch));
      attempt("lookup-after", () => Mempool.lookup(name!));
      signal(2);
      waitFor(3); // the parent made a new pool, maybe at the same address
      report("disposed-later", pool.disposed);
      attempt("alloc-later", () => pool.alloc());
      pool[Symbol.dispose]();
      signal(4);
      break;
    }
    case "open-port": {
      // The parent has port `port` open: opening it here too is refused.
      Eal.init(args);
      const pool = Mempool.createWithSize(`w_port_${port}`, 512);
      attempt("open", () => Port.open(port!, pool));
      pool[Symbol.dispose]();
      signal(0);
      break;
    }
    case "cache": {
      // Fills this thread's lcore cache of the parent's pool, then the Worker ends (closes itself).
      Eal.init(args);
      const pool = Mempool.lookup(name!)!;
      const batch = new MbufBatch(300);
      pool.allocBulk(batch);
      pool.freeBulk(batch); // mostly into this lcore's cache
      report("lcore", Eal.current!.lcoreId);
      self.postMessage({ label: "end" });
      self.close();
      return;
    }
    case "cache-cleanup": {
      // Fills this thread's lcore cache of the parent's pool, leaves EAL, and stays alive until
      // the parent has counted (flag 1).
      Eal.init(args);
      const pool = Mempool.lookup(name!)!;
      const batch = new MbufBatch(300);
      pool.allocBulk(batch);
      pool.freeBulk(batch);
      Eal.cleanup();
      signal(0);
      waitFor(1);
      break;
    }
    case "port-exit": {
      // Opens the parent's port on the parent's pool, leaves frames in its ring, and ends without
      // closing anything: its thread's exit must drain and close the port.
      Eal.init(args);
      const pool = Mempool.lookup(name!)!;
      const p = Port.open(port!, pool);
      p.start();
      const batch = new MbufBatch(16);
      pool.allocBulk(batch, 16, 60);
      report("sent", p.txBurst(0, batch));
      report("pool-in-use", pool.inUse);
      self.postMessage({ label: "end" });
      self.close();
      return;
    }
    case "borrow-port": {
      // Opens a port on the parent's pool (borrowed); the parent disposes the pool (flag 1): this
      // handle must stay (a port uses it) until the port is closed.
      Eal.init(args);
      const pool = Mempool.lookup(name!)!;
      const p = Port.open(port!, pool);
      p.start();
      signal(0);
      waitFor(1);
      report("disposed", pool.disposed);
      attempt("dispose-with-port", () => pool[Symbol.dispose]());
      const batch = new MbufBatch(8);
      attempt("rx", () => p.rxBurst(0, batch)); // net_null allocates from the pool: still mapped
      report("rx-batch", batch.length);
      attempt("free-rx", () => pool.freeBulk(batch));
      p.close();
      attempt("dispose-after-close", () => pool[Symbol.dispose]());
      break;
    }
    case "use": {
      // One Worker lifetime: EAL, an lcore id, a pool, an mbuf.
      attempt("use", () => {
        const eal = Eal.init(args);
        const lcore = eal.lcoreId;
        using pool = Mempool.createWithSize(`w_use_${lcore}_${name}`, 64);
        const m = pool.alloc();
        m?.free();
        return { lcore, got: m !== null };
      });
      break;
    }
    case "hot": {
      // A hot loop on this Worker's own pool while the parent leaves EAL (flag 1: it has).
      Eal.init(args);
      const pool = Mempool.createWithSize("w_hot", 512);
      const batch = new MbufBatch(32);
      signal(0);
      let after = 0;
      const deadline = Date.now() + 20_000;
      while (after < 20_000 && Date.now() < deadline) {
        pool.allocBulk(batch);
        pool.freeBulk(batch);
        if (Atomics.load(flags, 1) === 1) after++;
      }
      report("loops-after", after);
      report("state", Eal.state);
      report("full", pool.isFull);
      break; // ends without Eal.cleanup: its thread's exit lets go, the last user
    }
    default:
      report("error", `unknown job ${job}`);
  }
  self.postMessage({ label: "end" });
  self.close(); // the Worker's thread exits: what it still holds is let go (csrc: thread_exit)
};
