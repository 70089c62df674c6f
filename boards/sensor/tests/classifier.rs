//! The whole sensor pipeline on the host: a scripted LIS3DH (embedded-hal-mock), a window of
//! readings, features, quantisation and a mote model, compared with running the model directly.

use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use mote_exporter::blob::{build, ProvenanceInfo};
use mote_exporter::graph::FusedActivation;
use mote_exporter::{QuantDense, QuantGraph, QuantOp};
use mote_runtime::{Model, QuantParams};
use mote_sensor::lis3dh::{self, ADDRESS};
use mote_sensor::{Classifier, Lis3dh, Window, FEATURES};

/// A small 6 -> 8 -> 3 int8 network whose input quantisation covers ±2000 mg.
fn blob() -> Vec<u8> {
    let input = QuantParams {
        scale: 16.0,
        zero_point: 0,
    };
    let hidden = QuantParams {
        scale: 0.5,
        zero_point: -128,
    };
    let output = QuantParams {
        scale: 0.25,
        zero_point: 3,
    };
    let dense = |n_in: usize, n_out: usize, input, output, activation| {
        QuantOp::FullyConnected(QuantDense {
            input_len: n_in,
            output_len: n_out,
            weights: (0..n_in * n_out)
                .map(|k| ((k * 29) % 255) as i32 - 127)
                .map(|w| w as i8)
                .collect(),
            weight_scales: vec![0.002; n_out],
            bias: (0..n_out).map(|o| o as i32 * 50 - 100).collect(),
            input,
            output,
            activation,
        })
    };
    let graph = QuantGraph {
        input_len: FEATURES,
        input,
        input_transform: None,
        ops: vec![
            dense(FEATURES, 8, input, hidden, FusedActivation::Relu),
            dense(8, 3, hidden, output, FusedActivation::None),
        ],
    };
    build(&graph, &ProvenanceInfo::default()).unwrap()
}

/// The bus traffic of `Lis3dh::new`: identify the chip, then 100 Hz XYZ and high resolution.
fn init_script() -> Vec<Transaction> {
    vec![
        Transaction::write_read(ADDRESS, vec![lis3dh::WHO_AM_I], vec![lis3dh::IDENTITY]),
        Transaction::write(
            ADDRESS,
            vec![lis3dh::CTRL_REG1, lis3dh::CTRL_REG1_100HZ_XYZ],
        ),
        Transaction::write(
            ADDRESS,
            vec![lis3dh::CTRL_REG4, lis3dh::CTRL_REG4_BDU_2G_HR],
        ),
    ]
}

fn sample(x: i16, y: i16, z: i16) -> Vec<u8> {
    [x, y, z]
        .iter()
        .flat_map(|v| (v << 4).to_le_bytes())
        .collect()
}

#[test]
fn a_full_window_runs_the_model_on_its_features() {
    let readings: Vec<[i16; 3]> = (0..4)
        .map(|i| [i * 100 - 150, 20 * i, 1000 - 30 * i])
        .collect();
    let mut script = init_script();
    for r in &readings {
        script.push(Transaction::write_read(
            ADDRESS,
            vec![lis3dh::OUT_X_L | lis3dh::AUTO_INCREMENT],
            sample(r[0], r[1], r[2]),
        ));
    }
    let mut i2c = Mock::new(&script);
    let mut sensor = Lis3dh::new(i2c.clone(), ADDRESS).unwrap();

    let blob = blob();
    let model = Model::parse(&blob).unwrap();
    let mut classifier = Classifier::<4>::new::<embedded_hal::i2c::ErrorKind>(&model).unwrap();
    let mut arena = vec![0u8; model.arena_len()];
    let mut output = vec![0i8; model.output_len()];
    for i in 0..4 {
        let done = classifier
            .step(&mut sensor, &mut arena, &mut output)
            .unwrap();
        assert_eq!(done, i == 3, "window full only after 4 readings");
    }
    i2c.done();

    // The same by hand.
    let mut window = Window::<4>::new();
    for r in readings {
        window.push(r);
    }
    let mut input = [0i8; FEATURES];
    model
        .quantize_input(&window.features(), &mut input)
        .unwrap();
    let mut expected = vec![0i8; model.output_len()];
    model.run(&input, &mut arena, &mut expected).unwrap();
    assert_eq!(output, expected);
}

