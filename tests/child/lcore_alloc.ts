/**
 * Single-mbuf alloc and free from two threads at once on one pool: the main thread and a Worker
 * (its own lcore id, so its own per-lcore cache). Each round a thread takes 16 mbufs one at a time,
 * stamps each with its own tag, checks every stamp (an mbuf handed to both threads shows the other
 * thread's tag) and frees them. Prints one JSON line: the stamps each side found wrong, and the
 * pool's free count (all mbufs back) with both done. Used by tests/mbuf_lcore_test.ts.
 */
import { Eal, Mempool } from "../../mod.ts";
import { ROUNDS, stampRounds } from "./lcore_alloc_worker.ts";

const eal = Eal.init(Eal.devOptions({ memoryMb: 128 }));
using pool = Mempool.createWithSize("lcore_alloc", 1024);
const worker = new Worker(new URL("./lcore_alloc_worker.ts", import.meta.url), { type: "module" });
const workerBad = new Promise<{ bad: number; lcore: number }>((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
});
const started = new Promise<void>((resolve) => {
  const first = worker.onmessage;
  worker.onmessage = (e) => {
    if (e.data === "started") {
      worker.onmessage = first;
      resolve();
    } else first!.call(worker, e);
  };
});
worker.postMessage(eal.args);
await started; // the Worker runs its rounds now, on its own thread
const mainBad = stampRounds(pool, 1, ROUNDS);
const w = await workerBad;
worker.terminate();
console.log(JSON.stringify({
  mainBad,
  workerBad: w.bad,
  lcores: [eal.lcoreId, w.lcore],
  available: pool.available,
  capacity: pool.capacity,
}));
