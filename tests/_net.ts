/** Helpers for tests that use the Linux kernel as a peer through net_tap. */
import assert from "node:assert/strict";

/** Runs a command (e.g. `ip`), throwing with its stderr when it fails. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** The kernel's view of an interface (`ip -j link show`), or null when it has none of that name. */
export async function kernelLink(name: string): Promise<{ address: string; operstate: string } | null> {
  const out = await new Deno.Command("ip", {
    args: ["-j", "link", "show", "dev", name],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) return null;
  const [link] = JSON.parse(new TextDecoder().decode(out.stdout));
  return link ?? null;
}

/** True when the kernel has an interface of that name. */
export async function interfaceExists(name: string): Promise<boolean> {
  return (await kernelLink(name)) !== null;
}

/** Names unique to this run (kernel interface names have at most 15 characters). */
export function runTag(): string {
  return `${Deno.pid % 100000}`;
}

/**
 * Addresses for a kernel peer on a tap device: 198.18.0.0/15 is the block set aside for
 * benchmarking network devices (RFC 2544), so no real host uses it; the traffic stays on the tap.
 */
export function tapAddresses(): { kernel: Uint8Array; ours: Uint8Array; prefix: number } {
  const x = (Deno.pid % 250) + 1;
  return { kernel: Uint8Array.of(198, 18, x, 1), ours: Uint8Array.of(198, 18, x, 2), prefix: 24 };
}

/** Dotted form of an IPv4 address. */
export function ipString(ip: Uint8Array): string {
  return Array.from(ip).join(".");
}

/** Bytes of a MAC address written as aa:bb:cc:dd:ee:ff. */
export function macBytes(text: string): Uint8Array {
  const parts = text.trim().split(":").map((h) => parseInt(h, 16));
  assert.equal(parts.length, 6, `bad MAC ${text}`);
  return Uint8Array.from(parts);
}
