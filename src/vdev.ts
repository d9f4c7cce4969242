/**
 * Virtual devices attached at run time (`rte_dev_probe`): net_ring, net_null, net_tap,
 * net_af_packet, net_memif. Each makes an ethdev port, opened with `Port.open`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { cString, dpdk } from "./ffi.ts";
import { type ArgError, checkString } from "./validate.ts";
import { EAL_STATE_RUNNING, ealStateWord, isolateSlot, requireEal, trackResource } from "./eal.ts";
import { ETH_NAME_MAX_LEN, openPort, PortError } from "./port.ts";

// The category ports log under: attach and open are one story in the log.
const logger = getLogger(["melin-dpdk", "port"]);

const ENODEV = 19;
const EFAULT = 14;
const EEXIST = 17;

const vdevArg: ArgError = (message) => new PortError("InvalidArgument", -1, message);

/**
 * A virtual device attached at run time (`rte_dev_probe`), e.g. `net_ring0`, `net_null0`,
 * `net_tap0` with `iface=NAME`, `net_af_packet0` with `iface=NAME`. Dispose (or `using`) removes it;
 * close its port first.
 */
export class Vdev implements Disposable {
  /** Device name, e.g. `"net_tap0"`. */
  readonly name: string;
  /** Device arguments, e.g. `"iface=dtap0"`. */
  readonly args: string;
  /** The ethdev port id it created. */
  readonly portId: number;
  #attached = true;
  #untrack: () => void;

  private constructor(name: string, args: string, portId: number) {
    this.name = name;
    this.args = args;
    this.portId = portId;
    this.#untrack = trackResource(this);
  }

  /**
   * Attaches virtual device `name` with driver arguments `args` and returns it with its port id.
   * @throws {PortError} `AttachFailed` (with errno), `InvalidArgument`.
   */
  static attach(name: string, args: string = ""): Vdev {
    requireEal("Vdev.attach");
    checkString(vdevArg, "Vdev.attach: name", name);
    checkString(vdevArg, "Vdev.attach: args", args, true);
    if (!/^net_[a-z_]+[A-Za-z0-9_]*$/.test(name) || name.length >= ETH_NAME_MAX_LEN) {
      throw new PortError(
        "InvalidArgument",
        -1,
        `vdev name ${JSON.stringify(name)} must be a driver name plus a suffix, e.g. net_ring0, net_tap_x1 ` +
          `(letters, digits, _; under ${ETH_NAME_MAX_LEN} characters)`,
      );
    }
    const s = dpdk();
    const existing = new Uint16Array(1);
    // rte_dev_probe reports success for a device that exists (it only syncs secondaries then):
    // without this check a second attach would return a phantom Vdev for the first one's port.
    if (s.rte_eth_dev_get_port_by_name(cString(name), existing) === 0) {
      throw new PortError(
        "AlreadyAttached",
        existing[0],
        `vdev ${JSON.stringify(name)} is already attached (port ${existing[0]}): use the Vdev that ` +
          `attached it, detach that one first, or pick another name`,
      );
    }
    const spec = args.length > 0 ? `${name},${args}` : name;
    const rc = s.rte_dev_probe(cString(spec));
    if (rc === -EFAULT) {
      // rte_devargs_parse found no bus that claims the name: for a net_* name, no vdev driver has
      // that prefix. DPDK's EFAULT ("Bad address") would mislead.
      throw new PortError(
        "UnknownDriver",
        -1,
        `No virtual-device driver matches ${JSON.stringify(name)}: the name must start with a driver's ` +
          `name, e.g. net_ring, net_null, net_tap, net_af_packet, net_memif (a driver missing from the ` +
          `DPDK install is unknown too)`,
        ENODEV,
      );
    }
    if (rc === -EEXIST) {
      throw new PortError("AlreadyAttached", -1, `vdev ${JSON.stringify(name)} is already attached`, EEXIST);
    }
    if (rc !== 0) {
      throw new PortError(
        "AttachFailed",
        -1,
        `Could not attach vdev ${JSON.stringify(spec)}: check the driver's arguments (DPDK's log says more)`,
        -rc,
      );
    }
    const out = new Uint16Array(1);
    if (s.rte_eth_dev_get_port_by_name(cString(name), out) !== 0) {
      s.rte_eal_hotplug_remove(cString("vdev"), cString(name));
      throw new PortError(
        "AttachFailed",
        -1,
        `vdev ${
          JSON.stringify(spec)
        } was probed but created no port (e.g. net_af_packet with a missing iface)`,
      );
    }
    // Recorded in the shim: detached if this isolate ends without detaching it.
    s.mdp_vdev_claim(out[0], isolateSlot(), cString(name));
    logger.info("Attached vdev {spec} as port {port}", { spec, port: out[0] });
    return new Vdev(name, args, out[0]);
  }

  /** True until removed. */
  get attached(): boolean {
    return this.#attached;
  }

  /** Removes the device (`rte_eal_hotplug_remove`). Idempotent. @throws {PortError} `InUse` while its port is open. */
  detach(): void {
    if (!this.#attached) return;
    const port = openPort(this.portId);
    if (port !== undefined && port.state !== "closed") {
      throw new PortError(
        "InUse",
        this.portId,
        `vdev ${this.name}: close port ${this.portId} before detaching`,
      );
    }
    this.#attached = false;
    this.#untrack();
    if (ealStateWord()[0] !== EAL_STATE_RUNNING) return; // EAL cleanup removed every device
    const rc = dpdk().mdp_vdev_detach(this.portId, cString(this.name));
    if (rc !== 0) throw new PortError("DetachFailed", this.portId, `Could not remove vdev ${this.name}`, -rc);
  }

  /** Same as {@linkcode Vdev.detach}. */
  [Symbol.dispose](): void {
    this.detach();
  }
}
