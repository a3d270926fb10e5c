//! Text from AWS made inert for Slack markdown and e-mail, and bounded: escaping,
//! truncation, and the SNS subject line.

/// Free text from AWS (names, tags, messages) for Slack markdown: nothing in it can become
/// a mention, a link or formatting. Slack's own escapes for `&`, `<` and `>` stop `<!channel>`,
/// `<@U…>` and `<url|text>`; the formatting characters become look-alikes, since Slack has
/// no escape for them; `@` gets a word joiner so `@here` is never a mention.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' => out.push('\u{2217}'),
            '_' => out.push('\u{02CD}'),
            '~' => out.push('\u{223C}'),
            '`' => out.push('\u{02CB}'),
            '@' => out.push_str("@\u{2060}"),
            c if crate::escape::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a Slack code span: no formatting applies there, so only what could end
/// the span or form a control sequence is changed.
pub(super) fn code_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\u{02CB}'),
            c if crate::escape::is_unsafe(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An identifier or command, shown exactly, as a Slack code span.
pub fn code(text: &str) -> String {
    if text.is_empty() {
        return "(none)".to_string();
    }
    format!("`{}`", code_text(text))
}

pub(super) fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ")
}

pub(super) fn rule_list_md(rules: &[String]) -> String {
    if rules.is_empty() {
        return "no rule recorded".to_string();
    }
    code_list(rules)
}

/// Text for the e-mail: control and bidi characters (a forged line break in a name, a
/// right-to-left override) become spaces.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if crate::escape::is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// SNS subjects: printable ASCII on one line.
pub(super) fn ascii_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('\u{2026}');
    out
}

pub(super) fn truncate_with_note(text: &str, max: usize, uuid: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let note = format!(
        "\n\u{2026} (cut short: {} has the full report)",
        code(&format!("esm-guard audit --esm {uuid}"))
    );
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(&note);
    out
}

pub(super) fn one_line_rules(rules: &[String]) -> String {
    if rules.is_empty() {
        "no findings".to_string()
    } else {
        rules.join(", ")
    }
}

pub(super) fn non_empty(text: &str) -> String {
    if text.is_empty() {
        "unknown".to_string()
    } else {
        text.to_string()
    }
}

pub(super) fn short(uuid: &str) -> &str {
    uuid.get(..8).unwrap_or(uuid)
}

pub(super) fn cluster_name(arn: &str) -> &str {
    // arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID
    arn.split('/').nth(1).unwrap_or(arn)
}

pub(super) use crate::model::function_name;
