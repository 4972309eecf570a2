import fs from "node:fs";
import path from "node:path";

/**
 * The repository root: the nearest folder at or above `from` that holds a package.json. The same
 * from the sources (keepers/cli/) and from the build (dist/keepers/cli/, dist/ has no package.json),
 * so nothing resolves files with a fixed number of `..`. Throws when there is none (not a checkout).
 */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json at or above ${from}`);
  }
}

/** The `version` of the package at {@link projectRoot}, for `vigil --version`. */
export function packageVersion(): string {
  const file = path.join(projectRoot(), "package.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}
