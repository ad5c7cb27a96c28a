//! Writing an export table as CSV, JSON lines or Parquet, streaming row by row (Parquet:
//! in row groups), so that a large per-point export never sits in memory as text.

use super::table::{Column, ColumnKind, Table};
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use serde_json::Value;
use std::io::{Result, Write};
use std::sync::Arc;

/// Rows per Parquet row group (and per Arrow record batch).
const ROWS_PER_GROUP: usize = 65_536;

/// CSV with a header row. A missing value is an empty cell (pandas: NaN); text is quoted
/// when it holds a comma, a quote, a line break or surrounding spaces; booleans are
/// `true`/`false`; arrays are their JSON text.
pub fn write_csv(table: &Table, out: &mut dyn Write) -> Result<()> {
    let header: Vec<String> = table.columns().iter().map(|c| csv_quote(&c.name)).collect();
    writeln!(out, "{}", header.join(","))?;
    let mut line = String::new();
    for row in table.rows() {
        line.clear();
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            match value {
                Value::Null => {}
                Value::String(s) => line.push_str(&csv_quote(s)),
                Value::Array(_) | Value::Object(_) => line.push_str(&csv_quote(&value.to_string())),
                v => line.push_str(&v.to_string()),
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One JSON object per line, its keys in column order; missing values are null.
pub fn write_jsonl(table: &Table, out: &mut dyn Write) -> Result<()> {
    let keys: Vec<String> = table
        .columns()
        .iter()
        .map(|c| Value::from(c.name.as_str()).to_string())
        .collect();
    let mut line = String::new();
    for row in table.rows() {
        line.clear();
        line.push('{');
        for (i, (key, value)) in keys.iter().zip(&row).enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(key);
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// Parquet (uncompressed), one typed, nullable column per table column.
pub fn write_parquet(table: &Table, out: &mut (dyn Write + Send)) -> Result<()> {
    let schema = Arc::new(Schema::new(
        table
            .columns()
            .iter()
            .map(|c| Field::new(&c.name, data_type(c.kind), true))
            .collect::<Vec<_>>(),
    ));
    let mut writer = ArrowWriter::try_new(out, schema.clone(), None).map_err(std::io::Error::other)?;
    let mut rows = table.rows().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(ROWS_PER_GROUP).collect();
        let arrays: Vec<ArrayRef> = table
            .columns()
            .iter()
            .enumerate()
            .map(|(i, column)| build_array(column, chunk.iter().map(|row| &row[i])))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
        writer.write(&batch).map_err(std::io::Error::other)?;
    }
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

fn data_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::Int64 => DataType::Int64,
        ColumnKind::UInt64 => DataType::UInt64,
        ColumnKind::Float64 => DataType::Float64,
        ColumnKind::Boolean => DataType::Boolean,
        ColumnKind::Utf8 => DataType::Utf8,
    }
}

/// One column of a record batch. Values are typed by the table (a column's values all
/// fit its kind); a non-finite float is null.
fn build_array<'v>(column: &Column, values: impl Iterator<Item = &'v Value>) -> ArrayRef {
    match column.kind {
        ColumnKind::Int64 => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_option(v.as_i64()));
            Arc::new(b.finish())
        }
        ColumnKind::UInt64 => {
            let mut b = UInt64Builder::new();
            values.for_each(|v| b.append_option(v.as_u64()));
            Arc::new(b.finish())
        }
        ColumnKind::Float64 => {
            let mut b = Float64Builder::new();
            values.for_each(|v| b.append_option(v.as_f64().filter(|x| x.is_finite())));
            Arc::new(b.finish())
        }
        ColumnKind::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| b.append_option(v.as_bool()));
            Arc::new(b.finish())
        }
        ColumnKind::Utf8 => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::String(s) => b.append_value(s),
                    other => b.append_value(other.to_string()),
                }
            }
            Arc::new(b.finish())
        }
    }
}
