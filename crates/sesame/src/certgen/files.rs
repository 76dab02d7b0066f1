//! `--pem` and `--yaml`: the certificates as files in the output directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;

use super::pki::Certificates;

/// Writes `cacert.pem`, `sesamecert.pem`, `sesamekey.pem`, `envoycert.pem` and
/// `envoykey.pem` into `dir`; keys get mode 0600.
pub fn write_pem(dir: &Path, certs: &Certificates, overwrite: bool) -> anyhow::Result<()> {
    let files = [
        ("cacert.pem", &certs.ca, false),
        ("sesamecert.pem", &certs.sesame.cert, false),
        ("sesamekey.pem", &certs.sesame.key, true),
        ("envoycert.pem", &certs.envoy.cert, false),
        ("envoykey.pem", &certs.envoy.key, true),
    ];
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    prepare(dir, &names, overwrite)?;
    for (name, text, secret) in files {
        write(&dir.join(name), text, secret)?;
    }
    println!("wrote {} PEM files to {}", files.len(), dir.display());
    Ok(())
}

/// Writes each Secret as `<name>.yaml` into `dir`, mode 0600 (they hold private keys).
pub fn write_yaml(dir: &Path, secrets: &[Secret], overwrite: bool) -> anyhow::Result<()> {
    let names: Vec<String> = secrets
        .iter()
        .map(|s| format!("{}.yaml", s.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    prepare(dir, &refs, overwrite)?;
    for (name, secret) in names.iter().zip(secrets) {
        let text = serde_saphyr::to_string(secret).with_context(|| format!("encoding {name}"))?;
        write(&dir.join(name), &text, true)?;
    }
    println!(
        "wrote {} Secret manifests to {}",
        names.len(),
        dir.display()
    );
    Ok(())
}

/// Creates `dir`; without `overwrite`, fails before writing anything if one of `names` exists.
fn prepare(dir: &Path, names: &[&str], overwrite: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating output directory {}", dir.display()))?;
    if !overwrite && let Some(name) = names.iter().find(|n| dir.join(n).exists()) {
        anyhow::bail!(
            "{} exists; pass --overwrite to replace it",
            dir.join(name).display()
        );
    }
    Ok(())
}

fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // The mode above only applies when the file is created; tighten an existing one too.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
