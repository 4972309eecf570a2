/**
 * The SSRF guard by address: resolve a probe target's host name, refuse it when ANY address it resolves to
 * is private, loopback, link-local, … (targets.ts `isPrivateAddress`; unless `allowPrivateTargets`), and
 * make every probe socket connect to an address that was checked.
 *
 * A check on the name alone lets any DNS name pointing at 127.0.0.1 through; a check on a first lookup
 * followed by the socket's own second lookup lets a name answer a public address to the check and
 * 127.0.0.1 to the connection (DNS rebinding). So the {@link TargetResolver} owns the keep-alive agents
 * the probes use for registry targets, and their sockets resolve through its `lookup`, which answers
 * only from checked answers: the one the prober's check cached (reused for at most `cacheMs`, 30 s by
 * default, or the answer's TTL when the resolver gives one), or a fresh answer it checks the same way.
 * The Host header and TLS SNI keep the name. An address written in the URI is judged as written and
 * never resolved. A keep-alive socket stays on the checked address it was opened to; a round whose check
 * refuses the name makes no request on it.
 *
 * A name that does not resolve is a probe failure (`unreachable`), a resolution that takes longer than
 * the probe's budget is a `timeout`; a refused name is no probe at all ({@link TargetRefused}).
 */
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { performance } from "node:perf_hooks";
import { ProbeFailure, type ProbeAgents } from "./probes/transport";
import type { Logger } from "../shared/logger";
import type { Metrics } from "../shared/metrics";
import { isPrivateAddress, type TargetRefusal } from "./targets";

/** One address a name resolves to. `ttl`: how long the answer may be reused, seconds (when known). */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  ttl?: number;
}

/** Resolves a host name to ALL its addresses; rejects when it cannot (e.g. `ENOTFOUND`). */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** The operating system's resolver (`dns.lookup`, every address, in the order it gives; no TTL). */
export const systemResolver: HostResolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/**
 * The target must not be probed: its name resolves to (or its URI names) an address the attestor must not
 * reach. The prober counts it in `vigil_probes_refused_total{reason="private_target"}` and makes no probe.
 */
export class TargetRefused extends ProbeFailure {
  readonly refusal = "private_target" as const;
  constructor(readonly address: string) {
    super("unreachable", `refused: the target resolves to the private address ${address}`);
    this.name = "TargetRefused";
  }
}

export interface TargetResolverOptions {
  /** The `allowPrivateTargets` setting: when true, every address is allowed (still pinned). */
  allowPrivate: boolean;
  /** Default {@link systemResolver}; tests inject names. */
  resolve?: HostResolver;
  /** Longest wait for one resolution made at connect time, ms (the probe timeout). */
  timeoutMs: number;
  /** Longest reuse of a checked answer, ms. Default 30 000. */
  cacheMs?: number;
  /** Most names cached; the oldest is dropped beyond it. Default 10 000. */
  maxNames?: number;
  /** Clock for the cache, ms. Default `performance.now`. */
  now?: () => number;
}

interface Entry {
  /** Until when the answer may be reused (ms on `now`); Infinity while it is pending. */
  until: number;
  answer: Promise<readonly ResolvedAddress[]>;
}

/** Resolves, judges and pins probe targets: see the file comment. One per attestor. */
export class TargetResolver {
  /**
   * `net`'s lookup hook: answers only with checked addresses of `hostname` (every one when asked for all),
   * never with a fresh unchecked lookup. Errors with {@link TargetRefused} or a resolution failure.
   */
  readonly lookup: LookupFunction;
  /** Keep-alive pools for registry targets: every socket in them connected through {@link lookup}. */
  readonly agents: ProbeAgents;
  private readonly _cache = new Map<string, Entry>();
  private readonly _resolve: HostResolver;
  private readonly _now: () => number;

  constructor(private readonly o: TargetResolverOptions) {
    this._resolve = o.resolve ?? systemResolver;
    this._now = o.now ?? (() => performance.now());
    this.lookup = (hostname, options, callback) => {
      this.addresses(hostname).then(
        (all) => {
          const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
          const usable = family === 4 || family === 6 ? all.filter((a) => a.family === family) : all;
          if (!usable.length) {
            const e = Object.assign(new Error(`no IPv${family} address for ${hostname}`), {
              code: "ENOTFOUND",
            });
            return callback(e, "", 0);
          }
          if (options.all)
            callback(
              null,
              usable.map(({ address, family }) => ({ address, family })),
            );
          else callback(null, usable[0].address, usable[0].family);
        },
        (e: Error) => callback(e, "", 0),
      );
    };
    this.agents = {
      "http:": new http.Agent({ keepAlive: true, lookup: this.lookup }),
      "https:": new https.Agent({ keepAlive: true, lookup: this.lookup }),
    };
  }

