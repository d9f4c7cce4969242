/// <reference lib="deno.worker" />
/** The Worker of worker_exit.ts: ends holding a vdev, a started port and 8 mbufs. */
import { Eal, MbufBatch, Mempool, Port, Vdev } from "../../mod.ts";

/** What the Worker holds until it ends (so nothing is collected before). */
export let keep: unknown[] = [];
self.onmessage = (e: MessageEvent<string[] | string>) => {
  if (e.data === "end") {
    keep = [];
    self.close();
    return;
  }
  Eal.init(e.data as string[]);
  const pool = Mempool.createWithSize("gapw_pool", 512);
  const vdev = Vdev.attach("net_ring_gapw");
  const port = Port.open(vdev.portId, pool);
  port.start();
  const batch = new MbufBatch(8);
  pool.allocBulk(batch, 8, 60);
  keep = [pool, vdev, port, batch];
  self.postMessage("ready");
};
