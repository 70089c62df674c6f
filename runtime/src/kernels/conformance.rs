//! The one test suite every fully connected kernel runs: random layers of every shape (odd
//! rows, inputs not a multiple of the vector width), extreme weights, inputs, biases,
//! multipliers, shifts, zero points and clamps; each variant must give the portable reference's
//! bytes. On the host the Arm kernels run with their instructions emulated; the QEMU tests run
//! the real instructions against the host.

use super::layout::{pack_row_quads, packed_len};
use super::{arm_dsp, helium, layout, reference, FullyConnectedView};
use crate::manifest::WeightLayout;
use proptest::prelude::*;
use std::vec::Vec;

/// A kernel under test.
type Kernel = fn(&FullyConnectedView<'_>, &[i8], &mut [i8]);

/// A random layer: row-major weights and everything else a view needs.
#[derive(Debug, Clone)]
struct Case {
    rows: usize,
    cols: usize,
    weights: Vec<i8>,
    input: Vec<i8>,
    bias: Vec<u8>,
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
    output_offset: i32,
    clamp: (i8, i8),
}

fn le(values: Vec<i32>) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Values biased towards the extremes, where wrapping and rounding go wrong first.
fn extreme_i8() -> impl Strategy<Value = i8> {
    prop_oneof![
        Just(-128i8),
        Just(127),
        Just(-127),
        Just(0),
        any::<i8>(),
        any::<i8>()
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..38, 1usize..80).prop_flat_map(|(rows, cols)| {
        // Half the cases keep to the int8 spec's -127..=127 (kernels may take a faster path).
        let weights = (
            prop::collection::vec(extreme_i8(), rows * cols),
            any::<bool>(),
        )
            .prop_map(|(w, spec)| {
                w.into_iter()
                    .map(|w| if spec { w.max(-127) } else { w })
                    .collect()
            });
        let input = prop::collection::vec(extreme_i8(), cols);
        let bias = prop::collection::vec(
            prop_oneof![
                any::<i32>(),
                -100_000i32..100_000,
                Just(i32::MAX),
                Just(i32::MIN)
            ],
            rows,
        );
        let multipliers = prop::collection::vec(
            prop_oneof![0i32..=i32::MAX, Just(i32::MAX), Just(1 << 30), Just(0)],
            rows,
        );
        // Half the cases scale every output by less than 1/4 (shifts up to -2, as trained
        // models do), where kernels may take the high-word requantisation path.
        let shifts = prop_oneof![
            prop::collection::vec(-31i8..=30, rows),
            prop::collection::vec(-31i8..=-2, rows)
        ];
        let offset = prop_oneof![-128i32..128, Just(-128), Just(127)];
        let clamp = (any::<i8>(), any::<i8>());
        (weights, input, bias, multipliers, shifts, offset, clamp).prop_map(
            move |(weights, input, bias, multipliers, shifts, output_offset, (a, b))| Case {
                rows,
                cols,
                weights,
                input,
                bias: le(bias),
                multipliers: le(multipliers),
                shifts: shifts.into_iter().map(|s| s as u8).collect(),
                output_offset,
                clamp: (a.min(b), a.max(b)),
            },
        )
    })
}

impl Case {
    fn view<'a>(&'a self, weights: &'a [i8], layout: WeightLayout) -> FullyConnectedView<'a> {
        FullyConnectedView {
            weights,
            layout,
            symmetric_weights: !weights.contains(&-128),
            small_scales: super::small_scales(&self.shifts),
            bias: &self.bias,
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            input_len: self.cols,
            output_offset: self.output_offset,
            activation_min: self.clamp.0,
            activation_max: self.clamp.1,
        }
    }

    /// The reference's outputs.
    fn want(&self) -> Vec<i8> {
        let mut out = std::vec![0i8; self.rows];
        reference::fully_connected(
            &self.view(&self.weights, WeightLayout::RowMajor),
            &self.input,
            &mut out,
        );
        out
    }

    /// `kernel`'s outputs with the weights in `layout`, stored at byte offset `shift` of their
    /// buffer (to exercise misaligned starts).
    fn got(&self, kernel: Kernel, layout: WeightLayout, shift: usize) -> Vec<i8> {
        let len = packed_len(layout, self.rows, self.cols).unwrap();
        let mut buffer = std::vec![0i8; len + shift];
        match layout {
            WeightLayout::RowMajor => buffer[shift..].copy_from_slice(&self.weights),
            _ => pack_row_quads(&self.weights, self.rows, self.cols, &mut buffer[shift..]),
        }
        let mut out = std::vec![0i8; self.rows];
        kernel(&self.view(&buffer[shift..], layout), &self.input, &mut out);
        out
    }
}

fn variants() -> Vec<(&'static str, Kernel, WeightLayout)> {
    let mut all: Vec<(&'static str, Kernel, WeightLayout)> = std::vec![
        (
            "reference row-quads",
            layout::fully_connected_row_quads,
            WeightLayout::RowQuads
        ),
        (
            "arm_dsp row-major",
            arm_dsp::fully_connected,
            WeightLayout::RowMajor
        ),
        (
            "arm_dsp row-quads",
            arm_dsp::fully_connected_row_quads,
            WeightLayout::RowQuads
        ),
        (
            "helium row-major",
            helium::fully_connected,
            WeightLayout::RowMajor
        ),
        (
            "dispatch row-major",
            super::fully_connected,
            WeightLayout::RowMajor
        ),
        (
            "dispatch row-quads",
            super::fully_connected,
            WeightLayout::RowQuads
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    all.push((
        "x86_avx2 row-major",
        super::x86_avx2::fully_connected,
        WeightLayout::RowMajor,
    ));
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_kernel_equals_the_reference(case in case(), shift in 0usize..4) {
        let want = case.want();
        for (name, kernel, layout) in variants() {
            prop_assert_eq!(case.got(kernel, layout, shift), want.clone(), "{}", name);
        }
    }
}

#[test]
fn an_unknown_layout_writes_nothing() {
    let case = Case {
        rows: 1,
        cols: 1,
        weights: std::vec![1],
        input: std::vec![1],
        bias: le(std::vec![0]),
        multipliers: le(std::vec![1 << 30]),
        shifts: std::vec![0],
        output_offset: 5,
        clamp: (-128, 127),
    };
    let mut out = [42i8];
    super::fully_connected(
        &case.view(&case.weights, WeightLayout::Unknown(9)),
        &case.input,
        &mut out,
    );
    assert_eq!(out, [42]);
}
