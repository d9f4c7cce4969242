/**
 * Child of tests/memif_stop_test.ts: net_memif server/client pairs in this process, the server
 * stopped and closed, then at once the client (its interrupt handler is then still busy with
 * the server's hang-up). Prints `round N` per pair and `done`; a crash ends the process.
 * Args: the number of pairs, and a tag that keeps socket and device names unique.
 */
import { Eal, Stack } from "../../mod.ts";

Eal.init(Eal.devOptions());
const rounds = Number(Deno.args[0] ?? 5);
const tag = Deno.args[1] ?? `${Deno.pid}`;
for (let n = 0; n < rounds; n++) {
  const socket = `/tmp/mdp_memif_stop_${tag}_${n}.sock`;
  const a = Stack.open({
    device: `net_memif_ms${tag}_${n},role=server,socket=${socket}`,
    ip: "198.18.210.1/24",
  });
  const b = Stack.open({
    device: `net_memif_mc${tag}_${n},role=client,socket=${socket}`,
    ip: "198.18.210.2/24",
  });
  const t0 = performance.now();
  while (!(a.port.linkStatus.up && b.port.linkStatus.up)) {
    if (performance.now() - t0 > 10_000) throw new Error("the memif link did not come up in 10 s");
    await new Promise((r) => setTimeout(r, 1));
  }
  a[Symbol.dispose]();
  b[Symbol.dispose]();
  await Deno.remove(socket).catch(() => {});
  console.log(`round ${n}`);
}
console.log("done");
