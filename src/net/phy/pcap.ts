/**
 * pcap capture files (the classic libpcap format, Ethernet link type) that Wireshark and tcpdump
 * open.
 *
 * @module
 */

/** Writes frames to a pcap file. Dispose (or `close`) to flush and close it. */
export class PcapWriter implements Disposable {
  #file: Deno.FsFile;
  #header = new Uint8Array(16);
  #view = new DataView(this.#header.buffer);

  /** Creates (or truncates) `path` and writes the file header; `snapLength` caps each record. */
  constructor(path: string | URL, readonly snapLength: number = 65535) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    const h = new DataView(new ArrayBuffer(24));
    h.setUint32(0, 0xa1b2c3d4, true); // magic, microsecond timestamps
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setInt32(8, 0, true);
    h.setUint32(12, 0, true);
    h.setUint32(16, snapLength, true);
    h.setUint32(20, 1, true); // LINKTYPE_ETHERNET
    this.#file.writeSync(new Uint8Array(h.buffer));
  }

  /** Appends `bytes[start .. start + length)` captured at `timeMs` (milliseconds since the epoch). */
  write(bytes: Uint8Array, start: number, length: number, timeMs: number = Date.now()): void {
    const cap = Math.min(length, this.snapLength);
    const sec = Math.floor(timeMs / 1000);
    this.#view.setUint32(0, sec, true);
    this.#view.setUint32(4, Math.floor((timeMs - sec * 1000) * 1000), true);
    this.#view.setUint32(8, cap, true);
    this.#view.setUint32(12, length, true);
    this.#file.writeSync(this.#header);
    let data = bytes.subarray(start, start + cap);
    while (data.length > 0) data = data.subarray(this.#file.writeSync(data));
  }

  /** Closes the file. Idempotent. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }

  /** Same as {@linkcode PcapWriter.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
