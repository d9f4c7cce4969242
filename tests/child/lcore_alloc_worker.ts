/// <reference lib="deno.worker" />
/** The Worker of lcore_alloc.ts, and the rounds both threads run. */
import { Eal, type Mbuf, Mempool } from "../../mod.ts";

/** Rounds per thread. */
export const ROUNDS = 300_000;

/**
 * `rounds` times: 16 single allocs stamped with `tag`, the stamps checked, 16 frees. Returns how
 * many stamps were not this thread's.
 */
export function stampRounds(pool: Mempool, tag: number, rounds: number): number {
  const held: Mbuf[] = [];
  let bad = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 16; i++) {
      const m = pool.alloc();
      if (m === null) throw new Error("lcore_alloc: pool empty");
      m.append(1)![0] = tag;
      held.push(m);
    }
    for (const m of held) if (m.data[0] !== tag) bad++;
    for (const m of held) m.free();
    held.length = 0;
  }
  return bad;
}

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  self.onmessage = (e: MessageEvent<string[]>) => {
    const eal = Eal.init(e.data);
    const pool = Mempool.lookup("lcore_alloc")!;
    self.postMessage("started");
    const bad = stampRounds(pool, 2, ROUNDS);
    pool[Symbol.dispose]();
    self.postMessage({ bad, lcore: eal.lcoreId });
  };
}
