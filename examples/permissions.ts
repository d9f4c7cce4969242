/**
 * What the examples may do here: the Deno permissions a part needs, and root. Each part of an
 * example asks `lacking(...)` first and, when something is missing, says which flag (or root) and
 * skips or falls back, instead of dying on a `NotCapable` halfway through.
 *
 * @module
 */

/** The command-line flag that grants `d`. */
function flag(d: Deno.PermissionDescriptor): string {
  switch (d.name) {
    case "sys":
      return `--allow-sys=${d.kind}`;
    case "run":
      return d.command === undefined ? "--allow-run" : `--allow-run=${d.command}`;
    case "net":
      return d.host === undefined ? "--allow-net" : `--allow-net=${d.host}`;
    default:
      return `--allow-${d.name}`;
  }
}

/** Root's uid, asked only once `--allow-sys=uid` is known to be granted. */
const uid: Deno.PermissionDescriptor = { name: "sys", kind: "uid" };

/**
 * Why a part cannot run here — "needs --allow-run=ip --allow-net" or "needs root" — or null when
 * every permission in `needs` is granted (and root, when `root` is true). Never prompts.
 */
export function lacking(needs: Deno.PermissionDescriptor[], root = false): string | null {
  const all = root ? [uid, ...needs] : needs;
  const missing = all.filter((d) => Deno.permissions.querySync(d).state !== "granted").map(flag);
  if (missing.length > 0) return `needs ${[...new Set(missing)].join(" ")}`;
  if (root && Deno.uid() !== 0) return "needs root";
  return null;
}
