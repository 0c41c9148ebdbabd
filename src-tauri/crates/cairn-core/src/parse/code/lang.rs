//! The languages Cairn reads as source code: how a file is recognised (extension, file name,
//! `#!` line, `<?php`), which tree-sitter grammar parses it, and which syntax nodes are the
//! symbols (functions, classes, modules, …) whose names make the heading path.

use std::path::Path;

use tree_sitter::Node;

/// A language with a tree-sitter grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    Java,
    C,
    Cpp,
    CSharp,
    Ruby,
    Php,
    Bash,
    Lua,
    Json,
    Toml,
}

/// What a syntax node must have to count as a symbol.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    Nothing,
    /// A `body` (C `struct x { … }`, not the type name in `struct x *p;`).
    Body,
    /// A function or class as its `value` (JavaScript `const f = () => …`).
    FunctionValue,
    /// An object or array as its `value` (a JSON member that holds more than one value).
    ContainerValue,
}

/// A kind of syntax node that is a symbol, and the word its label starts with.
pub(super) struct Symbol {
    pub kind: &'static str,
    pub word: &'static str,
    pub needs: Needs,
}

const fn sym(kind: &'static str, word: &'static str) -> Symbol {
    Symbol {
        kind,
        word,
        needs: Needs::Nothing,
    }
}

const fn with_body(kind: &'static str, word: &'static str) -> Symbol {
    Symbol {
        kind,
        word,
        needs: Needs::Body,
    }
}

const RUST: &[Symbol] = &[
    sym("function_item", "fn"),
    sym("function_signature_item", "fn"),
    sym("impl_item", "impl"),
    sym("trait_item", "trait"),
    with_body("mod_item", "mod"),
    sym("struct_item", "struct"),
    sym("enum_item", "enum"),
    sym("union_item", "union"),
    sym("macro_definition", "macro_rules!"),
];
const PYTHON: &[Symbol] = &[
    sym("function_definition", "def"),
    sym("class_definition", "class"),
];
const JAVASCRIPT: &[Symbol] = &[
    sym("function_declaration", "function"),
    sym("generator_function_declaration", "function*"),
    sym("class_declaration", "class"),
    sym("method_definition", ""),
    Symbol {
        kind: "variable_declarator",
        word: "const",
        needs: Needs::FunctionValue,
    },
];
const TYPESCRIPT: &[Symbol] = &[
    sym("function_declaration", "function"),
    sym("generator_function_declaration", "function*"),
    sym("class_declaration", "class"),
    sym("abstract_class_declaration", "abstract class"),
    sym("interface_declaration", "interface"),
    sym("enum_declaration", "enum"),
    sym("internal_module", "namespace"),
    sym("method_definition", ""),
    Symbol {
        kind: "variable_declarator",
        word: "const",
        needs: Needs::FunctionValue,
    },
];
const GO: &[Symbol] = &[
    sym("function_declaration", "func"),
    sym("method_declaration", "func"),
    sym("type_spec", "type"),
];
const JAVA: &[Symbol] = &[
    sym("class_declaration", "class"),
    sym("interface_declaration", "interface"),
    sym("enum_declaration", "enum"),
    sym("record_declaration", "record"),
    sym("method_declaration", ""),
    sym("constructor_declaration", ""),
];
const C: &[Symbol] = &[
    sym("function_definition", ""),
    with_body("struct_specifier", "struct"),
    with_body("union_specifier", "union"),
    with_body("enum_specifier", "enum"),
];
const CPP: &[Symbol] = &[
    sym("function_definition", ""),
    with_body("class_specifier", "class"),
    with_body("struct_specifier", "struct"),
    with_body("union_specifier", "union"),
    with_body("enum_specifier", "enum"),
    with_body("namespace_definition", "namespace"),
];
const CSHARP: &[Symbol] = &[
    sym("namespace_declaration", "namespace"),
    sym("class_declaration", "class"),
    sym("struct_declaration", "struct"),
    sym("interface_declaration", "interface"),
    sym("enum_declaration", "enum"),
    sym("record_declaration", "record"),
    sym("method_declaration", ""),
    sym("constructor_declaration", ""),
];
const RUBY: &[Symbol] = &[
    sym("method", "def"),
    sym("singleton_method", "def self."),
    sym("class", "class"),
    sym("module", "module"),
];
const PHP: &[Symbol] = &[
    sym("function_definition", "function"),
    sym("method_declaration", "function"),
    sym("class_declaration", "class"),
    sym("interface_declaration", "interface"),
    sym("trait_declaration", "trait"),
    sym("enum_declaration", "enum"),
    with_body("namespace_definition", "namespace"),
];
const BASH: &[Symbol] = &[sym("function_definition", "function")];
const LUA: &[Symbol] = &[sym("function_declaration", "function")];
const JSON: &[Symbol] = &[Symbol {
    kind: "pair",
    word: "",
    needs: Needs::ContainerValue,
}];
const TOML: &[Symbol] = &[sym("table", ""), sym("table_array_element", "")];

