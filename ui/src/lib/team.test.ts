import { describe, expect, it } from "vitest";
import { describeCheck, emptyTeamForm, missingFields, passwordNote, teamInput, teamUrl } from "./team";
import type { TeamCheck } from "../bindings";

const check = (over: Partial<TeamCheck>): TeamCheck => ({
  server: "alice@db:5432/cairn",
  status: "ready",
  message: "A Cairn library as a reader: 3 passage(s) in 1 collection(s) you may read.",
  server_version: "18.3",
  tls: true,
  may_create: false,
  owner: false,
  reviewer: false,
  collections: ["hr"],
  passages: 3,
  ...over,
});

describe("the team library form", () => {
  it("names what is missing before a test", () => {
    const f = emptyTeamForm();
    expect(missingFields(f)).toEqual(["server", "user"]);
    f.host = "db.example";
    f.user = "alice";
    expect(missingFields(f)).toEqual([]);
    f.port = 0;
    f.cert_file = "/home/alice/alice.crt";
    expect(missingFields(f)).toEqual(["port (1-65535)", "client key file"]);
    f.port = 5432;
    f.key_file = "/home/alice/alice.key";
    f.ssl_mode = "disable";
    expect(missingFields(f)[0]).toContain("TLS mode other than disable");
  });

  it("sends the trimmed form and the password, and shows a URL without it", () => {
    const f = { ...emptyTeamForm("alice"), host: " db.example ", ca_file: " /etc/ca.pem " };
    const input = teamInput(f, "s3cret", true);
    expect(input.form.host).toBe("db.example");
    expect(input.form.ca_file).toBe("/etc/ca.pem");
    expect(input).toMatchObject({ password: "s3cret", remember: true });
    const url = teamUrl(input.form);
    expect(url).toBe("postgres://alice@db.example:5432/cairn?sslmode=require&sslrootcert=/etc/ca.pem");
    expect(url).not.toContain("s3cret");
  });

  it("words each outcome and offers what is possible", () => {
    const ready = describeCheck(check({}));
    expect(ready).toMatchObject({ ok: true, canConnect: true, canCreate: false });
    expect(ready.text).toContain("You may read: hr.");
    expect(ready.text).toContain("encrypted (TLS)");
    const empty = describeCheck(check({ status: "not_a_library", may_create: true, message: "no library yet" }));
    expect(empty).toMatchObject({ ok: false, canConnect: false, canCreate: true });
    const none = describeCheck(check({ status: "no_collection", collections: [] }));
    expect(none.canConnect).toBe(false);
    expect(none.text).toContain("grant your role a collection");
    expect(describeCheck(check({ status: "no_pgvector" })).text).toContain("pgvector");
  });

  it("says where the password is kept", () => {
    expect(passwordNote("keychain", null)).toContain("OS keychain");
    expect(passwordNote("session", "no Secret Service")).toContain("until Cairn quits");
    expect(passwordNote("session", "no Secret Service")).toContain("PGPASSWORD");
  });
});
