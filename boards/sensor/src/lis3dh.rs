//! ST LIS3DH 3-axis accelerometer over I2C (embedded-hal 1.0), ±2 g, high-resolution mode,
//! 100 Hz: 12-bit samples at 1 mg per digit.

use embedded_hal::i2c::I2c;

/// I2C address with SA0 tied low (`0x19` with SA0 high).
pub const ADDRESS: u8 = 0x18;
/// `WHO_AM_I` register and the value a LIS3DH answers.
pub const WHO_AM_I: u8 = 0x0F;
/// The identity a LIS3DH reports.
pub const IDENTITY: u8 = 0x33;
/// `CTRL_REG1`: data rate and axis enables.
pub const CTRL_REG1: u8 = 0x20;
/// `CTRL_REG4`: block data update, full scale, high resolution.
pub const CTRL_REG4: u8 = 0x23;
/// `OUT_X_L`, the first of the six output registers.
pub const OUT_X_L: u8 = 0x28;
/// Register-address bit that makes the LIS3DH auto-increment over a multi-byte read.
pub const AUTO_INCREMENT: u8 = 0x80;
/// `CTRL_REG1` value: 100 Hz, normal power, X, Y and Z on.
pub const CTRL_REG1_100HZ_XYZ: u8 = 0x57;
/// `CTRL_REG4` value: block data update, ±2 g, high resolution.
pub const CTRL_REG4_BDU_2G_HR: u8 = 0x88;

/// What can go wrong talking to the sensor.
#[derive(Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The I2C bus failed.
    Bus(E),
    /// The device at the address is not a LIS3DH (it answered this `WHO_AM_I`).
    WrongDevice(u8),
}

/// A configured LIS3DH.
pub struct Lis3dh<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Lis3dh<I> {
    /// Checks the device identity at `address` and configures 100 Hz, ±2 g, high resolution.
    pub fn new(mut i2c: I, address: u8) -> Result<Self, Error<I::Error>> {
        let mut id = [0u8];
        i2c.write_read(address, &[WHO_AM_I], &mut id)
            .map_err(Error::Bus)?;
        if id[0] != IDENTITY {
            return Err(Error::WrongDevice(id[0]));
        }
        i2c.write(address, &[CTRL_REG1, CTRL_REG1_100HZ_XYZ])
            .map_err(Error::Bus)?;
        i2c.write(address, &[CTRL_REG4, CTRL_REG4_BDU_2G_HR])
            .map_err(Error::Bus)?;
        Ok(Lis3dh { i2c, address })
    }

    /// One acceleration sample, milli-g per axis (x, y, z).
    pub fn read_mg(&mut self) -> Result<[i16; 3], Error<I::Error>> {
        let mut raw = [0u8; 6];
        self.i2c
            .write_read(self.address, &[OUT_X_L | AUTO_INCREMENT], &mut raw)
            .map_err(Error::Bus)?;
        // Left-justified 12-bit two's complement, little-endian: shift the 4 padding bits out.
        Ok([0, 1, 2].map(|axis| i16::from_le_bytes([raw[2 * axis], raw[2 * axis + 1]]) >> 4))
    }

    /// Gives the bus back.
    pub fn release(self) -> I {
        self.i2c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    fn setup() -> Vec<Transaction> {
        vec![
            Transaction::write_read(ADDRESS, vec![WHO_AM_I], vec![IDENTITY]),
            Transaction::write(ADDRESS, vec![CTRL_REG1, CTRL_REG1_100HZ_XYZ]),
            Transaction::write(ADDRESS, vec![CTRL_REG4, CTRL_REG4_BDU_2G_HR]),
        ]
    }

    extern crate std;
    use std::{vec, vec::Vec};

    #[test]
    fn configures_and_reads_milli_g() {
        let mut script = setup();
        // x = +1000 mg (0x3E80 after <<4), y = -1 mg (0xFFF0), z = 0.
        script.push(Transaction::write_read(
            ADDRESS,
            vec![OUT_X_L | AUTO_INCREMENT],
            vec![0x80, 0x3E, 0xF0, 0xFF, 0x00, 0x00],
        ));
        let mut i2c = Mock::new(&script);
        let mut sensor = Lis3dh::new(i2c.clone(), ADDRESS).unwrap();
        assert_eq!(sensor.read_mg().unwrap(), [1000, -1, 0]);
        i2c.done();
    }

    #[test]
    fn refuses_another_device() {
        let script = [Transaction::write_read(ADDRESS, vec![WHO_AM_I], vec![0x44])];
        let mut i2c = Mock::new(&script);
        assert_eq!(
            Lis3dh::new(i2c.clone(), ADDRESS).err(),
            Some(Error::WrongDevice(0x44))
        );
        i2c.done();
    }
}