impl Language {
    /// Every language, in the order docs/formats.md lists them.
    pub const ALL: [Language; 16] = [
        Language::Rust,
        Language::Python,
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Go,
        Language::Java,
        Language::C,
        Language::Cpp,
        Language::CSharp,
        Language::Ruby,
        Language::Php,
        Language::Bash,
        Language::Lua,
        Language::Json,
        Language::Toml,
    ];

    /// A short name for messages and file names ("rust", "c++").
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Go => "go",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "c++",
            Language::CSharp => "c#",
            Language::Ruby => "ruby",
            Language::Php => "php",
            Language::Bash => "bash",
            Language::Lua => "lua",
            Language::Json => "json",
            Language::Toml => "toml",
        }
    }

    /// The usual extension, for tests and fuzzing.
    pub fn extension(self) -> &'static str {
        match self {
            Language::Rust => "rs",
            Language::Python => "py",
            Language::JavaScript => "js",
            Language::TypeScript => "ts",
            Language::Tsx => "tsx",
            Language::Go => "go",
            Language::Java => "java",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::CSharp => "cs",
            Language::Ruby => "rb",
            Language::Php => "php",
            Language::Bash => "sh",
            Language::Lua => "lua",
            Language::Json => "json",
            Language::Toml => "toml",
        }
    }

    pub(super) fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::Rust => tree_sitter_rust::LANGUAGE,
            Language::Python => tree_sitter_python::LANGUAGE,
            Language::JavaScript => tree_sitter_javascript::LANGUAGE,
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX,
            Language::Go => tree_sitter_go::LANGUAGE,
            Language::Java => tree_sitter_java::LANGUAGE,
            Language::C => tree_sitter_c::LANGUAGE,
            Language::Cpp => tree_sitter_cpp::LANGUAGE,
            Language::CSharp => tree_sitter_c_sharp::LANGUAGE,
            Language::Ruby => tree_sitter_ruby::LANGUAGE,
            Language::Php => tree_sitter_php::LANGUAGE_PHP,
            Language::Bash => tree_sitter_bash::LANGUAGE,
            Language::Lua => tree_sitter_lua::LANGUAGE,
            Language::Json => tree_sitter_json::LANGUAGE,
            Language::Toml => tree_sitter_toml_ng::LANGUAGE,
        }
        .into()
    }

    pub(super) fn symbols(self) -> &'static [Symbol] {
        match self {
            Language::Rust => RUST,
            Language::Python => PYTHON,
            Language::JavaScript => JAVASCRIPT,
            Language::TypeScript | Language::Tsx => TYPESCRIPT,
            Language::Go => GO,
            Language::Java => JAVA,
            Language::C => C,
            Language::Cpp => CPP,
            Language::CSharp => CSHARP,
            Language::Ruby => RUBY,
            Language::Php => PHP,
            Language::Bash => BASH,
            Language::Lua => LUA,
            Language::Json => JSON,
            Language::Toml => TOML,
        }
    }

    /// The language of the file at `path` whose content starts with `head`: by extension or
    /// file name, else by a `#!` interpreter line or `<?php`; `None` for anything else.
    pub fn detect(path: &Path, head: &[u8]) -> Option<Language> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let by_ext = match ext.as_deref() {
            Some("rs") => Some(Language::Rust),
            Some("py" | "pyw" | "pyi") => Some(Language::Python),
            Some("js" | "mjs" | "cjs" | "jsx") => Some(Language::JavaScript),
            Some("ts" | "mts" | "cts") => Some(Language::TypeScript),
            Some("tsx") => Some(Language::Tsx),
            Some("go") => Some(Language::Go),
            Some("java") => Some(Language::Java),
            Some("c") => Some(Language::C),
            Some("h") if looks_like_cpp(head) => Some(Language::Cpp),
            Some("h") => Some(Language::C),
            Some("cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" | "inl") => {
                Some(Language::Cpp)
            }
            Some("cs") => Some(Language::CSharp),
            Some("rb" | "rake" | "gemspec") => Some(Language::Ruby),
            Some("php" | "phtml") => Some(Language::Php),
            Some("sh" | "bash") => Some(Language::Bash),
            Some("lua") => Some(Language::Lua),
            Some("json" | "jsonc" | "geojson") => Some(Language::Json),
            Some("toml") => Some(Language::Toml),
            _ => None,
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        by_ext
            .or(match name {
                "Rakefile" | "Gemfile" => Some(Language::Ruby),
                ".bashrc" | ".bash_profile" | ".profile" | "PKGBUILD" => Some(Language::Bash),
                "Pipfile" | "Cargo.lock" | "uv.lock" | "poetry.lock" => Some(Language::Toml),
                _ => None,
            })
            .or_else(|| by_content(head))
    }
}

