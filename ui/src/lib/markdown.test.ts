import { describe, expect, it } from "vitest";
import { renderMarkdown, renderAnswer, citedNumbers, answerWithSources, escapeHtml } from "./markdown";
import { renderSegments, headingPath } from "./highlight";
import { isSearchShortcut, moveSelection } from "./keys";

describe("renderMarkdown never lets document HTML through", () => {
  it("escapes script and event-handler HTML", () => {
    const html = renderMarkdown('Hello <script>alert(1)</script> <img src=x onerror="alert(2)">');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;");
  });
  it("drops javascript: and data: links and never emits anchors", () => {
    for (const src of ["[x](javascript:alert(1))", "[x](data:text/html,hi)", "[x](https://example.com)", "<https://example.com>"]) {
      const html = renderMarkdown(src);
      expect(html).not.toMatch(/<a\s/);
      expect(html).not.toContain('href="javascript');
    }
  });
  it("drops images (no remote loads)", () => {
    expect(renderMarkdown("![t](https://example.com/x.png)")).not.toContain("<img");
  });
  it("keeps ordinary formatting", () => {
    expect(renderMarkdown("**bold** and `code`")).toContain("<strong>bold</strong>");
    expect(renderMarkdown("- a\n- b")).toContain("<li>a</li>");
  });
});

describe("citations", () => {
  it("finds cited numbers in order, without repeats", () => {
    expect(citedNumbers("Refunds take 14 days [2]. Annual plans too [1, 2][3].")).toEqual([2, 1, 3]);
    expect(citedNumbers("no citations")).toEqual([]);
  });
  it("renders chips with data-n and marks unknown sources", () => {
    const html = renderAnswer("It is 14 days [1][3].", new Set([1]));
    expect(html).toContain('data-testid="citation-chip" data-n="1"');
    expect(html).toMatch(/class="chip chip-invalid" data-testid="citation-chip" data-n="3"/);
    expect(renderAnswer("See [1, 2].").match(/citation-chip/g)?.length).toBe(2);
  });
  it("does not turn escaped HTML into chips or tags", () => {
    const html = renderAnswer('<b onclick="x">[1]</b>');
    expect(html).not.toContain("<b ");
    expect(html).toContain("&lt;b onclick=&quot;x&quot;&gt;");
  });
  it("copies an answer with its cited sources", () => {
    const text = answerWithSources("Refunds take 14 days [2].", [
      { n: 1, path: "/d/a.pdf", page: 3, version: 1, heading: [] },
      { n: 2, path: "/d/policy.md", page: null, version: 2, heading: ["Refunds", "Timing"] },
    ]);
    expect(text).toBe("Refunds take 14 days [2].\n\nSources:\n[2] /d/policy.md (Refunds › Timing, version 2)\n");
  });
});

describe("snippet highlighting", () => {
  it("wraps hits in <mark> and escapes everything", () => {
    const html = renderSegments([
      { text: "the ", hit: false },
      { text: "refund", hit: true },
      { text: " <script>x</script>", hit: false },
    ]);
    expect(html).toBe("the <mark>refund</mark> &lt;script&gt;x&lt;/script&gt;");
  });
  it("escapes quotes", () => {
    expect(escapeHtml(`"a" & 'b'`)).toBe("&quot;a&quot; &amp; &#39;b&#39;");
  });
  it("joins heading paths", () => {
    expect(headingPath(["Handbook", " ", "Refunds"])).toBe("Handbook › Refunds");
  });
});

describe("keyboard", () => {
  it("Ctrl-K and Cmd-K focus search", () => {
    const k = { key: "k", ctrlKey: true, metaKey: false, altKey: false, shiftKey: false };
    expect(isSearchShortcut(k)).toBe(true);
    expect(isSearchShortcut({ ...k, ctrlKey: false, metaKey: true })).toBe(true);
    expect(isSearchShortcut({ ...k, ctrlKey: false })).toBe(false);
    expect(isSearchShortcut({ ...k, shiftKey: true })).toBe(false);
  });
  it("moves a selection within bounds", () => {
    expect(moveSelection(-1, "ArrowDown", 3)).toBe(0);
    expect(moveSelection(2, "ArrowDown", 3)).toBe(2);
    expect(moveSelection(0, "ArrowUp", 3)).toBe(0);
    expect(moveSelection(1, "End", 3)).toBe(2);
    expect(moveSelection(1, "ArrowDown", 0)).toBe(-1);
  });
});
