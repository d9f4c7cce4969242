/** net_ring ports for tests: a started port on a fresh vdev with its own pool. */
import { Mempool, Port, type PortOptions, Vdev } from "../mod.ts";
import { ISOLATE_TAG, uniqueName } from "./_eal.ts";

let vdevCounter = 0;

/**
 * A vdev name of `driver` unique within the test process (vdev names are process-wide, and a
 * detached net_ring leaves its rings behind: a second device of the same name finds them and DPDK
 * prints "RING: Cannot reserve memory"). At most 18 characters for net_ring, whose ring names
 * ("ETH_RXTX0_" + name, 28 characters at most) DPDK would otherwise cut into collisions.
 */
export function vdevName(driver: string): string {
  return `${driver}_${ISOLATE_TAG.slice(0, 5)}${(vdevCounter++).toString(36)}`;
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