#[test]
fn a_model_of_the_wrong_shape_is_refused() {
    let graph = QuantGraph {
        input_len: 5,
        input: QuantParams {
            scale: 1.0,
            zero_point: 0,
        },
        input_transform: None,
        ops: vec![QuantOp::FullyConnected(QuantDense {
            input_len: 5,
            output_len: 2,
            weights: vec![1; 10],
            weight_scales: vec![0.01; 2],
            bias: vec![0; 2],
            input: QuantParams {
                scale: 1.0,
                zero_point: 0,
            },
            output: QuantParams {
                scale: 0.1,
                zero_point: 0,
            },
            activation: FusedActivation::None,
        })],
    };
    let blob = build(&graph, &ProvenanceInfo::default()).unwrap();
    let model = Model::parse(&blob).unwrap();
    assert!(Classifier::<4>::new::<embedded_hal::i2c::ErrorKind>(&model).is_err());
}

#[test]
fn classify_paces_a_window_and_survives_a_failed_reading() {
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as Delay};

    let first: Vec<[i16; 3]> = (0..4).map(|i| [10 * i, -20 * i, 1000]).collect();
    let second: Vec<[i16; 3]> = (0..4).map(|i| [900 - 300 * i, 40 * i, -500]).collect();
    let read = |r: &[i16; 3]| {
        Transaction::write_read(
            ADDRESS,
            vec![lis3dh::OUT_X_L | lis3dh::AUTO_INCREMENT],
            sample(r[0], r[1], r[2]),
        )
    };
    let mut script = init_script();
    script.extend(first.iter().map(read));
    // The second window: two readings, a bus error, then the other two.
    script.extend(second[..2].iter().map(read));
    script.push(
        Transaction::write_read(
            ADDRESS,
            vec![lis3dh::OUT_X_L | lis3dh::AUTO_INCREMENT],
            vec![0; 6],
        )
        .with_error(ErrorKind::Other),
    );
    script.extend(second[2..].iter().map(read));
    let mut i2c = Mock::new(&script);
    // One 10 ms wait after every successful reading, none after the failed one.
    let mut delay = CheckedDelay::new(&vec![Delay::delay_us(10_000); 8]);

    let mut sensor = Lis3dh::new(i2c.clone(), ADDRESS).unwrap();
    let blob = blob();
    let model = Model::parse(&blob).unwrap();
    let mut classifier = Classifier::<4>::new::<ErrorKind>(&model).unwrap();
    let mut arena = vec![0u8; model.arena_len()];
    let mut output = vec![0i8; model.output_len()];

    let expected = |readings: &[[i16; 3]], arena: &mut [u8]| {
        let mut window = Window::<4>::new();
        for r in readings {
            window.push(*r);
        }
        let mut input = [0i8; FEATURES];
        model
            .quantize_input(&window.features(), &mut input)
            .unwrap();
        let mut out = vec![0i8; model.output_len()];
        model.run(&input, arena, &mut out).unwrap();
        (mote_sensor::top_class(&out).unwrap(), out)
    };

    let got = classifier
        .classify(&mut sensor, &mut delay, 10_000, &mut arena, &mut output)
        .unwrap();
    let (want, want_out) = expected(&first, &mut arena);
    assert_eq!((got, &output), (want, &want_out));

    let failed = classifier.classify(&mut sensor, &mut delay, 10_000, &mut arena, &mut output);
    assert_eq!(
        failed,
        Err(mote_sensor::Error::Sensor(lis3dh::Error::Bus(
            ErrorKind::Other
        )))
    );
    // The next call continues the window where the failed reading left it.
    let got = classifier
        .classify(&mut sensor, &mut delay, 10_000, &mut arena, &mut output)
        .unwrap();
    let (want, want_out) = expected(&second, &mut arena);
    assert_eq!((got, &output), (want, &want_out));

    i2c.done();
    delay.done();
}
