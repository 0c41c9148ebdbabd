//! End-to-end test of the desktop app as a person uses it: the real window (target/debug/
//! cairn-desktop) under Xvfb, driven through tauri-driver + WebKitWebDriver. It adds a folder of
//! real files, watches indexing finish, searches, asks (answer, citation panel, abstention),
//! deprecates a document and sees it leave the results, visits settings and audit, evaluates a
//! question file, saving
//! a screenshot of every screen in target/screenshots/ (light, then dark).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use cairn_tests::desktop::{
    build_desktop_library, desktop_bin, runtime, screenshots_dir, testid, ui_ready_ms, AppOptions,
    DesktopApp,
};
use fantoccini::Locator;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);
const INDEXING: Duration = Duration::from_secs(300);
const ANSWER: Duration = Duration::from_secs(240);

#[test]
fn a_person_indexes_searches_asks_and_deprecates_in_the_real_window() -> Result<()> {
    let bin = desktop_bin()?;
    let tmp = tempfile::tempdir()?;
    let lib = build_desktop_library(tmp.path())?;
    let opts = AppOptions::new(bin, &tmp.path().join("app"));
    runtime().block_on(async {
        let mut app = DesktopApp::launch(opts, "e2e").await?;
        let result = journey(&mut app, &lib).await;
        let log = app.log_text();
        let shots = app.shots.clone();
        app.close().await?;
        println!(
            "{} screenshots in {}",
            shots.len(),
            screenshots_dir().display()
        );
        result.with_context(|| format!("app stderr:\n{log}"))
    })
}

/// The hostile folder (crashing, looping and linked files, and 300 of the generator's hostile
/// files) in the real window: indexing ends, the window stays alive, the problems are listed
/// with their reasons, and a well-formed file among them is found.
#[test]
fn a_hostile_folder_in_the_real_window() -> Result<()> {
    let bin = desktop_bin()?;
    let tmp = tempfile::tempdir()?;
    let (lib, _outside) = cairn_tests::write_hostile_folder(tmp.path())?;
    let bulk = cairn_tests::hostile_bulk::write_bulk(&lib.join("bulk"), 300, 7)?;
    let opts = AppOptions::new(bin.clone(), &tmp.path().join("app"));
    runtime().block_on(async {
        let mut app = DesktopApp::launch(opts, "hostile").await?;
        let result = hostile_journey(&mut app, &bin, &lib, &bulk.findable[0]).await;
        let log = app.log_text();
        app.close().await?;
        result.with_context(|| format!("app stderr:\n{log}"))
    })
}

