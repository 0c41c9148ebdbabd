# Measures the team store's keyword ranking on a BEIR dataset (default SciFact), one row per
# document: BM25 as store/postgres/retrievers.rs computes it in SQL against PostgreSQL's
# ts_rank, nDCG@10 and per-query latency (psql process included). Needs a running server
# (initdb -U cairn -A trust; pg_ctl start with -k $PGDIR -p $PGPORT) and `--load` once.
# Usage: PGDIR=/tmp/pg PGPORT=55439 python3 scripts/team_keyword_gap.py [--load]
import json, math, subprocess, re, sys, time, os
B=os.environ.get("PGBIN") or subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "../src-tauri/crates/cairn-core/tests/pg-server.sh"), "--install"], capture_output=True, text=True).stdout.strip()
D=os.environ.get("PGDIR", "/tmp/teammeasure/pg"); PORT=os.environ.get("PGPORT", "55439")
def psql(sql, db="bench"):
    out = subprocess.run([B+"/psql","-h",D,"-p",PORT,"-U","cairn","-d",db,"-X","-q","-t","-A","-F","\t","-v","ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True)
    if out.returncode: raise Exception(out.stderr)
    return out.stdout
src=open(os.path.join(os.path.dirname(__file__), "../src-tauri/crates/cairn-core/src/store/postgres/retrievers.rs")).read()
bm25=src.split('const BM25: &str = "')[1].split('";')[0]
ds=os.environ.get("DATASET", "../shared/eval/scifact")
corpus=[json.loads(l) for l in open(ds+"/corpus.jsonl")]
queries={}
for l in open(ds+"/queries.jsonl"):
    q=json.loads(l); queries[q["_id"]]=q["text"]
qrels={}
for i,l in enumerate(open(ds+"/qrels/test.tsv")):
    if i==0: continue
    a,b,c=l.strip().split("\t"); qrels.setdefault(a,{})[b]=int(c)
if "--load" in sys.argv:
    psql("DROP DATABASE IF EXISTS bench; CREATE DATABASE bench;", db="postgres")
    psql("""CREATE TABLE chunks (id bigint PRIMARY KEY, current boolean NOT NULL DEFAULT true, words int NOT NULL, title text NOT NULL, heading text NOT NULL DEFAULT '[]', text text NOT NULL,
      tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, title || ' ' || heading || ' ' || text)) STORED);
      CREATE INDEX chunks_tsv ON chunks USING gin (tsv) WHERE current;""")
    with open("/tmp/cairn-keyword-gap.tsv","w") as f:
        for i,d in enumerate(corpus):
            esc=lambda s: s.replace("\\","\\\\").replace("\t"," ").replace("\n"," ").replace("\r"," ")
            words=len([w for w in re.split(r"\W+", d["text"]) if w])
            f.write(f"{i}\t{words}\t{esc(d.get('title',''))}\t{esc(d['text'])}\n")
    psql("\\copy chunks(id, words, title, text) FROM '/tmp/cairn-keyword-gap.tsv'")
    psql("ANALYZE chunks")
ids=[d["_id"] for d in corpus]
def lit(s): return "'"+s.replace("'","''")+"'"
tsrank="""WITH q AS (SELECT to_tsquery('simple', string_agg(quote_literal(t), ' | ')) AS q FROM (SELECT DISTINCT t FROM unnest(tsvector_to_array(to_tsvector('english'::regconfig, $1))) t) x)
SELECT c.id, ts_rank(c.tsv, q.q) AS s FROM chunks c, q WHERE c.current AND c.tsv @@ q.q ORDER BY s DESC, c.id LIMIT $4"""
def run(sql, q):
    s=sql.replace("$1", lit(q)).replace("$2::bigint[]","NULL::bigint[]").replace("$3::bigint[]","NULL::bigint[]").replace("$2","NULL::bigint[]").replace("$3","NULL::bigint[]").replace("$4","10")
    return [ids[int(l.split("\t")[0])] for l in psql(s).strip().splitlines() if l]
def ndcg(ranked, rel):
    dcg=sum((rel.get(d,0))/math.log2(i+2) for i,d in enumerate(ranked[:10]))
    ideal=sorted(rel.values(), reverse=True)[:10]
    idcg=sum(r/math.log2(i+2) for i,r in enumerate(ideal))
    return dcg/idcg if idcg else 0
for name,sql in [("bm25",bm25),("ts_rank",tsrank)]:
    t=time.time(); tot=0; lat=[]
    for qid,rel in qrels.items():
        t0=time.time(); r=run(sql, queries[qid]); lat.append(time.time()-t0)
        tot+=ndcg(r,rel)
    lat.sort()
    print(name, "nDCG@10 %.4f"%(tot/len(qrels)), "queries", len(qrels), "p50 %.1f ms p95 %.1f ms (psql process included)"%(lat[len(lat)//2]*1000, lat[int(len(lat)*.95)]*1000))
