import assert from "node:assert/strict";

/** Runs `f`, asserts that it throws an instance of `cls`, and returns that error for more checks. */
// deno-lint-ignore no-explicit-any
export function thrown<E extends Error>(f: () => unknown, cls: new (...args: any[]) => E): E {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e instanceof Error ? e.stack : String(e)}`);
    return e;
  }
  assert.fail(`expected ${cls.name} to be thrown, but nothing was`);
}
