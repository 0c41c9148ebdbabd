//! The Evaluate view's run: the user's own question file (CSV or JSONL with expected answers,
//! `cairn_core::eval::load_questions`) asked of the library in each answer mode and scored as
//! `cairn eval --answers` scores it. It runs on its own read-only engine from the pool (the
//! caller runs it on a blocking thread), reports progress per question and stops when asked.

use std::path::Path;

use cairn_core::answer::{AnswerMode, Generator};
use cairn_core::eval::{evaluate_answers, load_questions};
use cairn_core::stop::StopToken;
use cairn_core::Error;

use crate::convert::mode_result;
use crate::error::ErrorInfo;
use crate::views::{EvaluateInput, EvaluateProgress, EvaluationView};
use crate::Library;

impl Library {
    /// Asks every question of `input.path` (up to `max_questions`, spread evenly) in each of
    /// `input.modes`; `generator` answers the `generative` mode. Every answer is recorded in
    /// the audit log like any other. Stopping `cancel` ends the run with a `cancelled` error.
    pub fn evaluate(
        &self,
        input: &EvaluateInput,
        generator: Option<&dyn Generator>,
        cancel: &StopToken,
        on_progress: &mut dyn FnMut(EvaluateProgress),
    ) -> Result<EvaluationView, ErrorInfo> {
        let modes = input
            .modes
            .iter()
            .map(|m| match m.as_str() {
                "extractive" => Ok(AnswerMode::Extractive),
                "generative" if generator.is_some() => Ok(AnswerMode::Generative),
                "generative" => Err(Error::Invalid(
                    "no answer model is configured, so generated answers cannot be evaluated"
                        .into(),
                )),
                other => Err(Error::Invalid(format!(
                    "unknown answer mode `{other}` (extractive or generative)"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if modes.is_empty() {
            return Err(
                Error::Invalid("choose at least one answer mode to evaluate".into()).into(),
            );
        }
        let path = Path::new(input.path.trim());
        let questions = load_questions(path)?;
        let file = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pool = self.readers()?;
        let mut engine = pool.checkout()?;
        let mut results = Vec::with_capacity(modes.len());
        for mode in modes {
            let name = mode.as_str().to_owned();
            let report = evaluate_answers(
                &mut engine,
                &file,
                &questions,
                input.max_questions.map(|n| n.max(1) as usize),
                generator.filter(|_| mode == AnswerMode::Generative),
                mode,
                cancel,
                &mut |done, total| {
                    on_progress(EvaluateProgress {
                        mode: name.clone(),
                        done: done as u32,
                        total: total as u32,
                    })
                },
            )?;
            results.push(mode_result(report));
        }
        Ok(EvaluationView {
            file,
            questions: questions.len() as u32,
            modes: results,
        })
    }
}
