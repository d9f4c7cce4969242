/**
 * Our addresses and static routes: which destinations are ours, which are on-link, which neighbour
 * a packet goes through, and which sources a host may answer (RFC 1122 3.2.1.3, 3.2.2).
 *
 * @module
 */
import { badArgument, isIntIn, isU32 } from "../args.ts";
import { ipv4ToString } from "../wire/mod.ts";
import { InterfaceError } from "../error.ts";

/** An address on the interface: `ip` (u32) with its prefix length. */
export interface Ipv4Cidr {
  /** The address. */
  ip: number;
  /** Prefix length, 0–32. */
  prefix: number;
}

/** A static route: `ip/prefix` is reached through the neighbour `via` (all u32). */
export interface Route {
  /** Destination network. */
  ip: number;
  /** Prefix length, 0–32. */
  prefix: number;
  /** Next hop, on one of our subnets. */
  via: number;
}

/** Most addresses an interface takes. */
export const MAX_ADDRESSES = 16;
/** Most static routes an interface takes (a host's table, looked up linearly). */
export const MAX_ROUTES = 256;

/** The netmask of a prefix length, as a u32. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

function inNet(ip: number, net: number, mask: number): boolean {
  return ((ip & mask) >>> 0) === ((net & mask) >>> 0);
}

interface Subnet {
  ip: number;
  prefix: number;
  mask: number;
  /** The subnet's directed broadcast, or -1 for /31 and /32 (RFC 3021: no broadcast). */
  broadcast: number;
}

function checkCidr(where: string, name: string, c: unknown): { ip: number; prefix: number } {
  const o = c as { ip?: unknown; prefix?: unknown } | null;
  if (typeof o !== "object" || o === null) {
    throw new InterfaceError("InvalidArgument", badArgument(where, name, c, "an object { ip, prefix }"));
  }
  if (!isU32(o.ip)) {
    throw new InterfaceError("InvalidArgument", badArgument(where, `${name}.ip`, o.ip, "a u32 IPv4 address"));
  }
  if (!isIntIn(o.prefix, 0, 32)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument(where, `${name}.prefix`, o.prefix, "a whole number 0–32"),
    );
  }
  return { ip: o.ip, prefix: o.prefix };
}

/**
 * Addresses, routes and gateway of one interface, validated once: every next hop is on one of our
 * subnets. Longest prefix wins among routes; the gateway takes the rest.
 */
export class Routes {
  readonly #subnets: Subnet[];
  readonly #routes: { ip: number; mask: number; prefix: number; via: number }[];
  readonly #gateway: number;
  /** The first address: the source when no subnet matches. */
  readonly primary: number;

