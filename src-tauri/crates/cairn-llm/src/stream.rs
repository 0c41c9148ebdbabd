//! What both generators share: turning model output into the pieces given to `on_token`
//! (UTF-8 reassembly, stop strings, timing) and the final [`GenerationOutput`].

use std::time::{Duration, Instant};

use crate::{Finish, GenerationOutput};

/// What the generator should do after a piece was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// A stop string was produced: end with [`Finish::Stop`].
    Stopped,
}

/// Holds back text that could be the start of a stop string until it is known not to be.
#[derive(Debug, Default)]
pub(crate) struct StopFilter {
    stops: Vec<String>,
    pending: String,
}

impl StopFilter {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Adds `piece`; returns the text that is now safe to emit, and whether a stop string was
    /// found (everything from it on is dropped).
    pub(crate) fn push(&mut self, piece: &str) -> (String, bool) {
        self.pending.push_str(piece);
        if self.stops.is_empty() {
            return (std::mem::take(&mut self.pending), false);
        }
        let first_stop = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = first_stop {
            let out = self.pending[..at].to_owned();
            self.pending.clear();
            return (out, true);
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        let keep_from = self
            .pending
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.pending[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.pending.len());
        let rest = self.pending.split_off(keep_from);
        (std::mem::replace(&mut self.pending, rest), false)
    }

    /// Text held back at the end of the answer (it never completed a stop string).
    pub(crate) fn take_pending(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

/// Collects the answer and feeds `on_token`.
pub(crate) struct Output<'a> {
    start: Instant,
    first: Option<Duration>,
    text: String,
    stop: StopFilter,
    utf8: Vec<u8>,
    on_token: &'a mut dyn FnMut(&str),
}

impl<'a> Output<'a> {
    pub(crate) fn new(start: Instant, stops: &[String], on_token: &'a mut dyn FnMut(&str)) -> Self {
        Self {
            start,
            first: None,
            text: String::new(),
            stop: StopFilter::new(stops),
            utf8: Vec::new(),
            on_token,
        }
    }

    /// Pushes raw bytes of a token; a multi-byte character split over tokens is held until it
    /// is complete. Invalid bytes become U+FFFD.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> Flow {
        self.utf8.extend_from_slice(bytes);
        let mut decoded = String::new();
        loop {
            match std::str::from_utf8(&self.utf8) {
                Ok(s) => {
                    decoded.push_str(s);
                    self.utf8.clear();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // Safe: from_utf8 said this prefix is valid.
                    decoded.push_str(std::str::from_utf8(&self.utf8[..valid]).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            decoded.push(char::REPLACEMENT_CHARACTER);
                            self.utf8.drain(..valid + bad);
                        }
                        None => {
                            // An incomplete character at the end: wait for more bytes.
                            self.utf8.drain(..valid);
                            break;
                        }
                    }
                }
            }
        }
        self.push_str(&decoded)
    }

    /// Pushes a piece of text.
    pub(crate) fn push_str(&mut self, piece: &str) -> Flow {
        if piece.is_empty() {
            return Flow::Continue;
        }
        let (out, stopped) = self.stop.push(piece);
        if !out.is_empty() {
            self.emit(&out);
        }
        if stopped {
            Flow::Stopped
        } else {
            Flow::Continue
        }
    }

    fn emit(&mut self, piece: &str) {
        if self.first.is_none() {
            self.first = Some(self.start.elapsed());
        }
        self.text.push_str(piece);
        (self.on_token)(piece)
    }

    /// Ends the answer. On a natural end (Stop without a stop string, or Length) the text held
    /// back for stop-string matching is delivered; after a cancel nothing more is delivered.
    pub(crate) fn finish(
        mut self,
        finish: Finish,
        flush: bool,
        prompt_tokens: Option<usize>,
        completion_tokens: usize,
    ) -> GenerationOutput {
        if flush && finish != Finish::Cancelled {
            let mut rest = self.stop.take_pending();
            if !self.utf8.is_empty() {
                rest.push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.utf8)));
            }
            if !rest.is_empty() {
                self.emit(&rest);
            }
        }
        let total = self.start.elapsed();
        GenerationOutput {
            text: self.text,
            prompt_tokens,
            completion_tokens,
            time_to_first_token: self.first,
            total,
            finish,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (Vec<String>, String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut got = Vec::new();
        let mut sink = |p: &str| got.push(p.to_owned());
        let mut out = Output::new(Instant::now(), &stops, &mut sink);
        let mut stopped = false;
        for p in pieces {
            if out.push_str(p) == Flow::Stopped {
                stopped = true;
                break;
            }
        }
        let g = out.finish(
            if stopped {
                Finish::Stop
            } else {
                Finish::Length
            },
            !stopped,
            None,
            pieces.len(),
        );
        (got, g.text, stopped)
    }

    #[test]
    fn no_stops_passes_pieces_through() {
        let (got, text, stopped) = run(&[], &["Hel", "lo", " world"]);
        assert_eq!(got, ["Hel", "lo", " world"]);
        assert_eq!(text, "Hello world");
        assert!(!stopped);
    }

    #[test]
    fn stop_string_split_over_pieces_is_cut() {
        let (got, text, stopped) = run(&["</answer>"], &["The answer", " is 4</an", "swer> junk"]);
        assert!(stopped);
        assert_eq!(text, "The answer is 4");
        assert_eq!(got.concat(), text);
    }

    #[test]
    fn held_back_prefix_is_released_when_it_does_not_match() {
        let (got, text, stopped) = run(&["\n\n"], &["a\n", "b\n", "c"]);
        assert!(!stopped);
        assert_eq!(text, "a\nb\nc");
        assert_eq!(got.concat(), text);
        // "a" goes out at once, "\n" waits for the next piece.
        assert_eq!(got[0], "a");
    }

    #[test]
    fn held_back_tail_is_flushed_at_the_end() {
        let (got, text, _) = run(&["STOP"], &["x ST"]);
        assert_eq!(text, "x ST");
        assert_eq!(got, ["x ", "ST"]);
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let (_, text, stopped) = run(&["b", "a"], &["xxab"]);
        assert!(stopped);
        assert_eq!(text, "xx");
    }

    #[test]
    fn multibyte_characters_split_over_tokens_are_reassembled() {
        let mut got = Vec::new();
        let mut sink = |p: &str| got.push(p.to_owned());
        let mut out = Output::new(Instant::now(), &[], &mut sink);
        let euro = "€".as_bytes(); // 3 bytes
        assert_eq!(out.push_bytes(&euro[..1]), Flow::Continue);
        assert_eq!(out.push_bytes(&euro[1..]), Flow::Continue);
        assert_eq!(out.push_bytes(b"\xffok"), Flow::Continue);
        let g = out.finish(Finish::Stop, true, None, 3);
        assert_eq!(g.text, "€\u{fffd}ok");
        assert_eq!(got, ["€", "\u{fffd}ok"]);
    }
}