/// A C header with C++ in its first bytes.
fn looks_like_cpp(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    [
        "namespace ",
        "class ",
        "template<",
        "template <",
        "::",
        "public:",
    ]
    .iter()
    .any(|marker| head.contains(marker))
}

/// The language an interpreter line (`#!/usr/bin/env python3`) or a `<?php` opening names.
fn by_content(head: &[u8]) -> Option<Language> {
    if head.starts_with(b"<?php") {
        return Some(Language::Php);
    }
    let first = head.strip_prefix(b"#!")?;
    let line = &first[..first
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(first.len())];
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let mut program = words.next()?.rsplit('/').next()?;
    if program == "env" {
        program = words.find(|w| !w.starts_with('-'))?;
    }
    let program = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match program {
        "python" | "pypy" => Language::Python,
        "sh" | "bash" | "dash" | "ksh" => Language::Bash,
        "node" | "nodejs" | "deno" | "bun" => Language::JavaScript,
        "ts-node" | "tsx" => Language::TypeScript,
        "ruby" => Language::Ruby,
        "php" => Language::Php,
        "lua" | "luajit" => Language::Lua,
        _ => return None,
    })
}

/// The symbol `node` is in `language`, if it is one: its label ("fn load", "class Config",
/// "impl Display for Config", `"servers"` for a JSON member).
pub(super) fn symbol_label(language: Language, node: Node<'_>, text: &str) -> Option<String> {
    let symbol = language.symbols().iter().find(|s| s.kind == node.kind())?;
    let fits = match symbol.needs {
        Needs::Nothing => true,
        Needs::Body => node.child_by_field_name("body").is_some(),
        Needs::FunctionValue => node.child_by_field_name("value").is_some_and(|v| {
            matches!(
                v.kind(),
                "arrow_function"
                    | "function_expression"
                    | "function"
                    | "generator_function"
                    | "class"
            )
        }),
        Needs::ContainerValue => node
            .child_by_field_name("value")
            .is_some_and(|v| matches!(v.kind(), "object" | "array")),
    };
    if !fits {
        return None;
    }
    let name = name_of(node, text);
    let name = match node.kind() {
        "table" => name.map(|n| format!("[{n}]")),
        "table_array_element" => name.map(|n| format!("[[{n}]]")),
        _ => name,
    };
    Some(match (symbol.word, name) {
        ("", Some(name)) => name,
        (word, Some(name)) if word.ends_with('.') => format!("{word}{name}"),
        (word, Some(name)) => format!("{word} {name}"),
        ("", None) => node.kind().replace('_', " "),
        (word, None) => word.to_string(),
    })
}

/// Most characters of a symbol's name kept in its label.
const MAX_NAME_CHARS: usize = 80;

/// The name of a symbol node: its `name` field; for a Rust `impl`, its trait and type; for C
/// and C++ functions, the innermost declarator; for a JSON member, its key; else its first
/// identifier-like child (Ruby classes, TOML tables).
fn name_of(node: Node<'_>, text: &str) -> Option<String> {
    let of = |n: Node<'_>| text.get(n.byte_range()).map(clean);
    if node.kind() == "impl_item" {
        let ty = of(node.child_by_field_name("type")?)?;
        return Some(match node.child_by_field_name("trait").and_then(of) {
            Some(tr) => format!("{tr} for {ty}"),
            None => ty,
        });
    }
    if let Some(name) = node.child_by_field_name("name") {
        return of(name);
    }
    if let Some(mut declarator) = node.child_by_field_name("declarator") {
        for _ in 0..32 {
            match declarator.child_by_field_name("declarator") {
                Some(inner) => declarator = inner,
                None => break,
            }
        }
        return of(declarator);
    }
    if let Some(key) = node.child_by_field_name("key") {
        return of(key).map(|k| k.trim_matches('"').to_string());
    }
    let mut cursor = node.walk();
    let found = node.named_children(&mut cursor).find(|c| {
        let kind = c.kind();
        ["identifier", "constant", "key", "scope_resolution", "name"]
            .iter()
            .any(|k| kind.contains(k))
    });
    found.and_then(of)
}

/// Whitespace collapsed, at most [`MAX_NAME_CHARS`] characters.
fn clean(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    match out.char_indices().nth(MAX_NAME_CHARS) {
        Some((at, _)) => format!("{}…", &out[..at]),
        None => out,
    }
}
