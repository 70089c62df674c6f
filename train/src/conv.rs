//! 2-D convolution and pooling on the tape, for the CNN teachers of distillation.
//!
//! The tape's only value type is a dense matrix whose rows are samples, so an image batch is
//! stored one image per row, channel-major: element `(c, y, x)` of a `C x H x W` image sits in
//! column `c * H * W + y * W + x`. That is also the order of the bundled digits pixels
//! (`pixel_y_x`, one channel), so a CSV row is already an image. Both ops implement
//! [`Function`] outside the core `Op` enum and are checked against finite differences.
//!
//! The convolution lowers each image to patches (im2col) and multiplies by the weight, so the
//! inner loops are the same contiguous dot products as a dense layer; the adjoint scatters the
//! patch gradients back (col2im). Patches are rebuilt in the reverse sweep instead of being
//! kept, which halves the memory a recorded batch holds.

use crate::tape::{Function, Matrix, Tape, Var};

/// Geometry of a batch of images: channels, height and width of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Channels (1 for grey digits).
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
}

impl ImageShape {
    /// Values per image: the row length of a batch matrix.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True for a shape without pixels (never valid for an op).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per channel (the spatial size that per-channel statistics average over).
    pub fn spatial(&self) -> usize {
        self.height * self.width
    }
}

/// A square 2-D convolution: kernel size, stride and zero padding on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    /// Shape of the input images.
    pub input: ImageShape,
    /// Output channels (filters).
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Step between kernel positions.
    pub stride: usize,
    /// Zeros added on each border.
    pub padding: usize,
}

impl Conv2d {
    /// The output image shape; `None` if the kernel does not fit or the stride is 0.
    pub fn output(&self) -> Option<ImageShape> {
        let out = |n: usize| {
            let padded = n + 2 * self.padding;
            (self.stride > 0 && self.kernel > 0 && padded >= self.kernel)
                .then(|| (padded - self.kernel) / self.stride + 1)
        };
        Some(ImageShape {
            channels: self.out_channels,
            height: out(self.input.height)?,
            width: out(self.input.width)?,
        })
    }

    /// Rows of the weight matrix: one per (input channel, kernel row, kernel column).
    pub fn patch_len(&self) -> usize {
        self.input.channels * self.kernel * self.kernel
    }

