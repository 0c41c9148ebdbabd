//! The reranker stage with a real ONNX Runtime and a tiny generated cross-encoder
//! (tests/fixtures/rerank/make_model.py: its logit is the number of `banana` tokens in the
//! passage), on a library indexed with the real embedding model (models/dist; the test
//! command fetches it, and these tests fail without it).

use std::path::{Path, PathBuf};

use cairn_core::catalog::Filters;
use cairn_core::config::Config;
use cairn_core::embed;
use cairn_core::engine::Writer;
use cairn_core::rerank::CrossEncoder;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rerank/model.onnx")
}

fn default_files() -> embed::ResolvedModel {
    embed::resolve(&Config::default().embedding)
        .expect("models/dist is absent: run `bash models/fetch.sh` (the test command does)")
}

#[test]
fn the_cross_encoder_scores_each_pair_in_order() {
    let files = default_files();
    let model = CrossEncoder::load(&fixture(), &files.tokenizer, &files.onnxruntime, 128).unwrap();
    let passages = [
        "An apple a day.",
        "Banana bread needs a ripe banana.",
        "One banana.",
        "banana banana banana",
        "No fruit here at all, only a long sentence about trains and timetables.",
        "banana",
        "apple",
        "pear",
        "banana split",
    ];
    // More pairs than one batch, and the question's own bananas are not counted.
    let scores = model.score("Which banana?", &passages).unwrap();
    assert_eq!(scores, vec![0.0, 2.0, 1.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn a_missing_model_is_named_with_the_setting_to_fix() {
    let files = default_files();
    let err = CrossEncoder::load(
        Path::new("/nonexistent/reranker.onnx"),
        &files.tokenizer,
        &files.onnxruntime,
        128,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/reranker.onnx") && msg.contains("rerank.model"),
        "{msg}"
    );
}

#[test]
fn the_reranker_reorders_the_passages_an_answer_gets() {
    let root = tempfile::tempdir().unwrap();
    let lib = root.path().join("library");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(
        lib.join("orchard.md"),
        "# Apple orchard\n\nThe apple orchard harvest starts in September, when the apple \
         trees of the orchard are picked by hand.\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("market.md"),
        "# Market\n\nAt the market the orchard stall sells a banana, a banana cake and \
         dried banana chips next to the apples.\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("trains.md"),
        "# Trains\n\nThe night train to Vienna leaves at ten and arrives at seven.\n",
    )
    .unwrap();
    let files = default_files();
    let mut config = Config::default();
    let mut engine = Writer::open(&root.path().join("data"), config.clone()).unwrap();
    engine.add_folder(&lib).unwrap();
    let report = engine
        .index(&mut |_| {}, &cairn_core::stop::StopToken::new())
        .unwrap();
    assert!(report.embedding_error.is_none(), "{report:?}");
    let query = "apple orchard harvest";
    let first = |engine: &mut Writer| {
        let r = engine
            .retrieve_with_evidence(query, &Filters::default(), 2)
            .unwrap();
        assert_eq!(r.hits.len(), 2);
        r.hits[0].path.file_name().unwrap().to_owned()
    };
    assert_eq!(first(&mut engine), "orchard.md");
    drop(engine);

    config.rerank.model = fixture();
    config.rerank.tokenizer = files.tokenizer.clone();
    config.rerank.top_k = 3;
    let mut engine = Writer::open(&root.path().join("data"), config).unwrap();
    assert_eq!(first(&mut engine), "market.md");
}
