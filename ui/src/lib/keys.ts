// Keyboard shortcuts.

/** True for Ctrl-K (Cmd-K on macOS): focus search. */
export function isSearchShortcut(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
}

/** Moves a selection index through `count` items by arrow keys; returns the new index. */
export function moveSelection(current: number, key: string, count: number): number {
  if (count === 0) return -1;
  if (key === "ArrowDown") return Math.min(count - 1, current + 1);
  if (key === "ArrowUp") return Math.max(0, current - 1);
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  return current;
}
