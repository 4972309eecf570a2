/**
 * Faults on the devnet's demo nodes, for trying a failover by hand: `vigil devnet fault <node> --kind
 * stop|halt|resume`. Works from any terminal: it reads the running devnet's `devnet.json` and acts on
 * the node process directly (signals), or, for a halt, asks the devnet's replica driver to stop mining
 * the node (`halted.json`, read before every block), as the drill does.
 */
import fs from "node:fs";
import { JsonRpcProvider } from "ethers";
import { IEndpointRegistry__factory } from "../../typechain-types";
import { rpc } from "../../scripts/drill/nodes";
import { VigilError } from "../shared/errors";
import { readHalts, writeHalts, type DevnetNode, type DevnetState } from "./state";

/**
 * - `stop`: SIGSTOP the node: its socket stays open, it answers nothing (a hung node; the hardest case).
 * - `halt`: the node answers but mines no more blocks (a stalled head).
 * - `resume`: undo either: SIGCONT, mining on again; the driver replays the blocks it missed (same
 *   timestamps, same hashes as its peers), and this waits until it has caught up.
 */
export { FAULT_KINDS, type FaultKind } from "./constants";
import type { FaultKind } from "./constants";

/**
 * The node `target` names: `active` (the service's active endpoint, read from the registry), a name
 * (`primary`, `backup-1`, `backup-2`), a number 1–3 in priority order, a URL or a port, or an endpoint id.
 * @throws VIGIL_CONFIG listing the valid names when nothing matches.
 */
export async function resolveNode(state: DevnetState, target: string): Promise<DevnetNode> {
  const t = target.trim().toLowerCase();
  if (t === "active") {
    const provider = new JsonRpcProvider(state.chain.url, state.chain.chainId, { staticNetwork: true });
    try {
      const registry = IEndpointRegistry__factory.connect(state.contracts.registry, provider);
      const id = (await registry.activeEndpointId(state.contracts.serviceId)).toLowerCase();
      const node = state.nodes.find((n) => n.endpointId.toLowerCase() === id);
      if (!node) throw new VigilError("VIGIL_CHAIN", `the active endpoint ${id} is none of the demo nodes`);
      return node;
    } finally {
      provider.destroy();
    }
  }
  const node = state.nodes.find(
    (n, i) =>
      n.name === t ||
      String(i + 1) === t ||
      String(n.port) === t ||
      n.url === t.replace(/\/$/, "") ||
      n.endpointId.toLowerCase() === t,
  );
  if (!node) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `no demo node "${target}"`,
      `name one of: active, ${state.nodes.map((n, i) => `${n.name} (${i + 1}, ${n.url})`).join(", ")}`,
    );
  }
  return node;
}

/**
 * Check that `pid` is still the anvil serving `port` (a pid is reused once its process is gone), so a
 * signal never reaches an unrelated process. Linux reads /proc; elsewhere only liveness is checked.
 * @throws VIGIL_CONFIG when it is not.
 */
export function checkNodePid(node: DevnetNode): void {
  const procFile = `/proc/${node.pid}/cmdline`;
  if (!fs.existsSync("/proc/self")) return;
  const args = fs.existsSync(procFile) ? fs.readFileSync(procFile, "utf8").split("\0") : [];
  const portAt = args.indexOf("--port");
  if (!args.some((a) => a.endsWith("anvil")) || portAt < 0 || args[portAt + 1] !== String(node.port)) {
    throw new VigilError(
      "VIGIL_CONFIG",
      `process ${node.pid} is no longer the ${node.name} node on port ${node.port}`,
      "the devnet has stopped or restarted: start it again with `vigil devnet`",
    );
  }
}

/**
 * Inject or undo a fault on one demo node. @returns one line saying what was done.
 * @throws VIGIL_CONFIG for an unknown node or a stale pid; transport errors of the node's RPC pass through.
 */
export async function applyFault(state: DevnetState, node: DevnetNode, kind: FaultKind): Promise<string> {
  checkNodePid(node);
  switch (kind) {
    case "stop":
      process.kill(node.pid, "SIGSTOP");
      return `${node.name} (${node.url}, pid ${node.pid}) stopped: it keeps its socket and answers nothing`;
    case "halt": {
      writeHalts(state.dir, [...readHalts(state.dir), node.name]);
      await waitHeadStill(node, state.nodes);
      return `${node.name} (${node.url}) answers but mines no more blocks`;
    }
    case "resume": {
      process.kill(node.pid, "SIGCONT");
      writeHalts(
        state.dir,
        readHalts(state.dir).filter((n) => n !== node.name),
      );
      await waitAnswering(node.url);
      await waitCaughtUp(node, state.nodes);
      return `${node.name} (${node.url}) resumed: answering, mining, caught up with its peers`;
    }
  }
}

const head = async (url: string) => Number(BigInt(await rpc<string>(url, "eth_blockNumber", [], 1000)));

/** Highest head among the other nodes that answer (-1 when none does). */
async function peersHead(node: DevnetNode, nodes: DevnetNode[]): Promise<number> {
  const heads = await Promise.all(
    nodes.filter((n) => n.url !== node.url).map((n) => head(n.url).catch(() => -1)),
  );
  return Math.max(-1, ...heads);
}

/** Wait until a peer is ahead of `node` (the driver has read the halt request); at most 3 block times. */
async function waitHeadStill(node: DevnetNode, nodes: DevnetNode[]): Promise<void> {
  const deadline = Date.now() + 3 * node.blockTimeSec * 1000 + 2000;
  while (Date.now() < deadline) {
    try {
      if ((await peersHead(node, nodes)) > (await head(node.url))) return;
    } catch {
      // a hung node does not answer: it mines nothing either way
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Wait until `node`'s head reaches its peers' (the driver replays what it missed). */
async function waitCaughtUp(node: DevnetNode, nodes: DevnetNode[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [mine, peers] = await Promise.all([head(node.url).catch(() => -1), peersHead(node, nodes)]);
    if (mine >= peers) return;
    if (Date.now() > deadline)
      throw new VigilError(
        "VIGIL_CHAIN",
        `${node.name} is at block ${mine}, its peers at ${peers}, ${timeoutMs / 1000} s after the resume`,
        "is `vigil devnet` still running? its replica driver mines the nodes",
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitAnswering(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rpc(url, "eth_blockNumber", [], 1000);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
