/**
 * The README as a newcomer uses it: the "own project" recipe is built in a temporary directory next
 * to a link to this clone and run in a child `deno run`; every `ts` block of README.md (except those
 * marked `<!-- fragment -->`) is run the same way, with exactly the flags the README writes after
 * it; the troubleshooting section has a row for every `kind` of every exported error class; and the
 * Layout section names every source file.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname).replace(/\/$/, "");
const readme = Deno.readTextFileSync(new URL("README.md", root));

/** A fenced code block of the README, with where it stands and the prose that follows it. */
interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Preceded by a `<!-- fragment -->` comment: part of a program, not run. */
  fragment: boolean;
  /** The `##`/`###` heading it stands under. */
  section: string;
  /** The text between this block and the next one. */
  after: string;
}

function readmeBlocks(md: string): Block[] {
  const lines = md.split("\n");
  const blocks: Block[] = [];
  let section = "";
  let lastText = "";
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{2,3} (.*)$/.exec(lines[i]);
    if (heading) section = heading[1];
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) {
      if (lines[i].trim() !== "") lastText = lines[i].trim();
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i]);
    assert.ok(i < lines.length, `README.md:${start + 1}: unclosed code block`);
    let j = i + 1;
    const after: string[] = [];
    for (; j < lines.length && !lines[j].startsWith("```"); j++) after.push(lines[j]);
    blocks.push({
      lang: fence[1],
      code: body.join("\n") + "\n",
      line: start + 1,
      fragment: lastText === "<!-- fragment -->",
      section,
      after: after.join("\n"),
    });
    lastText = "";
  }
  return blocks;
}

/** The permission flags of the first `` `deno run …` `` written after a block. */
function runFlags(b: Block): string[] {
  const m = /`deno run ((?:--[a-z-]+(?:=[^\s`]+)?\s*)+)[^`]*`/.exec(b.after);
  assert.ok(m, `README.md:${b.line}: no \`deno run --allow-…\` after this ${b.lang} block`);
  return m[1].trim().split(/\s+/);
}

const blocks = readmeBlocks(readme);
const recipeSection = "Use it from your own project";
const recipe = blocks.filter((b) => b.section === recipeSection);
const recipeConfigs = recipe.filter((b) => b.lang === "json");
const recipeMain = recipe.find((b) => b.lang === "ts");
const snippets = blocks.filter((b) => b.lang === "ts" && !b.fragment && b !== recipeMain);

