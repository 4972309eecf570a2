/**
 * Start-up checks every keeper runs before its loops: each configured RPC answers with the configured chain id,
 * and each configured address holds the expected Vigil contract (code present, its views answer, and the
 * contracts point at each other as configured). A mistake stops the process at once with a `VigilError` that names
 * the setting (`chain.rpcUrls`, `chain.chainId`, `contracts.oracle`, …) and says what was found instead, so an
 * operator never sees a raw stack trace nor a keeper that starts and logs "could not decode result data" forever.
 * Every call has its own deadline; URLs are shown as their origin only (API keys live in paths and queries).
 */
import { getAddress, Interface } from "ethers";
import {
  IEndpointRegistry__factory,
  IHealthOracle__factory,
  IMarketGuard__factory,
} from "../../typechain-types";
import { VigilError } from "./errors";
import { redactUrls } from "./redact";

/** The settings the checks read (the shared config shape's `chain` and `contracts`). */
export interface PreflightSettings {
  chain: { rpcUrls: readonly string[]; chainId: number };
  contracts: { oracle: string; registry: string; guard?: string };
}

export interface PreflightOptions {
  /** Deadline of each JSON-RPC call, ms. Default 5000. */
  timeoutMs?: number;
  /** Check `contracts.guard` when it is set. Default true. */
  guard?: boolean;
  /** Injected for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

/** What the checks read, for the keeper's start-up log line. */
export interface PreflightResult {
  chainId: number;
  /** How many RPC URLs answered (all of them, or the checks threw). */
  rpcs: number;
  oracle: { configDigest: string; quorum: number; attestors: number; roundSeconds: number };
  /** Present when `contracts.guard` was checked. */
  guard?: { marketCallGas: bigint };
}

type ContractKey = "oracle" | "registry" | "guard";
const ORACLE = IHealthOracle__factory.createInterface();
const REGISTRY = IEndpointRegistry__factory.createInterface();
const GUARD = IMarketGuard__factory.createInterface();
const ERC20 = new Interface([
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
]);
const NAMES: Record<ContractKey, string> = {
  oracle: "HealthOracle",
  registry: "EndpointRegistry",
  guard: "MarketGuard",
};

/** One JSON-RPC endpoint with a per-call deadline. */
class Rpc {
  private _id = 0;
  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** The URL as logs may show it: its origin. */
  get shown(): string {
    return redactUrls(this.url);
  }

  /** @throws Error with a redacted message on transport failure, timeout, non-2xx, bad JSON or a JSON-RPC error. */
  async send<T>(method: string, params: unknown[]): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++this._id, method, params }),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: "error",
      });
    } catch (e) {
      const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      if (err?.name === "TimeoutError" || err?.name === "AbortError")
        throw new Error(`no answer within ${this.timeoutMs} ms`);
      throw new Error(redactUrls(err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e)));
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    let body: { result?: T; error?: { message?: string; data?: unknown } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error("the answer is not JSON-RPC");
    }
    if (body.error) {
      const e = new Error(redactUrls(body.error.message ?? "JSON-RPC error")) as Error & {
        rpcError?: unknown;
      };
      e.rpcError = body.error;
      throw e;
    }
    if (!("result" in body)) throw new Error("the answer is not JSON-RPC");
    return body.result as T;
  }

  /** `eth_call` of `fn` on `iface` at `to`, decoded. @throws when it reverts, is empty or does not decode. */
  async view(iface: Interface, to: string, fn: string): Promise<import("ethers").Result> {
    const data = await this.send<string>("eth_call", [
      { to, data: iface.encodeFunctionData(fn, []) },
      "latest",
    ]);
    return iface.decodeFunctionResult(fn, data);
  }
}

const short = (e: unknown) => ((e as Error)?.message ?? String(e)).split("\n")[0].slice(0, 160);

