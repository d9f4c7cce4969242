/**
 * bench/tcp_bench.ts works without the smoltcp reference (issue 13: "The bench must work without
 * it"): run as `deno task bench` runs it (bench/run.ts's permissions) with MELIN_SMOLTCP_BENCH
 * empty (off) in its environment, `--json --case=tcp_pingpong_loopback,no_such_row` (a list), a
 * short run. Only the shape of its output is checked, never a figure's size (performance is
 * measured in the bench itself).
 */
import assert from "node:assert/strict";
import { removeRuntimeDir } from "./_kernel.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
/** The permissions bench/run.ts gives tcp_bench.ts. */
const FLAGS = ["--allow-ffi", "--allow-read", "--allow-env", "--allow-run"];

Deno.test("bench/tcp_bench.ts with MELIN_SMOLTCP_BENCH empty (the comparison off): our row, no smoltcp row, and the note", async () => {
  const env = Deno.env.toObject();
  env.MELIN_SMOLTCP_BENCH = ""; // unset, the anchor next to the checkout would be used when there
  Object.assign(env, { MELIN_TCP_BENCH_ROUNDS: "2000", MELIN_TCP_BENCH_RUNS: "1", NO_COLOR: "1" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...FLAGS,
      `${root}bench/tcp_bench.ts`,
      "--json",
      "--case=tcp_pingpong_loopback,no_such_row",
    ],
    cwd: root,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000), // our child: SIGTERM by its pid
  }).spawn();
  const out = await child.output();
  await removeRuntimeDir(child.pid);
  const stdout = dec(out.stdout);
  const stderr = dec(out.stderr);
  const what = `stdout:\n${stdout}\nstderr:\n${stderr}`;
  assert.equal(out.signal, null, `killed (timed out after 120 s?)\n${what}`);
  assert.equal(out.code, 0, what);
  const rows = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.case), ["tcp_pingpong_loopback"], what);
  const [row] = rows;
  assert.equal(row.unit, "µs/RT");
  assert.equal(row.device, "loopback");
  for (const k of ["min", "median", "max"]) {
    assert.ok(typeof row[k] === "number" && Number.isFinite(row[k]) && row[k] > 0, `${k}: ${row[k]}`);
  }
  assert.ok(row.min <= row.median && row.median <= row.max, JSON.stringify(row));
  assert.equal(rows.some((r) => /_vs_smoltcp$/.test(r.case)), false);
  // In JSON mode the notes go to stderr, one line each.
  assert.match(stderr, /^tcp_bench: the smoltcp reference was not given .*no tcp_\*_vs_smoltcp rows$/m, what);
});
