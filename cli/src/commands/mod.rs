//! One module per `mote` subcommand.

pub mod bench;
pub mod distill;
pub mod eval;
pub mod export;
pub mod flash;
pub mod inspect;
pub mod kernel_bench;
pub mod label;
pub mod moderation;
pub mod policy;
pub mod quickstart;
pub mod rec;
pub mod run;
pub mod train;
pub mod train_gp;

/// Errors of the CLI are reported as text; each command says what failed and where.
pub type Result<T = ()> = std::result::Result<T, String>;

/// Loads a CSV data set, naming the file in any error.
pub fn load_csv(path: &std::path::Path) -> Result<mote_train::data::Dataset> {
    mote_train::data::Dataset::load_csv(path).map_err(|e| match e {
        mote_train::data::DataError::Io { .. } => e.to_string(),
        _ => format!("{}: {e}", path.display()),
    })
}

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes a whole file (creating its folder), naming it in the error.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
