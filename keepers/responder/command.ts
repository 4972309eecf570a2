/**
 * PLACEHOLDER on branch `attestor` only, so `keepers/cli.ts` compiles before the responder lands.
 * The responder branch owns this file: drop this version at merge.
 */
import { Command } from "commander";
import { VigilError } from "../shared/errors";

export function responderCommand(): Command {
  return new Command("responder").description("Run a responder (not on this branch yet)").action(() => {
    throw new VigilError(
      "VIGIL_CONFIG",
      "the responder is not built into this checkout",
      "merge the responder branch",
    );
  });
}
