/**
 * The EAL every test file shares. EAL starts once per process and `deno test` runs all files in
 * one process, so every file must ask for the same arguments: this one call.
 */
import { Eal } from "../mod.ts";

/** Starts (or returns) the test process's EAL: no hugepages, no PCI, 512 MB, unique prefix. */
export function testEal(): Eal {
  return Eal.init(Eal.devOptions());
}

let counter = 0;
/** A pool name unique within the test process (pool names are process-wide). */
export function uniqueName(tag: string): string {
  return `${tag}_${Date.now() % 100000}_${counter++}`.slice(0, 25);
}
