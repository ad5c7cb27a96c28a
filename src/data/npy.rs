//! NumPy arrays in and out: a user's own inputs and labels read from `.npy` files and
//! `.npz` archives, checked against the model they are measured with (shape, dtype,
//! finite values, label range, memory), and a dataset's normalized arrays written as one
//! `.npz` archive. The formats themselves are read and written by the `npyz` crate (arrays)
//! and the `zip` crate (archives); this module decides what is accepted.
//!
//! Rules: inputs are float32 or float64 (float64 is converted to float32, with a notice)
//! of shape `[n, d]`, `[n, H, W]` or `[n, H, W, C]` (channels last, flattened row-major)
//! matching the model's input; labels are integers of any width, shape `[n]`, each in
//! `0..classes`. Inputs are used as given: nothing is normalized here.

use crate::error::{OccamError, Result};
use crate::limits::check_memory;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Names an archive's inputs array is looked up by when `:NAME` does not pick one.
pub const INPUT_NAMES: [&str; 3] = ["x", "X", "inputs"];
/// Names an archive's labels array is looked up by when `:NAME` does not pick one.
pub const LABEL_NAMES: [&str; 2] = ["y", "labels"];

/// One array: a `.npy` file, or one array of an `.npz` archive (`F.npz:NAME`; without
/// `:NAME` the array is found by its conventional name, [`INPUT_NAMES`] or [`LABEL_NAMES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArraySpec {
    pub path: PathBuf,
    pub name: Option<String>,
}

impl ArraySpec {
    /// Parses `FILE` or `FILE.npz:NAME`: the text after the last `:` names an array when
    /// the text before it ends in `.npz`; otherwise the whole text is the file.
    pub fn parse(text: &str) -> Result<ArraySpec> {
        if let Some((file, name)) = text.rsplit_once(':')
            && file.to_ascii_lowercase().ends_with(".npz")
        {
            if name.is_empty() {
                return Err(OccamError::config(format!(
                    "'{text}' names no array after ':': write {file}:NAME, or {file} alone"
                )));
            }
            return Ok(ArraySpec {
                path: file.into(),
                name: Some(name.into()),
            });
        }
        Ok(ArraySpec {
            path: text.into(),
            name: None,
        })
    }
}

impl fmt::Display for ArraySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}:{name}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// A user's points, checked: `examples` rows of the model's input dimension.
#[derive(Debug, Clone)]
pub struct UserInputs {
    /// Row-major `[examples × d]`, exactly the file's values (float64 rounded to float32).
    pub inputs: Vec<f32>,
    pub examples: usize,
    /// The labels, when given or found beside the inputs in their archive.
    pub labels: Option<Vec<u16>>,
    /// Where the inputs were read from, the archive's array named.
    pub inputs_from: ArraySpec,
    /// Where the labels were read from, the archive's array named.
    pub labels_from: Option<ArraySpec>,
    /// Conversions worth telling the user about (float64 rounded to float32).
    pub notices: Vec<String>,
}

/// Reads and checks a user's inputs for a model taking `input_shape` (height, width,
/// channels) with `classes` outputs. Labels come from `labels`, or, when that is `None`
/// and `inputs` is an archive without `:NAME`, from its `y`/`labels` array if it has one.
pub fn read_user_inputs(
    inputs: &ArraySpec,
    labels: Option<&ArraySpec>,
    input_shape: [usize; 3],
    classes: usize,
) -> Result<UserInputs> {
    let (inputs_from, (shape, values, from_f64)) =
        read_array(inputs, Role::Inputs, decode_floats)?.ok_or_else(|| bad(inputs, "no inputs array found"))?;
    let examples = examples_in(&shape, input_shape).map_err(|why| bad(&inputs_from, why))?;
    let mut notices = Vec::new();
    if from_f64 {
        notices.push(format!(
            "{inputs_from}: float64 inputs converted to float32, the precision Occam computes in"
        ));
    }
    check_finite(&inputs_from, &values, values.len() / examples, from_f64)?;
    let labels_spec = match labels {
        Some(spec) => Some(spec.clone()),
        None if inputs.name.is_none() && is_archive(&inputs.path)? => Some(ArraySpec {
            path: inputs.path.clone(),
            name: None,
        }),
        None => None,
    };
    let required = labels.is_some();
    let mut labels_from = None;
    let mut label_values = None;
    if let Some(spec) = labels_spec
        && let Some((from, (shape, values))) = read_array(&spec, Role::Labels { required }, decode_integers)?
    {
        label_values = Some(check_labels(&from, &shape, &values, examples, classes)?);
        labels_from = Some(from);
    }
    Ok(UserInputs {
        inputs: values,
        examples,
        labels: label_values,
        inputs_from,
        labels_from,
        notices,
    })
}

