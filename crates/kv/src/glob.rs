//! Redis's glob patterns (`stringmatchlen`), for KEYS and SCAN MATCH: `*`, `?`, `[abc]`,
//! `[^a]`, `[a-z]`, and `\x` for a literal `x`. Bytes, case-sensitive.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Backtracking over the last `*` only: linear for the patterns people write, and never
    // exponential (Redis had to add a nesting limit to its recursive matcher).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    let (matched, next) = class(pattern, p, text[t]);
                    if matched {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                // An escape that does not match must not fall through to the literal arm.
                b'\\' if p + 1 < pattern.len() => {}
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// `literal` as a pattern that matches exactly it: `*`, `?`, `[`, `]` and `\` escaped.
pub fn escape(literal: &[u8]) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(literal.len());
    for &c in literal {
        if matches!(c, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(c);
    }
    pattern
}

/// The pattern of every key that starts with `prefix` (taken literally).
pub fn prefix_pattern(prefix: &[u8]) -> Vec<u8> {
    let mut pattern = escape(prefix);
    pattern.push(b'*');
    pattern
}

/// Matches `c` against the class opening at `pattern[open]`; returns whether it matched and
/// where the pattern continues. An unterminated class runs to the end, as in Redis.
fn class(pattern: &[u8], open: usize, c: u8) -> (bool, usize) {
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= pattern[i + 1] == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (lo, hi) = (
                pattern[i].min(pattern[i + 2]),
                pattern[i].max(pattern[i + 2]),
            );
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= pattern[i] == c;
            i += 1;
        }
    }
    let next = (i + 1).min(pattern.len());
    (matched != negate, next)
}

#[cfg(test)]
mod tests {
    use super::{escape, matches, prefix_pattern};

    fn m(pattern: &str, text: &str) -> bool {
        matches(pattern.as_bytes(), text.as_bytes())
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("address:*", "address:1"));
        assert!(!m("address:*", "addr:1"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxcxxb"));
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
    }

    #[test]
    fn classes_ranges_negation_and_escapes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("x[ab", "xa"));
    }

    #[test]
    fn a_pathological_pattern_is_fast() {
        let text = "a".repeat(10_000);
        assert!(!m(&format!("{}b", "*a".repeat(50)), &text));
    }

    #[test]
    fn escaped_literals_match_only_themselves() {
        for literal in [
            "plain",
            "a*b",
            "what?",
            "[x]",
            "back\\slash",
            "*?[]\\",
            "",
            "a/b:c",
        ] {
            let pattern = escape(literal.as_bytes());
            assert!(matches(&pattern, literal.as_bytes()), "{literal}");
        }
        assert!(!matches(&escape(b"a*"), b"abc"));
        assert!(!matches(&escape(b"a?"), b"ab"));
        assert!(!matches(&escape(b"[ab]"), b"a"));
        assert_eq!(escape(b"a*b"), b"a\\*b");
    }

    #[test]
    fn prefix_patterns_take_the_prefix_literally() {
        let p = prefix_pattern(b"user:*");
        assert!(matches(&p, b"user:*"));
        assert!(matches(&p, b"user:*/1"));
        assert!(!matches(&p, b"user:1"));
        assert!(matches(&prefix_pattern(b""), b"anything"));
        assert!(matches(&prefix_pattern(b"a/b"), b"a/b/c"));
        assert!(!matches(&prefix_pattern(b"a/b"), b"a/c"));
    }
}
