//! `--kube`: the Secrets created in the API server. Existing Secrets are left alone unless
//! `--overwrite` is given.

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use sesame_k8s::client::Connection;

/// Creates each Secret; one that exists is kept (and reported) or, with `overwrite`, replaced.
pub async fn create(
    connection: &Connection,
    secrets: &[Secret],
    overwrite: bool,
) -> anyhow::Result<()> {
    let client = connection.client().await.context("--kube")?;
    for secret in secrets {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let namespace = secret.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        match api.create(&PostParams::default(), secret).await {
            Ok(_) => println!("created secret {namespace}/{name}"),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                if overwrite {
                    replace(&api, secret, &name).await?;
                    println!("replaced secret {namespace}/{name}");
                } else {
                    println!(
                        "secret {namespace}/{name} exists; left unchanged (pass --overwrite to replace it)"
                    );
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("creating secret {namespace}/{name}"));
            }
        }
    }
    Ok(())
}

/// Replaces an existing Secret, carrying over its resource version.
async fn replace(api: &Api<Secret>, secret: &Secret, name: &str) -> anyhow::Result<()> {
    let current = api
        .get(name)
        .await
        .with_context(|| format!("reading secret {name}"))?;
    let mut secret = secret.clone();
    secret.metadata.resource_version = current.metadata.resource_version;
    api.replace(name, &PostParams::default(), &secret)
        .await
        .with_context(|| format!("replacing secret {name}"))?;
    Ok(())
}
