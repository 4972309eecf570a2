/**
 * Write commands for the owner of the contracts (a timelock in production): register a service, add an
 * endpoint, register a market, set the attestor set. Each validates its input off-chain first, sends
 * one transaction signed with `VIGIL_ADMIN_KEY` (or `--keystore`), waits for it, and prints the ids the
 * contract assigned (from its events). A revert is reported by its custom error name and arguments.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { getAddress, ZeroAddress, type ContractTransactionResponse, type Interface } from "ethers";
import {
  addressOption,
  bytes32Option,
  intOption,
  withCommonOptions,
  type CommonOptions,
} from "../shared/cli";
import { VigilError } from "../shared/errors";
import { EndpointKind, MAX_BPS, parseEndpointKind } from "../shared/health";
import { parseCaip10 } from "../attestor/probes/oracleFeed";
import { openContext, txError, type CliContext } from "./context";
import type { CliIo } from "./io";

interface WriteOptions extends CommonOptions {
  keystore?: string;
  confirmations: number;
  json?: boolean;
}

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
    throw new InvalidArgumentError("expected json-rpc, websocket, oracle-feed, sequencer-feed or http");
  }
  return k;
}

function withWriteOptions(cmd: Command, guard = false): Command {
  return withCommonOptions(cmd, { guard })
    .option(
      "--keystore <file>",
      "encrypted JSON keystore of the admin key, used when $VIGIL_ADMIN_KEY is unset; password in $VIGIL_KEYSTORE_PASSWORD (default: none)",
    )
    .addOption(
      new Option("--confirmations <n>", "blocks to wait for after inclusion")
        .argParser(intOption(1, 64))
        .default(1),
    )
    .option("--json", "print the result as JSON (default: text)");
}

/** Send, wait, and return the parsed logs of `iface`; reverts become VIGIL_TX errors. */
async function send(
  what: string,
  iface: Interface,
  tx: () => Promise<ContractTransactionResponse>,
  confirmations: number,
) {
  let response: ContractTransactionResponse;
  try {
    response = await tx();
  } catch (e) {
    throw txError(e, what);
  }
  const receipt = await response.wait(confirmations).catch((e) => {
    throw txError(e, what);
  });
  if (!receipt || receipt.status !== 1)
    throw new VigilError("VIGIL_TX", `${what} failed in block`, `tx ${response.hash}`);
  const events = receipt.logs.flatMap((l) => {
    try {
      const p = iface.parseLog(l);
      return p ? [p] : [];
    } catch {
      return [];
    }
  });
  return { hash: receipt.hash, block: receipt.blockNumber, events };
}

async function withContext<T>(
  opts: CommonOptions,
  io: CliIo,
  fn: (ctx: CliContext) => Promise<T>,
): Promise<T> {
  const ctx = await openContext(opts, io.env);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

function print(io: CliIo, json: boolean | undefined, result: Record<string, unknown>): void {
  if (json) io.out(JSON.stringify(result, null, 2) + "\n");
  else
    io.out(
      Object.entries(result)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`)
        .join("\n") + "\n",
    );
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
      new Option("--kind <kind>", "json-rpc, websocket, oracle-feed, sequencer-feed or http")
        .argParser(kindOption)
        .default(EndpointKind.JSON_RPC, "json-rpc"),
    )
    .requiredOption(
      "--uri <uri>",
      "URL (json-rpc, websocket, http) or eip155:<chainId>:<address> (feeds), at most 256 bytes (required)",
    )
    .addOption(
      new Option("--priority <n>", "priority, lower is preferred (RFC 2782), 0..65535")
        .argParser(intOption(0, 65_535))
        .default(0),
    )
    .action(
      async (o: WriteOptions & { service: string; kind: EndpointKind; uri: string; priority: number }) => {
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

export function registerMarketCommand(io: CliIo): Command {
  const cmd = new Command("register-market").description(
    "Register a market with the MarketGuard (owner only): its dependencies, pause threshold and grace period. Prints the market id.",
  );
  withWriteOptions(cmd, true)
    .addOption(
      new Option("--market <address>", "the IGuardedMarket contract (required)")
        .argParser(addressOption)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--guardian <address>", "may pause at any time (default: none)").argParser(addressOption),
    )
    .addOption(
      new Option(
        "--threshold <bps>",
        "an endpoint counts as usable when HEALTHY or DEGRADED with health at or above this, basis points 1..10000",
      )
        .argParser(intOption(1, MAX_BPS))
        .default(5_000),
    )
    .addOption(
      new Option("--grace <seconds>", "seconds every dependency must be HEALTHY before resume")
        .argParser(intOption(0, 2 ** 32 - 1))
        .default(300),
    )
    .addOption(
      new Option("--service <id...>", "service id(s) the market depends on (default: none)").argParser(
        collect(bytes32Option),
      ),
    )
    .addOption(
      new Option(
        "--endpoint <id...>",
        "single endpoint id(s) the market depends on (default: none)",
      ).argParser(collect(bytes32Option)),
    )
    .action(
      async (
        o: WriteOptions & {
          market: string;
          guardian?: string;
          threshold: number;
          grace: number;
          service?: string[];
          endpoint?: string[];
        },
      ) => {
        const services = o.service ?? [];
        const endpoints = o.endpoint ?? [];
        if (!services.length && !endpoints.length) {
          throw new VigilError(
            "VIGIL_CONFIG",
            "a market needs at least one dependency",
            "give --service or --endpoint",
          );
        }
        await withContext(o, io, async (ctx) => {
          const guard = ctx.guard().connect(await ctx.admin(o.keystore));
          const r = await send(
            "registerMarket",
            guard.interface,
            () =>
              guard.registerMarket({
                market: o.market,
                guardian: o.guardian ?? ZeroAddress,
                pauseThresholdBps: o.threshold,
                gracePeriod: o.grace,
                services,
                endpoints,
              }),
            o.confirmations,
          );
          const ev = r.events.find((e) => e.name === "MarketRegistered");
          print(io, o.json, {
            marketId: ev ? String(ev.args.marketId) : "?",
            market: o.market,
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

/** Variadic option parser that validates each value and collects them. */
function collect<T>(parse: (v: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}