    /// The patches of one image, `positions x patch_len`, zero outside the image.
    fn im2col(&self, image: &[f64], out: ImageShape) -> Matrix {
        let (k, s, p) = (self.kernel, self.stride, self.padding as isize);
        let (h, w) = (self.input.height as isize, self.input.width as isize);
        let mut cols = Matrix::zeros(out.spatial(), self.patch_len());
        for oy in 0..out.height {
            for ox in 0..out.width {
                let row =
                    &mut cols.data[(oy * out.width + ox) * self.patch_len()..][..self.patch_len()];
                for c in 0..self.input.channels {
                    for ky in 0..k {
                        let y = (oy * s + ky) as isize - p;
                        for kx in 0..k {
                            let x = (ox * s + kx) as isize - p;
                            if y >= 0 && y < h && x >= 0 && x < w {
                                row[(c * k + ky) * k + kx] =
                                    image[(c * self.input.height + y as usize) * self.input.width
                                        + x as usize];
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    /// Adds patch gradients back onto the image they were cut from (the adjoint of im2col).
    fn col2im(&self, cols: &Matrix, out: ImageShape, image: &mut [f64]) {
        let (k, s, p) = (self.kernel, self.stride, self.padding as isize);
        let (h, w) = (self.input.height as isize, self.input.width as isize);
        for oy in 0..out.height {
            for ox in 0..out.width {
                let row = cols.row(oy * out.width + ox);
                for c in 0..self.input.channels {
                    for ky in 0..k {
                        let y = (oy * s + ky) as isize - p;
                        for kx in 0..k {
                            let x = (ox * s + kx) as isize - p;
                            if y >= 0 && y < h && x >= 0 && x < w {
                                image[(c * self.input.height + y as usize) * self.input.width
                                    + x as usize] += row[(c * k + ky) * k + kx];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Forward value: `x` is `batch x input.len()`, `weight` is `patch_len x out_channels`,
    /// `bias` is `1 x out_channels`; the result is `batch x output.len()`.
    pub fn forward(&self, x: &Matrix, weight: &Matrix, bias: &Matrix) -> Matrix {
        let out = self
            .output()
            .expect("Conv2d: kernel larger than the padded input");
        assert_eq!(x.cols, self.input.len(), "Conv2d: input row length");
        assert_eq!(
            (weight.rows, weight.cols),
            (self.patch_len(), self.out_channels),
            "Conv2d: weight shape"
        );
        assert_eq!(
            (bias.rows, bias.cols),
            (1, self.out_channels),
            "Conv2d: bias"
        );
        let positions = out.spatial();
        let mut y = Matrix::zeros(x.rows, out.len());
        for b in 0..x.rows {
            // positions x out_channels, then transposed into the channel-major row.
            let z = self.im2col(x.row(b), out).matmul(weight);
            let row = &mut y.data[b * out.len()..(b + 1) * out.len()];
            for pos in 0..positions {
                for (c, &v) in z.row(pos).iter().enumerate() {
                    row[c * positions + pos] = v + bias.data[c];
                }
            }
        }
        y
    }

    /// Records the convolution of `x` with `weight` (`patch_len x out_channels`) plus `bias`.
    pub fn on_tape(&self, tape: &mut Tape, x: Var, weight: Var, bias: Var) -> Var {
        let value = self.forward(tape.value(x), tape.value(weight), tape.value(bias));
        tape.record(&[x, weight, bias], value, *self)
    }
}

impl Function for Conv2d {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, grad: &Matrix) -> Vec<Option<Matrix>> {
        let (x, weight) = (inputs[0], inputs[1]);
        let out = self.output().expect("checked in forward");
        let positions = out.spatial();
        let mut gx = Matrix::zeros(x.rows, x.cols);
        let mut gw = Matrix::zeros(weight.rows, weight.cols);
        let mut gb = Matrix::zeros(1, self.out_channels);
        let wt = weight.transpose();
        for b in 0..x.rows {
            // The output gradient of this image as positions x out_channels.
            let g = grad.row(b);
            let mut gz = Matrix::zeros(positions, self.out_channels);
            for c in 0..self.out_channels {
                for pos in 0..positions {
                    let v = g[c * positions + pos];
                    gz.data[pos * self.out_channels + c] = v;
                    gb.data[c] += v;
                }
            }
            let cols = self.im2col(x.row(b), out);
            // gW += colsᵀ · gz, without materialising the transpose.
            for pos in 0..positions {
                let gz_row = gz.row(pos);
                for (k, &a) in cols.row(pos).iter().enumerate() {
                    if a == 0.0 {
                        continue;
                    }
                    let gw_row = &mut gw.data[k * self.out_channels..][..self.out_channels];
                    for (o, &v) in gw_row.iter_mut().zip(gz_row) {
                        *o += a * v;
                    }
                }
            }
            let gcols = gz.matmul(&wt);
            self.col2im(&gcols, out, &mut gx.data[b * x.cols..(b + 1) * x.cols]);
        }
        vec![Some(gx), Some(gw), Some(gb)]
    }
}

/// Which statistic a pooling window takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest value (the gradient goes to the first maximum of the window).
    Max,
    /// The mean of the window.
    Average,
}

/// Non-overlapping or strided pooling per channel, without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Max or average.
    pub kind: PoolKind,
    /// Shape of the input images.
    pub input: ImageShape,
    /// Window height and width.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
}

/// The recorded pooling op: average pooling needs only the geometry, max pooling also the
/// position that won each window.
#[derive(Debug, Clone)]
struct PoolRecord {
    pool: Pool2d,
    /// For max pooling: per output element, the input column that was the maximum.
    argmax: Vec<usize>,
}

impl Pool2d {
    /// The output image shape; `None` if the window does not fit or the stride is 0.
    pub fn output(&self) -> Option<ImageShape> {
        let out = |n: usize| {
            (self.stride > 0 && self.kernel > 0 && n >= self.kernel)
                .then(|| (n - self.kernel) / self.stride + 1)
        };
        Some(ImageShape {
            channels: self.input.channels,
            height: out(self.input.height)?,
            width: out(self.input.width)?,
        })
    }

    /// Calls `f(output column, input column)` for every input of every window of one image.
    fn windows(&self, mut f: impl FnMut(usize, usize)) {
        let out = self.output().expect("Pool2d: window larger than the input");
        let (h, w) = (self.input.height, self.input.width);
        for c in 0..self.input.channels {
            for oy in 0..out.height {
                for ox in 0..out.width {
                    let o = (c * out.height + oy) * out.width + ox;
                    for ky in 0..self.kernel {
                        for kx in 0..self.kernel {
                            let (y, x) = (oy * self.stride + ky, ox * self.stride + kx);
                            f(o, (c * h + y) * w + x);
                        }
                    }
                }
            }
        }
    }

    /// Forward value and, for max pooling, the winning input column of every output element.
    fn compute(&self, x: &Matrix) -> (Matrix, Vec<usize>) {
        let out = self.output().expect("Pool2d: window larger than the input");
        assert_eq!(x.cols, self.input.len(), "Pool2d: input row length");
        let n = out.len();
        let mut y = Matrix::zeros(x.rows, n);
        let mut argmax = Vec::new();
        let area = (self.kernel * self.kernel) as f64;
        for b in 0..x.rows {
            let row = x.row(b);
            let y_row = &mut y.data[b * n..(b + 1) * n];
            match self.kind {
                PoolKind::Average => {
                    self.windows(|o, i| y_row[o] += row[i] / area);
                }
                PoolKind::Max => {
                    let mut best = vec![usize::MAX; n];
                    self.windows(|o, i| {
                        if best[o] == usize::MAX || row[i] > row[best[o]] {
                            best[o] = i;
                        }
                    });
                    for (v, &i) in y_row.iter_mut().zip(&best) {
                        *v = row[i];
                    }
                    argmax.extend(best);
                }
            }
        }
        (y, argmax)
    }

    /// Forward value without a tape (evaluation).
    pub fn forward(&self, x: &Matrix) -> Matrix {
        self.compute(x).0
    }

    /// Records pooling of `x` (`batch x input.len()`).
    pub fn on_tape(&self, tape: &mut Tape, x: Var) -> Var {
        let (value, argmax) = self.compute(tape.value(x));
        tape.record(
            &[x],
            value,
            PoolRecord {
                pool: *self,
                argmax,
            },
        )
    }
}

impl Function for PoolRecord {
    fn backward(&self, inputs: &[&Matrix], output: &Matrix, grad: &Matrix) -> Vec<Option<Matrix>> {
        let x = inputs[0];
        let n = output.cols;
        let mut gx = Matrix::zeros(x.rows, x.cols);
        let area = (self.pool.kernel * self.pool.kernel) as f64;
        for b in 0..x.rows {
            let g = grad.row(b);
            let gx_row = &mut gx.data[b * x.cols..(b + 1) * x.cols];
            match self.pool.kind {
                PoolKind::Average => self.pool.windows(|o, i| gx_row[i] += g[o] / area),
                PoolKind::Max => {
                    for (o, &i) in self.argmax[b * n..(b + 1) * n].iter().enumerate() {
                        gx_row[i] += g[o];
                    }
                }
            }
        }
        vec![Some(gx)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    fn random(rng: &mut Rng, rows: usize, cols: usize) -> Matrix {
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| rng.next_f64() * 2.0 - 1.0)
                .collect(),
        )
    }

    /// Direct definition of a convolution, to check the im2col path against.
    fn naive_conv(conv: &Conv2d, x: &[f64], w: &Matrix, b: &Matrix) -> Vec<f64> {
        let out = conv.output().unwrap();
        let i = conv.input;
        let mut y = vec![0.0; out.len()];
        for o in 0..out.channels {
            for oy in 0..out.height {
                for ox in 0..out.width {
                    let mut acc = b.data[o];
                    for c in 0..i.channels {
                        for ky in 0..conv.kernel {
                            for kx in 0..conv.kernel {
                                let yy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                                let xx = (ox * conv.stride + kx) as isize - conv.padding as isize;
                                if yy < 0
                                    || xx < 0
                                    || yy >= i.height as isize
                                    || xx >= i.width as isize
                                {
                                    continue;
                                }
                                let pix = x[(c * i.height + yy as usize) * i.width + xx as usize];
                                acc += pix * w.get((c * conv.kernel + ky) * conv.kernel + kx, o);
                            }
                        }
                    }
                    y[(o * out.height + oy) * out.width + ox] = acc;
                }
            }
        }
        y
    }

    fn shapes() -> Vec<Conv2d> {
        let input = ImageShape {
            channels: 2,
            height: 5,
            width: 4,
        };
        vec![
            Conv2d {
                input,
                out_channels: 3,
                kernel: 3,
                stride: 1,
                padding: 1,
            },
            Conv2d {
                input,
                out_channels: 2,
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            Conv2d {
                input,
                out_channels: 3,
                kernel: 3,
                stride: 2,
                padding: 2,
            },
        ]
    }

    #[test]
    fn conv_matches_the_direct_definition() {
        let mut rng = Rng::new(11);
        for conv in shapes() {
            let x = random(&mut rng, 2, conv.input.len());
            let w = random(&mut rng, conv.patch_len(), conv.out_channels);
            let b = random(&mut rng, 1, conv.out_channels);
            let y = conv.forward(&x, &w, &b);
            for r in 0..2 {
                let expected = naive_conv(&conv, x.row(r), &w, &b);
                for (a, e) in y.row(r).iter().zip(&expected) {
                    assert!((a - e).abs() < 1e-12);
                }
            }
        }
        let too_big = Conv2d {
            kernel: 9,
            ..shapes()[1]
        };
        assert_eq!(too_big.output(), None);
    }

    #[test]
    fn conv_gradient() {
        let mut rng = Rng::new(12);
        for conv in shapes() {
            let out = conv.output().unwrap();
            let x = random(&mut rng, 2, conv.input.len());
            let w = random(&mut rng, conv.patch_len(), conv.out_channels);
            let b = random(&mut rng, 1, conv.out_channels);
            let weights = random(&mut rng, 2, out.len());
            check_gradients(&[x, w, b, weights], |t, v| {
                let y = conv.on_tape(t, v[0], v[1], v[2]);
                let y = t.mul(y, v[3]);
                t.sum(y)
            });
        }
    }

    #[test]
    fn pool_values_and_gradients() {
        let input = ImageShape {
            channels: 2,
            height: 4,
            width: 5,
        };
        let mut rng = Rng::new(13);
        for kind in [PoolKind::Max, PoolKind::Average] {
            for (kernel, stride) in [(2, 2), (3, 1)] {
                let pool = Pool2d {
                    kind,
                    input,
                    kernel,
                    stride,
                };
                let out = pool.output().unwrap();
                // Distinct values, so the maximum of a window is unique and differentiable.
                let x = random(&mut rng, 3, input.len());
                let weights = random(&mut rng, 3, out.len());
                check_gradients(&[x, weights], |t, v| {
                    let y = pool.on_tape(t, v[0]);
                    let y = t.mul(y, v[1]);
                    t.sum(y)
                });
            }
        }
        let pool = Pool2d {
            kind: PoolKind::Max,
            input: ImageShape {
                channels: 1,
                height: 2,
                width: 4,
            },
            kernel: 2,
            stride: 2,
        };
        let x = Matrix::new(1, 8, vec![1.0, 5.0, -1.0, -2.0, 3.0, 0.0, -4.0, -3.0]);
        assert_eq!(pool.forward(&x).data, vec![5.0, -1.0]);
        let avg = Pool2d {
            kind: PoolKind::Average,
            ..pool
        };
        assert_eq!(avg.forward(&x).data, vec![2.25, -2.5]);
    }
}
