/**
 * Single-mbuf alloc and free use the calling thread's own per-lcore cache (the shim caches the
 * thread's lcore id: csrc/shim.h, mdp_lcore): two threads at once never get the same mbuf, and
 * every mbuf is back in the pool afterwards.
 */
import assert from "node:assert/strict";

Deno.test("Mempool.alloc/Mbuf.free from the main thread and a Worker at once: each its own cache, no mbuf handed out twice, none lost (child process)", async () => {
  const script = new URL("./child/lcore_alloc.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, new TextDecoder().decode(r.stderr).slice(-2000));
  const out = JSON.parse(line);
  assert.notEqual(out.lcores[0], out.lcores[1], "the Worker has its own lcore id");
  assert.equal(out.mainBad, 0, "no mbuf of the main thread was also the Worker's");
  assert.equal(out.workerBad, 0, "no mbuf of the Worker was also the main thread's");
  assert.equal(out.available, out.capacity, "every mbuf is back in the pool");
});
