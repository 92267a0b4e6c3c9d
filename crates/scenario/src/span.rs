//! Where each value of a RON text starts and ends, by path.
//!
//! serde hands the validator values without positions; this small scanner
//! walks the same text once and records the position of every struct field,
//! list element and map entry, so that a validation error can name
//! `file:line:col`. It never fails: on text it does not understand it skips a
//! character and carries on, which is enough to locate syntax errors too.

use std::collections::HashMap;

/// A 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

#[derive(Clone, Debug)]
struct Entry {
    key: Option<Pos>,
    start: Pos,
    end: Pos,
    text: Option<String>,
}

/// Positions of values by path. A path is its segments joined with `/`:
/// `hierarchy/3/params/height_m`.
#[derive(Debug, Default)]
pub(crate) struct SpanIndex {
    entries: HashMap<String, Entry>,
    repeated: Vec<(String, Pos)>,
}

impl SpanIndex {
    pub(crate) fn build(src: &str) -> SpanIndex {
        let mut scanner = Scanner { chars: src.chars().collect(), i: 0, line: 1, col: 1, index: SpanIndex::default() };
        scanner.trivia();
        scanner.value(String::new(), None);
        scanner.index
    }

    /// Where the value at `path` starts; falls back to the closest enclosing
    /// value that was found, and to 1:1.
    pub(crate) fn value(&self, path: &str) -> Pos {
        self.lookup(path).map(|e| e.start).unwrap_or(Pos { line: 1, col: 1 })
    }

    /// Where the key of the entry at `path` is (a field name or map key),
    /// else where its value starts.
    pub(crate) fn key(&self, path: &str) -> Pos {
        self.lookup(path).map(|e| e.key.unwrap_or(e.start)).unwrap_or(Pos { line: 1, col: 1 })
    }

    /// Keys given more than once in the same map or struct, with the position
    /// of each repetition, in file order.
    pub(crate) fn repeated(&self) -> &[(String, Pos)] {
        &self.repeated
    }

    /// The text of a string value at `path`, exactly as found.
    pub(crate) fn text(&self, path: &str) -> Option<&str> {
        self.entries.get(path)?.text.as_deref()
    }

    /// Whether a value was found at `path`.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// Whether `pos` falls within the value at `path`.
    pub(crate) fn contains(&self, path: &str, pos: Pos) -> bool {
        self.entries.get(path).is_some_and(|e| e.start <= pos && pos <= e.end)
    }

    fn lookup(&self, path: &str) -> Option<&Entry> {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.get(path) {
                return Some(e);
            }
            path = &path[..path.rfind('/')?];
        }
    }
}