/// The number of examples in an inputs array of `shape` for a model taking `input_shape`,
/// or why the shape does not fit.
pub fn examples_in(shape: &[usize], input_shape: [usize; 3]) -> std::result::Result<usize, String> {
    let [h, w, c] = input_shape;
    let d = h * w * c;
    let wanted = format!(
        "the model takes d = {d} values per example (height {h}, width {w}, channels {c}): give shape \
         [n, {d}] or [n, {h}, {w}, {c}] (channels last, flattened row-major)"
    );
    if shape.len() < 2 {
        return Err(format!(
            "an array of shape {shape:?} is not a set of examples: {wanted}; one example is [1, {d}]"
        ));
    }
    let (n, rest) = (shape[0], &shape[1..]);
    let fits = rest == [d] || rest == [h, w, c] || (c == 1 && rest == [h, w]);
    if !fits {
        let channels_first = rest == [c, h, w] && c > 1;
        return Err(format!(
            "shape {shape:?} does not fit the model: {wanted}{}",
            if channels_first {
                "; this array is channels first: transpose it with x.transpose(0, 2, 3, 1)"
            } else {
                ""
            }
        ));
    }
    if n == 0 {
        return Err(format!("shape {shape:?} holds no examples: at least one is needed"));
    }
    Ok(n)
}

