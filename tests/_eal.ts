/**
 * The EAL every test file shares. EAL starts once per process and `deno test` runs all files in
 * one process, so every file must ask for the same arguments: this one call.
 */
import { Eal } from "../mod.ts";

/** Starts (or returns) the test process's EAL: no hugepages, no PCI, 512 MB, unique prefix. */
export function testEal(): Eal {
  return Eal.init(Eal.devOptions());
}

/**
 * A tag unique to this isolate. `deno test` runs every test file in its own isolate of the same
 * process, each with its own module state: a counter alone would give every file the same names,
 * and names of pools, vdevs and their rings are process-wide.
 */
export const ISOLATE_TAG: string = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(
  7,
  "0",
);

let counter = 0;
/** A name unique within the test process (pool names are process-wide); at most 25 characters. */
export function uniqueName(tag: string): string {
  const suffix = `_${ISOLATE_TAG}${(counter++).toString(36)}`;
  return tag.slice(0, 25 - suffix.length) + suffix;
}
