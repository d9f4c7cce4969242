/** Byte fixtures shared by the wire tests and the fuzzer (frames the Linux kernel sent through a tap). */

/** Bytes from hex, spaces allowed. */
export function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (h) => parseInt(h, 16));
}

/** ARP reply from Linux (198.18.77.1 is at 26:85:99:69:fb:3a), to 02:00:5e:10:00:02 / 198.18.77.2. */
export const KERNEL_ARP_REPLY = hex(
  "02005e100002 26859969fb3a 0806 0001 0800 06 04 0002 26859969fb3a c6124d01 02005e100002 c6124d02",
);
/** UDP datagram from a Linux socket 198.18.77.1:40001 to 198.18.77.2:40002, "hello from linux". */
export const KERNEL_UDP = hex(
  "02005e100002 26859969fb3a 0800 4500002c3a1f40004011da79c6124d01c6124d02 9c419c42001887ec" +
    "68656c6c6f2066726f6d206c696e7578",
);
