import { describe, expect, it } from "vitest";
import { formatEta, formatRate, formatBytes, describeProgress, progressFraction, baseName, dirName, verdictLabel, worstVerdict, formatScore, outcomeLabel } from "./format";

describe("formatEta", () => {
  it("formats seconds, minutes and hours", () => {
    expect(formatEta(0.3)).toBe("less than a second");
    expect(formatEta(12.4)).toBe("12 s");
    expect(formatEta(59)).toBe("59 s");
    expect(formatEta(60)).toBe("1 min");
    expect(formatEta(185)).toBe("3 min");
    expect(formatEta(3600)).toBe("1 h");
    expect(formatEta(3900)).toBe("1 h 5 min");
    expect(formatEta(7199)).toBe("2 h");
  });
  it("is empty for unknown or invalid values", () => {
    expect(formatEta(null)).toBe("");
    expect(formatEta(undefined)).toBe("");
    expect(formatEta(NaN)).toBe("");
    expect(formatEta(Infinity)).toBe("");
    expect(formatEta(-5)).toBe("");
  });
});

describe("formatRate and formatBytes", () => {
  it("rounds rates by size", () => {
    expect(formatRate(2.345)).toBe("2.3/s");
    expect(formatRate(35.6)).toBe("36/s");
    expect(formatRate(593.2)).toBe("593/s");
    expect(formatRate(0)).toBe("");
    expect(formatRate(null)).toBe("");
  });
  it("uses binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2048)).toBe("2 KB");
    expect(formatBytes(1.5 * 1024 * 1024)).toBe("1.5 MB");
    expect(formatBytes(110 * 1024 * 1024)).toBe("110 MB");
  });
});

describe("paths", () => {
  it("splits POSIX and Windows paths", () => {
    expect(baseName("/a/b/report.pdf")).toBe("report.pdf");
    expect(baseName("C:\\docs\\x.docx")).toBe("x.docx");
    expect(dirName("/a/b/report.pdf")).toBe("/a/b");
  });
});

describe("describeProgress", () => {
  const base = {
    phase: "idle",
    files_done: 0,
    files_total: 0,
    chunks_done: 0,
    chunks_total: 0,
    rate: null,
    eta_seconds: null,
    message: null,
    ready: true,
  };
  it("names the phase with counts, rate and ETA", () => {
    const p = { ...base, phase: "parsing", files_done: 120, files_total: 400, chunks_done: 1500, rate: 35, eta_seconds: 8 };
    expect(describeProgress(p)).toBe("Reading files 120 of 400 · 1,500 passages · 35/s · about 8 s left");
    expect(progressFraction(p)).toBeCloseTo(0.3);
  });
  it("says embedding keeps keyword search working", () => {
    const p = { ...base, phase: "embedding", chunks_done: 300, chunks_total: 2000, rate: 20, eta_seconds: 85 };
    expect(describeProgress(p)).toContain("Embedding passages 300 of 2,000");
    expect(describeProgress(p)).toContain("about 1 min left");
  });
  it("counts OCR pages while recognising", () => {
    const p = { ...base, phase: "recognising", files_done: 9, files_total: 9, pages_done: 3, pages_total: 12, rate: 0.5, eta_seconds: 18 };
    expect(describeProgress(p)).toBe("Recognising text (OCR) page 3 of 12 (keyword search already works) · 0.5/s · about 18 s left");
    expect(progressFraction(p)).toBeCloseTo(0.25);
  });
  it("prefers the engine's message when done or failed", () => {
    expect(describeProgress({ ...base, phase: "error", message: "disk full" })).toBe("disk full");
    expect(describeProgress({ ...base, phase: "done", files_total: 3 }, 3)).toBe("Up to date · 3 documents · following changes live");
    expect(describeProgress({ ...base, phase: "done" }, 1)).toBe("Up to date · 1 document · following changes live");
    expect(describeProgress({ ...base, phase: "done" })).toBe("Up to date · following changes live");
    expect(progressFraction({ ...base, phase: "scanning" })).toBeNull();
  });
});

describe("citation verdicts", () => {
  it("say in words what the check found", () => {
    expect(verdictLabel("supported")).toBe("supported");
    expect(verdictLabel("contradicted")).toBe("contradicted by the source");
    expect(verdictLabel("unsupported")).toBe("not supported by the source");
    expect(verdictLabel("invalid")).toBe("no such source");
    expect(verdictLabel("something new")).toBe("something new");
  });
  it("show the worst verdict of a source's citations", () => {
    expect(worstVerdict([])).toBe(null);
    expect(worstVerdict(["supported", "supported"])).toBe("supported");
    expect(worstVerdict(["supported", "unsupported"])).toBe("unsupported");
    expect(worstVerdict(["unsupported", "contradicted", "supported"])).toBe("contradicted");
  });
});

describe("formatScore and outcomeLabel", () => {
  it("shows three decimals or a dash when not measured", () => {
    expect(formatScore(0.82)).toBe("0.820");
    expect(formatScore(1)).toBe("1.000");
    expect(formatScore(null)).toBe("–");
    expect(formatScore(NaN)).toBe("–");
  });
  it("words each outcome", () => {
    expect(outcomeLabel("right")).toEqual({ text: "right", cls: "ok" });
    expect(outcomeLabel("abstained").cls).toBe("warn");
    expect(outcomeLabel("wrong").text).toBe("wrong");
    expect(outcomeLabel("failed").cls).toBe("danger");
  });
});
