//! [`Device`]: where a command's arithmetic runs, as `--device` spells it.

use std::fmt;
use std::str::FromStr;

/// The highest GPU number `cuda:N` accepts (far above any machine's GPU count; the driver
/// then says whether that GPU exists).
pub const MAX_CUDA_ORDINAL: usize = 1023;

/// Where training and the Jacobian norms run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU backend with `--threads` threads.
    #[default]
    Cpu,
    /// NVIDIA GPU number `ordinal` (as `nvidia-smi` numbers them, after `CUDA_VISIBLE_DEVICES`).
    Cuda {
        /// The GPU's number, 0 for the first.
        ordinal: usize,
    },
}

impl Device {
    /// Whether this is a GPU.
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda { .. })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl FromStr for Device {
    type Err = String;
    /// `cpu`, `cuda` (GPU 0) or `cuda:N` (GPU N, 0 to [`MAX_CUDA_ORDINAL`]), any case.
    fn from_str(text: &str) -> Result<Self, String> {
        let valid =
            format!("valid values are cpu, cuda (the first GPU) and cuda:N (GPU number N, 0 to {MAX_CUDA_ORDINAL})");
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => return Ok(Device::Cpu),
            "cuda" | "gpu" => return Ok(Device::Cuda { ordinal: 0 }),
            _ => {}
        }
        let Some(number) = lower.strip_prefix("cuda:") else {
            return Err(format!("'{text}' is not a device: {valid}"));
        };
        let ordinal: usize = number
            .parse()
            .map_err(|_| format!("'{text}': '{number}' is not a GPU number: {valid}"))?;
        if ordinal > MAX_CUDA_ORDINAL {
            return Err(format!("'{text}': GPU number {ordinal} is out of range: {valid}"));
        }
        Ok(Device::Cuda { ordinal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print_back() {
        for (text, device) in [
            ("cpu", Device::Cpu),
            ("CPU", Device::Cpu),
            ("cuda", Device::Cuda { ordinal: 0 }),
            ("gpu", Device::Cuda { ordinal: 0 }),
            ("cuda:0", Device::Cuda { ordinal: 0 }),
            ("Cuda:3", Device::Cuda { ordinal: 3 }),
            ("cuda:1023", Device::Cuda { ordinal: 1023 }),
        ] {
            assert_eq!(text.parse::<Device>(), Ok(device), "{text}");
            assert_eq!(device.to_string().parse::<Device>(), Ok(device));
        }
    }

    #[test]
    fn bad_devices_are_refused_naming_the_value_and_what_is_valid() {
        for text in [
            "bogus",
            "cuda:x",
            "cuda:",
            "cuda:-1",
            "cuda:1024",
            "cuda:99999999999999999999999",
            "",
            "tpu:0",
        ] {
            let e = text.parse::<Device>().unwrap_err();
            assert!(e.contains(&format!("'{text}'")), "{e}");
            assert!(e.contains("valid values are cpu, cuda"), "{e}");
        }
    }
}
