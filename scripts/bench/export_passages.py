#!/usr/bin/env python3
"""The texts Cairn embedded for a library: one `{"text": …}` line per distinct passage
(title, heading path and text joined as `cairn_core::chunk::embedding_text` joins them; Cairn
embeds each distinct text once). Read from the catalog, for `ort_embed.py` and
`cairn bench embed` to embed exactly the same work (scripts/bench.sh)."""
import json
import sqlite3
import sys

catalog, out = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
seen = set()
with open(out, "w", encoding="utf-8") as f:
    for h, title, heading, text in db.execute(
        "SELECT c.embed_hash, v.title, c.heading, c.text FROM chunks c "
        "JOIN versions v ON v.id = c.version_id ORDER BY c.id"
    ):
        if h in seen:
            continue
        seen.add(h)
        title = (title or "").strip()
        heads = [x.strip() for x in json.loads(heading or "[]") if x.strip()]
        if title and heads and heads[0] == title:
            heads = heads[1:]
        header = title
        if heads:
            header = (header + "\n" if header else "") + " > ".join(heads)
        body = text if not header else (header if not text else f"{header}\n\n{text}")
        f.write(json.dumps({"text": body}) + "\n")
print(len(seen))