  /**
   * @throws {InterfaceError} `InvalidArgument` for a bad address, prefix, route or gateway (a next
   * hop must be on one of our subnets), no address, or more than {@linkcode MAX_ADDRESSES} addresses
   * or {@linkcode MAX_ROUTES} routes.
   */
  constructor(addresses: unknown, routes: unknown = [], gateway: unknown = undefined) {
    const where = "Interface";
    if (!Array.isArray(addresses) || addresses.length === 0 || addresses.length > MAX_ADDRESSES) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument(where, "addresses", addresses, `an array of 1–${MAX_ADDRESSES} { ip, prefix }`),
      );
    }
    this.#subnets = addresses.map((a, i) => {
      const { ip, prefix } = checkCidr(where, `addresses[${i}]`, a);
      const mask = maskOf(prefix);
      const broadcast = prefix >= 31 ? -1 : (ip | ~mask) >>> 0;
      const top = ip >>> 24;
      // RFC 1122 3.2.1.3: a host's own address is a unicast one (else every reply would go astray).
      if (top === 0 || top === 127 || top >= 224 || ip === broadcast) {
        throw new InterfaceError(
          "InvalidArgument",
          badArgument(
            where,
            `addresses[${i}].ip`,
            ipv4ToString(ip),
            "a unicast host address (not 0/8, 127/8, multicast 224/4, 240/4 or the subnet's broadcast)",
          ),
        );
      }
      return { ip, prefix, mask, broadcast };
    });
    for (let i = 1; i < this.#subnets.length; i++) {
      const ip = this.#subnets[i].ip;
      if (this.#subnets.findIndex((s) => s.ip === ip) !== i) {
        throw new InterfaceError(
          "InvalidArgument",
          badArgument(where, `addresses[${i}].ip`, ipv4ToString(ip), "an address not listed before"),
        );
      }
    }
    this.primary = this.#subnets[0].ip;
    if (!Array.isArray(routes) || routes.length > MAX_ROUTES) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument(where, "routes", routes, `an array of at most ${MAX_ROUTES} { ip, prefix, via }`),
      );
    }
    this.#routes = routes.map((r, i) => {
      const { ip, prefix } = checkCidr(where, `routes[${i}]`, r);
      const via = (r as { via?: unknown }).via;
      if (!isU32(via) || this.onLink(via) === undefined) {
        throw new InterfaceError(
          "InvalidArgument",
          badArgument(
            where,
            `routes[${i}].via`,
            isU32(via) ? ipv4ToString(via) : via,
            "an address on one of our subnets",
          ),
        );
      }
      return { ip, prefix, mask: maskOf(prefix), via };
    }).sort((a, b) => b.prefix - a.prefix); // longest prefix first: the first match wins
    if (
      gateway !== undefined && (!isU32(gateway) || this.onLink(gateway) === undefined || this.isOurs(gateway))
    ) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument(
          where,
          "gateway",
          isU32(gateway) ? ipv4ToString(gateway) : gateway,
          "another host's address on one of our subnets",
        ),
      );
    }
    this.#gateway = gateway === undefined ? -1 : gateway;
  }

  /** Our addresses, as configured. */
  get addresses(): Ipv4Cidr[] {
    return this.#subnets.map((s) => ({ ip: s.ip, prefix: s.prefix }));
  }

  /** True when `ip` is one of our addresses. */
  isOurs(ip: number): boolean {
    const s = this.#subnets;
    for (let k = 0; k < s.length; k++) if (s[k].ip === ip) return true;
    return false;
  }

  /** Our address on the subnet that holds `ip`, or undefined when `ip` is not on-link. */
  onLink(ip: number): number | undefined {
    const s = this.#subnets;
    for (let k = 0; k < s.length; k++) if (inNet(ip, s[k].ip, s[k].mask)) return s[k].ip;
    return undefined;
  }

  /** The neighbour `dst` is reached through: itself on-link, else a route's, else the gateway; -1: none. */
  nextHop(dst: number): number {
    if (this.onLink(dst) !== undefined) return dst;
    const r = this.#routes;
    for (let k = 0; k < r.length; k++) if (inNet(dst, r[k].ip, r[k].mask)) return r[k].via;
    return this.#gateway;
  }

  /** The source address for packets through the neighbour `hop`: ours on its subnet, else the first. */
  sourceFor(hop: number): number {
    return this.onLink(hop) ?? this.primary;
  }

  /**
   * True when `ip` is a broadcast address to us: the limited broadcast or a directed broadcast of
   * one of our subnets.
   */
  isBroadcast(ip: number): boolean {
    if (ip === 0xffffffff) return true;
    const s = this.#subnets;
    for (let k = 0; k < s.length; k++) if (s[k].broadcast === ip) return true;
    return false;
  }

  /**
   * True when `ip` may be the source of a datagram a host accepts and answers (RFC 1122 3.2.1.3):
   * not unspecified or "this network" (0/8), loopback (127/8), multicast (224/4), reserved or the
   * limited broadcast (240/4), a broadcast of our subnets, or one of our own addresses.
   */
  isUnicastPeer(ip: number): boolean {
    const top = ip >>> 24;
    if (top === 0 || top === 127 || top >= 224) return false;
    return !this.isBroadcast(ip) && !this.isOurs(ip);
  }
}
