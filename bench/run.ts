/**
 * `deno task bench`: runs bench/bench.ts (packet I/O and UDP cases) and then bench/tcp_bench.ts
 * (TCP cases, and the netsim goodput-under-loss row), each in its own process with the permissions it needs, both with this run's
 * arguments (a deno task appends them to its last command only, so the task runs this file).
 * Exits with the first failure's code.
 *
 * @module
 */
const here = new URL(".", import.meta.url);
const BENCHES: { file: string; flags: string[] }[] = [
  {
    file: "bench.ts",
    flags: ["--allow-ffi", "--allow-read", "--allow-env", "--allow-net=127.0.0.1", "--unstable-net"],
  },
  // --allow-run: the smoltcp reference named by MELIN_SMOLTCP_BENCH.
  { file: "tcp_bench.ts", flags: ["--allow-ffi", "--allow-read", "--allow-env", "--allow-run"] },
];
for (const b of BENCHES) {
  const args = ["run", ...b.flags, new URL(b.file, here).pathname, ...Deno.args];
  const status = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  if (!status.success) Deno.exit(status.code === 0 ? 1 : status.code);
}
