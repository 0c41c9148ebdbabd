// The one door to the Rust side: typed commands from the generated bindings, unwrapped so
// failures throw an AppError carrying the engine's kind, message and hint.
import { commands, events, type ErrorInfo } from "../bindings";

export { commands, events };
export type * from "../bindings";

export class AppError extends Error {
  kind: string;
  hint: string;
  constructor(info: ErrorInfo) {
    super(info.message);
    this.kind = info.kind;
    this.hint = info.hint;
  }
}

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: ErrorInfo };

/** Awaits a command and returns its data, or throws an AppError. */
export async function call<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch (e) {
    // A rejected invoke (a panic or a missing permission) has no ErrorInfo.
    throw new AppError({ kind: "internal", message: String(e), hint: "Restart Cairn; if it happens again, report it.", user_error: false });
  }
  if (r.status === "error") throw new AppError(r.error);
  return r.data;
}

/** An error as the UI shows it. */
export function errorInfo(e: unknown): { kind: string; message: string; hint: string } {
  if (e instanceof AppError) return { kind: e.kind, message: e.message, hint: e.hint };
  return { kind: "internal", message: String(e), hint: "" };
}
