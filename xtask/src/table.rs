//! The one benchmark table `cargo xtask bench` prints (DESIGN.md §12):
//! figure, value, baseline measured in the same run, ratio, target, verdict.

use std::fmt::Write as _;

#[derive(Default)]
pub struct Table {
    rows: Vec<[String; 6]>,
    notes: Vec<String>,
}

impl Table {
    /// A heading row for the next benchmark's figures.
    pub fn section(&mut self, title: &str) {
        self.row(&format!("— {title}"), "", "", "", "", "");
    }

    pub fn row(&mut self, a: &str, b: &str, c: &str, d: &str, e: &str, f: &str) {
        self.rows.push([a, b, c, d, e, f].map(str::to_owned));
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn print(&self) {
        let header = ["figure", "value", "baseline", "ratio", "target", ""];
        let mut widths = header.map(|h| h.chars().count());
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (cell, w) in cells.iter().zip(widths) {
                let _ = write!(out, "{cell:<w$}  ");
            }
            out.trim_end().to_owned()
        };
        println!();
        println!("{}", line(&header.map(str::to_owned)));
        for row in &self.rows {
            println!("{}", line(row));
        }
        for note in &self.notes {
            println!("  note: {note}");
        }
    }
}
