//! The Evaluate view's run on a real library (real files, the pinned embedding model): a user's
//! question file asked in extractive mode, scored per question, with progress; a cancelled run
//! and the mistakes a user can make (a missing file, a mode with no model) say so.

use std::time::{Duration, Instant};

use cairn_core::stop::StopToken;
use cairn_library::{EvaluateInput, Library, LibraryOptions, ProgressPhase};

#[test]
fn a_question_file_is_asked_and_scored_per_question() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("refunds.md"),
        "# Refunds\n\nCustomers who return a product are refunded within 14 days of the return. \
         Refunds go back to the card that paid.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("office.md"),
        "# Office\n\nThe Oslo office opened in 2019 on Karl Johans gate. \
         It has forty desks and a rooftop garden.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("travel.md"),
        "# Travel\n\nTrain travel is booked through the travel desk. \
         Flights need a manager's approval before booking.\n",
    )
    .unwrap();
    let lib = Library::open(LibraryOptions::new(dir.path().join("data")), |_| {});
    lib.add_folders(vec![docs]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = lib.info();
        if lib.progress().phase == ProgressPhase::Done
            && info.passages > 0
            && info.embedded_passages == info.passages
        {
            break;
        }
        assert!(Instant::now() < deadline, "not indexed in time");
        std::thread::sleep(Duration::from_millis(100));
    }

    let questions = dir.path().join("questions.csv");
    std::fs::write(
        &questions,
        "question,answer\n\
         How many days until a refund is paid?,14 days|fourteen days\n\
         When did the Oslo office open?,2019\n",
    )
    .unwrap();
    let input = EvaluateInput {
        path: questions.display().to_string(),
        modes: vec!["extractive".into()],
        max_questions: None,
    };
    let mut seen = Vec::new();
    let view = lib
        .evaluate(&input, None, &StopToken::new(), &mut |p| seen.push(p))
        .unwrap();
    assert_eq!((view.file.as_str(), view.questions), ("questions.csv", 2));
    assert_eq!(view.modes.len(), 1);
    let m = &view.modes[0];
    assert_eq!(
        (m.mode.as_str(), m.asked, m.answerable),
        ("extractive", 2, 2)
    );
    assert_eq!(m.rows.len(), 2);
    for row in &m.rows {
        assert_eq!(row.outcome, "right", "{row:?}");
        assert!(row.citations > 0 && row.audit_id.is_some(), "{row:?}");
    }
    assert!(m.rows[1].answer.contains("2019"), "{:?}", m.rows[1]);
    assert_eq!(m.answer_contained, 1.0);
    assert_eq!(m.citation_precision, Some(1.0));
    // Progress: a message before each question and one at the end.
    assert_eq!(seen.first().map(|p| (p.done, p.total)), Some((0, 2)));
    assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((2, 2)));

    // A stopped run ends as cancelled.
    let stopped = StopToken::new();
    stopped.stop();
    let err = lib
        .evaluate(&input, None, &stopped, &mut |_| {})
        .unwrap_err();
    assert_eq!(err.kind, "cancelled");

    // Generated answers need a model; a missing file is named.
    let generative = EvaluateInput {
        modes: vec!["generative".into()],
        ..input.clone()
    };
    let err = lib
        .evaluate(&generative, None, &StopToken::new(), &mut |_| {})
        .unwrap_err();
    assert!(err.message.contains("no answer model"), "{err:?}");
    let missing = EvaluateInput {
        path: dir.path().join("nope.jsonl").display().to_string(),
        ..input
    };
    let err = lib
        .evaluate(&missing, None, &StopToken::new(), &mut |_| {})
        .unwrap_err();
    assert!(err.message.contains("nope.jsonl"), "{err:?}");
    lib.shutdown();
}
