/**
 * A Worker attaches a vdev, opens its port on its own pool, keeps 8 mbufs in a batch and ends
 * (self.close()). Prints one JSON line of what the main thread can do afterwards. With the
 * argument "borrowed", the main thread looks the Worker's pool up first and keeps that handle.
 */
import { Eal, MbufBatch, Mempool, Vdev } from "../../mod.ts";

const borrowed = Deno.args[0] === "borrowed";
const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
const base = eal.lcoreCount;
const worker = new Worker(new URL("./worker_exit_worker.ts", import.meta.url), { type: "module" });
let handle: Mempool | null = null;
await new Promise((resolve) => {
  worker.onmessage = () => {
    if (borrowed) handle = Mempool.lookup("gapw_pool");
    worker.postMessage("end");
    resolve(null);
  };
  worker.postMessage(eal.args);
});
for (let i = 0; i < 100 && eal.lcoreCount !== base; i++) await new Promise((r) => setTimeout(r, 50));
const out: Record<string, unknown> = { threadGone: eal.lcoreCount === base };
try {
  Vdev.attach("net_ring_gapw").detach();
  out.vdev = "reattached";
} catch (e) {
  out.vdev = (e as { kind?: string }).kind;
}
if (handle !== null) {
  const h: Mempool = handle;
  // The borrowed handle still works after its owner ended: the pool stays for it.
  const b = new MbufBatch(4);
  out.borrowedAlloc = h.allocBulk(b, 4, 10);
  h.freeBulk(b);
  out.borrowedAvailable = h.available; // the Worker's 8 mbufs are gone with it
  try {
    Mempool.createWithSize("gapw_pool", 64).capacity;
    out.whileBorrowed = "created";
  } catch (e) {
    out.whileBorrowed = (e as { kind?: string }).kind;
  }
  h[Symbol.dispose](); // the last handle frees it
}
try {
  out.pool = Mempool.createWithSize("gapw_pool", 64).capacity;
} catch (e) {
  out.pool = (e as { kind?: string }).kind;
}
console.log(JSON.stringify(out));
Deno.exit(0);
