/**
 * Which endpoint URIs the attestor may probe. The EndpointRegistry is permissionless: anyone can
 * register a URI, and an attestor that probed any of them would make requests for an attacker
 * (SSRF) — the cloud metadata service at `http://169.254.169.254/`, an admin port on loopback, a
 * host on the operator's private network — and publish what it saw. So a URI whose host is a
 * loopback, private, link-local, unique-local, shared (CGNAT) or unspecified address, or
 * `localhost`, is refused unless the operator sets `allowPrivateTargets` (local drills and tests).
 *
 * The check is on the URI as written (WHATWG URL parsing normalises `http://2130706433/` and
 * `http://0x7f.1/` to `127.0.0.1`). Probes never follow redirects (HTTP probes read a 3xx as up,
 * JSON-RPC probes fail on one), so a public host cannot bounce the attestor to a private one.
 */
import { BlockList, isIP } from "node:net";

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network", incl. the unspecified 0.0.0.0
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // shared address space (CGNAT), RFC 6598
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, incl. cloud metadata 169.254.169.254
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, incl. broadcast 255.255.255.255
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

/**
 * True when `host` (a URL hostname, IPv6 with or without brackets) is `localhost` (or a name under
 * `.localhost`, RFC 6761) or an IP address in a non-public range. IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`) are judged as the IPv4 address they carry. Other names are not resolved.
 */
export function isPrivateHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const family = isIP(h);
  if (family === 4) return PRIVATE.check(h, "ipv4");
  if (family === 6) return PRIVATE.check(h, "ipv6");
  return false;
}

/** Why a URI must not be probed: `private_target`, `invalid_uri`; undefined when it may be. */
export type TargetRefusal = "private_target" | "invalid_uri";

/**
 * Decide whether the attestor may probe `uri` (an http(s) or ws(s) URL from the registry).
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