/**
 * Check the RPCs and the contracts. Who may call: every keeper, first thing at start-up (the attestor without the
 * guard). Bounded: every call has the deadline `timeoutMs`; the RPCs are checked in parallel.
 * @returns what was read (chain id, the oracle's digest and quorum, …) for the start-up log line.
 * @throws VigilError VIGIL_CHAIN naming `chain.rpcUrls[i]` (and its origin) when an RPC does not answer, and
 * `chain.chainId` when it serves another chain; VIGIL_CONFIG naming `contracts.<name>` when an address holds no
 * code, another contract (said which, when recognised: another Vigil contract, an ERC-20 token), or a contract
 * wired to another oracle or registry than the configured one.
 */
export async function preflight(
  settings: PreflightSettings,
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const rpcs = settings.chain.rpcUrls.map((u) => new Rpc(u, timeoutMs, options.fetch ?? fetch));
  await Promise.all(rpcs.map((rpc, i) => checkChain(rpc, i, settings.chain.chainId)));
  const rpc = rpcs[0];
  const chainId = settings.chain.chainId;
  const c = settings.contracts;

  await requireCode(rpc, "oracle", c.oracle, chainId);
  const oracle = await expectInterface(rpc, "oracle", c.oracle, async () => {
    const [[configDigest], [roundSeconds], set] = await Promise.all([
      rpc.view(ORACLE, c.oracle, "configDigest"),
      rpc.view(ORACLE, c.oracle, "roundSeconds"),
      rpc.view(ORACLE, c.oracle, "attestorSet"),
    ]);
    return {
      configDigest: String(configDigest),
      roundSeconds: Number(roundSeconds),
      quorum: Number(set.quorum),
      attestors: (set.attestors as string[]).length,
    };
  });

  await requireCode(rpc, "registry", c.registry, chainId);
  const [registryOracle] = await expectInterface(rpc, "registry", c.registry, async () => {
    const [[o], [max]] = await Promise.all([
      rpc.view(REGISTRY, c.registry, "oracle"),
      rpc.view(REGISTRY, c.registry, "MAX_ENDPOINTS"),
    ]);
    return [String(o), Number(max)] as const;
  });
  requireLink("registry", c.registry, "oracle", registryOracle, c.oracle);

  let guard: PreflightResult["guard"];
  if (c.guard && options.guard !== false) {
    const at = c.guard;
    await requireCode(rpc, "guard", at, chainId);
    const read = await expectInterface(rpc, "guard", at, async () => {
      const [[gas], [o], [r]] = await Promise.all([
        rpc.view(GUARD, at, "marketCallGas"),
        rpc.view(GUARD, at, "oracle"),
        rpc.view(GUARD, at, "registry"),
      ]);
      return { marketCallGas: BigInt(gas), oracle: String(o), registry: String(r) };
    });
    requireLink("guard", at, "oracle", read.oracle, c.oracle);
    requireLink("guard", at, "registry", read.registry, c.registry);
    guard = { marketCallGas: read.marketCallGas };
  }
  return { chainId, rpcs: rpcs.length, oracle, guard };
}

async function checkChain(rpc: Rpc, index: number, chainId: number): Promise<void> {
  const setting = `chain.rpcUrls[${index}]`;
  let raw: string;
  try {
    raw = await rpc.send<string>("eth_chainId", []);
  } catch (e) {
    throw new VigilError(
      "VIGIL_CHAIN",
      `${setting} (${rpc.shown}) does not answer eth_chainId: ${short(e)}`,
      `start the node or fix ${setting}`,
    );
  }
  let actual: number;
  try {
    actual = Number(BigInt(raw));
  } catch {
    throw new VigilError(
      "VIGIL_CHAIN",
      `${setting} (${rpc.shown}) answered eth_chainId with ${JSON.stringify(raw).slice(0, 40)}`,
      `point ${setting} at a JSON-RPC node of the control chain`,
    );
  }
  if (actual !== chainId)
    throw new VigilError(
      "VIGIL_CHAIN",
      `${setting} (${rpc.shown}) serves chain ${actual}, but chain.chainId is ${chainId}`,
      "fix chain.chainId, or point chain.rpcUrls at the control chain",
    );
}

