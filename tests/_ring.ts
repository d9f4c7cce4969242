/** net_ring ports for tests: a started port on a fresh vdev with its own pool. */
import { Mempool, Port, type PortOptions, Vdev } from "../mod.ts";
import { uniqueName } from "./_eal.ts";

let vdevCounter = 0;

/** A vdev name of `driver` unique within the test process (vdev names are process-wide). */
export function vdevName(driver: string): string {
  return `${driver}_p${Deno.pid % 100000}_${vdevCounter++}`;
}

/**
 * A started port on a fresh net_ring vdev (frames sent come back) with its own pool of
 * `numMbufs`; disposing closes all three in order.
 */
export function ringPort(tag: string, numMbufs: number, options: PortOptions = {}) {
  const pool = Mempool.createWithSize(uniqueName(tag), numMbufs);
  const ring = Vdev.attach(vdevName("net_ring"));
  const port = Port.open(ring.portId, pool, options);
  port.start();
  return {
    pool,
    ring,
    port,
    [Symbol.dispose]() {
      port.close();
      ring.detach();
      pool[Symbol.dispose]();
    },
  };
}
