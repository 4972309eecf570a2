/**
 * Keep secrets that hide in URLs out of logs, `/healthz` and CLI output. RPC URLs often carry an API
 * key in the path or query (`https://eth-mainnet.g.alchemy.com/v2/<KEY>`, `…?apikey=<KEY>`) or in the
 * userinfo (`https://user:<KEY>@host/`), and ethers puts the request URL into its error messages
 * (`SERVER_ERROR … info={ "requestUrl": "…" }`) and onto the error object (`info`, `request`). Every
 * URL in such a text is cut down to its origin, `scheme://host[:port]`, which still tells an operator
 * which provider failed.
 */

/** A `scheme://…` run up to whitespace, a quote, an angle bracket, a paren, a brace or a comma. */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*):\/\/[^\s"'`<>(){},\\]*/gi;

/**
 * Rewrite every URL in `text` to its origin, `scheme://host[:port]`: userinfo, path, query and
 * fragment are dropped. A URL that does not parse becomes `scheme://[redacted]`.
 */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (match, scheme: string) => {
    // Punctuation that ends a sentence or a field ("cannot reach http://host:9: …") is not the URL's.
    const trail = /[.,:;!?]+$/.exec(match)?.[0] ?? "";
    const candidate = match.slice(0, match.length - trail.length);
    try {
      const u = new URL(candidate);
      return (u.host ? `${u.protocol}//${u.host}` : `${scheme}://[redacted]`) + trail;
    } catch {
      return `${scheme}://[redacted]${trail}`;
    }
  });
}

/**
 * Fields of an error that carry request details (ethers `info.requestUrl`, `request`, `response`,
 * headers, any `…url`): dropped from serialized errors, not redacted, since they may hold keys in
 * forms a URL rewrite does not see (headers, bodies).
 */
const DROPPED_FIELD = /^(info|request|response|headers|requestbody|responsebody)$|url$/i;

/**
 * A copy of `value` (a serialized error) with {@link DROPPED_FIELD} fields removed and every string
 * passed through {@link redactUrls}, nested objects included (`cause`, ethers' inner `error`).
 */
export function sanitizeErrorFields(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactUrls(value);
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value) || depth > 6) return "[omitted]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => sanitizeErrorFields(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (DROPPED_FIELD.test(k)) continue;
    out[k] = sanitizeErrorFields(v, depth + 1, seen);
  }
  return out;
}

/**
 * A short, URL-free description of an error for places that show it to anyone who can reach a port
 * (`/healthz`) or a terminal: the code when there is one, ethers' `shortMessage` (which carries no
 * request details) or else the first line of the message, URLs cut to their origin, at most `max`
 * characters.
 */
export function summarizeError(e: unknown, max = 160): string {
  const err = e as { code?: unknown; shortMessage?: unknown; message?: unknown } | null | undefined;
  const code = typeof err?.code === "string" ? err.code : undefined;
  const raw =
    typeof err?.shortMessage === "string"
      ? err.shortMessage
      : typeof err?.message === "string"
        ? err.message
        : String(e);
  let text = redactUrls(raw.split("\n")[0]);
  if (code && !text.startsWith(code)) text = `${code}: ${text}`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
