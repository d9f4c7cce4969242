import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

/** Builds tests/child/intr_delay.c (an LD_PRELOAD interposer) into a temporary directory. */
async function buildInterposer(dir: string): Promise<string> {
  const so = `${dir}/intr_delay.so`;
  const out = await new Deno.Command("gcc", {
    args: ["-shared", "-fPIC", "-O2", "-o", so, `${root}tests/child/intr_delay.c`, "-ldl"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return so;
}

Deno.test("a net_memif device stopped while its interrupt handler sees the peer hang up: no crash", async () => {
  // net_memif runs memif_disconnect() on the interrupt thread when its peer goes away, and
  // rte_eth_dev_stop runs it too; run side by side they freed the same regions (SIGSEGV on
  // "eal-intr-thread" in 2 of 3 runs of stack_test.ts). The interposer holds the handler open
  // for 5 ms, so that without the shim's stop on the interrupt thread this crashes every time.
  const dir = await Deno.makeTempDir({ prefix: "mdp_memif_stop_" });
  try {
    const so = await buildInterposer(dir);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${root}tests/child/memif_stop.ts`, "4", `${Deno.pid % 100000}`],
      cwd: root,
      env: { LD_PRELOAD: so, MDP_TEST_INTR_DELAY_US: "5000", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    });
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.signal, null, `the child died of ${out.signal}:\n${text}`);
    assert.equal(out.code, 0, text);
    assert.match(text, /round 3\ndone/, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
