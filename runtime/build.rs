//! Derives the kernel selection from the target triple: `cfg(target_feature = "dsp")` is never
//! set on stable Rust for Arm targets, so (as the cortex-m crate does) we read `TARGET`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mote_arm_dsp)");
    println!("cargo::rustc-check-cfg=cfg(mote_helium)");
    println!("cargo::rustc-check-cfg=cfg(mote_arm_fpu)");
    println!("cargo::rerun-if-env-changed=TARGET");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = rustflags.split('\x1f').collect();
    // Armv7E-M (Cortex-M4, M7) always has the DSP extension: SMLAD, SXTB16. On Armv8-M Mainline
    // it is optional, so only a core known to have it (Cortex-M33) or an explicit `+dsp` turns
    // it on. The Cortex-M55 (or an explicit `+mve`) gets the Helium kernel, which LLVM
    // vectorises for MVE.
    let armv8m_dsp = target.starts_with("thumbv8m.main")
        && flags
            .iter()
            .any(|f| f.contains("target-cpu=cortex-m33") || f.contains("+dsp"));
    let helium = target.starts_with("thumbv8m.main")
        && flags
            .iter()
            .any(|f| f.contains("target-cpu=cortex-m55") || f.contains("+mve"));
    // A single-precision FPU with VLDM and chained VMLA/VMLS: the hard-float Armv7E-M and
    // Armv8-M Mainline targets (Cortex-M4F, M7, M33, M55).
    if target.ends_with("eabihf")
        && (target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main"))
    {
        println!("cargo::rustc-cfg=mote_arm_fpu");
    }
    if helium {
        println!("cargo::rustc-cfg=mote_helium");
    } else if target.starts_with("thumbv7em") || armv8m_dsp {
        println!("cargo::rustc-cfg=mote_arm_dsp");
    }
}
