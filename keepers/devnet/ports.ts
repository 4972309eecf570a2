/** The devnet's ports: from the flags, `0` = a free one, every one checked free before anything starts. */
import { freePort, portIsFree } from "../../scripts/drill/nodes";
import { VigilError } from "../shared/errors";
import type { DevnetPorts } from "./params";

/** Port flags of `vigil devnet` (each 0..65535; 0 picks a free port). */
export interface PortFlags {
  /** Control chain. */
  port: number;
  /** First demo node; the others take the next two ports. */
  nodePort: number;
  /** First attestor; the others take the next two ports. */
  attestorPort: number;
  responderPort: number;
  dashboardPort: number;
}

/**
 * Resolve every port and check it is free on 127.0.0.1.
 * @throws VIGIL_CONFIG naming the flag of a port in use, outside 1..65535, or given twice.
 */
export async function resolvePorts(f: PortFlags): Promise<DevnetPorts> {
  const taken = new Set<number>();
  const pick = async (p: number): Promise<number> => {
    if (p !== 0) return p;
    for (;;) {
      const free = await freePort();
      if (!taken.has(free)) return free;
    }
  };
  const wanted: { flag: string; port: number }[] = [];
  const one = async (flag: string, p: number) => {
    const port = await pick(p);
    wanted.push({ flag, port });
    taken.add(port);
    return port;
  };
  const three = async (flag: string, p: number) => [
    await one(flag, p),
    await one(flag, p === 0 ? 0 : p + 1),
    await one(flag, p === 0 ? 0 : p + 2),
  ];
  const ports: DevnetPorts = {
    chain: await one("--port", f.port),
    nodes: await three("--node-port", f.nodePort),
    attestors: await three("--attestor-port", f.attestorPort),
    responder: await one("--responder-port", f.responderPort),
    dashboard: await one("--dashboard-port", f.dashboardPort),
  };
  const seen = new Map<number, string>();
  for (const { flag, port } of wanted) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `${flag} gives port ${port}`,
        "use 1..65535, or 0 for a free port",
      );
    }
    const other = seen.get(port);
    if (other) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `port ${port} is given to both ${other} and ${flag}`,
        "give each a different port (the node and attestor flags take three in a row)",
      );
    }
    seen.set(port, flag);
  }
  for (const { flag, port } of wanted) {
    if (!(await portIsFree(port))) {
      throw new VigilError(
        "VIGIL_CONFIG",
        `port ${port} (${flag}) is already in use on 127.0.0.1`,
        `stop what listens there (another \`vigil devnet\`, \`npx hardhat node\`, anvil?), or pass ${flag} <port> (0 picks a free one)`,
      );
    }
  }
  return ports;
}
