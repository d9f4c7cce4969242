/**
 * Gap scenario (review of issue 10 §1): a Worker attaches a vdev, opens its port on its own pool,
 * keeps 8 mbufs in a batch and ends (self.close()). Prints one JSON line of what the main thread
 * can do afterwards.
 */
import { Eal, Mempool, Vdev } from "../../mod.ts";

const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
const base = eal.lcoreCount;
const worker = new Worker(new URL("./gap_worker_exit_worker.ts", import.meta.url), { type: "module" });
await new Promise((resolve) => {
  worker.onmessage = resolve;
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
try {
  out.pool = Mempool.createWithSize("gapw_pool", 64).capacity;
} catch (e) {
  out.pool = (e as { kind?: string }).kind;
}
console.log(JSON.stringify(out));
Deno.exit(0);
