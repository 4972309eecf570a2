/**
 * Shared fixtures of the attestor tests: a throw-away data dir per attestor (the signed-round record must
 * never leak between tests nor into the repository), and an oracle reader over a state a test can change.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DEFAULT_POLICY,
  type EndpointPolicy,
  type OracleReader,
  type OracleState,
} from "../../keepers/attestor/sources";

/** A fresh empty directory under the OS temp dir. */
export function tmpDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "vigil-attestor-test-"));
}

/**
 * An oracle reader over `get()` (read each time, so a test rotates the set by changing what it returns) and a
 * policy per endpoint (`policyOf(id)`, default {@link DEFAULT_POLICY}).
 */
export function oracleOf(
  get: () => OracleState,
  policyOf: (id: string) => EndpointPolicy = () => DEFAULT_POLICY,
): OracleReader {
  return {
    read: async () => get(),
    policiesOf: async (ids) => ids.map((id) => ({ ...policyOf(id) })),
  };
}