  /**
   * Check the host of `uri` (a URL the URI check in targets.ts let through) before probing it.
   * @param timeoutMs Longest wait for the resolution, ms.
   * @returns ms left of `timeoutMs` for the probe itself: an integer, at least 1 (all of it for an address
   *   written in the URI).
   * @throws TargetRefused when an address is not public and `allowPrivate` is false; ProbeFailure
   *   `unreachable` when the name does not resolve, `timeout` when it does not resolve in `timeoutMs`.
   */
  async check(uri: string, timeoutMs: number): Promise<number> {
    const host = new URL(uri).hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(host)) {
      if (!this.o.allowPrivate && isPrivateAddress(host)) throw new TargetRefused(host);
      return timeoutMs;
    }
    const started = performance.now();
    await this.addresses(host, timeoutMs);
    return Math.max(1, Math.floor(timeoutMs - (performance.now() - started)));
  }

  /**
   * {@link check} the target of a probe and return the probe's options with the time left and the pinned
   * agents. Throws as {@link check}.
   */
  async pin<T extends { timeoutMs: number }>(
    uri: string,
    options: T,
  ): Promise<T & { timeoutMs: number; agents: ProbeAgents }> {
    const timeoutMs = await this.check(uri, options.timeoutMs);
    return { ...options, timeoutMs, agents: this.agents };
  }

  /**
   * The checked addresses of `hostname`, from the cache or a fresh resolution (concurrent callers share one).
   * Throws as {@link check}.
   */
  async addresses(hostname: string, timeoutMs = this.o.timeoutMs): Promise<readonly ResolvedAddress[]> {
    const key = hostname.toLowerCase();
    let entry = this._cache.get(key);
    if (!entry || entry.until <= this._now()) {
      if (entry) this._cache.delete(key);
      entry = this._resolveChecked(key);
      this._cache.set(key, entry);
      const max = this.o.maxNames ?? 10_000;
      for (const old of this._cache.keys()) {
        if (this._cache.size <= max) break;
        this._cache.delete(old);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProbeFailure("timeout", "name resolution: no answer before the timeout")),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([entry.answer, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Close the idle keep-alive sockets (tests, shutdown). */
  destroy(): void {
    this.agents["http:"].destroy();
    this.agents["https:"].destroy();
  }

  /** One resolution, judged; cached until its TTL or `cacheMs`, whichever is first; a failure is not cached. */
  private _resolveChecked(key: string): Entry {
    const entry: Entry = { until: Infinity, answer: Promise.resolve([]) };
    entry.answer = (async () => {
      let answer: readonly ResolvedAddress[];
      try {
        answer = await this._resolve(key);
      } catch (e) {
        const code = (e as { code?: string })?.code ?? (e as Error)?.message ?? String(e);
        throw new ProbeFailure("unreachable", `name resolution failed: ${code}`);
      }
      if (!answer.length) throw new ProbeFailure("unreachable", "name resolution failed: no address");
      if (answer.some((a) => !isIP(a.address)))
        throw new ProbeFailure("unreachable", "name resolution failed: an answer is not an IP address");
      const bad = this.o.allowPrivate ? undefined : answer.find((a) => isPrivateAddress(a.address));
      if (bad) throw new TargetRefused(bad.address);
      const ttls = answer.flatMap((a) => (a.ttl === undefined ? [] : [a.ttl * 1000]));
      entry.until = this._now() + Math.min(this.o.cacheMs ?? 30_000, ...ttls);
      return answer.map((a) => ({ address: a.address, family: isIP(a.address) as 4 | 6, ttl: a.ttl }));
    })();
    entry.answer.catch((e) => {
      // A refusal is an answer (cached like one); a resolution failure is retried on the next probe.
      if (e instanceof TargetRefused) entry.until = this._now() + (this.o.cacheMs ?? 30_000);
      else if (this._cache.get(key) === entry) this._cache.delete(key);
    });
    return entry;
  }
}

/**
 * Record a target the attestor must not probe (no probe, no verdict): count it in
 * `vigil_probes_refused_total{reason}` and warn once per URI (`state.refusedUri`). Returns undefined.
 * @param address The resolved address that was refused, when the refusal is by address.
 */
export function recordRefusal(
  metrics: Metrics,
  state: { endpoint: { uri: string }; log: Logger; refusedUri?: string },
  reason: TargetRefusal,
  address?: string,
): undefined {
  metrics.probesRefused.inc({ reason });
  if (state.refusedUri === state.endpoint.uri) return undefined;
  state.refusedUri = state.endpoint.uri;
  state.log.warn(
    { reason, address },
    reason === "private_target"
      ? "refusing to probe a private, loopback or link-local address (set allowPrivateTargets only for local tests)"
      : "refusing to probe a URI that is not an http(s) or ws(s) URL",
  );
  return undefined;
}
