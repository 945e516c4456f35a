//! Prints or writes the CRDs generated from the Rust types.

use std::path::Path;

pub fn write(out_dir: Option<&Path>) -> anyhow::Result<()> {
    let crds = crate::api::crds_yaml();
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for (file, yaml) in crds {
                std::fs::write(dir.join(file), yaml)?;
            }
        }
        None => {
            let docs: Vec<String> = crds.into_iter().map(|(_, yaml)| yaml).collect();
            print!("{}", docs.join("---\n"));
        }
    }
    Ok(())
}
