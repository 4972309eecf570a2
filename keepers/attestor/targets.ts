/**
 * Which endpoint URIs and addresses the attestor may probe. The EndpointRegistry is permissionless: anyone
 * can register a URI, and an attestor that probed any of them would make requests for an attacker (SSRF) —
 * the cloud metadata service at `http://169.254.169.254/`, an admin port on loopback, a host on the
 * operator's private network — and publish what it saw. So a target is refused unless the operator sets
 * `allowPrivateTargets` (local drills and tests) when its host is `localhost`, or an address (written in
 * the URI, or ANY address its name resolves to) that is loopback, private, link-local, unique-local,
 * shared (CGNAT), unspecified, multicast, reserved or for documentation — or an IPv6 address carrying
 * such an IPv4 address (IPv4-mapped, NAT64, 6to4).
 *
 * This file judges names and addresses; resolve.ts resolves a name, judges every address it gets, and
 * pins the sockets to the checked addresses (no second lookup: DNS rebinding). WHATWG URL parsing
 * normalises `http://2130706433/` and `http://0x7f.1/` to `127.0.0.1`. Probes never follow redirects
 * (HTTP probes read a 3xx as up, JSON-RPC probes fail on one), so a public host cannot bounce the
 * attestor to a private one.
 */
import { BlockList, isIP } from "node:net";
import { EndpointKind } from "../shared/health";

/** Endpoint kinds whose URI is a URL the attestor connects to (checked by {@link refuseTarget}). */
export const URL_KINDS: ReadonlySet<EndpointKind> = new Set([
  EndpointKind.JSON_RPC,
  EndpointKind.WEBSOCKET,
  EndpointKind.HTTP,
]);

/** IPv4 ranges that are not globally reachable (IANA special-purpose registry). */
const PRIVATE_V4 = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network", incl. the unspecified 0.0.0.0
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // shared address space (CGNAT), RFC 6598
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, incl. cloud metadata 169.254.169.254
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation (TEST-NET-1)
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation (TEST-NET-2)
  ["203.0.113.0", 24], // documentation (TEST-NET-3)
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, incl. broadcast 255.255.255.255
] as const) {
  PRIVATE_V4.addSubnet(net, prefix, "ipv4");
}

/** IPv6 ranges that are not globally reachable; embedded IPv4 forms are judged by {@link embeddedV4}. */
const PRIVATE_V6 = new BlockList();
for (const [net, prefix] of [
  ["::", 96], // unspecified ::, loopback ::1, deprecated IPv4-compatible ::a.b.c.d
  ["::ffff:0:0:0", 96], // IPv4-translated (SIIT)
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard-only
  ["2001::", 23], // IETF protocol assignments, incl. Teredo 2001::/32 and benchmarking
  ["2001:db8::", 32], // documentation
  ["3fff::", 20], // documentation (RFC 9637)
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  PRIVATE_V6.addSubnet(net, prefix, "ipv6");
}

/** The eight 16-bit groups of a valid IPv6 address (`isIP(a) === 6`, no zone). */
function hextets(a: string): number[] {
  let s = a;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const b = dotted[2].split(".").map(Number);
    s = `${dotted[1]}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16));
}

/**
 * The IPv4 address an IPv6 address carries and reaches: IPv4-mapped `::ffff:a.b.c.d`, NAT64
 * `64:ff9b::a.b.c.d` (RFC 6052) and 6to4 `2002:AABB:CCDD::/48` (RFC 3056). Undefined otherwise.
 */
function embeddedV4(a: string): string | undefined {
  const g = hextets(a);
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(5) && g[5] === 0xffff) return quad(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return quad(g[6], g[7]);
  if (g[0] === 0x2002) return quad(g[1], g[2]);
  return undefined;
}

/**
 * True when `address` (an IP address as a resolver returns it: IPv4, or IPv6 with or without brackets
 * and zone) is not a public unicast address: loopback, private, link-local, unique-local, CGNAT,
 * unspecified, multicast, reserved, documentation, or an IPv6 form of such an IPv4 address. Anything
 * that is not an IP address is true too: what cannot be judged is not connected to.
 */
export function isPrivateAddress(address: string): boolean {
  const a = address
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  const family = isIP(a);
  if (family === 4) return PRIVATE_V4.check(a, "ipv4");
  if (family !== 6) return true;
  const v4 = embeddedV4(a);
  if (v4 !== undefined) return PRIVATE_V4.check(v4, "ipv4");
  return PRIVATE_V6.check(a, "ipv6");
}

/**
 * True when `host` (a URL hostname, IPv6 with or without brackets) is `localhost` (or a name under
 * `.localhost`, RFC 6761) or an IP address that {@link isPrivateAddress} refuses. Other names are not
 * resolved here: resolve.ts judges the addresses they resolve to.
 */
export function isPrivateHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  return isIP(h) !== 0 && isPrivateAddress(h);
}

/** Why a URI must not be probed: `private_target`, `invalid_uri`; undefined when it may be. */
export type TargetRefusal = "private_target" | "invalid_uri";

/**
 * Decide, from the URI as written, whether the attestor may probe `uri` (an http(s) or ws(s) URL from the
 * registry). A name that passes is still resolved and judged by address before any connection (resolve.ts).
 * @param allowPrivate The `allowPrivateTargets` setting.
 */
export function refuseTarget(uri: string, allowPrivate: boolean): TargetRefusal | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "invalid_uri";
  }
  if (!/^(https?|wss?):$/.test(url.protocol) || !url.hostname) return "invalid_uri";
  if (!allowPrivate && isPrivateHost(url.hostname)) return "private_target";
  return undefined;
}