/// Refuses the first NaN or infinite value, naming the example and the entry.
fn check_finite(from: &ArraySpec, values: &[f32], d: usize, from_f64: bool) -> Result<()> {
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(
            from,
            format!(
                "example {}, entry {} is {}: inputs must be finite{}",
                at / d,
                at % d,
                values[at],
                if from_f64 {
                    " (a float64 value beyond ±3.4e38 does not fit float32)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

/// Labels of shape `[examples]`, each in `0..classes`.
fn check_labels(
    from: &ArraySpec,
    shape: &[usize],
    values: &[i128],
    examples: usize,
    classes: usize,
) -> Result<Vec<u16>> {
    if shape != [examples] {
        return Err(bad(
            from,
            format!(
                "labels of shape {:?} do not match the {examples} inputs: give shape [{examples}] \
                 (one integer per example; y.ravel() flattens a column)",
                shape
            ),
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &label)| match u16::try_from(label) {
            Ok(l) if (l as usize) < classes => Ok(l),
            _ => Err(bad(
                from,
                format!(
                    "label {label} at index {i} is out of range: valid labels are 0 to {} (the model has \
                     {classes} outputs)",
                    classes - 1
                ),
            )),
        })
        .collect()
}

fn bad(from: &ArraySpec, problem: impl fmt::Display) -> OccamError {
    OccamError::config(format!("{from}: {problem}"))
}

/// What an array is read as, and so which names it is found by.
#[derive(Debug, Clone, Copy)]
enum Role {
    Inputs,
    /// Labels; `required` is false when they are only looked for beside the inputs.
    Labels {
        required: bool,
    },
}

impl Role {
    fn default_names(self) -> &'static [&'static str] {
        match self {
            Role::Inputs => &INPUT_NAMES,
            Role::Labels { .. } => &LABEL_NAMES,
        }
    }
    fn required(self) -> bool {
        matches!(self, Role::Inputs | Role::Labels { required: true })
    }
}

/// An array's header opened for reading; the byte count is what the file or archive
/// entry holds, to refuse a header that promises more.
type Opened<'a> = (NpyFile<&'a mut dyn Read>, u64);

const NPY_MAGIC: &[u8] = b"\x93NUMPY";
const ZIP_MAGIC: &[u8] = b"PK";

fn open(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| OccamError::io(path, e))?;
    let meta = file.metadata().map_err(|e| OccamError::io(path, e))?;
    if !meta.is_file() {
        return Err(OccamError::bad_file(path, "not a regular file"));
    }
    Ok(file)
}

/// Whether `path` is an `.npz` (zip) archive rather than a `.npy` file, by its first bytes.
fn is_archive(path: &Path) -> Result<bool> {
    let mut magic = Vec::with_capacity(6);
    open(path)?
        .take(6)
        .read_to_end(&mut magic)
        .map_err(|e| OccamError::io(path, e))?;
    if magic.starts_with(NPY_MAGIC) {
        Ok(false)
    } else if magic.starts_with(ZIP_MAGIC) {
        Ok(true)
    } else {
        Err(OccamError::bad_file(
            path,
            "neither a NumPy .npy file nor an .npz archive (its first bytes are neither \\x93NUMPY nor PK)",
        ))
    }
}

/// Reads the array `spec` names with `decode`; `None` when labels were only looked for
/// and there are none.
fn read_array<T>(
    spec: &ArraySpec,
    role: Role,
    decode: impl FnOnce(Opened<'_>, &ArraySpec) -> Result<T>,
) -> Result<Option<(ArraySpec, T)>> {
    if !is_archive(&spec.path)? {
        if spec.name.is_some() {
            return Err(bad(
                spec,
                "this is a .npy file, which holds one array: drop ':NAME' (it picks an array of an .npz archive)",
            ));
        }
        let file = open(&spec.path)?;
        let size = file.metadata().map_err(|e| OccamError::io(&spec.path, e))?.len();
        let mut reader = BufReader::new(file);
        let npy =
            NpyFile::new(&mut reader as &mut dyn Read).map_err(|e| bad(spec, format!("not a valid .npy file: {e}")))?;
        return Ok(Some((spec.clone(), decode((npy, size), spec)?)));
    }
    let file = open(&spec.path)?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| bad(spec, format!("not a readable .npz archive: {e}")))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok())
        .filter_map(|n| npyz::npz::array_name_from_file_name(&n).map(str::to_string))
        .collect();
    let Some(name) = pick_name(spec, role, &names)? else {
        return Ok(None);
    };
    let from = ArraySpec {
        path: spec.path.clone(),
        name: Some(name.clone()),
    };
    let mut entry = archive
        .by_name(&npyz::npz::file_name_from_array_name(&name))
        .map_err(|e| bad(&from, format!("cannot be read from the archive: {e}")))?;
    let size = entry.size();
    let npy =
        NpyFile::new(&mut entry as &mut dyn Read).map_err(|e| bad(&from, format!("not a valid NumPy array: {e}")))?;
    let values = decode((npy, size), &from)?;
    Ok(Some((from, values)))
}

/// The archive's array to read: the one `:NAME` picks, or the one conventional name found.
fn pick_name(spec: &ArraySpec, role: Role, names: &[String]) -> Result<Option<String>> {
    let listing = if names.is_empty() {
        "it holds no arrays".to_string()
    } else {
        format!("its arrays are {}", names.join(", "))
    };
    if let Some(name) = &spec.name {
        if !names.contains(name) {
            return Err(bad(spec, format!("no array named '{name}' in the archive: {listing}")));
        }
        return Ok(Some(name.clone()));
    }
    let wanted = role.default_names();
    let found: Vec<&String> = names.iter().filter(|n| wanted.contains(&n.as_str())).collect();
    match found[..] {
        [one] => Ok(Some(one.clone())),
        [] if !role.required() => Ok(None),
        [] => Err(bad(
            spec,
            format!(
                "the archive has none of the arrays {}: {listing}; pick one as {}:NAME",
                wanted.join(", "),
                spec.path.display()
            ),
        )),
        _ => Err(bad(
            spec,
            format!(
                "the archive has several of the arrays {}: pick one as {}:NAME",
                wanted.join(", "),
                spec.path.display()
            ),
        )),
    }
}

/// An array's shape, after checking that its dtype is a plain one `accepts` takes, that
/// the file holds the bytes its header promises, and that `kept_bytes` per value fit in
/// memory (twice, for a reordering copy).
fn checked_shape(
    (npy, available): &Opened<'_>,
    from: &ArraySpec,
    accepts: impl Fn(TypeChar, u64) -> bool,
    rule: &str,
    kept_bytes: f64,
) -> Result<Vec<usize>> {
    let dtype = npy.dtype();
    let descr = dtype.descr();
    let item_bytes = match &dtype {
        DType::Plain(t) if accepts(t.type_char(), t.size_field()) => t.size_field(),
        _ => return Err(bad(from, format!("dtype {descr}: {rule}"))),
    };
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let count = npy.shape().iter().map(|&s| s as f64).product::<f64>();
    let needed = count * item_bytes as f64;
    if needed > *available as f64 {
        return Err(bad(
            from,
            format!(
                "its header declares shape {shape:?} of dtype {descr} ({needed} bytes) but only {available} \
                 bytes are there: the file is truncated or damaged"
            ),
        ));
    }
    check_memory(&format!("{from} (shape {shape:?})"), count * kept_bytes * 2.0)?;
    Ok(shape)
}

/// Float32 or float64 values in row-major order, and whether they were float64.
fn decode_floats(opened: Opened<'_>, from: &ArraySpec) -> Result<(Vec<usize>, Vec<f32>, bool)> {
    let rule = "inputs must be float32 or float64 (e.g. x.astype(np.float32))";
    let accepts = |t: TypeChar, size: u64| t == TypeChar::Float && matches!(size, 4 | 8);
    let shape = checked_shape(&opened, from, accepts, rule, 4.0)?;
    let npy = opened.0;
    let fortran = npy.order() == Order::Fortran;
    let from_f64 = npy.dtype().num_bytes() == Some(8);
    let values = if from_f64 {
        collect_as(npy.data::<f64>(), from, |v| v as f32)?
    } else {
        collect_as(npy.data::<f32>(), from, |v| v)?
    };
    let values = if fortran { fortran_to_c(&values, &shape) } else { values };
    Ok((shape, values, from_f64))
}

/// Integer values of any width and signedness, in row-major order.
fn decode_integers(opened: Opened<'_>, from: &ArraySpec) -> Result<(Vec<usize>, Vec<i128>)> {
    let rule = "labels must be integers of any width (e.g. y.astype(np.int64))";
    let accepts = |t: TypeChar, size: u64| matches!(t, TypeChar::Int | TypeChar::Uint) && matches!(size, 1 | 2 | 4 | 8);
    let shape = checked_shape(&opened, from, accepts, rule, 16.0)?;
    let npy = opened.0;
    let fortran = npy.order() == Order::Fortran;
    let signed = matches!(&npy.dtype(), DType::Plain(t) if t.type_char() == TypeChar::Int);
    let values = match (signed, npy.dtype().num_bytes()) {
        (true, Some(1)) => collect_as(npy.data::<i8>(), from, i128::from)?,
        (true, Some(2)) => collect_as(npy.data::<i16>(), from, i128::from)?,
        (true, Some(4)) => collect_as(npy.data::<i32>(), from, i128::from)?,
        (true, _) => collect_as(npy.data::<i64>(), from, i128::from)?,
        (false, Some(1)) => collect_as(npy.data::<u8>(), from, i128::from)?,
        (false, Some(2)) => collect_as(npy.data::<u16>(), from, i128::from)?,
        (false, Some(4)) => collect_as(npy.data::<u32>(), from, i128::from)?,
        (false, _) => collect_as(npy.data::<u64>(), from, i128::from)?,
    };
    let values = if fortran { fortran_to_c(&values, &shape) } else { values };
    Ok((shape, values))
}

/// Reads every value of a typed reader, converting each.
fn collect_as<T: npyz::Deserialize, R: Read, U>(
    reader: std::result::Result<npyz::NpyReader<T, R>, npyz::DTypeError>,
    from: &ArraySpec,
    convert: impl Fn(T) -> U,
) -> Result<Vec<U>> {
    let reader = reader.map_err(|e| bad(from, format!("unreadable dtype: {e}")))?;
    reader
        .map(|v| v.map(&convert))
        .collect::<std::io::Result<Vec<U>>>()
        .map_err(|e| bad(from, format!("reading its values failed: {e}")))
}

/// Reorders values stored first-axis-fastest (Fortran order) into row-major order.
fn fortran_to_c<T: Copy + Default>(values: &[T], shape: &[usize]) -> Vec<T> {
    let mut c_strides = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        c_strides[k] = c_strides[k + 1] * shape[k + 1];
    }
    let mut out = vec![T::default(); values.len()];
    let mut index = vec![0usize; shape.len()];
    let mut at = 0usize;
    for &v in values {
        out[at] = v;
        for k in 0..shape.len() {
            index[k] += 1;
            at += c_strides[k];
            if index[k] < shape[k] {
                break;
            }
            at -= c_strides[k] * shape[k];
            index[k] = 0;
        }
    }
    out
}

