// App-wide state (Svelte 5 runes): the current screen, the library, indexing progress, theme.
import { call, commands, events, type IndexProgress, type LibraryInfo } from "./api";

export type Screen = "first-run" | "library" | "search" | "ask" | "evaluate" | "settings" | "audit";
export type Theme = "system" | "light" | "dark";

const initialProgress: IndexProgress = {
  phase: "idle",
  files_done: 0,
  files_total: 0,
  chunks_done: 0,
  chunks_total: 0,
  pages_done: 0,
  pages_total: 0,
  rate: null,
  eta_seconds: null,
  current: null,
  message: "Opening the library…",
  writable: false,
  ready: false,
};

export const app = $state({
  screen: "search" as Screen,
  info: null as LibraryInfo | null,
  progress: initialProgress,
  /** Bumped when folders, documents or marks change: screens reload. */
  version: 0,
  theme: (localStorage.getItem("cairn.theme") as Theme) || "system",
  /** A query handed from elsewhere to the search screen. */
  searchFocus: 0,
});

export function setTheme(t: Theme) {
  app.theme = t;
  localStorage.setItem("cairn.theme", t);
  applyTheme();
}

export function applyTheme() {
  const root = document.documentElement;
  if (app.theme === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", app.theme);
}

export async function refreshInfo() {
  try {
    app.info = await call(commands.libraryInfo());
  } catch {
    // Shown by the screens that need it.
  }
}

let started = false;

/** Subscribes to the Rust side's events and loads the first state. */
export async function startApp() {
  if (started) return;
  started = true;
  applyTheme();
  await events.progressEvent.listen((e) => {
    const was = app.progress;
    app.progress = e.payload;
    const p = e.payload;
    if (was.ready !== p.ready || was.writable !== p.writable || (p.phase === "done" && was.phase !== "done")) void refreshInfo();
  });
  await events.libraryChanged.listen(() => {
    app.version++;
    void refreshInfo();
  });
  try {
    app.progress = await call(commands.progress());
  } catch {
    /* keep the initial snapshot */
  }
  await refreshInfo();
  // The library may still be opening: poll until it is.
  while (!app.info?.ready && !app.info?.error) {
    await new Promise((r) => setTimeout(r, 150));
    await refreshInfo();
  }
}
