/** A net_tap port whose kernel side has an IPv4 address: the Linux kernel as a test peer. */
import { type Device, Interface, Mempool, Port, PortDevice, Vdev } from "../mod.ts";
import { uniqueName } from "./_eal.ts";
import { kernelUp, u32 } from "./_kernel.ts";
import { ipString, kernelLink, macBytes, runTag, sh, tapAddresses } from "./_net.ts";

export interface Tap extends Disposable {
  iface: string;
  port: Port;
  pool: Mempool;
  kernelMac: Uint8Array;
  kernelIp: Uint8Array;
  ourIp: Uint8Array;
}

let tapCounter = 0;

/**
 * A started net_tap port whose kernel side has an address; disposing removes the interface. Each
 * test file passes a `tag` of its own (kernel interface `<tag><pid><n>`, at most 15 characters), so
 * that files running at once never ask for the same interface.
 */
export async function openTap(opts: { tag?: string; mbufs?: number } = {}): Promise<Tap> {
  const n = tapCounter++;
  const tag = opts.tag ?? "mdt";
  const iface = `${tag}${runTag()}${n}`;
  const pool = Mempool.createWithSize(uniqueName("tap"), opts.mbufs ?? 2048);
  const vdev = Vdev.attach(`net_tap_${tag}${runTag()}${n}`, `iface=${iface}`);
  const port = Port.open(vdev.portId, pool, { promiscuous: true });
  const cleanup = () => {
    port.close();
    vdev.detach();
    pool[Symbol.dispose]();
  };
  try {
    // Before the port starts (the link comes up): no IPv6 link-local address from the start.
    await sh("ip", "link", "set", "dev", iface, "addrgenmode", "none");
    port.start();
    const { kernel, ours, prefix } = tapAddresses();
    await kernelUp(iface, `${ipString(kernel)}/${prefix}`);
    const link = await kernelLink(iface);
    if (link === null) throw new Error(`the kernel has no interface ${iface}`);
    const kernelMac = macBytes(link.address);
    return { iface, port, pool, kernelMac, kernelIp: kernel, ourIp: ours, [Symbol.dispose]: cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/**
 * Our interface on the tap's port with MAC `mac` and the tap's address for us (/24), over the port's
 * device or over what `wrap` makes of it (a lossy or faulty device); disposing it returns the
 * device's spare mbufs.
 */
export function tapInterface(tap: Tap, mac: Uint8Array, wrap?: (d: PortDevice) => Device) {
  const dev = new PortDevice(tap.port, tap.pool);
  const iface = new Interface(wrap ? wrap(dev) : dev, {
    mac,
    addresses: [{ ip: u32(tap.ourIp), prefix: 24 }],
  });
  return { dev, iface, [Symbol.dispose]: () => dev[Symbol.dispose]() };
}