async function requireCode(rpc: Rpc, key: ContractKey, address: string, chainId: number): Promise<void> {
  let code: string;
  try {
    code = await rpc.send<string>("eth_getCode", [address, "latest"]);
  } catch (e) {
    throw new VigilError(
      "VIGIL_CHAIN",
      `cannot read the code at contracts.${key} (${address}) via chain.rpcUrls[0] (${rpc.shown}): ${short(e)}`,
      "check that the node is up and answers",
    );
  }
  if (!code || code === "0x")
    throw new VigilError(
      "VIGIL_CONFIG",
      `contracts.${key}: no contract at ${address} on chain ${chainId} (expected the ${NAMES[key]})`,
      `fix contracts.${key}, or deploy first (npm run deploy); a restarted dev chain has lost its contracts`,
    );
}

/** Run the interface reads of `key`; when they fail, say what the address holds instead. */
async function expectInterface<T>(
  rpc: Rpc,
  key: ContractKey,
  address: string,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (isTransport(e))
      throw new VigilError(
        "VIGIL_CHAIN",
        `cannot read contracts.${key} (${address}) via chain.rpcUrls[0] (${rpc.shown}): ${short(e)}`,
        "check that the node is up and answers",
      );
    const found = await identify(rpc, address, key);
    throw new VigilError(
      "VIGIL_CONFIG",
      `contracts.${key}: ${address} is not a ${NAMES[key]}: ${found}`,
      `fix contracts.${key} (the deploy prints every address)`,
    );
  }
}

function requireLink(
  key: ContractKey,
  at: string,
  view: "oracle" | "registry",
  actual: string,
  configured: string,
) {
  if (getAddress(actual) === getAddress(configured)) return;
  throw new VigilError(
    "VIGIL_CONFIG",
    `contracts.${key}: the ${NAMES[key]} at ${at} uses the ${NAMES[view]} at ${getAddress(actual)}, ` +
      `but contracts.${view} is ${getAddress(configured)}`,
    `fix contracts.${view} or contracts.${key}: they must come from one deployment`,
  );
}

/** A transport failure (the node), as opposed to an answer (a revert, empty data, a value that does not decode). */
function isTransport(e: unknown): boolean {
  const m = (e as Error)?.message ?? "";
  if ((e as { rpcError?: unknown }).rpcError !== undefined) return false;
  if ((e as { code?: string }).code === "BAD_DATA" || (e as { code?: string }).code === "CALL_EXCEPTION")
    return false;
  return /no answer within|HTTP \d|ECONN|not JSON-RPC|fetch failed|socket|EHOSTUNREACH|ENOTFOUND/i.test(m);
}

/** What `address` answers as, in words: another Vigil contract, an ERC-20 token, or only that its reads fail. */
async function identify(rpc: Rpc, address: string, expected: ContractKey): Promise<string> {
  const answers = async (f: () => Promise<unknown>) =>
    f().then(
      () => true,
      () => false,
    );
  const probes: Array<[ContractKey, () => Promise<unknown>]> = [
    [
      "oracle",
      () => rpc.view(ORACLE, address, "configDigest").then(() => rpc.view(ORACLE, address, "attestorSet")),
    ],
    ["registry", () => rpc.view(REGISTRY, address, "MAX_ENDPOINTS")],
    ["guard", () => rpc.view(GUARD, address, "marketCallGas")],
  ];
  for (const [key, probe] of probes) {
    if (key !== expected && (await answers(probe)))
      return `it answers as the ${NAMES[key]} (is it contracts.${key}?)`;
  }
  try {
    const [symbol] = await rpc.view(ERC20, address, "symbol");
    await rpc.view(ERC20, address, "decimals");
    return `it answers as an ERC-20 token (${JSON.stringify(String(symbol)).slice(0, 40)})`;
  } catch {
    return `its code does not answer the ${NAMES[expected]}'s views (another contract)`;
  }
}
