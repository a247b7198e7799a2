//! The parse tree, shaped like BuildKit's `parser.Node`.

use crate::dockerfile::gostr;

/// A heredoc attached to an instruction (`RUN <<EOF`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    pub file_descriptor: u32,
    /// False when the delimiter was quoted (`<<"EOF"`): no expansion.
    pub expand: bool,
    /// `<<-EOF`: leading tabs are stripped.
    pub chomp: bool,
}

/// One node of the tree. The root's `children` are the instructions; an
/// instruction's `value` is its lower-cased keyword and `next` holds its
/// arguments in order (BuildKit's `Next` chain, flattened). An argument
/// node with `children` is a nested instruction (`ONBUILD RUN x`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub value: String,
    pub next: Vec<Node>,
    pub children: Vec<Node>,
    pub heredocs: Vec<Heredoc>,
    /// `json`: the arguments were written in JSON (exec) form.
    pub json: bool,
    /// The instruction as written, continuation lines joined.
    pub original: String,
    /// `--flag=value` words before the arguments, as written.
    pub flags: Vec<String>,
    pub start_line: usize,
    pub end_line: usize,
    /// Comment lines directly above the instruction.
    pub prev_comment: Vec<String>,
}

impl Node {
    /// BuildKit's `Node.Dump()`: for the root, one `(keyword ["flags"]
    /// "arg" ...)` line per instruction, quoted as Go's `%q` does. Tests
    /// compare trees with BuildKit's through it.
    pub fn dump(&self) -> String {
        let mut s = gostr::to_lower(&self.value);
        if !self.flags.is_empty() {
            s.push(' ');
            s.push_str(&gostr::quote_list(&self.flags));
        }
        for child in &self.children {
            s.push('(');
            s.push_str(&child.dump());
            s.push_str(")\n");
        }
        for arg in &self.next {
            s.push(' ');
            if arg.children.is_empty() {
                s.push_str(&gostr::quote(&arg.value));
            } else {
                s.push_str(&arg.dump());
            }
        }
        gostr::trim_space(&s).to_string()
    }
}

/// A parse warning BuildKit prints (empty continuation lines, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub short: String,
    pub detail: String,
    /// BuildKit's documentation link for the rule.
    pub url: String,
    pub line: usize,
}

/// What `parse` returns.
#[derive(Debug, Clone)]
pub struct ParseResult {
    pub ast: Node,
    pub escape_token: char,
    pub warnings: Vec<Warning>,
}
