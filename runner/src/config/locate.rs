//! Maps every node of a YAML document to its `line:col`, keyed by JSON Pointer, so that errors
//! found later (by the JSON Schema validator or the semantic checks, which both speak in JSON
//! Pointers) can be reported where the engineer typed the offending text.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// A 1-based position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub col: usize,
}

/// Positions of the nodes of one YAML document.
#[derive(Debug, Default, Clone)]
pub struct LocationIndex {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

enum Frame {
    Map { key: Option<String> },
    Seq { next: usize },
}

impl LocationIndex {
    /// Indexes `text`. A document that does not parse yields an index with what was read before
    /// the error; the parse error itself is reported by the deserializer.
    pub fn build(text: &str) -> Self {
        let mut index = LocationIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut path: Vec<String> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = Pos {
                line: span.start.line(),
                col: span.start.col() + 1,
            };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { key }) = stack.last_mut()
                        && key.is_none()
                    {
                        let name = value.into_owned();
                        path.push(escape(&name));
                        index.keys.insert(join(&path), pos);
                        *key = Some(name);
                        continue;
                    }
                    index.enter_value(&mut stack, &mut path, pos);
                    index.leave_value(&mut stack, &mut path);
                }
                Event::MappingStart(..) => {
                    index.enter_value(&mut stack, &mut path, pos);
                    stack.push(Frame::Map { key: None });
                }
                Event::SequenceStart(..) => {
                    index.enter_value(&mut stack, &mut path, pos);
                    stack.push(Frame::Seq { next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    index.leave_value(&mut stack, &mut path);
                }
                Event::Alias(..) => {
                    index.enter_value(&mut stack, &mut path, pos);
                    index.leave_value(&mut stack, &mut path);
                }
                _ => {}
            }
        }
        index
    }

    /// Records the start of a value at the current path (pushing a sequence index if needed).
    fn enter_value(&mut self, stack: &mut [Frame], path: &mut Vec<String>, pos: Pos) {
        if let Some(Frame::Seq { next }) = stack.last_mut() {
            path.push(next.to_string());
            *next += 1;
        }
        self.values.entry(join(path)).or_insert(pos);
    }

    /// Pops the path segment of the value that just ended.
    fn leave_value(&mut self, stack: &mut [Frame], path: &mut Vec<String>) {
        match stack.last_mut() {
            Some(Frame::Map { key }) => {
                *key = None;
                path.pop();
            }
            Some(Frame::Seq { .. }) => {
                path.pop();
            }
            None => {}
        }
    }

    /// Where the value at `pointer` starts, or the nearest enclosing node that exists.
    pub fn value(&self, pointer: &str) -> Pos {
        self.lookup(&self.values, pointer)
    }

    /// Where the key of the member at `pointer` is written (falls back to the value).
    pub fn key(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }

    fn lookup(&self, map: &HashMap<String, Pos>, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = map.get(p).or_else(|| self.values.get(p)) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

fn join(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        s.push('/');
        s.push_str(seg);
    }
    s
}

/// Escapes one JSON Pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_and_sequences_are_located() {
        let text = "# comment\nsource:\n  system: drchrono\n  params:\n    verbose: \"true\"\nkey:\n  - drchrono_id\n  - other\n";
        let idx = LocationIndex::build(text);
        assert_eq!(idx.key("/source"), Pos { line: 2, col: 1 });
        assert_eq!(idx.value("/source/system"), Pos { line: 3, col: 11 });
        assert_eq!(idx.key("/source/params/verbose"), Pos { line: 5, col: 5 });
        assert_eq!(idx.value("/key/1"), Pos { line: 8, col: 5 });
        // Unknown pointers fall back to the nearest existing parent.
        assert_eq!(idx.value("/source/params/missing"), Pos { line: 5, col: 5 });
    }

    #[test]
    fn keys_with_slashes_are_escaped() {
        let idx = LocationIndex::build("paths:\n  /api/x: 1\n");
        assert_eq!(idx.key("/paths/~1api~1x"), Pos { line: 2, col: 3 });
    }
}
