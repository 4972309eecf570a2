/**
 * Regenerate config/attestor.example.yaml and config/responder.example.yaml from a real deploy:
 *
 *   npx ts-node --transpile-only scripts/gen-example-configs.ts           # write them
 *   npx ts-node --transpile-only scripts/gen-example-configs.ts --check   # exit 1 if they differ
 *   … [--root <dir>]                         # the files under <dir>/config instead of the repository's
 *
 * Starts anvil on a free loopback port, deploys exactly what `vigil devnet` deploys (same Ignition
 * module, same parameters, same deployer), and renders the files with the devnet's writer
 * (keepers/devnet/configs.ts) for the default ports. So the addresses in the examples are the ones
 * `vigil devnet` prints on a fresh chain.
 */
import fs from "node:fs";
import path from "node:path";
import { ManagedNode, freePort } from "./drill/nodes";
import { deployDevnet } from "../keepers/devnet/deploy";
import {
  renderAttestorConfig,
  renderResponderConfig,
  type DevnetDeployment,
} from "../keepers/devnet/configs";
import { CONTROL_CHAIN_ID, defaultPorts, loopback } from "../keepers/devnet/params";

const ROOT = path.resolve(__dirname, "..");
const GENERATED =
  "# GENERATED from a real deploy by scripts/gen-example-configs.ts (the writer is keepers/devnet/configs.ts):\n" +
  "# the addresses are the ones `vigil devnet` deploys on a fresh chain. Regenerate, do not edit by hand.";

/** The example files (path relative to the repo root → text) for a deployment. */
export function renderExamples(deployment: DevnetDeployment): Record<string, string> {
  const ports = defaultPorts();
  return {
    "config/attestor.example.yaml": renderAttestorConfig(
      {
        deployment,
        ports,
        header:
          "# vigil attestor --config config/attestor.example.yaml\n" +
          GENERATED +
          "\n# Key: VIGIL_ATTESTOR_KEY (0x private key) or key.keystorePath + VIGIL_KEYSTORE_PASSWORD. Never here.",
      },
      1,
      { dataDir: "/var/lib/vigil/attestor", keyEnvVar: "VIGIL_ATTESTOR_KEY", profile: "production" },
    ),
    "config/responder.example.yaml": renderResponderConfig(
      {
        deployment,
        ports,
        header:
          "# vigil responder --config config/responder.example.yaml\n" +
          GENERATED +
          "\n# Key: VIGIL_RESPONDER_KEY (0x private key) or key.keystorePath + VIGIL_KEYSTORE_PASSWORD. Never here.",
      },
      { outboxPath: "./vigil-responder.sqlite", keyEnvVar: "VIGIL_RESPONDER_KEY", profile: "production" },
    ),
  };
}

/**
 * Deploy the devnet's contracts on a fresh anvil (stopped afterwards) and render the examples.
 * The endpoints registered are the default demo node URLs; no node needs to run there.
 */
export async function examplesFromFreshDeploy(): Promise<Record<string, string>> {
  const node = new ManagedNode({
    name: "control",
    impl: "anvil",
    port: await freePort(),
    chainId: CONTROL_CHAIN_ID,
    blockTimeSec: 1,
  });
  await node.start();
  try {
    const deployment = await deployDevnet(node.url, defaultPorts().nodes.map(loopback));
    return renderExamples(deployment);
  } finally {
    await node.stop();
  }
}

async function main(): Promise<number> {
  const check = process.argv.includes("--check");
  // --root <dir>: compare or write under another directory than the repository (tests).
  const at = process.argv.indexOf("--root");
  const root = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : ROOT;
  const files = await examplesFromFreshDeploy();
  let stale = 0;
  for (const [rel, text] of Object.entries(files)) {
    const abs = path.join(root, rel);
    const current = fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : "";
    if (current === text) {
      process.stdout.write(`${rel}: up to date\n`);
    } else if (check) {
      stale++;
      process.stdout.write(`${rel}: differs from a fresh deploy (run scripts/gen-example-configs.ts)\n`);
    } else {
      fs.writeFileSync(abs, text);
      process.stdout.write(`${rel}: written\n`);
    }
  }
  return stale ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`gen-example-configs failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