struct Scanner {
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
    index: SpanIndex,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn pos(&self) -> Pos {
        Pos { line: self.line, col: self.col }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// Skips white space, comments and `#![enable(...)]` attributes.
    fn trivia(&mut self) {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    self.bump();
                    self.bump();
                    let mut depth = 1;
                    while depth > 0 && self.peek().is_some() {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => {
                                depth -= 1;
                                self.bump();
                            }
                            (Some('/'), Some('*')) => {
                                depth += 1;
                                self.bump();
                            }
                            _ => {}
                        }
                        self.bump();
                    }
                }
                (Some('#'), Some('!' | '[')) => {
                    while self.peek().is_some_and(|c| c != '[') {
                        self.bump();
                    }
                    self.skip_balanced();
                }
                _ => return,
            }
        }
    }

    fn skip_balanced(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn record(&mut self, path: String, key: Option<Pos>, start: Pos, text: Option<String>) {
        let end = self.pos();
        if let (Some(key), true) = (key, self.index.entries.contains_key(&path)) {
            self.index.repeated.push((path.clone(), key));
        }
        self.index.entries.insert(path, Entry { key, start, end, text });
    }

    fn value(&mut self, path: String, key: Option<Pos>) {
        let start = self.pos();
        let mut text = None;
        match self.peek() {
            Some('"') => text = Some(self.string()),
            Some('r') if matches!(self.peek_at(1), Some('#' | '"')) => text = Some(self.raw_string()),
            Some('\'') => {
                self.bump();
                while let Some(c) = self.bump() {
                    if c == '\\' {
                        self.bump();
                    } else if c == '\'' {
                        break;
                    }
                }
            }
            Some('(') => self.body(&path, ')'),
            Some('[') => self.body(&path, ']'),
            Some('{') => self.map(&path),
            Some(c) if c.is_alphabetic() || c == '_' => {
                self.ident();
                self.trivia();
                if self.peek() == Some('(') {
                    self.body(&path, ')');
                }
            }
            _ => {
                while self.peek().is_some_and(|c| !matches!(c, ',' | ')' | ']' | '}' | ':') && !c.is_whitespace()) {
                    self.bump();
                }
            }
        }
        self.record(path, key, start, text);
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            s.push(c);
            self.bump();
        }
        s
    }

    fn string(&mut self) -> String {
        let mut s = String::new();
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    if let Some(e) = self.bump() {
                        s.push(e);
                    }
                }
                '"' => break,
                c => s.push(c),
            }
        }
        s
    }

    fn raw_string(&mut self) -> String {
        self.bump();
        let mut hashes = 0;
        while self.peek() == Some('#') {
            hashes += 1;
            self.bump();
        }
        self.bump();
        let mut s = String::new();
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|k| self.peek_at(k) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                break;
            }
            s.push(c);
        }
        s
    }

    /// The inside of `( ... )` or `[ ... ]`: named fields or positional items.
    fn body(&mut self, path: &str, close: char) {
        self.bump();
        let mut index = 0usize;
        loop {
            self.trivia();
            match self.peek() {
                None => return,
                Some(c) if c == close => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            let before = self.i;
            if close == ')' && self.at_field() {
                let key = self.pos();
                let name = self.ident();
                self.trivia();
                self.bump(); // ':'
                self.trivia();
                self.value(join(path, &name), Some(key));
            } else {
                self.value(join(path, &index.to_string()), None);
                index += 1;
            }
            self.trivia();
            // Past a separator, or past one character the scanner did not
            // understand, so that it always moves on.
            if self.peek() == Some(',') || self.i == before {
                self.bump();
            }
        }
    }

    fn map(&mut self, path: &str) {
        self.bump();
        loop {
            self.trivia();
            match self.peek() {
                None => return,
                Some('}') => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            let before = self.i;
            let key = self.pos();
            let name = match self.peek() {
                Some('"') => self.string(),
                _ => {
                    let mut s = String::new();
                    while let Some(c) = self.peek().filter(|c| !matches!(c, ':' | ',' | '}') && !c.is_whitespace()) {
                        s.push(c);
                        self.bump();
                    }
                    s
                }
            };
            self.trivia();
            if self.peek() == Some(':') {
                self.bump();
                self.trivia();
                self.value(join(path, &name), Some(key));
            }
            self.trivia();
            // Past a separator, or past one character the scanner did not
            // understand, so that it always moves on.
            if self.peek() == Some(',') || self.i == before {
                self.bump();
            }
        }
    }

    /// Whether the text ahead is `name :` (a struct field) rather than a value.
    fn at_field(&self) -> bool {
        let mut k = self.i;
        if !self.chars.get(k).is_some_and(|c| c.is_alphabetic() || *c == '_') {
            return false;
        }
        while self.chars.get(k).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
            k += 1;
        }
        while self.chars.get(k).is_some_and(|c| c.is_whitespace()) {
            k += 1;
        }
        self.chars.get(k) == Some(&':') && self.chars.get(k + 1) != Some(&':')
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() { seg.to_owned() } else { format!("{path}/{seg}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_items_and_map_keys() {
        let src = "#![enable(implicit_some)]\n// comment\nScenario(\n  id: \"a\",\n  list: [\n    Step(x: 1),\n    (x: -2, /* c */ m: {\"h\": 3}),\n  ],\n)\n";
        let index = SpanIndex::build(src);
        assert_eq!(index.value("id"), Pos { line: 4, col: 7 });
        assert_eq!(index.text("id"), Some("a"));
        assert_eq!(index.value("list/1/x"), Pos { line: 7, col: 9 });
        assert_eq!(index.key("list/1/m/h"), Pos { line: 7, col: 25 });
        assert_eq!(index.value("list/1/m/h"), Pos { line: 7, col: 30 });
        // Unknown paths fall back to the closest enclosing value.
        assert_eq!(index.value("list/1/nope"), Pos { line: 7, col: 5 });
        assert!(index.contains("list/0", Pos { line: 6, col: 10 }));
        assert!(!index.contains("list/0", Pos { line: 7, col: 6 }));
        assert!(index.repeated().is_empty());
    }

    #[test]
    fn notices_repeated_keys() {
        let index = SpanIndex::build("(m: {\"a\": 1, \"b\": 2, \"a\": 3})");
        assert_eq!(index.repeated(), &[("m/a".to_owned(), Pos { line: 1, col: 22 })]);
    }

    #[test]
    fn survives_broken_text() {
        for src in ["(", "(a: ", "[1, 2", "{\"a\" 1}", "\"unterminated", "r#\"x", "(a: b: c)", ")))", "/* open"] {
            let _ = SpanIndex::build(src);
        }
    }
}
