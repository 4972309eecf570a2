/**
 * Write commands for the owner of the contracts (a timelock in production): register a service, add an
 * endpoint, set the attestor set (markets: ./market.ts). Each validates its input off-chain first, sends
 * one transaction signed with `VIGIL_ADMIN_KEY` (or `--keystore`), waits for it, and prints the ids the
 * contract assigned (from its events). A revert is reported by its custom error name and arguments.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { addressOption, bytes32Option, intOption } from "../shared/cli";
import { VigilError } from "../shared/errors";
import { EndpointKind, parseEndpointKind } from "../shared/health";
import type { CliIo } from "./io";
// ethers (and the feed prober) load when a command checks its input, not for `vigil --help`.
import { getAddress, parseCaip10, ZeroAddress } from "./lazy";
import { collect, print, send, withContext, withWriteOptions, type WriteOptions } from "./write";

// `register-market` and `deploy-example-market` live in ./market.ts.
export { registerMarketCommand } from "./market";

/**
 * Check an attestor set off-chain with the oracle's rule: 1..255 distinct non-zero addresses,
 * `f = floor((n − 1) / 3)` tolerated faults (so `n ≥ 3f + 1`), and `minQuorum(n) ≤ quorum ≤ n`: at
 * least `2f + 1` and a strict majority of the set (`quorum > n / 2`).
 * @returns the addresses sorted ascending (as the contract requires), checksummed.
 * @throws VIGIL_CONFIG naming the problem and the valid quorum range.
 */
export function checkAttestorSet(addresses: readonly string[], quorum: number): string[] {
  const n = addresses.length;
  if (n === 0 || n > 255) {
    throw new VigilError("VIGIL_CONFIG", `${n} attestors given`, "give 1 to 255 addresses with --attestor");
  }
  const parsed = addresses.map((a) => {
    try {
      return getAddress(a.trim());
    } catch {
      throw new VigilError("VIGIL_CONFIG", `"${a}" is not an address`, "expected 0x + 40 hex digits");
    }
  });
  const sorted = [...parsed].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] === ZeroAddress)
      throw new VigilError("VIGIL_CONFIG", "the zero address cannot be an attestor");
    if (i > 0 && sorted[i] === sorted[i - 1]) {
      throw new VigilError("VIGIL_CONFIG", `attestor ${sorted[i]} is listed twice`, "each attestor once");
    }
  }
  const f = Math.floor((n - 1) / 3);
  const min = minQuorum(n);
  if (!Number.isInteger(quorum) || quorum < min || quorum > n) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `quorum ${quorum} is invalid for ${n} attestors: they tolerate f = ${f} faulty (n ≥ 3f+1) and a quorum must be ` +
        `at least 2f+1 = ${2 * f + 1} and a strict majority (> ${n / 2}), so it must be from ${min} to n = ${n}`,
      `use --quorum ${min}${n > min ? `..${n}` : ""}`,
    );
  }
  return sorted;
}

/**
 * The smallest valid quorum for n attestors: `max(2·floor((n−1)/3)+1, floor(n/2)+1)`, the PBFT bound
 * `2f+1` and a strict majority (THREATS #8), as `HealthOracle.setAttestors` requires.
 */
export function minQuorum(n: number): number {
  return Math.max(2 * Math.floor((n - 1) / 3) + 1, Math.floor(n / 2) + 1);
}

/** Validate an endpoint URI for its kind: a URL for JSON-RPC/WebSocket/HTTP, CAIP-10 for feeds. */
export function checkEndpointUri(kind: EndpointKind, uri: string): void {
  if (kind === EndpointKind.ORACLE_FEED || kind === EndpointKind.SEQUENCER_FEED) {
    if (!parseCaip10(uri)) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `--uri "${uri}" is not a feed id`,
        "expected eip155:<chainId>:<0x address>",
      );
    }
    return;
  }
  const scheme = kind === EndpointKind.WEBSOCKET ? /^wss?:$/ : /^https?:$/;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new VigilError("VIGIL_CONFIG", `--uri "${uri}" is not a URL`);
  }
  if (!scheme.test(url.protocol)) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `--uri scheme ${url.protocol} does not fit kind ${EndpointKind[kind]}`,
      kind === EndpointKind.WEBSOCKET ? "use ws:// or wss://" : "use http:// or https://",
    );
  }
  if (Buffer.byteLength(uri) > 256) throw new VigilError("VIGIL_CONFIG", "--uri is longer than 256 bytes");
}

function kindOption(value: string): EndpointKind {
  const k = parseEndpointKind(value);
  if (k === undefined) {
    throw new InvalidArgumentError("expected json-rpc, oracle-feed, sequencer-feed or http");
  }
  return k;
}

/**
 * Refuse endpoint kinds no attestor probes. A WebSocket endpoint would never be reported, so it would stay
 * UNKNOWN forever (and a market depending on its service would stay paused): the node's HTTP(S) JSON-RPC URL
 * is what attestors probe.
 * @throws VIGIL_CONFIG naming `--kind` for WEBSOCKET.
 */
