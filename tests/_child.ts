/** Runs a scenario of tests/child/scenarios.ts in a fresh Deno process (EAL starts once per process). */

const scenarios = new URL("./child/scenarios.ts", import.meta.url).pathname;

/** What a child scenario printed: one JSON object per `report()` line, plus exit code and stderr. */
export interface ChildResult {
  code: number;
  reports: Record<string, unknown>[];
  stderr: string;
}

/** Runs `scenario` with `args` in a child `deno run`, bounded by `timeoutMs`. */
export async function runChild(
  scenario: string,
  args: string[] = [],
  timeoutMs = 30_000,
): Promise<ChildResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", scenarios, scenario, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = await child.output();
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{"));
  return {
    code: out.code,
    reports: lines.map((l) => JSON.parse(l)),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
