/// <reference lib="deno.worker" />
/** A Worker that joins the parent's EAL and reports its lcore id and a pool it used. */
import { Eal, Mempool } from "../../mod.ts";

self.onmessage = (e: MessageEvent<string[]>) => {
  const eal = Eal.init(e.data);
  const pool = Mempool.createWithSize("worker_pool", 512);
  const result = {
    sameArgs: eal.args.join(" ") === e.data.join(" "),
    lcore: eal.lcoreId,
    avail: pool.available,
  };
  pool[Symbol.dispose]();
  self.postMessage(result);
};
