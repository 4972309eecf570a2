/**
 * Is `dist/` (the JavaScript `npm run build` compiles from the keepers) built from the sources in
 * the tree right now? Plain CommonJS, no dependencies: `bin/vigil.js` calls {@link checkBuild} on
 * every start, before anything else is loaded, and `scripts/build/build.js` writes the stamp.
 *
 * The stamp, `dist/.vigil-build.json`, lists every build input with its size, mtime and SHA-256 as
 * they were when the build STARTED: the files under {@link INPUTS} and every other project file tsc
 * compiled because a keeper imports it (scripts/deploy.ts, ignition/modules/*, scripts/drill/nodes.ts,
 * hardhat.config.ts...). A start-up check stats them all again (about 110 files, 4 ms):
 * - a file added under {@link INPUTS} or any input removed, a different size, or a missing stamp or
 *   entry point: stale;
 * - a different mtime (either way: a checkout, `touch -d`, a copy that keeps old times): the file is
 *   hashed, and only a different hash is stale; when every hash matches, the stamp is rewritten with
 *   the new mtimes so the next start is back on the stat-only path.
 * An edit made while a build runs leaves the stamp's (earlier) hash behind, so it reads as stale.
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

/** Stamp file, relative to the repository root. */
const STAMP = path.join("dist", ".vigil-build.json");
/** What `bin/vigil.js` loads from a build. */
const ENTRY = path.join("dist", "keepers", "cli.js");
const FORMAT = 2;

/**
 * The build's inputs, relative to the root: the keepers (tsc compiles them and what they import), the
 * contracts (their ABIs reach dist/ through typechain-types/, which `hardhat compile` regenerates) and
 * the files that configure both compilers.
 */
const INPUTS = {
  dirs: [
    { dir: "keepers", ext: ".ts" },
    { dir: "contracts", ext: ".sol" },
  ],
  files: ["hardhat.config.ts", "tsconfig.json", "tsconfig.build.json"],
};

/** Sorted relative paths (forward slashes) of every input that exists under `root`. */
function listInputs(root) {
  const out = [];
  const walk = (rel, ext) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child, ext);
      else if (e.name.endsWith(ext)) out.push(child);
    }
  };
  for (const { dir, ext } of INPUTS.dirs) walk(dir, ext);
  for (const f of INPUTS.files) if (fs.existsSync(path.join(root, f))) out.push(f);
  return out.sort();
}

function sha256(file) {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function record(root, rel) {
  const abs = path.join(root, rel);
  const st = fs.statSync(abs);
  return { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(abs) };
}

/**
 * Record the inputs as they are now: `{ format, files: { [relPath]: { size, mtimeMs, sha256 } } }`,
 * the files under {@link INPUTS} plus `extra` (relative paths; the build passes every project .ts
 * file, since it cannot know before compiling which ones a keeper imports). Call it before
 * compiling; then {@link keepCompiled}, and {@link writeStamp} only once the build succeeded.
 */
function snapshot(root, extra = []) {
  const files = {};
  for (const rel of [...listInputs(root), ...extra]) files[rel] ??= record(root, rel);
  return { format: FORMAT, files };
}

/**
 * Narrow a {@link snapshot} to what the build used: the files under {@link INPUTS} and `compiled`
 * (relative paths of the sources tsc emitted). A compiled file the snapshot lacks is recorded now.
 */
function keepCompiled(root, stamp, compiled) {
  const keep = new Set([...listInputs(root), ...compiled]);
  const files = {};
  for (const rel of keep) files[rel] = stamp.files[rel] ?? record(root, rel);
  return { format: FORMAT, files };
}

/** Write `stamp` to dist/.vigil-build.json atomically (temp file, then rename). */
function writeStamp(root, stamp) {
  const file = path.join(root, STAMP);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(stamp));
  fs.renameSync(tmp, file);
}

/** Delete the stamp, so a build that fails half-way is never taken for a fresh one. */
function removeStamp(root) {
  fs.rmSync(path.join(root, STAMP), { force: true });
}

/**
 * Compare the tree with the stamp.
 * @returns `{ fresh: true }`, or `{ fresh: false, reason }` with a short reason naming a file, e.g.
 *   "keepers/cli/status.ts changed since the last build". Never throws: an unreadable stamp is stale.
 */
function checkBuild(root) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, STAMP), "utf8"));
  } catch {
    return { fresh: false, reason: "no build yet" };
  }
  if (!stamp || stamp.format !== FORMAT || typeof stamp.files !== "object") {
    return { fresh: false, reason: "the build stamp is from another version" };
  }
  if (!fs.existsSync(path.join(root, ENTRY))) return { fresh: false, reason: `${ENTRY} is missing` };
  const added = listInputs(root).find((f) => !(f in stamp.files));
  if (added) return { fresh: false, reason: `${added} is new since the last build` };
  let touched = false;
  for (const rel of Object.keys(stamp.files)) {
    const was = stamp.files[rel];
    const abs = path.join(root, rel);
    let st;
    try {
      st = fs.statSync(abs);
    } catch {
      return { fresh: false, reason: `${rel} was removed since the last build` };
    }
    if (st.size !== was.size) return { fresh: false, reason: `${rel} changed since the last build` };
    if (st.mtimeMs === was.mtimeMs) continue;
    if (sha256(abs) !== was.sha256) return { fresh: false, reason: `${rel} changed since the last build` };
    was.mtimeMs = st.mtimeMs;
    touched = true;
  }
  if (touched) {
    try {
      writeStamp(root, stamp); // same contents, new mtimes: the next check stats only
    } catch {
      // read-only tree: stay correct, hash again next time
    }
  }
  return { fresh: true };
}

module.exports = {
  STAMP,
  ENTRY,
  INPUTS,
  listInputs,
  snapshot,
  keepCompiled,
  writeStamp,
  removeStamp,
  checkBuild,
};
