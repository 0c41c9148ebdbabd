use super::*;

/// The heading paths of `source` parsed as a file named `name`, joined with " > ".
fn paths(name: &str, source: &str) -> Vec<String> {
    let doc = parse_code(Path::new(name), source.as_bytes()).unwrap();
    assert_eq!(doc.text, source);
    crate::fuzzing::check_doc(&doc);
    doc.sections
        .iter()
        .map(|s| s.heading_path.join(" > "))
        .collect()
}

/// The section whose text contains `needle`, as its heading path.
fn path_of(name: &str, source: &str, needle: &str) -> String {
    let doc = parse_code(Path::new(name), source.as_bytes()).unwrap();
    let section = doc
        .sections
        .iter()
        .find(|s| doc.text[s.start..s.end].contains(needle))
        .unwrap_or_else(|| panic!("no section holds {needle:?} in {name}"));
    section.heading_path.join(" > ")
}

#[test]
fn rust_symbols_nest_and_carry_their_lines() {
    let source = "use std::fmt;\n\n/// A config.\n#[derive(Debug)]\npub struct Config {\n    port: u16,\n}\n\nimpl fmt::Display for Config {\n    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n        write!(f, \"{}\", self.port)\n    }\n}\n\nmod inner {\n    pub fn helper() -> u32 {\n        42\n    }\n}\n";
    assert_eq!(
        paths("lib.rs", source),
        [
            "line 1",
            "struct Config > lines 3-7",
            "impl fmt::Display for Config > line 9",
            "impl fmt::Display for Config > fn fmt > lines 10-12",
            "mod inner > line 15",
            "mod inner > fn helper > lines 16-18",
        ]
    );
}

#[test]
fn python_classes_methods_and_decorators() {
    let source = "import os\n\nclass Store:\n    \"\"\"Keeps things.\"\"\"\n\n    @property\n    def size(self):\n        return 3\n\n    def put(self, item):\n        self.items.append(item)\n\ndef main():\n    Store().put(1)\n";
    assert_eq!(
        path_of("a.py", source, "@property"),
        "class Store > def size > lines 6-8"
    );
    assert_eq!(
        path_of("a.py", source, "append"),
        "class Store > def put > lines 10-11"
    );
    assert_eq!(path_of("a.py", source, "Keeps"), "class Store > lines 3-4");
    assert_eq!(
        path_of("a.py", source, "Store().put"),
        "def main > lines 13-14"
    );
}

#[test]
fn every_language_finds_its_functions() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("a.js", "export function total(xs) {\n  return xs.length;\n}\nconst twice = (x) => {\n  return x * 2;\n};\n", "x * 2", "const twice > lines 4-6"),
        ("a.js", "class Cart {\n  add(item) {\n    this.items.push(item);\n  }\n}\n", "push", "class Cart > add > lines 2-4"),
        ("a.ts", "interface Shape {\n  area(): number;\n}\nfunction area(s: Shape): number {\n  return s.area();\n}\n", "return s.area", "function area > lines 4-6"),
        ("a.tsx", "export function App(): JSX.Element {\n  return <div>hello</div>;\n}\n", "hello", "function App > lines 1-3"),
        ("a.go", "package main\n\ntype Server struct {\n\tPort int\n}\n\nfunc (s *Server) Start() error {\n\treturn listen(s.Port)\n}\n", "listen", "func Start > lines 7-9"),
        ("A.java", "public class Account {\n  private int balance;\n  public void deposit(int amount) {\n    balance += amount;\n  }\n}\n", "balance +=", "class Account > deposit > lines 3-5"),
        ("a.c", "#include <stdio.h>\n\nstatic int checksum(const char *s) {\n  return s[0];\n}\n", "return s[0]", "checksum > lines 3-5"),
        ("a.cpp", "namespace net {\nclass Socket {\n public:\n  int Send(int n) {\n    return n;\n  }\n};\n}\n", "return n", "namespace net > class Socket > Send > lines 4-6"),
        ("a.cs", "namespace Shop {\n  public class Basket {\n    public int Count() {\n      return 7;\n    }\n  }\n}\n", "return 7", "namespace Shop > class Basket > Count > lines 3-5"),
        ("a.rb", "module Billing\n  class Invoice\n    def total\n      lines.sum\n    end\n  end\nend\n", "lines.sum", "module Billing > class Invoice > def total > lines 3-5"),
        ("a.php", "<?php\nclass Mailer {\n  public function send($to) {\n    return mail($to);\n  }\n}\n", "mail($to)", "class Mailer > function send > lines 3-5"),
        ("a.sh", "#!/bin/sh\n\n# Archives a folder.\nbackup() {\n  tar czf /tmp/b.tgz \"$1\"\n}\nbackup /etc\n", "tar czf", "function backup > lines 3-6"),
        ("a.lua", "local M = {}\nfunction M.greet(name)\n  return \"hi \" .. name\nend\nreturn M\n", "hi", "function M.greet > lines 2-4"),
        ("a.json", "{\n  \"name\": \"cairn\",\n  \"servers\": {\n    \"main\": \"10.0.0.1\"\n  }\n}\n", "10.0.0.1", "servers > lines 3-5"),
        ("Cargo.toml", "[package]\nname = \"cairn\"\n\n[dependencies]\nserde = \"1\"\n", "serde", "[dependencies] > lines 4-5"),
    ];
    for (name, source, needle, want) in cases {
        assert_eq!(&path_of(name, source, needle), want, "{name}: {source}");
    }
}

#[test]
fn languages_are_detected_by_extension_name_and_interpreter_line() {
    let detect = |name: &str, head: &[u8]| Language::detect(Path::new(name), head);
    assert_eq!(detect("x.RS", b""), Some(Language::Rust));
    assert_eq!(detect("x.h", b"int f(void);"), Some(Language::C));
    assert_eq!(
        detect("x.h", b"namespace a { class B; }"),
        Some(Language::Cpp)
    );
    assert_eq!(detect("Rakefile", b"task :x"), Some(Language::Ruby));
    assert_eq!(
        detect("deploy", b"#!/usr/bin/env python3\nprint(1)"),
        Some(Language::Python)
    );
    assert_eq!(detect("run", b"#!/bin/bash -e\nls"), Some(Language::Bash));
    assert_eq!(
        detect("tool", b"#!/usr/bin/env -S node --x\n"),
        Some(Language::JavaScript)
    );
    assert_eq!(detect("index", b"<?php echo 1;"), Some(Language::Php));
    assert_eq!(detect("notes.txt", b"#!not a program"), None);
    assert_eq!(detect("README", b"fn main() {}"), None);
}

#[test]
fn broken_huge_and_unknown_files_are_still_indexed() {
    let broken = "fn ok() {\n    1\n}\n\nfn broken( {\n\nfn after() {\n    2\n}\n";
    let found = paths("x.rs", broken);
    assert!(found.iter().any(|p| p.starts_with("fn ok")), "{found:?}");
    // Deep nesting stays within the depth cap and the stack.
    let deep = "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000);
    let found = paths("deep.json", &deep);
    assert!(found
        .iter()
        .all(|p| p.matches(" > ").count() <= MAX_SYMBOL_DEPTH));
    assert_eq!(paths("notes.unknown", "just words\n"), ["line 1"]);
    assert_eq!(paths("x.rs", "}\n"), [""]);
}
