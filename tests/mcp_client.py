#!/usr/bin/env python3
"""Drives `cairn mcp` with the official Python MCP client (PyPI package `mcp`).

Usage: mcp_client.py CAIRN_BIN DATA_DIR

Launches `CAIRN_BIN --data-dir DATA_DIR mcp` over stdio, initialises, lists the tools and
calls each of them on a small indexed library (the one `cairn_tests::build_library` makes).
Prints one JSON summary on stdout and exits non-zero when a check fails.

$CAIRN_MCP_ASK says what the `ask` tool should do with the data directory's config:
  extractive  (default) llm.provider = "none": extractive answer, the notice says why
  generative  the local GGUF model writes the answer (only `ask` is called)
  fallback    the configured model cannot be loaded: extractive, the notice says so
              (only `ask` is called)
  history     only `read_source` of old and forgotten passages: $CAIRN_MCP_SUPERSEDED is the
              chunk id of a superseded passage, $CAIRN_MCP_FORGOTTEN one of a forgotten document
"""

import asyncio
import json
import os
import sys
import traceback

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

EXPECTED_TOOLS = {"search", "list_sources", "read_source", "status", "ask"}


def structured(result):
    """The tool result's structured content (falling back to its JSON text)."""
    if getattr(result, "structured_content", None) is not None:  # mcp >= 2
        return result.structured_content
    if getattr(result, "structuredContent", None) is not None:  # mcp 1.x
        return result.structuredContent
    return json.loads(result.content[0].text)


def is_error(result):
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