/// The values of one array to write.
pub enum ArrayData<'a> {
    F32(&'a [f32]),
    I64(&'a [i64]),
}

/// One array of an archive to write: its name, its shape and its values in row-major order.
pub struct NamedArray<'a> {
    pub name: String,
    pub shape: Vec<u64>,
    pub data: ArrayData<'a>,
}

/// Writes `arrays` as one `.npz` archive (uncompressed, as `numpy.savez` writes it),
/// atomically: the whole archive or nothing is at `path`.
pub fn write_npz(path: &Path, arrays: &[NamedArray<'_>]) -> Result<()> {
    let bytes: f64 = arrays
        .iter()
        .map(|a| match a.data {
            ArrayData::F32(v) => v.len() as f64 * 4.0,
            ArrayData::I64(v) => v.len() as f64 * 8.0,
        })
        .sum();
    check_memory(&format!("writing {}", path.display()), bytes)?;
    let failed = |e: &dyn fmt::Display| OccamError::bad_file(path, format!("could not build the archive: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(bytes as usize + 4096)));
    for array in arrays {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes >= u32::MAX as f64);
        zip.start_file(npyz::npz::file_name_from_array_name(&array.name), options)
            .map_err(|e| failed(&e))?;
        let written = match array.data {
            ArrayData::F32(v) => write_array(&mut zip, &array.shape, v),
            ArrayData::I64(v) => write_array(&mut zip, &array.shape, v),
        };
        written.map_err(|e| failed(&e))?;
    }
    let cursor = zip.finish().map_err(|e| failed(&e))?;
    crate::error::write_atomic(path, &cursor.into_inner())
}

fn write_array<T: npyz::AutoSerialize + Copy, W: std::io::Write>(
    out: &mut W,
    shape: &[u64],
    values: &[T],
) -> std::io::Result<()> {
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_brought_to_row_major() {
        // The 2 × 3 array [[0, 1, 2], [3, 4, 5]] stored column by column.
        assert_eq!(fortran_to_c(&[0, 3, 1, 4, 2, 5], &[2, 3]), vec![0, 1, 2, 3, 4, 5]);
        // 2 × 2 × 2: value = 4i + 2j + k, stored with i fastest.
        let stored = [0, 4, 2, 6, 1, 5, 3, 7];
        assert_eq!(fortran_to_c(&stored, &[2, 2, 2]), (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn shapes_that_fit_a_28_by_28_model() {
        let model = [28, 28, 1];
        assert_eq!(examples_in(&[5, 784], model), Ok(5));
        assert_eq!(examples_in(&[5, 28, 28], model), Ok(5));
        assert_eq!(examples_in(&[5, 28, 28, 1], model), Ok(5));
        assert!(examples_in(&[784], model).is_err());
        assert!(examples_in(&[5, 783], model).is_err());
        assert!(examples_in(&[0, 784], model).is_err());
        let cifar = examples_in(&[2, 3, 32, 32], [32, 32, 3]).unwrap_err();
        assert!(cifar.contains("transpose"), "{cifar}");
    }

    #[test]
    fn array_specs() {
        let s = ArraySpec::parse("a/b.npz:x_test").unwrap();
        assert_eq!((s.path, s.name), (PathBuf::from("a/b.npz"), Some("x_test".to_string())));
        let s = ArraySpec::parse("c:/x.npy").unwrap();
        assert_eq!((s.path, s.name), (PathBuf::from("c:/x.npy"), None));
        assert!(ArraySpec::parse("b.npz:").is_err());
    }
}