/** Whether `unshare --net` works here: snippets then run in a network namespace of their own. */
const netns = await new Deno.Command("unshare", { args: ["--net", "true"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);

/**
 * Runs `deno run <flags> <file>` in `dir` (in a fresh network namespace when possible), then removes
 * the EAL runtime directory its pid named (`/var/run/dpdk/melin-dpdk-<pid>`) if the child left it.
 */
async function denoRun(dir: string, flags: string[], file: string) {
  const args = ["run", ...flags, file];
  const cmd = netns ? "unshare" : Deno.execPath(); // unshare execs deno: the same pid
  const child = new Deno.Command(cmd, {
    args: netns ? ["--net", Deno.execPath(), ...args] : args,
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const out = await child.output();
  await Deno.remove(`/var/run/dpdk/melin-dpdk-${child.pid}`, { recursive: true }).catch(() => {});
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * A temporary directory holding `dpdk` (a link to this clone) and project directories next to it,
 * as the README's recipe lays them out.
 */
async function withWorkspace(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "melin_readme_" });
  try {
    await Deno.symlink(rootPath, `${dir}/dpdk`);
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a project `name` (deno.json and one program) into the workspace; returns its path. */
async function project(ws: string, name: string, config: string, file: string, code: string) {
  const dir = `${ws}/${name}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/deno.json`, config);
  await Deno.writeTextFile(`${dir}/${file}`, code);
  return dir;
}

/** Key output of the runnable snippets, by the section they stand in. */
const expected: Record<string, { stdout?: RegExp[]; stderr?: RegExp[]; files?: string[] }> = {
  [recipeSection]: { stdout: [/^EAL melin-dpdk .*--no-huge/m, /^pool app_pool: 8192 of 8192 mbufs free$/m] },
  "Use": { stdout: [/^8192 8192 2176 -?\d+$/m, /^9146 true$/m], stderr: [/rx_pool.*File exists/] },
  "Mbufs: single, batched, zero-copy": { stdout: [/^18 114 2044 /m, /^8192 of 8192 free$/m] },
  "Ports: bursts on a poll-mode driver": { stdout: [/^sent 32, received 32 \(1920 bytes\)$/m] },
  "The TCP/IP stack (part 1: Ethernet, ARP, IPv4, ICMP, UDP)": {
    stdout: [/rxFrames: \d+/, /txDropped: 0/],
    files: ["trace.pcap"],
  },
};

function checkOutput(b: Block, r: { code: number; stdout: string; stderr: string }, dir: string): void {
  const where = `README.md:${b.line} (${b.section})`;
  assert.equal(r.code, 0, `${where} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const want = expected[b.section] ?? {};
  for (const re of want.stdout ?? []) assert.match(r.stdout, re, `${where}: stdout`);
  for (const re of want.stderr ?? []) assert.match(r.stderr, re, `${where}: stderr`);
  for (const f of want.files ?? []) {
    assert.ok(Deno.statSync(`${dir}/${f}`).size >= 24, `${where}: ${f} was not written`);
  }
}

Deno.test("README: using the library from one's own project", async (t) => {
  assert.ok(recipeMain, `README.md has no ts block under "${recipeSection}"`);
  assert.ok(
    recipeConfigs.length >= 2,
    `README.md: "${recipeSection}" should show the links and imports recipes`,
  );
  for (const [i, config] of recipeConfigs.entries()) {
    const kind = "links" in JSON.parse(config.code) ? "links" : "import map";
    await t.step(`README.md:${config.line}: deno.json with ${kind}`, async () => {
      await withWorkspace(async (ws) => {
        const dir = await project(ws, `app${i}`, config.code, "main.ts", recipeMain.code);
        // The README's command names main.ts; its flags are what the test passes.
        checkOutput(recipeMain, await denoRun(dir, runFlags(recipeMain), "main.ts"), dir);
      });
    });
  }
  await t.step("a bare path import without either fails as the README says", async () => {
    await withWorkspace(async (ws) => {
      const code = recipeMain.code.replace('"@melin/dpdk"', '"../dpdk/mod.ts"');
      const dir = await project(ws, "bare", "{}\n", "main.ts", code);
      const r = await denoRun(dir, runFlags(recipeMain), "main.ts");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Import "@logtape\/logtape" not a dependency/);
      assert.ok(readme.includes('`Import "@logtape/logtape" not a dependency`'));
    });
  });
});

Deno.test("README: every ts block runs as written", async (t) => {
  assert.ok(snippets.length >= 4, `found only ${snippets.length} runnable ts blocks in README.md`);
  for (const section of Object.keys(expected)) {
    assert.ok(
      blocks.some((b) => b.section === section && b.lang === "ts" && !b.fragment),
      `no snippet in ${section}`,
    );
  }
  const config = recipeConfigs.find((b) => "links" in JSON.parse(b.code));
  assert.ok(config, "the README's links recipe");
  await withWorkspace(async (ws) => {
    await t.step("they type-check", async () => {
      const dir = `${ws}/check`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/deno.json`, config.code);
      const files = snippets.map((b) => `line_${b.line}.ts`);
      for (const [i, b] of snippets.entries()) await Deno.writeTextFile(`${dir}/${files[i]}`, b.code);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["check", ...files],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    });
    for (const b of snippets) {
      const flags = runFlags(b);
      await t.step(`README.md:${b.line} (${b.section}) with ${flags.join(" ")}`, async () => {
        const dir = await project(ws, `line_${b.line}`, config.code, "main.ts", b.code);
        checkOutput(b, await denoRun(dir, flags, "main.ts"), dir);
      });
    }
  });
});

/** Every `kind` of every exported `…Error` class, from `deno doc --json mod.ts`. */
async function errorKinds(): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: rootPath,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  type TsType = { kind: string; repr?: string; value?: unknown };
  type DocSymbol = {
    name: string;
    declarations: {
      kind: string;
      def: { tsType?: TsType; properties?: { name: string; tsType?: TsType }[] };
    }[];
  };
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const symbols: DocSymbol[] = Object.values(doc.nodes as Record<string, { symbols: DocSymbol[] }>)
    .flatMap((n) => n.symbols);
  const byName = new Map(symbols.map((s) => [s.name, s]));
  const literals = (t: TsType | undefined, what: string): string[] => {
    assert.ok(t, `${what}: no type`);
    if (t.kind === "literal") return [(t.value as { string: string }).string];
    if (t.kind === "union") return (t.value as TsType[]).flatMap((u) => literals(u, what));
    if (t.kind === "typeRef") {
      const alias = byName.get((t.value as { typeName: string }).typeName)?.declarations
        .find((d) => d.kind === "typeAlias");
      assert.ok(alias, `${what}: type ${t.repr} is not exported from mod.ts`);
      return literals(alias.def.tsType, what);
    }
    assert.fail(`${what}: kind type ${t.kind} is not a union of string literals`);
  };
  const kinds = new Map<string, string[]>();
  for (const s of symbols) {
    const cls = s.declarations.find((d) => d.kind === "class");
    const kind = cls?.def.properties?.find((p) => p.name === "kind");
    if (!s.name.endsWith("Error") || !kind) continue;
    kinds.set(s.name, literals(kind.tsType, `${s.name}.kind`));
  }
  return kinds;
}

