import { formatClientTable } from "./clients";
import type { DrillReport, FaultRecord } from "./report";

const COLORS = {
  detect: "#f59e0b", // injection → first unhealthy observation
  confirm: "#ef4444", // → on-chain status change
  react: "#7c3aed", // → migration / pause confirmed
  heal: "#10b981", // recovery → HEALTHY
  resume: "#0ea5e9", // HEALTHY → resume
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Render the drill timeline as a self-contained SVG a person reads at a glance: one row per fault,
 * coloured segments for detection, on-chain confirmation and reaction after the fault, and for
 * recovery and resume after it was undone; seconds since the drill began on the x axis.
 */
export function renderChart(report: DrillReport): string {
  const faults = report.faults.filter((f) => f.injectedAtMs !== null);
  const t0 = Math.min(...faults.map((f) => f.injectedAtMs as number));
  const ends = faults.flatMap((f) =>
    [f.reactionAtMs, f.healthyAtMs, f.resumedAtMs, f.recoveredAtMs, f.statusChangedAtMs].filter(
      (x): x is number => x !== null,
    ),
  );
  const t1 = Math.max(t0 + 1000, ...ends);
  const left = 310;
  const right = 30;
  const width = 1000;
  const rowH = 44;
  const top = 60;
  // Under the timeline, the client table (scripts/drill/clients.ts): gateway vs direct, per fault.
  const clientLines = faults.some((f) => f.clients) ? formatClientTable(faults).split("\n") : [];
  const clientTop = top + faults.length * rowH + 110;
  const height = clientLines.length
    ? clientTop + 20 + clientLines.length * 15
    : top + faults.length * rowH + 90;
  const x = (ms: number) => left + ((ms - t0) / (t1 - t0)) * (width - left - right);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="16" font-weight="bold">Vigil outage drill — ${esc(report.mode)} run, ${esc(report.startedAt)}</text>`,
    `<text x="16" y="46" fill="#555">RTO ${report.rtoMs ?? "—"} ms · false migrations ${report.falseMigrations} · false pauses ${report.falsePauses} · ${report.failures.length ? `${report.failures.length} failed checks` : "all checks passed"}</text>`,
  );
  // grid: one line every "nice" number of seconds
  const totalS = (t1 - t0) / 1000;
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300].find((s) => totalS / s <= 12) ?? 600;
  for (let s = 0; s <= totalS; s += step) {
    const gx = x(t0 + s * 1000);
    parts.push(
      `<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + faults.length * rowH}" stroke="#e5e7eb"/>`,
      `<text x="${gx}" y="${top + faults.length * rowH + 16}" text-anchor="middle" fill="#555">${s}s</text>`,
    );
  }
  const seg = (from: number | null, to: number | null, y: number, color: string, label: string) => {
    if (from === null || to === null || to < from) return;
    const w = Math.max(2, x(to) - x(from));
    parts.push(
      `<rect x="${x(from)}" y="${y}" width="${w}" height="14" fill="${color}"><title>${esc(label)}: ${to - from} ms</title></rect>`,
    );
  };
  faults.forEach((f: FaultRecord, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="16" y="${y + 12}" font-weight="bold">${esc(f.name)}</text>`,
      `<text x="16" y="${y + 28}" fill="#555">expected: ${esc(f.expected)}${
        f.reactionAtMs !== null && f.injectedAtMs !== null
          ? ` · reacted in ${f.reactionAtMs - f.injectedAtMs} ms`
          : ""
      }</text>`,
    );
    seg(f.injectedAtMs, f.firstUnhealthyAtMs, y, COLORS.detect, "fault → first unhealthy observation");
    seg(f.firstUnhealthyAtMs, f.statusChangedAtMs, y, COLORS.confirm, "→ on-chain status change");
    if (f.reactionAtMs !== null && f.injectedAtMs !== null) {
      // The reaction is a moment (the migration or pause transaction), drawn as a diamond: it may come
      // in the same transaction as the status change, or before it (a pause needs no DOWN, only every
      // endpoint under the market's threshold).
      const rx = x(f.reactionAtMs);
      parts.push(
        `<path d="M ${rx} ${y - 3} L ${rx + 7} ${y + 7} L ${rx} ${y + 17} L ${rx - 7} ${y + 7} Z" fill="${COLORS.react}" stroke="#fff"><title>${esc(
          f.expected,
        )} confirmed ${f.reactionAtMs - f.injectedAtMs} ms after the fault</title></path>`,
      );
    }
    seg(f.recoveredAtMs, f.healthyAtMs, y + 18, COLORS.heal, "recovery → HEALTHY");
    if (f.resumedAtMs !== null && f.recoveredAtMs !== null) {
      // A moment, not a span: the resume needs only the service's active endpoint HEALTHY for the grace
      // period, so it may come before every endpoint the fault touched is HEALTHY again.
      parts.push(
        `<circle cx="${x(f.resumedAtMs)}" cy="${y + 25}" r="6" fill="${COLORS.resume}" stroke="#fff"><title>market resumed ${
          f.resumedAtMs - f.recoveredAtMs
        } ms after recovery</title></circle>`,
      );
    }
    const mark = (t: number | null, color: string) => {
      if (t !== null)
        parts.push(
          `<line x1="${x(t)}" y1="${y - 2}" x2="${x(t)}" y2="${y + 34}" stroke="${color}" stroke-width="2"/>`,
        );
    };
    mark(f.injectedAtMs, "#111827");
    mark(f.recoveredAtMs, "#047857");
  });
  const ly = top + faults.length * rowH + 36;
  const legend: [string, string][] = [
    [COLORS.detect, "fault → unhealthy observation"],
    [COLORS.confirm, "→ on-chain status change"],
    [COLORS.react, "◆ migration / pause confirmed"],
    [COLORS.heal, "recovery → HEALTHY"],
    [COLORS.resume, "● market resumed"],
  ];
  let lx = 16;
  for (const [c, label] of legend) {
    parts.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${c}"/>`,
      `<text x="${lx + 16}" y="${ly + 10}">${esc(label)}</text>`,
    );
    lx += 34 + label.length * 7;
  }
  parts.push(
    `<text x="16" y="${ly + 32}" fill="#555">black line: fault injected · green line: fault undone</text>`,
  );
  if (clientLines.length) {
    parts.push(
      `<text x="16" y="${clientTop}" font-weight="bold">What clients saw: the same load through vigil gateway and directly to the primary (failed requests, longest gap without an answer, stale answers ≥ 3 blocks behind, transactions sent/included/lost, eth_blockNumber backward steps)</text>`,
    );
    clientLines.forEach((l, i) =>
      parts.push(
        `<text x="16" y="${clientTop + 20 + i * 15}" font-family="Menlo, Consolas, monospace" font-size="10.5" xml:space="preserve">${esc(l)}</text>`,
      ),
    );
  }
  parts.push("</svg>");
  return parts.join("\n");
}
