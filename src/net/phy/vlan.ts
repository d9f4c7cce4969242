/**
 * Several VLANs on one link: {@linkcode VlanDemux} splits a {@linkcode Device}'s received frames
 * by 802.1Q tag into one device view per VLAN, so that each VLAN gets an interface of its own
 * (configured with that `vlan`); sending goes straight to the shared device.
 *
 * @module
 */
import { badArgument, isIntIn } from "../args.ts";
import { PortError } from "../../port.ts";
import type { Device } from "./device.ts";

type OnFrame = (bytes: Uint8Array, start: number, length: number) => void;

/**
 * Splits one device's frames by VLAN. A view's `receive` hands over the frames queued for it,
 * then receives a burst from the device: its own frames go straight to its callback, the others'
 * are copied into their views' bounded queues (beyond `capacity` frames, or for a frame above the
 * MTU plus 18 bytes, they are dropped and counted in {@linkcode VlanDemux.dropped}). Frames of a
 * VLAN without a view are counted in {@linkcode VlanDemux.unclaimed} and dropped.
 */
export class VlanDemux {
  /** The shared device. */
  readonly device: Device;
  /** Frames dropped because their view's queue was full (or the frame too long to queue). */
  dropped = 0;
  /** Frames of a VLAN (or untagged) that no view claims. */
  unclaimed = 0;
  readonly #views = new Map<number, VlanView>();
  readonly #capacity: number;

  /**
   * Splits `device`; each view queues up to `capacity` (1–4096, default 64) frames for itself.
   * @throws {PortError} `InvalidArgument` for a bad device or capacity.
   */
  constructor(device: Device, capacity: number = 64) {
    const d = device as Partial<Device> | null;
    if (
      typeof d !== "object" || d === null || typeof d.receive !== "function" || !isIntIn(d.mtu, 68, 65535)
    ) {
      throw new PortError("InvalidArgument", -1, badArgument("VlanDemux", "device", device, "a Device"));
    }
    if (!isIntIn(capacity, 1, 4096)) {
      throw new PortError(
        "InvalidArgument",
        -1,
        badArgument("VlanDemux", "capacity", capacity, "a whole number 1–4096"),
      );
    }
    this.device = device;
    this.#capacity = capacity;
  }

  /**
   * The device view of VLAN `vlan` (1–4094), or of untagged and priority-tagged frames (-1).
   * @throws {PortError} `InvalidArgument` for a bad id or one that already has a view.
   */
  view(vlan: number): Device {
    if (!(vlan === -1 || isIntIn(vlan, 1, 4094))) {
      throw new PortError(
        "InvalidArgument",
        -1,
        badArgument("VlanDemux.view", "vlan", vlan, "-1 (untagged) or 1–4094"),
      );
    }
    if (this.#views.has(vlan)) {
      throw new PortError("InvalidArgument", -1, `VlanDemux.view: VLAN ${vlan} already has a view`);
    }
    const v = new VlanView(this, this.#capacity);
    this.#views.set(vlan, v);
    return v;
  }

  /** @internal Receives a burst for `self`, whose frames go to `onFrame`; returns how many frames it took. */
  pull(self: VlanView, onFrame: OnFrame): number {
    let mine = 0;
    this.device.receive((b, s, l) => {
      // 802.1Q: TPID 0x8100 at 12, VLAN id in the low 12 bits of the TCI; VLAN 0 is untagged.
      const vid = l >= 18 && b[s + 12] === 0x81 && b[s + 13] === 0x00
        ? ((b[s + 14] & 0x0f) << 8) | b[s + 15]
        : 0;
      const v = this.#views.get(vid === 0 ? -1 : vid);
      if (v === undefined) {
        this.unclaimed++;
      } else if (v === self) {
        mine++;
        onFrame(b, s, l);
      } else if (!v.queue(b, s, l)) {
        this.dropped++;
      }
    });
    return mine;
  }
}

/** One VLAN's view of a shared device (made by {@linkcode VlanDemux.view}). */
class VlanView implements Device {
  readonly mtu: number;
  readonly #demux: VlanDemux;
  readonly #slot: number;
  readonly #ring: Uint8Array;
  readonly #lengths: Uint32Array;
  #head = 0;
  #count = 0;

  constructor(demux: VlanDemux, capacity: number) {
    this.#demux = demux;
    this.mtu = demux.device.mtu;
    this.#slot = this.mtu + 18;
    this.#ring = new Uint8Array(capacity * this.#slot);
    this.#lengths = new Uint32Array(capacity);
  }

  get txBytes(): Uint8Array {
    return this.#demux.device.txBytes;
  }

  /** Copies a frame into this view's queue; false when full or too long. */
  queue(b: Uint8Array, s: number, l: number): boolean {
    const cap = this.#lengths.length;
    if (this.#count === cap || l > this.#slot) return false;
    let k = this.#head + this.#count;
    if (k >= cap) k -= cap;
    this.#ring.set(b.subarray(s, s + l), k * this.#slot);
    this.#lengths[k] = l;
    this.#count++;
    return true;
  }

  receive(onFrame: OnFrame): number {
    if (typeof onFrame !== "function") {
      throw new PortError(
        "InvalidArgument",
        -1,
        badArgument("VlanDemux view receive", "onFrame", onFrame, "a function"),
      );
    }
    let n = 0;
    const cap = this.#lengths.length;
    while (this.#count > 0) {
      const k = this.#head;
      this.#head = k + 1 === cap ? 0 : k + 1;
      this.#count--;
      n++;
      onFrame(this.#ring, k * this.#slot, this.#lengths[k]);
    }
    return n + this.#demux.pull(this, onFrame);
  }

  txSlot(length: number): number {
    return this.#demux.device.txSlot(length);
  }

  flush(): number {
    return this.#demux.device.flush();
  }
}
