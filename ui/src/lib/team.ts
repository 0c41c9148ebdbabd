// The "Connect to a team library" form's logic, kept out of the component so it is tested:
// the empty form, what is missing before a test, the input sent to Rust, and the words for a
// check's outcome. The password is never part of the form that is kept.
import type { TeamCheck, TeamForm, TeamInput } from "../bindings";

export const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"] as const;

export function emptyTeamForm(user = ""): TeamForm {
  return { host: "", port: 5432, database: "cairn", user, ssl_mode: "require", ca_file: "", cert_file: "", key_file: "" };
}

/** What the user must still fill in, in words; empty when the form can be tested. */
export function missingFields(f: TeamForm): string[] {
  const missing: string[] = [];
  if (!f.host.trim()) missing.push("server");
  if (!Number.isInteger(f.port) || f.port < 1 || f.port > 65535) missing.push("port (1-65535)");
  if (!f.database.trim()) missing.push("database");
  if (!f.user.trim()) missing.push("user");
  if (!SSL_MODES.includes(f.ssl_mode as (typeof SSL_MODES)[number])) missing.push("TLS mode");
  if (!!f.cert_file.trim() !== !!f.key_file.trim()) missing.push(f.cert_file.trim() ? "client key file" : "client certificate file");
  if (f.ssl_mode === "disable" && (f.ca_file.trim() || f.cert_file.trim())) missing.push("a TLS mode other than disable (certificate files are set)");
  return missing;
}

/** The command's input: the trimmed form, the password as typed, and whether to keep it. */
export function teamInput(f: TeamForm, password: string, remember: boolean): TeamInput {
  const t = (s: string) => s.trim();
  return {
    form: { ...f, host: t(f.host), database: t(f.database), user: t(f.user), ca_file: t(f.ca_file), cert_file: t(f.cert_file), key_file: t(f.key_file) },
    password,
    remember,
  };
}

/** The URL shown under the form (never a password). */
export function teamUrl(f: TeamForm): string {
  const host = f.host.includes(":") && !f.host.startsWith("[") ? `[${f.host}]` : f.host;
  let url = `postgres://${encodeURIComponent(f.user.trim())}@${host.trim()}:${f.port}/${encodeURIComponent(f.database.trim())}?sslmode=${f.ssl_mode}`;
  if (f.ca_file.trim()) url += `&sslrootcert=${f.ca_file.trim()}`;
  if (f.cert_file.trim()) url += `&sslcert=${f.cert_file.trim()}&sslkey=${f.key_file.trim()}`;
  return url;
}

/** What "Test connection" found, and what the user can do next. */
export function describeCheck(c: TeamCheck): { ok: boolean; text: string; canCreate: boolean; canConnect: boolean } {
  const tls = c.tls ? "encrypted (TLS)" : "not encrypted";
  const head = `${c.server}: PostgreSQL ${c.server_version}, ${tls}.`;
  switch (c.status) {
    case "ready": {
      const role = c.owner ? "You own this library (every collection; index it with `cairn watch`)." : `You may read: ${c.collections.join(", ")}.`;
      const reviewer = c.reviewer ? " You may review every user's audit." : "";
      return { ok: true, text: `${head} ${c.message} ${role}${reviewer}`, canCreate: false, canConnect: true };
    }
    case "not_a_library":
      return { ok: false, text: `${head} ${c.message}`, canCreate: c.may_create, canConnect: false };
    case "no_collection":
      return { ok: false, text: `${head} ${c.message} Ask the administrator to grant your role a collection.`, canCreate: false, canConnect: false };
    default:
      return { ok: false, text: `${head} ${c.message} Ask the administrator to install pgvector.`, canCreate: false, canConnect: false };
  }
}

/** Where the password went, after "Connect". */
export function passwordNote(kept: string, keychainError: string | null): string {
  if (kept === "keychain") return "The password is stored in the OS keychain.";
  if (kept === "session") {
    return keychainError
      ? `The OS keychain is not available (${keychainError}): the password is kept until Cairn quits, and asked again next time (or set PGPASSWORD).`
      : "The password is kept until Cairn quits.";
  }
  return "The password came from the keychain or PGPASSWORD.";
}
