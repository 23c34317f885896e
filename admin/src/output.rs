//! The only place that prints: aligned tables and `key: value` blocks for people, the registry's
//! JSON (pretty) with `--json`, and one `error: ...` line on stderr for every failure.
//!
//! The renderings of each resource are pure functions in [`views`], so tests check them as strings.

pub mod access;
pub mod views;

pub use grid_proto::console::{Output, table, table_of};

/// Lays out `key: value` lines with the values aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        out.push_str(format!("{label:width$} {value}").trim_end());
        out.push('\n');
    }
    out
}

/// Indents every line of `text` by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = String::new();
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A duration in words: `12 s`, `5 min 3 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration_s(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// A time in milliseconds since the epoch as `2026-03-01 12:34:56 UTC`; `-` for 0.
pub fn time_ms(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A list joined by `, `, or `-` when empty.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_do_not_pad_the_last_column() {
        let rows = vec![
            vec!["MediaServer-1".into(), "node1".into(), "active".into()],
            vec!["R".into(), "node22".into(), "inactive".into()],
        ];
        assert_eq!(
            table(&["ID", "NODE", "STATE"], &rows),
            "ID             NODE    STATE\n\
             MediaServer-1  node1   active\n\
             R              node22  inactive\n"
        );
        assert_eq!(table(&["ID", "X"], &[]), "ID  X\n");
    }

    #[test]
    fn key_values_align() {
        assert_eq!(
            key_values(&[
                ("id", "A".into()),
                ("restart count", "0".into()),
                ("pwd", String::new())
            ]),
            "id:            A\nrestart count: 0\npwd:\n"
        );
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(time_ms(0), "-");
        assert_eq!(time_ms(1_000), "1970-01-01 00:00:01 UTC");
        assert_eq!(time_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(time_ms(1_772_368_496_789), "2026-03-01 12:34:56 UTC");
        assert_eq!(duration_s(12), "12 s");
        assert_eq!(duration_s(303), "5 min 3 s");
        assert_eq!(duration_s(7_500), "2 h 5 min");
        assert_eq!(duration_s(273_600), "3 d 4 h");
    }

    #[test]
    fn indent_keeps_blank_lines_blank() {
        assert_eq!(indent("a\n\nb", 2), "  a\n\n  b\n");
    }
}
