//! Seeded mutators for the fuzzing half of the adversarial suite: byte-level damage that
//! favours headers, and token-level edits of JSON headers and TOML files that reach the
//! checks behind the parsers.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Numbers a hostile or careless user writes.
pub const NASTY_NUMBERS: [&str; 16] = [
    "0",
    "1",
    "-1",
    "2",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "inf",
    "-inf",
    "2147483648",
    "4294967296",
    "4611686018427387904",
    "18446744073709551615",
    "18446744073709551616",
    "1000000000",
];

/// Other TOML values in the wrong place.
const NASTY_VALUES: [&str; 8] = [
    "\"\"",
    "\"../../x\"",
    "\"a\\nb\"",
    "true",
    "[]",
    "[1, 2]",
    "{}",
    "\"%s%n\"",
];

/// 32-bit words that break size arithmetic when written into a header.
const NASTY_WORDS: [u32; 8] = [0, 1, 2, 0x7fff_ffff, 0xffff_ffff, 200_000, 0x0001_0000, 60_001];

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A position, half the time inside the first `header` bytes.
fn position(rng: &mut ChaCha8Rng, len: usize, header: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if header > 0 && rng.random_bool(0.5) {
        rng.random_range(0..header.min(len))
    } else {
        rng.random_range(0..len)
    }
}

/// One random byte-level mutation of `bytes`; returns the mutant and what was done.
pub fn bytes(bytes: &[u8], header: usize, rng: &mut ChaCha8Rng) -> (Vec<u8>, String) {
    let mut b = bytes.to_vec();
    let len = b.len();
    let at = position(rng, len, header);
    let what = match rng.random_range(0..8) {
        0 if len > 0 => {
            let bit = rng.random_range(0..8);
            b[at] ^= 1 << bit;
            format!("flip bit {bit} of byte {at}")
        }
        1 if len > 0 => {
            let v = [0u8, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
            b[at] = v;
            format!("byte {at} = {v:#x}")
        }
        2 => {
            b.truncate(at);
            format!("truncate to {at} bytes")
        }
        3 => {
            let n = rng.random_range(1..64);
            let extra: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b.extend_from_slice(&extra);
            format!("append {n} random bytes")
        }
        4 if len > 0 => {
            let n = rng.random_range(1..=(len - at).min(256));
            b.drain(at..at + n);
            format!("delete {n} bytes at {at}")
        }
        5 if len > 0 => {
            let n = rng.random_range(1..=(len - at).min(256));
            let chunk = b[at..at + n].to_vec();
            b.splice(at..at, chunk);
            format!("duplicate {n} bytes at {at}")
        }
        6 if len >= 4 => {
            let at = at.min(len - 4) & !3;
            let w = NASTY_WORDS[rng.random_range(0..NASTY_WORDS.len())];
            b[at..at + 4].copy_from_slice(&w.to_be_bytes());
            format!("big-endian word {w:#x} at {at}")
        }
        _ => {
            let n = rng.random_range(1..=16).min(len - at.min(len));
            b[at..at + n].fill(0);
            format!("zero {n} bytes at {at}")
        }
    };
    (b, what)
}

/// Spans of `text` that are values: numbers, quoted strings, booleans, arrays' items.
fn value_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1 + (bytes[i] == b'\\') as usize;
            }
            i = (i + 1).min(bytes.len());
            spans.push((start, i));
        } else if c.is_ascii_digit() || c == b'-' || c.is_ascii_alphabetic() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || b"-+._".contains(&bytes[i])) {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// The key of the `key = value` line holding byte `at`, if any.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| key.to_string())
}

/// One token-level edit of a text file (TOML or a JSON header): a value replaced by a
/// nasty number or value, a line deleted or duplicated, or a byte-level mutation. Returns
/// the mutant, what was done, and the TOML key whose value was replaced (if one was).
pub fn text(text: &str, rng: &mut ChaCha8Rng) -> (String, String, Option<String>) {
    let spans = value_spans(text);
    match rng.random_range(0..10) {
        0..=5 if !spans.is_empty() => {
            let (s, e) = spans[rng.random_range(0..spans.len())];
            let new = if rng.random_bool(0.75) {
                NASTY_NUMBERS[rng.random_range(0..NASTY_NUMBERS.len())]
            } else {
                NASTY_VALUES[rng.random_range(0..NASTY_VALUES.len())]
            };
            let out = format!("{}{new}{}", &text[..s], &text[e..]);
            (out, format!("replace `{}` with `{new}`", &text[s..e]), key_at(text, s))
        }
        6 | 7 => {
            let lines: Vec<&str> = text.lines().collect();
            let k = rng.random_range(0..lines.len().max(1));
            let mut out: Vec<&str> = lines.clone();
            let what = if rng.random_bool(0.5) && !out.is_empty() {
                out.remove(k);
                format!("delete line {k}")
            } else if !out.is_empty() {
                out.insert(k, lines[k]);
                format!("duplicate line {k}")
            } else {
                "empty".into()
            };
            (out.join("\n") + "\n", what, None)
        }
        _ => {
            let (b, what) = bytes(text.as_bytes(), 0, rng);
            (String::from_utf8_lossy(&b).into_owned(), what, None)
        }
    }
}

/// A safetensors file with its JSON header edited by [`text`]; the 8-byte length prefix
/// is updated (three times in four) or left stale.
pub fn safetensors_header(file: &[u8], rng: &mut ChaCha8Rng) -> (Vec<u8>, String) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&file[8..8 + n]).into_owned();
    let (new, what, _) = text(&header, rng);
    let mut out = Vec::with_capacity(file.len());
    let stale = rng.random_range(0..4) == 0;
    let len = if stale { n } else { new.len() } as u64;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(&file[8 + n..]);
    (
        out,
        format!("header: {what}{}", if stale { " (stale length)" } else { "" }),
    )
}

/// Seeds of the mutants of one format: a fixed base so a failure names its seed.
pub fn seeds(format: u64, count: usize) -> impl Iterator<Item = u64> {
    (0..count as u64).map(move |i| format * 1_000_003 + i)
}
