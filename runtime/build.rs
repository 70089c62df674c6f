//! Derives the kernel selection from the target triple: `cfg(target_feature = "dsp")` is never
//! set on stable Rust for Arm targets, so (as the cortex-m crate does) we read `TARGET`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mote_arm_dsp)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    // Armv7E-M (Cortex-M4, M7) always has the DSP extension: SMLAD, SXTB16.
    if target.starts_with("thumbv7em") {
        println!("cargo::rustc-cfg=mote_arm_dsp");
    }
}
