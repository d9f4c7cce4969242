/**
 * pcap capture files (the classic libpcap format, Ethernet link type) that Wireshark and tcpdump
 * open.
 *
 * @module
 */
import { badArgument, isBytes, isFiniteFrom, isIntIn, shown } from "../args.ts";

/**
 * Why a capture call failed:
 * - `"InvalidArgument"`: a path, snap length, range or time out of range (nothing was written).
 * - `"OpenFailed"`: the file could not be created (the cause is attached).
 * - `"WriteFailed"`: the file refused a write (disk full, closed under us; the cause is attached).
 * - `"Closed"`: a write after {@linkcode PcapWriter.close}.
 */
export type PcapErrorKind = "InvalidArgument" | "OpenFailed" | "WriteFailed" | "Closed";

/** A capture error; `kind` says which. */
export class PcapError extends Error {
  /** Why. */
  readonly kind: PcapErrorKind;
  /** Creates an error. */
  constructor(kind: PcapErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PcapError";
    this.kind = kind;
  }
}

/** Largest snap length accepted (what tcpdump's default became: 262 144). */
const MAX_SNAP_LENGTH = 262_144;

/** Writes frames to a pcap file. Dispose (or `close`) to flush and close it. */
export class PcapWriter implements Disposable {
  /** Bytes kept of each frame (longer frames are cut, their original length recorded). */
  readonly snapLength: number;
  #file: Deno.FsFile;
  #closed = false;
  #header = new Uint8Array(16);
  #view = new DataView(this.#header.buffer);

  /**
   * Creates (or truncates) `path` and writes the file header; `snapLength` (1–262144) caps each record.
   * @throws {PcapError} `InvalidArgument` for a bad path or snap length, `OpenFailed` when the file
   * cannot be created (needs `--allow-write`).
   */
  constructor(path: string | URL, snapLength: number = 65535) {
    if (!((typeof path === "string" && path.length > 0 && !path.includes("\0")) || path instanceof URL)) {
      throw new PcapError(
        "InvalidArgument",
        badArgument("PcapWriter", "path", path, "a non-empty file path or URL"),
      );
    }
    if (!isIntIn(snapLength, 1, MAX_SNAP_LENGTH)) {
      throw new PcapError(
        "InvalidArgument",
        badArgument("PcapWriter", "snapLength", snapLength, `a whole number 1–${MAX_SNAP_LENGTH}`),
      );
    }
    this.snapLength = snapLength;
    try {
      this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new PcapError("OpenFailed", `PcapWriter: cannot create ${String(path)}: ${e}`, { cause: e });
    }
    const h = new DataView(new ArrayBuffer(24));
    h.setUint32(0, 0xa1b2c3d4, true); // magic, microsecond timestamps
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setInt32(8, 0, true);
    h.setUint32(12, 0, true);
    h.setUint32(16, snapLength, true);
    h.setUint32(20, 1, true); // LINKTYPE_ETHERNET
    this.#writeAll(new Uint8Array(h.buffer));
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends `bytes[start .. start + length)` captured at `timeMs` (milliseconds since the epoch).
   * @throws {PcapError} `InvalidArgument` for a range outside `bytes` or a bad time (nothing is
   * written), `Closed` after close, `WriteFailed` when the file refuses the write.
   */
  write(bytes: Uint8Array, start: number, length: number, timeMs: number = Date.now()): void {
    if (!isBytes(bytes)) {
      throw new PcapError(
        "InvalidArgument",
        badArgument("PcapWriter.write", "bytes", bytes, "a Uint8Array (not detached)"),
      );
    }
    if (!isIntIn(start, 0, bytes.length) || !isIntIn(length, 0, bytes.length - start)) {
      throw new PcapError(
        "InvalidArgument",
        `PcapWriter.write: start ${shown(start)} and length ${shown(length)} must be whole numbers with ` +
          `0 ≤ start ≤ start + length ≤ ${bytes.length} (the array's length)`,
      );
    }
    if (!isFiniteFrom(timeMs, 0) || timeMs >= 2 ** 32 * 1000) {
      throw new PcapError(
        "InvalidArgument",
        badArgument("PcapWriter.write", "timeMs", timeMs, "milliseconds since the epoch, 0 ≤ t < 2³² s"),
      );
    }
    if (this.#closed) throw new PcapError("Closed", "PcapWriter.write: the writer is closed");
    const cap = Math.min(length, this.snapLength);
    const sec = Math.floor(timeMs / 1000);
    this.#view.setUint32(0, sec, true);
    this.#view.setUint32(4, Math.min(999_999, Math.floor((timeMs - sec * 1000) * 1000)), true);
    this.#view.setUint32(8, cap, true);
    this.#view.setUint32(12, length, true);
    this.#writeAll(this.#header);
    this.#writeAll(bytes.subarray(start, start + cap));
  }

  #writeAll(data: Uint8Array): void {
    try {
      while (data.length > 0) data = data.subarray(this.#file.writeSync(data));
    } catch (e) {
      throw new PcapError("WriteFailed", `PcapWriter.write: ${e}`, { cause: e });
    }
  }

  /** Closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch { /* closed under us: nothing left to release */ }
  }

  /** Same as {@linkcode PcapWriter.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
