// Formatting helpers for numbers, sizes, times and progress. Pure functions, unit-tested.

/** "about 3 min left"-style duration: seconds → short human text ("12 s", "3 min", "1 h 5 min"). */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  if (s < 1) return "less than a second";
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(s / 3600);
  const rest = Math.round((s - h * 3600) / 60);
  if (rest === 60) return `${h + 1} h`;
  return rest > 0 ? `${h} h ${rest} min` : `${h} h`;
}

/** Items per second: "35/s", "2.4/s", "0.5/s". */
export function formatRate(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate) || rate <= 0) return "";
  if (rate >= 100) return `${Math.round(rate)}/s`;
  if (rate >= 10) return `${rate.toFixed(0)}/s`;
  return `${rate.toFixed(1)}/s`;
}

/** Bytes as KB/MB/GB (powers of 1024, one decimal above KB). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Thousands separators: 12345 → "12,345". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Unix seconds → local date and time, e.g. "2026-11-22 07:30". */
export function formatTime(unix: number): string {
  if (!unix) return "";
  const d = new Date(unix * 1000);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The last part of a path (file or folder name). */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

/** The folder part of a path. */
export function dirName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i > 0 ? path.slice(0, i) : "";
}

export interface ProgressLike {
  phase: string;
  files_done: number;
  files_total: number;
  chunks_done: number;
  chunks_total: number;
  pages_done?: number;
  pages_total?: number;
  rate: number | null;
  eta_seconds: number | null;
  message: string | null;
  ready: boolean;
}

/** One line describing indexing progress, as shown next to the bar (`documents`: how many
 * the library holds, for the "up to date" line). */
export function describeProgress(p: ProgressLike, documents: number | null = null): string {
  const rate = formatRate(p.rate);
  const eta = formatEta(p.eta_seconds);
  const tail = [rate, eta ? `about ${eta} left` : ""].filter(Boolean).join(" · ");
  const withTail = (s: string) => (tail ? `${s} · ${tail}` : s);
  switch (p.phase) {
    case "scanning":
      return "Looking for changed files…";
    case "parsing":
      return withTail(
        `Reading files ${formatCount(p.files_done)} of ${formatCount(p.files_total)} · ${formatCount(p.chunks_done)} passages`,
      );
    case "recognising":
      return withTail(
        `Recognising text (OCR) page ${formatCount(p.pages_done ?? 0)} of ${formatCount(p.pages_total ?? 0)} (keyword search already works)`,
      );
    case "embedding":
      return withTail(
        `Embedding passages ${formatCount(p.chunks_done)} of ${formatCount(p.chunks_total)} (keyword search already works)`,
      );
    case "done":
      return (
        p.message ??
        (documents != null
          ? `Up to date · ${formatCount(documents)} document${documents === 1 ? "" : "s"} · following changes live`
          : "Up to date · following changes live")
      );
    case "paused":
      return "Paused — search works; resume to finish indexing";
    case "error":
      return p.message ?? "Indexing stopped with an error";
    default:
      return p.message ?? (p.ready ? "Idle" : "Opening the library…");
  }
}

/** Fraction (0..1) of the current phase done, or null when unknown. */
export function progressFraction(p: ProgressLike): number | null {
  if (p.phase === "embedding") return p.chunks_total > 0 ? p.chunks_done / p.chunks_total : null;
  if (p.phase === "parsing") return p.files_total > 0 ? p.files_done / p.files_total : null;
  if (p.phase === "recognising") return p.pages_total ? (p.pages_done ?? 0) / p.pages_total : null;
  if (p.phase === "done") return 1;
  return null;
}

/** How a citation verdict (`CitationItem.verdict`) reads in the window. */
export function verdictLabel(verdict: string): string {
  switch (verdict) {
    case "supported":
      return "supported";
    case "contradicted":
      return "contradicted by the source";
    case "unsupported":
      return "not supported by the source";
    case "invalid":
      return "no such source";
    default:
      return verdict;
  }
}

const VERDICT_RANK: Record<string, number> = { supported: 0, unsupported: 1, invalid: 2, contradicted: 3 };

/** The verdict a source shows when several citations point at it: the worst one. */
export function worstVerdict(verdicts: string[]): string | null {
  let worst: string | null = null;
  for (const v of verdicts) {
    if (worst === null || (VERDICT_RANK[v] ?? 1) > (VERDICT_RANK[worst] ?? 1)) worst = v;
  }
  return worst;
}

/** A score (0..1) as the Evaluate table shows it: three decimals, "–" when not measured. */
export function formatScore(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? "–" : v.toFixed(3);
}

/** How a question's outcome (`EvalRow.outcome`) reads in the window, and its badge class. */
export function outcomeLabel(outcome: string): { text: string; cls: string } {
  switch (outcome) {
    case "right":
      return { text: "right", cls: "ok" };
    case "abstained":
      return { text: "said it doesn’t know", cls: "warn" };
    case "failed":
      return { text: "failed", cls: "danger" };
    default:
      return { text: "wrong", cls: "danger" };
  }
}
