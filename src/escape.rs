//! Text from AWS (names, tags, messages, ids) shown to a person: nothing in it may move the
//! cursor, colour the terminal, forge a line, or reorder what is read around it.

use std::borrow::Cow;

/// Unicode's bidirectional formatting characters (UAX #9): a right-to-left override in a
/// function name can make `fail` read as `liaf` or hide text after it.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` must not reach a terminal, a chat message or a mail as it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// For a terminal: control and bidi characters are shown as `\u{..}` escapes, so the text
/// stays on its line and reads in its order.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_or_reorder() {
        assert_eq!(terminal("sg-1"), "sg-1");
        assert_eq!(terminal("a\nFAIL b"), "a\\u{a}FAIL b");
        assert_eq!(terminal("\u{1b}[2Jx"), "\\u{1b}[2Jx");
        assert_eq!(terminal("fn\u{202E}liaf"), "fn\\u{202e}liaf");
        assert_eq!(terminal("\u{2067}x"), "\\u{2067}x");
        assert!(!is_unsafe('é'));
    }
}
