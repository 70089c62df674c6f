//! A window of accelerometer readings turned into features: per axis the mean and the standard
//! deviation (milli-g), in the order x mean, y mean, z mean, x std, y std, z std.

/// Number of features a window yields (and a model must take).
pub const FEATURES: usize = 6;

/// Up to `N` readings (milli-g, x y z).
pub struct Window<const N: usize> {
    readings: [[i16; 3]; N],
    len: usize,
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Window<N> {
    /// An empty window.
    pub const fn new() -> Self {
        Window {
            readings: [[0; 3]; N],
            len: 0,
        }
    }

    /// Adds a reading (ignored when full); returns whether the window is now full.
    pub fn push(&mut self, reading: [i16; 3]) -> bool {
        if let Some(slot) = self.readings.get_mut(self.len) {
            *slot = reading;
            self.len += 1;
        }
        self.len >= N
    }

    /// Empties the window.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Readings held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no reading is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Mean and standard deviation per axis of the readings held (zeros when empty).
    pub fn features(&self) -> [f32; FEATURES] {
        let mut out = [0f32; FEATURES];
        let held = &self.readings[..self.len.min(N)];
        if held.is_empty() {
            return out;
        }
        let n = held.len() as f32;
        for axis in 0..3 {
            let mean = held.iter().map(|r| r[axis] as f32).sum::<f32>() / n;
            let var = held
                .iter()
                .map(|r| {
                    let d = r[axis] as f32 - mean;
                    d * d
                })
                .sum::<f32>()
                / n;
            out[axis] = mean;
            out[3 + axis] = libm::sqrtf(var);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_spread_per_axis() {
        let mut window = Window::<4>::new();
        assert!(!window.push([0, 10, 1000]));
        assert!(!window.push([0, -10, 1000]));
        assert!(!window.push([0, 10, 1000]));
        assert!(window.push([0, -10, 1000]));
        assert!(window.push([5, 5, 5]), "a full window ignores more");
        assert_eq!(window.features(), [0.0, 0.0, 1000.0, 0.0, 10.0, 0.0]);
        window.clear();
        assert!(window.is_empty());
        assert_eq!(window.features(), [0.0; FEATURES]);
    }
}
