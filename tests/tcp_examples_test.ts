/**
 * The TCP examples driven by their command lines, with the Linux kernel as the peer over net_tap
 * (each example creates its tap with --tap; the test configures the kernel side with `ip`): `curl`
 * against examples/http_server.ts (`/`, `/bytes/N` up to 16 MiB, `POST /echo`, 404, persistent
 * connections), kernel clients against examples/tcp_echo.ts (1 B … 16 MiB byte-exact both ways, 100
 * connections at once), examples/tcp_client.ts against a kernel echo server (1 B … 16 MiB), and
 * both again with 10 % of the frames dropped each way by nftables on the tap; and tcp_echo.ts ending
 * by itself after `--seconds` (exit 0, tap removed).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { exampleOnTap, kernelExchange, listening, nftLoss, pattern, subnet28, within } from "./_kernel.ts";
import { interfaceExists, runTag } from "./_net.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let subnetCounter = 0;
/** 198.19.X.128/28 upwards (tests/stack_test.ts takes 198.19.X.16 … 127). */
const subnet = () => subnet28(8 + (subnetCounter++ % 8));
let tapCounter = 0;
const tapName = () => `mdh${runTag()}${tapCounter++}`;

/** `n` random bytes (getRandomValues gives at most 64 KiB a call). */
function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** An example on a tap of its own whose kernel side is configured (see exampleOnTap). */
async function example(name: string, args: string[], net = subnet()) {
  const tap = tapName();
  const run = await exampleOnTap(name, tap, net, args);
  return Object.assign(run, { tap, net });
}

async function curl(...args: string[]): Promise<{ code: number; body: Uint8Array; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "60", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, body: out.stdout, stderr: dec(out.stderr) };
}

Deno.test("examples/http_server.ts answers the kernel's curl", async (t) => {
  await using run = await example("http_server", ["--port", "8080", "--seconds", "120"]);
  await listening(run, run.net.ours);
  const base = `http://${run.net.ours}:8080`;
  await t.step("GET / → 200 and a short text", async () => {
    const r = await curl("-f", `${base}/`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(dec(r.body), /HTTP over DPDK/);
  });
  await t.step("GET /bytes/N, 0 … 16 MiB, sha256 checked", async () => {
    for (const n of [0, 1, 250, 251, 1460, 65536, 1_000_003, 16 * 1024 * 1024]) {
      const r = await curl("-f", `${base}/bytes/${n}`);
      assert.equal(r.code, 0, `${n}: ${r.stderr}`);
      assert.equal(r.body.length, n);
      assert.equal(sha(r.body), sha(pattern(n)), `/bytes/${n}`);
    }
  });
  await t.step("POST /echo returns the body (small, and 3 MB with Expect: 100-continue)", async () => {
    const small = await curl("-f", "--data-binary", "hello, echo", `${base}/echo`);
    assert.equal(dec(small.body), "hello, echo");
    const file = await Deno.makeTempFile();
    try {
      const data = random(65536 * 48);
      await Deno.writeFile(file, data);
      const r = await curl("-f", "--data-binary", `@${file}`, `${base}/echo`);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(r.body), sha(data));
    } finally {
      await Deno.remove(file);
    }
  });
  await t.step("anything else → 404; several requests on one persistent connection", async () => {
    const r = await curl(
      "-w",
      "%{http_code}\n",
      ...[`${base}/nope`, `${base}/`, `${base}/bytes/10`].flatMap((u) => ["-o", "/dev/null", u]),
    );
    assert.equal(dec(r.body), "404\n200\n200\n");
    const v = await curl(
      "-v",
      ...[`${base}/`, `${base}/bytes/5`, `${base}/`].flatMap((u) => ["-o", "/dev/null", u]),
    );
    assert.match(v.stderr, /Re-using existing connection|Reusing existing/i, v.stderr);
    assert.equal((v.stderr.match(/Connected to /g) ?? []).length, 1, v.stderr);
  });
  await t.step("SIGTERM: exits 0 and the tap is gone", async () => {
    run.child.kill("SIGTERM");
    const out = await run.finish(15_000);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^served \d+ connections \(stopped by a signal\)/m);
    assert.equal(await interfaceExists(run.tap), false);
  });
});

