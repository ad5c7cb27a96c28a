//! The options every command that reads a model shares: how the file stores its weight
//! matrices (`--layout`) and the activation of a file that records none
//! (`--activation`), and the loading that prints the library's notes on stderr.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use occam::data::{DataSource, Splits};
use occam::net::{Activation, Layout, LoadOptions, LoadedModel, Mlp};
use std::path::Path;

#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq)]
pub enum LayoutArg {
    /// [out_features, in_features]: PyTorch nn.Linear weights and Occam's own files.
    #[default]
    OutIn,
    /// [in_features, out_features]: flax/JAX Dense kernels.
    InOut,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ModelFormat {
    /// How the model file stores each weight matrix (README, "Loading models").
    #[arg(long, value_enum, default_value = "out-in")]
    layout: LayoutArg,
    /// The activation of a model file that records none, such as a PyTorch state_dict:
    /// relu, relu6, hard_tanh, hard_sigmoid or tanh.
    #[arg(long, value_name = "NAME")]
    activation: Option<Activation>,
}

impl ModelFormat {
    /// Reads `path` with these options; a note (a dtype converted to f32) goes to stderr.
    pub fn load(&self, path: &Path) -> Result<LoadedModel> {
        let options = LoadOptions {
            layout: match self.layout {
                LayoutArg::OutIn => Layout::OutIn,
                LayoutArg::InOut => Layout::InOut,
            },
            activation: self.activation,
            input_shape: None,
        };
        let loaded = Mlp::load_with(path, &options)?;
        for note in &loaded.notes {
            eprintln!("note: {}: {note}", path.display());
        }
        Ok(loaded)
    }
}

/// Loads a network and a dataset and checks that they fit each other.
pub fn load_model_and_data(model: &Path, format: &ModelFormat, data: &str) -> Result<(Mlp, Splits)> {
    let loaded = format.load(model)?;
    let splits = DataSource::parse(data)?.load()?;
    let net = loaded.for_inputs_of_shape(splits.train.shape);
    if splits.train.shape != net.input_shape() {
        bail!(
            "{}: network expects inputs of shape {:?} but {data} has {:?}",
            model.display(),
            net.input_shape(),
            splits.train.shape
        );
    }
    if net.classes() != splits.train.classes {
        bail!(
            "{}: network has {} outputs but {data} has {} classes",
            model.display(),
            net.classes(),
            splits.train.classes
        );
    }
    Ok((net, splits))
}