async fn hostile_journey(app: &mut DesktopApp, bin: &Path, lib: &Path, word: &str) -> Result<()> {
    app.wait("screen-first-run", LONG).await?;
    add_folder(app, lib).await?;
    app.click("start-indexing-button").await?;
    app.wait("progress", LONG).await?;
    let deadline = std::time::Instant::now() + INDEXING;
    loop {
        match phase(app).await.unwrap_or_default().as_str() {
            "done" => break,
            "error" => bail!(
                "indexing failed: {}",
                app.text("progress-text").await.unwrap_or_default()
            ),
            _ => {}
        }
        ensure!(
            app.app_pid(bin).is_some(),
            "the app died while indexing the hostile folder"
        );
        ensure!(
            std::time::Instant::now() < deadline,
            "indexing the hostile folder did not finish within {INDEXING:?}\n{}",
            app.context().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!(
        "hostile folder indexed in the window: {}",
        app.text("progress-text").await.unwrap_or_default()
    );
    app.screenshot("01-hostile-indexed").await?;
    go(app, "library").await?;
    app.click("problems-tab").await?;
    let rows = app
        .poll_js(
            "problem rows",
            "return Array.from(document.querySelectorAll('[data-testid=\"problem-row\"]')).map(r => r.textContent)",
            vec![],
            LONG,
            |v| v.as_array().is_some_and(|a| a.len() > 50),
        )
        .await?;
    let rows: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_owned())
        .collect();
    for needle in [
        "draws itself",
        "outside the folder",
        "system files",
        "nested",
    ] {
        ensure!(
            rows.iter().any(|r| r.contains(needle)),
            "no problem row says {needle:?}"
        );
    }
    app.screenshot("02-hostile-problems").await?;
    go(app, "search").await?;
    search_mode(app, "keyword").await?;
    let hits = search(app, word, "the well-formed file's word", |a| a.len() == 1).await?;
    ensure!(hits.len() == 1, "{word}: {hits:?}");
    app.screenshot("03-hostile-search").await?;
    Ok(())
}

/// Types a folder into the first-run screen, adds it, and waits until it is listed.
async fn add_folder(app: &DesktopApp, lib: &Path) -> Result<()> {
    let lib_s = lib.to_string_lossy().into_owned();
    app.type_into("folder-path-input", &lib_s).await?;
    app.click("folder-add-button").await?;
    app.poll_js(
        "the folder to appear in folder-list",
        "const l = document.querySelector('[data-testid=\"folder-list\"]'); return l ? l.textContent : ''",
        vec![],
        Duration::from_secs(20),
        |v| v.as_str().is_some_and(|t| t.contains(&lib_s)),
    )
    .await?;
    Ok(())
}

/// Waits for a screen root after clicking its nav entry.
async fn go(app: &DesktopApp, screen: &str) -> Result<()> {
    app.click(&format!("nav-{screen}")).await?;
    app.wait(&format!("screen-{screen}"), LONG).await?;
    Ok(())
}

async fn phase(app: &DesktopApp) -> Option<String> {
    app.client
        .execute(
            "const p = document.querySelector('[data-testid=\"progress\"]'); \
             return p ? p.getAttribute('data-phase') : null",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// `[data-path, data-page, marked terms]` of every shown search result.
const RESULTS_JS: &str =
    "return Array.from(document.querySelectorAll('[data-testid=\"search-result\"]'))\
    .map(r => [r.getAttribute('data-path') || '', r.getAttribute('data-page') || '', \
               Array.from(r.querySelectorAll('mark')).map(m => m.textContent)])";

/// Types a query and waits until the shown results belong to it (empty, or some `<mark>`
/// matches a word of the query; results of the previous query can linger while the new search
/// runs) and satisfy `ok`. Returns the results.
async fn search(
    app: &DesktopApp,
    query: &str,
    what: &str,
    ok: impl Fn(&[Value]) -> bool,
) -> Result<Vec<Value>> {
    app.type_into("search-input", query).await?;
    let words: Vec<String> = query
        .split_whitespace()
        .filter(|w| w.len() >= 4)
        .map(|w| w[..4].to_lowercase())
        .collect();
    let fresh = |a: &[Value]| {
        a.is_empty()
            || a.iter().any(|r| {
                r[2].as_array().is_some_and(|marks| {
                    marks.iter().any(|m| {
                        let m = m.as_str().unwrap_or("").to_lowercase();
                        words.iter().any(|w| m.contains(w.as_str()))
                    })
                })
            })
    };
    let v = app
        .poll_js(what, RESULTS_JS, vec![], LONG, |v| {
            v.as_array().is_some_and(|a| fresh(a) && ok(a))
        })
        .await?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

/// Chooses a search mode (hybrid | keyword | semantic) in the mode selector.
async fn search_mode(app: &DesktopApp, mode: &str) -> Result<()> {
    let sel = app.wait("search-mode", LONG).await?;
    sel.select_by_value(mode)
        .await
        .with_context(|| format!("choosing search mode {mode}"))?;
    Ok(())
}

fn path_of(r: &Value) -> &str {
    r[0].as_str().unwrap_or("")
}

async fn journey(app: &mut DesktopApp, lib: &Path) -> Result<()> {
    // First run.
    app.wait("screen-first-run", LONG).await?;
    match ui_ready_ms(&app.log_text()) {
        Some(ms) => println!("ui ready after {ms} ms"),
        None => println!("(the app did not log \"ui ready after N ms\" yet)"),
    }
    app.screenshot("01-first-run").await?;

    add_folder(app, lib).await?;
    app.screenshot("02-first-run-folder-added").await?;

    // Indexing: progress is visible and reaches done.
    app.click("start-indexing-button").await?;
    app.wait("progress", LONG).await?;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + INDEXING;
    let mut shot_progress = false;
    loop {
        let p = phase(app).await.unwrap_or_default();
        if seen.last() != Some(&p) {
            seen.push(p.clone());
        }
        match p.as_str() {
            "done" => break,
            "error" => bail!(
                "indexing failed: {}\n{}",
                app.text("progress-text").await.unwrap_or_default(),
                app.context().await
            ),
            "scanning" | "parsing" | "embedding" if !shot_progress => {
                shot_progress = true;
                app.screenshot("03-indexing").await?;
            }
            _ => {}
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "indexing did not finish within {INDEXING:?}; phases seen {seen:?}\n{}",
                app.context().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("indexing phases seen: {seen:?}");
    println!(
        "progress when done: {}",
        app.text("progress-text").await.unwrap_or_default()
    );
    app.screenshot("04-indexing-done").await?;

    // Library: every fixture document is listed with its absolute path.
    go(app, "library").await?;
    let rows = app
        .poll_js(
            "five documents in the library",
            "return Array.from(document.querySelectorAll('[data-testid=\"doc-row\"]')).map(r => r.getAttribute('data-path'))",
            vec![],
            LONG,
            |v| v.as_array().is_some_and(|a| a.len() >= 5),
        )
        .await?;
    for name in [
        "travel.md",
        "lighthouse.txt",
        "refunds.html",
        "annual-report.pdf",
        "meeting-notes.docx",
    ] {
        ensure!(
            rows.as_array().unwrap().iter().any(|p| p
                .as_str()
                .is_some_and(|p| p.ends_with(name) && p.starts_with('/'))),
            "library lacks {name}: {rows}"
        );
    }
    app.screenshot("05-library").await?;

    // Search: instant results with highlighted terms and the PDF page.
    go(app, "search").await?;
    let r = search(
        app,
        "glacier monitoring",
        "the annual report (page 2) as a result",
        |a| {
            a.iter()
                .any(|r| path_of(r).ends_with("annual-report.pdf") && r[1] == "2")
        },
    )
    .await?;
    let hit = r
        .iter()
        .find(|r| path_of(r).ends_with("annual-report.pdf"))
        .unwrap();
    let marks: Vec<String> = hit[2]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|s| s.as_str().map(|s| s.to_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        marks.iter().any(|m| m.contains("glacier")),
        "the matched term is not highlighted with <mark>: {hit}"
    );
    app.screenshot("06-search").await?;

    let r = search(
        app,
        "refund within fourteen days",
        "the refund policy as a result",
        |a| a.iter().any(|r| path_of(r).ends_with("refunds.html")),
    )
    .await?;
    println!("refund search before deprecation: {}", json!(r));

    // A document's script never runs in the app.
    let injected = app
        .client
        .execute("return typeof window.injected", vec![])
        .await?;
    ensure!(
        injected == "undefined",
        "a script from an indexed HTML file ran in the WebView: window.injected is {injected}"
    );

    // Exact-word search for words that occur nowhere: the designed empty state.
    search_mode(app, "keyword").await?;
    search(
        app,
        "zzqx unfindable wombat",
        "no results for nonsense",
        |a| a.is_empty(),
    )
    .await?;
    app.wait("search-empty", LONG).await?;
    app.screenshot("07-search-empty").await?;
    search_mode(app, "hybrid").await?;

    // Ask: an answer with citations; a chip opens the cited passage.
    go(app, "ask").await?;
    app.screenshot("08-ask-empty").await?;
    app.type_into(
        "ask-input",
        "How many days do customers have to return goods for a refund?",
    )
    .await?;
    app.click("ask-submit").await?;
    app.poll_js(
        "an answer with citation chips (or an abstention)",
        "const a = document.querySelector('[data-testid=\"answer-text\"]'); \
         const chips = document.querySelectorAll('[data-testid=\"citation-chip\"]').length; \
         const abst = document.querySelector('[data-testid=\"answer-abstained\"]'); \
         return abst ? 'abstained' : (a && a.textContent.trim() && chips > 0 ? 'answered' : null)",
        vec![],
        ANSWER,
        |v| v.is_string(),
    )
    .await
    .and_then(|v| {
        ensure!(
            v == "answered",
            "the app abstained on a question its library answers"
        );
        Ok(())
    })?;
    let answer = app.text("answer-text").await?;
    let mode = app.wait("answer-mode", Duration::from_secs(5)).await.ok();
    let mode = match mode {
        Some(el) => el
            .attr("data-mode")
            .await?
            .unwrap_or(el.text().await.unwrap_or_default()),
        None => String::from("(not shown)"),
    };
    println!("answer ({mode}): {answer}");
    app.screenshot("09-ask-answer").await?;

    let chip = app.wait("citation-chip", LONG).await?;
    let n = chip.attr("data-n").await?.unwrap_or_default();
    app.click_el(&chip, "the first citation chip").await?;
    let panel = app.wait("citation-panel", LONG).await?;
    let panel_text = panel.text().await?;
    ensure!(
        !panel_text.trim().is_empty(),
        "citation panel [{n}] is empty"
    );
    println!("citation [{n}] panel: {}", panel_text.replace('\n', " | "));
    app.screenshot("10-citation-panel").await?;

    // Ask something the library cannot answer: an honest "I don't know".
    app.type_into(
        "ask-input",
        "What was the winning score of the 1987 world snooker championship final?",
    )
    .await?;
    app.click("ask-submit").await?;
    app.wait("answer-abstained", ANSWER).await?;
    app.screenshot("11-ask-abstained").await?;

    // Deprecate the refund policy; it leaves the search results.
    go(app, "library").await?;
    let row_css = "[data-testid=\"doc-row\"][data-path$=\"refunds.html\"]";
    let row = app.wait_css(row_css, LONG).await?;
    let button = row
        .find(Locator::Css(&testid("doc-deprecate")))
        .await
        .context("the refunds.html row has no doc-deprecate button")?;
    app.click_el(&button, "doc-deprecate on refunds.html")
        .await?;
    app.type_into(
        "deprecate-reason-input",
        "Replaced by the 2026 returns policy",
    )
    .await?;
    app.screenshot("12-deprecate-dialog").await?;
    app.click("deprecate-confirm").await?;
    app.poll_js(
        "refunds.html to show status deprecated",
        "const r = document.querySelector(arguments[0]); \
         const s = r && r.querySelector('[data-testid=\"doc-status\"]'); \
         return s ? s.textContent.toLowerCase() : ''",
        vec![json!(row_css)],
        LONG,
        |v| v.as_str().is_some_and(|t| t.contains("deprecated")),
    )
    .await?;
    app.screenshot("13-library-deprecated").await?;

    go(app, "search").await?;
    let r = search(
        app,
        "refund within fourteen days",
        "results without the deprecated refund policy",
        |a| !a.iter().any(|r| path_of(r).ends_with("refunds.html")),
    )
    .await?;
    println!("refund search after deprecation: {}", json!(r));
    app.screenshot("14-search-after-deprecation").await?;

    // Settings and audit.
    go(app, "settings").await?;
    app.wait("settings-test-connection", LONG).await?;
    app.wait("settings-save", LONG).await?;
    app.screenshot("15-settings").await?;

    go(app, "audit").await?;
    app.poll_js(
        "two audit rows (one per question)",
        "return document.querySelectorAll('[data-testid=\"audit-row\"]').length",
        vec![],
        LONG,
        |v| v.as_u64().is_some_and(|n| n >= 2),
    )
    .await?;
    app.wait("audit-export", LONG).await?;
    app.screenshot("16-audit").await?;

    evaluate(app, lib).await?;
    dark_screens(app).await
}

/// Evaluate: a question file (beside the library, typed as a path) asked in extractive mode;
/// the metrics table and one row per question appear.
async fn evaluate(app: &mut DesktopApp, lib: &Path) -> Result<()> {
    let file = lib
        .parent()
        .context("the library folder has a parent")?
        .join("questions.csv");
    std::fs::write(
        &file,
        "question,answer\n\
         How much is the daily meal allowance abroad?,45 euros\n\
         How often does the foghorn sound?,twice a minute\n",
    )?;
    go(app, "evaluate").await?;
    app.type_into("eval-path", &file.display().to_string())
        .await?;
    // Extractive only (the answer model, when one is set up, would take minutes here); the
    // settings that tick it load with the screen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.client
        .execute(
            "const g = document.querySelector('[data-testid=\"eval-generative\"]'); \
             if (g && g.checked) g.click();",
            vec![],
        )
        .await?;
    app.click("eval-run").await?;
    let done = app
        .poll_js(
            "the evaluation's metrics table (or its error)",
            "if (document.querySelector('[data-testid=\"eval-metrics\"]')) return 'metrics'; \
             const e = document.querySelector('[data-testid=\"error\"]'); \
             return e ? e.textContent : null",
            vec![],
            ANSWER,
            |v| v.is_string(),
        )
        .await?;
    ensure!(done == "metrics", "the evaluation failed: {done}");
    let rows = app
        .poll_js(
            "two evaluated questions",
            "return Array.from(document.querySelectorAll('[data-testid=\"eval-row\"]')) \
             .map(r => r.dataset.outcome)",
            vec![],
            LONG,
            |v| v.as_array().is_some_and(|a| a.len() == 2),
        )
        .await?;
    println!("evaluate outcomes: {rows}");
    ensure!(
        rows.as_array()
            .is_some_and(|a| a.iter().any(|o| o == "right")),
        "no question of the file was answered right: {rows}"
    );
    app.screenshot("17-evaluate").await.map(|_| ())
}

/// Switches to the dark theme with the theme toggle (system → light → dark) and captures
/// each screen again.
async fn dark_screens(app: &mut DesktopApp) -> Result<()> {
    for _ in 0..3 {
        let label = app.text("theme-toggle").await?.to_lowercase();
        if label.contains("dark") {
            break;
        }
        app.click("theme-toggle").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let label = app.text("theme-toggle").await?;
    ensure!(
        label.to_lowercase().contains("dark"),
        "the theme toggle never reached dark (shows {label:?})"
    );
    let bg = app
        .client
        .execute(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await?;
    println!("dark theme body background: {bg}");
    for (i, screen) in ["library", "search", "ask", "evaluate", "settings", "audit"]
        .iter()
        .enumerate()
    {
        go(app, screen).await?;
        app.screenshot(&format!("{:02}-dark-{screen}", 18 + i))
            .await?;
    }
    Ok(())
}
