/** A net_tap port whose kernel side has an IPv4 address: the Linux kernel as a test peer. */
import { Mempool, Port, Vdev } from "../mod.ts";
import { uniqueName } from "./_eal.ts";
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

/** A started net_tap port whose kernel side has an address; disposing removes the interface. */
export async function openTap(): Promise<Tap> {
  const n = tapCounter++;
  const iface = `mdt${runTag()}${n}`;
  const pool = Mempool.createWithSize(uniqueName("tap"), 2048);
  const vdev = Vdev.attach(`net_tap_m${runTag()}${n}`, `iface=${iface}`);
  const port = Port.open(vdev.portId, pool, { promiscuous: true });
  const cleanup = () => {
    port.close();
    vdev.detach();
    pool[Symbol.dispose]();
  };
  try {
    // No IPv6 link-local address: the kernel would otherwise send router solicitations and MLD.
    await sh("ip", "link", "set", "dev", iface, "addrgenmode", "none");
    port.start();
    const { kernel, ours, prefix } = tapAddresses();
    await sh("ip", "addr", "add", `${ipString(kernel)}/${prefix}`, "dev", iface);
    await sh("ip", "link", "set", "dev", iface, "up");
    const link = await kernelLink(iface);
    if (link === null) throw new Error(`the kernel has no interface ${iface}`);
    const kernelMac = macBytes(link.address);
    return { iface, port, pool, kernelMac, kernelIp: kernel, ourIp: ours, [Symbol.dispose]: cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}
