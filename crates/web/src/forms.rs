//! Small helpers for HTML forms: trimmed optional fields and checkbox values.

/// A text field: trimmed, `None` when empty.
pub fn opt(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A checkbox: present (any value) means ticked.
pub fn ticked(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|v| !v.is_empty())
}