export function refuseUnprobedKind(kind: EndpointKind): void {
  if (kind === EndpointKind.WEBSOCKET) {
    throw new VigilError(
      "VIGIL_CONFIG",
      "--kind websocket is not supported: no attestor probes WebSocket endpoints, so the endpoint would stay UNKNOWN forever",
      "add the node's http(s) JSON-RPC URL with --kind json-rpc instead",
    );
  }
}

export function registerServiceCommand(io: CliIo): Command {
  const cmd = new Command("register-service").description(
    "Register a service in the EndpointRegistry; the signer becomes its owner. Prints the service id.",
  );
  withWriteOptions(cmd)
    .requiredOption("--name <name>", "service name, unique per owner, e.g. eth-mainnet-rpc (required)")
    .addOption(
      new Option(
        "--cooldown <seconds>",
        "minimum seconds from a migration to the next failback (a failover is never delayed)",
      )
        .argParser(intOption(0, 2 ** 32 - 1))
        .default(60),
    )
    .addOption(
      new Option(
        "--recovery-period <seconds>",
        "seconds a better-priority endpoint must be HEALTHY before failback to it; 0 disables failback",
      )
        .argParser(intOption(0, 2 ** 32 - 1))
        .default(300),
    )
    .action(async (o: WriteOptions & { name: string; cooldown: number; recoveryPeriod: number }) => {
      if (!o.name.trim()) throw new VigilError("VIGIL_CONFIG", "--name is empty");
      await withContext(o, io, async (ctx) => {
        const registry = ctx.registry().connect(await ctx.admin(o.keystore));
        const r = await send(
          "registerService",
          registry.interface,
          () => registry.registerService(o.name, { cooldown: o.cooldown, recoveryPeriod: o.recoveryPeriod }),
          o.confirmations,
        );
        const ev = r.events.find((e) => e.name === "ServiceRegistered");
        print(io, o.json, { serviceId: ev?.args.serviceId ?? "?", name: o.name, tx: r.hash, block: r.block });
      });
    });
  return cmd;
}

export function addEndpointCommand(io: CliIo): Command {
  const cmd = new Command("add-endpoint").description(
    "Add an endpoint to a service (service owner only). The first endpoint becomes active. Prints the endpoint id.",
  );
  withWriteOptions(cmd)
    .addOption(
      new Option("--service <id>", "service id, 0x + 64 hex (required)")
        .argParser(bytes32Option)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--kind <kind>",
        "json-rpc, oracle-feed, sequencer-feed or http (websocket is refused: no attestor probes it)",
      )
        .argParser(kindOption)
        .default(EndpointKind.JSON_RPC, "json-rpc"),
    )
    .requiredOption(
      "--uri <uri>",
      "URL (json-rpc, http) or eip155:<chainId>:<address> (feeds), at most 256 bytes (required)",
    )
    .addOption(
      new Option("--priority <n>", "priority, lower is preferred (RFC 2782), 0..65535")
        .argParser(intOption(0, 65_535))
        .default(0),
    )
    .action(
      async (o: WriteOptions & { service: string; kind: EndpointKind; uri: string; priority: number }) => {
        refuseUnprobedKind(o.kind);
        checkEndpointUri(o.kind, o.uri);
        await withContext(o, io, async (ctx) => {
          const registry = ctx.registry().connect(await ctx.admin(o.keystore));
          const r = await send(
            "addEndpoint",
            registry.interface,
            () => registry.addEndpoint(o.service, o.kind, o.uri, o.priority),
            o.confirmations,
          );
          const ev = r.events.find((e) => e.name === "EndpointAdded");
          print(io, o.json, {
            endpointId: ev?.args.endpointId ?? "?",
            serviceId: o.service,
            kind: EndpointKind[o.kind],
            priority: o.priority,
            tx: r.hash,
            block: r.block,
          });
        });
      },
    );
  return cmd;
}

export function setAttestorsCommand(io: CliIo): Command {
  const cmd = new Command("set-attestors").description(
    "Replace the HealthOracle's attestor set (owner only). Sorts the addresses and checks the quorum (n ≥ 3f+1, 2f+1 ≤ quorum ≤ n, quorum > n/2) first. " +
      "Signatures under the old set stop counting.",
  );
  withWriteOptions(cmd)
    .addOption(
      new Option("--attestor <address...>", "attestor addresses, any order, 1..255 (required)")
        .argParser(collect(addressOption))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--quorum <n>",
        "signatures required per round (default: the minimum valid, max(2f+1, floor(n/2)+1))",
      ).argParser(intOption(1, 255)),
    )
    .action(async (o: WriteOptions & { attestor: string[]; quorum?: number }) => {
      const quorum = o.quorum ?? minQuorum(o.attestor.length);
      const sorted = checkAttestorSet(o.attestor, quorum);
      await withContext(o, io, async (ctx) => {
        const oracle = ctx.oracle().connect(await ctx.admin(o.keystore));
        const r = await send(
          "setAttestors",
          oracle.interface,
          () => oracle.setAttestors(sorted, quorum),
          o.confirmations,
        );
        const ev = r.events.find((e) => e.name === "AttestorSetChanged");
        print(io, o.json, {
          configDigest: ev?.args.configDigest ?? "?",
          version: ev ? String(ev.args.version) : "?",
          attestors: sorted,
          quorum,
          tx: r.hash,
          block: r.block,
        });
      });
    });
  return cmd;
}
