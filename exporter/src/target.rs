//! The core a blob is exported for, and the weight layout its fastest kernel reads.
//!
//! Every runtime build runs every layout (the portable kernels read them all), so a blob made
//! for one core still runs anywhere, only slower. The rule here mirrors the kernel selection in
//! `runtime/build.rs`.

use mote_runtime::manifest::WeightLayout;
use std::fmt;
use std::str::FromStr;

/// A family of cores that share a fully connected kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Any core: row-major weights (Cortex-M0+, RISC-V, and x86-64 hosts, whose AVX2 kernel
    /// reads rows).
    #[default]
    Portable,
    /// Armv7E-M and DSP-capable Armv8-M (Cortex-M4, M7, M33): the `SMLAD` kernel over
    /// [`WeightLayout::RowQuads`].
    ArmDsp,
    /// Armv8.1-M with Helium (Cortex-M55): row-major weights, four rows per vector pass.
    Helium,
}

/// Core names `FromStr` accepts, with the target each maps to.
pub const CORES: &[(&str, Target)] = &[
    ("portable", Target::Portable),
    ("x86-64", Target::Portable),
    ("cortex-m0plus", Target::Portable),
    ("riscv32", Target::Portable),
    ("cortex-m4", Target::ArmDsp),
    ("cortex-m7", Target::ArmDsp),
    ("cortex-m33", Target::ArmDsp),
    ("cortex-m55", Target::Helium),
];

impl Target {
    /// The layout the target's kernel reads fastest.
    pub fn weight_layout(self) -> WeightLayout {
        match self {
            Target::Portable | Target::Helium => WeightLayout::RowMajor,
            Target::ArmDsp => WeightLayout::RowQuads,
        }
    }

    /// The target a firmware built for `triple` with `rustflags` runs its kernels as: the same
    /// rule `runtime/build.rs` applies.
    pub fn for_build(triple: &str, rustflags: &[String]) -> Target {
        let has = |needle: &str| rustflags.iter().any(|f| f.contains(needle));
        if triple.starts_with("thumbv8m.main") && (has("target-cpu=cortex-m55") || has("+mve")) {
            Target::Helium
        } else if triple.starts_with("thumbv7em")
            || (triple.starts_with("thumbv8m.main")
                && (has("target-cpu=cortex-m33") || has("+dsp")))
        {
            Target::ArmDsp
        } else {
            Target::Portable
        }
    }

    /// A short name for tables: `portable`, `arm-dsp`, `helium`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Target::Portable => "portable",
            Target::ArmDsp => "arm-dsp",
            Target::Helium => "helium",
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CORES
            .iter()
            .find(|(core, _)| core.eq_ignore_ascii_case(name))
            .map(|&(_, target)| target)
            .ok_or_else(|| {
                let names: Vec<&str> = CORES.iter().map(|(core, _)| *core).collect();
                format!("unknown target core `{name}` (known: {})", names.join(", "))
            })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(cpu: &str) -> Vec<String> {
        vec!["-C".into(), format!("target-cpu={cpu}")]
    }

    #[test]
    fn boards_map_to_their_kernels() {
        assert_eq!(
            Target::for_build("thumbv7em-none-eabihf", &flags("cortex-m4")),
            Target::ArmDsp
        );
        assert_eq!(
            Target::for_build("thumbv8m.main-none-eabihf", &flags("cortex-m33")),
            Target::ArmDsp
        );
        assert_eq!(
            Target::for_build("thumbv8m.main-none-eabihf", &flags("cortex-m55")),
            Target::Helium
        );
        assert_eq!(
            Target::for_build("thumbv8m.main-none-eabihf", &[]),
            Target::Portable
        );
        assert_eq!(
            Target::for_build("thumbv6m-none-eabi", &[]),
            Target::Portable
        );
        assert_eq!(
            Target::for_build("riscv32imc-unknown-none-elf", &[]),
            Target::Portable
        );
    }

    #[test]
    fn names_parse_and_unknown_names_list_the_known_ones() {
        assert_eq!("Cortex-M55".parse::<Target>(), Ok(Target::Helium));
        let err = "cortex-a53".parse::<Target>().unwrap_err();
        assert!(
            err.contains("cortex-a53") && err.contains("cortex-m4"),
            "{err}"
        );
    }
}
