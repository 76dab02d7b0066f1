//! Validation of user regular expressions with RE2's rules, as Envoy compiles them.
//!
//! Rust's `regex-syntax` parses a superset of what RE2 accepts in some places (class set
//! operations, nested classes, `(?<name>`, `\u` escapes, the `x`/`R`/`u` flags, Unicode
//! properties beyond general categories and scripts) and a subset in others. We accept only what
//! both accept, and bound the size the way RE2's program-size limit does.

use regex_automata::nfa::thompson;
use regex_syntax::ast::{self, Ast, ClassSetBinaryOp, ClassSetItem, Visitor};
use regex_syntax::hir::Hir;
use thiserror::Error;

/// The longest pattern accepted, in bytes.
pub(crate) const MAX_PATTERN_LEN: usize = 64 * 1024;
/// The most NFA states a pattern may compile to (RE2's program size is capped by the bootstrap
/// at 1 << 20 instructions; we stay well below).
pub(crate) const MAX_NFA_STATES: usize = 100_000;
/// RE2's largest counted repetition, also the bound on the product of nested ones.
const MAX_REPEAT: u32 = 1000;
/// Memory the NFA compiler may use before giving up.
const NFA_SIZE_LIMIT: usize = 32 << 20;

/// RE2's Unicode general categories (plus `Any`); scripts are checked by shape.
const GENERAL_CATEGORIES: &[&str] = &[
    "Any", "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// Why a regular expression was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum RegexError {
    /// Longer than [`MAX_PATTERN_LEN`].
    #[error("regular expression is {0} bytes long, the limit is 65536")]
    TooLong(usize),
    /// Not a valid expression at all.
    #[error("invalid regular expression: {0}")]
    Syntax(String),
    /// Valid in Rust but not in RE2.
    #[error("regular expression uses {0}, which RE2 (Envoy's regex engine) does not support")]
    NotRe2(&'static str),
    /// A counted repetition above 1000, or nested ones whose product is above 1000.
    #[error(
        "regular expression repeats too much: counted repetitions, and their product when nested, must stay at or below 1000"
    )]
    RepeatTooLarge,
    /// The compiled program is too large.
    #[error("regular expression is too large once compiled (more than 100000 states); simplify it")]
    TooLarge,
}

/// Checks that `pattern` is a regular expression RE2 accepts within Envoy's size limits.
pub(crate) fn validate(pattern: &str) -> Result<(), RegexError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(RegexError::TooLong(pattern.len()));
    }
    let ast = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| RegexError::Syntax(e.kind().to_string()))?;
    ast::visit(
        &ast,
        Re2Checker {
            budgets: Vec::new(),
            budget: MAX_REPEAT,
        },
    )?;
    regex_syntax::hir::translate::Translator::new()
        .translate(pattern, &ast)
        .map_err(|e| RegexError::Syntax(e.kind().to_string()))?;
    // RE2's Perl classes and word boundaries are ASCII, so size the program as RE2 would when
    // the pattern allows it; Unicode classes (`\pL`) need the Unicode translation.
    let hir = match regex_syntax::hir::translate::TranslatorBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .translate(pattern, &ast)
    {
        Ok(hir) => hir,
        Err(_) => regex_syntax::hir::translate::Translator::new()
            .translate(pattern, &ast)
            .map_err(|e| RegexError::Syntax(e.kind().to_string()))?,
    };
    check_size(&hir)
}

fn check_size(hir: &Hir) -> Result<(), RegexError> {
    let config = thompson::Config::new()
        .nfa_size_limit(Some(NFA_SIZE_LIMIT))
        .shrink(false);
    let nfa = thompson::Compiler::new()
        .configure(config)
        .build_from_hir(hir)
        .map_err(|_| RegexError::TooLarge)?;
    if nfa.states().len() > MAX_NFA_STATES {
        return Err(RegexError::TooLarge);
    }
    Ok(())
}

/// Walks the syntax tree for constructs RE2 lacks and for RE2's repetition limits.
struct Re2Checker {
    /// The repetition budget of each enclosing counted repetition.
    budgets: Vec<u32>,
    /// What is left of RE2's budget of 1000 at this depth.
    budget: u32,
}

impl Visitor for Re2Checker {
    type Output = ();
    type Err = RegexError;