def text_of(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def run(binary, data_dir):
    summary = {"checks": [], "failures": []}

    def check(name, ok, detail=""):
        summary["checks"].append(name)
        if not ok:
            summary["failures"].append(f"{name}: {detail}")

    params = StdioServerParameters(
        command=binary,
        args=["--data-dir", data_dir, "mcp"],
        env={"CAIRN_LOG": "info"},
    )
    expect = os.environ.get("CAIRN_MCP_ASK", "extractive")
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            if expect == "history":
                await check_history(session, check, summary)
                summary["ok"] = not summary["failures"]
                return summary
            if expect != "extractive":
                await check_ask(session, check, summary, expect)
                summary["ok"] = not summary["failures"]
                return summary
            info = getattr(init, "server_info", None) or getattr(init, "serverInfo", None)
            summary["server"] = {"name": info.name, "version": info.version}
            summary["protocol_version"] = getattr(init, "protocol_version", None) or getattr(
                init, "protocolVersion", None
            )
            check("server name", info.name == "cairn", info.name)

            tools = (await session.list_tools()).tools
            names = sorted(t.name for t in tools)
            summary["tools"] = names
            check("five tools", set(names) == EXPECTED_TOOLS, names)
            by_name = {t.name: t for t in tools}
            for t in tools:
                schema = getattr(t, "input_schema", None) or getattr(t, "inputSchema", None)
                check(f"{t.name} has a description", bool(t.description), t.description)
                check(f"{t.name} input schema is an object", schema.get("type") == "object", schema)
            search_schema = getattr(by_name["search"], "input_schema", None) or getattr(
                by_name["search"], "inputSchema", None
            )
            check(
                "search schema requires query",
                search_schema.get("required") == ["query"],
                search_schema,
            )
            for prop in ("mode", "limit", "type", "folder", "path"):
                check(f"search schema has {prop}", prop in search_schema["properties"], search_schema)

            # search: keyword mode, the handbook's per-diem passage with its heading path.
            r = await session.call_tool(
                "search", {"query": "daily meal allowance abroad", "mode": "bm25", "limit": 3}
            )
            check("search ok", not is_error(r), text_of(r))
            s = structured(r)
            hits = s["results"]
            summary["search"] = hits[:1]
            check("search has results", len(hits) > 0, s)
            check("search respects limit", len(hits) <= 3, len(hits))
            top = hits[0] if hits else {}
            check("search top path", top.get("path", "").endswith("handbook/onboarding.md"), top)
            check(
                "search top heading",
                top.get("heading") == "Employee Handbook > Travel Policy > Per Diem",
                top,
            )
            for key in ("path", "page", "heading", "snippet", "score", "chunk_id", "version"):
                check(f"search hit has {key}", key in top, top)

            # search: hybrid (the default), filtered to PDFs; pages are reported.
            r = await session.call_tool("search", {"query": "hydrologists hiring", "type": "pdf"})
            check("filtered search ok", not is_error(r), text_of(r))
            pdf_hits = structured(r)["results"]
            check("type filter", all(h["kind"] == "pdf" for h in pdf_hits) and pdf_hits, pdf_hits)
            check(
                "pdf page",
                bool(pdf_hits)
                and pdf_hits[0]["path"].endswith("annual-report.pdf")
                and pdf_hits[0]["page"] == 3,
                pdf_hits[:1],
            )

            # search: dense mode finds a paraphrase.
            r = await session.call_tool(
                "search", {"query": "how much money do I get for food when travelling", "mode": "dense"}
            )
            check("dense search ok", not is_error(r), text_of(r))
            summary["dense_mode"] = structured(r)["mode"] if not is_error(r) else None

            # search: a bad argument is a tool error carrying a hint.
            r = await session.call_tool("search", {"query": "refund", "type": "hologram"})
            check("bad type is a tool error", is_error(r), text_of(r))
            check("tool error has a hint", "What to do" in text_of(r), text_of(r))
            summary["error_example"] = text_of(r)

            # list_sources
            r = await session.call_tool("list_sources", {})
            check("list_sources ok", not is_error(r), text_of(r))
            ls = structured(r)
            paths = [d["path"] for d in ls["sources"]]
            summary["list_sources"] = {"total": ls["total"], "paths": paths}
            for want in (
                "handbook/onboarding.md",
                "refunds.html",
                "annual-report.pdf",
                "meeting-notes.docx",
                "recette.txt",
            ):
                check(f"list_sources has {want}", any(p.endswith(want) for p in paths), paths)
            check("list_sources skips hidden", not any(".private" in p for p in paths), paths)
            doc = next((d for d in ls["sources"] if d["path"].endswith("onboarding.md")), {})
            check("list_sources fields", doc.get("kind") == "markdown" and doc.get("version") == 1
                  and doc.get("passages", 0) >= 1, doc)
            r = await session.call_tool("list_sources", {"limit": 2})
            page = structured(r)
            check("list_sources limit", len(page["sources"]) == 2 and page["truncated"], page)
            r = await session.call_tool("list_sources", {"folder": "handbook"})
            check("list_sources folder ok", not is_error(r), text_of(r))
            in_folder = [d["path"] for d in structured(r)["sources"]] if not is_error(r) else []
            check("list_sources folder", in_folder and all("/handbook/" in p for p in in_folder), in_folder)

            # read_source by chunk id: the full passage with its location.
            r = await session.call_tool("read_source", {"chunk_id": top.get("chunk_id", -1)})
            check("read_source chunk ok", not is_error(r), text_of(r))
            rc = structured(r) if not is_error(r) else {}
            passage = (rc.get("passages") or [{}])[0]
            summary["read_chunk"] = passage
            check("read chunk text", "45 euros" in passage.get("text", ""), passage)
            check("read chunk span", passage.get("byte_end", 0) > passage.get("byte_start", 0), passage)
            check("read chunk heading", passage.get("heading") == top.get("heading"), passage)

            # read_source by document path (a unique suffix): passages in order.
            r = await session.call_tool("read_source", {"path": "handbook/onboarding.md"})
            check("read_source doc ok", not is_error(r), text_of(r))
            rd = structured(r) if not is_error(r) else {"passages": []}
            starts = [p["byte_start"] for p in rd["passages"]]
            check("read doc in order", starts == sorted(starts) and starts, starts)
            joined = " ".join(p["text"] for p in rd["passages"])
            check("read doc text", "Badges must be worn" in joined and "45 euros" in joined, joined)
            summary["read_document"] = {
                "path": rd.get("path"),
                "passages": len(rd["passages"]),
                "truncated": rd.get("truncated"),
            }
            # A small budget truncates, with a note saying how to continue.
            r = await session.call_tool(
                "read_source", {"path": rd.get("path", ""), "max_chars": 100}
            )
            small = structured(r) if not is_error(r) else {}
            check("read doc has several passages", rd.get("total_passages", 0) > 1, rd)
            check("read doc truncates", small.get("truncated") is True and len(small["passages"]) == 1, small)
            check("truncation note", "start=1" in (small.get("note") or ""), small)
            r = await session.call_tool("read_source", {"path": rd.get("path", ""), "start": 1})
            rest = structured(r) if not is_error(r) else {"passages": []}
            check("read doc continues", [p["chunk_id"] for p in rest["passages"]]
                  == [p["chunk_id"] for p in rd["passages"][1:]], rest)
            r = await session.call_tool("read_source", {"path": "no/such/file.md"})
            check("missing document is a tool error", is_error(r), text_of(r))
            r = await session.call_tool("read_source", {})
            check("read_source needs an argument", is_error(r), text_of(r))

            # status
            r = await session.call_tool("status", {})
            check("status ok", not is_error(r), text_of(r))
            st = structured(r)
            summary["status"] = {
                k: st[k]
                for k in ("documents", "passages", "embedded_passages", "embedded_fraction", "problems_total")
            }
            check("status documents", st["documents"] >= 6, st)
            check("status fraction", 0.0 <= st["embedded_fraction"] <= 1.0, st)
            check(
                "status problems",
                any(p["path"].endswith("broken.pdf") for p in st["problems"]),
                st["problems"],
            )

            await check_ask(session, check, summary, expect)

    summary["ok"] = not summary["failures"]
    return summary


async def check_history(session, check, summary):
    """Superseded text only when asked for explicitly; forgotten text never."""
    old = int(os.environ["CAIRN_MCP_SUPERSEDED"])
    gone = int(os.environ["CAIRN_MCP_FORGOTTEN"])
    r = await session.call_tool("read_source", {"chunk_id": old})
    check("superseded text needs include_history", is_error(r) and "include_history" in text_of(r), text_of(r))
    summary["superseded_refused"] = text_of(r)
    r = await session.call_tool("read_source", {"chunk_id": old, "include_history": True})
    check("history when asked for", not is_error(r), text_of(r))
    h = structured(r) if not is_error(r) else {}
    summary["history"] = h
    check("history is labelled", h.get("status") == "superseded" and "not searchable" in (h.get("note") or ""), h)
    summary["forgotten"] = []
    for args in ({"chunk_id": gone}, {"chunk_id": gone, "include_history": True}):
        r = await session.call_tool("read_source", args)
        check(f"forgotten text never returned ({args})", is_error(r), text_of(r))
        summary["forgotten"].append(text_of(r))


async def check_ask(session, check, summary, expect):
    """Calls `ask` with an answerable and an unanswerable question and checks the results."""
    r = await session.call_tool("ask", {"question": "What is the daily meal allowance abroad?"})
    check("ask ok", not is_error(r), text_of(r))
    a = structured(r) if not is_error(r) else {"answer": "", "sources": [], "method": ""}
    summary["ask"] = a
    sources = a.get("sources", [])
    check(
        "ask source",
        any(s["path"].endswith("onboarding.md") for s in sources),
        sources,
    )
    check("ask audited", a.get("audit_id", 0) > 0, a)
    check("ask verdicts", all(s["verdict"] in ("supported", "unsupported", "not cited") for s in sources), sources)
    if expect == "generative":
        check("ask generative", a["method"] == "generative", a)
        check("ask model", (a.get("model") or "").startswith("local:SmolLM2"), a)
        check("ask text", bool(a["answer"].strip()), a)
    else:
        # An extractive answer with [n] citations, and a notice saying why it is extractive.
        check("ask extractive", a["method"] == "extractive" and a.get("model") is None, a)
        check("ask answer", "45 euros" in a["answer"], a)
        check("ask cites", "[1]" in a["answer"] and len(sources) >= 1, a)
        check("ask supported", all(s["verdict"] != "unsupported" for s in sources), sources)
        want = "could not be loaded" if expect == "fallback" else "no answer model is configured"
        check("ask notice", want in (a.get("notice") or ""), a)

    if expect == "generative":
        # A search while an answer is being generated is served at once, not after it.
        asking = asyncio.create_task(
            session.call_tool("ask", {"question": "What does the handbook say about meals when travelling?"})
        )
        await asyncio.sleep(0.5)
        r = await session.call_tool("search", {"query": "meal allowance"})
        check("search during ask ok", not is_error(r), text_of(r))
        check("search during ask not held up", not asking.done(), "the ask finished before the search")
        r = await asking
        check("concurrent ask ok", not is_error(r), text_of(r))

    # No evidence: "I don't know" with the nearest passages, no model involved.
    r = await session.call_tool("ask", {"question": "Who won the football world cup final in 1998?"})
    check("ask abstain ok", not is_error(r), text_of(r))
    n = structured(r) if not is_error(r) else {}
    summary["ask_abstained"] = n
    check("ask abstained", n.get("abstained") is True and n.get("model") is None, n)
    check("ask nearest", len(n.get("nearest", [])) >= 1, n)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(run(sys.argv[1], sys.argv[2]))
    except Exception as e:  # noqa: BLE001 - report any client failure as JSON
        traceback.print_exc()
        summary = {"ok": False, "failures": [f"exception: {e!r}"]}
    print(json.dumps(summary, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