Deno.test("README: the troubleshooting section has a row for every error kind", async () => {
  const start = readme.indexOf("\n## Troubleshooting\n");
  assert.ok(start >= 0, "README.md has no ## Troubleshooting section");
  const next = readme.indexOf("\n## ", start + 1);
  const text = readme.slice(start, next < 0 ? undefined : next);
  // Subsections "### `EalError`" etc. hold tables whose rows start with the kind.
  const tables = new Map<string, string>();
  for (const part of text.split(/\n### /).slice(1)) {
    const name = /^`?(\w+)`?/.exec(part)?.[1];
    if (name) tables.set(name, part);
  }
  const kinds = await errorKinds();
  for (const name of ["EalError", "MempoolError", "MbufError", "PortError", "InterfaceError", "WireError"]) {
    assert.ok(kinds.has(name), `deno doc found no ${name} with a kind (found ${[...kinds.keys()]})`);
  }
  const missing: string[] = [];
  for (const [cls, list] of kinds) {
    for (const kind of list) {
      const inTable = tables.get(cls)?.split("\n").some((l) => l.startsWith(`| \`${kind}\``)) ?? false;
      if (!inTable && !text.includes(`${cls} ${kind}`)) missing.push(`${cls} ${kind}`);
    }
  }
  assert.deepEqual(
    missing,
    [],
    'README.md "Troubleshooting": add a row (| `Kind` | when | fix |) to the table under "### `Class`" for each',
  );
});

Deno.test("the demo runs to its end with the flags of `deno task demo`, and with --allow-ffi alone", async (t) => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  const m = /^deno run (.*) examples\/demo\.ts$/.exec(config.tasks.demo.command);
  assert.ok(m, `deno.json demo task: ${config.tasks.demo.command}`);
  const demo = `${rootPath}/examples/demo.ts`;
  await t.step(m[1], async () => {
    const r = await denoRun(rootPath, m[1].split(/\s+/), demo);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /skipped|instead|needs --allow/);
    assert.match(r.stdout, /\(net_tap\) ↔ kernel interface/);
    // The kernel's ping and UDP socket ran against our stack (a busy machine may lose a reply).
    assert.match(r.stdout, /4 packets transmitted, [1-4] received/);
    assert.match(r.stdout, /kernel UDP socket sent "hello, userspace stack" to \S+ and got back/);
    assert.match(r.stdout, /^== Done/m);
  });
  await t.step("--allow-ffi", async () => {
    const r = await denoRun(rootPath, ["--allow-ffi"], demo);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /a tap to the kernel needs --allow-sys=uid --allow-run=ip; using a net_ring loopback/,
    );
    assert.match(r.stdout, /a tap to the kernel needs --allow-sys=uid --allow-run=ip; skipped/);
    assert.match(r.stdout, /^== Done/m);
  });
  await t.step("no flags: one line naming --allow-ffi, exit 1", async () => {
    const r = await denoRun(rootPath, [], demo);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^The demo needs --allow-ffi/);
  });
});

Deno.test("README: the Layout section names every source file", () => {
  const start = readme.indexOf("\n## Layout\n");
  assert.ok(start >= 0, "README has a ## Layout section");
  const end = readme.indexOf("\n## ", start + 1);
  const layout = readme.slice(start, end < 0 ? undefined : end);
  const missing: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of Deno.readDirSync(`${rootPath}/${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) walk(path, `${rel}${e.name}/`);
      else if (/\.(ts|c|h)$/.test(e.name)) {
        // src/net/ is drawn as a tree of bare names; the other files are named with their path.
        const name = dir.startsWith("src/net") ? e.name.replace(/\.ts$/, "") : e.name;
        if (!new RegExp(`(^|[\\s\`/(])${name.replaceAll(".", "\\.")}([\\s\`),.:]|$)`, "m").test(layout)) {
          missing.push(path);
        }
      }
    }
  };
  walk("src", "");
  walk("csrc", "");
  assert.deepEqual(missing, [], `README ## Layout does not name: ${missing.join(", ")}`);
});
