// Search snippets arrive as runs of text, each matched or not; matched runs go in <mark>.
import { escapeHtml } from "./markdown";

export interface Segment {
  text: string;
  hit: boolean;
}

/** Safe HTML for a snippet: every run escaped, matches wrapped in <mark>. */
export function renderSegments(segments: Segment[]): string {
  return segments.map((s) => (s.hit ? `<mark>${escapeHtml(s.text)}</mark>` : escapeHtml(s.text))).join("");
}

/** Plain text of a snippet. */
export function segmentsText(segments: Segment[]): string {
  return segments.map((s) => s.text).join("");
}

/** "Handbook › Refunds › Timing" for a heading path. */
export function headingPath(heading: string[]): string {
  return heading.filter((h) => h.trim()).join(" › ");
}