Deno.test("examples/tcp_echo.ts echoes kernel clients byte-exact, 100 at once, and through 10 % loss", async (t) => {
  await using run = await example("tcp_echo", ["--port", "7007", "--seconds", "300"]);
  await listening(run, run.net.ours);
  await t.step("1 B … 16 MiB, both ways", async () => {
    for (const n of [1, 1000, 65536, 1_000_000, 16 * 1024 * 1024]) {
      const data = crypto.getRandomValues(new Uint8Array(n > 65536 ? 65536 : n));
      const full = new Uint8Array(n);
      for (let i = 0; i < n; i += data.length) full.set(data.subarray(0, Math.min(data.length, n - i)), i);
      const back = await within(kernelExchange(run.net.ours, 7007, full), 120_000, `echo of ${n} bytes`);
      assert.equal(back.length, n);
      assert.equal(sha(back), sha(full), `${n} bytes`);
    }
  });
  await t.step("100 concurrent connections all complete", async () => {
    const results = await within(
      Promise.all(Array.from({ length: 100 }, (_, i) => {
        const data = pattern(10_000 + i);
        return kernelExchange(run.net.ours, 7007, data).then((b) => sha(b) === sha(data));
      })),
      120_000,
      "100 connections",
    );
    assert.equal(results.filter((ok) => ok).length, 100);
  });
  await t.step("2 MiB with 10 % of the frames dropped each way", async () => {
    await using _loss = await nftLoss(run.tap, 10);
    const data = crypto.getRandomValues(new Uint8Array(65536)).slice();
    const full = new Uint8Array(2 * 1024 * 1024);
    for (let i = 0; i < full.length; i += data.length) full.set(data, i);
    const back = await within(kernelExchange(run.net.ours, 7007, full), 180_000, "echo through loss");
    assert.equal(sha(back), sha(full));
  });
});

Deno.test("examples/tcp_client.ts fetches from a kernel echo server byte-exact, also through 10 % loss", async (t) => {
  const cases = [[1, false], [65536, false], [1_000_000, false], [16 * 1024 * 1024, false], [
    2 * 1024 * 1024,
    true,
  ]] as const;
  for (const [n, lossy] of cases) {
    await t.step(`${n} bytes${lossy ? " with 10 % loss each way" : ""}`, async () => {
      const net = subnet();
      // The kernel echo server is listening before the example exists: net_tap brings the kernel
      // side of the tap up when the example starts its port, so the example's first SYN may leave
      // the moment the kernel has its address, and a server bound to that address only after it
      // was added would be late (RST to our SYN). Its address does not exist yet, hence the
      // wildcard; a connection from anyone but the example is closed at once.
      const server = Deno.listen({ hostname: "0.0.0.0", port: 0 });
      const port = (server.addr as Deno.NetAddr).port;
      const serving = (async () => {
        for await (const conn of server) {
          if ((conn.remoteAddr as Deno.NetAddr).hostname !== net.ours) conn.close();
          else conn.readable.pipeTo(conn.writable).catch(() => {});
        }
      })().catch(() => {});
      const args = ["--connect", `${net.kernel}:${port}`, "--send", `${n}`, "--seconds", "150"];
      try {
        await using run = await example("tcp_client", args, net);
        await using _loss = lossy ? await nftLoss(run.tap, 10) : { [Symbol.asyncDispose]: async () => {} };
        const out = await run.finish(170_000);
        assert.equal(out.code, 0, out.stdout + out.stderr);
        assert.match(out.stdout, new RegExp(`^sent ${n} received ${n} sha256 ${sha(pattern(n))}$`, "m"));
      } finally {
        server.close();
        await serving;
      }
    });
  }
});

Deno.test("examples/tcp_echo.ts --seconds 2 exits 0 on its own and removes its tap", async (t) => {
  await using run = await example("tcp_echo", ["--port", "7008", "--seconds", "2"]);
  await listening(run, run.net.ours, 7008);
  await t.step("no signal: exits 0 within 15 s, says the time elapsed, and the tap is gone", async () => {
    const out = await run.finish(15_000);
    assert.equal(out.signal, null, out.stderr);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^echoed \d+ bytes on \d+ connections \(2 s elapsed\)$/m);
    assert.equal(await interfaceExists(run.tap), false);
  });
});