    fn finish(self) -> Result<(), RegexError> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), RegexError> {
        match ast {
            Ast::Flags(set) => check_flags(&set.flags)?,
            Ast::Group(group) => match &group.kind {
                ast::GroupKind::CaptureName {
                    starts_with_p: false,
                    ..
                } => {
                    return Err(RegexError::NotRe2(
                        "the (?<name>...) group syntax (write (?P<name>...))",
                    ));
                }
                ast::GroupKind::CaptureName { name, .. } => {
                    if !name
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(RegexError::NotRe2(
                            "a group name with characters other than letters, digits and '_'",
                        ));
                    }
                }
                ast::GroupKind::NonCapturing(flags) => check_flags(flags)?,
                ast::GroupKind::CaptureIndex(_) => {}
            },
            Ast::Assertion(assertion) => check_assertion(assertion.kind.clone())?,
            Ast::Literal(literal) => check_literal(literal)?,
            Ast::ClassUnicode(class) => check_unicode_class(class)?,
            Ast::Repetition(rep) => {
                self.budgets.push(self.budget);
                if let ast::RepetitionKind::Range(range) = &rep.op.kind {
                    let (min, max) = match *range {
                        ast::RepetitionRange::Exactly(n) => (n, Some(n)),
                        ast::RepetitionRange::AtLeast(n) => (n, None),
                        ast::RepetitionRange::Bounded(m, n) => (m, Some(n)),
                    };
                    if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                        return Err(RegexError::RepeatTooLarge);
                    }
                    let factor = max.unwrap_or(min);
                    // `{0}` repeats nothing and costs nothing, as in RE2.
                    if let Some(left) = self.budget.checked_div(factor) {
                        if left == 0 {
                            return Err(RegexError::RepeatTooLarge);
                        }
                        self.budget = left;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_post(&mut self, ast: &Ast) -> Result<(), RegexError> {
        if let Ast::Repetition(_) = ast {
            self.budget = self.budgets.pop().unwrap_or(MAX_REPEAT);
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), RegexError> {
        match item {
            ClassSetItem::Bracketed(_) => {
                Err(RegexError::NotRe2("a character class nested in another"))
            }
            ClassSetItem::Literal(literal) => check_literal(literal),
            ClassSetItem::Range(range) => {
                check_literal(&range.start)?;
                check_literal(&range.end)
            }
            ClassSetItem::Unicode(class) => check_unicode_class(class),
            _ => Ok(()),
        }
    }

    fn visit_class_set_binary_op_pre(&mut self, _op: &ClassSetBinaryOp) -> Result<(), RegexError> {
        Err(RegexError::NotRe2(
            "a character class set operation (&&, -- or ~~)",
        ))
    }
}

fn check_flags(flags: &ast::Flags) -> Result<(), RegexError> {
    for item in &flags.items {
        if let ast::FlagsItemKind::Flag(flag) = &item.kind {
            match flag {
                ast::Flag::CaseInsensitive
                | ast::Flag::MultiLine
                | ast::Flag::DotMatchesNewLine
                | ast::Flag::SwapGreed => {}
                ast::Flag::Unicode => return Err(RegexError::NotRe2("the u flag")),
                ast::Flag::CRLF => return Err(RegexError::NotRe2("the R flag")),
                ast::Flag::IgnoreWhitespace => return Err(RegexError::NotRe2("the x flag")),
            }
        }
    }
    Ok(())
}

fn check_assertion(kind: ast::AssertionKind) -> Result<(), RegexError> {
    use ast::AssertionKind as A;
    match kind {
        A::StartLine
        | A::EndLine
        | A::StartText
        | A::EndText
        | A::WordBoundary
        | A::NotWordBoundary => Ok(()),
        _ => Err(RegexError::NotRe2(
            r"a special word boundary (\b{...}, \< or \>)",
        )),
    }
}

fn check_literal(literal: &ast::Literal) -> Result<(), RegexError> {
    match literal.kind {
        ast::LiteralKind::HexFixed(ast::HexLiteralKind::X)
        | ast::LiteralKind::HexBrace(ast::HexLiteralKind::X) => Ok(()),
        ast::LiteralKind::HexFixed(_) | ast::LiteralKind::HexBrace(_) => {
            Err(RegexError::NotRe2(r"a \u or \U escape (write \x{...})"))
        }
        _ => Ok(()),
    }
}

fn check_unicode_class(class: &ast::ClassUnicode) -> Result<(), RegexError> {
    match &class.kind {
        ast::ClassUnicodeKind::OneLetter(_) => Ok(()),
        ast::ClassUnicodeKind::Named(name)
            if GENERAL_CATEGORIES.contains(&name.as_str()) || is_script_shaped(name) =>
        {
            Ok(())
        }
        ast::ClassUnicodeKind::Named(_) => Err(RegexError::NotRe2(
            "a Unicode class other than a general category or a script",
        )),
        ast::ClassUnicodeKind::NamedValue { .. } => Err(RegexError::NotRe2(
            r"a Unicode class of the form \p{name=value}",
        )),
    }
}

/// RE2 script names look like `Greek` or `Old_Italic`.
fn is_script_shaped(name: &str) -> bool {
    name.split('_').all(|word| {
        let mut bytes = word.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_uppercase())
            && bytes.all(|b| b.is_ascii_alphabetic())
    })
}

#[cfg(test)]
mod tests;
