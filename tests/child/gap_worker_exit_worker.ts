/// <reference lib="deno.worker" />
/** The Worker of gap_worker_exit.ts: ends holding a vdev, a started port and 8 mbufs. */
import { Eal, MbufBatch, Mempool, Port, Vdev } from "../../mod.ts";

self.onmessage = (e: MessageEvent<string[]>) => {
  Eal.init(e.data);
  const pool = Mempool.createWithSize("gapw_pool", 512);
  const vdev = Vdev.attach("net_ring_gapw");
  const port = Port.open(vdev.portId, pool);
  port.start();
  const batch = new MbufBatch(8);
  pool.allocBulk(batch, 8, 60);
  self.postMessage("ending");
  self.close();
};
