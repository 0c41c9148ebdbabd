// Rendering untrusted text (document passages, model answers) as safe HTML.
//
// markdown-it with raw HTML disabled escapes every "<" in the input, so no tag or script from a
// document or a model can reach the DOM; links are rendered as inert text (no navigation out of
// the app window) and images are dropped (no remote loads). Citation markers like [1] or [1, 2]
// become chip buttons that the Ask screen handles.
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });
md.disable(["image"]);
// Links: keep the text, drop the target. Nothing in an answer may navigate the window.
md.renderer.rules.link_open = () => '<span class="md-link">';
md.renderer.rules.link_close = () => "</span>";
// Only http(s)/mailto are even parsed as links (markdown-it already refuses javascript:, vbscript:, data:).
md.validateLink = (url: string) => /^(https?:|mailto:)/i.test(url.trim());

/** Escapes text for HTML element content and attributes. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Markdown → sanitised HTML (no raw HTML, no links, no images). */
export function renderMarkdown(text: string): string {
  return md.render(text);
}

/** A citation group "[1]", "[1, 3]" or "[2,4,5]". */
export const CITATION = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

/** The source numbers cited in `text`, in order of first appearance. */
export function citedNumbers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(CITATION)) {
    for (const n of m[1].split(",")) {
      const v = parseInt(n.trim(), 10);
      if (!out.includes(v)) out.push(v);
    }
  }
  return out;
}

/** Renders an answer: markdown, with each citation number as a chip button. */
export function renderAnswer(text: string, known: Set<number> | null = null): string {
  const html = renderMarkdown(text);
  // Chips are inserted into already-escaped HTML; only digits come from the text.
  return html.replace(CITATION, (_all, group: string) =>
    group
      .split(",")
      .map((x) => parseInt(x.trim(), 10))
      .map((n) => {
        const cls = known && !known.has(n) ? "chip chip-invalid" : "chip";
        return `<button type="button" class="${cls}" data-testid="citation-chip" data-n="${n}" title="Show source ${n}">${n}</button>`;
      })
      .join(""),
  );
}

/** Plain text of an answer with its sources listed, for the clipboard. */
export function answerWithSources(
  text: string,
  sources: { n: number; path: string; page: number | null; version: number; heading: string[] }[],
): string {
  const cited = citedNumbers(text);
  const used = sources.filter((s) => cited.includes(s.n));
  const list = (used.length ? used : sources).map((s) => {
    const where = [s.page != null ? `page ${s.page}` : "", s.heading.length ? s.heading.join(" › ") : "", `version ${s.version}`]
      .filter(Boolean)
      .join(", ");
    return `[${s.n}] ${s.path} (${where})`;
  });
  return list.length ? `${text.trim()}\n\nSources:\n${list.join("\n")}\n` : `${text.trim()}\n`;
}
