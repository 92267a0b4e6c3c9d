//! A session's recording files, as a console names them: `<id>.mcap`, then
//! `<id>-part2.mcap`, `<id>-part3.mcap`, … for each time the session goes on
//! in a new file (a resume after a console restart, a note after the end).
//! The one place that knows the naming.

use std::path::{Path, PathBuf};

/// The file name of part `part` (from 1) of session `session_id`.
pub fn file_name(session_id: &str, part: u32) -> String {
    if part <= 1 { format!("{session_id}.mcap") } else { format!("{session_id}-part{part}.mcap") }
}

/// The session id and part number a file name says, `None` for a name that
/// is not a console's (`.recovered.mcap` copies included).
pub fn split(name: &str) -> Option<(&str, u32)> {
    let stem = name.strip_suffix(".mcap")?;
    match stem.rsplit_once("-part") {
        Some((id, n)) if !id.is_empty() && n.parse::<u32>().is_ok_and(|n| n >= 2) => Some((id, n.parse().ok()?)),
        _ if !stem.is_empty() && !stem.contains('.') => Some((stem, 1)),
        _ => None,
    }
}

/// The files of session `session_id` beside `file`: `file` first, then the
/// session's other parts there in part order (by name only: no file is
/// opened).
pub fn session_files(file: &Path, session_id: &str) -> Vec<PathBuf> {
    let mut files = vec![file.to_path_buf()];
    if session_id.is_empty() {
        return files;
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name() != file.file_name())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let (id, part) = split(&name)?;
            (id == session_id).then_some((part, p))
        })
        .collect();
    found.sort();
    files.extend(found.into_iter().map(|(_, p)| p));
    files
}

/// Every part of the session `file` belongs to, first part first: the
/// session id is read from the file's name (`<id>-part3.mcap` → `<id>`).
pub fn all_parts_of(file: &Path) -> Vec<PathBuf> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some((id, _)) = split(&name) else { return vec![file.to_path_buf()] };
    let first = file.with_file_name(file_name(id, 1));
    session_files(if first.is_file() { &first } else { file }, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_their_parts() {
        let id = "20261130T145934Z-592c15ab";
        assert_eq!(file_name(id, 1), format!("{id}.mcap"));
        assert_eq!(file_name(id, 3), format!("{id}-part3.mcap"));
        for part in [1, 2, 12] {
            assert_eq!(split(&file_name(id, part)), Some((id, part)));
        }
        assert_eq!(split("s-part1.mcap"), Some(("s-part1", 1)), "part 1 has no suffix");
        assert_eq!(split(&format!("{id}.recovered.mcap")), None);
        assert_eq!(split("notes.txt"), None);
    }

    #[test]
    fn finds_a_sessions_parts_in_order_and_no_other() {
        let dir = std::env::temp_dir().join(format!("trinvis-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a.mcap", "a-part10.mcap", "a-part2.mcap", "ab-part2.mcap", "a.recovered.mcap", "b.mcap"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let names = |files: Vec<PathBuf>| -> Vec<String> {
            files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect()
        };
        assert_eq!(names(all_parts_of(&dir.join("a-part2.mcap"))), ["a.mcap", "a-part2.mcap", "a-part10.mcap"]);
        assert_eq!(names(session_files(&dir.join("b.mcap"), "b")), ["b.mcap"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
