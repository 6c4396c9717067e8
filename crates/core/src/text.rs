//! Text that must fit a limit: causes, status details and summaries (Migration Hub's
//! `StatusDetail` holds 2,500 characters; Step Functions' state data 256 KiB).

/// What marks a cut.
const MARK: &str = "...";

/// `s` cut to at most `max` characters (not bytes: never inside a character), the cut marked with
/// `...` within those `max` (unmarked when `max` leaves no room for the mark).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max < MARK.len() {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - MARK.len()).collect();
    out.push_str(MARK);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_characters_not_bytes_and_marks_the_cut() {
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("exactly10!", 10), "exactly10!");
        assert_eq!(truncate_chars("0123456789abc", 10), "0123456...");
        // Each é is two bytes: a byte cut would split one.
        assert_eq!(truncate_chars("éééééé", 5), "éé...");
        assert_eq!(truncate_chars("abcdef", 3), "...");
        assert_eq!(truncate_chars("abcdef", 2), "ab");
    }
}
